"""Family identification from both witnesses a release offers, reporting when they disagree.

The config (``architectures``, ``model_type``) and the tensor layout (names and which roles are present)
are scored on their own. A class name nobody knows (``YiForCausalLM``) on a layout that is LLaMA's,
tensor for tensor, is "llama family, renamed" — the Yi-34B case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from functools import cache, lru_cache
from typing import Any

import gguf
from gguf import MODEL_ARCH_NAMES

from taoke.families.data import (
    FAMILIES,
    KNOWN_CLASSES,
    Family,
    canonical_name,
    families_for_gguf_arch,
    family,
    generic_family,
    is_ignored,
)
from taoke.families.roles import RoleMapper, is_block_number, mapper_for_family

CONFIG_MARGIN = 0.05  # layout score by which another family must beat the config's to overrule it


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

    def to_dict(self) -> dict[str, Any]:
        fields = asdict(self)
        return {"family": fields.pop("family"), "score": self.score, **fields}


def _digit_free(fam: Family) -> bool:
    """Whether none of the family's own name templates has a literal number as a component (then a
    name's role and exactness do not depend on the value of its one block number)."""
    templates = list(fam.tensors.values()) + list(fam.optional.values())
    templates += [t for ts in fam.aliases.values() for t in ts]
    return not any(is_block_number(part) for t in templates for part in t.split("."))


@lru_cache(maxsize=4)
def _name_groups(names: tuple[str, ...], groupable: bool) -> list[tuple[str, int]]:
    """Names with one representative per *shape*, and how many names share it.

    WHY: identification scores every stored name against every family (and, when none fits, against
    every architecture gguf knows), so a legal 850,000-tensor file made ~10^8 role look-ups (killed
    at 900 s, issue 16). Names that differ only in their one block number (``model.layers.7.mlp...``,
    written canonically: ``7``, not ``07``) have the same role and the same exactness when no template
    holds a literal number (``groupable``), so one look-up per shape is exact. Other names stay single.
    Ignored buffers (``inv_freq``...) are left out here. Cached: the same names are scored against many
    families in a row.
    """
    if not groupable:
        return [(n, 1) for n in names if not is_ignored(n)]
    reps: dict[tuple[str, ...], list[Any]] = {}
    for n in names:
        if is_ignored(n):
            continue
        parts = n.split(".")
        digits = [i for i, p in enumerate(parts) if is_block_number(p)]
        key: tuple[str, ...] = (n,)
        if len(digits) == 1:
            p = parts[digits[0]]
            if str(int(p)) == p:
                parts[digits[0]] = ""  # the block number's place; a 1-tuple key never has 2+ parts
                key = tuple(parts)
        entry = reps.get(key)
        if entry is None:
            reps[key] = [n, 1]
        else:
            entry[1] += 1
    return [(rep, count) for rep, count in reps.values()]


@cache
def _generic_mappers() -> dict[str, RoleMapper]:
    """The role mapper of every gguf architecture that none of taoke's families covers."""
    own = {f.gguf_arch for f in FAMILIES.values()}
    out: dict[str, RoleMapper] = {}
    for arch in MODEL_ARCH_NAMES.values():
        if arch in own:
            continue
        try:
            fam = generic_family(arch)
            out[arch] = mapper_for_family(fam.name)
        except (KeyError, ValueError):
            continue
    return out


@cache
def _union_mapper() -> RoleMapper:
    """One mapper holding every generic architecture's names: a name it cannot map, none of them can
    (``lookup`` only asks whether a stripped name or its block template is in the tables)."""
    union = RoleMapper.__new__(RoleMapper)
    union.arch, union._plain, union._block = "*", {}, {}
    for m in _generic_mappers().values():
        union._plain.update(m._plain)
        union._block.update(m._block)
    union.digit_free = False
    return union


@cache
def _any_mapper() -> RoleMapper:
    """One mapper holding the names of every family and every generic architecture.

    A name it cannot map, no family's or architecture's mapper can (each one's tables are a subset of
    these, and ``lookup`` only asks whether a stripped name or its block template is in them). Such a
    name adds only to a fit's ``n_tensors``, so :func:`identify` drops it once, before ~15 family fits
    and ~100 generic ones, instead of looking it up in each (issue 16: 100,000 distinct unmapped names
    took 78 s CPU in ``inspect``).
    """
    union = RoleMapper.__new__(RoleMapper)
    union.arch, union._plain, union._block = "*", {}, {}
    for m in [mapper_for_family(f.name) for f in FAMILIES.values()] + list(_generic_mappers().values()):
        union._plain.update(m._plain)
        union._block.update(m._block)
    union.digit_free = False
    return union


def fit_layout(fam: Family, names: Iterable[str], gguf_file: bool = False) -> LayoutFit:
    """Score stored names against a family: role coverage, exact canonical names, roles missing/extra."""
    mapper = mapper_for_family(fam.name)
    groups = _name_groups(tuple(names), mapper.digit_free and _digit_free(fam))
    n_names = sum(count for _, count in groups)
    mapped = exact = 0
    types: set[str] = set()
    biased: set[str] = set()
    for n, count in groups:
        role = mapper.lookup(n)
        if role is None:
            continue
        mapped += count
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
            exact += count
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
    return LayoutFit(fam.name, n_names, mapped, exact, missing, unexpected)


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
                match.fits = [fit.to_dict()]
                match.why.append(f"{fit.mapped}/{fit.n_tensors} tensors have a {gguf_arch} role")
    elif names:
        n_names = len(names)
        # names no family and no architecture maps count only in n_tensors (exact: see _any_mapper)
        anywhere = _any_mapper()
        mappable = [n for n in names if anywhere.lookup(n) is not None]
        fits = sorted(
            (replace(fit_layout(f, mappable), n_tensors=n_names) for f in FAMILIES.values()),
            key=lambda x: (-x.score, family(x.family).priority),
        )
        best = fits[0]
        if best.score < 0.5:  # none of taoke's families: ask every architecture gguf knows
            generic = []
            mappers = _generic_mappers()
            union = _union_mapper()
            # a name no architecture maps adds to no fit's mapped/exact, only to its n_tensors: drop it
            # once here rather than ~100 times (one per architecture: issue 16, 100,000 unknown names)
            candidates = [n for n in mappable if union.lookup(n) is not None]
            for arch in mappers:
                try:
                    fit = fit_layout(generic_family(arch), candidates)
                except (KeyError, ValueError):
                    continue
                generic.append(replace(fit, n_tensors=n_names))
            generic.sort(key=lambda x: -x.mapped)
            if generic and generic[0].mapped > best.mapped:
                best = generic[0]
                fits = [best] + fits
        match.fits = [f.to_dict() for f in fits[:3]]
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
