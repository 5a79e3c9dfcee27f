"""The Model view: one release, whatever its files, seen through canonical tensor roles.

Every analyzer reads models through this view so that none of them needs to know that Yi calls
``input_layernorm`` ``ln1``, that Baichuan fuses q/k/v into ``W_pack``, that GPT-2 stores Conv1D weights
``[in, out]`` or that llama.cpp permuted the rows of ``attn_q``/``attn_k``. Canonical keys are GGUF tensor
names (``blk.3.attn_q.weight``) and canonical arrays are float32 in Hugging Face orientation (linear
weights ``[out, in]``, q/k in HF's rotate_half layout, fused tensors split).

Reads are lazy: headers are parsed at :func:`load`, tensor bytes only on :meth:`Model.read` /
:meth:`Model.canonical`, one tensor at a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from taoke.errors import CorruptFile, TaokeError
from taoke.families import (
    GGUF_KEYS,
    HPARAM_KEYS,
    Family,
    FamilyMatch,
    canonical_name,
    family,
    identify,
    is_ignored,
    mapper_for_family,
)
from taoke.formats import FileSummary, TensorFile, TensorInfo, open_tensor_file
from taoke.formats.base import DTYPES, CanonicalRows
from taoke.limits import Limits, current_limits
from taoke.release import ModelCard, Release, find_license_files, load_card, load_config, resolve
from taoke.release.numbers import check_config, check_float, check_int

__all__ = ["HParams", "Model", "Role", "load", "permute_rope", "unpermute_rope"]

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
    "vocab.txt",
    "special_tokens_map.json",
    "added_tokens.json",
    "spiece.model",
    "sentencepiece.bpe.model",
    "qwen.tiktoken",
    "tokenizer.tiktoken",
)


def permute_rope(w: np.ndarray, n_heads: int) -> np.ndarray:
    """llama.cpp's convert_hf_to_gguf permutation of q/k rows (HF rotate_half -> interleaved pairs)."""
    return w.reshape(n_heads, 2, w.shape[0] // n_heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute_rope(w: np.ndarray, n_heads: int) -> np.ndarray:
    """Inverse of :func:`permute_rope`: GGUF q/k rows back to Hugging Face's rotate_half layout."""
    return w.reshape(n_heads, w.shape[0] // n_heads // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


@dataclass
class HParams:
    """Hyper-parameters, each from the config, GGUF metadata or tensor shapes (``source`` says which).

    :data:`SHAPE_FIELDS` and :data:`INT_FIELDS` are the one list of their names that every reader of
    hyper-parameters (fingerprint summaries, renderers) uses.
    """

    # the sizes that fix tensor shapes; with the context length, the integer-valued fields
    SHAPE_FIELDS: ClassVar[tuple[str, ...]] = (
        "n_layers",
        "d_model",
        "n_heads",
        "n_kv_heads",
        "head_dim",
        "ffn_dim",
        "vocab_size",
    )
    INT_FIELDS: ClassVar[tuple[str, ...]] = (*SHAPE_FIELDS, "context_length")

    n_layers: int | None = None
    d_model: int | None = None
    n_heads: int | None = None
    n_kv_heads: int | None = None
    head_dim: int | None = None
    ffn_dim: int | None = None
    vocab_size: int | None = None
    context_length: int | None = None
    rope_theta: float | None = None
    rope_scaling: dict[str, Any] | None = None
    norm_eps: float | None = None
    tied_embeddings: bool | None = None
    source: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class Role:
    """The canonical role of one stored tensor.

    canonical: the GGUF name of the role (``blk.3.attn_q.weight``); for a fused tensor, the GGUF name
    llama.cpp would give the fused tensor (``blk.3.attn_qkv.weight``) and ``parts`` the canonical keys it
    splits into. hf_name: the name the identified family's canonical HF layout uses for this role.
    """

    tensor_type: str
    block: int | None
    canonical: str
    parts: tuple[str, ...] | None = None
    hf_name: str | None = None
    fused_layout: str | None = None

    @property
    def fused(self) -> bool:
        """Whether this stored tensor holds several canonical tensors (split by :meth:`Model.canonical`)."""
        return bool(self.parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tensor_type": self.tensor_type,
            "block": self.block,
            "canonical": self.canonical,
            "parts": list(self.parts) if self.parts else None,
            "hf_name": self.hf_name,
            "fused_layout": self.fused_layout,
        }


@dataclass(frozen=True, slots=True)
class _Plan:
    """How to make one canonical array: which stored tensor, which slice, which transforms."""

    stored: str
    ttype: str
    part: int | None = None  # index into the fused tensor's parts
    n_parts: int | None = None


class _FileOf:
    """tensor name -> the file holding it, read from the tensors' records (``TensorInfo.file``, the key
    of the file's handle) instead of a dict of its own: one entry less per tensor (issue 16)."""

    __slots__ = ("_infos",)

    def __init__(self, infos: dict[str, TensorInfo]) -> None:
        self._infos = infos

    def __getitem__(self, name: str) -> str:
        return self._infos[name].file

    def __contains__(self, name: object) -> bool:
        return name in self._infos

    def __len__(self) -> int:
        return len(self._infos)


class Model:
    """A lazily-read release seen through canonical roles. Build with :func:`load`."""

    def __init__(self, release: Release, limits: Limits) -> None:
        self.release = release
        self.limits = limits
        self.name: str = release.name
        self.config: dict[str, Any] = {}
        self.files: list[FileSummary] = []
        self.tensor_infos: dict[str, TensorInfo] = {}
        self.gguf_metadata: dict[str, Any] = {}
        self.alternatives: list[str] = []  # other GGUF files of the same release (other quantizations)
        self.format: str | None = None
        self.roles: dict[str, Role] = {}
        self.hparams = HParams()
        self.family = FamilyMatch(None, None, None, None, 0.0)
        self.tokenizer_files: list[str] = []
        self.code_files: list[str] = []
        self.license_files: list[str] = []
        self.card: ModelCard | None = None  # README front matter (metadata) and text
        self.card_error: str | None = None  # why the card could not be read (also in warnings)
        self.warnings: list[str] = []  # problems with side files (card) that do not stop the view
        self._handles: dict[str, TensorFile] = {}
        self._owner = _FileOf(self.tensor_infos)  # tensor -> file (from its TensorInfo: no dict more)
        self._plans: dict[str, _Plan] = {}
        self._n_params: tuple[int, int] | None = None  # (tensors counted, parameters)

    # -- reading --------------------------------------------------------------------------------
    @property
    def is_gguf(self) -> bool:
        return self.format == "gguf"

    @property
    def family_info(self) -> Family | None:
        """The families.json entry of the identified family (None when unknown)."""
        if self.family.family is None:
            return None
        try:
            return family(self.family.family)
        except KeyError:
            return None

    def read(self, stored_name: str) -> np.ndarray:
        """The stored tensor as float32 (dequantized), exactly as stored: no renaming or reorientation."""
        if stored_name not in self._owner:
            raise KeyError(stored_name)
        return self._handles[self._owner[stored_name]].read(stored_name)

    def gguf_files(self) -> list[tuple[str, Any]]:
        """(relative path, reader) of each GGUF file of the view; a reader's ``keys()``,
        ``field_type(key)`` and ``field(key)`` give every metadata entry (``taoke inspect --metadata``)."""
        return [
            (self.release.relative(Path(h.path)), h)
            for h in self._handles.values()
            if getattr(h, "format", None) == "gguf"
        ]

    def gguf_field(self, key: str) -> Any:
        """A GGUF metadata value (full arrays included), None when absent or not a GGUF release."""
        for handle in self._handles.values():
            fieldfn = getattr(handle, "field", None)
            if fieldfn is None:
                continue
            try:
                return fieldfn(key)
            except KeyError:
                continue
        return None

    def canonical_keys(self) -> list[str]:
        """Canonical (GGUF-named) keys, fused tensors already split, in storage order."""
        return list(self._plans)

    def canonical_source(self, key: str) -> str:
        """The stored tensor a canonical key is made from."""
        return self._plans[key].stored

    def canonical_info(self, key: str) -> tuple[str, int | None, str]:
        """(tensor type, block, suffix) of a canonical key, e.g. ("ATTN_Q", 3, ".weight")."""
        plan = self._plans[key]
        role = self.roles[plan.stored]
        suffix = ".bias" if key.endswith(".bias") else (".weight" if key.endswith(".weight") else "")
        return self._plan_type(plan), role.block, suffix

    def canonical_shape(self, key: str) -> tuple[int, ...]:
        """Shape of :meth:`canonical` (``key``) from the headers alone, without reading the tensor."""
        plan = self._plans[key]
        shape = tuple(self.tensor_infos[plan.stored].shape)
        fam = self.family_info
        if fam is not None and not self.is_gguf and plan.ttype in fam.hf_transposed and len(shape) == 2:
            shape = shape[::-1]
        if plan.part is None or fam is None:
            return shape
        rows = shape[0]
        if fam.fused[plan.ttype].layout == "groups" and not self.is_gguf:
            n_heads = self.hparams.n_heads or 1
            kv = self.hparams.n_kv_heads or n_heads
            hd = rows // (n_heads + 2 * kv)
            return ((n_heads if plan.part == 0 else kv) * hd, *shape[1:])
        sizes = self.part_sizes(plan.ttype, rows)
        if sizes is None:
            raise CorruptFile(
                f"{plan.stored}: cannot split {rows} rows into {'/'.join(fam.fused[plan.ttype].parts)}",
                self._owner[plan.stored],
            )
        return (sizes[plan.part], *shape[1:])

    def canonical(self, key: str) -> np.ndarray:
        """The canonical tensor ``key`` as float32 in HF orientation (see the module docstring)."""
        plan = self._plans.get(key)
        if plan is None:
            raise KeyError(key)
        arr = self.read(plan.stored)
        if arr.dtype != np.float32:
            arr = arr.astype(np.float32)
        fam = self.family_info
        if fam is not None and not self.is_gguf and plan.ttype in fam.hf_transposed and arr.ndim == 2:
            arr = arr.T
        if plan.part is not None:
            arr = self._split(plan, arr, fam)
        part_type = self._plan_type(plan)
        if fam is not None and self.is_gguf:
            if fam.gguf_rope_permuted and part_type in ("ATTN_Q", "ATTN_K"):
                heads = (
                    self.hparams.n_heads
                    if part_type == "ATTN_Q"
                    else (self.hparams.n_kv_heads or self.hparams.n_heads)
                )
                if heads and arr.shape[0] % (2 * heads) == 0:
                    arr = unpermute_rope(arr, heads)
            if fam.gguf_norm_shift and key.endswith("norm.weight"):
                arr = arr - np.float32(fam.gguf_norm_shift)
        return np.ascontiguousarray(arr, dtype=np.float32)

    def canonical_rows(self, key: str) -> CanonicalRows | None:
        """Row-block access to canonical matrix ``key`` without reading it (:class:`CanonicalRows`):
        the same values as :meth:`canonical` row for row, read ~MiB at a time by the fingerprint's
        block reader (issue 21). None where a canonical row is not one stored row (a transposed
        Conv1D weight, a head-grouped fused qkv) or the reader has no row access: read it whole."""
        plan = self._plans.get(key)
        if plan is None:
            return None
        info = self.tensor_infos[plan.stored]
        fam = self.family_info
        if len(info.shape) != 2 or (fam is not None and not self.is_gguf and plan.ttype in fam.hf_transposed):
            return None
        getter = getattr(self._handles[self._owner[plan.stored]], "stored_rows", None)
        rows = getter(plan.stored) if getter is not None else None
        if rows is None:
            return None
        start, n = 0, rows.n_rows
        if plan.part is not None:
            if fam is None or (fam.fused[plan.ttype].layout == "groups" and not self.is_gguf):
                return None
            sizes = self.part_sizes(plan.ttype, rows.n_rows)
            if sizes is None:
                return None
            start, n = sum(sizes[: plan.part]), sizes[plan.part]
        index = np.arange(start, start + n, dtype=np.int64)
        part_type = self._plan_type(plan)
        if fam is not None and self.is_gguf and fam.gguf_rope_permuted and part_type in ("ATTN_Q", "ATTN_K"):
            heads = (
                self.hparams.n_heads
                if part_type == "ATTN_Q"
                else (self.hparams.n_kv_heads or self.hparams.n_heads)
            )
            if heads and n % (2 * heads) == 0:
                index = unpermute_rope(index, heads)
        return CanonicalRows(rows, np.ascontiguousarray(index))

    def canonical_blocks(self, key: str) -> tuple[str, np.ndarray] | None:
        """The stored quantization blocks of canonical tensor ``key``, untouched: (ggml type name, uint8
        ``[rows, bytes per row]``) in the rows of :meth:`canonical` (fused parts split, llama.cpp's q/k
        row permutation undone: blocks never cross a row, so rows move whole). None when the tensor is
        not block-quantized (plain float storage) or not a matrix. What the exact requantization check
        of ``taoke compare`` compares bit for bit (issue 15.2)."""
        plan = self._plans.get(key)
        if plan is None or not self.is_gguf:
            return None
        info = self.tensor_infos[plan.stored]
        read_raw = getattr(self._handles[self._owner[plan.stored]], "read_raw", None)
        if info.dtype in DTYPES or len(info.shape) != 2 or read_raw is None:
            return None
        raw = read_raw(plan.stored).reshape(info.shape[0], -1)
        fam = self.family_info
        if plan.part is not None:
            raw = self._split(plan, raw, fam)
        part_type = self._plan_type(plan)
        if fam is not None and fam.gguf_rope_permuted and part_type in ("ATTN_Q", "ATTN_K"):
            heads = (
                self.hparams.n_heads
                if part_type == "ATTN_Q"
                else (self.hparams.n_kv_heads or self.hparams.n_heads)
            )
            if heads and raw.shape[0] % (2 * heads) == 0:
                raw = unpermute_rope(raw, heads)
        return info.dtype, np.ascontiguousarray(raw)

    def _plan_type(self, plan: _Plan) -> str:
        if plan.part is None:
            return plan.ttype
        fam = self.family_info
        assert fam is not None
        return fam.fused[plan.ttype].parts[plan.part]

    def part_sizes(self, ttype: str, rows: int) -> list[int] | None:
        """Row counts of the parts of a fused ``ttype`` with ``rows`` rows, or None when they don't add up."""
        fam = self.family_info
        if fam is None or ttype not in fam.fused:
            return None
        parts = fam.fused[ttype].parts
        hp = self.hparams
        hd = hp.head_dim or (hp.d_model // hp.n_heads if hp.d_model and hp.n_heads else None)
        sizes: list[int | None] = []
        for p in parts:
            if p == "ATTN_Q":
                sizes.append(hp.n_heads * hd if hp.n_heads and hd else None)
            elif p in ("ATTN_K", "ATTN_V"):
                kv = hp.n_kv_heads or hp.n_heads
                sizes.append(kv * hd if kv and hd else None)
            elif p in ("FFN_GATE", "FFN_UP"):
                sizes.append(hp.ffn_dim)
            else:
                sizes.append(None)
        if all(s is not None for s in sizes) and sum(sizes) == rows:  # type: ignore[arg-type]
            return [int(s) for s in sizes]  # type: ignore[arg-type]
        if rows % len(parts) == 0 and all(s is None or s == rows // len(parts) for s in sizes):
            return [rows // len(parts)] * len(parts)
        return None

    def _split(self, plan: _Plan, arr: np.ndarray, fam: Family | None) -> np.ndarray:
        assert fam is not None and plan.part is not None
        fused = fam.fused[plan.ttype]
        rows = arr.shape[0]
        if fused.layout == "groups" and not self.is_gguf:
            hp = self.hparams
            n_heads = hp.n_heads
            kv = hp.n_kv_heads or n_heads
            if not n_heads or not kv or rows % (n_heads + 2 * kv):
                raise CorruptFile(
                    f"{plan.stored}: {rows} rows do not fit {n_heads} query heads in {kv} kv groups",
                    self._owner[plan.stored],
                )
            hd = rows // (n_heads + 2 * kv)
            per = n_heads // kv
            grouped = arr.reshape(kv, per + 2, hd, *arr.shape[1:])
            if plan.part == 0:
                return grouped[:, :per].reshape(n_heads * hd, *arr.shape[1:])
            return grouped[:, per + plan.part - 1].reshape(kv * hd, *arr.shape[1:])
        sizes = self.part_sizes(plan.ttype, rows)
        if sizes is None:
            raise CorruptFile(
                f"{plan.stored}: cannot split {rows} rows into {'/'.join(fused.parts)}",
                self._owner[plan.stored],
            )
        start = sum(sizes[: plan.part])
        return arr[start : start + sizes[plan.part]]

    @property
    def n_params(self) -> int:
        """Parameters counted from shapes (quantized tensors by logical elements), buffers excluded.
        Counted once: the tensors do not change after :func:`load`, and every name is matched against
        the ignored-buffer pattern (850,000 tensors, several reports asking: issue 16)."""
        if self._n_params is None or self._n_params[0] != len(self.tensor_infos):
            total = sum(t.numel for n, t in self.tensor_infos.items() if not is_ignored(n))
            self._n_params = (len(self.tensor_infos), total)
        return self._n_params[1]

    def dtypes(self) -> dict[str, int]:
        """Storage dtype -> number of tensors."""
        out: dict[str, int] = {}
        for t in self.tensor_infos.values():
            out[t.dtype] = out.get(t.dtype, 0) + 1
        return out

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Model({self.name!r}, {self.family.label}, {len(self.tensor_infos)} tensors)"


# ------------------------------------------------------------------------------------------------
# load
# ------------------------------------------------------------------------------------------------


def load(spec_or_release: Release | str | Path, limits: Limits | None = None) -> Model:
    """Open a release (a :class:`~taoke.release.Release`, or a folder, file, HF cache entry or hub id
    to resolve). Jobs resolve once and pass the Release, so nothing is resolved twice.

    Parses every weight file's header (bounded by ``limits``), merges their tensors, reads the config,
    identifies the family and maps every tensor to its canonical role. No tensor bytes are read.

    >>> m = load("path/to/SmolLM2-135M-Instruct.Q4_1.gguf")       # doctest: +SKIP
    >>> m.family.label, m.canonical("blk.0.attn_q.weight").shape   # doctest: +SKIP
    ('llama family', (576, 576))
    """
    if isinstance(spec_or_release, Release):
        release = spec_or_release
        limits = limits or release.limits
    else:
        limits = limits or current_limits()
        release = resolve(spec_or_release, limits)
    model = Model(release, limits)
    try:
        _populate(model, release, limits)
    except BaseException:
        model.close()
        raise
    return model


def _populate(model: Model, release: Release, limits: Limits) -> None:
    model.config = load_config(release, limits)
    if model.config:  # every number a config states is checked once, here (taoke.release.numbers)
        check_config(model.config, release.find("config.json"), limits, HPARAM_KEYS)
    weight_files = release.require_weight_files()  # a view without tensors is no model
    ggufs = [p for p in weight_files if p.suffix.lower() == ".gguf"]
    if (
        ggufs
        and len(ggufs) == len(weight_files)
        and len(ggufs) > 1
        and not re.search(r"-\d{5}-of-\d{5}\.gguf$", ggufs[0].name)
    ):
        # several unsplit GGUFs are alternative quantizations of one model: view the first
        model.alternatives = [release.relative(p) for p in ggufs[1:]]
        weight_files = ggufs[:1]
    formats: set[str] = set()
    for path in weight_files:
        handle = open_tensor_file(path, limits)
        key = str(path)
        model._handles[key] = handle
        summary = handle.summary()
        model.files.append(summary)
        formats.add(handle.format)
        for info in handle.tensors():
            if info.name in model.tensor_infos:
                raise CorruptFile(
                    f"tensor {info.name!r} is stored twice (also in {Path(model._owner[info.name]).name})",
                    path,
                )
            if len(model.tensor_infos) >= limits.max_tensors:
                raise CorruptFile(f"more than {limits.max_tensors} tensors in the release", path)
            if info.file != key:  # _FileOf finds a tensor's handle by its record's file
                raise AssertionError(f"{info.file} read as {key}")
            model.tensor_infos[info.name] = info
        if handle.format == "gguf":
            model.gguf_metadata.update(handle.metadata())
    model.format = next(iter(formats)) if len(formats) == 1 else ("mixed" if formats else None)
    _classify_files(model, release, limits)
    arch = model.gguf_metadata.get("general.architecture") if model.is_gguf else None
    model.family = identify(
        model.config, list(model.tensor_infos), gguf_arch=arch if isinstance(arch, str) else None
    )
    model.hparams = _hparams(model)
    _map_roles(model)


def _classify_files(model: Model, release: Release, limits: Limits) -> None:
    for path in release.files:
        rel = release.relative(path)
        name = path.name
        if name in TOKENIZER_FILES or name.endswith(".tiktoken"):
            model.tokenizer_files.append(rel)
        elif name.endswith(".py"):
            model.code_files.append(rel)

    model.license_files = [release.relative(p) for p in find_license_files(release)]
    try:
        model.card = load_card(release, limits)
    except TaokeError as exc:  # a broken card must not hide the weights: report it, keep going
        model.card_error = str(exc)
        model.warnings.append(model.card_error)


def _first(config: dict[str, Any], keys: list[str]) -> tuple[Any, str | None]:
    for k in keys:
        v = config.get(k)
        if v is not None and not isinstance(v, (dict, list)):
            return v, k
    return None, None


def _as_int(v: Any) -> int | None:
    try:
        if isinstance(v, bool):
            return None
        i = int(v)
        return i if i >= 0 else None
    except (TypeError, ValueError):
        return None


def _as_float(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _hparams(model: Model) -> HParams:
    hp = HParams()
    cfg = model.config
    text_cfg = cfg.get("text_config") if isinstance(cfg.get("text_config"), dict) else None
    sources = [c for c in (cfg, text_cfg) if c]
    ints = HParams.INT_FIELDS
    for name in ints + ("rope_theta", "norm_eps"):
        for c in sources:
            value, key = _first(c, HPARAM_KEYS.get(name, []))
            if value is not None:
                setattr(hp, name, _as_int(value) if name in ints else _as_float(value))
                hp.source[name] = f"config:{key}"
                break
    for c in sources:
        if isinstance(c.get("rope_scaling"), dict):
            hp.rope_scaling = dict(c["rope_scaling"])
            hp.source["rope_scaling"] = "config:rope_scaling"
            break
        params = c.get("rope_parameters")  # transformers >= 5 keeps theta and scaling together
        if isinstance(params, dict):
            if hp.rope_theta is None and _as_float(params.get("rope_theta")) is not None:
                hp.rope_theta = _as_float(params.get("rope_theta"))
                hp.source["rope_theta"] = "config:rope_parameters.rope_theta"
            if params.get("rope_type", "default") != "default":
                hp.rope_scaling = dict(params)
                hp.source["rope_scaling"] = "config:rope_parameters"
            break
    # Falcon / GPT-BigCode style flags for the number of kv heads
    if hp.n_kv_heads is None and cfg.get("multi_query") and not cfg.get("new_decoder_architecture"):
        hp.n_kv_heads = 1
        hp.source["n_kv_heads"] = "config:multi_query"
    if model.is_gguf:
        arch = model.gguf_metadata.get("general.architecture")
        for name, template in GGUF_KEYS.items():
            target = "norm_eps" if name == "norm_eps_ln" else name
            if getattr(hp, target) is not None:
                continue
            key = template.format(arch=arch)
            value = model.gguf_metadata.get(key)
            if value is None:
                continue
            where = next(iter(model._handles), None)
            setattr(
                hp,
                target,
                check_int(target, key, value, where, model.limits)
                if target in ints
                else check_float(key, value, where),
            )
            hp.source[target] = f"gguf:{key}"
        if hp.rope_scaling is None:
            stype = model.gguf_metadata.get(f"{arch}.rope.scaling.type")
            factor = model.gguf_metadata.get(f"{arch}.rope.scaling.factor")
            if stype and stype != "none":
                factor = check_float(f"{arch}.rope.scaling.factor", factor, next(iter(model._handles), None))
                hp.rope_scaling = {"type": stype, "factor": factor}
                hp.source["rope_scaling"] = f"gguf:{arch}.rope.scaling.type"
        if hp.vocab_size is None:
            tokens = model.gguf_metadata.get("tokenizer.ggml.tokens")
            if isinstance(tokens, int):
                hp.vocab_size = tokens
                hp.source["vocab_size"] = "gguf:tokenizer.ggml.tokens"
    _hparams_from_shapes(model, hp)
    if hp.n_kv_heads is None and hp.n_heads is not None:
        hp.n_kv_heads = hp.n_heads
        hp.source["n_kv_heads"] = "default:n_heads"
    if hp.head_dim is None and hp.d_model and hp.n_heads and hp.d_model % hp.n_heads == 0:
        hp.head_dim = hp.d_model // hp.n_heads
        hp.source["head_dim"] = "d_model/n_heads"
    for name in ints:  # whatever the source (tensor names and shapes too), one range for each
        value = getattr(hp, name)
        if value is not None:
            check_int(name, hp.source.get(name, name), value, next(iter(model._handles), None), model.limits)
    return hp


def _hparams_from_shapes(model: Model, hp: HParams) -> None:
    """Fill what the config/GGUF did not say from tensor shapes (a weights-only release)."""
    fam = model.family_info
    if fam is None or not model.tensor_infos:
        return
    mapper = mapper_for_family(fam.name)
    blocks: set[int] = set()
    by_type: dict[str, TensorInfo] = {}
    for name, info in model.tensor_infos.items():
        role = mapper.lookup(name)
        if role is None:
            continue
        if role.block is not None:
            blocks.add(role.block)
        if role.suffix != ".bias":
            by_type.setdefault(role.ttype, info)
    if hp.n_layers is None and blocks:
        hp.n_layers = max(blocks) + 1
        hp.source["n_layers"] = "shapes"
    emb = by_type.get("TOKEN_EMBD")
    if emb is not None and len(emb.shape) == 2:
        if hp.vocab_size is None:
            hp.vocab_size = emb.shape[0]
            hp.source["vocab_size"] = "shapes"
        if hp.d_model is None:
            hp.d_model = emb.shape[1]
            hp.source["d_model"] = "shapes"
    for ttype in ("FFN_GATE", "FFN_UP"):
        info = by_type.get(ttype)
        if hp.ffn_dim is None and info is not None and len(info.shape) == 2 and ttype not in fam.fused:
            dims = info.shape[::-1] if (ttype in fam.hf_transposed and not model.is_gguf) else info.shape
            hp.ffn_dim = dims[0]
            hp.source["ffn_dim"] = "shapes"
    has_output = "OUTPUT" in by_type
    has_embd = "TOKEN_EMBD" in by_type
    if has_embd and not fam.encoder_only:
        weights_tied = not has_output
        hp.source["tied_embeddings"] = "shapes"
        hp.tied_embeddings = weights_tied


def _map_roles(model: Model) -> None:
    fam = model.family_info
    if fam is None:
        return
    mapper = mapper_for_family(fam.name)
    plans: dict[str, _Plan] = {}
    for name, info in model.tensor_infos.items():
        if is_ignored(name):
            continue
        sr = mapper.lookup(name)
        if sr is None:
            continue
        canon = canonical_name(sr.ttype, sr.block, sr.suffix)
        hf = fam.hf_name(sr.ttype, sr.block, sr.suffix)
        if hf == name:
            hf = name  # the stored string, not a second equal one per tensor
        fused = fam.fused.get(sr.ttype)
        parts: tuple[str, ...] | None = None
        if fused is not None:
            rows = info.shape[0] if info.shape else 0
            if sr.ttype in fam.hf_transposed and not model.is_gguf and len(info.shape) == 2:
                rows = info.shape[1]
            splittable = model.part_sizes(sr.ttype, rows) is not None or (
                fused.layout == "groups" and not model.is_gguf
            )
            if splittable:
                parts = tuple(canonical_name(p, sr.block, sr.suffix) for p in fused.parts)
        model.roles[name] = Role(
            sr.ttype,
            sr.block,
            canon,
            parts,
            hf,
            (fused.layout if not model.is_gguf else "rows") if parts else None,
        )
        if parts:
            for i, key in enumerate(parts):
                plans.setdefault(key, _Plan(name, sr.ttype, i, len(parts)))
        else:
            # Two stored tensors for one role (T5's shared + encoder.embed_tokens): the canonical
            # HF name wins, otherwise the first one.
            if canon not in plans:
                plans[canon] = _Plan(name, sr.ttype)
            elif hf == name and model.roles[plans[canon].stored].hf_name != plans[canon].stored:
                plans[canon] = _Plan(name, sr.ttype)
    model._plans = plans
