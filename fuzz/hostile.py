"""Builders for lying files and malicious releases, and a CLI runner that measures what they cost.

Nothing here is a stored payload: every hostile file is *built* at test time into a temporary folder,
so the repository never holds a pickle that runs code when something loads it. The tests
(``tests/test_resource_limits.py``, ``tests/test_malicious_corpus.py``) and the campaign
(``fuzz/campaign.py``) use the same builders, so the figures in SECURITY.md are the tested cases.

Every pickle payload writes a *marker file* when it runs; a case passes only if taoke exits 2 with
one line on stderr and the marker never appears. ``prove_live`` runs a payload with plain ``pickle``
in a throwaway interpreter first: a refusal of a payload that would not have run proves nothing.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

GB = 1 << 30


# ----------------------------------------------------------------------------------- CLI runner
@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str
    peak_rss_mb: float
    seconds: float

    @property
    def stderr_lines(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln.strip()]


# Runs the CLI and, at exit, records the process's own memory high-water mark (VmHWM of the mm that
# exec created) into the file named by argv[1].
_CLI_WITH_HWM = """
import atexit, sys
def _hwm(path=sys.argv[1]):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                with open(path, "w") as out:
                    out.write(line.split()[1])
atexit.register(_hwm)
from taoke.cli.main import main
raise SystemExit(main(sys.argv[2:]))
"""


def run_cli(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, mem_bytes: int = GB, timeout: float = 120.0
) -> CliResult:
    """``python -m taoke.cli.main ARGS`` under an address-space limit; peak RSS from ``wait4``.

    ``RLIMIT_AS`` is set in the child before exec, so an allocation sized from a lying header fails
    in the child (and must surface as taoke's one-line error, not a ``MemoryError`` traceback).
    """

    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))

    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("HF_HUB_OFFLINE", "1")
    full_env["COLUMNS"] = "200"
    out_path, err_path = cwd / ".taoke-cli.out", cwd / ".taoke-cli.err"
    hwm_path = cwd / ".taoke-cli.hwm"
    hwm_path.unlink(missing_ok=True)
    start = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", _CLI_WITH_HWM, str(hwm_path), *args],
            cwd=cwd,
            env=full_env,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            preexec_fn=limit,
        )
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > timeout:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
    # wait4's ru_maxrss starts from the *parent's* RSS at fork (Linux keeps the high-water mark across
    # exec), so a big test process would be charged to the child; the child's own VmHWM is exact.
    peak_kb = float(hwm_path.read_text()) if hwm_path.exists() else float(usage.ru_maxrss)
    result = CliResult(
        proc.returncode,
        out_path.read_text("utf-8", "replace"),
        err_path.read_text("utf-8", "replace"),
        peak_kb / 1024,
        time.monotonic() - start,
    )
    for path in (out_path, err_path, hwm_path):
        path.unlink(missing_ok=True)
    return result


# ------------------------------------------------------------------------------- lying files
def _st(header: dict | bytes, data: bytes = b"", length: int | None = None) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def _gguf_string(s: bytes) -> bytes:
    return struct.pack("<Q", len(s)) + s


def _gguf(n_tensors: int, kvs: list[bytes], tail: bytes = b"") -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, n_tensors, len(kvs)) + b"".join(kvs) + tail


_STRING, _ARRAY, _UINT32 = 8, 9, 4


def _kv_string(key: bytes, value: bytes, claimed: int | None = None) -> bytes:
    n = len(value) if claimed is None else claimed
    return _gguf_string(key) + struct.pack("<I", _STRING) + struct.pack("<Q", n) + value


def _kv_string_array(key: bytes, items: list[bytes], claimed: int | None = None) -> bytes:
    n = len(items) if claimed is None else claimed
    return (
        _gguf_string(key)
        + struct.pack("<I", _ARRAY)
        + struct.pack("<IQ", _STRING, n)
        + b"".join(_gguf_string(i) for i in items)
    )


@dataclass
class Case:
    """One hostile input and the CLI command that must refuse it."""

    name: str
    what: str
    args: list[str]
    markers: list[Path] = field(default_factory=list)  # files a payload would create if it ran
    expect_exit: int = 2
    allow_finding: bool = False  # exit 0 is acceptable when the output names the problem as a finding
    finding: str = ""


def lying_files(root: Path) -> list[Case]:
    """Files whose headers claim far more than they hold (or than any limit allows)."""
    root.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    def add(
        name: str, what: str, filename: str, data: bytes, command: tuple[str, ...] = ("inspect",)
    ) -> None:
        folder = root / name
        folder.mkdir(exist_ok=True)
        (folder / filename).write_bytes(data)
        cases.append(Case(name, what, [*command, str(folder / filename)]))

    add(
        "st-header-1e12",
        "safetensors header length field = 10^12 bytes",
        "model.safetensors",
        _st(b'{"a":1}', length=10**12),
    )
    add(
        "st-tensor-4e12",
        "safetensors tensor F32[10^6,10^6] (4 TB) in a 200-byte file",
        "model.safetensors",
        _st({"w": {"dtype": "F32", "shape": [10**6, 10**6], "data_offsets": [0, 4 * 10**12]}}),
    )
    add("gguf-1e9-tensors", "GGUF tensor count = 10^9", "model.gguf", _gguf(10**9, []))
    add("gguf-1e9-kv", "GGUF metadata count = 10^9", "model.gguf", b"GGUF" + struct.pack("<IQQ", 3, 0, 10**9))
    add(
        "gguf-string-1e12",
        "GGUF metadata string claiming 10^12 bytes",
        "model.gguf",
        _gguf(0, [_kv_string(b"general.name", b"x" * 16, claimed=10**12)]),
    )
    add(
        "gguf-array-1e9",
        "GGUF string array claiming 10^9 items",
        "model.gguf",
        _gguf(0, [_kv_string_array(b"tokenizer.ggml.tokens", [b"a", b"b"], claimed=10**9)]),
    )
    add(
        "gguf-array-3.9e6",
        "GGUF string array claiming 3.9M items (under the limit) in a tiny file",
        "model.gguf",
        _gguf(0, [_kv_string_array(b"tokenizer.ggml.tokens", [b"a", b"b"], claimed=3_900_000)]),
    )
    add(
        "gguf-vocab-1e9",
        "GGUF vocabulary claiming 10^9 tokens, read by `tokenizer identify`",
        "vocab.gguf",
        _gguf(
            0,
            [
                _kv_string(b"tokenizer.ggml.model", b"gpt2"),
                _kv_string_array(b"tokenizer.ggml.tokens", [b"a"], claimed=10**9),
            ],
        ),
        command=("tokenizer", "identify"),
    )
    add(
        "gguf-tensor-dims",
        "GGUF tensor with dimensions multiplying to 2^120 elements",
        "model.gguf",
        _gguf(
            1,
            [],
            _gguf_string(b"w")
            + struct.pack("<I", 4)
            + struct.pack("<4Q", *[2**30] * 4)
            + struct.pack("<IQ", 0, 0),
        ),
    )
    add(
        "tokjson-id-1e9",
        "tokenizer.json whose vocabulary claims id 10^9",
        "tokenizer.json",
        json.dumps({"model": {"type": "BPE", "vocab": {"a": 0, "b": 10**9}, "merges": []}}).encode(),
        command=("tokenizer", "identify"),
    )
    add(
        "vocabjson-id-1e9",
        "vocab.json whose vocabulary claims id 10^9",
        "vocab.json",
        json.dumps({"a": 0, "b": 10**9}).encode(),
        command=("tokenizer", "identify"),
    )
    add(
        "tiktoken-rank-1e9",
        "tiktoken rank file with rank 10^9",
        "cl100k_base.tiktoken",
        b"YQ== 0\nYg== 1000000000\n",
        command=("tokenizer", "identify"),
    )
    add(
        "pickle-binbytes-2g",
        "legacy pickle whose BINBYTES claims 2 GB",
        "model.pt",
        b"\x80\x02B\xff\xff\xff\x7f" + b"x" * 100,
    )
    add(
        "pickle-long4-huge",
        "pickle LONG4 claiming a 2 GB integer",
        "model.pt",
        b"\x80\x02\x8b\xff\xff\xff\x7f" + b"\x01" * 64,
    )
    add(
        "pickle-memo-3e8",
        "22-byte pickle whose LONG_BINPUT names memo slot 3*10^8 (CPython sizes its "
        "memo array by it: 2.4 GB)",
        "model.pt",
        b"\x80\x02}q\x00r" + struct.pack("<I", 300_000_000) + b".",
    )
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02" + b"N0" * 50_000_000 + b"N.")
    add(
        "zip-bomb-100MB",
        "torch zip whose data.pkl deflates 100 MB from ~100 KB",
        "pytorch_model.bin",
        bomb.getvalue(),
    )
    add(
        "zip-bomb-lying-size",
        "torch zip whose data.pkl declares 100 bytes but inflates to 100 MB",
        "pytorch_model.bin",
        _lying_size_zip(),
    )
    # honest header, sparse file: a real 16 GiB F32 tensor (under the 64 GiB default limit) that the
    # machine cannot hold; reading it for a fingerprint must end in one line, not a MemoryError
    folder = root / "st-sparse-16GiB"
    folder.mkdir(exist_ok=True)
    n = (1 << 20) * 4096 * 4
    sparse = _st(
        {
            "model.embed_tokens.weight": {"dtype": "F32", "shape": [1 << 20, 4096], "data_offsets": [0, n]},
            "model.norm.weight": {"dtype": "F32", "shape": [4096], "data_offsets": [n, n + 16384]},
        }
    )
    with open(folder / "model.safetensors", "wb") as fh:
        fh.write(sparse)
        fh.truncate(len(sparse) + n + 16384)
    cases.append(
        Case(
            "st-sparse-16GiB",
            "sparse safetensors holding an honest 16 GiB tensor, fingerprinted",
            ["fingerprint", "-o", str(folder / "fp.npz"), str(folder / "model.safetensors")],
        )
    )
    nested = b"[" * 1_000_000 + b"]" * 1_000_000
    folder = root / "json-depth-1e6"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_bytes(nested)
    write_safetensors(folder / "model.safetensors")
    cases.append(
        Case(
            "json-depth-1e6", "config.json nested 10^6 levels deep (release folder)", ["inspect", str(folder)]
        )
    )
    add(
        "tokjson-depth-1e6",
        "tokenizer.json nested 10^6 levels deep",
        "tokenizer.json",
        nested,
        command=("tokenizer", "identify"),
    )
    return cases


def _lying_size_zip() -> bytes:
    """A deflated data.pkl whose local and central headers both declare 100 bytes."""
    buf = io.BytesIO()
    payload = b"\x80\x02" + b"N0" * 50_000_000 + b"N."
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", payload)
    data = bytearray(buf.getvalue())
    size = struct.pack("<I", len(payload))
    for at in _all(data, size):
        data[at : at + 4] = struct.pack("<I", 100)
    return bytes(data)


def _all(data: bytearray, needle: bytes) -> list[int]:
    out, i = [], data.find(needle)
    while i >= 0:
        out.append(i)
        i = data.find(needle, i + 1)
    return out


# --------------------------------------------------------------------------------- releases
def write_safetensors(path: Path) -> Path:
    """A small valid llama-looking safetensors file (so a release has real weights beside the bait)."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    save_file(
        {
            "model.embed_tokens.weight": rng.standard_normal((16, 8)).astype(np.float32),
            "model.norm.weight": np.ones(8, np.float32),
            "lm_head.weight": rng.standard_normal((16, 8)).astype(np.float32),
        },
        str(path),
    )
    return path


class _Reduce:
    """Pickles as ``func(*args)``: the classic ``__reduce__`` code-execution payload."""

    def __init__(self, func: object, *args: object) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple:
        return self.func, self.args


def pickle_payloads(marker: Path) -> dict[str, bytes]:
    """Live payloads that create ``marker`` when unpickled by plain ``pickle``."""
    cmd = f"touch {marker}"
    os_system = pickle.dumps(_Reduce(os.system, cmd), protocol=2)
    exec_reduce = pickle.dumps(_Reduce(exec, f"open({str(marker)!r}, 'w').close()"), protocol=2)
    exec_global = f"cbuiltins\nexec\n(Vopen({str(marker)!r}, 'w').close()\ntR.".encode()
    eval_stack_global = pickle.dumps(_Reduce(eval, f"open({str(marker)!r}, 'w').close()"), protocol=4)
    nested = pickle.dumps(_Reduce(pickle.loads, os_system), protocol=2)
    subprocess_call = pickle.dumps(_Reduce(subprocess.call, ["touch", str(marker)]), protocol=3)
    in_state_dict = b"\x80\x02}q\x00X\x01\x00\x00\x00wq\x01" + os_system[2:-1] + b"s."
    return {
        "os.system via __reduce__": os_system,
        "exec via __reduce__": exec_reduce,
        "builtins.exec via GLOBAL": exec_global,
        "builtins.eval via STACK_GLOBAL": eval_stack_global,
        "nested pickle (pickle.loads)": nested,
        "subprocess.call": subprocess_call,
        "payload inside a state dict": in_state_dict,
    }


def prove_live(payload: bytes, marker: Path) -> bool:
    """Run the payload with plain ``pickle`` in a throwaway interpreter: does it create ``marker``?"""
    marker.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-c", "import pickle,sys; pickle.loads(sys.stdin.buffer.read())"],
        input=payload,
        check=False,
        capture_output=True,
        timeout=60,
    )
    live = marker.exists()
    if live:
        marker.unlink()
    return live


def torch_zip(
    path: Path,
    data_pkl: bytes,
    members: dict[str, bytes] | None = None,
    compression: int = zipfile.ZIP_STORED,
) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        zf.writestr("archive/data.pkl", data_pkl)
        zf.writestr("archive/version", b"3\n")
        for name, data in (members or {}).items():
            zf.writestr(name, data)
    return path


def _release(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def malicious_releases(root: Path, markers: Path) -> list[Case]:
    """Release folders/files built to attack the reader; ``markers`` is where payloads would write."""
    root.mkdir(parents=True, exist_ok=True)
    markers.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []
    for i, (label, _) in enumerate(pickle_payloads(markers / "probe").items()):
        marker = markers / f"pickle-{i}"
        payload = pickle_payloads(marker)[label]
        folder = _release(root, f"pickle-zip-{i}")
        torch_zip(folder / "pytorch_model.bin", payload)
        cases.append(
            Case(f"pickle-zip-{i}", f"{label} (torch zip data.pkl)", ["inspect", str(folder)], [marker])
        )
        if payload.startswith(b"\x80"):
            bare = _release(root, f"pickle-legacy-{i}") / "model.pt"
            bare.write_bytes(payload)
            cases.append(
                Case(f"pickle-legacy-{i}", f"{label} (bare legacy .pt)", ["inspect", str(bare)], [marker])
            )
    # persistent id naming a storage outside the archive
    pid_pkl = (
        b"\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storage"
        b"ctorch\nFloatStorage\nX\x0b\x00\x00\x00../../x/0/0X\x03\x00\x00\x00cpuK\x02tQK\x00K\x02\x85"
        b"K\x01\x85\x89}tRs."
    )
    folder = _release(root, "persistent-id-outside")
    torch_zip(folder / "pytorch_model.bin", pid_pkl)
    cases.append(
        Case("persistent-id-outside", "persistent id pointing at ../../x/0/0", ["inspect", str(folder)])
    )
    # zip member traversal
    folder = _release(root, "zip-traversal")
    escape = markers / "zip-escape"
    rel = os.path.relpath(escape, folder)
    torch_zip(
        folder / "pytorch_model.bin",
        pickle.dumps({}, protocol=2),
        {"../../x": b"pwned", rel: b"pwned", "/tmp/taoke-abs-escape": b"pwned"},
    )
    cases.append(
        Case(
            "zip-traversal",
            "torch zip with members ../../x, a relative path to the marker and an absolute path",
            ["inspect", str(folder)],
            [escape, Path("/tmp/taoke-abs-escape")],
        )
    )
    # symlink escapes
    folder = _release(root, "symlink-weights")
    os.symlink("/etc/passwd", folder / "model.safetensors")
    cases.append(Case("symlink-weights", "model.safetensors -> /etc/passwd", ["inspect", str(folder)]))
    folder = _release(root, "symlink-config")
    write_safetensors(folder / "model.safetensors")
    os.symlink("/etc/passwd", folder / "config.json")
    cases.append(
        Case("symlink-config", "config.json -> /etc/passwd beside real weights", ["inspect", str(folder)])
    )
    folder = _release(root, "symlink-dir")
    write_safetensors(folder / "model.safetensors")
    os.symlink("/etc", folder / "etc")
    cases.append(Case("symlink-dir", "a folder symlink to /etc inside the release", ["inspect", str(folder)]))
    folder = _release(root, "symlink-tokenizer")
    os.symlink("/etc/passwd", folder / "tokenizer.json")
    cases.append(
        Case(
            "symlink-tokenizer",
            "tokenizer.json -> /etc/passwd (tokenizer identify)",
            ["tokenizer", "identify", str(folder)],
        )
    )
    # shard index traversal
    for i, shard in enumerate(("../../etc/passwd", "/etc/passwd", "sub/../../x.safetensors")):
        folder = _release(root, f"index-traversal-{i}")
        write_safetensors(folder / "model-00001-of-00001.safetensors")
        (folder / "model.safetensors.index.json").write_text(
            json.dumps({"metadata": {}, "weight_map": {"model.embed_tokens.weight": shard}})
        )
        cases.append(Case(f"index-traversal-{i}", f"shard index naming {shard}", ["inspect", str(folder)]))
    # decompression bomb inside a release
    folder = _release(root, "zip-bomb")
    torch_zip(
        folder / "pytorch_model.bin",
        b"\x80\x02" + b"N0" * 50_000_000 + b"N.",
        compression=zipfile.ZIP_DEFLATED,
    )
    cases.append(
        Case("zip-bomb", "torch zip data.pkl deflating 100 MB from ~100 KB", ["inspect", str(folder)])
    )
    # YAML billion laughs in the card, beside valid weights: audit reports it, inspect refuses it
    folder = _release(root, "yaml-billion-laughs")
    write_safetensors(folder / "model.safetensors")
    laughs = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    laughs += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    (folder / "README.md").write_text("---\nlicense: apache-2.0\n" + "\n".join(laughs) + "\n---\n# card\n")
    cases.append(
        Case(
            "yaml-billion-laughs-audit",
            "model card YAML alias bomb (9^9 nodes), taoke audit",
            ["audit", str(folder)],
            allow_finding=True,
            finding="YAML",
        )
    )
    # YAML python tags: safe loading refuses object construction
    folder = _release(root, "yaml-python-tag")
    write_safetensors(folder / "model.safetensors")
    tag_marker = markers / "yaml-tag"
    (folder / "README.md").write_text(
        f"---\nlicense: !!python/object/apply:os.system ['touch {tag_marker}']\n---\n# card\n"
    )
    cases.append(
        Case(
            "yaml-python-tag-audit",
            "model card YAML !!python/object/apply:os.system, taoke audit",
            ["audit", str(folder)],
            [tag_marker],
            allow_finding=True,
            finding="YAML",
        )
    )
    # deeply nested JSON
    folder = _release(root, "json-depth-config")
    write_safetensors(folder / "model.safetensors")
    (folder / "config.json").write_bytes(b'{"a":' * 200_000 + b"1" + b"}" * 200_000)
    cases.append(Case("json-depth-config", "config.json nested 200k levels", ["inspect", str(folder)]))
    folder = _release(root, "json-depth-tokenizer")
    (folder / "tokenizer.json").write_bytes(b"[" * 200_000 + b"]" * 200_000)
    cases.append(
        Case(
            "json-depth-tokenizer",
            "tokenizer.json nested 200k levels",
            ["tokenizer", "identify", str(folder)],
        )
    )
    # custom code that would run on import (trust_remote_code): audit reads it as text only
    folder = _release(root, "remote-code")
    write_safetensors(folder / "model.safetensors")
    code_marker = markers / "remote-code"
    (folder / "config.json").write_text(
        json.dumps(
            {
                "architectures": ["EvilForCausalLM"],
                "model_type": "llama",
                "auto_map": {"AutoModelForCausalLM": "modeling_evil.EvilForCausalLM"},
            }
        )
    )
    (folder / "modeling_evil.py").write_text(
        f"import os\nos.system('touch {code_marker}')\nclass EvilForCausalLM:\n    pass\n"
    )
    cases.append(
        Case(
            "remote-code-audit",
            "modeling_evil.py that runs os.system on import, taoke audit",
            ["audit", str(folder)],
            [code_marker],
            expect_exit=0,
        )
    )
    return cases


def snapshot(folder: Path) -> set[str]:
    """Every path under ``folder`` (to prove a command wrote nothing new there)."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()
