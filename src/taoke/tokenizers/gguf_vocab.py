"""Read the ``tokenizer.*`` metadata of a GGUF file, bounded, without touching tensor data.

This is the single place the tokenizer code reads GGUF, so it can move to the project's bounded reader
(``taoke.formats.gguf``) in one edit. It scans only the key/value block, bounded: ``gguf.GGUFReader``
parses every array element into numpy views (10 s for LLaMA-3's 408k vocabulary strings) and checks
no claimed count before it allocates, which is wrong for untrusted files and too slow for a query.
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path
from typing import Any

import numpy as np

from taoke.errors import CorruptFile, LimitExceeded, SourceNotFound, UnsupportedFormat
from taoke.limits import Limits, current_limits

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_NP = {0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "<u1", 10: "<u8", 11: "<i8",
       12: "<f8"}
_STRING, _ARRAY = 8, 9


class _Cursor:
    """Reads little-endian values from a buffer, every length checked against what is left."""

    def __init__(self, buf: memoryview, path: Path, limits: Limits) -> None:
        self.buf, self.pos, self.path, self.limits = buf, 0, path, limits

    def need(self, n: int) -> None:
        if n < 0 or self.pos + n > len(self.buf):
            raise CorruptFile(f"GGUF metadata truncated at byte {self.pos} (needs {n} more bytes)", self.path)

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        self.need(size)
        value = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += size
        return value

    def string(self) -> bytes:
        n = self.unpack("<Q")
        if n > self.limits.max_string_bytes:
            raise LimitExceeded(f"GGUF string of {n} bytes exceeds the limit {self.limits.max_string_bytes} "
                                "(TAOKE_MAX_STRING_BYTES)", self.path)
        self.need(n)
        out = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return out

    def skip_value(self, vtype: int) -> None:
        if vtype in _SCALARS:
            self.need(struct.calcsize(_SCALARS[vtype]))
            self.pos += struct.calcsize(_SCALARS[vtype])
        elif vtype == _STRING:
            self.string()
        elif vtype == _ARRAY:
            self.array(keep=False)
        else:
            raise CorruptFile(f"unknown GGUF value type {vtype} at byte {self.pos}", self.path)

    def array(self, keep: bool = True) -> Any:
        itype = self.unpack("<I")
        count = self.unpack("<Q")
        if count > self.limits.max_array_items:
            raise LimitExceeded(f"GGUF array claims {count} items, more than the limit "
                                f"{self.limits.max_array_items} (TAOKE_MAX_ARRAY_ITEMS)", self.path)
        if itype in _NP:
            nbytes = count * np.dtype(_NP[itype]).itemsize
            self.need(nbytes)
            arr = np.frombuffer(self.buf, dtype=_NP[itype], count=count, offset=self.pos).copy() if keep else None
            self.pos += nbytes
            return arr
        if itype == _STRING:
            self.need(count * 8)  # every string has at least its 8-byte length: refuse lying counts early
            if not keep:
                for _ in range(count):
                    self.string()
                return None
            return [self.string() for _ in range(count)]
        if itype == _ARRAY:
            return [self.array(keep) for _ in range(count)]
        raise CorruptFile(f"unknown GGUF array item type {itype} at byte {self.pos}", self.path)

    def value(self, vtype: int) -> Any:
        if vtype in _SCALARS:
            return self.unpack(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            return self.array()
        raise CorruptFile(f"unknown GGUF value type {vtype} at byte {self.pos}", self.path)


def _scan(path: Path, limits: Limits, prefix: str) -> dict[str, Any]:
    """Key/values whose key starts with ``prefix`` (strings as bytes, numeric arrays as numpy)."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        raise SourceNotFound("file not found", path) from None
    except OSError as exc:
        raise CorruptFile(f"cannot read: {exc.strerror or exc}", path) from None
    with fh:
        try:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:
            raise CorruptFile("empty file, not GGUF", path) from None
        with mm:
            buf = memoryview(mm)
            try:
                return _scan_buffer(buf, path, limits, prefix)
            finally:
                buf.release()


def _scan_buffer(buf: memoryview, path: Path, limits: Limits, prefix: str) -> dict[str, Any]:
    cur = _Cursor(buf, path, limits)
    if bytes(buf[:4]) != b"GGUF":
        raise UnsupportedFormat("not a GGUF file (bad magic)", path)
    cur.pos = 4
    version = cur.unpack("<I")
    if version not in (2, 3):
        raise UnsupportedFormat(f"GGUF version {version} is not supported (2 or 3, little-endian)", path)
    cur.unpack("<Q")  # tensor count: not needed for the vocabulary
    n_kv = cur.unpack("<Q")
    if n_kv > limits.max_metadata_entries:
        raise LimitExceeded(f"GGUF claims {n_kv} metadata entries, more than the limit "
                            f"{limits.max_metadata_entries} (TAOKE_MAX_METADATA_ENTRIES)", path)
    out: dict[str, Any] = {}
    for _ in range(n_kv):
        key = cur.string().decode("utf-8", "replace")
        vtype = cur.unpack("<I")
        if key.startswith(prefix) or key == "general.architecture" or key == "general.name":
            out[key] = cur.value(vtype)
        else:
            cur.skip_value(vtype)
    return out


def read_tokenizer_kv(path: str | Path, limits: Limits | None = None) -> dict[str, Any]:
    """All ``tokenizer.*`` keys of a GGUF file (plus ``general.architecture``/``general.name``).

    Strings come back as raw ``bytes`` and numeric arrays as numpy arrays. Every count is checked
    against ``limits`` before anything is allocated; malformed files raise one-line TaokeErrors.
    """
    limits = limits or current_limits()
    path = Path(path)
    return _scan(path, limits, "tokenizer.")
