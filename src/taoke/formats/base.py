"""The contract every weight-file reader fulfils (safetensors, GGUF, PyTorch .bin/.pt), and what they share.

Readers are lazy (header parsed and bounded on open, tensor bytes read on demand) so a 70B release
can be walked tensor by tensor in bounded memory, the way ``safetensors.safe_open`` works.

Shared here rather than in any one reader: the file-handle lifecycle (:class:`TensorFile` opens the
descriptor, has the subclass validate the header, and closes the descriptor if that fails), the table
of plain storage dtypes (safetensors, GGUF's float/integer types and torch's typed storages use the
same names for the same bits), positional reads, and the widening of stored values to float32.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from taoke.errors import CorruptFile, LimitExceeded
from taoke.limits import Limits, current_limits

# dtype name (as safetensors spells it) -> (bytes per element, numpy dtype of the stored bits)
DTYPES: dict[str, tuple[int, np.dtype]] = {
    "F64": (8, np.dtype("<f8")),
    "F32": (4, np.dtype("<f4")),
    "F16": (2, np.dtype("<f2")),
    "BF16": (2, np.dtype("<u2")),
    "I64": (8, np.dtype("<i8")),
    "I32": (4, np.dtype("<i4")),
    "I16": (2, np.dtype("<i2")),
    "I8": (1, np.dtype("i1")),
    "U64": (8, np.dtype("<u8")),
    "U32": (4, np.dtype("<u4")),
    "U16": (2, np.dtype("<u2")),
    "U8": (1, np.dtype("u1")),
    "BOOL": (1, np.dtype("u1")),
    "F8_E4M3": (1, np.dtype("u1")),
    "F8_E5M2": (1, np.dtype("u1")),
}
_ROW_FLOATS = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"}
_MAX_PREAD = 0x7FFFF000  # Linux returns at most this much per read syscall


def _fp8_table(exp_bits: int, man_bits: int, bias: int, ieee_specials: bool) -> np.ndarray:
    """float32 value of every 8-bit code of an fp8 format (a 256-entry lookup table)."""
    codes = np.arange(256, dtype=np.int64)
    sign = np.where(codes >> 7, -1.0, 1.0)
    exp = (codes >> man_bits) & ((1 << exp_bits) - 1)
    man = codes & ((1 << man_bits) - 1)
    normal = (1 + man / (1 << man_bits)) * np.power(2.0, exp - bias)
    subnormal = (man / (1 << man_bits)) * np.power(2.0, 1 - bias)
    values = sign * np.where(exp == 0, subnormal, normal)
    top = (1 << exp_bits) - 1
    if ieee_specials:  # E5M2: IEEE-style inf and NaN in the top exponent
        values = np.where((exp == top) & (man == 0), sign * np.inf, values)
        values = np.where((exp == top) & (man != 0), np.nan, values)
    else:  # E4M3FN: no infinities, only S.1111.111 is NaN
        values = np.where((exp == top) & (man == (1 << man_bits) - 1), np.nan, values)
    return values.astype(np.float32)


FP8 = {"F8_E4M3": _fp8_table(4, 3, 7, False), "F8_E5M2": _fp8_table(5, 2, 15, True)}


def to_float32(raw: np.ndarray, dtype: str) -> np.ndarray:
    """Stored bits (numpy dtype from :data:`DTYPES`) -> the array ``read()`` returns: float32, or
    integers/bool kept as they are."""
    if dtype == "F32":
        return raw
    if dtype == "BF16":
        out = np.empty(raw.shape, dtype=np.float32)
        halves = out.view(np.uint16).reshape(raw.shape + (2,))
        halves[..., 0] = 0  # little-endian: bf16 bits are the high half of the float32
        halves[..., 1] = raw
        return out
    if dtype in ("F16", "F64"):
        return raw.astype(np.float32)
    if dtype in FP8:
        return FP8[dtype][raw]
    if dtype == "BOOL":
        return raw.view(np.bool_)
    return raw  # integer tensors keep their integer dtype


def pread_into(fd: int, buf: np.ndarray, offset: int, path: Path) -> None:
    """Fill ``buf`` from ``fd`` at ``offset``; a short read means the file shrank: CorruptFile."""
    view = memoryview(buf).cast("B")
    done = 0
    total = len(view)
    while done < total:
        n = os.preadv(fd, [view[done : done + _MAX_PREAD]], offset + done)
        if n <= 0:
            raise CorruptFile(f"unexpected end of file at byte {offset + done}", path)
        done += n


def alloc(shape: int | tuple[int, ...], dtype: Any, path: str | Path, what: str) -> np.ndarray:
    """``np.empty`` for a tensor-sized buffer; running out of memory is a one-line ``LimitExceeded``.

    Tensor sizes are bounded by ``TAOKE_MAX_TENSOR_BYTES`` (64 GiB by default, room for real 70B
    embeddings), so an honest file — or a sparse one — can still ask for more memory than the machine
    (or its ``ulimit -v``) has. That is the user's setting to tighten, said in one line, not a
    ``MemoryError`` traceback.
    """
    try:
        return np.empty(shape, dtype=dtype)
    except MemoryError:
        count = shape if isinstance(shape, int) else int(np.prod(shape, dtype=np.float64))
        raise LimitExceeded(
            f"{what}: not enough memory for {count * np.dtype(dtype).itemsize} bytes (set "
            "TAOKE_MAX_TENSOR_BYTES lower to refuse such tensors when the file is opened)",
            path,
        ) from None


def open_for_reading(path: Path) -> int:
    """Open a weight file for positional reads (``os.pread``), hinting sequential access.

    Readers use raw descriptors rather than ``mmap`` so that pages read do not count towards the
    process's resident memory; tensors are mostly read in file order, hence the larger readahead.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise CorruptFile(f"cannot open: {exc.strerror or exc}", path) from None
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
    return fd


READAHEAD_CHUNK = 2 << 20
"""Bytes per ``POSIX_FADV_WILLNEED`` call. WHY chunks: Linux reads at most ``max(read_ahead_kb,
max_sectors_kb)`` per call (``force_page_cache_ra``), so one hint for a whole 250 MB tensor reads only
its first few MB (8 MB on the benchmark VM, measured with ``fincore``) and a cold fingerprint then waits
for the disk tensor by tensor. 2 MiB is the kernel's own step inside that call."""

READAHEAD_WINDOW = 256 << 20
"""How far ahead of the tensor being reduced the fingerprint asks for reads (in stored bytes)."""

_READAHEAD_PENDING = 16
"""Ranges queued for the read-ahead thread at most (a window of 256 MB is at most a few dozen hints of
more than one chunk); later requests are dropped, so a consumer faster than the disk never queues
hints (and duplicated descriptors) without bound."""


class _Readahead:
    """One daemon thread that walks ``WILLNEED`` hints over queued byte ranges, chunk by chunk.

    A separate thread because each hint blocks while the kernel queues its reads (~4 ms per 8 MB
    here): issued inline they would stall the thread that reduces the current tensor. The thread holds
    a duplicate of the descriptor, so a reader closed meanwhile never has a reused descriptor number
    hinted. A hint reads nothing into the process (page cache only) and opens no file.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.Queue[tuple[int, int, int]] = queue.Queue(maxsize=_READAHEAD_PENDING)
        self._thread: threading.Thread | None = None

    def request(self, fd: int, offset: int, nbytes: int) -> None:
        try:
            dup = os.dup(fd)
        except OSError:
            return
        try:
            self._jobs.put_nowait((dup, offset, nbytes))
        except queue.Full:
            os.close(dup)
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="taoke-readahead", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            fd, offset, nbytes = self._jobs.get()
            try:
                end = offset + nbytes
                while offset < end:
                    os.posix_fadvise(fd, offset, min(READAHEAD_CHUNK, end - offset), os.POSIX_FADV_WILLNEED)
                    offset += READAHEAD_CHUNK
            except OSError:
                pass
            finally:
                os.close(fd)
                self._jobs.task_done()

    def _after_fork(self) -> None:
        # a forked child has no thread; its queued descriptors belong to the parent's jobs
        self.__init__()


_READAHEAD = _Readahead()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_READAHEAD._after_fork)


def will_need(fd: int, offset: int, nbytes: int) -> None:
    """Start reading ``nbytes`` at ``offset`` of ``fd`` into the page cache, without waiting.

    Ranges up to one :data:`READAHEAD_CHUNK` are hinted inline (one call); longer ones (a 7B model's
    matrices) by the read-ahead thread in chunks, so the disk reads the whole next tensor while the
    current one is reduced."""
    if nbytes <= 0 or not hasattr(os, "posix_fadvise"):
        return
    if nbytes <= READAHEAD_CHUNK:
        try:
            os.posix_fadvise(fd, offset, nbytes, os.POSIX_FADV_WILLNEED)
        except OSError:
            pass
        return
    _READAHEAD.request(fd, offset, nbytes)


def resident_fraction(fd: int, offset: int, nbytes: int) -> float | None:
    """Share of the pages of ``[offset, offset + nbytes)`` of ``fd`` that are in the page cache, or None
    where that cannot be asked (not Linux, no libc, a mapping refused).

    ``mincore`` on a shared read-only mapping that is never touched: nothing is read, and the mapping is
    removed before returning. What the fingerprint's drop-behind (:func:`drop_pages`) needs to leave
    the page cache as it found it: only ranges that were not cached are dropped after use."""
    lib = _libc()
    if lib is None or nbytes <= 0 or offset < 0:
        return None
    import ctypes
    import mmap

    page = mmap.PAGESIZE
    start = offset - offset % page
    length = offset + nbytes - start
    addr = lib.mmap(None, length, mmap.PROT_READ, mmap.MAP_SHARED, fd, start)
    if addr is None or addr == ctypes.c_void_p(-1).value:
        return None
    try:
        vec = np.zeros(-(-length // page), dtype=np.uint8)
        if lib.mincore(addr, length, vec.ctypes.data) != 0:
            return None
        return float(np.count_nonzero(vec & 1)) / len(vec)
    finally:
        lib.munmap(addr, length)


def drop_pages(fd: int, offset: int, nbytes: int) -> None:
    """Tell the kernel these bytes will not be read again (``POSIX_FADV_DONTNEED``): their clean pages
    leave the page cache. WHY (issue 21): on a VM whose free memory is not backed by the host until
    touched, every page a cold read adds to the page cache costs the guest kernel a fault and, once
    memory is full, a reclaim: reading 3.2 GB cold took 4.1-7.8 s (3.1-7.6 s system time) here, and
    1.9 s (0.5 s system) when each 8 MiB read was dropped after use -- the same pages recycled. Only
    ranges that were not cached before are ever dropped (:func:`resident_fraction`)."""
    if nbytes > 0 and hasattr(os, "posix_fadvise"):
        try:
            os.posix_fadvise(fd, offset, nbytes, os.POSIX_FADV_DONTNEED)
        except OSError:
            pass


_LIBC: Any = None


def _libc() -> Any:
    """libc with ``mmap``/``munmap``/``mincore`` typed (Linux only), loaded once; None elsewhere."""
    global _LIBC
    if _LIBC is None:
        _LIBC = False
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                lib = ctypes.CDLL(None, use_errno=True)
                lib.mmap.restype = ctypes.c_void_p
                lib.mmap.argtypes = [
                    ctypes.c_void_p,
                    ctypes.c_size_t,
                    ctypes.c_int,
                    ctypes.c_int,
                    ctypes.c_int,
                    ctypes.c_long,
                ]
                lib.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
                lib.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
                _LIBC = lib
            except (OSError, AttributeError):
                pass
    return _LIBC or None


def check_dims(shape: tuple[int, ...] | list[int], max_elements: int) -> str | None:
    """Why ``shape`` cannot be a real tensor, or ``None`` when it can.

    A header's element count is checked against the size limits, but a zero dimension makes the
    count 0 whatever the other dimensions claim: ``[0, 2**70]`` passes a ``numel`` check and then
    breaks numpy (``Maximum allowed dimension exceeded``) when the empty array is shaped. So the
    product of the *non-zero* dimensions is bounded too.
    """
    span = 1
    for d in shape:
        span *= max(d, 1)
        if span > max_elements:
            return f"dimensions {list(shape)[:8]} span more than {max_elements} elements"
    return None


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One stored tensor, described from the header alone.

    Slots, and the readers hand every tensor of a file the same ``file`` string and one string per
    dtype: a legal file may hold 850,000 tensors, and a ``__dict__`` and two fresh strings each were
    ~250 MB of its 3.4 GB peak under ``taoke inspect`` (issue 16).

    shape is the logical row-major shape as PyTorch/Hugging Face see it (``[out, in]`` for a linear
    weight); GGUF's reversed ``ne`` order is already undone. dtype is the storage type as GGUF/
    safetensors spell it (``F32``, ``F16``, ``BF16``, ``Q8_0``, ``Q4_K``, ``I64``...).
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    nbytes: int
    file: str

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class StoredRows:
    """Row-block access to one stored matrix: read any run of whole rows, widen them to float32.

    WHY: fingerprinting a 7B checkpoint multiplies every matrix by a few probe rows (issue 21). Reading
    a whole tensor as float32 first costs a full-size copy (an embedding of 32000 x 4096 is 500 MB) and
    one pass of memory traffic more than the product; reading ~2 MiB of stored rows at a time and
    widening only those keeps the stored bytes in the CPU cache between the read, the widening and the
    product, and lets several threads work on one tensor. Rows are the unit because every stored type
    keeps a row whole: float types trivially, GGUF's quantization blocks never cross a row.

    ``row_bytes``: stored bytes per row (``n_cols * itemsize``, or blocks per row * block size);
    ``offset``: the file position of row 0; ``read(start, stop)``: the stored rows as ``[rows, row_bytes]``
    uint8; ``widen(raw, out)``: those rows as float32 ``[rows, n_cols]``, written into ``out`` when given;
    ``willneed()``: ask the kernel to start reading the whole tensor (read-ahead of the next one);
    ``resident()``: the share of the tensor's bytes in the page cache (None: unknown); ``drop()``: let
    the kernel drop the tensor's cached pages (after use, where they were not cached before).
    """

    name: str
    dtype: str
    n_rows: int
    n_cols: int
    row_bytes: int
    offset: int
    read: Callable[[int, int], np.ndarray]
    widen: Callable[[np.ndarray, np.ndarray | None], np.ndarray]
    willneed: Callable[[], None]
    resident: Callable[[], float | None] = field(default=lambda: None, compare=False)
    drop: Callable[[], None] = field(default=lambda: None, compare=False)


@dataclass(frozen=True)
class CanonicalRows:
    """The rows of one canonical matrix as stored rows: canonical row ``i`` is stored row ``index[i]``.

    What the model view gives the fingerprint's block reader (:meth:`taoke.model.Model.canonical_rows`):
    a fused part is a run of the fused tensor's rows, llama.cpp's q/k rope permutation a reordering of
    rows, so both are an index here and the stored bytes are still read in file order.
    """

    rows: StoredRows
    index: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.index), self.rows.n_cols)


def widen_plain(raw: np.ndarray, dtype: str, n_cols: int, out: np.ndarray | None = None) -> np.ndarray:
    """Stored rows of a plain float type (uint8 ``[rows, row_bytes]``) -> float32 ``[rows, n_cols]``.

    bf16 is the high half of a float32: the bits are widened and shifted by 16 (exact); f16 and fp8
    go through numpy's conversion or the fp8 table (exact: every value is representable in float32)."""
    rows = raw.shape[0]
    if out is None:
        out = np.empty((rows, n_cols), dtype=np.float32)
    stored = raw.view(DTYPES[dtype][1]).reshape(rows, n_cols)
    if dtype == "F32":
        np.copyto(out, stored.view(np.float32))
    elif dtype == "BF16":
        bits = out.view(np.uint32)
        np.copyto(bits, stored)
        bits <<= 16
    elif dtype in FP8:
        np.take(FP8[dtype], stored, out=out)
    elif dtype in ("F16", "F64"):
        np.copyto(out, stored, casting="same_kind")
    else:
        raise ValueError(f"{dtype} is not a float storage type")
    return out


@dataclass
class FileSummary:
    """What a reader reports about a whole file (for ``taoke inspect``)."""

    path: str
    format: str
    size: int
    n_tensors: int
    dtypes: dict[str, int] = field(default_factory=dict)  # dtype -> number of tensors
    metadata: dict[str, Any] = field(default_factory=dict)


class TensorFile(ABC):
    """A lazily-read weight file. Use as a context manager or call :meth:`close`.

    The base class owns the file's lifecycle: it opens the descriptor (``self._fd``, for ``os.pread``),
    has the subclass parse and validate the header in :meth:`_open`, and closes the descriptor when
    that fails, so a refused file never leaks a handle. :meth:`_open` records the tensors with
    :meth:`_set_tensors`.
    """

    format: str = "?"

    def __init__(self, path: str | Path, limits: Limits | None = None) -> None:
        self.path = Path(path)
        self.limits = limits or current_limits()
        self._infos: list[TensorInfo] = []
        self._by_name: dict[str, TensorInfo] = {}
        self._fd = open_for_reading(self.path)
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    @abstractmethod
    def _open(self) -> None:
        """Parse and validate the header of the open file; a bad header raises a TaokeError."""

    def _set_tensors(self, infos: list[TensorInfo]) -> None:
        self._infos = infos
        self._by_name = {t.name: t for t in infos}

    def _check_open(self) -> int:
        """The descriptor, or ``ValueError`` once the file is closed."""
        if self._fd < 0:
            raise ValueError(f"{self.path}: file is closed")
        return self._fd

    def tensors(self) -> list[TensorInfo]:
        """All tensors in file order, from the (validated) header only."""
        return list(self._infos)

    @abstractmethod
    def read(self, name: str) -> np.ndarray:
        """The tensor as float32 (quantized types dequantized; integer tensors keep an integer dtype),
        with ``shape == info.shape``. Memory: one tensor."""

    def stored_rows(self, name: str) -> StoredRows | None:
        """Row-block access to matrix ``name`` (:class:`StoredRows`), or None where this reader or
        this tensor's type has none (vectors, integer tensors, pickled storages): read it whole."""
        return None

    def _plain_rows(self, info: TensorInfo, offset: int) -> StoredRows | None:
        """:class:`StoredRows` of a row-major float matrix stored at ``offset`` (shared by the readers)."""
        if len(info.shape) != 2 or info.dtype not in _ROW_FLOATS or not info.numel:
            return None
        n_rows, n_cols = info.shape
        row_bytes = n_cols * DTYPES[info.dtype][0]
        return StoredRows(
            info.name,
            info.dtype,
            n_rows,
            n_cols,
            row_bytes,
            offset,
            lambda a, b: self._read_rows(offset, row_bytes, a, b),
            lambda raw, out=None: widen_plain(raw, info.dtype, n_cols, out),
            lambda: self._willneed(offset, info.nbytes),
            lambda: self._resident(offset, info.nbytes),
            lambda: self._drop(offset, info.nbytes),
        )

    def _read_rows(self, offset: int, row_bytes: int, start: int, stop: int) -> np.ndarray:
        fd = self._check_open()
        buf = alloc((stop - start, row_bytes), np.uint8, self.path, "rows")
        if buf.size:
            pread_into(fd, buf, offset + start * row_bytes, self.path)
        return buf

    def _willneed(self, offset: int, nbytes: int) -> None:
        """Ask the kernel to start reading these bytes now (the next tensor, while this one is reduced)."""
        if self._fd >= 0:
            will_need(self._fd, offset, nbytes)

    def _resident(self, offset: int, nbytes: int) -> float | None:
        return resident_fraction(self._fd, offset, nbytes) if self._fd >= 0 else None

    def _drop(self, offset: int, nbytes: int) -> None:
        if self._fd >= 0:
            drop_pages(self._fd, offset, nbytes)

    def metadata(self) -> dict[str, Any]:
        """Format-level key/values (GGUF KV pairs without tokenizer arrays, safetensors __metadata__)."""
        return {}

    def summary(self) -> FileSummary:
        infos = self.tensors()
        dtypes: dict[str, int] = {}
        for t in infos:
            dtypes[t.dtype] = dtypes.get(t.dtype, 0) + 1
        return FileSummary(
            str(self.path), self.format, self.path.stat().st_size, len(infos), dtypes, self.metadata()
        )

    def close(self) -> None:
        """Release the file handle (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> TensorFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_fd", -1) >= 0:
            self.close()
