"""What the three readers share (formats.base): the file-handle lifecycle and the plain dtype table."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import gguf
import numpy as np
import pytest
from safetensors.numpy import save_file

from taoke.errors import TaokeError
from taoke.formats import open_tensor_file
from taoke.formats.base import DTYPES, TensorFile
from tests.helpers.need import IN_CI, require

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/fd").is_dir() and not IN_CI, reason="needs /proc/self/fd"
)


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def _safetensors(path: Path) -> Path:
    save_file({"w": np.arange(12, dtype=np.float32).reshape(3, 4)}, str(path))
    return path


def _gguf(path: Path) -> Path:
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_tensor("w", np.arange(12, dtype=np.float32).reshape(3, 4))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def _torch(path: Path) -> Path:
    torch = require("torch")
    torch.save({"w": torch.arange(12, dtype=torch.float32).reshape(3, 4)}, path)
    return path


WRITERS = {"safetensors": _safetensors, "gguf": _gguf, "pytorch": _torch}


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_open_read_close_lifecycle(tmp_path: Path, fmt: str) -> None:
    """Every reader: one descriptor while open, none after close; close is idempotent; a read after
    close is refused; the same values come back whatever the container."""
    path = WRITERS[fmt](tmp_path / f"w.{fmt}")
    before = _open_fds()
    f = open_tensor_file(path)
    assert isinstance(f, TensorFile) and f.format == fmt
    assert len(_open_fds() - before) >= 1
    np.testing.assert_array_equal(f.read("w"), np.arange(12, dtype=np.float32).reshape(3, 4))
    f.close()
    f.close()
    assert _open_fds() - before == set()
    with pytest.raises(ValueError, match="closed"):
        f.read("w")


def _truncate(path: Path, keep: int) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[:keep])
    return path


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_refused_file_leaves_no_descriptor(tmp_path: Path, fmt: str) -> None:
    """A header refused while the reader is being built (here: a file cut short) closes what the base
    class opened before the one-line error propagates."""
    path = WRITERS[fmt](tmp_path / f"w.{fmt}")
    if fmt == "pytorch":  # keep the zip's local header, lose the central directory
        with zipfile.ZipFile(path) as zf:
            keep = zf.infolist()[0].header_offset + 40
    else:
        keep = 40
    _truncate(path, keep)
    before = _open_fds()
    with pytest.raises(TaokeError) as exc:
        open_tensor_file(path)
    assert "\n" not in str(exc.value)
    assert _open_fds() - before == set()


def test_dtype_table_matches_numpy_and_ggml() -> None:
    """The plain storage dtypes are named alike by safetensors, ggml and taoke: the shared table's
    item sizes agree with numpy's and with the ggml type sizes the gguf package publishes."""
    for name, (size, dtype) in DTYPES.items():
        assert dtype.itemsize == size, name
        qtype = getattr(gguf.GGMLQuantizationType, name, None)
        if qtype is not None:
            block, type_size = gguf.GGML_QUANT_SIZES[qtype]
            assert (block, type_size) == (1, size), name
