"""Family knowledge as data: which tensor names, layouts and classes make a model family.

Why data and not code: gguf-py already holds the names ~126 architectures give each tensor role
(``gguf.TensorNameMap``); taoke reuses that table and only adds, in ``tensor_names.json``, the few Hugging
Face names it lacks (Baichuan's ``W_pack``...). ``families.json`` describes, per family, the canonical
Hugging Face layout (one name per tensor role), fused tensors, biases, tied embeddings and the
transformations llama.cpp's converter applies. A new family is a data edit.

Identification uses both witnesses a release offers and reports when they disagree: the config
(``architectures``, ``model_type``) and the tensor layout (names and which roles are present). A class
name nobody knows (``YiForCausalLM``) on a layout that is LLaMA's, tensor for tensor, is "llama family,
renamed" — the Yi-34B case.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import gguf
from gguf import MODEL_ARCH, MODEL_ARCH_NAMES, MODEL_TENSOR, MODEL_TENSORS, TENSOR_NAMES

__all__ = [
    "FAMILIES",
    "Family",
    "FamilyMatch",
    "Fused",
    "LayoutFit",
    "RoleMapper",
    "StoredRole",
    "family",
    "family_for_config",
    "fit_layout",
    "identify",
    "is_ignored",
    "mapper_for_arch",
]

SUFFIXES = (".weight", ".bias")
CONFIG_MARGIN = 0.05  # layout score by which another family must beat the config's to overrule it
_ARCH_BY_NAME: dict[str, MODEL_ARCH] = {v: k for k, v in MODEL_ARCH_NAMES.items()}


def _load(name: str) -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))


_DATA = _load("families.json")
_EXTRA_NAMES = _load("tensor_names.json")
HPARAM_KEYS: dict[str, list[str]] = _DATA["hparam_keys"]
GGUF_KEYS: dict[str, str] = _DATA["gguf_keys"]
KNOWN_CLASSES: dict[str, dict[str, str]] = _DATA["known_classes"]
MODULE_PREFIXES: tuple[str, ...] = tuple(_DATA["module_prefixes"])
_IGNORED = [re.compile(p) for p in _DATA["ignored_tensors"]]


def is_ignored(name: str) -> bool:
    """Buffers saved beside the weights that are not parameters (inv_freq, position_ids, causal masks)."""
    return any(p.search(name) for p in _IGNORED)


@dataclass(frozen=True)
class Fused:
    """A stored tensor that holds several canonical tensors (see families.json's _comment)."""

    layout: str  # "rows" | "groups"
    parts: tuple[str, ...]  # MODEL_TENSOR names, in storage order


@dataclass(frozen=True)
class Family:
    """One model family as families.json describes it."""

    name: str
    gguf_arch: str
    priority: int
    hf_classes: tuple[str, ...]
    model_types: tuple[str, ...]
    tensors: Mapping[str, str]  # MODEL_TENSOR name -> HF name template without suffix
    optional: Mapping[str, str]
    aliases: Mapping[str, tuple[str, ...]]
    biases: frozenset[str]
    tied_embeddings: bool
    fused: Mapping[str, Fused]
    hf_transposed: frozenset[str]
    gguf_rope_permuted: bool
    gguf_norm_shift: float
    llama_compatible: bool
    config_expect: Mapping[str, tuple[Any, ...]]
    allowed_extra: tuple[str, ...]
    encoder_only: bool
    description: str
    generic: bool = False  # built from gguf alone (no HF layout known)

    def hf_name(self, ttype: str, block: int | None, suffix: str = ".weight") -> str | None:
        """The canonical Hugging Face stored name of a role in this family, or None when unknown."""
        template = self.tensors.get(ttype) or self.optional.get(ttype)
        if template is None:
            return None
        if "{bid}" in template:
            if block is None:
                return None
            return template.format(bid=block) + suffix
        return template + suffix

    def is_canonical(self, name: str, ttype: str, block: int | None, suffix: str) -> bool:
        """Whether ``name`` is this family's own name for the role (its canonical name or an alias)."""
        if self.hf_name(ttype, block, suffix) == name:
            return True
        for template in self.aliases.get(ttype, ()):
            alias = template.format(bid=block) if "{bid}" in template else template
            if alias + suffix == name:
                return True
        return False

    def layout_types(self, tied: bool | None = None) -> list[str]:
        """Tensor types every release of this family stores (OUTPUT only when embeddings are untied)."""
        tied = self.tied_embeddings if tied is None else tied
        return [t for t in self.tensors if not (t == "OUTPUT" and tied)]

    def is_block_type(self, ttype: str) -> bool:
        template = self.tensors.get(ttype) or self.optional.get(ttype)
        if template is not None:
            return "{bid}" in template
        return "{bid}" in TENSOR_NAMES[MODEL_TENSOR[ttype]]

    def expected_names(self, n_blocks: int, tied: bool | None = None) -> dict[str, str]:
        """HF name -> canonical (GGUF) name of the full canonical layout for ``n_blocks`` blocks."""
        out: dict[str, str] = {}
        for ttype in self.layout_types(tied):
            suffixes = [".weight", ".bias"] if ttype in self.biases else [".weight"]
            blocks: Iterable[int | None] = range(n_blocks) if self.is_block_type(ttype) else [None]
            for b in blocks:
                for s in suffixes:
                    hf = self.hf_name(ttype, b, s)
                    if hf is not None:
                        out[hf] = canonical_name(ttype, b, s)
        return out

    def allows_extra(self, name: str) -> bool:
        return any(re.search(p, name) for p in self.allowed_extra)


def canonical_name(ttype: str, block: int | None, suffix: str = ".weight") -> str:
    """The GGUF tensor name of a role: ``blk.3.attn_q.weight``."""
    base = TENSOR_NAMES[MODEL_TENSOR[ttype]]
    if "{bid}" in base:
        base = base.format(bid=block if block is not None else 0)
    return base + suffix


def _family(name: str, raw: Mapping[str, Any]) -> Family:
    return Family(
        name=name,
        gguf_arch=raw["gguf_arch"],
        priority=int(raw.get("priority", 50)),
        hf_classes=tuple(raw.get("hf_classes", ())),
        model_types=tuple(raw.get("model_types", ())),
        tensors=dict(raw.get("tensors", {})),
        optional=dict(raw.get("optional", {})),
        aliases={k: tuple(v) for k, v in raw.get("aliases", {}).items()},
        biases=frozenset(raw.get("biases", ())),
        tied_embeddings=bool(raw.get("tied_embeddings", False)),
        fused={k: Fused(v["layout"], tuple(v["parts"])) for k, v in raw.get("fused", {}).items()},
        hf_transposed=frozenset(raw.get("hf_transposed", ())),
        gguf_rope_permuted=bool(raw.get("gguf_rope_permuted", False)),
        gguf_norm_shift=float(raw.get("gguf_norm_shift", 0.0)),
        llama_compatible=bool(raw.get("llama_compatible", False)),
        config_expect={k: tuple(v) for k, v in raw.get("config_expect", {}).items()},
        allowed_extra=tuple(raw.get("allowed_extra", ())),
        encoder_only=bool(raw.get("encoder_only", False)),
        description=str(raw.get("description", "")),
    )


FAMILIES: dict[str, Family] = {k: _family(k, v) for k, v in _DATA["families"].items()}


def family(name: str) -> Family:
    """The family called ``name``: one of families.json, or a generic one for any gguf architecture."""
    if name in FAMILIES:
        return FAMILIES[name]
    return _generic_family(name)


@cache
def _generic_family(arch: str) -> Family:
    if arch not in _ARCH_BY_NAME:
        raise KeyError(arch)
    return Family(
        name=arch,
        gguf_arch=arch,
        priority=100,
        hf_classes=(),
        model_types=(),
        tensors={},
        optional={},
        aliases={},
        biases=frozenset(),
        tied_embeddings=False,
        fused={},
        hf_transposed=frozenset(),
        gguf_rope_permuted=False,
        gguf_norm_shift=0.0,
        llama_compatible=False,
        config_expect={},
        allowed_extra=(),
        encoder_only=False,
        description=f"gguf architecture {arch!r} (no Hugging Face layout in taoke's data)",
        generic=True,
    )


def families_for_gguf_arch(arch: str) -> list[Family]:
    """Families that llama.cpp writes under ``general.architecture == arch``, progenitor first."""
    found = sorted((f for f in FAMILIES.values() if f.gguf_arch == arch), key=lambda f: f.priority)
    if found:
        return found
    return [_generic_family(arch)] if arch in _ARCH_BY_NAME else []


# ----------------------------------------------------------------------------------------------
# Role mapping: stored name -> (tensor type, block, suffix)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredRole:
    ttype: str
    block: int | None
    suffix: str  # ".weight", ".bias" or ""
    prefix: str = ""  # a module prefix stripped to find the role ("bert.", "model.")


class RoleMapper:
    """gguf's TensorNameMap for one architecture, without expanding every block number.

    gguf builds one dict entry per (name, block); taoke keeps the ``{bid}`` templates and, for a stored
    name, tries each integer component as the block number. Same answers, no per-block tables, and it
    does not mutate gguf's class-level tables (TensorNameMap.__init__ updates them for some archs).
    """

    def __init__(self, arch: str, fam: Family | None = None) -> None:
        self.arch = arch
        march = _ARCH_BY_NAME[arch]
        allowed = set(MODEL_TENSORS[march])
        if fam is not None:
            allowed |= {MODEL_TENSOR[t] for t in list(fam.tensors) + list(fam.optional)}
        plain: dict[str, str] = {}
        block: dict[str, str] = {}

        def put(template: str, ttype: MODEL_TENSOR, override: bool = True) -> None:
            table = block if "{bid}" in template else plain
            if override or template not in table:
                table[template] = ttype.name

        for ttype, keys in gguf.TensorNameMap.mappings_cfg.items():
            if ttype in allowed:
                put(TENSOR_NAMES[ttype], ttype)
                for k in keys:
                    put(k, ttype)
        block_cfg = dict(gguf.TensorNameMap.block_mappings_cfg)
        block_cfg.update(gguf.TensorNameMap.arch_block_mappings_cfg.get(march, {}))
        for ttype, keys in block_cfg.items():
            if ttype in allowed:
                put(TENSOR_NAMES[ttype], ttype)
                for k in keys:
                    put(k, ttype)
        extras: dict[str, list[str]] = dict(_EXTRA_NAMES.get("all", {}))
        for tname, keys in _EXTRA_NAMES.get("per_arch", {}).get(arch, {}).items():
            extras[tname] = list(extras.get(tname, [])) + list(keys)
        for tname, keys in extras.items():
            if MODEL_TENSOR[tname] in allowed:
                for k in keys:
                    put(k, MODEL_TENSOR[tname], override=False)
        if fam is not None:  # the family's own canonical names win over anything else
            for tname, template in list(fam.tensors.items()) + list(fam.optional.items()):
                put(template, MODEL_TENSOR[tname])
            for tname, templates in fam.aliases.items():
                for template in templates:
                    put(template, MODEL_TENSOR[tname])
        self._plain = plain
        self._block = block

    def lookup(self, name: str) -> StoredRole | None:
        """The role of a stored tensor name, or None when this architecture has no such name."""
        for prefix in ("",) + MODULE_PREFIXES:
            if prefix and not name.startswith(prefix):
                continue
            role = self._lookup(name[len(prefix) :])
            if role is not None:
                return StoredRole(role.ttype, role.block, role.suffix, prefix)
        return None

    def _lookup(self, name: str) -> StoredRole | None:
        for suffix in SUFFIXES + ("",):
            if suffix and not name.endswith(suffix):
                continue
            base = name[: len(name) - len(suffix)] if suffix else name
            if base in self._plain:
                return StoredRole(self._plain[base], None, suffix)
            parts = base.split(".")
            for i, part in enumerate(parts):
                if part.isdigit():
                    template = ".".join(parts[:i] + ["{bid}"] + parts[i + 1 :])
                    if template in self._block:
                        return StoredRole(self._block[template], int(part), suffix)
        return None


@cache
def mapper_for_arch(arch: str) -> RoleMapper:
    """The role mapper of a gguf architecture (gguf's names plus tensor_names.json)."""
    return RoleMapper(arch)


@cache
def mapper_for_family(name: str) -> RoleMapper:
    fam = family(name)
    return RoleMapper(fam.gguf_arch, None if fam.generic else fam)


# ----------------------------------------------------------------------------------------------
# Identification
# ----------------------------------------------------------------------------------------------


@dataclass
class LayoutFit:
    """How well stored tensor names fit one family's canonical layout."""

    family: str
    n_tensors: int
    mapped: int  # stored names with a role in this family's architecture
    exact: int  # stored names equal to the family's canonical HF (or GGUF) name
    missing_types: list[str]
    unexpected_types: list[str]  # roles present that the family's layout does not have

    @property
    def score(self) -> float:
        if self.n_tensors == 0:
            return 0.0
        cover = self.mapped / self.n_tensors
        exact = self.exact / self.n_tensors
        fam = family(self.family)
        n_types = max(1, len(fam.tensors)) if not fam.generic else 1
        penalty = 0.1 * (len(self.missing_types) + len(self.unexpected_types)) / n_types
        return round(0.55 * exact + 0.45 * cover - penalty, 4)


def fit_layout(fam: Family, names: Iterable[str], gguf_file: bool = False) -> LayoutFit:
    """Score stored names against a family: role coverage, exact canonical names, roles missing/extra."""
    names = [n for n in names if not is_ignored(n)]
    mapper = mapper_for_family(fam.name)
    mapped = exact = 0
    types: set[str] = set()
    biased: set[str] = set()
    for n in names:
        role = mapper.lookup(n)
        if role is None:
            continue
        mapped += 1
        types.add(role.ttype)
        if role.suffix == ".bias":
            biased.add(role.ttype)
        if gguf_file:
            expected = canonical_name(role.ttype, role.block, role.suffix)
        else:
            expected = fam.hf_name(role.ttype, role.block, role.suffix)
        bias_ok = role.suffix != ".bias" or role.ttype in fam.biases or fam.generic
        bare = n[len(role.prefix) :]
        own = not (gguf_file or fam.generic) and fam.is_canonical(bare, role.ttype, role.block, role.suffix)
        if bias_ok and (expected in (n, bare) or own):
            exact += 1
    if fam.generic:
        missing: list[str] = []
        unexpected: list[str] = []
    else:
        want = set(fam.tensors)
        if gguf_file:  # llama.cpp splits/keeps fused tensors its own way: compare roles, not storage
            want = {p for t in want for p in (fam.fused[t].parts if t in fam.fused else (t,))}
            have = {p for t in types for p in (fam.fused[t].parts if t in fam.fused else (t,))}
            have |= types
        else:
            have = types
        missing = sorted(t for t in want - have if t != "OUTPUT")
        unexpected = sorted(
            t
            for t in have - want - set(fam.optional)
            if not (gguf_file and any(t in f.parts for f in fam.fused.values()))
        )
        unexpected += sorted(f"{t}.bias" for t in biased - fam.biases)
        if not gguf_file:  # llama.cpp drops biases that are all zero, so only HF layouts must have them
            missing += sorted(f"{t}.bias" for t in fam.biases & types - biased)
    return LayoutFit(fam.name, len(names), mapped, exact, missing, unexpected)


def family_for_config(config: Mapping[str, Any]) -> tuple[Family | None, list[str], str | None]:
    """Family named by a config (``architectures`` first, then ``model_type``), reasons, and any note.

    The note reports a class or model_type that is not one of the family's own (a known rename such
    as YiForCausalLM, or a class/model_type pair naming two different families).
    """
    why: list[str] = []
    classes = config.get("architectures") or []
    if isinstance(classes, str):
        classes = [classes]
    classes = [c for c in classes if isinstance(c, str)]
    mtype = config.get("model_type") if isinstance(config.get("model_type"), str) else None
    by_class = next((f for c in classes for f in FAMILIES.values() if c in f.hf_classes), None)
    by_type = next((f for f in FAMILIES.values() if mtype and mtype in f.model_types), None)
    note = None
    if by_class is not None:
        why.append(f"config architectures {classes[0]} is a {by_class.name} class")
        if by_type is not None and by_type.gguf_arch != by_class.gguf_arch:
            note = f"model_type {mtype!r} belongs to {by_type.name}, class {classes[0]} to {by_class.name}"
        return by_class, why, note
    if by_type is not None:
        why.append(f"config model_type {mtype!r} is {by_type.name}")
        if classes:
            note = f"class {classes[0]} is not a known {by_type.name} class"
        return by_type, why, note
    for key in classes + ([mtype] if mtype else []):
        if key in KNOWN_CLASSES:
            known = KNOWN_CLASSES[key]
            why.append(f"{key} is a known renamed {known['family']} ({known['note']})")
            return FAMILIES[known["family"]], why, f"{key} is not a {known['family']} class: " + known["note"]
    return None, why, None


@dataclass
class FamilyMatch:
    """The family of a release, with the witnesses behind it and whether they agree."""

    family: str | None  # key in families.json (or a gguf arch for generic ones)
    arch: str | None  # gguf architecture name
    hf_class: str | None
    model_type: str | None
    confidence: float
    why: list[str] = field(default_factory=list)
    config_family: str | None = None
    layout_family: str | None = None
    gguf_arch: str | None = None  # general.architecture of a GGUF file
    agree: bool | None = None  # config and layout name the same family (None: only one witness)
    renamed: bool = False  # layout is the family's, but stored names differ from its canonical ones
    note: str | None = None
    fits: list[dict[str, Any]] = field(default_factory=list)  # best layout fits, for explanation

    @property
    def label(self) -> str:
        if self.family is None:
            return "unknown"
        return f"{self.family} family, renamed" if self.renamed else f"{self.family} family"

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "arch": self.arch,
            "label": self.label,
            "hf_class": self.hf_class,
            "model_type": self.model_type,
            "confidence": self.confidence,
            "why": list(self.why),
            "config_family": self.config_family,
            "layout_family": self.layout_family,
            "gguf_arch": self.gguf_arch,
            "agree": self.agree,
            "renamed": self.renamed,
            "note": self.note,
            "fits": self.fits,
        }


def identify(
    config: Mapping[str, Any] | None = None, names: Iterable[str] | None = None, gguf_arch: str | None = None
) -> FamilyMatch:
    """Identify the family from the config, the stored tensor names and a GGUF architecture.

    Each witness is scored on its own; the answer prefers the layout (weights cannot lie about their
    own shapes the way a class name can) and says when the config names something else.
    """
    config = config or {}
    names = [n for n in (names or []) if not is_ignored(n)]
    classes = config.get("architectures") or []
    hf_class = classes[0] if isinstance(classes, list) and classes and isinstance(classes[0], str) else None
    mtype = config.get("model_type") if isinstance(config.get("model_type"), str) else None
    cfg_fam, why, note = family_for_config(config)
    match = FamilyMatch(
        None,
        None,
        hf_class,
        mtype,
        0.0,
        list(why),
        config_family=cfg_fam.name if cfg_fam else None,
        gguf_arch=gguf_arch,
        note=note,
    )

    layout_fam: Family | None = None
    if gguf_arch is not None:
        candidates = families_for_gguf_arch(gguf_arch)
        if not candidates:
            match.why.append(f"GGUF general.architecture {gguf_arch!r} is unknown to gguf {gguf.__name__}")
        else:
            if cfg_fam is not None and cfg_fam in candidates:
                layout_fam = cfg_fam
            else:
                layout_fam = candidates[0]
            fit = fit_layout(layout_fam, names, gguf_file=True) if names else None
            match.why.append(f"GGUF general.architecture is {gguf_arch!r}")
            if fit is not None:
                match.fits = [_fit_dict(fit)]
                match.why.append(f"{fit.mapped}/{fit.n_tensors} tensors have a {gguf_arch} role")
    elif names:
        fits = sorted(
            (fit_layout(f, names) for f in FAMILIES.values()),
            key=lambda x: (-x.score, family(x.family).priority),
        )
        best = fits[0]
        if best.score < 0.5:  # none of taoke's families: ask every architecture gguf knows
            generic = []
            for arch in MODEL_ARCH_NAMES.values():
                if arch in {f.gguf_arch for f in FAMILIES.values()}:
                    continue
                try:
                    generic.append(fit_layout(_generic_family(arch), names))
                except (KeyError, ValueError):
                    continue
            generic.sort(key=lambda x: -x.mapped)
            if generic and generic[0].mapped > best.mapped:
                best = generic[0]
                fits = [best] + fits
        match.fits = [_fit_dict(f) for f in fits[:3]]
        if best.mapped > 0 and best.score >= 0.3:
            layout_fam = family(best.family)
            # A config family whose layout fits (nearly) as well as the best one is the more specific
            # answer (Mistral and LLaMA share a layout; the class tells them apart), and a stray tensor
            # should be reported as extra rather than turn the release into another family.
            if cfg_fam is not None and cfg_fam.name != best.family:
                cfg_fit = next((f for f in fits if f.family == cfg_fam.name), None)
                if cfg_fit is not None and cfg_fit.score >= best.score - CONFIG_MARGIN:
                    layout_fam = cfg_fam
                    best = cfg_fit
            match.why.append(
                f"tensor layout: {best.mapped}/{best.n_tensors} tensors have a "
                f"{layout_fam.name} role, {best.exact} under its canonical names"
            )
            match.renamed = best.exact < best.mapped
        else:
            match.why.append("tensor layout matches no known family")
    if layout_fam is not None:
        match.layout_family = layout_fam.name
    final = layout_fam or cfg_fam
    if final is None:
        return match
    match.family = final.name
    match.arch = final.gguf_arch
    if cfg_fam is not None and layout_fam is not None:
        match.agree = cfg_fam.gguf_arch == layout_fam.gguf_arch and cfg_fam.name == layout_fam.name
        if not match.agree:
            match.why.append(f"config says {cfg_fam.name} but the tensor layout is {layout_fam.name}")
    conf = 0.5
    if cfg_fam is not None and layout_fam is not None:
        conf = 0.97 if match.agree and not note else 0.8
    elif layout_fam is not None:
        conf = 0.9 if match.fits and match.fits[0].get("score", 0) >= 0.9 else 0.7
        if hf_class is not None or mtype is not None:
            conf = min(conf, 0.85)  # the config names something taoke does not know as this family
    elif cfg_fam is not None:
        conf = 0.9 if note is None else 0.6
    if layout_fam is not None and layout_fam.generic:
        conf = min(conf, 0.6)
    match.confidence = conf
    return match


def _fit_dict(fit: LayoutFit) -> dict[str, Any]:
    return {
        "family": fit.family,
        "score": fit.score,
        "n_tensors": fit.n_tensors,
        "mapped": fit.mapped,
        "exact": fit.exact,
        "missing_types": fit.missing_types,
        "unexpected_types": fit.unexpected_types,
    }
