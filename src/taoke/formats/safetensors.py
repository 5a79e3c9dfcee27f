"""safetensors reader with its own header parser.

Why not ``safetensors.safe_open``: it is a fine reader but it gives no control over what a lying header
costs before it is refused, returns framework tensors (bf16 needs torch), and its errors are Rust
messages without the file name. The format is small (8-byte length, JSON header, raw bytes), so the
parser here bounds the header length *before* allocating it, checks every entry (known dtype,
non-negative dims, ``prod(shape) * itemsize`` equal to the ``data_offsets`` span, span inside the file,
no two tensors overlapping, header within ``limits.max_header_bytes``) and only then reads.

Reads use ``os.preadv`` straight into the destination array: one copy from the page cache, and only
that tensor's bytes are touched. (A whole-file ``mmap`` would do the same I/O, but every page it touches
stays counted in the process's RSS until unmapped, so walking a 70B release would look like a 140 GB
process.)
"""

from __future__ import annotations

import os
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from taoke.errors import CorruptFile, LimitExceeded
from taoke.formats.base import (
    DTYPES,
    FP8,
    StoredRows,
    TensorFile,
    TensorInfo,
    alloc,
    check_dims,
    pread_into,
    to_float32,
    will_need,
)
from taoke.release.bounded import parse_json

_ENTRY_KEYS = {"dtype", "shape", "data_offsets"}
# the header's dtype strings, one object each: json makes a fresh string per value, one per tensor
_DTYPE_NAMES = {d: d for d in DTYPES}


class _Entry(tuple):
    """One tensor entry of the header as decoded: ``(dtype, shape, begin, end)``, shape a tuple."""

    __slots__ = ()


def _compact_entry(obj: dict[str, Any]) -> Any:
    """A header object that is a well-formed tensor entry (exactly dtype, shape, data_offsets; a list
    of ints and a list of two ints) as an :class:`_Entry`, while the header is decoded: a dict and two
    lists per tensor were ~400 bytes each of an 850,000-tensor header's parse (issue 16). Anything
    else stays the dict it was, for ``_entry`` to refuse with its message."""
    if len(obj) != 3 or obj.keys() != _ENTRY_KEYS:
        return obj
    dtype, shape, offs = obj["dtype"], obj["shape"], obj["data_offsets"]
    if (
        type(dtype) is not str
        or type(shape) is not list
        or type(offs) is not list
        or len(offs) != 2
        or not all(type(d) is int for d in shape)
        or not all(type(o) is int for o in offs)
    ):
        return obj
    return _Entry((dtype, tuple(shape), offs[0], offs[1]))


# Converting formats are read in chunks this size: the raw chunk is still in the CPU cache when it is
# widened to float32, so the stored bytes cross memory once and only the float32 result is allocated.
_CHUNK_BYTES = 1 << 22
_FLOATS = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"}


def _convert_into(chunk: np.ndarray, out: np.ndarray, dtype: str) -> None:
    """Widen stored values ``chunk`` into the float32 slice ``out`` (same length)."""
    if dtype == "BF16":  # bf16 is the top half of a float32: widen the bits, shift them into place
        bits = out.view(np.uint32)
        np.copyto(bits, chunk)  # measured faster than a casting left_shift (no buffered cast loop)
        bits <<= 16
    elif dtype in FP8:
        np.take(FP8[dtype], chunk, out=out)
    else:  # F16, F64
        np.copyto(out, chunk, casting="same_kind")


def _read_part(fd: int, offset: int, out: np.ndarray, dtype: str, path: Path) -> None:
    itemsize, storage = DTYPES[dtype]
    step = max(1, _CHUNK_BYTES // itemsize)
    scratch = np.empty(min(step, len(out)), dtype=storage)
    for start in range(0, len(out), step):
        chunk = scratch[: min(step, len(out) - start)]
        pread_into(fd, chunk, offset + start * itemsize, path)
        _convert_into(chunk, out[start : start + len(chunk)], dtype)


_POOL: ThreadPoolExecutor | None = None
_PARALLEL_MIN = 1 << 23  # elements: below this, threads cost more than they save
_THREADS = max(1, min(4, os.cpu_count() or 1))


def read_float32(fd: int, offset: int, numel: int, dtype: str, path: Path) -> np.ndarray:
    """Read ``numel`` stored values of ``dtype`` at ``offset`` as a flat float32 array.

    F32 is read straight into the result. Other float formats go through small reusable chunks, so
    peak memory is the float32 result plus a few MiB whatever the tensor size; widening is bound by
    writing fresh memory, so a large tensor is split over a few threads (``pread`` and numpy's
    copy/shift loops release the GIL).
    """
    global _POOL
    out = alloc(numel, np.float32, path, f"reading {numel} {dtype} values")
    if dtype == "F32":
        if numel:
            pread_into(fd, out, offset, path)
        return out
    itemsize = DTYPES[dtype][0]
    if numel < _PARALLEL_MIN or _THREADS == 1:
        _read_part(fd, offset, out, dtype, path)
        return out
    if _POOL is None:
        _POOL = ThreadPoolExecutor(_THREADS, thread_name_prefix="taoke-read")
    bounds = [numel * i // _THREADS for i in range(_THREADS + 1)]
    jobs = [
        _POOL.submit(_read_part, fd, offset + a * itemsize, out[a:b], dtype, path)
        for a, b in zip(bounds, bounds[1:], strict=False)
    ]
    for job in jobs:
        job.result()  # re-raises a CorruptFile from any part
    return out


class SafetensorsFile(TensorFile):
    """A validated safetensors file; tensors are read one at a time on demand."""

    format = "safetensors"

    def _open(self) -> None:
        infos, self._offsets, self._meta = self._parse()
        self._set_tensors(infos)
        # end of one tensor -> (offset, size) of the tensor stored right after it, for prefetching;
        # built on the first read (inspect reads none: a dict per tensor less for 850,000 tensors)
        self._next_offset: dict[int, tuple[int, int]] | None = None

    def _parse(self) -> tuple[list[TensorInfo], dict[str, int], dict[str, str]]:
        path, limits = self.path, self.limits
        self._file = str(path)  # one string shared by every TensorInfo of the file
        size = os.fstat(self._fd).st_size
        head = os.pread(self._fd, 8, 0)
        if len(head) < 8:
            raise CorruptFile(f"truncated safetensors: {size} bytes, no header length", path)
        (n,) = struct.unpack("<Q", head)
        if n > limits.max_header_bytes:
            raise LimitExceeded(
                f"safetensors header claims {n} bytes, more than the "
                f"{limits.max_header_bytes} allowed (TAOKE_MAX_HEADER_BYTES)",
                path,
            )
        if n > size - 8:
            raise CorruptFile(
                f"truncated safetensors: header claims {n} bytes but the file has {size - 8} "
                "after the length",
                path,
            )
        raw = os.pread(self._fd, n, 8)
        if len(raw) != n:
            raise CorruptFile("truncated safetensors header", path)
        header = parse_json(raw, path, limits, what="safetensors header", compact=_compact_entry)
        del raw
        if not isinstance(header, dict):
            raise CorruptFile("safetensors header is not a JSON object", path)
        data_start = 8 + n
        data_size = size - data_start
        meta = header.pop("__metadata__", None) or {}
        if not isinstance(meta, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in meta.items()
        ):
            raise CorruptFile("__metadata__ must map strings to strings", path)
        if len(header) > limits.max_tensors:
            raise LimitExceeded(
                f"{len(header)} tensors, more than {limits.max_tensors} (TAOKE_MAX_TENSORS)", path
            )
        infos: list[TensorInfo] = []
        offsets: dict[str, int] = {}
        for name, entry in header.items():
            info, begin, _ = self._entry(name, entry, data_size)
            infos.append(info)
            offsets[name] = data_start + begin
        del header
        infos.sort(key=lambda t: (offsets[t.name], t.name))  # file order
        # In file order, a tensor overlaps an earlier one iff it starts before the furthest end so far.
        # Zero-sized tensors occupy no bytes and overlap nothing. (No list of spans: issue 16.)
        last_end, last_name = 0, ""
        for t in infos:
            if not t.nbytes:
                continue
            begin = offsets[t.name] - data_start
            end = begin + t.nbytes
            if begin < last_end:
                raise CorruptFile(
                    f"tensors {last_name!r} and {t.name!r} overlap (bytes "
                    f"{begin}..{min(end, last_end)} of the data)",
                    path,
                )
            if end > last_end:
                last_end, last_name = end, t.name
        return infos, offsets, meta

    def _entry(self, name: str, entry: Any, data_size: int) -> tuple[TensorInfo, int, int]:
        path, limits = self.path, self.limits
        if isinstance(entry, _Entry):
            dtype, shape, offs = entry[0], entry[1], [entry[2], entry[3]]
        elif not isinstance(entry, dict) or set(entry) != _ENTRY_KEYS:
            raise CorruptFile(f"tensor {name!r}: entry must have exactly dtype, shape, data_offsets", path)
        else:
            dtype, shape, offs = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in DTYPES:
            raise CorruptFile(f"tensor {name!r}: unknown dtype {str(dtype)[:32]!r}", path)
        if (
            not isinstance(shape, (list, tuple))
            or len(shape) > limits.max_tensor_dims
            or not all(type(d) is int and d >= 0 for d in shape)
        ):
            raise CorruptFile(
                f"tensor {name!r}: shape must be at most {limits.max_tensor_dims} non-negative integers", path
            )
        if (
            not isinstance(offs, list)
            or len(offs) != 2
            or not all(type(o) is int for o in offs)
            or not 0 <= offs[0] <= offs[1]
        ):
            raise CorruptFile(
                f"tensor {name!r}: data_offsets must be [begin, end] with 0 <= begin <= end", path
            )
        begin, end = offs
        itemsize = DTYPES[dtype][0]
        bad = check_dims(shape, limits.max_tensor_bytes // itemsize)
        if bad:
            raise LimitExceeded(f"tensor {name!r}: {bad} (TAOKE_MAX_TENSOR_BYTES)", path)
        numel = 1
        for d in shape:
            numel *= d
        nbytes = numel * itemsize
        if nbytes > limits.max_tensor_bytes:
            raise LimitExceeded(
                f"tensor {name!r} is {nbytes} bytes, more than {limits.max_tensor_bytes} "
                "(TAOKE_MAX_TENSOR_BYTES)",
                path,
            )
        if end - begin != nbytes:
            raise CorruptFile(
                f"tensor {name!r}: {dtype}{list(shape)} needs {nbytes} bytes but data_offsets span "
                f"{end - begin}",
                path,
            )
        if end > data_size:
            raise CorruptFile(
                f"tensor {name!r} ends at byte {end} of the data but the file holds only "
                f"{data_size} (truncated?)",
                path,
            )
        return TensorInfo(name, tuple(shape), _DTYPE_NAMES[dtype], nbytes, self._file), begin, end

    def info(self, name: str) -> TensorInfo:
        return self._by_name[name]

    def read_raw(self, name: str) -> np.ndarray:
        """The stored bits as a numpy array of the storage dtype (bf16 as uint16, fp8 as uint8)."""
        fd = self._check_open()
        info = self._by_name[name]
        buf = alloc(info.shape, DTYPES[info.dtype][1], self.path, f"tensor {name!r}")
        if buf.nbytes:
            pread_into(fd, buf, self._offsets[name], self.path)
        self._prefetch_after(self._offsets[name] + info.nbytes)
        return buf

    def read(self, name: str) -> np.ndarray:
        info = self._by_name[name]
        fd = self._check_open()
        if info.dtype not in _FLOATS:
            return to_float32(self.read_raw(name), info.dtype)
        offset = self._offsets[name]
        self._prefetch_after(offset + info.nbytes)  # before converting: the disk works meanwhile
        return read_float32(fd, offset, info.numel, info.dtype, self.path).reshape(info.shape)

    def stored_rows(self, name: str) -> StoredRows | None:
        """Row blocks of a float matrix, read straight from the file (:class:`StoredRows`)."""
        return self._plain_rows(self._by_name[name], self._offsets[name])

    def _prefetch_after(self, end: int) -> None:
        """Ask the kernel to start reading the next tensor in file order while this one is converted:
        walking a cold file tensor by tensor then overlaps disk reads with conversion."""
        if self._next_offset is None:
            infos = self._infos
            self._next_offset = {
                self._offsets[a.name] + a.nbytes: (self._offsets[b.name], b.nbytes)
                for a, b in zip(infos, infos[1:], strict=False)
            }
        nxt = self._next_offset.get(end)
        if nxt is not None:
            will_need(self._fd, nxt[0], nxt[1])

    def metadata(self) -> dict[str, Any]:
        return dict(self._meta)
