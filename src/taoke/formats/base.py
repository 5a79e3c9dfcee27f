"""The contract every weight-file reader fulfils (safetensors, GGUF, PyTorch .bin/.pt).

Readers are lazy (header parsed and bounded on open, tensor bytes read on demand) so a 70B release
can be walked tensor by tensor in bounded memory, the way ``safetensors.safe_open`` works.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


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
        from taoke.errors import LimitExceeded

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
    from taoke.errors import CorruptFile

    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise CorruptFile(f"cannot open: {exc.strerror or exc}", path) from None
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
    return fd


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


@dataclass(frozen=True)
class TensorInfo:
    """One stored tensor, described from the header alone.

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
    """A lazily-read weight file. Use as a context manager or call :meth:`close`."""

    format: str = "?"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @abstractmethod
    def tensors(self) -> list[TensorInfo]:
        """All tensors in file order, from the (validated) header only."""

    @abstractmethod
    def read(self, name: str) -> np.ndarray:
        """The tensor as float32 (quantized types dequantized; integer tensors keep an integer dtype),
        with ``shape == info.shape``. Memory: one tensor."""

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

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release file handles and maps."""

    def __enter__(self) -> TensorFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
