"""GGUF reader: a strict, bounded header parser here; dequantization by the ``gguf`` package.

``gguf.GGUFReader`` trusts its input: it sizes numpy views from header counts without checking them
against the file or any limit, and a wrong offset surfaces as a numpy exception or a silent short
array. The header is simple enough to parse strictly in one pass (every count, string length, array
length, dimension, offset and size checked against ``Limits`` and the file size before anything is
allocated), so this module does that and never calls ``GGUFReader``. The ``gguf`` package is used for
what it is authoritative on: the type tables (``GGML_QUANT_SIZES``) and ``gguf.quants.dequantize``.

Shapes are reported in PyTorch order (ggml's ``ne`` reversed); ``read()`` returns the stored tensor in
row-major order. llama.cpp's Q/K rope permutation is *not* undone here: that is the Model view's job.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFValueType

from taoke.errors import CorruptFile, LimitExceeded, UnsupportedFormat
from taoke.formats.base import (
    DTYPES,
    StoredRows,
    TensorFile,
    TensorInfo,
    alloc,
    check_dims,
    pread_into,
    to_float32,
    will_need,
)
from taoke.limits import Limits

_SCALAR = {
    GGUFValueType.UINT8: "<B",
    GGUFValueType.INT8: "<b",
    GGUFValueType.UINT16: "<H",
    GGUFValueType.INT16: "<h",
    GGUFValueType.UINT32: "<I",
    GGUFValueType.INT32: "<i",
    GGUFValueType.FLOAT32: "<f",
    GGUFValueType.BOOL: "<?",
    GGUFValueType.UINT64: "<Q",
    GGUFValueType.INT64: "<q",
    GGUFValueType.FLOAT64: "<d",
}
_NUMPY = {
    GGUFValueType.UINT8: "<u1",
    GGUFValueType.INT8: "<i1",
    GGUFValueType.UINT16: "<u2",
    GGUFValueType.INT16: "<i2",
    GGUFValueType.UINT32: "<u4",
    GGUFValueType.INT32: "<i4",
    GGUFValueType.FLOAT32: "<f4",
    GGUFValueType.BOOL: "?",
    GGUFValueType.UINT64: "<u8",
    GGUFValueType.INT64: "<i8",
    GGUFValueType.FLOAT64: "<f8",
}
_SMALL_ARRAY = 64  # arrays longer than this appear in metadata() as their length only
_MAX_ARRAY_NESTING = 3
_MAX_ALIGNMENT = 1 << 20
_DEQUANT_CHUNK = 1 << 20  # elements dequantized at a time: bounds the gguf package's temporaries


@dataclass(frozen=True)
class _ArrayRef:
    """Where a metadata array lives in the file; decoded on demand by :meth:`GGUFFile.field`."""

    item_type: GGUFValueType
    count: int
    start: int  # first item
    end: int  # one past the last byte


class _Cursor:
    """Reads little-endian values from the header, refusing to step past the file or the header limit.

    The header is read with ``os.pread`` into a buffer that grows as the cursor advances (never past
    ``TAOKE_MAX_HEADER_BYTES``), not through a memory map: a file that another process truncates
    while its header is read gives a short read here, reported as one line, where a mapped page past
    the new end of the file kills the process with SIGBUS. ``fd=None`` walks a buffer already read.
    """

    _CHUNK = 1 << 20  # bytes read per pread when the cursor needs more of the header

    def __init__(self, buf: Any, size: int, path: Path, limits: Limits, fd: int | None = None) -> None:
        self.buf, self.size, self.path, self.limits, self.fd = buf, size, path, limits, fd
        self.pos = 0

    def _fill(self, end: int) -> None:
        """Read the file up to byte ``end`` (already checked against the size and the limit)."""
        have = len(self.buf)
        want = min(max(end, have + self._CHUNK), self.size, self.limits.max_header_bytes)
        while have < end:
            try:
                chunk = os.pread(self.fd, want - have, have)
            except OSError as exc:
                raise CorruptFile(f"cannot read the GGUF header: {exc.strerror or exc}", self.path) from None
            if not chunk:
                raise CorruptFile(
                    f"truncated GGUF: the file ends at byte {have} while its header is read "
                    f"(it had {self.size} bytes when opened: did it shrink?)",
                    self.path,
                )
            self.buf += chunk
            have += len(chunk)

    def take(self, n: int, what: str) -> int:
        start = self.pos
        if n > self.size - start:
            raise CorruptFile(
                f"truncated GGUF: {what} at byte {start} needs {n} bytes but the file has {self.size}",
                self.path,
            )
        if start + n > self.limits.max_header_bytes:
            raise LimitExceeded(
                f"GGUF header runs past {self.limits.max_header_bytes} bytes while reading "
                f"{what} (TAOKE_MAX_HEADER_BYTES)",
                self.path,
            )
        if self.fd is not None and start + n > len(self.buf):
            self._fill(start + n)
        self.pos = start + n
        return start

    def scalar(self, fmt: str, what: str) -> Any:
        return struct.unpack_from(fmt, self.buf, self.take(struct.calcsize(fmt), what))[0]

    def string_span(self, what: str) -> tuple[int, int]:
        n = self.scalar("<Q", f"length of {what}")
        if n > self.limits.max_string_bytes:
            raise LimitExceeded(
                f"{what} claims a {n}-byte string, more than {self.limits.max_string_bytes} "
                "(TAOKE_MAX_STRING_BYTES)",
                self.path,
            )
        return self.take(n, what), n

    def string(self, what: str) -> str:
        start, n = self.string_span(what)
        return bytes(self.buf[start : start + n]).decode("utf-8", "replace")


def _value_type(code: int, cur: _Cursor, what: str) -> GGUFValueType:
    try:
        return GGUFValueType(code)
    except ValueError:
        raise CorruptFile(f"{what} has unknown value type {code}", cur.path) from None


def _dequantize_q8_0(blocks: np.ndarray, out: np.ndarray) -> None:
    """Q8_0 (an f16 scale + 32 int8 per block) straight into ``out``: the same arithmetic as
    ``gguf.quants`` (int8 * float32(scale)) without its temporaries. Q8_0 is the common
    near-lossless type, so it gets this fast path; a test checks it bit for bit against gguf."""
    scale = blocks[:, :2].view(np.float16).astype(np.float32)
    np.multiply(blocks[:, 2:].view(np.int8), scale, out=out)


class GGUFFile(TensorFile):
    """A validated GGUF file (versions 2 and 3, little-endian); tensors dequantized on demand."""

    format = "gguf"

    # -- header ---------------------------------------------------------------------------------
    def _open(self) -> None:
        path, limits = self.path, self.limits
        size = os.fstat(self._fd).st_size
        if size < 24:
            raise CorruptFile(f"truncated GGUF: {size} bytes, shorter than the 24-byte header", path)
        # the header is read by the cursor with pread (see _Cursor), never memory-mapped
        cur = _Cursor(bytearray(), size, path, limits, fd=self._fd)
        cur.take(4, "magic")
        if cur.buf[:4] != b"GGUF":
            raise UnsupportedFormat("not a GGUF file (wrong magic)", path)
        version = cur.scalar("<I", "version")
        if version not in (2, 3):
            if version & 0xFFFF == 0 and (version >> 24) in (2, 3):
                raise UnsupportedFormat("big-endian GGUF is not supported", path)
            raise UnsupportedFormat(f"GGUF version {version} is not supported (only 2 and 3)", path)
        self.version = version
        n_tensors = cur.scalar("<Q", "tensor count")
        n_kv = cur.scalar("<Q", "metadata count")
        if n_tensors > limits.max_tensors:
            raise LimitExceeded(
                f"GGUF claims {n_tensors} tensors, more than {limits.max_tensors} (TAOKE_MAX_TENSORS)",
                path,
            )
        if n_kv > limits.max_metadata_entries:
            raise LimitExceeded(
                f"GGUF claims {n_kv} metadata entries, more than "
                f"{limits.max_metadata_entries} (TAOKE_MAX_METADATA_ENTRIES)",
                path,
            )
        self._kv: dict[str, Any] = {}
        self._kv_types: dict[str, GGUFValueType] = {}
        self._small: dict[str, Any] = {}  # arrays of <= _SMALL_ARRAY items, decoded as text
        for i in range(n_kv):
            key = cur.string(f"metadata key #{i}")
            if key in self._kv:
                raise CorruptFile(f"duplicate metadata key {key!r}", path)
            vtype = _value_type(cur.scalar("<I", f"type of {key!r}"), cur, f"metadata {key!r}")
            self._kv[key] = self._value(cur, vtype, key, 0)
            self._kv_types[key] = vtype
        alignment = self._alignment()
        # name -> (offset in the data section, ggml type, row length ne0)
        self._tensors: dict[str, tuple[int, GGMLQuantizationType, int]] = {}
        self._file = str(self.path)  # one string shared by every TensorInfo of the file
        for i in range(n_tensors):
            self._tensor_info(cur, i)
        data_start = -(-cur.pos // alignment) * alignment
        self._data_start = data_start
        data_size = size - data_start
        spans = []
        for info in self._infos:
            rel, _, _ = self._tensors[info.name]
            if rel % alignment:
                raise CorruptFile(
                    f"tensor {info.name!r} offset {rel} is not a multiple of the alignment {alignment}", path
                )
            if rel + info.nbytes > data_size:
                raise CorruptFile(
                    f"tensor {info.name!r} ends at byte {data_start + rel + info.nbytes} but "
                    f"the file has {size} (truncated?)",
                    path,
                )
            if info.nbytes:
                spans.append((rel, rel + info.nbytes, info.name))
        last_end, last_name = 0, ""
        for begin, end, name in sorted(spans):
            if begin < last_end:
                raise CorruptFile(f"tensors {last_name!r} and {name!r} overlap", path)
            if end > last_end:
                last_end, last_name = end, name
        self._set_tensors(self._infos)
        # tensor -> (absolute offset, size) of the tensor stored right after it, for prefetching
        ordered = sorted(self._infos, key=lambda t: self._tensors[t.name][0])
        self._next = {
            a.name: (data_start + self._tensors[b.name][0], b.nbytes)
            for a, b in zip(ordered, ordered[1:], strict=False)
        }

    def _value(self, cur: _Cursor, vtype: GGUFValueType, key: str, depth: int) -> Any:
        if vtype in _SCALAR:
            return cur.scalar(_SCALAR[vtype], f"value of {key!r}")
        if vtype == GGUFValueType.STRING:
            return cur.string(f"value of {key!r}")
        # ARRAY: item type, count, items
        if depth >= _MAX_ARRAY_NESTING:
            raise CorruptFile(f"metadata {key!r} nests arrays deeper than {_MAX_ARRAY_NESTING}", cur.path)
        item_type = _value_type(cur.scalar("<I", f"array type of {key!r}"), cur, f"array {key!r}")
        count = cur.scalar("<Q", f"array length of {key!r}")
        if count > self.limits.max_array_items:
            raise LimitExceeded(
                f"metadata {key!r} claims {count} items, more than "
                f"{self.limits.max_array_items} (TAOKE_MAX_ARRAY_ITEMS)",
                cur.path,
            )
        start = cur.pos
        if item_type in _SCALAR:
            cur.take(count * struct.calcsize(_SCALAR[item_type]), f"items of {key!r}")
        elif item_type == GGUFValueType.STRING:
            for j in range(count):  # variable-length items: walk them to find where the array ends
                cur.string_span(f"item {j} of {key!r}")
        else:
            for _ in range(count):  # each item is itself (item type, count, items)
                self._value(cur, GGUFValueType.ARRAY, key, depth + 1)
        ref = _ArrayRef(item_type, count, start, cur.pos)
        if count <= _SMALL_ARRAY and depth == 0:
            # decoded once for metadata(); field() still re-reads the ref, so raw=True keeps its bytes
            self._small[key] = self._decode_array(ref, cur.buf, 0, raw=False)
        return ref

    def _alignment(self) -> int:
        value = self._kv.get("general.alignment", 32)
        if "general.alignment" in self._kv and self._kv_types["general.alignment"] != GGUFValueType.UINT32:
            raise CorruptFile("general.alignment must be a uint32", self.path)
        if not (isinstance(value, int) and 0 < value <= _MAX_ALIGNMENT and value & (value - 1) == 0):
            raise CorruptFile(
                f"general.alignment {value!r} is not a power of two up to {_MAX_ALIGNMENT}", self.path
            )
        return value

    def _tensor_info(self, cur: _Cursor, i: int) -> None:
        path, limits = self.path, self.limits
        name = cur.string(f"name of tensor #{i}")
        n_dims = cur.scalar("<I", f"dimension count of {name!r}")
        if n_dims > limits.max_tensor_dims:
            raise LimitExceeded(
                f"tensor {name!r} has {n_dims} dimensions, more than "
                f"{limits.max_tensor_dims} (TAOKE_MAX_TENSOR_DIMS)",
                path,
            )
        ne = [cur.scalar("<Q", f"dimensions of {name!r}") for _ in range(n_dims)]
        code = cur.scalar("<I", f"type of {name!r}")
        rel = cur.scalar("<Q", f"offset of {name!r}")
        try:
            qtype = GGMLQuantizationType(code)
            block, type_size = GGML_QUANT_SIZES[qtype]
        except (ValueError, KeyError):
            raise CorruptFile(f"tensor {name!r} has unknown ggml type {code}", path) from None
        bad = check_dims(ne, limits.max_tensor_bytes * block // type_size if type_size else 0)
        if bad:
            raise LimitExceeded(f"tensor {name!r}: {bad} (TAOKE_MAX_TENSOR_BYTES)", path)
        numel = 1
        for d in ne:
            numel *= d
        ne0 = ne[0] if ne else 1
        if ne0 % block:
            raise CorruptFile(
                f"tensor {name!r}: row of {ne0} elements is not a multiple of the {qtype.name} "
                f"block size {block}",
                path,
            )
        nbytes = numel // block * type_size
        if nbytes > limits.max_tensor_bytes:
            raise LimitExceeded(
                f"tensor {name!r} is {nbytes} bytes, more than {limits.max_tensor_bytes} "
                "(TAOKE_MAX_TENSOR_BYTES)",
                path,
            )
        if name in self._tensors:
            raise CorruptFile(f"duplicate tensor name {name!r}", path)
        shape = tuple(reversed(ne))
        self._infos.append(TensorInfo(name, shape, qtype.name, nbytes, self._file))
        self._tensors[name] = (rel, qtype, ne0)

    def _decode_array(self, ref: _ArrayRef, buf: Any, base: int, raw: bool) -> Any:
        """Items of ``ref`` from ``buf`` (which holds the file from byte ``base``), already bounds-checked."""
        lo = ref.start - base
        if ref.item_type in _NUMPY:
            return np.frombuffer(buf, dtype=_NUMPY[ref.item_type], count=ref.count, offset=lo).copy()
        if ref.item_type == GGUFValueType.STRING:
            out: list[Any] = []
            pos = lo
            unpack = struct.Struct("<Q").unpack_from
            for _ in range(ref.count):
                (n,) = unpack(buf, pos)
                item = bytes(buf[pos + 8 : pos + 8 + n])
                out.append(item if raw else item.decode("utf-8", "replace"))
                pos += 8 + n
            return out
        # nested arrays: re-walk with a cursor over this slice (already validated on open)
        cur = _Cursor(buf, len(buf), self.path, self.limits)
        cur.pos = lo
        items = []
        for _ in range(ref.count):
            inner_type = GGUFValueType(cur.scalar("<I", "nested type"))
            count = cur.scalar("<Q", "nested count")
            start = cur.pos + base
            sub_end = self._skip(cur, inner_type, count)
            sub = _ArrayRef(inner_type, count, start, sub_end + base)
            items.append(self._decode_array(sub, buf, base, raw))
        return items

    def _skip(self, cur: _Cursor, item_type: GGUFValueType, count: int) -> int:
        if item_type in _SCALAR:
            cur.take(count * struct.calcsize(_SCALAR[item_type]), "nested items")
        elif item_type == GGUFValueType.STRING:
            for _ in range(count):
                cur.string_span("nested item")
        else:
            for _ in range(count):
                t = GGUFValueType(cur.scalar("<I", "nested type"))
                self._skip(cur, t, cur.scalar("<Q", "nested count"))
        return cur.pos

    # -- public API -----------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        """KV pairs; arrays longer than 64 items (vocabularies, merges, scores) appear as their length."""
        out: dict[str, Any] = {}
        for k, v in self._kv.items():
            if isinstance(v, _ArrayRef):
                small = self._small.get(k)
                v = v.count if small is None else small
            out[k] = v.tolist() if isinstance(v, np.ndarray) else v
        return out

    def keys(self) -> list[str]:
        return list(self._kv)

    def field(self, key: str, raw: bool = False) -> Any:
        """The full value of metadata ``key`` (``KeyError`` if absent).

        Numeric arrays come back as numpy arrays, string arrays as lists of ``str`` (or ``bytes`` with
        ``raw=True``: vocabularies may hold byte sequences that are not valid UTF-8). Sizes were bounded
        by the limits when the file was opened.
        """
        value = self._kv[key]
        if not isinstance(value, _ArrayRef):
            return value.copy() if isinstance(value, np.ndarray) else value
        length = value.end - value.start
        buf = alloc(length, np.uint8, self.path, f"metadata {key!r}")
        if length:
            pread_into(self._fd, buf, value.start, self.path)
        return self._decode_array(value, memoryview(buf), value.start, raw)

    def field_type(self, key: str) -> str:
        """The GGUF value type of ``key`` (``"STRING"``, ``"UINT32"``, ``"ARRAY[STRING]"``...)."""
        value, vtype = self._kv[key], self._kv_types[key]
        if vtype == GGUFValueType.ARRAY:
            item = value.item_type.name if isinstance(value, _ArrayRef) else "?"
            return f"ARRAY[{item}]"
        return vtype.name

    def read_raw(self, name: str) -> np.ndarray:
        """The stored bytes of tensor ``name`` (uint8, one row of blocks per ggml row)."""
        fd = self._check_open()
        info = self._by_name[name]
        rel, _, _ = self._tensors[name]
        buf = alloc(info.nbytes, np.uint8, self.path, f"tensor {name!r}")
        if info.nbytes:
            pread_into(fd, buf, self._data_start + rel, self.path)
        nxt = self._next.get(name)
        if nxt is not None:  # start reading the next tensor from disk while this one is dequantized
            will_need(fd, nxt[0], nxt[1])
        return buf

    def stored_rows(self, name: str) -> StoredRows | None:
        """Row blocks of a matrix (:class:`StoredRows`): plain floats widened, quantized rows
        dequantized block by block (a ggml row is whole quantization blocks)."""
        info = self._by_name[name]
        rel, qtype, _ = self._tensors[name]
        offset = self._data_start + rel
        if qtype.name in DTYPES:
            return self._plain_rows(info, offset)
        if len(info.shape) != 2 or not info.numel or qtype not in GGML_QUANT_SIZES:
            return None
        n_rows, n_cols = info.shape
        block, type_size = GGML_QUANT_SIZES[qtype]
        if n_cols % block or info.nbytes != n_rows * (n_cols // block) * type_size:
            return None
        row_bytes = n_cols // block * type_size

        def widen(raw: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
            rows = raw.shape[0]
            if out is None:
                out = np.empty((rows, n_cols), dtype=np.float32)
            n_blocks = rows * n_cols // block
            with np.errstate(all="ignore"):
                self._dequantize_blocks(
                    raw.reshape(n_blocks, type_size),
                    out.reshape(n_blocks, block),
                    qtype,
                    info,
                    max(1, _DEQUANT_CHUNK // block),
                    n_blocks,
                    block,
                )
            return out

        return StoredRows(
            name,
            qtype.name,
            n_rows,
            n_cols,
            row_bytes,
            offset,
            lambda a, b: self._read_rows(offset, row_bytes, a, b),
            widen,
            lambda: self._willneed(offset, info.nbytes),
            lambda: self._resident(offset, info.nbytes),
            lambda: self._drop(offset, info.nbytes),
        )

    def read(self, name: str) -> np.ndarray:
        info = self._by_name[name]
        _, qtype, _ = self._tensors[name]
        raw = self.read_raw(name)
        if qtype.name in DTYPES:  # F32/F16/BF16/F64 and the integer types: plain stored values
            return to_float32(raw.view(DTYPES[qtype.name][1]).reshape(info.shape), qtype.name)
        return self._dequantize(raw, qtype, info)

    def _dequantize(self, raw: np.ndarray, qtype: GGMLQuantizationType, info: TensorInfo) -> np.ndarray:
        block, type_size = GGML_QUANT_SIZES[qtype]
        n_blocks = info.nbytes // type_size
        out = alloc(n_blocks * block, np.float32, self.path, f"tensor {info.name!r}")
        blocks = raw.reshape(n_blocks, type_size)
        out_blocks = out.reshape(n_blocks, block)
        step = max(1, _DEQUANT_CHUNK // block)
        # NaN/inf scales are values a file may hold, not errors: no RuntimeWarning noise on stderr
        with np.errstate(all="ignore"):
            self._dequantize_blocks(blocks, out_blocks, qtype, info, step, n_blocks, block)
        return out.reshape(info.shape)

    def _dequantize_blocks(
        self,
        blocks: np.ndarray,
        out_blocks: np.ndarray,
        qtype: GGMLQuantizationType,
        info: TensorInfo,
        step: int,
        n_blocks: int,
        block: int,
    ) -> None:
        from gguf import quants

        try:
            for i in range(0, n_blocks, step):
                # One row per call: gguf.quants splits its input into groups of 16 rows with a Python
                # loop, so passing blocks as rows would cost one Python call per 16 blocks.
                if qtype == GGMLQuantizationType.Q8_0:
                    _dequantize_q8_0(blocks[i : i + step], out_blocks[i : i + step])
                    continue
                chunk = blocks[i : i + step].reshape(1, -1)
                out_blocks[i : i + step] = quants.dequantize(chunk, qtype).reshape(-1, block)
        except NotImplementedError:
            raise UnsupportedFormat(
                f"tensor {info.name!r}: the gguf package cannot dequantize {qtype.name}", self.path
            ) from None
