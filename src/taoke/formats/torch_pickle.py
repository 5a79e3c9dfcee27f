"""PyTorch checkpoints (.bin/.pt/.pth) read without torch and without executing anything.

``pickle.load`` on a release file is code execution: ``__reduce__`` makes any callable run at load
time. This module unpickles with :class:`RestrictedUnpickler`, whose ``find_class`` hands out only
inert stand-ins for the handful of globals a state dict needs (``collections.OrderedDict``, torch's
tensor/parameter rebuild functions, typed storage classes) and refuses every other global with
:class:`UnsafeContent` naming it. No torch object is ever created: a "tensor" here is a record of which
archive member holds its bytes, at which offset, with which shape and strides, so ``read()`` loads
exactly one tensor.

Formats: the zip format of ``torch.save`` since 1.6 (``<prefix>/data.pkl`` + ``<prefix>/data/<key>``)
and the legacy format (magic number, protocol, sys_info, main pickle, storage keys, raw storages).
Archive member names are checked (no absolute paths, no ``..``), sizes bounded (``data.pkl`` by
``max_pickle_bytes``; compressed members by declared size and compression ratio).
"""

from __future__ import annotations

import functools
import io
import os
import pickle
import pickletools
import struct
import zipfile
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from taoke.errors import CorruptFile, LimitExceeded, UnsafeContent, UnsupportedFormat
from taoke.formats.base import DTYPES, TensorFile, TensorInfo, alloc, check_dims, pread_into, to_float32
from taoke.limits import Limits

# torch typed storage class -> taoke dtype name (its stored bits: formats.base.DTYPES)
STORAGES: dict[str, str] = {
    "DoubleStorage": "F64",
    "FloatStorage": "F32",
    "HalfStorage": "F16",
    "BFloat16Storage": "BF16",
    "LongStorage": "I64",
    "IntStorage": "I32",
    "ShortStorage": "I16",
    "CharStorage": "I8",
    "ByteStorage": "U8",
    "BoolStorage": "BOOL",
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_MAX_RATIO = 200  # compressed zip members: larger expansion is treated as a bomb
try:  # what zipfile's decompressors raise on corrupt data (bz2 raises OSError, caught anyway)
    import lzma

    _DECOMPRESS_ERRORS: tuple[type[Exception], ...] = (zlib.error, lzma.LZMAError)
except ImportError:  # pragma: no cover - Python built without lzma
    _DECOMPRESS_ERRORS = (zlib.error,)


@dataclass(frozen=True)
class _StorageType:
    """Stand-in for ``torch.FloatStorage`` & co: only ever used as a tag in a persistent id."""

    name: str

    @property
    def dtype(self) -> str:
        return STORAGES[self.name]

    @property
    def np_dtype(self) -> np.dtype:
        return DTYPES[self.dtype][1]


@dataclass(frozen=True)
class _Storage:
    key: str
    stype: _StorageType
    numel: int


@dataclass(frozen=True)
class _LazyTensor:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _int_tuple(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple) or not all(type(v) is int and v >= 0 for v in value):
        raise ValueError(f"{what} must be a tuple of non-negative integers")
    return value


def _rebuild_tensor_v2(storage: Any, storage_offset: Any, size: Any, stride: Any, *_: Any) -> _LazyTensor:
    """Inert replacement for ``torch._utils._rebuild_tensor_v2``: validates and records, nothing else."""
    if not isinstance(storage, _Storage):
        raise ValueError("tensor storage is not an archive storage")
    if type(storage_offset) is not int or storage_offset < 0:
        raise ValueError("storage offset must be a non-negative integer")
    shape, strides = _int_tuple(size, "size"), _int_tuple(stride, "stride")
    if len(shape) != len(strides):
        raise ValueError("size and stride differ in length")
    n = 1
    for d in shape:
        n *= d
    if n > storage.numel:
        # zero or overlapping strides: a 4x4 storage seen as 2^17 x 2^17 asks for 64 GiB when read
        raise ValueError(
            f"a view of {n} elements over a {storage.numel}-element storage (zero or overlapping strides)"
        )
    if all(shape):
        last = storage_offset + sum((d - 1) * s for d, s in zip(shape, strides, strict=True))
        if last >= storage.numel:
            raise ValueError(f"tensor reaches element {last} of a {storage.numel}-element storage")
    return _LazyTensor(storage, storage_offset, shape, strides)


def _rebuild_parameter(data: Any, *_: Any) -> Any:
    """Inert replacement for ``torch._utils._rebuild_parameter``: a parameter is its data."""
    if not isinstance(data, _LazyTensor):
        raise ValueError("parameter data is not a tensor")
    return data


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(name) for name in STORAGES},
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can only build containers, scalars and lazy tensor records.

    Every global goes through :meth:`find_class` (GLOBAL, STACK_GLOBAL and the copyreg extension
    opcodes alike); anything not in the allow-list is refused before it is imported.
    """

    def __init__(self, file: Any, path: Path, storages: dict[str, int] | None) -> None:
        super().__init__(file)
        self.path = path
        self.storages = storages  # key -> size in bytes of that storage's member; None: legacy
        self.seen: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED.get((module, name))
        if allowed is None:
            raise UnsafeContent(
                f"refusing pickle global {module}.{name} (only tensor rebuilding is allowed)", self.path
            )
        # a fresh object per global: BUILD sets attributes on whatever the pickle names, so a shared
        # stand-in would carry one file's attributes into the next file read in the same process
        if isinstance(allowed, _StorageType):
            return _StorageType(allowed.name)
        if not isinstance(allowed, type):
            return functools.partial(allowed)
        return allowed  # OrderedDict: a builtin type, whose attributes BUILD cannot set

    def persistent_load(self, pid: Any) -> _Storage:
        if not (
            isinstance(pid, tuple)
            and len(pid) >= 5
            and pid[0] == "storage"
            and isinstance(pid[1], _StorageType)
            and isinstance(pid[2], str)
            and type(pid[4]) is int
            and pid[4] >= 0
        ):
            raise UnsafeContent(f"refusing pickle persistent id {str(pid)[:80]!r}", self.path)
        stype, key, numel = pid[1], pid[2], pid[4]
        if len(pid) > 5 and pid[5] is not None:
            raise UnsupportedFormat("legacy storage views are not supported", self.path)
        if "/" in key or "\\" in key or key in ("", ".", "..") or "\x00" in key:
            raise UnsafeContent(f"storage key {key!r} points outside the archive", self.path)
        if self.storages is not None:
            if key not in self.storages:
                raise CorruptFile(f"pickle refers to storage {key!r} that is not in the archive", self.path)
            if self.storages[key] < numel * stype.np_dtype.itemsize:
                raise CorruptFile(
                    f"storage {key!r} holds {self.storages[key]} bytes, fewer than its {numel} elements need",
                    self.path,
                )
        storage = _Storage(key, stype, numel)
        previous = self.seen.setdefault(key, storage)
        if previous != storage:
            raise CorruptFile(f"storage {key!r} is declared twice with different types or sizes", self.path)
        return storage


class _BoundedReader:
    """Buffered reader over a file descriptor that refuses reads past the file end or the pickle limit.

    Used to walk the opcodes of a pickle inside a larger file (legacy checkpoints): a length field may
    claim gigabytes, and ``io.BufferedReader.read(n)`` would allocate ``n`` bytes before finding out.
    """

    _CHUNK = 1 << 16
    _MAX_LINE = 1 << 20

    def __init__(self, fd: int, pos: int, size: int, limit: int, path: Path) -> None:
        self.fd, self.pos, self.size, self.limit, self.path = fd, pos, size, limit, path
        self.start = pos
        self._buf, self._buf_at = b"", pos

    def read(self, n: int = -1) -> bytes:
        if n < 0 or n > self.size - self.pos:
            raise CorruptFile(
                f"truncated pickle: {n} bytes wanted at byte {self.pos} of {self.size}", self.path
            )
        if self.pos + n - self.start > self.limit:
            raise LimitExceeded(f"pickle runs past {self.limit} bytes (TAOKE_MAX_PICKLE_BYTES)", self.path)
        lo = self.pos - self._buf_at
        if not (0 <= lo and lo + n <= len(self._buf)):
            if n >= self._CHUNK:
                data = os.pread(self.fd, n, self.pos)
                self.pos += len(data)
                return data
            self._buf, self._buf_at, lo = os.pread(self.fd, self._CHUNK, self.pos), self.pos, 0
        data = self._buf[lo : lo + n]
        self.pos += len(data)
        return data

    def tell(self) -> int:
        """Position in the file (``pickletools.genops`` reports opcode positions with it)."""
        return self.pos

    def readline(self) -> bytes:
        chunk = os.pread(self.fd, min(self._MAX_LINE, max(0, self.size - self.pos)), self.pos)
        end = chunk.find(b"\n")
        if end < 0:
            raise CorruptFile(f"pickle text line at byte {self.pos} has no end", self.path)
        return self.read(end + 1)


# Opcodes a checkpoint never needs: out-of-band buffers, the copyreg extension registry, and the
# protocol-0 class-instantiation opcodes. Everything else only builds data or calls find_class().
_REFUSED_OPCODES = {"NEXT_BUFFER", "READONLY_BUFFER", "EXT1", "EXT2", "EXT4", "INST", "OBJ"}
_MEMO_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}


def _check_opcodes(fh: Any, path: Path) -> None:
    """Walk a pickle's opcodes without executing them (``pickletools.genops`` only decodes).

    This validates every length field against the bytes actually present *before* CPython's
    unpickler sees them (it allocates a BINBYTES payload of the claimed size up front), and refuses
    opcodes outside the allow-list with their name.
    """
    try:
        for n_ops, (op, arg, pos) in enumerate(pickletools.genops(fh)):
            if op.name in _REFUSED_OPCODES:
                raise UnsafeContent(f"refusing pickle opcode {op.name} at byte {pos}", path)
            # CPython's unpickler grows its memo *array* to the index a PUT names: LONG_BINPUT 2**32-1
            # in a 20-byte pickle asks for 32 GB. Picklers number memo entries 0, 1, 2...: an index
            # above the opcodes seen so far is never legitimate.
            if op.name in _MEMO_PUTS and type(arg) is int and arg > n_ops:
                raise CorruptFile(
                    f"pickle {op.name} at byte {pos} names memo slot {arg} after only {n_ops} opcodes", path
                )
    except (ValueError, EOFError, struct.error) as exc:
        raise CorruptFile(f"malformed or truncated pickle: {str(exc).splitlines()[0][:120]}", path) from None


def _unpickle(data: bytes, path: Path, storages: dict[str, int] | None) -> tuple[Any, dict]:
    """Restricted unpickling of one complete pickle already in memory (bounded by the caller)."""
    _check_opcodes(io.BytesIO(data), path)
    up = RestrictedUnpickler(io.BytesIO(data), path, storages)
    try:
        return up.load(), up.seen
    except (UnsafeContent, CorruptFile, UnsupportedFormat, LimitExceeded):
        raise
    except RecursionError:
        raise CorruptFile("pickle is nested too deeply", path) from None
    except Exception as exc:  # noqa: BLE001 - any other unpickling failure is a malformed file
        raise CorruptFile(f"malformed pickle: {type(exc).__name__}: {str(exc)[:120]}", path) from None


def _next_pickle(reader: _BoundedReader, path: Path, storages: dict[str, int] | None) -> tuple[Any, dict]:
    """Unpickle the pickle that starts at ``reader.pos`` in a legacy checkpoint and step past it."""
    start = reader.pos
    reader.start = start
    _check_opcodes(reader, path)
    data = os.pread(reader.fd, reader.pos - start, start)
    return _unpickle(data, path, storages)


def _flatten(
    obj: Any, prefix: str, tensors: dict[str, _LazyTensor], meta: dict[str, Any], depth: int = 0
) -> None:
    """Tensors of a (possibly nested) checkpoint dict under dotted names; small scalars to ``meta``."""
    if depth > 16:
        return
    if isinstance(obj, _LazyTensor):
        tensors[prefix or "tensor"] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), tensors, meta, depth + 1)
    elif isinstance(obj, (list, tuple)) and any(isinstance(v, (_LazyTensor, dict)) for v in obj):
        for i, v in enumerate(obj):
            _flatten(v, f"{prefix}.{i}" if prefix else str(i), tensors, meta, depth + 1)
    elif isinstance(obj, (int, float, str, bool)) and prefix and len(meta) < 1000:
        meta[prefix] = obj if not isinstance(obj, str) else obj[:1000]


def _safe_member(name: str, path: Path) -> None:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]) or "\x00" in name:
        raise UnsafeContent(f"archive member {name!r} points outside the archive", path)


class TorchFile(TensorFile):
    """A PyTorch checkpoint read through the restricted unpickler; tensors loaded one at a time."""

    format = "pytorch"

    def __init__(self, path: str | Path, limits: Limits | None = None) -> None:
        self._zip: zipfile.ZipFile | None = None  # before the base opens the file: close() uses it
        # storage key -> (absolute offset of its raw bytes, or -1 when compressed, member name)
        self._where: dict[str, tuple[int, str]] = {}
        super().__init__(path, limits)

    def _open(self) -> None:
        if self._is_zip():
            obj = self._open_zip()
        elif os.pread(self._fd, 2, 0) == b"PK":
            raise CorruptFile("truncated or corrupt zip archive (no central directory)", self.path)
        else:
            obj = self._open_legacy()
        tensors: dict[str, _LazyTensor] = {}
        self._meta: dict[str, Any] = {}
        _flatten(obj, "", tensors, self._meta)
        if len(tensors) > self.limits.max_tensors:
            raise LimitExceeded(f"{len(tensors)} tensors, more than {self.limits.max_tensors}", self.path)
        self._tensors = tensors
        infos = []
        file = str(self.path)  # one string shared by every TensorInfo of the file
        for name, t in tensors.items():
            if len(t.shape) > self.limits.max_tensor_dims:
                raise LimitExceeded(f"tensor {name!r} has {len(t.shape)} dimensions", self.path)
            bad = check_dims(t.shape, self.limits.max_tensor_bytes // t.storage.stype.np_dtype.itemsize)
            if bad:
                raise LimitExceeded(f"tensor {name!r}: {bad} (TAOKE_MAX_TENSOR_BYTES)", self.path)
            numel = int(np.prod(t.shape, dtype=object))
            nbytes = numel * t.storage.stype.np_dtype.itemsize
            if nbytes > self.limits.max_tensor_bytes:
                raise LimitExceeded(
                    f"tensor {name!r} is {nbytes} bytes, more than "
                    f"{self.limits.max_tensor_bytes} (TAOKE_MAX_TENSOR_BYTES)",
                    self.path,
                )
            infos.append(TensorInfo(name, t.shape, t.storage.stype.dtype, nbytes, file))
        self._set_tensors(infos)

    # -- zip format ------------------------------------------------------------------------------
    def _is_zip(self) -> bool:
        """``zipfile.is_zipfile`` catches only ``OSError``; a forged end-of-central-directory record
        makes it raise ``BadZipFile`` (multi-disk archives) or ``struct.error``: a corrupt file."""
        try:
            return zipfile.is_zipfile(self.path)
        except (zipfile.BadZipFile, ValueError, EOFError, struct.error) as exc:
            raise CorruptFile(f"bad zip archive: {exc}", self.path) from None

    def _open_zip(self) -> Any:
        path, limits = self.path, self.limits
        try:
            zf = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error) as exc:
            raise CorruptFile(f"bad zip archive: {exc}", path) from None
        except NotImplementedError as exc:  # zipfile: "zip file version 25.5" and other features
            raise UnsupportedFormat(f"zip archive uses an unsupported feature: {exc}", path) from None
        self._zip = zf
        members = zf.infolist()
        if len(members) > limits.max_zip_members:
            raise LimitExceeded(f"{len(members)} archive members, more than {limits.max_zip_members}", path)
        for m in members:
            _safe_member(m.filename, path)
        pkls = [
            m
            for m in members
            if PurePosixPath(m.filename).name == "data.pkl" and len(PurePosixPath(m.filename).parts) == 2
        ]
        if len(pkls) != 1:
            raise UnsupportedFormat(
                "zip archive is not a PyTorch checkpoint (no single <name>/data.pkl)", path
            )
        pkl = pkls[0]
        prefix = PurePosixPath(pkl.filename).parts[0]
        if pkl.file_size > limits.max_pickle_bytes:
            raise LimitExceeded(
                f"data.pkl is {pkl.file_size} bytes, more than {limits.max_pickle_bytes} "
                "(TAOKE_MAX_PICKLE_BYTES)",
                path,
            )
        data = self._member_bytes(pkl, limits.max_pickle_bytes)
        storages: dict[str, int] = {}
        size = os.fstat(self._fd).st_size
        for m in members:
            parts = PurePosixPath(m.filename).parts
            if len(parts) == 3 and parts[0] == prefix and parts[1] == "data" and not m.is_dir():
                storages[parts[2]] = m.file_size
                self._where[parts[2]] = (self._stored_offset(m, size), m.filename)
        obj, _ = _unpickle(data, path, storages)
        return obj

    def _stored_offset(self, m: zipfile.ZipInfo, size: int) -> int:
        """Absolute offset of an uncompressed member's bytes (torch stores storages uncompressed)."""
        if m.compress_type != zipfile.ZIP_STORED:
            return -1
        head = os.pread(self._fd, 30, m.header_offset)
        if len(head) < 30 or head[:4] != b"PK\x03\x04":
            raise CorruptFile(f"archive member {m.filename!r} has no local header", self.path)
        name_len, extra_len = struct.unpack("<HH", head[26:30])
        name = os.pread(self._fd, name_len, m.header_offset + 30)
        if name.decode("utf-8", "replace") != m.filename and name.decode("cp437", "replace") != m.filename:
            raise UnsafeContent(
                f"archive member {m.filename!r} has a different name in its local header", self.path
            )
        start = m.header_offset + 30 + name_len + extra_len
        if start + m.file_size > size or m.compress_size != m.file_size:
            raise CorruptFile(f"archive member {m.filename!r} runs past the end of the file", self.path)
        return start

    def _member_bytes(self, m: zipfile.ZipInfo, limit: int) -> bytes:
        """A member's content, refusing one that expands past its declared size or like a bomb."""
        assert self._zip is not None
        if m.file_size > limit:
            raise LimitExceeded(
                f"archive member {m.filename!r} is {m.file_size} bytes, more than {limit}", self.path
            )
        compressed = m.compress_type != zipfile.ZIP_STORED
        # The ratio check below trusts compress_size, which the central directory can inflate too: it
        # must first fit in the file, so a member can never expand past 200x the bytes really there.
        archive_size = os.fstat(self._fd).st_size
        if m.compress_size > archive_size - min(m.header_offset, archive_size):
            raise CorruptFile(
                f"archive member {m.filename!r} claims {m.compress_size} compressed bytes "
                f"from byte {m.header_offset} of a {archive_size}-byte file",
                self.path,
            )
        if compressed and m.file_size > _MAX_RATIO * max(m.compress_size, 1) + 4096:
            raise LimitExceeded(
                f"archive member {m.filename!r} expands {m.compress_size} bytes to "
                f"{m.file_size}: refusing a zip bomb",
                self.path,
            )
        try:
            with self._zip.open(m) as fh:
                data = fh.read(m.file_size + 1)
        except RuntimeError as exc:  # zipfile: "... is encrypted, password required"; NotImplementedError
            # (a RuntimeError subclass): a compression method it does not implement
            raise UnsupportedFormat(
                f"archive member {m.filename!r} cannot be read: {exc}", self.path
            ) from None
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error, *_DECOMPRESS_ERRORS) as exc:
            raise CorruptFile(f"cannot read archive member {m.filename!r}: {exc}", self.path) from None
        if len(data) != m.file_size:
            raise CorruptFile(
                f"archive member {m.filename!r} holds {len(data)} bytes, not the declared {m.file_size}",
                self.path,
            )
        return data

    # -- legacy format ---------------------------------------------------------------------------
    def _open_legacy(self) -> Any:
        path, limits = self.path, self.limits
        size = os.fstat(self._fd).st_size
        fh = _BoundedReader(self._fd, 0, size, limits.max_pickle_bytes, path)
        magic, _ = _next_pickle(fh, path, None)
        if magic != _LEGACY_MAGIC:
            raise UnsupportedFormat("pickle is not a PyTorch checkpoint (no torch magic number)", path)
        protocol, _ = _next_pickle(fh, path, None)
        if protocol != _LEGACY_PROTOCOL:
            raise UnsupportedFormat(f"legacy PyTorch protocol {protocol!r} is not supported", path)
        sys_info, _ = _next_pickle(fh, path, None)
        if not isinstance(sys_info, dict) or sys_info.get("little_endian") is False:
            raise UnsupportedFormat("big-endian or unknown legacy PyTorch checkpoint", path)
        obj, seen = _next_pickle(fh, path, None)
        keys, _ = _next_pickle(fh, path, None)
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise CorruptFile("legacy checkpoint has no storage key list", path)
        pos = fh.pos
        for key in keys:
            if key not in seen:
                raise CorruptFile(f"storage {key!r} is not referenced by the checkpoint", path)
            head = os.pread(self._fd, 8, pos)
            if len(head) < 8:
                raise CorruptFile(f"truncated checkpoint: storage {key!r} missing", path)
            (numel,) = struct.unpack("<q", head)
            nbytes = numel * seen[key].stype.np_dtype.itemsize
            if numel != seen[key].numel or pos + 8 + nbytes > size:
                raise CorruptFile(f"storage {key!r} size does not match the checkpoint or the file", path)
            self._where[key] = (pos + 8, key)
            pos += 8 + nbytes
        missing = set(seen) - set(self._where)
        if missing:
            raise CorruptFile(f"storage {sorted(missing)[0]!r} has no data in the file", path)
        return obj

    # -- public API ------------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        """Non-tensor scalars of the checkpoint (e.g. ``epoch``), under dotted names."""
        return dict(self._meta)

    def read_raw(self, name: str) -> np.ndarray:
        """The stored values of ``name`` in its storage dtype (bf16 as uint16), C-contiguous."""
        self._check_open()
        t = self._tensors[name]
        dt = t.storage.stype.np_dtype
        numel = int(np.prod(t.shape, dtype=np.int64)) if t.shape else 1
        if numel == 0 or 0 in t.shape:
            return np.empty(t.shape, dtype=dt)
        dense = [int(np.prod(t.shape[i + 1 :], dtype=np.int64)) for i in range(len(t.shape))]
        contiguous = all(st == want for d, st, want in zip(t.shape, t.stride, dense, strict=True) if d > 1)
        if contiguous:
            first, count = t.offset, numel
        else:
            first = t.offset
            count = sum((d - 1) * s for d, s in zip(t.shape, t.stride, strict=True)) + 1
        buf = alloc(count, dt, self.path, f"tensor {name!r}")
        self._read_storage(t.storage, first * dt.itemsize, buf)
        if contiguous:
            return buf.reshape(t.shape)
        view = np.lib.stride_tricks.as_strided(buf, t.shape, tuple(s * dt.itemsize for s in t.stride))
        return np.ascontiguousarray(view)

    def _read_storage(self, storage: _Storage, byte_offset: int, buf: np.ndarray) -> None:
        start, member = self._where[storage.key]
        if start >= 0:
            pread_into(self._fd, buf, start + byte_offset, self.path)
            return
        assert self._zip is not None
        info = self._zip.getinfo(member)
        data = self._member_bytes(info, self.limits.max_tensor_bytes)
        chunk = data[byte_offset : byte_offset + buf.nbytes]
        if len(chunk) != buf.nbytes:
            raise CorruptFile(f"storage {storage.key!r} is shorter than its tensors", self.path)
        memoryview(buf).cast("B")[:] = chunk

    def read(self, name: str) -> np.ndarray:
        return to_float32(self.read_raw(name), self._by_name[name].dtype)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None
        super().close()
