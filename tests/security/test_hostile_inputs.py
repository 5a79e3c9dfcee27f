"""One test per class of hostile or broken input: each is refused with a one-line TaokeError naming the
file, memory stays small under lying headers, and no pickle payload ever runs (marker files)."""

from __future__ import annotations

import io
import json
import os
import pickle
import pickletools
import struct
import subprocess
import sys
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from taoke.errors import (
    CorruptFile,
    LimitExceeded,
    SourceNotFound,
    TaokeError,
    UnsafeContent,
    UnsupportedFormat,
)
from taoke.formats import open_tensor_file
from taoke.release import parse_card, resolve
from taoke.release.bounded import read_json
from tests.helpers.need import require


def refused(kind: type[TaokeError], fn: Callable[[], object], path: Path, match: str = "") -> str:
    """Run ``fn``; it must raise ``kind`` whose message is one line naming ``path``'s file."""
    with pytest.raises(kind) as exc:
        fn()
    message = str(exc.value)
    assert "\n" not in message, message
    assert path.name in message, message
    assert match.lower() in message.lower(), message
    return message


def _peak_alloc(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        try:
            fn()
        except TaokeError:
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ---------------------------------------------------------------- safetensors
def _safetensors_with_header(path: Path, header: dict, data: bytes = b"") -> Path:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


def test_truncated_safetensors(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    save_file({"w": np.ones((64, 64), np.float32)}, str(path))
    path.write_bytes(path.read_bytes()[:-100])
    refused(CorruptFile, lambda: open_tensor_file(path), path, "truncated")
    path.write_bytes(path.read_bytes()[:20])  # cut inside the header
    refused(CorruptFile, lambda: open_tensor_file(path), path, "truncated")


def test_wrong_magic(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    refused(UnsupportedFormat, lambda: open_tensor_file(path), path, "unknown weight format")
    gguf_named = tmp_path / "model.gguf"
    gguf_named.write_bytes(b"GGUF" + struct.pack("<I", 99) + b"\0" * 40)
    refused(UnsupportedFormat, lambda: open_tensor_file(gguf_named), gguf_named, "version 99")
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    refused(CorruptFile, lambda: open_tensor_file(empty), empty, "0 bytes")


def test_safetensors_header_claiming_a_terabyte(tmp_path: Path) -> None:
    path = tmp_path / "liar.safetensors"
    path.write_bytes(struct.pack("<Q", 10**12) + b'{"w": {}}' + b"\0" * 100)
    refused(LimitExceeded, lambda: open_tensor_file(path), path, "10000000000")
    assert _peak_alloc(lambda: open_tensor_file(path)) < 2_000_000
    # under the limit but larger than the file: a truncation, still nothing allocated
    path.write_bytes(struct.pack("<Q", 50_000_000) + b'{"w": {}}')
    refused(CorruptFile, lambda: open_tensor_file(path), path, "truncated")
    assert _peak_alloc(lambda: open_tensor_file(path)) < 2_000_000


def test_safetensors_dtype_shape_mismatch(tmp_path: Path) -> None:
    entry = {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 32]}
    path = _safetensors_with_header(tmp_path / "m.safetensors", {"w": entry}, b"\0" * 64)
    refused(CorruptFile, lambda: open_tensor_file(path), path, "needs 64 bytes")
    _safetensors_with_header(path, {"w": {"dtype": "Q9_9", "shape": [4], "data_offsets": [0, 4]}}, b"\0" * 4)
    refused(CorruptFile, lambda: open_tensor_file(path), path, "unknown dtype")
    entry = {"dtype": "F32", "shape": [-1, 4], "data_offsets": [0, 16]}
    _safetensors_with_header(path, {"w": entry}, b"\0" * 16)
    refused(CorruptFile, lambda: open_tensor_file(path), path, "non-negative")
    _safetensors_with_header(path, {"w": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 4]}})
    refused(LimitExceeded, lambda: open_tensor_file(path), path, "TAOKE_MAX_TENSOR_BYTES")


def test_safetensors_overlapping_offsets(tmp_path: Path) -> None:
    header = {
        "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
        "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]},
    }
    path = _safetensors_with_header(tmp_path / "m.safetensors", header, b"\0" * 24)
    refused(CorruptFile, lambda: open_tensor_file(path), path, "overlap")


def test_safetensors_offsets_outside_file_and_duplicate_keys(tmp_path: Path) -> None:
    entry = {"dtype": "F32", "shape": [4], "data_offsets": [100, 116]}
    path = _safetensors_with_header(tmp_path / "m.safetensors", {"a": entry}, b"\0" * 16)
    refused(CorruptFile, lambda: open_tensor_file(path), path, "truncated")
    one = b'{"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}'
    raw = b'{"a": ' + one + b', "a": ' + one + b"}"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 4)
    refused(CorruptFile, lambda: open_tensor_file(path), path, "duplicate")
    deep = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    path.write_bytes(struct.pack("<Q", len(deep)) + deep)
    refused(LimitExceeded, lambda: open_tensor_file(path), path, "nested")


# ---------------------------------------------------------------- GGUF
def _gguf_string(s: bytes) -> bytes:
    return struct.pack("<Q", len(s)) + s


def _gguf(n_tensors: int, kvs: bytes = b"", n_kv: int = 0, infos: bytes = b"", tail: bytes = b"") -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, n_tensors, n_kv) + kvs + infos + tail


def test_gguf_claiming_a_billion_tensors(tmp_path: Path) -> None:
    path = tmp_path / "liar.gguf"
    path.write_bytes(_gguf(10**9) + b"\0" * 64)
    refused(LimitExceeded, lambda: open_tensor_file(path), path, "1000000000 tensors")
    assert _peak_alloc(lambda: open_tensor_file(path)) < 2_000_000
    path.write_bytes(_gguf(0, n_kv=10**12))
    refused(LimitExceeded, lambda: open_tensor_file(path), path, "metadata entries")


def test_gguf_terabyte_string_and_huge_array(tmp_path: Path) -> None:
    path = tmp_path / "liar.gguf"
    kv = _gguf_string(b"general.name") + struct.pack("<IQ", 8, 10**12) + b"abc"
    path.write_bytes(_gguf(0, kv, n_kv=1))
    refused(LimitExceeded, lambda: open_tensor_file(path), path, "1000000000000-byte string")
    assert _peak_alloc(lambda: open_tensor_file(path)) < 2_000_000
    kv = _gguf_string(b"tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 10**10)
    path.write_bytes(_gguf(0, kv, n_kv=1))
    refused(LimitExceeded, lambda: open_tensor_file(path), path, "items")
    kv = _gguf_string(b"tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 1000) + _gguf_string(b"a") * 10
    path.write_bytes(_gguf(0, kv, n_kv=1))
    refused(CorruptFile, lambda: open_tensor_file(path), path, "truncated")


def _one_tensor_gguf(
    ne: list[int], qtype: int, offset: int, data: bytes, alignment: int | None = None
) -> bytes:
    kvs, n_kv = b"", 0
    if alignment is not None:
        kvs, n_kv = _gguf_string(b"general.alignment") + struct.pack("<II", 4, alignment), 1
    info = _gguf_string(b"w") + struct.pack("<I", len(ne)) + struct.pack(f"<{len(ne)}Q", *ne)
    info += struct.pack("<IQ", qtype, offset)
    head = _gguf(1, kvs, n_kv, info)
    pad = (-len(head)) % (alignment or 32)
    return head + b"\0" * pad + data


def test_gguf_truncated_and_bad_tensor_entries(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(_one_tensor_gguf([8, 4], 0, 0, b"\0" * 128))  # F32 8x4: fine
    with open_tensor_file(path) as f:
        assert f.tensors()[0].shape == (4, 8)
    path.write_bytes(_one_tensor_gguf([8, 4], 0, 0, b"\0" * 100))  # data cut short
    refused(CorruptFile, lambda: open_tensor_file(path), path, "truncated")
    path.write_bytes(_one_tensor_gguf([8, 4], 0, 0, b"")[:40])  # cut inside the tensor infos
    refused(CorruptFile, lambda: open_tensor_file(path), path, "truncated GGUF")
    path.write_bytes(_one_tensor_gguf([8, 4], 250, 0, b"\0" * 128))
    refused(CorruptFile, lambda: open_tensor_file(path), path, "unknown ggml type")
    path.write_bytes(_one_tensor_gguf([8, 4], 0, 2**60, b"\0" * 128))
    refused(CorruptFile, lambda: open_tensor_file(path), path, "truncated")
    path.write_bytes(_one_tensor_gguf([8, 4], 0, 0, b"\0" * 128, alignment=3))
    refused(CorruptFile, lambda: open_tensor_file(path), path, "alignment")
    path.write_bytes(_one_tensor_gguf([1] * 40, 0, 0, b"\0" * 4))
    refused(LimitExceeded, lambda: open_tensor_file(path), path, "dimensions")
    path.write_bytes(_one_tensor_gguf([33, 2], 8, 0, b"\0" * 128))  # Q8_0 rows must be multiples of 32
    refused(CorruptFile, lambda: open_tensor_file(path), path, "block size")


# ---------------------------------------------------------------- releases: shards, folders, symlinks
def test_shard_index_traversal(tmp_path: Path) -> None:
    release = tmp_path / "release"
    release.mkdir()
    save_file({"w": np.ones(2, np.float32)}, str(release / "model-00001-of-00001.safetensors"))
    for evil in ("../../etc/passwd", "/etc/passwd", "sub/../../x.safetensors"):
        index = release / "model.safetensors.index.json"
        index.write_text(json.dumps({"weight_map": {"w": evil}}))
        refused(UnsafeContent, lambda: resolve(release).weight_files(), index, "outside the release")


def test_missing_shard(tmp_path: Path) -> None:
    save_file({"w": np.ones(2, np.float32)}, str(tmp_path / "model-00001-of-00002.safetensors"))
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(
        json.dumps(
            {"weight_map": {"w": "model-00001-of-00002.safetensors", "v": "model-00002-of-00002.safetensors"}}
        )
    )
    message = refused(CorruptFile, lambda: resolve(tmp_path).weight_files(), index, "missing shard")
    assert "model-00002-of-00002.safetensors" in message


def test_empty_folder(tmp_path: Path) -> None:
    release = resolve(tmp_path)
    assert release.files == [] and release.weight_files() == []
    refused(SourceNotFound, release.require_weight_files, tmp_path, "no weight files")


def test_symlink_escaping_the_release(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.safetensors").write_bytes(b"x" * 64)
    release = tmp_path / "release"
    release.mkdir()
    os.symlink(outside / "secret.safetensors", release / "model.safetensors")
    refused(UnsafeContent, lambda: resolve(release), release / "model.safetensors", "outside the release")
    os.unlink(release / "model.safetensors")
    os.symlink(outside, release / "sub")
    refused(UnsafeContent, lambda: resolve(release), release / "sub", "outside the release")


# ---------------------------------------------------------------- pickles
class _Reduce:
    """Pickles as ``func(*args)``: the classic code-execution payload."""

    def __init__(self, func: object, *args: object) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple:
        return self.func, self.args


def _payloads(marker: Path) -> dict[str, bytes]:
    cmd = f"touch {marker}"
    os_system = pickle.dumps(_Reduce(os.system, cmd), protocol=2)
    exec_global = f"cbuiltins\nexec\n(V__import__('os').system({cmd!r})\ntR.".encode()
    exec_stack_global = pickle.dumps(_Reduce(exec, f"__import__('os').system({cmd!r})"), protocol=4)
    assert "STACK_GLOBAL" in {op.name for op, _, _ in pickletools.genops(exec_stack_global)}
    assert "GLOBAL" in {op.name for op, _, _ in pickletools.genops(exec_global)}
    nested = pickle.dumps(_Reduce(pickle.loads, os_system), protocol=2)
    # a payload hidden inside a legitimate-looking state dict, after real tensor globals
    in_state_dict = b"\x80\x02}q\x00X\x01\x00\x00\x00wq\x01" + os_system[2:-1] + b"s."
    return {
        "os.system": os_system,
        "exec-GLOBAL": exec_global,
        "exec-STACK_GLOBAL": exec_stack_global,
        "nested-pickle": nested,
        "in-state-dict": in_state_dict,
    }


def _torch_zip_with(data_pkl: bytes, path: Path, members: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", data_pkl)
        zf.writestr("archive/version", b"3\n")
        for name, data in (members or {}).items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize(
    "payload", ["os.system", "exec-GLOBAL", "exec-STACK_GLOBAL", "nested-pickle", "in-state-dict"]
)
def test_malicious_pickle_refused_and_never_runs(tmp_path: Path, payload: str) -> None:
    marker = tmp_path / "pwned"
    data = _payloads(marker)[payload]
    # Control: the payload is live. Plain pickle in a throwaway interpreter creates the marker...
    control = tmp_path / "control"
    subprocess.run(
        [sys.executable, "-c", "import pickle,sys; pickle.loads(sys.stdin.buffer.read())"],
        input=_payloads(control)[payload],
        check=False,
        capture_output=True,
        timeout=60,
    )
    assert control.exists(), "test payload is not live: the refusal below would prove nothing"
    # ...taoke refuses it, inside a torch zip archive and as a bare legacy .bin, and runs nothing.
    archive = _torch_zip_with(data, tmp_path / "pytorch_model.bin")
    message = refused(UnsafeContent, lambda: open_tensor_file(archive), archive, "refusing pickle global")
    assert any(name in message for name in ("posix.system", "os.system", "builtins.exec", "loads"))
    if data.startswith(b"\x80"):
        bare = tmp_path / "model.pt"
        bare.write_bytes(data)
        refused(UnsafeContent, lambda: open_tensor_file(bare), bare, "refusing pickle global")
    assert not marker.exists()


def test_zip_member_traversal(tmp_path: Path) -> None:
    torch = require("torch")
    buf = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        good = {i.filename: zf.read(i) for i in zf.infolist()}
    path = tmp_path / "pytorch_model.bin"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in good.items():
            zf.writestr(name, data)
        zf.writestr("../../evil.sh", b"echo pwned")
    refused(UnsafeContent, lambda: open_tensor_file(path), path, "outside the archive")


def test_truncated_torch_zip(tmp_path: Path) -> None:
    torch = require("torch")
    path = tmp_path / "pytorch_model.bin"
    torch.save({"w": torch.ones(1000)}, path)
    path.write_bytes(path.read_bytes()[:3000])
    refused(CorruptFile, lambda: open_tensor_file(path), path, "corrupt zip")


def test_persistent_id_outside_archive(tmp_path: Path) -> None:
    pkl = (
        b"\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storage"
        b"ctorch\nFloatStorage\nX\x0b\x00\x00\x00../../x/0/0X\x03\x00\x00\x00cpuK\x02tQK\x00K\x02\x85K\x01"
        b"\x85\x89}tRs."
    )
    path = _torch_zip_with(pkl, tmp_path / "m.pt")
    refused(UnsafeContent, lambda: open_tensor_file(path), path, "outside the archive")
    missing = pkl.replace(b"\x0b\x00\x00\x00../../x/0/0", b"\x0b\x00\x00\x00nonexistent")
    path = _torch_zip_with(missing, tmp_path / "m2.pt")
    refused(CorruptFile, lambda: open_tensor_file(path), path, "not in the archive")


def test_zip_bomb_data_pkl(tmp_path: Path) -> None:
    path = tmp_path / "bomb.pt"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02" + b"N0" * 5_000_000 + b"N.")
    assert path.stat().st_size < 100_000
    refused(LimitExceeded, lambda: open_tensor_file(path), path, "zip bomb")


def test_legacy_pickle_lying_length_allocates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(b"\x80\x02B\xff\xff\xff\x7f" + b"x" * 100)  # BINBYTES claiming 2 GB
    refused(CorruptFile, lambda: open_tensor_file(path), path, "truncated pickle")
    assert _peak_alloc(lambda: open_tensor_file(path)) < 2_000_000


# ---------------------------------------------------------------- JSON and YAML
def test_json_depth_bomb_and_size(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("[" * 50_000 + "]" * 50_000)
    refused(LimitExceeded, lambda: read_json(path), path, "nested deeper")
    path.write_text('{"a": ' * 70 + "1" + "}" * 70)
    refused(LimitExceeded, lambda: read_json(path), path, "nested deeper")
    path.write_text('{"a": 1')
    refused(CorruptFile, lambda: read_json(path), path, "invalid JSON")


def test_yaml_front_matter_bombs_and_tags(tmp_path: Path) -> None:
    path = tmp_path / "README.md"
    laughs = "---\na: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefg", "bcdefgh", strict=True)
    )
    laughs += "---\n"
    refused(LimitExceeded, lambda: parse_card(laughs, path), path, "aliases")
    tagged = "---\nx: !!python/object/apply:os.system ['touch x']\n---\n"
    refused(CorruptFile, lambda: parse_card(tagged, path), path, "constructor")
    refused(CorruptFile, lambda: parse_card("---\na: &a [1, *a]\n---\n", path), path, "recursive")


def test_safetensors_entries_compacted_while_decoded_keep_every_check(tmp_path: Path) -> None:
    """Header entries become compact tuples as the JSON is decoded (issue 16: 850,000 tensors); only
    well-formed entries do. Metadata that happens to use the entry's keys is still metadata, a nested
    shape is still refused with its message, and overlapping or zero-sized tensors are still told
    apart without the old list of spans."""
    meta = {"dtype": "F32", "shape": "x", "data_offsets": "y"}
    header = {
        "__metadata__": meta,
        "z": {"dtype": "F32", "shape": [0], "data_offsets": [16, 16]},
        "b": {"dtype": "F32", "shape": [2, 2], "data_offsets": [16, 32]},
        "a": {"dtype": "F16", "shape": [8], "data_offsets": [0, 16]},
    }
    path = _safetensors_with_header(tmp_path / "m.safetensors", header, b"\0" * 32)
    with open_tensor_file(path) as f:
        assert f.metadata() == meta
        assert [(t.name, t.shape, t.dtype, t.nbytes) for t in f.tensors()] == [
            ("a", (8,), "F16", 16),
            ("b", (2, 2), "F32", 16),
            ("z", (0,), "F32", 0),
        ]
        assert f.read("b").shape == (2, 2)
    nested = {"w": {"dtype": "F32", "shape": [[4]], "data_offsets": [0, 16]}}
    _safetensors_with_header(path, nested, b"\0" * 16)
    refused(CorruptFile, lambda: open_tensor_file(path), path, "shape must be")
    floats = {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0.0, 16]}}
    _safetensors_with_header(path, floats, b"\0" * 16)
    refused(CorruptFile, lambda: open_tensor_file(path), path, "data_offsets must be")
    header = {
        "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
    }
    _safetensors_with_header(path, header, b"\0" * 16)
    refused(CorruptFile, lambda: open_tensor_file(path), path, "overlap")
