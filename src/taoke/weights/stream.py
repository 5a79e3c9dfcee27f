"""One pass over one stored matrix, ~2 MiB of rows at a time: everything the fingerprint needs from it.

WHY (issue 21): reading a tensor whole as float32 and then multiplying it by the probe rows costs a
full-size float32 copy (peak memory), a second pass of memory traffic, and leaves one core idle while
the other widens. Here a tensor is cut into blocks of whole stored rows (:data:`BLOCK_BYTES` of stored
bytes); each block is read (``pread``), widened to float32 while it is still in the CPU cache (bf16 is
a 16-bit shift, f16 numpy's conversion, GGUF blocks dequantized), and reduced at once:

- ``sumsq``: the sum of squares (the tensor's RMS);
- ``samples``: values at given flat positions of the canonical tensor (the seeded raw sample);
- ``spans``: given runs of values, as float32 or as the stored bytes (the quantization sample);
- ``rows``: given canonical rows whole (the anchor rows of the embedding);
- ``right``: ``x @ W.T`` (``[n, rows]``: each block gives its own columns);
- ``left``: ``x @ W`` (``[n, cols]``: a sum over blocks, accumulated in float64).

Blocks are spread over threads (numpy's pread, widening and BLAS release the GIL) with BLAS itself
held to one thread, so both cores read, widen and multiply. The result does not depend on the number
of threads: the blocks are the same whatever the thread count, each block's partial is computed the
same way, and the sums over blocks are taken in block order in float64. Changing the block size
changes only the float32 rounding inside one product: the stored (float16) invariants stay within one
float16 step and the RMS within 1e-6 relative (``tests/weights/test_stream.py``).

``backend``: where the products run — :class:`NumpyBackend` (float32 BLAS) or :class:`TorchBackend`
(float32 on any torch device, TF32 off, so a GPU gives the CPU's numbers within float32 rounding).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from taoke.errors import DeviceUnavailable
from taoke.formats.base import CanonicalRows

__all__ = [
    "BLOCK_BYTES",
    "Bf16Backend",
    "NumpyBackend",
    "StreamTimes",
    "TensorPass",
    "TorchBackend",
    "backend_for",
    "reduce",
]

BLOCK_BYTES = 2 << 20
"""Stored bytes per block: the raw block and its float32 widening (2 + 4 MiB for bf16) fit in a typical
L2/L3 cache, and a block of a 7B matrix is still 256 rows, enough for a BLAS-speed product
``[104, d] x [d, 256]``. Measured on the 6-layer Llama-2-7B shape (quiet machine, best of 3): 3.96 s
at 2 MiB, 3.62 s at 4 MiB, 7.5 s at 512 KiB, 11.2 s at 256 KiB; kept at 2 MiB, since a change moves
every float32 product's rounding for a gain within run-to-run noise. ``fingerprint(block_bytes=...)``
changes it."""


@dataclass
class StreamTimes:
    """Thread-seconds spent reading, widening and multiplying (summed over threads), bytes and blocks:
    where the fingerprint's time goes (``bench/speed.py`` prints it)."""

    read_s: float = 0.0
    widen_s: float = 0.0
    multiply_s: float = 0.0
    bytes: int = 0
    blocks: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, read: float, widen: float, multiply: float, nbytes: int) -> None:
        with self._lock:
            self.read_s += read
            self.widen_s += widen
            self.multiply_s += multiply
            self.bytes += nbytes
            self.blocks += 1

    def to_dict(self) -> dict[str, float]:
        return {
            "read_s": self.read_s,
            "widen_s": self.widen_s,
            "multiply_s": self.multiply_s,
            "bytes": self.bytes,
            "blocks": self.blocks,
        }


class NumpyBackend:
    """Products in float32 with numpy's BLAS (the reference the other backends are tested against)."""

    name = "cpu"
    exact = True  # float32 products: the fingerprint the nulls were fitted with, within float32 rounding
    block_bytes = BLOCK_BYTES

    def prepare(self, x: np.ndarray) -> Any:
        return np.ascontiguousarray(x, dtype=np.float32)

    def right(self, x: Any, block: np.ndarray) -> np.ndarray:
        return x @ block.T

    def left(self, x: Any, cols: np.ndarray, block: np.ndarray) -> np.ndarray:
        return (x[:, cols] @ block).astype(np.float64)


class TorchBackend:
    """Products in float32 with torch on ``device`` ("cpu", "cuda", "cuda:1"...), TF32 off.

    WHY TF32 off: TF32 keeps 10 mantissa bits, so a GPU product would differ from the CPU's float32 by
    ~1e-3 relative; with it off the GPU and CPU results agree within float32 rounding, and the
    fingerprint (stored in float16) is the same (``tests/weights/test_stream.py``)."""

    def __init__(self, device: str) -> None:
        try:
            import torch
        except ImportError:
            raise DeviceUnavailable(f"--device {device} needs torch (pip install 'taoke[torch]')") from None
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise DeviceUnavailable(f"--device {device}: no CUDA device is available (use --device cpu)")
        try:
            self.device = torch.device(device)
            torch.empty(1, device=self.device)
        except (RuntimeError, ValueError) as exc:
            raise DeviceUnavailable(f"--device {device}: {str(exc).splitlines()[0]}") from None
        # a device: fewer, larger transfers (no CPU cache to fit)
        self.block_bytes = BLOCK_BYTES if self.device.type == "cpu" else 16 * BLOCK_BYTES
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        self.torch = torch
        self.name = str(self.device)
        self.exact = True

    def prepare(self, x: np.ndarray) -> Any:
        return self.torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.device)

    def right(self, x: Any, block: np.ndarray) -> np.ndarray:
        b = self.torch.from_numpy(block).to(self.device, non_blocking=False)
        return (x @ b.T).cpu().numpy()

    def left(self, x: Any, cols: np.ndarray, block: np.ndarray) -> np.ndarray:
        b = self.torch.from_numpy(block).to(self.device)
        idx = self.torch.from_numpy(cols).to(self.device)
        return (x.index_select(1, idx) @ b).double().cpu().numpy()


class Bf16Backend(NumpyBackend):
    """Products of bf16-stored matrices in bf16 on the CPU (oneDNN: AMX or AVX512-BF16), float32
    accumulation; every other dtype as :class:`NumpyBackend`. ``--device cpu-bf16``.

    WHY (issue 21): the probe products are most of a 7B fingerprint's time on two cores (float32 BLAS
    at ~60 GFLOP/s per core); a CPU with AMX multiplies bf16 at ~370 GFLOP/s per core (measured here:
    ``[104, 4096] x [4096, 11008]`` in 25 ms against 159 ms), and a bf16 checkpoint is already in that
    dtype, so nothing is widened for the product. The price is rounding: the probes are rounded to
    bf16 and each product's output too (8-bit mantissa), ~2e-3 relative per value against ~5e-4 for the
    float16 the fingerprint stores. The invariants move by a few float16 steps; the statistics, which
    compare models whose invariants differ by far more (Q4_0 quantization alone moves similarity to
    0.99), do not change their verdicts (``bench/bf16_products.py``: 107 zoo pairs re-made in bf16,
    107 same verdicts and labels; ``tests/weights/test_stream.py``). Not the default: the exact path is
    what the nulls were fitted with, and a fingerprint should not depend on the CPU it was made on
    unless asked.
    """

    name = "cpu-bf16"
    exact = False
    block_bytes = 2 * BLOCK_BYTES
    """4 MiB of stored rows: AMX products gain from wider blocks (measured on the 6-layer Llama-2-7B
    shape, quiet machine, best of 3: 2.75 s at 4 MiB, 2.72 s at 8, 3.26 s at 16, 3.52 s at 2; the 32 MiB
    that a GPU gets took 4.6-5.0 s, its float32 widening no longer in the cache)."""

    def __init__(self) -> None:
        try:
            import torch
        except ImportError:
            raise DeviceUnavailable("--device cpu-bf16 needs torch (pip install 'taoke[torch]')") from None
        ok = torch.backends.mkldnn.is_available()
        try:
            ok = ok and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            ok = False
        if not ok:
            raise DeviceUnavailable("--device cpu-bf16: this CPU has no bf16 matrix instructions (use cpu)")
        self.torch = torch

    def prepare(self, x: np.ndarray) -> Any:
        x = np.ascontiguousarray(x, dtype=np.float32)
        return _Bf16Probes(x, self.torch.from_numpy(x).to(self.torch.bfloat16))

    def _stored(self, raw: np.ndarray, shape: tuple[int, int]) -> Any:
        return self.torch.from_numpy(raw.view(np.int16).reshape(shape)).view(self.torch.bfloat16)

    def right(self, x: Any, block: np.ndarray, raw: np.ndarray | None = None, dtype: str = "") -> np.ndarray:
        if dtype != "BF16" or raw is None:
            return x.f32 @ block.T
        return (x.bf16 @ self._stored(raw, block.shape).T).float().numpy()

    def left(
        self, x: Any, cols: np.ndarray, block: np.ndarray, raw: np.ndarray | None = None, dtype: str = ""
    ) -> np.ndarray:
        if dtype != "BF16" or raw is None:
            return (x.f32[:, cols] @ block).astype(np.float64)
        sel = x.bf16.index_select(1, self.torch.from_numpy(cols))
        return (sel @ self._stored(raw, block.shape)).double().numpy()


@dataclass(frozen=True)
class _Bf16Probes:
    """Probe rows for :class:`Bf16Backend`: float32 for float32 products, bf16 for bf16 ones."""

    f32: np.ndarray
    bf16: Any

    @property
    def shape(self) -> tuple[int, ...]:
        return self.f32.shape


def backend_for(device: str | None) -> NumpyBackend | TorchBackend:
    """The backend of ``--device``: numpy for None/"cpu", bf16 products for "cpu-bf16", torch for
    anything else ("cuda", "torch-cpu" runs torch on the CPU: what CI tests the torch path with)."""
    if device in (None, "", "cpu"):
        return NumpyBackend()
    if device == "cpu-bf16":
        return Bf16Backend()
    return TorchBackend("cpu" if device == "torch-cpu" else device)


@dataclass
class TensorPass:
    """What one pass over a matrix produced (only what was asked for is filled)."""

    sumsq: float = 0.0
    numel: int = 0
    samples: np.ndarray | None = None
    spans: np.ndarray | None = None
    raw_spans: np.ndarray | None = None
    rows: np.ndarray | None = None
    right: np.ndarray | None = None
    left: np.ndarray | None = None

    @property
    def rms(self) -> float:
        return float(np.sqrt(self.sumsq / self.numel)) if self.numel else 0.0


def _by_block(stored: np.ndarray, lo: int, per: int, n_blocks: int) -> list[np.ndarray]:
    """For each block, the positions (into ``stored``) of the requested stored rows that fall in it."""
    blk = (stored - lo) // per
    order = np.argsort(blk, kind="stable")
    cuts = np.searchsorted(blk[order], np.arange(n_blocks + 1))
    return [order[cuts[i] : cuts[i + 1]] for i in range(n_blocks)]


_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0


def _pool(threads: int) -> ThreadPoolExecutor:
    global _POOL, _POOL_SIZE
    if _POOL is None or _POOL_SIZE != threads:
        if _POOL is not None:
            _POOL.shutdown(wait=False)
        _POOL = ThreadPoolExecutor(threads, thread_name_prefix="taoke-stream")
        _POOL_SIZE = threads
    return _POOL


def default_threads() -> int:
    """Worker threads for the block pass: the usable cores, at most 8 (``TAOKE_THREADS`` overrides)."""
    env = os.environ.get("TAOKE_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n = os.cpu_count() or 1
    return max(1, min(8, n))


def reduce(
    crow: CanonicalRows,
    *,
    right: Any = None,
    left: Any = None,
    samples: np.ndarray | None = None,
    spans: tuple[np.ndarray, np.ndarray, int] | None = None,
    raw_spans: tuple[np.ndarray, np.ndarray, int] | None = None,
    rows: np.ndarray | None = None,
    backend: NumpyBackend | TorchBackend | None = None,
    threads: int | None = None,
    block_bytes: int = BLOCK_BYTES,
    times: StreamTimes | None = None,
) -> TensorPass:
    """One pass over the canonical matrix ``crow`` (see the module docstring for each output).

    ``right``/``left``: probe rows already prepared by ``backend.prepare`` (``[n, cols]`` resp.
    ``[n, rows]``); ``samples``: flat canonical positions; ``spans``/``raw_spans``: (rows, first
    columns, span) of runs to copy as float32 values resp. stored bytes (``raw_spans`` columns are byte
    offsets into the stored row); ``rows``: canonical row ids to copy whole.
    """
    backend = backend or NumpyBackend()
    threads = threads or default_threads()
    stored_products = isinstance(backend, Bf16Backend) and crow.rows.dtype == "BF16"
    src = crow.rows
    index = crow.index
    n_canon, n_cols = crow.shape
    out = TensorPass(numel=n_canon * n_cols)
    if not n_canon:
        return out
    lo, hi = int(index.min()), int(index.max()) + 1
    inv = np.full(hi - lo, -1, dtype=np.int64)
    inv[index - lo] = np.arange(n_canon)
    per = max(1, block_bytes // max(1, src.row_bytes))
    n_blocks = -(-(hi - lo) // per)

    def plan(canon_rows: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        stored = index[canon_rows]
        return _by_block(stored, lo, per, n_blocks), (stored - lo) % per

    if samples is not None:
        s_rows, s_cols = np.divmod(np.asarray(samples, dtype=np.int64), n_cols)
        s_plan, s_local = plan(s_rows)
        out.samples = np.empty(len(s_rows), dtype=np.float32)
    if spans is not None:
        sp_rows, sp_cols, sp_w = spans
        sp_plan, sp_local = plan(sp_rows)
        out.spans = np.empty((len(sp_rows), sp_w), dtype=np.float32)
    if raw_spans is not None:
        rs_rows, rs_cols, rs_w = raw_spans
        rs_plan, rs_local = plan(rs_rows)
        out.raw_spans = np.empty((len(rs_rows), rs_w), dtype=np.uint8)
    if rows is not None:
        r_ids = np.asarray(rows, dtype=np.int64)
        r_plan, r_local = plan(r_ids)
        out.rows = np.empty((len(r_ids), n_cols), dtype=np.float32)
    if right is not None:
        out.right = np.empty((right.shape[0], n_canon), dtype=np.float32)

    def job(b: int) -> tuple[float, np.ndarray | None]:
        t0 = time.perf_counter()
        a = lo + b * per
        z = min(hi, a + per)
        raw = src.read(a, z)
        t1 = time.perf_counter()
        f = src.widen(raw, None)
        t2 = time.perf_counter()
        flat = f.reshape(-1)
        ss = float(np.dot(flat, flat))
        canon = inv[a - lo : z - lo]
        if samples is not None and len(p := s_plan[b]):
            out.samples[p] = f[s_local[p], s_cols[p]]
        if spans is not None and len(p := sp_plan[b]):
            out.spans[p] = f[sp_local[p][:, None], sp_cols[p][:, None] + np.arange(sp_w)[None, :]]
        if raw_spans is not None and len(p := rs_plan[b]):
            out.raw_spans[p] = raw[rs_local[p][:, None], rs_cols[p][:, None] + np.arange(rs_w)[None, :]]
        if rows is not None and len(p := r_plan[b]):
            out.rows[p] = f[r_local[p]]
        if stored_products:  # the product reads the stored bf16 block itself
            if right is not None:
                out.right[:, canon] = backend.right(right, f, raw, src.dtype)
            part = backend.left(left, canon, f, raw, src.dtype) if left is not None else None
        else:
            if right is not None:
                out.right[:, canon] = backend.right(right, f)
            part = backend.left(left, canon, f) if left is not None else None
        t3 = time.perf_counter()
        if times is not None:
            times.add(t1 - t0, t2 - t1, t3 - t2, raw.nbytes)
        return ss, part

    total = 0.0
    acc = np.zeros((left.shape[0], n_cols), dtype=np.float64) if left is not None else None
    for ss, part in in_order(job, n_blocks, threads):
        total += ss
        if acc is not None and part is not None:
            acc += part
    out.sumsq = total
    if acc is not None:
        out.left = acc.astype(np.float32)
    return out


def in_order(job: Callable[[int], Any], n: int, threads: int) -> Iterator[Any]:
    """``job(0) ... job(n-1)`` on ``threads`` threads, at most two per thread in flight (bounded
    memory), results yielded in order (so sums over blocks are taken in one fixed order)."""
    if threads <= 1 or n <= 1:
        for i in range(n):
            yield job(i)
        return
    pool = _pool(threads)
    pending: deque[Future[Any]] = deque()
    nxt = 0
    try:
        while nxt < n or pending:
            while nxt < n and len(pending) < 2 * threads:
                pending.append(pool.submit(job, nxt))
                nxt += 1
            yield pending.popleft().result()
    finally:
        for f in pending:
            f.cancel()
        for f in pending:
            if not f.cancelled():
                f.exception()  # wait: no job may still write into the caller's arrays
