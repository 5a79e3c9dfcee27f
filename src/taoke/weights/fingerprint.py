"""Fingerprints: everything ``taoke compare`` needs from one model, computed in one streaming pass.

Fingerprint once, compare many (issue 4): a model is read tensor by tensor exactly once, reduced to a few
MB of invariants, and every comparison afterwards works on fingerprints only (well under a second).

What is stored, and why (sizes for Llama-2-7B: d=4096, 32 layers, ffn 11008, 32000 tokens; the whole
file measures 3.1 MB there, see ``bench/speed.py``):

- ``anchors``: match keys (canonical token bytes, :mod:`taoke.tokenizers.view`) of up to 1024 tokens
  chosen by a hash of their bytes. Hash selection is *consistent sampling*: two vocabularies pick the
  same tokens wherever they share them, whatever the ids, so a reordered or extended vocabulary still
  lines up (the same role AWM's shared-token selection plays, github.com/LUMIA-Group/AWM).
- ``embed``: the raw embedding rows of the first ``m_align`` anchors (``m_align * d`` fp16; 256 rows,
  2 MB at d=4096). Used to *find* the residual transformation (orthogonal Procrustes), i.e. to report
  which permutation/rotation/scaling a suspect applied; the verdict itself does not need it.
- ``inv``: per layer and component (qk, ov, ffn, gate) the ``m_inv x m_inv`` token-space invariants of
  :mod:`taoke.weights.invariants` (48x48, unit RMS, float16: 0.6 MB for 32 layers).
- ``rinv``: the same invariants with 32 fixed, seeded orthonormal probe vectors in place of the anchors
  (``Omega^T M Omega``): tied to the raw residual basis, so blind to a rotation, but independent of the
  embeddings. It is what catches a *partial* copy (blocks transplanted into a model that keeps its own
  embeddings) and gives an exact-in-spirit null: an independent model's residual basis is exchangeable.
- ``neurons``: per layer the gate pre-activations of the first k anchors for every FFN neuron
  (``[L, ffn, k]`` fp16, k chosen so this stays under 2 MB, omitted when that leaves fewer than 8
  anchors per neuron, as at 7B); recovers the neuron permutation.
- ``raw``: per canonical tensor a fixed, seeded sample of 256 raw values and its RMS: equal samples
  mean the same basis and layout (identical / renamed copy), different ones mean a transformed copy.
- ``vocab_hashes``: sorted 32-bit hashes of every match key, for vocabulary subset/extension checks.
- ``quant``: per matrix a seeded sample of whole quantization spans (256 values where the row length
  allows K-quant super-blocks, else 32; the same positions in any model of that shape, at most
  ``QUANT_VALUES`` values per tensor and ``QUANT_BUDGET`` in all): the raw block bytes where the tensor
  is stored block-quantized (GGUF Q4_0...Q8_0, K-quants), the float values otherwise. What the exact
  requantization check needs (issue 15.2, :func:`taoke.weights.alignment.requantization`).
- ``binv``: the same invariants on ``M_BASIS`` probe vectors taken from the model's own weights (the top
  right-singular vectors of the first block's folded FFN gate, signs fixed by the skew of the neuron
  loadings; :func:`weight_basis`): they rotate with the residual stream, so they line up a rotated copy
  without a single shared token or embedding row (issue 15.6; :mod:`taoke.weights.weightbasis`).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import zipfile
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from taoke.errors import AnalysisError, CorruptFile, SourceNotFound, TaokeError
from taoke.formats.base import DTYPES as DTYPE_NAMES
from taoke.formats.base import READAHEAD_WINDOW
from taoke.limits import Limits
from taoke.progress import Progress, no_progress
from taoke.release.bounded import parse_json
from taoke.weights.invariants import COMPONENTS, BlockInvariants, rms_rows, whiten_rows

FORMAT_VERSION = 1
M_ALIGN_MAX = 1024
M_INV = 48  # anchor tokens the invariants are evaluated on
M_PROBES = 32  # fixed probe vectors of the raw-basis invariants
RAW_SAMPLES = 256
M_BASIS = 24  # weight-derived probe vectors of the weight-basis invariants (binv)
QUANT_VALUES = 1024  # values per matrix in the quantization sample (quant)
QUANT_BUDGET = 1 << 18  # values over all matrices (1 MB as float32)
QUANT_SEED = 20240615
EMBED_BUDGET = 1 << 20  # values of anchor embedding rows kept (fp16 -> 2 MB)
NEURON_BUDGET = 1 << 20  # values of neuron profiles kept (fp16 -> 2 MB); skipped when < 8 per neuron
_BLOCK = re.compile(r"^blk\.(\d+)\.(\w+)\.weight$")
BLOCK_ROLES = (
    "attn_norm",
    "attn_q",
    "attn_k",
    "attn_v",
    "attn_output",
    "ffn_norm",
    "ffn_gate",
    "ffn_up",
    "ffn_down",
)


@dataclass
class QuantSample:
    """Seeded whole spans of one matrix as stored: block bytes (quantized) or float values (see ``quant``).

    ``rows``/``cols``: the row and first column of each span in the canonical (HF) orientation; ``span``:
    values per span; ``qtype``: the ggml type of the blocks ("Q4_1", "Q4_K"...) or the float storage
    dtype ("F16", "BF16", "F32"); ``data``: uint8 ``[n, bytes per span]`` or float32 ``[n, span]``.
    """

    qtype: str
    span: int
    rows: np.ndarray
    cols: np.ndarray
    data: np.ndarray

    @property
    def quantized(self) -> bool:
        return self.data.dtype == np.uint8


class ModelLike(Protocol):
    """What fingerprinting needs from :class:`taoke.model.Model` (docs/internals.md)."""

    name: str

    def canonical_keys(self) -> list[str]: ...

    def canonical(self, key: str) -> np.ndarray: ...


@dataclass
class Fingerprint:
    """The lineage-relevant summary of one model (see the module docstring for each field)."""

    name: str
    meta: dict[str, Any]
    anchors: list[bytes]
    anchor_ids: np.ndarray
    embed: np.ndarray
    inv: dict[str, np.ndarray]
    rinv: dict[str, np.ndarray]
    neurons: np.ndarray | None
    raw: dict[str, np.ndarray]
    rms: dict[str, float]
    vocab_hashes: np.ndarray
    layers: list[int] = field(default_factory=list)
    binv: dict[str, np.ndarray] = field(default_factory=dict)
    quant: dict[str, QuantSample] = field(default_factory=dict)

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def d_model(self) -> int:
        return int(self.meta["d_model"])

    def nbytes(self) -> int:
        """Bytes of the arrays as stored (float16 where the file uses float16), before compression."""
        half = [self.embed, *self.inv.values(), *self.rinv.values(), *self.binv.values()]
        if self.neurons is not None:
            half.append(self.neurons)
        full = [self.anchor_ids, self.vocab_hashes, *self.raw.values()]
        full += [a for q in self.quant.values() for a in (q.rows, q.cols, q.data)]
        return int(sum(a.size * 2 for a in half) + sum(a.nbytes for a in full))

    def save(self, path: str | Path) -> Path:
        """Write a compressed ``.npz`` (no pickles: every array is numeric, metadata is JSON text)."""
        path = Path(path)
        arrays: dict[str, np.ndarray] = {
            "meta": np.frombuffer(json.dumps(self._meta_json()).encode(), dtype=np.uint8),
            "anchors": _pack_bytes(self.anchors),
            "anchor_ids": self.anchor_ids.astype(np.int64),
            "embed": self.embed.astype(np.float16),
            "vocab_hashes": self.vocab_hashes.astype(np.uint32),
            "layers": np.asarray(self.layers, dtype=np.int64),
        }
        for comp, arr in self.inv.items():
            arrays[f"inv/{comp}"] = arr.astype(np.float16)
        for comp, arr in self.rinv.items():
            arrays[f"rinv/{comp}"] = arr.astype(np.float16)
        for comp, arr in self.binv.items():
            arrays[f"binv/{comp}"] = arr.astype(np.float16)
        if self.neurons is not None:
            arrays["neurons"] = self.neurons.astype(np.float16)
        keys = sorted(self.raw)
        if keys:
            arrays["raw"] = np.stack([self.raw[k] for k in keys]).astype(np.float32)
        for i, (_key, q) in enumerate(sorted(self.quant.items())):
            arrays[f"quant/{i}/pos"] = np.stack([q.rows, q.cols]).astype(np.int64)
            arrays[f"quant/{i}/data"] = q.data
        with open(path, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        return path

    def _meta_json(self) -> dict[str, Any]:
        return {
            "format": "taoke-fingerprint",
            "version": FORMAT_VERSION,
            "name": self.name,
            "meta": self.meta,
            "raw_keys": sorted(self.raw),
            "rms": self.rms,
            "quant": [[k, q.qtype, q.span] for k, q in sorted(self.quant.items())],
        }


def _pack_bytes(items: list[bytes]) -> np.ndarray:
    out = bytearray()
    for b in items:
        out += len(b).to_bytes(4, "little") + b
    return np.frombuffer(bytes(out), dtype=np.uint8)


def _unpack_bytes(arr: np.ndarray) -> list[bytes]:
    data, out, i = arr.tobytes(), [], 0
    while i < len(data):
        n = int.from_bytes(data[i : i + 4], "little")
        out.append(data[i + 4 : i + 4 + n])
        i += 4 + n
    return out


def is_fingerprint_file(path: str | Path) -> bool:
    """True when ``path`` is a taoke fingerprint (a zip holding ``meta.npy``)."""
    p = Path(path)
    if not p.is_file() or not zipfile.is_zipfile(p):
        return False
    try:
        with zipfile.ZipFile(p) as zf:
            return "meta.npy" in zf.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def load_fingerprint(path: str | Path) -> Fingerprint:
    """Read a fingerprint written by :meth:`Fingerprint.save`; malformed files raise ``CorruptFile``."""
    p = Path(path)
    if not p.exists():
        raise SourceNotFound("no such fingerprint file", p)
    z = _read_members(p)
    try:
        head = parse_json(z["meta"].tobytes(), p, what="fingerprint metadata")
        if not isinstance(head, dict) or head.get("format") != "taoke-fingerprint":
            raise CorruptFile("not a taoke fingerprint", p)
        version = head.get("version", 0)
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise CorruptFile("fingerprint version is not a non-negative integer", p)
        if version > FORMAT_VERSION:
            raise CorruptFile(f"fingerprint version {head.get('version')} is newer than this taoke", p)
        inv = {k.split("/", 1)[1]: z[k].astype(np.float32) for k in z if k.startswith("inv/")}
        rinv = {k.split("/", 1)[1]: z[k].astype(np.float32) for k in z if k.startswith("rinv/")}
        binv = {k.split("/", 1)[1]: z[k].astype(np.float32) for k in z if k.startswith("binv/")}
        raw_keys = head["raw_keys"]
        raw_arr = z["raw"] if "raw" in z else np.zeros((0, RAW_SAMPLES), np.float32)
        fp = Fingerprint(
            name=head["name"],
            meta=head["meta"],
            anchors=_unpack_bytes(z["anchors"]),
            anchor_ids=z["anchor_ids"],
            embed=z["embed"].astype(np.float32),
            inv=inv,
            rinv=rinv,
            neurons=z["neurons"].astype(np.float32) if "neurons" in z else None,
            raw={k: raw_arr[i] for i, k in enumerate(raw_keys)},
            rms={k: float(v) for k, v in head["rms"].items()},
            vocab_hashes=z["vocab_hashes"],
            layers=[int(x) for x in z["layers"]],
            binv=binv,
            quant=_load_quant(z, head.get("quant") or []),
        )
        _check_loaded(fp, raw_keys, raw_arr)
        return fp
    except (
        KeyError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        OverflowError,
        OSError,
        zipfile.BadZipFile,
        json.JSONDecodeError,
        UnicodeDecodeError,
    ) as exc:
        raise CorruptFile(f"unreadable fingerprint ({type(exc).__name__}: {exc})", p) from None


MAX_MEMBER_BYTES = 1 << 30
"""Largest array a fingerprint file may hold (real ones are a few MB: every part has a fixed budget)."""


def _read_members(p: Path) -> dict[str, np.ndarray]:
    """Every ``.npy`` member of fingerprint file ``p``, by name without ``.npy``, each read once.

    Checked before anything is allocated: no member expands past 200x its compressed size or
    :data:`MAX_MEMBER_BYTES`, each holds numbers (no Python objects, strings or zero-size items: a
    zero-byte dtype lets a shape of 10^18 items pass any size check), and each one's declared shape
    and dtype fit its declared size.

    WHY our own reader rather than ``np.load``: ``np.load`` of a zip member allocates ``prod(shape)``
    items from the ``.npy`` header before reading a byte (a 100-byte member claiming 10^11 floats asks
    for 373 GiB), and inflates a zip bomb whole. Fingerprint files are shared between teams, so they
    are untrusted input like a release. Checking the headers first and then letting ``np.load`` read
    the file again opened each of a 7B fingerprint's ~470 members twice (0.1 s of the 0.5 s a
    comparison of two fingerprint files takes).
    """
    out: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(p) as zf:
            for info in zf.infolist():
                if (
                    info.file_size > MAX_MEMBER_BYTES
                    or info.file_size > 200 * max(info.compress_size, 1) + 4096
                ):
                    raise CorruptFile(
                        f"fingerprint member {info.filename!r} expands to {info.file_size} bytes: refused", p
                    )
                if not info.filename.endswith(".npy"):
                    continue
                with zf.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    if version == (1, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                    else:
                        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
                    if dtype.hasobject:
                        raise CorruptFile(f"fingerprint member {info.filename!r} holds Python objects", p)
                    if dtype.kind not in "biuf" or dtype.itemsize == 0:  # the writer stores numbers only
                        raise CorruptFile(f"fingerprint member {info.filename!r} has dtype {dtype}", p)
                    nbytes = math.prod(shape) * dtype.itemsize
                    if nbytes > info.file_size:
                        raise CorruptFile(
                            f"fingerprint member {info.filename!r} claims {shape} {dtype} "
                            f"in {info.file_size} bytes",
                            p,
                        )
                    arr = np.empty(math.prod(shape), dtype=dtype)
                    buf = arr.view(np.uint8)
                    got = 0
                    while got < nbytes:  # in 1 MiB pieces: no second full-size copy
                        piece = fh.read(min(1 << 20, nbytes - got))
                        if not piece:
                            raise CorruptFile(f"fingerprint member {info.filename!r} is truncated", p)
                        buf[got : got + len(piece)] = np.frombuffer(piece, dtype=np.uint8)
                        got += len(piece)
                out[info.filename[: -len(".npy")]] = arr.reshape(shape, order="F" if fortran else "C")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise CorruptFile(f"unreadable fingerprint ({type(exc).__name__}: {exc})", p) from None
    return out


def _check_loaded(fp: Fingerprint, raw_keys: Any, raw_arr: np.ndarray) -> None:
    """The parts agree with each other and hold finite numbers (a ValueError here: CorruptFile).

    Comparisons index one part by another (anchor ids into embeddings, layers into invariants), so a
    file whose parts disagree would crash far from here or, worse, compare garbage."""
    if not isinstance(fp.name, str) or not isinstance(fp.meta, dict):
        raise ValueError("name or meta has the wrong type")
    if not isinstance(raw_keys, list) or not all(isinstance(k, str) for k in raw_keys):
        raise ValueError("raw_keys is not a list of names")
    if raw_arr.ndim != 2 or len(raw_keys) != raw_arr.shape[0]:
        raise ValueError(f"{len(raw_keys)} raw keys for raw samples of shape {raw_arr.shape}")
    n = len(fp.anchors)
    if fp.anchor_ids.ndim != 1 or fp.anchor_ids.dtype.kind != "i" or len(fp.anchor_ids) != n:
        raise ValueError(f"{n} anchors but anchor_ids of shape {fp.anchor_ids.shape}")
    if n and (fp.anchor_ids.min() < 0 or fp.anchor_ids.max() >= 1 << 32):
        raise ValueError("anchor ids out of range")
    # no rows at all is a compact fingerprint (the calibration sets): nothing is aligned through them
    if fp.embed.ndim != 2 or fp.embed.shape[0] not in (0, n):
        raise ValueError(f"{n} anchors but embeddings of shape {fp.embed.shape}")
    if fp.vocab_hashes.ndim != 1 or fp.vocab_hashes.dtype != np.uint32:
        raise ValueError("vocab_hashes is not a uint32 vector")
    layers = fp.layers
    if any(x < 0 or x >= 1 << 20 for x in layers) or len(set(layers)) != len(layers):
        raise ValueError("layer indices out of range or repeated")
    for part in (fp.inv, fp.rinv, fp.binv):
        for comp, arr in part.items():
            if arr.ndim != 3 or arr.shape[0] != len(layers) or arr.shape[1] != arr.shape[2]:
                raise ValueError(f"invariant {comp!r} of shape {arr.shape} for {len(layers)} layers")
    if fp.neurons is not None and (fp.neurons.ndim != 3 or fp.neurons.shape[0] != len(layers)):
        raise ValueError(f"neuron profiles of shape {fp.neurons.shape} for {len(layers)} layers")
    if not (np.isfinite(fp.embed).all() and np.isfinite(raw_arr).all()):
        raise ValueError("non-finite values")
    # NaN is the writer's own mark for "absent": a layer that lacks a component (its whole matrix NaN)
    # and the padding of narrower FFNs in the neuron profiles. Anything else non-finite is corrupt.
    for part in (fp.inv, fp.rinv, fp.binv):
        for arr in part.values():
            if np.isinf(arr).any():
                raise ValueError("non-finite values")
            nan = np.isnan(arr).reshape(len(arr), -1)
            if (nan.any(axis=1) & ~nan.all(axis=1)).any():
                raise ValueError("non-finite values")
    if fp.neurons is not None and np.isinf(fp.neurons).any():
        raise ValueError("non-finite values")
    if not all(isinstance(v, float) and math.isfinite(v) for v in fp.rms.values()):
        raise ValueError("non-finite rms")
    d = fp.meta.get("d_model")
    if d is not None and (isinstance(d, bool) or not isinstance(d, int) or not 0 < d <= 1 << 20):
        raise ValueError("meta d_model out of range")


def _load_quant(z: Any, index: Any) -> dict[str, QuantSample]:
    """The ``quant`` samples of a fingerprint file, checked: a malformed one is a ValueError (the caller
    reports CorruptFile), never a crash later in a comparison."""
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    if not isinstance(index, list):
        raise ValueError("quantization sample index is not a list")
    out = {}
    for i, item in enumerate(index):
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str)):
            raise ValueError(f"quantization sample {i} is malformed")
        key, qtype, span = item
        if not isinstance(span, int) or span not in (32, 256) or not isinstance(qtype, str):
            raise ValueError(f"quantization sample {key!r}: bad span or type")
        pos, data = z[f"quant/{i}/pos"], z[f"quant/{i}/data"]
        if pos.ndim != 2 or pos.shape != (2, len(data)) or data.ndim != 2 or pos.dtype.kind != "i":
            raise ValueError(f"quantization sample {key!r} is malformed")
        if data.dtype == np.uint8:
            if qtype not in GGMLQuantizationType.__members__:
                raise ValueError(f"quantization sample {key!r}: unknown block type {qtype!r}")
            block, size = GGML_QUANT_SIZES[GGMLQuantizationType[qtype]]
            if span % block or data.shape[1] != span // block * size:
                raise ValueError(f"quantization sample {key!r}: {data.shape[1]} bytes per span for {qtype}")
        elif data.dtype != np.float32 or data.shape[1] != span:
            raise ValueError(f"quantization sample {key!r}: bad values")
        out[key] = QuantSample(qtype, span, pos[0], pos[1], data)
    return out


def quant_sample(model: Any, key: str, w: np.ndarray, per_tensor: int) -> QuantSample | None:
    """The quantization sample of canonical matrix ``key`` (its float values ``w`` already read).

    Positions depend only on the shape (a seeded draw of whole spans), so two models of the same shape
    sample the same spans. A block-quantized tensor contributes its stored block bytes
    (:meth:`taoke.model.Model.canonical_blocks`), a float one its values. None for vectors and rows
    that are not whole 32-value blocks.
    """
    if w.ndim != 2 or (pos := quant_positions(w.shape[0], w.shape[1], per_tensor)) is None:
        return None
    n_rows, n_cols = w.shape
    rows, cols, span = pos
    blocks = None
    getter = getattr(model, "canonical_blocks", None)
    if callable(getter):
        try:
            blocks = getter(key)
        except Exception:  # blocks unreadable: fall back to the float values
            blocks = None
    if blocks is not None:
        qtype, raw = blocks
        per_span = raw.shape[1] * span // n_cols if raw.ndim == 2 and raw.shape[0] == n_rows else 0
        if per_span and raw.shape[1] * span % n_cols == 0:
            starts = (cols // span * per_span)[:, None] + np.arange(per_span)[None, :]
            data = raw[rows[:, None], starts]
            return QuantSample(qtype, span, rows, cols, np.ascontiguousarray(data, dtype=np.uint8))
    values = w[rows[:, None], cols[:, None] + np.arange(span)[None, :]].astype(np.float32)
    return QuantSample(_storage_dtype(model, key), span, rows, cols, values)


def quant_positions(n_rows: int, n_cols: int, per_tensor: int) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(rows, first columns, span) of the quantization sample of an ``n_rows x n_cols`` matrix: a seeded
    draw of whole spans that depends on the shape only. None where rows are not whole 32-value blocks."""
    if n_cols % 32 or not n_rows or not n_cols:
        return None
    span = 256 if n_cols % 256 == 0 else 32
    per_row = n_cols // span
    total = n_rows * per_row
    n = int(min(total, max(1, per_tensor // span)))
    rng = np.random.default_rng([QUANT_SEED, n_rows, n_cols])
    flat = np.sort(rng.choice(total, size=n, replace=False))
    return flat // per_row, (flat % per_row) * span, span


def raw_positions(size: int) -> np.ndarray:
    """Flat positions of the seeded raw sample of a tensor of ``size`` values (the same in every model)."""
    rng = np.random.default_rng(12345)
    return rng.integers(0, size, RAW_SAMPLES)


def _storage_dtype(model: Any, key: str) -> str:
    """The float dtype ``key`` is stored in ("F32" when unknown): it bounds the rounding of its values."""
    try:
        return str(model.tensor_infos[model.canonical_source(key)].dtype)
    except Exception:  # not a Model view (a test double): assume exact float32
        return "F32"


# --------------------------------------------------------------------------------------- token keys


def _hash32(key: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(key, digest_size=4).digest(), "little")


def _hash64(key: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(key, digest_size=8, person=b"taoke-anchor").digest(), "little")


def token_keys(model: Any) -> tuple[list[bytes | None], str]:
    """Per token id, the key that matches it across vocabularies (None: special/padding, not an anchor).

    The tokenizer engineer's :class:`~taoke.tokenizers.view.TokenizerView` (canonical bytes, any
    container incl. GGUF) when the model offers one or the release's tokenizer loads; otherwise ids are
    their own keys (identity alignment, reported as such).

    WHY no second reader: a tokenizer the loader refused (too big, malformed, a link leaving the
    release) must stay refused. An earlier fallback re-read ``tokenizer.json`` by its release-relative
    name, i.e. from the *current directory*, with an unbounded parser: it read a file outside the
    release and could fingerprint with another model's vocabulary.
    """
    view = None
    for attr in ("tokenizer_view", "tokenizer"):
        obj = getattr(model, attr, None)
        try:
            obj = obj() if callable(obj) else obj
        except Exception:  # an attribute of that name that is not a tokenizer view: ignore it
            obj = None
        if obj is not None and hasattr(obj, "keys") and hasattr(obj, "token_class"):
            view = obj
            break
    release = getattr(model, "release", None)
    if view is None and release is not None:
        try:
            from taoke.tokenizers.loaders import load_tokenizer

            view = load_tokenizer(release)
        except TaokeError:  # no or unreadable tokenizer: ids are their own keys
            view = None
    if view is not None:
        from taoke.tokenizers.view import SPECIAL

        keys = list(view.keys)
        cls = view.token_class
        return [None if (k is None or cls[i] == SPECIAL) else k for i, k in enumerate(keys)], "tokenizer"
    return [], "ids"


# --------------------------------------------------------------------------------------- fingerprinting


def _hparams(model: Any, keys: list[str]) -> dict[str, Any]:
    """Hyper-parameters from the model view (dict or HParams); gaps are filled from shapes later."""
    hp = getattr(model, "hparams", None)

    def get(name: str, default: Any = None) -> Any:
        if hp is None:
            return default
        v = hp.get(name) if isinstance(hp, dict) else getattr(hp, name, None)
        return default if v is None else v

    layers = {int(m.group(1)) for k in keys if (m := _BLOCK.match(k))}
    emb_shape = None
    info = getattr(model, "canonical_shape", None)
    if callable(info):
        emb_shape = info("token_embd.weight")
    d = get("d_model") or (emb_shape[1] if emb_shape else None)
    out = {
        "n_layers": len(layers),
        "d_model": d,
        "n_heads": get("n_heads"),
        "n_kv_heads": get("n_kv_heads") or get("n_heads"),
        "head_dim": get("head_dim"),
        "ffn_dim": get("ffn_dim"),
        "vocab_size": get("vocab_size"),
        "tied_embeddings": bool(get("tied_embeddings", "output.weight" not in keys)),
    }
    return out


def probes(d: int, k: int | None = None) -> np.ndarray:
    """The fixed probe vectors (``[k, d]``, orthogonal rows of unit RMS; ``k``: :data:`M_PROBES`) used
    for the raw-basis invariants."""
    k = M_PROBES if k is None else k
    rng = np.random.default_rng(20231114 + d)
    # Orthonormal rows (scaled to unit RMS): an isotropic part c*I of an invariant then maps to c*I and
    # drops out with the diagonal, instead of correlating any two models through Omega Omega^T.
    return whiten_rows(rng.standard_normal((k, d)), shrink=0.0) * np.sqrt(d)


def blas_limit(n_threads: int | None) -> Any:
    """Limit BLAS threads for small models: on a shared 2-core machine, multi-threaded BLAS on 64x64
    products spins and is 10x slower than one thread (measured: 2.2 s vs 0.16 s for a zoo model)."""
    from contextlib import nullcontext

    if n_threads is None:
        return nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it BLAS keeps its default threads
        return nullcontext()
    return threadpool_limits(limits=n_threads, user_api="blas")


def fingerprint(
    model: ModelLike | str | Path | Any,
    *,
    limits: Limits | None = None,
    progress: Progress = no_progress,
    cache: Any = None,
    device: str | None = None,
    threads: int | None = None,
    block_bytes: int | None = None,
    times: Any = None,
) -> Fingerprint:
    """Stream ``model`` once and return its :class:`Fingerprint`.

    ``model`` is a :class:`taoke.model.Model` (anything with ``canonical_keys()``/``canonical()``), or a
    source spec or release that :func:`taoke.model.load` opens for this one pass (and closes after).
    Each matrix is read once, ~2 MiB of stored rows at a time, reduced, and dropped
    (:mod:`taoke.weights.stream`). ``progress`` hears of each block done (task ``fingerprint``).

    >>> fp = fingerprint("path/to/model")            # doctest: +SKIP
    >>> fp.save("model.taoke.npz")                    # doctest: +SKIP

    ``cache``: a :class:`taoke.weights.cache.FingerprintCache`; a release whose content key is in it
    is not read again, and a new fingerprint is stored in it. ``device``: where the products run
    ("cpu", the default, or a torch device such as "cuda"; the same fingerprint within float32
    rounding, see :class:`taoke.weights.stream.TorchBackend`). ``threads``/``block_bytes``: the block
    pass's threads and block size (the result does not depend on them beyond float32 rounding);
    ``times``: a :class:`taoke.weights.stream.StreamTimes` to add read/widen/multiply seconds to.
    """
    from taoke.weights.stream import backend_for

    backend = backend_for(device)  # an unusable device is refused before anything is read
    if not getattr(backend, "exact", True):
        cache = None  # the cache holds exact fingerprints only: a rounded one must not stand in for one
    opened = hasattr(model, "canonical_keys") and hasattr(model, "canonical")
    if cache is not None or not opened:
        from taoke.release import Release, resolve

        if opened:
            release = getattr(model, "release", None)
        else:
            release = model if isinstance(model, Release) else resolve(str(model), limits=limits)
        key = None
        if cache is not None and isinstance(release, Release):
            key = cache.key(release)
            if key is not None and (hit := cache.get(key)) is not None:
                # the same bytes may sit under another name or folder: this release's, not the first's
                hit.name = release.name
                hit.meta["files"] = [str(p) for p in release.weight_files()][:16]
                return hit
        opts = {"device": device, "threads": threads, "block_bytes": block_bytes, "times": times}
        if opened:
            fp = fingerprint(model, progress=progress, **opts)
        else:
            from taoke.model import load

            with load(release, limits=limits) as view:
                fp = fingerprint(view, progress=progress, **opts)
        if cache is not None and key is not None:
            cache.put(key, fp)
        return fp
    from taoke.weights.stream import BLOCK_BYTES, default_threads

    n_threads = threads or default_threads()
    block_bytes = block_bytes or getattr(backend, "block_bytes", BLOCK_BYTES)
    # Our threads split the blocks; BLAS inside each stays on one thread (no oversubscription).
    with blas_limit(1):
        return _fingerprint(model, progress, _Pass(backend, n_threads, block_bytes, times))


@dataclass
class _Pass:
    """How the block pass runs (see :func:`fingerprint`)."""

    backend: Any
    threads: int
    block_bytes: int
    times: Any


DROP_MIN_BYTES = 8 << 20  # smaller tensors are not worth a mincore and a hint each


class _DropBehind:
    """Drop-behind for the fingerprint's single pass (issue 21): a matrix that was not in the page cache
    when the pass began is dropped from it once the pass has read it for the last time
    (:func:`taoke.formats.base.drop_pages`), so a cold 7B read recycles the same few hundred MB of page
    cache instead of filling memory. On this VM that is what a cold read costs beyond a warm one: the
    guest kernel's faults and reclaim for every new page. Matrices that were cached stay cached (the user
    may be about to load them); a stored tensor read under several names (a fused QKV, an embedding
    tied to the head) is dropped after its last one."""

    def __init__(self, cold: list[tuple[int, Any]]) -> None:
        self._queue = deque(sorted(cold, key=lambda e: e[0]))

    @classmethod
    def of(cls, uses: Any, crow: Any) -> _DropBehind:
        """From ``(key, position)`` pairs in pass order: each stored tensor's last position, kept where
        less than half of its pages are cached now."""
        last: dict[tuple[str, int], tuple[int, Any]] = {}
        for key, pos in uses:
            c = crow(key)
            if c is not None and c.rows.n_rows * c.rows.row_bytes >= DROP_MIN_BYTES:
                last[(c.rows.name, c.rows.offset)] = (pos, c.rows)
        cold = []
        for pos, rows in last.values():
            share = rows.resident()
            if share is not None and share < 0.5:
                cold.append((pos, rows))
        return cls(cold)

    def release(self, i: int) -> None:
        """Drop every cold tensor whose last read is before position ``i``."""
        while self._queue and self._queue[0][0] < i:
            self._queue.popleft()[1].drop()


def _fingerprint(model: Any, progress: Progress, how: _Pass) -> Fingerprint:
    from taoke.weights.stream import reduce

    # an insertion-ordered dict, not a list: membership is tested per block and role, and a hostile
    # release can hold hundreds of thousands of tensor names (a list made that quadratic, issue 16)
    keys = dict.fromkeys(model.canonical_keys())
    if "token_embd.weight" not in keys:
        raise AnalysisError(
            "no token embedding among the model's tensors: not a decoder LLM taoke can compare",
            # the path the user gave, where there is one: a release's name alone does not say which
            getattr(getattr(model, "release", None), "path", None) or getattr(model, "name", None),
        )
    raw: dict[str, np.ndarray] = {}
    rms: dict[str, float] = {}
    shapes: dict[str, list[int]] = {}

    quant: dict[str, QuantSample] = {}
    per_tensor = int(min(QUANT_VALUES, QUANT_BUDGET // max(1, len(keys))))

    def read(key: str) -> np.ndarray:
        """The whole tensor as float32 (vectors, and matrices without row access)."""
        w = np.asarray(model.canonical(key), dtype=np.float32)
        shapes[key] = list(w.shape)
        if (q := quant_sample(model, key, w, per_tensor)) is not None:
            quant[key] = q
        flat = w.reshape(-1)
        rms[key] = float(np.sqrt(np.dot(flat, flat) / flat.size)) if flat.size else 0.0
        if flat.size:
            raw[key] = flat[raw_positions(flat.size)].astype(np.float32)
        return w

    rows_of = getattr(model, "canonical_rows", None)

    def crow(key: str) -> Any:
        return rows_of(key) if callable(rows_of) and key in keys else None

    def stream(key: str, c: Any, **work: Any) -> Any:
        """One block pass over matrix ``key`` (row access ``c``): its samples, RMS and ``work``."""
        n_rows, n_cols = c.shape
        shapes[key] = [n_rows, n_cols]
        qpos = quant_positions(n_rows, n_cols, per_tensor)
        quantized = c.rows.dtype not in DTYPE_NAMES
        extra: dict[str, Any] = {}
        if qpos is not None:
            q_rows, q_cols, span = qpos
            if quantized:
                per_span = c.rows.row_bytes * span // n_cols
                extra["raw_spans"] = (q_rows, q_cols // span * per_span, per_span)
            else:
                extra["spans"] = (q_rows, q_cols, span)
        tp = reduce(
            c,
            samples=raw_positions(n_rows * n_cols),
            backend=how.backend,
            threads=how.threads,
            block_bytes=how.block_bytes,
            times=how.times,
            **extra,
            **work,
        )
        rms[key] = tp.rms
        raw[key] = tp.samples
        if qpos is not None:
            q_rows, q_cols, span = qpos
            if quantized:
                quant[key] = QuantSample(c.rows.dtype, span, q_rows, q_cols, tp.raw_spans)
            else:
                quant[key] = QuantSample(_storage_dtype(model, key), span, q_rows, q_cols, tp.spans)
        return tp

    layers = sorted({int(m.group(1)) for k in keys if (m := _BLOCK.match(k))})
    order = [f"blk.{li}.{role}.weight" for li in layers for role in BLOCK_ROLES]
    order += ["output_norm.weight", "output.weight"]
    order = [k for k in order if k in keys]
    emb_rows = crow("token_embd.weight")
    emb: np.ndarray | None = None
    if emb_rows is None:
        emb = read("token_embd.weight")
        vocab, d = emb.shape
    else:
        vocab, d = emb_rows.shape
    # A block is a layer of this model only if one of its tensors has the model's width: a release can
    # add tens of thousands of tiny tensors named like blocks (issue 16), which would otherwise each
    # become an empty layer of the fingerprint.
    shape_of = getattr(model, "canonical_shape", None)
    if callable(shape_of):
        wide = {li for li in layers if any(d in shape_of(k) for k in _block_keys(li, keys))}
        if len(wide) < len(layers):
            layers = [li for li in layers if li in wide]
            order = [k for k in order if not (m := _BLOCK.match(k)) or int(m.group(1)) in wide]
    window: deque[tuple[int, int]] = deque()  # (position in ``order``, stored bytes) hinted, not reached
    window_bytes = 0
    hinted = 0  # matrices of ``order`` hinted so far
    behind = _DropBehind.of([("token_embd.weight", -1), *((k, i) for i, k in enumerate(order))], crow)

    def read_ahead(i: int) -> None:
        """Have the disk read the matrices after ``order[i]`` while it is reduced: hints go out in
        order until READAHEAD_WINDOW bytes beyond it are requested. WHY a window, not the next matrix
        alone: a cold 90 MB matrix hinted one ahead was still being read when the block pass reached it
        (reads took 1.1 s against 0.34 s warm per 1.8 GB; hinted far enough ahead, 0.45 s). Each matrix
        enters and leaves the window once: linear in the number of matrices, whatever their sizes."""
        nonlocal hinted, window_bytes
        behind.release(i)
        while window and window[0][0] <= i:
            window_bytes -= window.popleft()[1]
        hinted = max(hinted, i + 1)
        while hinted < len(order) and window_bytes < READAHEAD_WINDOW:
            if (c := crow(order[hinted])) is not None:
                c.rows.willneed()
                window.append((hinted, c.rows.n_rows * c.rows.row_bytes))
                window_bytes += window[-1][1]
            hinted += 1

    hp = _hparams(model, keys)
    hp["d_model"] = int(hp.get("d_model") or d)
    hp["vocab_size"] = int(hp.get("vocab_size") or vocab)
    n_heads = int(hp["n_heads"] or 1)
    head_dim = int(hp["head_dim"] or d // n_heads)
    n_kv = int(hp["n_kv_heads"] or n_heads)
    hp.update(n_heads=n_heads, head_dim=head_dim, n_kv_heads=n_kv)

    tk, tk_source = token_keys(model)
    if not tk:
        tk = [b"<id:%d>" % i for i in range(vocab)]
    tk = tk[:vocab] + [None] * max(0, vocab - len(tk))
    valid = [(i, k) for i, k in enumerate(tk) if k]
    vocab_hashes = np.unique(np.fromiter((_hash32(k) for _, k in valid), dtype=np.uint32, count=len(valid)))
    ranked = sorted(valid, key=lambda ik: _hash64(ik[1]))
    m_align = max(M_INV, min(M_ALIGN_MAX, EMBED_BUDGET // max(d, 1), len(ranked)))
    chosen = ranked[:m_align]
    anchor_ids = np.asarray([i for i, _ in chosen], dtype=np.int64)
    anchors = [k for _, k in chosen]
    if emb is None:
        # the embedding is read in blocks: its samples and RMS, and only the anchor rows kept
        read_ahead(-1)  # the first matrices are read from disk while the embedding is
        x = stream("token_embd.weight", emb_rows, rows=anchor_ids).rows.astype(np.float64)
        behind.release(0)  # the embedding, unless tied to the head (read again last)
    else:
        x = emb[anchor_ids].astype(np.float64)
    embed = x.astype(np.float16)
    del emb
    xn = rms_rows(x[:M_INV])
    xw = whiten_rows(xn)
    omega = probes(d)
    basis, basis_meta = weight_basis(model, keys, layers, d, how.threads)
    # Remember: xw/omega are whitened (orthonormal rows); xn is the real, RMS-normalised input.

    inv_lists: dict[str, list[np.ndarray]] = {c: [] for c in COMPONENTS}
    rinv_lists: dict[str, list[np.ndarray]] = {c: [] for c in COMPONENTS}
    binv_lists: dict[str, list[np.ndarray]] = {c: [] for c in COMPONENTS}
    present: dict[str, list[bool]] = {c: [] for c in COMPONENTS}
    ffn_dims = [0]
    profiles: list[np.ndarray | None] = []
    ffn_guess = _ffn_width(model, keys)
    k_neur = int(min(NEURON_BUDGET // max(1, ffn_guess * max(1, len(layers))), M_INV)) if ffn_guess else 0
    if k_neur < 8 or d >= 1024:
        # Too few anchors per neuron to match neurons reliably, or a wide model where the extra rows
        # would cost more compute than the whole lineage test: keep the file small and fast instead.
        k_neur = 0
    offset = norm_offset(model)
    position = {k: i for i, k in enumerate(order)}

    def feed(blk: BlockInvariants, role: str, key: str) -> int | None:
        """Reduce one tensor of the block into ``blk``; its row count (for the FFN width)."""
        read_ahead(position[key])
        c = crow(key) if role not in ("attn_norm", "ffn_norm") else None
        if c is None:
            w = read(key)
            if role == "attn_norm":
                blk.set_gain("attn", w + offset)
            elif role == "ffn_norm":
                blk.set_gain("ffn", w + offset)
            else:
                blk.add(role, w)
            return int(w.shape[0]) if w.ndim else None
        side, probe_rows = blk.input_for(role, c.shape)
        if side is None:
            stream(key, c)
        else:
            tp = stream(key, c, **{side: how.backend.prepare(probe_rows)})
            blk.parts[role] = tp.right if side == "right" else tp.left
        return int(c.shape[0])

    for li in layers:
        groups = {"anchors": xw, "probes": omega, "neurons": xn[:k_neur] if k_neur else xn[:0]}
        if basis is not None:
            groups["basis"] = basis
        blk = BlockInvariants(groups, n_heads, n_kv, head_dim)
        attn_gain, ffn_gain = gain_keys(keys, li)
        for which, gkey in (("attn", attn_gain), ("ffn", ffn_gain)):
            if gkey is not None and not _BLOCK_NORM.match(gkey):  # a post-norm gain: another block's
                blk.set_gain(which, np.asarray(model.canonical(gkey), dtype=np.float32) + offset)
        for role in BLOCK_ROLES:
            key = f"blk.{li}.{role}.weight"
            if key not in keys:
                continue
            rows_out = feed(blk, role, key)
            if role == "ffn_gate" and rows_out is not None:
                ffn_dims.append(rows_out)
        gp = blk.group("neurons", "ffn_gate")
        profiles.append(gp.T.astype(np.float32) if gp is not None and k_neur else None)
        inv = blk.finish("anchors")
        rinv = blk.finish("probes")
        binv = blk.finish("basis") if basis is not None else {}
        for c in COMPONENTS:
            present[c].append(c in inv)
            inv_lists[c].append(inv.get(c, np.full((len(xn), len(xn)), np.nan, np.float32)))
            rinv_lists[c].append(rinv.get(c, np.full((len(omega), len(omega)), np.nan, np.float32)))
            if basis is not None:
                binv_lists[c].append(binv.get(c, np.full((len(basis), len(basis)), np.nan, np.float32)))
        progress(
            "fingerprint", len(profiles), len(layers), item=str(getattr(model, "name", "") or "") or None
        )
    for key in ("output_norm.weight", "output.weight"):
        if key in keys:
            c = crow(key) if key == "output.weight" else None
            if c is not None:
                stream(key, c)
            else:
                read(key)
    behind.release(len(order) + 1)
    # Biases (Qwen2's q/k/v, GPT-NeoX's and BERT's everywhere; issue 15.5) are left out of the invariants,
    # which are bilinear in the weights, but travel in the raw samples: an identical copy keeps them.
    for key in keys:
        if key.endswith(".bias") and key not in raw:
            read(key)
    inv_arr = {c: _unit_rms(np.stack(v)) for c, v in inv_lists.items() if v and any(present[c])}
    rinv_arr = {c: _unit_rms(np.stack(v)) for c, v in rinv_lists.items() if v and any(present[c])}
    binv_arr = {c: _unit_rms(np.stack(v)) for c, v in binv_lists.items() if v and any(present[c])}
    neurons = None
    fmax = max(ffn_dims)
    if fmax and profiles and all(p is not None for p in profiles):
        neurons = np.full((len(layers), fmax, k_neur), np.nan, np.float32)
        for i, p in enumerate(profiles):
            neurons[i, : p.shape[0]] = p
    hp["ffn_dim"] = int(hp.get("ffn_dim") or fmax)
    stored = {}
    roles = getattr(model, "roles", None)
    if isinstance(roles, dict):
        stored = {str(k): getattr(v, "canonical", None) for k, v in roles.items()}
    fam = getattr(model, "family", None)
    meta = {
        **hp,
        "layers": layers,
        "arch": getattr(fam, "arch", None) if fam is not None else None,
        "hf_class": getattr(fam, "hf_class", None) if fam is not None else None,
        "renamed": bool(getattr(fam, "renamed", False)) if fam is not None else False,
        "format": getattr(model, "format", None),
        "canonical_keys": keys,
        "stored_names": sorted(stored) if stored else [],
        "fused": sorted({str(k) for k, v in (roles or {}).items() if getattr(v, "fused", None)})
        if isinstance(roles, dict)
        else [],
        "token_keys_from": tk_source,
        "n_vocab_keys": len(valid),
        "dtypes": _dtypes(model),
        "shapes": shapes,
        "files": [str(getattr(f, "path", f)) for f in (getattr(model, "files", None) or [])][:16],
        "weight_basis": basis_meta,
    }
    if not getattr(how.backend, "exact", True):
        meta["products"] = how.backend.name  # rounded products (cpu-bf16): said wherever it is shown
    return Fingerprint(
        name=str(getattr(model, "name", "model")),
        meta=meta,
        anchors=anchors,
        anchor_ids=anchor_ids,
        embed=embed.astype(np.float32),
        inv=inv_arr,
        rinv=rinv_arr,
        neurons=neurons,
        raw=raw,
        rms=rms,
        vocab_hashes=vocab_hashes,
        layers=layers,
        binv=binv_arr,
        quant=quant,
    )


_BLOCK_NORM = re.compile(r"^blk\.\d+\.(attn_norm|ffn_norm)\.weight$")


def norm_offset(model: Any) -> float:
    """What to add to a stored norm weight to get the gain the model multiplies by (issue 15.5).

    Gemma's RMSNorm computes ``x * (1 + w)`` and stores ``w`` (near 0 after training, exactly 0 at init):
    folding ``w`` itself into the probes would zero the invariants instead of applying the gain. The
    family table says so (``Family.norm_offset``); GGUF views already give the HF value (the converter's
    +1 is undone), so the same offset applies to both.
    """
    info = getattr(model, "family_info", None)
    return float(getattr(info, "norm_offset", 0.0) or 0.0)


def _block_keys(li: int, keys: Collection[str]) -> list[str]:
    """The canonical keys of block ``li``'s lineage roles that the model holds."""
    return [k for r in BLOCK_ROLES if (k := f"blk.{li}.{r}.weight") in keys]


def gain_keys(keys: Collection[str], li: int) -> tuple[str | None, str | None]:
    """The canonical keys of the norm gains that feed block ``li``'s attention and its FFN.

    Pre-norm blocks (LLaMA, Gemma, Qwen2, Phi-3, and GPT-NeoX's parallel attention, whose two LayerNorms
    both read the block input) normalise inside the block: ``attn_norm`` and ``ffn_norm``. BERT's
    post-norm block (Vaswani et al. 2017; Devlin et al. 2019) normalises *after* each residual add, so
    the attention reads the previous block's ``layer_output_norm`` (the embedding LayerNorm for block
    0) and the FFN reads this block's ``attn_output_norm``. None where no such gain is stored.
    """
    ks = keys if isinstance(keys, (set, frozenset, dict)) else set(keys)

    def have(k: str) -> str | None:
        return k if k in ks else None

    pre_attn, pre_ffn = have(f"blk.{li}.attn_norm.weight"), have(f"blk.{li}.ffn_norm.weight")
    if pre_attn or pre_ffn or f"blk.{li}.attn_output_norm.weight" not in ks:
        return pre_attn, pre_ffn
    prev = f"blk.{li - 1}.layer_output_norm.weight" if li > 0 else "token_embd_norm.weight"
    return have(prev), have(f"blk.{li}.attn_output_norm.weight")


def weight_basis(
    model: Any, keys: list[str], layers: list[int], d: int, threads: int | None = None
) -> tuple[np.ndarray | None, Any]:
    """Probe vectors from the model's own weights: ``[k, d]`` rows of unit RMS, and what they came from.

    WHY: the basis-free statistic lines two residual streams up through the embeddings of shared tokens;
    a copy that replaced its tokenizer and embeddings, then rotated the residual stream, shares none
    (issue 15.6). The blocks themselves carry a basis that rotates with the stream: the right-singular
    vectors of the first block's FFN gate with its RMSNorm gain folded in (``W diag(g)``, so the allowed
    rescalings cancel). For a rotated copy ``W' = W Q`` they are ``Q^T v``; the neuron loadings ``W v``
    are the same multiset in any neuron order, so the sign making their third moment positive is the
    same too. The top ``M_BASIS`` (by singular value) are kept: exact eigenvectors of ``W^T W`` up to
    d = 2048, a randomized range finder with power iterations above (Halko, Martinsson & Tropp 2011).
    None when the first block has no gate or up projection of this width.
    """
    if not layers:
        return None, None
    li = layers[0]
    wkey = next(
        (f"blk.{li}.{r}.weight" for r in ("ffn_gate", "ffn_up") if f"blk.{li}.{r}.weight" in keys), None
    )
    if wkey is None:
        return None, None
    from taoke.weights.stream import BLOCK_BYTES, default_threads, in_order

    threads = threads or default_threads()
    rows_of = getattr(model, "canonical_rows", None)
    c = rows_of(wkey) if callable(rows_of) else None
    if c is None:
        w = np.asarray(model.canonical(wkey), dtype=np.float32)
        if w.ndim != 2 or w.shape[1] != d:
            return None, None
        n_rows, per = w.shape[0], 1024

        def block(i: int) -> np.ndarray:
            return w[i * per : (i + 1) * per]
    else:
        # Only the stored bytes are held (bf16: half a float32 copy); each pass widens ~2 MiB at a time.
        n_rows, n_cols = c.shape
        if n_cols != d:
            return None, None
        lo, hi = int(c.index.min()), int(c.index.max()) + 1
        stored = c.rows.read(lo, hi)
        per = max(1, BLOCK_BYTES // max(1, c.rows.row_bytes))

        def block(i: int) -> np.ndarray:  # rows in stored order: every use below is a sum over rows
            return c.rows.widen(stored[i * per : (i + 1) * per], None)

    n_blocks = -(-n_rows // per)
    g = np.ones(d)
    nkey = gain_keys(keys, li)[1]
    if nkey is not None:
        gain = np.asarray(model.canonical(nkey), dtype=np.float64).reshape(-1) + norm_offset(model)
        if gain.shape[0] == d and np.isfinite(gain).all():
            g = gain
    g32 = g.astype(np.float32)

    def total(job: Any) -> Any:
        """The sum over row blocks of ``job(block index)``, blocks on all cores, summed in block order."""
        out = None
        for part in in_order(job, n_blocks, threads):
            out = part if out is None else out + part
        return out

    if total(lambda i: int(np.isfinite(block(i)).all())) != n_blocks:
        return None, None

    def gram_times(y: np.ndarray) -> np.ndarray:
        """``(W diag(g))^T (W diag(g)) y``, one row block at a time, never the d x d Gram matrix (at
        d = 4096 forming it costs 2 * ffn * d^2 flops, 40x these products): float32 products (the
        stored values are float32-exact), float64 sums; the subspace iteration below absorbs the
        rounding (the 7B-shaped weight-basis invariants equal the float64 ones to one float16 step)."""
        y32 = y.astype(np.float32)

        def job(i: int) -> np.ndarray:
            wb = block(i) * g32[None, :]
            return (wb.T @ (wb @ y32)).astype(np.float64)

        return total(job)

    k = min(M_BASIS, d, n_rows)
    if d <= 2048:

        def gram_job(i: int) -> np.ndarray:
            wb = block(i).astype(np.float64) * g[None, :]
            return wb.T @ wb

        vals, vecs = np.linalg.eigh(total(gram_job))
        v = vecs[:, ::-1][:, :k]
    else:
        rng = np.random.default_rng(20240615)
        y = gram_times(rng.standard_normal((d, k + 16)))
        for _ in range(6):
            y, _r = np.linalg.qr(y)
            y = gram_times(y)
        q, _r = np.linalg.qr(y)
        vals, vecs = np.linalg.eigh(q.T @ gram_times(q))
        v = q @ vecs[:, ::-1][:, :k]
    # third moment of the neuron loadings (W diag(g)) v, by row blocks too
    loads = total(lambda i: np.sum(((block(i).astype(np.float64) * g[None, :]) @ v) ** 3, axis=0))
    signs = np.sign(loads)
    signs[signs == 0] = 1.0
    basis = (v * signs[None, :]).T * np.sqrt(d)
    return basis.astype(np.float32), {"layer": li, "tensor": wkey.split(".")[2], "k": int(k)}


def _unit_rms(stack: np.ndarray) -> np.ndarray:
    """Scale each layer's matrix to unit RMS and round to float16 precision.

    Every comparison is a correlation (scale-free), so the scale carries no information; unit scale makes
    float16 storage safe from overflow and halves the file.
    """
    out = np.asarray(stack, dtype=np.float64).copy()
    for i in range(out.shape[0]):
        r = np.sqrt(np.nanmean(out[i] ** 2)) if np.isfinite(out[i]).any() else 0.0
        if r > 0:
            out[i] /= r
    return out.astype(np.float16).astype(np.float32)


def _ffn_width(model: Any, keys: list[str]) -> int:
    """FFN width from hparams (no tensor read); 0 when unknown (neuron profiles are then skipped)."""
    hp = getattr(model, "hparams", None)
    v = hp.get("ffn_dim") if isinstance(hp, dict) else getattr(hp, "ffn_dim", None)
    if v:
        return int(v)
    shape = getattr(model, "canonical_shape", None)
    if callable(shape) and "blk.0.ffn_gate.weight" in keys:
        try:
            return int(shape("blk.0.ffn_gate.weight")[0])
        except Exception:  # shape unknown without reading: skip neuron profiles
            return 0
    return 0


def _dtypes(model: Any) -> list[str]:
    infos = getattr(model, "tensor_infos", None)
    if not isinstance(infos, dict):
        return []
    out = set()
    for info in infos.values():
        dt = getattr(info, "dtype", None)
        if dt is not None:
            out.add(str(dt))
    return sorted(out)
