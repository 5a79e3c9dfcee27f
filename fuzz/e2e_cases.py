"""Hostile releases for the end-to-end harness (``fuzz/e2e.py``): whole releases, fingerprint files,
registry exports and benchmarks, each built from a clean base and changed in one hostile way.

The parser harnesses (``fuzz/targets.py``) stop where a parser returns; these cases are aimed at what
comes after it — rendering release strings, trusting numbers that parse, following fallbacks, reading
taoke's own files — so every case is a *valid-looking* input with one lie in it. Cases are built at
run time into a work folder; nothing hostile is stored in the repository.

Each case has a class (the failure class of issue 16 it probes) and a kind, which decides the
commands the harness sends it through:

- ``release``: a folder or file that every release-reading command gets;
- ``fpfile``: a fingerprint ``.npz`` (``compare``, ``search``);
- ``registry``: a registry export (``registry import``, ``search --db``);
- ``benchmark``: a benchmark file (``contamination``, ``audit --benchmark``).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sqlite3
import struct
import subprocess
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Strings a release may carry that a terminal or rich would interpret: markup (closing tags, links,
# styles), ANSI escapes, bidi overrides, other control characters.
MARKUP: dict[str, str] = {
    "close-tag": "[/]",
    "style": "[bold red]x[/bold red]",
    "link": "[link=file:///etc/passwd]click[/link]",
    "bad-close": "a[/bold]b",
    "ansi": "\x1b[2J\x1b[31mred\x1b[0m",
    "osc8": "\x1b]8;;http://evil/\x07link\x1b]8;;\x07",
    "bidi": "abc\u202eexe.txt\u2066x\u2069",
    "ctrl": "a\rb\x08c\x07d\x00e",
}

# Numbers that parse as JSON (Python's json accepts Infinity/NaN) but lie.
LIES: dict[str, object] = {
    "inf": float("inf"),
    "nan": float("nan"),
    "zero": 0,
    "neg": -3,
    "digits4000": int("9" * 4000),
    "1e9": 1_000_000_000,
    "2e63": 2**63 + 5,
    "float": 1.5,
    "string": "64",
    "bool": True,
    "null": None,
    "list": [64],
}
CONFIG_FIELDS = (
    "num_hidden_layers",
    "hidden_size",
    "num_attention_heads",
    "num_key_value_heads",
    "vocab_size",
    "max_position_embeddings",
    "intermediate_size",
    "rope_theta",
    "rms_norm_eps",
    "head_dim",
)
PRIMARY_LIES: dict[str, tuple[str, ...]] = {
    f: ("inf", "nan", "zero", "neg", "digits4000", "1e9", "string", "null")
    for f in ("num_hidden_layers", "hidden_size", "num_attention_heads", "vocab_size")
}
PRIMARY_LIES["num_hidden_layers"] += ("float", "bool", "list", "2e63")
CLASSES = (
    "markup",
    "numbers",
    "gguf-numbers",
    "pickle",
    "containment",
    "size",
    "fpfile",
    "registry",
    "benchmark",
)


@dataclass
class Case:
    """One hostile input. ``path`` is what the commands get; ``root`` is everything the case owns
    (opening a file outside it, the output folder or the cache breaks the containment promise)."""

    name: str
    cls: str
    kind: str
    what: str
    path: Path
    root: Path


@dataclass
class Base:
    """The clean inputs the cases start from (a small trained LLaMA from the zoo, with tokenizer)."""

    release: Path
    gguf: Path
    fingerprint: Path
    registry: Path
    benchmark: Path


# ------------------------------------------------------------------------------------- helpers
def _write_json(path: Path, obj: object) -> None:
    # allow_nan: the lies include Infinity/NaN, which Python's json writes and reads
    path.write_text(json.dumps(obj, indent=1, allow_nan=True))


def _copy_release(base: Base, folder: Path) -> Path:
    shutil.copytree(base.release, folder, ignore=shutil.ignore_patterns(".zoo-complete"))
    return folder


def _rename_tensors(folder: Path, rename: Callable[[str], str]) -> None:
    from safetensors.numpy import load_file, save_file

    f = folder / "model.safetensors"
    state = load_file(str(f))
    save_file({rename(k): v for k, v in state.items()}, str(f))


def write_gguf(
    path: Path,
    release: Path,
    kv: dict[str, tuple[str, object]] | None = None,
    drop: tuple[str, ...] = (),
    rename: Callable[[str], str] | None = None,
) -> Path:
    """A llama GGUF of ``release``'s weights (llama.cpp's tensor names, F32); ``kv`` overrides or adds
    metadata as ``key: (gguf value type name, value)``; ``drop`` leaves keys out."""
    import gguf
    from gguf import MODEL_TENSOR, TENSOR_NAMES
    from safetensors.numpy import load_file

    cfg = json.loads((release / "config.json").read_text())
    state = load_file(str(release / "model.safetensors"))
    w = gguf.GGUFWriter(str(path), "llama")
    meta: dict[str, tuple[str, object]] = {
        "llama.block_count": ("UINT32", cfg["num_hidden_layers"]),
        "llama.context_length": ("UINT32", cfg["max_position_embeddings"]),
        "llama.embedding_length": ("UINT32", cfg["hidden_size"]),
        "llama.feed_forward_length": ("UINT32", cfg["intermediate_size"]),
        "llama.attention.head_count": ("UINT32", cfg["num_attention_heads"]),
        "llama.attention.head_count_kv": ("UINT32", cfg["num_key_value_heads"]),
        "llama.rope.freq_base": ("FLOAT32", float(cfg["rope_theta"])),
        "llama.attention.layer_norm_rms_epsilon": ("FLOAT32", float(cfg["rms_norm_eps"])),
        "general.name": ("STRING", "base-a"),
        "general.license": ("STRING", "apache-2.0"),
    }
    meta.update(kv or {})
    for key, (vtype, value) in meta.items():
        if key in drop:
            continue
        t = gguf.GGUFValueType[vtype]
        if t == gguf.GGUFValueType.ARRAY:
            w.add_key_value(key, value, t, sub_type=gguf.GGUFValueType.STRING)
        else:
            w.add_key_value(key, value, t)
    names = {
        "model.embed_tokens.weight": MODEL_TENSOR.TOKEN_EMBD,
        "model.norm.weight": MODEL_TENSOR.OUTPUT_NORM,
        "lm_head.weight": MODEL_TENSOR.OUTPUT,
    }
    block = {
        "input_layernorm": MODEL_TENSOR.ATTN_NORM,
        "self_attn.q_proj": MODEL_TENSOR.ATTN_Q,
        "self_attn.k_proj": MODEL_TENSOR.ATTN_K,
        "self_attn.v_proj": MODEL_TENSOR.ATTN_V,
        "self_attn.o_proj": MODEL_TENSOR.ATTN_OUT,
        "post_attention_layernorm": MODEL_TENSOR.FFN_NORM,
        "mlp.gate_proj": MODEL_TENSOR.FFN_GATE,
        "mlp.up_proj": MODEL_TENSOR.FFN_UP,
        "mlp.down_proj": MODEL_TENSOR.FFN_DOWN,
    }
    for k, v in state.items():
        if k in names:
            gname = TENSOR_NAMES[names[k]] + ".weight"
        else:
            parts = k.split(".")
            gname = TENSOR_NAMES[block[".".join(parts[3:-1])]].format(bid=int(parts[2])) + ".weight"
        w.add_tensor(rename(gname) if rename else gname, np.ascontiguousarray(v, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def _torch_zip(path: Path, data_pkl: bytes, storages: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", data_pkl)
        zf.writestr("archive/version", b"3\n")
        for key, data in storages.items():
            zf.writestr(f"archive/data/{key}", data)
    return path


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _tensor_pickle(name: str, key: str, numel: int, size: tuple[int, ...], stride: tuple[int, ...]) -> bytes:
    """Protocol-2 opcodes of ``{name: _rebuild_tensor_v2(storage(key), 0, size, stride)}`` written by
    hand, so that each test can put exactly the hostile structure it wants around it."""

    def tup(xs: tuple[int, ...]) -> bytes:
        return b"(" + b"".join(b"J" + struct.pack("<i", x) for x in xs) + b"t"

    pid = b"(" + b"X" + struct.pack("<I", 7) + b"storage" + _global("torch", "FloatStorage")
    pid += b"X" + struct.pack("<I", len(key)) + key.encode() + b"X\x03\x00\x00\x00cpu"
    pid += b"J" + struct.pack("<i", numel) + b"tQ"
    return (
        _global("torch._utils", "_rebuild_tensor_v2")
        + b"("
        + pid
        + b"K\x00"
        + tup(size)
        + tup(stride)
        + b"\x89"
        + _global("collections", "OrderedDict")
        + b")RtR"  # ): empty tuple, R: OrderedDict(), t: the args tuple, R: the rebuild call
    )


def _pickle_state(entries: list[tuple[str, bytes]], extra: bytes = b"") -> bytes:
    body = (
        b"\x80\x02}"
        + b"("
        + b"".join(b"X" + struct.pack("<I", len(k.encode())) + k.encode() + v for k, v in entries)
        + extra
        + b"u."
    )
    return body


# ------------------------------------------------------------------------------------- the cases
def build_base(work: Path) -> Base:
    """The clean release (zoo base-a), its GGUF, fingerprint and registry, and a tiny benchmark."""
    import sys

    from taoke import zoo

    work.mkdir(parents=True, exist_ok=True)
    release = work / "base" / "base-a"
    if not release.exists():
        _copy_release(Base(Path(zoo.materialize("base-a")), *[Path()] * 4), release)
    gguf_path = work / "base" / "base-a.gguf"
    if not gguf_path.exists():
        write_gguf(gguf_path, release)
    fp_path = work / "base" / "base-a.npz"
    db = work / "base" / "registry.db"
    for args, out in (
        (["fingerprint", "-o", str(fp_path), str(release)], fp_path),
        (["index", "-q", "--db", str(db), str(release)], db),
    ):
        if not out.exists():
            subprocess.run(
                [sys.executable, "-m", "taoke.cli.main", *args],
                check=True,
                stdout=subprocess.DEVNULL,
                env={**os.environ, "HF_HUB_OFFLINE": "1"},
            )
    bench = work / "base" / "bench.csv"
    bench.write_text("question,A,B,C,D,answer\nWhat is 2+2?,1,2,3,4,D\nWhat is red?,apple,sky,grass,coal,A\n")
    return Base(release, gguf_path, fp_path, db, bench)


def build_cases(work: Path, base: Base) -> list[Case]:  # noqa: C901 - one flat list of builders
    """Every hostile case, built under ``work/cases`` (rebuilt from scratch each run)."""
    root = work / "cases"
    # rm, not shutil.rmtree: the 1,100-deep case tree exceeds rmtree's recursion limit
    subprocess.run(["rm", "-rf", str(root)], check=True)  # noqa: S603, S607 - fixed arguments
    root.mkdir(parents=True)
    outside = work / "outside"  # what symlinks and fallbacks point at: a file the case does not own
    outside.mkdir(exist_ok=True)
    shutil.copy(base.release / "tokenizer.json", outside / "tokenizer.json")
    (outside / "secret.json").write_text('{"secret": true}')
    cases: list[Case] = []

    def new(name: str) -> Path:
        d = root / name
        d.mkdir()
        return d

    def add(name: str, cls: str, kind: str, what: str, path: Path, own: Path | None = None) -> None:
        cases.append(Case(name, cls, kind, what, path, own or root / name))

    # -- markup, ANSI, bidi in every place a release string is shown
    for label, s in MARKUP.items():
        d = new(f"markup-tensor-{label}")
        r = _copy_release(base, d / "rel")
        _rename_tensors(r, lambda k, s=s: k.replace("mlp.up_proj", f"mlp.up{s}proj") if ".0." in k else k)
        add(d.name, "markup", "release", f"tensor name with {label}", r)

        d = new(f"markup-extra-tensor-{label}")
        r = _copy_release(base, d / "rel")
        from safetensors.numpy import load_file, save_file

        st = load_file(str(r / "model.safetensors"))
        st[f"model.{s}.weight"] = np.ones((4, 4), np.float16)
        save_file(st, str(r / "model.safetensors"))
        add(d.name, "markup", "release", f"unknown tensor named with {label}", r)

        d = new(f"markup-filename-{label}")
        r = _copy_release(base, d / "rel")
        safe = s.replace("/", "_").replace("\x00", "")
        (r / f"modeling_{safe}.py").write_text("x = 1\n")
        (r / f"{safe}.txt").write_text("hello\n")
        add(d.name, "markup", "release", f"file names with {label}", r)

        d = new(f"markup-card-{label}")
        r = _copy_release(base, d / "rel")
        yml = json.dumps(s)  # a JSON string is a valid YAML double-quoted scalar
        (r / "README.md").write_text(
            f"---\nlicense: {yml}\nbase_model: {yml}\nmodel_name: {yml}\ndatasets: [{yml}]\n---\n# {s}\n\n"
            f"MMLU: 99.9 {s}\n"
        )
        add(d.name, "markup", "release", f"model card fields with {label}", r)

        d = new(f"markup-config-{label}")
        r = _copy_release(base, d / "rel")
        cfg = json.loads((r / "config.json").read_text())
        cfg.update(architectures=[f"Llama{s}ForCausalLM"], model_type=f"llama{s}", torch_dtype=s)
        _write_json(r / "config.json", cfg)
        add(d.name, "markup", "release", f"config.json strings with {label}", r)

        d = new(f"markup-gguf-{label}")
        kv = {
            "general.name": ("STRING", s),
            "general.license": ("STRING", s),
            "general.basename": ("STRING", s),
        }
        add(
            d.name,
            "markup",
            "release",
            f"GGUF metadata strings with {label}",
            write_gguf(d / "model.gguf", base.release, kv),
        )

    # -- numbers that parse but lie, in config.json
    for fieldname in CONFIG_FIELDS:
        for label, value in LIES.items():
            if label not in PRIMARY_LIES.get(fieldname, ("nan", "zero", "digits4000")):
                continue  # every lie on the fields that size the model, three on the others
            d = new(f"cfg-{fieldname}-{label}")
            r = _copy_release(base, d / "rel")
            cfg = json.loads((r / "config.json").read_text())
            cfg[fieldname] = value
            _write_json(r / "config.json", cfg)
            add(d.name, "numbers", "release", f"config.json {fieldname} = {label}", r)
    for label, value in (("inf", float("inf")), ("zero", 0), ("neg", -2.0), ("1e9", 1e9)):
        d = new(f"cfg-rope-scaling-{label}")
        r = _copy_release(base, d / "rel")
        cfg = json.loads((r / "config.json").read_text())
        cfg["rope_scaling"] = {"type": "linear", "rope_type": "linear", "factor": value}
        _write_json(r / "config.json", cfg)
        add(d.name, "numbers", "release", f"rope_scaling.factor = {label}", r)
    d = new("card-claims-huge")
    r = _copy_release(base, d / "rel")
    (r / "README.md").write_text(
        "---\nlicense: apache-2.0\n---\n# m\n\nContext length: " + "9" * 4000 + " tokens. "
        "Trained on 1e309 tokens with " + "9" * 5000 + "B parameters. MMLU: nan\n"
    )
    add(d.name, "numbers", "release", "card claims with 4000-digit and overflowing numbers", r)

    # -- numbers that lie in GGUF metadata
    gguf_lies: dict[str, tuple[str, object]] = {
        "blocks-0": ("llama.block_count", ("UINT32", 0)),
        "blocks-1e9": ("llama.block_count", ("UINT32", 1_000_000_000)),
        "blocks-u64max": ("llama.block_count", ("UINT64", 2**64 - 1)),
        "blocks-neg": ("llama.block_count", ("INT32", -4)),
        "blocks-string": ("llama.block_count", ("STRING", "4")),
        "blocks-float-nan": ("llama.block_count", ("FLOAT32", float("nan"))),
        "heads-0": ("llama.attention.head_count", ("UINT32", 0)),
        "heads-1e9": ("llama.attention.head_count", ("UINT32", 1_000_000_000)),
        "kvheads-0": ("llama.attention.head_count_kv", ("UINT32", 0)),
        "kvheads-3": ("llama.attention.head_count_kv", ("UINT32", 3)),
        "embd-0": ("llama.embedding_length", ("UINT32", 0)),
        "embd-u64": ("llama.embedding_length", ("UINT64", 2**63)),
        "ctx-u64max": ("llama.context_length", ("UINT64", 2**64 - 1)),
        "ctx-0": ("llama.context_length", ("UINT32", 0)),
        "rope-inf": ("llama.rope.freq_base", ("FLOAT32", float("inf"))),
        "rope-nan": ("llama.rope.freq_base", ("FLOAT32", float("nan"))),
        "eps-nan": ("llama.attention.layer_norm_rms_epsilon", ("FLOAT32", float("nan"))),
        "eps-neg": ("llama.attention.layer_norm_rms_epsilon", ("FLOAT64", -1.0)),
        "ffn-0": ("llama.feed_forward_length", ("UINT32", 0)),
        "name-array": ("general.name", ("ARRAY", ["a", "b"])),
    }
    for label, (key, tv) in gguf_lies.items():
        d = new(f"gguf-{label}")
        add(
            d.name,
            "gguf-numbers",
            "release",
            f"GGUF {key} = {tv[1]!r:.40}",
            write_gguf(d / "model.gguf", base.release, {key: tv}),
        )
    d = new("gguf-layer-1e12")
    add(
        d.name,
        "gguf-numbers",
        "release",
        "GGUF tensor blk.999999999999.attn_q.weight",
        write_gguf(d / "model.gguf", base.release, rename=lambda n: n.replace("blk.3.", "blk.999999999999.")),
    )

    # -- pickle object graphs
    f32 = np.arange(16, dtype=np.float32).tobytes()
    clean = _tensor_pickle("w", "0", 16, (4, 4), (4, 1))

    def torch_release(name: str, what: str, pkl: bytes, storages: dict[str, bytes] | None = None) -> None:
        d = new(name)
        r = d / "rel"
        r.mkdir()
        shutil.copy(base.release / "config.json", r / "config.json")
        _torch_zip(r / "pytorch_model.bin", pkl, storages if storages is not None else {"0": f32})
        add(name, "pickle", "release", what, r)

    # 2^60 paths through a DAG of shared references: a few hundred bytes
    dag = b"]\x940"  # EMPTY_LIST, MEMOIZE (slot 0), POP
    for i in range(60):  # slot i+1 = (slot i, slot i), memoized; every tuple but the last popped
        dag += b"h" + bytes([i]) + b"h" + bytes([i]) + b"\x86\x94" + (b"0" if i < 59 else b"")
    torch_release(
        "pickle-dag-2e60",
        "2^60 paths of shared references beside a tensor",
        _pickle_state([("w", clean), ("dag", dag)]),
    )
    selfref = b"]\x94h\x00a"  # a list appended to itself
    torch_release(
        "pickle-selfref", "a list that contains itself", _pickle_state([("w", clean), ("loop", selfref)])
    )
    selfdict = b"}\x94X\x01\x00\x00\x00kh\x00s"
    torch_release(
        "pickle-selfref-dict",
        "a dict that contains itself",
        _pickle_state([("w", clean), ("loop", selfdict)]),
    )
    # BUILD on the shared FloatStorage stand-in, then a clean tensor
    poison = _global("torch", "FloatStorage") + b"N}X\x05\x00\x00\x00dtypeX\x03\x00\x00\x00I64s\x86b0"
    torch_release(
        "pickle-build-poison",
        "BUILD sets attributes on the shared storage stand-in",
        b"\x80\x02" + poison + _pickle_state([("w", clean)])[2:],
    )
    poison_name = (
        _global("torch", "FloatStorage") + b"N}X\x04\x00\x00\x00nameX\x0b\x00\x00\x00HalfStorages\x86b0"
    )
    torch_release(
        "pickle-build-poison-name",
        "BUILD renames the shared FloatStorage stand-in",
        b"\x80\x02" + poison_name + _pickle_state([("w", clean)])[2:],
    )
    od_poison = _global("collections", "OrderedDict") + b"N}X\x03\x00\x00\x00keyK\x01s\x86b0"
    torch_release(
        "pickle-build-ordereddict",
        "BUILD sets a class attribute on OrderedDict",
        b"\x80\x02" + od_poison + _pickle_state([("w", clean)])[2:],
    )
    torch_release(
        "pickle-zero-stride-64g",
        "a 2^17 x 2^17 view with zero strides over 16 floats",
        _pickle_state([("w", _tensor_pickle("w", "0", 16, (1 << 17, 1 << 17), (0, 0)))]),
    )
    torch_release(
        "pickle-neg-overlap",
        "tensor views overlapping in one storage with a huge shape",
        _pickle_state([("w", _tensor_pickle("w", "0", 16, (1 << 30, 1), (0, 1)))]),
    )
    deep = b"(" * 5000 + b"l" * 5000  # MARK ... LIST nested 5000 deep
    torch_release(
        "pickle-deep-lists", "lists nested 5000 deep", _pickle_state([("w", clean), ("deep", deep)])
    )
    wide = b"(" + b"K\x01" * 2_000_000 + b"l"
    torch_release(
        "pickle-wide-list", "a list of 2,000,000 ints", _pickle_state([("w", clean), ("wide", wide)])
    )
    # the poisoned file and a clean one in the same release: the clean one must still read as F32
    d = new("pickle-poison-then-clean")
    r = d / "rel"
    r.mkdir()
    shutil.copy(base.release / "config.json", r / "config.json")
    _torch_zip(
        r / "pytorch_model-00001-of-00002.bin",
        b"\x80\x02" + poison + _pickle_state([("a", clean)])[2:],
        {"0": f32},
    )
    _torch_zip(r / "pytorch_model-00002-of-00002.bin", _pickle_state([("b", clean)]), {"0": f32})
    _write_json(
        r / "pytorch_model.bin.index.json",
        {"weight_map": {"a": "pytorch_model-00001-of-00002.bin", "b": "pytorch_model-00002-of-00002.bin"}},
    )
    add(d.name, "pickle", "release", "poisoning shard then a clean shard", r)

    # -- containment: symlinks, fallbacks, cache entries
    d = new("link-tokenizer-single-file")
    r = _copy_release(base, d / "rel")
    (r / "tokenizer.json").unlink()
    (r / "tokenizer.json").symlink_to(outside / "tokenizer.json")
    add(
        d.name,
        "containment",
        "release",
        "single weight file whose tokenizer.json neighbour links outside",
        r / "model.safetensors",
    )
    d = new("link-config-single-file")
    r = _copy_release(base, d / "rel")
    (r / "config.json").unlink()
    (r / "config.json").symlink_to(outside / "secret.json")
    add(
        d.name,
        "containment",
        "release",
        "single weight file whose config.json neighbour links outside",
        r / "model.safetensors",
    )
    d = new("link-weights-single-file")
    r = d / "rel"
    r.mkdir()
    (r / "model.safetensors").symlink_to(base.release / "model.safetensors")
    add(
        d.name,
        "containment",
        "release",
        "the weight file given is itself a symlink leaving the folder",
        r / "model.safetensors",
    )
    d = new("link-card-folder")
    r = _copy_release(base, d / "rel")
    (r / "README.md").unlink()
    (r / "README.md").symlink_to("/etc/passwd")
    add(d.name, "containment", "release", "README.md -> /etc/passwd in a folder", r)
    d = new("link-tokenizer-loop")
    r = _copy_release(base, d / "rel")
    (r / "tokenizer.json").unlink()
    (r / "tokenizer.json").symlink_to(r / "tokenizer.json")
    add(d.name, "containment", "release", "tokenizer.json is a symlink loop", r)
    d = new("bad-tokenizer-cwd-fallback")
    r = _copy_release(base, d / "rel")
    (r / "tokenizer.json").write_text('{"model": {"type": "BPE", "vocab": 5}}')
    add(d.name, "containment", "release", "refused tokenizer.json (the CWD holds another one)", r)
    d = new("no-tokenizer-cwd-fallback")
    r = _copy_release(base, d / "rel")
    (r / "tokenizer.json").unlink()
    add(d.name, "containment", "release", "no tokenizer at all (the CWD holds one)", r)
    # HF cache entries
    for label, how in (("blobs-link", "blobs"), ("snapshot-link-out", "snap")):
        d = new(f"hfcache-{label}")
        repo = d / "hub" / "models--evil--m"
        snap = repo / "snapshots" / ("0" * 40)
        snap.mkdir(parents=True)
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text("0" * 40)
        if how == "blobs":
            elsewhere = outside / f"blobs-{label}"
            elsewhere.mkdir(exist_ok=True)
            for f in base.release.iterdir():
                if f.is_file() and not f.name.startswith("."):
                    shutil.copy(f, elsewhere / f.name)
            (repo / "blobs").symlink_to(elsewhere)
            for f in elsewhere.iterdir():
                (snap / f.name).symlink_to(Path("../../blobs") / f.name)
        else:
            (repo / "blobs").mkdir()
            for f in base.release.iterdir():
                if f.is_file() and not f.name.startswith("."):
                    (snap / f.name).symlink_to(base.release / f.name)
        add(d.name, "containment", "release", f"HF cache entry: {label}", repo)
    d = new("deep-folder-1100")
    r = _copy_release(base, d / "rel")
    p = r
    for _ in range(1100):  # one mkdir at a time: os.makedirs recurses per level
        p = p / "d"
        p.mkdir()
    (p / "x.py").write_text("x = 1\n")
    add(d.name, "size", "release", "a 1,100-deep folder tree", r)

    # -- sizes not bounded by header limits
    d = new("config-40mb")
    r = _copy_release(base, d / "rel")
    cfg = json.loads((r / "config.json").read_text())
    cfg["pad"] = ["x" * 100] * 400_000
    _write_json(r / "config.json", cfg)
    add(d.name, "size", "release", "config.json of 40 MB", r)
    for where in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        d = new(f"deep-{where.replace('.', '-')}")
        r = _copy_release(base, d / "rel")
        (r / where).write_text('{"a":' + "[" * 50_000 + "]" * 50_000 + "}")
        add(d.name, "size", "release", f"{where} nested 50,000 deep", r)
    d = new("card-deep-yaml")
    r = _copy_release(base, d / "rel")
    (r / "README.md").write_text("---\nlicense: " + "[" * 10_000 + "]" * 10_000 + "\n---\nx\n")
    add(d.name, "size", "release", "card YAML nested 10,000 deep", r)
    d = new("code-15mb")
    r = _copy_release(base, d / "rel")
    (r / "modeling_big.py").write_text("def f():\n    return " + "x + " * 3_000_000 + "1\n")
    add(d.name, "size", "release", "a 12 MB modeling .py (code lineage)", r)
    d = new("many-tensor-names")
    r = _copy_release(base, d / "rel")
    st = {f"model.layers.{i}.extra.w{i}": np.zeros(1, np.float16) for i in range(100_000)}
    from safetensors.numpy import save_file

    save_file(st, str(r / "extra.safetensors"))
    add(d.name, "size", "release", "a second weight file with 100,000 tiny tensors", r)
    # -- costs found after the first campaign (issue 16, part 2)
    d = new("many-tensor-roles-250k")
    r = _copy_release(base, d / "rel")
    roles = ("self_attn.q_proj", "self_attn.k_proj", "mlp.up_proj", "input_layernorm")
    st = {
        f"model.layers.{1000 + i // 4}.{roles[i % 4]}.weight": np.zeros(1, np.float16) for i in range(250_000)
    }
    save_file(st, str(r / "extra.safetensors"))
    add(
        d.name,
        "size",
        "release",
        "a second weight file of 250,000 tensors with llama roles (blocks 1000-63499)",
        r,
    )
    d = new("code-over-code-bound")
    r = _copy_release(base, d / "rel")
    (r / "modeling_big.py").write_text("x = 1\n" * 800_000)  # 4.8 MB: over TAOKE_MAX_CODE_BYTES (2 MiB)
    add(d.name, "size", "release", "a 4.8 MB modeling .py (over the 2 MiB code-lineage bound)", r)
    d = new("code-many-files")
    r = _copy_release(base, d / "rel")
    for i in range(60):
        (r / f"modeling_part{i}.py").write_text("def f(a, b):\n    return a + b\n" * 3_000)
    add(d.name, "size", "release", "60 .py files of 90 KB each (code lineage)", r)

    # boilerplate classes and methods repeated thousands of times: each shares its fingerprints with
    # thousands of reference classes, so aligning them joins billions of index rows without a bound
    # (Limits.max_align_rows; 8 min for 12,000 classes before it)
    def boilerplate(i: int, name: str) -> str:  # one method, inside a class
        return (
            f"    def {name}(self, hidden_states, mask):\n"
            f"        hidden_states = self.proj(hidden_states) * mask + {i}\n"
            "        return self.norm(hidden_states)\n\n"
        )

    d = new("code-repeated-classes")
    r = _copy_release(base, d / "rel")
    text = "".join(f"class C{i}(nn.Module):\n" + boilerplate(i, "forward") for i in range(12_000))
    (r / "modeling_rep.py").write_text(text)
    add(d.name, "size", "release", "12,000 boilerplate classes in one modeling .py (2 MB)", r)
    d = new("code-repeated-methods")
    r = _copy_release(base, d / "rel")
    for part in range(3):
        text = "class A(nn.Module):\n" + "".join(boilerplate(i, f"m{i}") for i in range(4_500))
        (r / f"modeling_rep{part}.py").write_text(text)
    add(d.name, "size", "release", "3 modeling .py files, each a class of 4,500 boilerplate methods", r)
    d = new("merges-27mb")
    r = _copy_release(base, d / "rel")
    (r / "tokenizer.json").unlink()
    _write_json(r / "vocab.json", {f"t{i}": i for i in range(50_000)})
    (r / "merges.txt").write_text(
        "#version: 0.2\n" + "".join(f"t{i % 50_000}x t{(i * 7) % 50_000}y\n" for i in range(1_730_000))
    )
    add(d.name, "size", "release", "vocab.json 50k + a 27 MB merges.txt (1.73M merges)", r)
    d = new("block-number-unicode")
    r = _copy_release(base, d / "rel")
    _rename_tensors(
        r,
        lambda k: k.replace("layers.0.", "layers.\u00b2.").replace("layers.1.", "layers." + "9" * 5000 + "."),
    )
    add(
        d.name, "numbers", "release", "tensor block numbers '\u00b2' and 5,000 digits (int() refuses both)", r
    )

    d = new("merges-big")
    r = _copy_release(base, d / "rel")
    (r / "tokenizer.json").unlink()
    _write_json(r / "vocab.json", {f"t{i}": i for i in range(200_000)})
    (r / "merges.txt").write_text("#version: 0.2\n" + "".join(f"t{i} t{i + 1}\n" for i in range(400_000)))
    add(d.name, "size", "release", "vocab.json 200k + merges.txt 400k lines", r)
    d = new("tokenizer-many-added")
    r = _copy_release(base, d / "rel")
    tok = json.loads((r / "tokenizer.json").read_text())
    tok["added_tokens"] = [
        {
            "id": 3000 + i,
            "content": f"[/]<{i}>",
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for i in range(50_000)
    ]
    _write_json(r / "tokenizer.json", tok)
    add(d.name, "size", "release", "tokenizer.json with 50,000 added tokens with markup", r)
    for label, tok_edit in (
        ("bad-merge", lambda t: t["model"].__setitem__("merges", [["zzz", "yyy"]] * 3)),
        ("vocab-id-neg", lambda t: t["model"]["vocab"].__setitem__("Q", -5)),
        ("vocab-id-huge", lambda t: t["model"]["vocab"].__setitem__("Q", 2**40)),
        ("unknown-pretok", lambda t: t.__setitem__("pre_tokenizer", {"type": "Evil[/]"})),
        (
            "bad-regex",
            lambda t: t.__setitem__(
                "pre_tokenizer",
                {"type": "Split", "pattern": {"Regex": "(("}, "behavior": "Isolated", "invert": False},
            ),
        ),
    ):
        d = new(f"tokenizer-{label}")
        r = _copy_release(base, d / "rel")
        tok = json.loads((r / "tokenizer.json").read_text())
        tok_edit(tok)
        _write_json(r / "tokenizer.json", tok)
        add(
            d.name,
            "size" if label == "" else "containment",
            "release",
            f"tokenizer.json that the Rust library panics or errors on ({label})",
            r,
        )

    # -- taoke's own fingerprint files
    def fp_case(
        name: str,
        what: str,
        edit: Callable[[dict[str, np.ndarray]], None] | None = None,
        raw: bytes | None = None,
    ) -> None:
        d = new(name)
        out = d / "fp.npz"
        if raw is not None:
            out.write_bytes(raw)
        else:
            with np.load(base.fingerprint, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            assert edit is not None
            edit(arrays)
            with open(out, "wb") as fh:
                np.savez(fh, **arrays)
        add(name, "fpfile", "fpfile", what, out)

    def meta_edit(change: Callable[[dict], None]) -> Callable[[dict[str, np.ndarray]], None]:
        def edit(a: dict[str, np.ndarray]) -> None:
            head = json.loads(a["meta"].tobytes().decode())
            change(head)
            a["meta"] = np.frombuffer(json.dumps(head, allow_nan=True).encode(), np.uint8)

        return edit

    fp_case(
        "fp-name-markup",
        "fingerprint name with markup and ANSI",
        meta_edit(lambda h: h.__setitem__("name", "[/]\x1b[31mevil[link=x]")),
    )
    fp_case(
        "fp-meta-nan",
        "fingerprint meta numbers NaN/inf/4000 digits",
        meta_edit(
            lambda h: h["meta"].update(
                n_layers=float("nan"), hidden_size=float("inf"), params=int("9" * 4000)
            )
        ),
    )
    fp_case("fp-meta-list", "fingerprint meta is a list", meta_edit(lambda h: h.__setitem__("meta", [1, 2])))
    fp_case(
        "fp-rms-strings",
        "fingerprint rms values are strings",
        meta_edit(lambda h: h.__setitem__("rms", {"a": "x"})),
    )
    fp_case(
        "fp-raw-keys-many",
        "raw_keys longer than the raw array",
        meta_edit(lambda h: h.__setitem__("raw_keys", [f"k{i}" for i in range(10_000)])),
    )
    fp_case(
        "fp-version-huge",
        "version with 4000 digits",
        meta_edit(lambda h: h.__setitem__("version", "9" * 4000)),
    )
    fp_case(
        "fp-layers-1e12",
        "layers array naming layer 10^12",
        lambda a: a.__setitem__("layers", np.array([10**12, -1], np.int64)),
    )
    fp_case(
        "fp-embed-wrong-shape",
        "embed array of the wrong rank and size",
        lambda a: a.__setitem__("embed", np.zeros((3,), np.float16)),
    )
    fp_case(
        "fp-embed-nan",
        "embed full of NaN and inf",
        lambda a: a.__setitem__("embed", np.full(a["embed"].shape, np.nan, np.float16)),
    )
    fp_case(
        "fp-anchor-ids-bad",
        "anchor_ids negative and huge",
        lambda a: a.__setitem__("anchor_ids", np.array([-1, 2**62], np.int64)),
    )
    fp_case(
        "fp-anchors-truncated",
        "anchors length prefix longer than the buffer",
        lambda a: a.__setitem__("anchors", np.frombuffer(b"\xff\xff\xff\x7fabc", np.uint8)),
    )
    fp_case(
        "fp-object-array",
        "an object array (pickle inside the npz)",
        lambda a: a.__setitem__("inv/attn", np.array([{"x": 1}], dtype=object)),
    )
    fp_case(
        "fp-inv-strings",
        "inv array of unicode strings",
        lambda a: a.__setitem__("inv/attn", np.array(["a", "b"])),
    )
    fp_case(
        "fp-vocab-hashes-float",
        "vocab_hashes as float64 NaN",
        lambda a: a.__setitem__("vocab_hashes", np.full(4, np.nan)),
    )
    fp_case(
        "fp-meta-deep",
        "meta JSON nested 100,000 deep",
        lambda a: a.__setitem__(
            "meta",
            np.frombuffer(
                b'{"format":"taoke-fingerprint","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}", np.uint8
            ),
        ),
    )
    buf = bytearray()
    with zipfile.ZipFile(tmp := root / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("meta.npy", b"\x93NUMPY" + b"\x00" * 300_000_000)
    buf = bytearray(tmp.read_bytes())
    tmp.unlink()
    fp_case("fp-zip-bomb", "meta.npy deflating to 300 MB", raw=bytes(buf))
    for name, descr, shape, what in (
        ("fp-npy-shape-lie", "<f4", 10**11, "embed.npy header claiming 10^11 floats over 16 bytes"),
        ("fp-npy-zero-itemsize", "|V0", 10**18, "embed.npy of 10^18 zero-byte items (passes a size check)"),
    ):
        hdr = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({shape},), }}".encode()
        hdr += b" " * (64 - (10 + len(hdr) + 1) % 64) + b"\n"
        npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr + b"\x00" * 16
        bio = root / "lying.zip"
        with zipfile.ZipFile(bio, "w") as zf:
            with np.load(base.fingerprint, allow_pickle=False) as z:
                for k in z.files:
                    if k != "embed":
                        from io import BytesIO

                        b = BytesIO()
                        np.save(b, z[k])
                        zf.writestr(k + ".npy", b.getvalue())
            zf.writestr("embed.npy", npy)
        fp_case(name, what, raw=bio.read_bytes())
        bio.unlink()
    fp_case("fp-not-zip", "a .npz that is a pickle", raw=pickle.dumps({"a": 1}))

    # -- registry exports
    def reg_case(name: str, what: str, sql: str) -> None:
        d = new(name)
        db = d / "export.db"
        shutil.copy(base.registry, db)
        con = sqlite3.connect(db)
        try:
            con.executescript(sql)
            con.commit()
        finally:
            con.close()
        add(name, "registry", "registry", what, db)

    reg_case(
        "reg-trigger",
        "a trigger that writes on insert/update",
        "CREATE TABLE IF NOT EXISTS pwn(x); CREATE TRIGGER t AFTER UPDATE ON schema_version BEGIN "
        "INSERT INTO pwn VALUES (1); END; CREATE TRIGGER t2 AFTER INSERT ON models BEGIN "
        "INSERT INTO pwn VALUES (2); END;",
    )
    reg_case(
        "reg-schema-version-huge",
        "schema_version of 10^18",
        "UPDATE schema_version SET version = 999999999999999999"
        " WHERE version = (SELECT max(version) FROM schema_version);",
    )
    reg_case(
        "reg-schema-version-text",
        "schema_version is text",
        "UPDATE schema_version SET description = '[/]' || char(27) || '[2J';",
    )
    reg_case(
        "reg-name-markup",
        "model names with markup and ANSI",
        "UPDATE models SET name = '[/]' || char(27) || '[31mevil[link=x]';",
    )
    reg_case(
        "reg-json-columns",
        "JSON columns holding NaN, deep nesting and wrong types",
        "UPDATE models SET "
        + ", ".join(
            f"{c} = '{v}'"
            for c, v in (("declared_base", '{"x": NaN, "n": ' + "[" * 5000 + "]" * 5000 + "}"),)
        )
        + ";",
    )
    reg_case(
        "reg-blob-garbage",
        "fingerprint blob that is not a fingerprint",
        "UPDATE models SET fingerprint = x'00ff00ff';",
    )
    reg_case(
        "reg-view-shadow",
        "a view named like a table the importer reads",
        "CREATE TABLE files_real AS SELECT * FROM files; DROP TABLE files; "
        "CREATE VIEW files AS SELECT * FROM files_real, files_real AS a, files_real AS b, files_real AS c;",
    )
    reg_case(
        "reg-huge-size",
        "file size of 2^70 stored as text",
        "UPDATE files SET size = '1180591620717411303424';",
    )
    d = new("reg-not-sqlite")
    (d / "export.db").write_bytes(b"SQLite format 3\x00" + os.urandom(4000))
    add(d.name, "registry", "registry", "SQLite magic then garbage", d / "export.db")

    # -- benchmarks
    def bench_case(name: str, what: str, text: str, suffix: str = ".csv") -> None:
        d = new(name)
        b = d / f"bench{suffix}"
        b.write_text(text)
        add(name, "benchmark", "benchmark", what, b)

    bench_case(
        "bench-markup",
        "questions with markup and ANSI",
        "question,A,B,C,D,answer\n[/]\x1b[31mred?,[bold]a,b,c,d,A\nq2 [link=x],1,2,3,4,B\n",
    )
    bench_case(
        "bench-20mb-question",
        "one 20 MB question",
        "question,A,B,C,D,answer\n" + "x" * 20_000_000 + ",1,2,3,4,A\nq2,1,2,3,4,B\n",
    )
    bench_case(
        "bench-deep-jsonl",
        "JSONL items nested 100,000 deep",
        '{"question": ' + "[" * 100_000 + "]" * 100_000 + ', "choices": ["a","b"], "answer": 0}\n',
        ".jsonl",
    )
    bench_case(
        "bench-answer-lies",
        "answers NaN, 10^4000, negative",
        '{"question": "q1", "choices": ["a","b"], "answer": NaN}\n'
        '{"question": "q2", "choices": ["a","b"], "answer": ' + "9" * 4000 + "}\n"
        '{"question": "q3", "choices": ["a","b"], "answer": -1}\n',
        ".jsonl",
    )
    bench_case(
        "bench-item-200k-chars",
        "one JSONL question of 200,000 characters (over the item bound)",
        json.dumps({"question": "x" * 200_000, "choices": ["a", "b"], "answer": 0}) + "\n",
        ".jsonl",
    )
    bench_case(
        "bench-answer-unicode-digits",
        "answers '\u00b2' and a 5,000-digit string",
        '{"question": "q1", "choices": ["a","b"], "answer": "\u00b2"}\n'
        '{"question": "q2", "choices": ["a","b"], "answer": "' + "9" * 5000 + '"}\n',
        ".jsonl",
    )
    bench_case(
        "bench-choices-100k",
        "an item with 100,000 choices",
        json.dumps({"question": "q", "choices": ["c"] * 100_000, "answer": 0}) + "\n",
        ".jsonl",
    )
    return cases
