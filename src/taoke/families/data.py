"""The family tables: ``families.json`` and ``tensor_names.json`` loaded once, as typed records.

Why data and not code: gguf-py already holds the names ~126 architectures give each tensor role
(``gguf.TensorNameMap``); taoke reuses that table and only adds, in ``tensor_names.json``, the few Hugging
Face names it lacks (Baichuan's ``W_pack``...). ``families.json`` describes, per family, the canonical
Hugging Face layout (one name per tensor role), fused tensors, biases, tied embeddings and the
transformations llama.cpp's converter applies. A new family is a data edit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from gguf import MODEL_ARCH, MODEL_ARCH_NAMES, MODEL_TENSOR, TENSOR_NAMES


def _load(name: str) -> dict[str, Any]:
    return json.loads(resources.files("taoke.families").joinpath(name).read_text(encoding="utf-8"))


_DATA = _load("families.json")
EXTRA_TENSOR_NAMES: dict[str, Any] = _load("tensor_names.json")  # {"all": {...}, "per_arch": {...}}
HPARAM_KEYS: dict[str, list[str]] = _DATA["hparam_keys"]
GGUF_KEYS: dict[str, str] = _DATA["gguf_keys"]
KNOWN_CLASSES: dict[str, dict[str, str]] = _DATA["known_classes"]
MODULE_PREFIXES: tuple[str, ...] = tuple(_DATA["module_prefixes"])
_IGNORED = re.compile("|".join(f"(?:{p})" for p in _DATA["ignored_tensors"]))  # one pass per name
ARCH_BY_NAME: dict[str, MODEL_ARCH] = {v: k for k, v in MODEL_ARCH_NAMES.items()}


def is_ignored(name: str) -> bool:
    """Buffers saved beside the weights that are not parameters (inv_freq, position_ids, causal masks)."""
    return _IGNORED.search(name) is not None


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
    norm_offset: float = 0.0  # a norm's gain is norm_offset + its stored weight (Gemma: 1 + w)

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
        return dict(self.iter_expected(n_blocks, tied))

    def iter_expected(self, n_blocks: int, tied: bool | None = None) -> Iterator[tuple[str, str]]:
        """(HF name, canonical name) of the full canonical layout, one at a time: the layout of a
        legal 106,250-block file as a dict was two strings per tensor held at once (issue 16)."""
        for ttype in self.layout_types(tied):
            suffixes = [".weight", ".bias"] if ttype in self.biases else [".weight"]
            blocks: Iterable[int | None] = range(n_blocks) if self.is_block_type(ttype) else [None]
            for b in blocks:
                for s in suffixes:
                    hf = self.hf_name(ttype, b, s)
                    if hf is not None:
                        yield hf, canonical_name(ttype, b, s)

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
        # Gemma stores w and scales by (1 + w); llama.cpp's converter adds exactly that 1, so the two agree
        # unless a family states its own offset.
        norm_offset=float(raw.get("norm_offset", raw.get("gguf_norm_shift", 0.0))),
    )


FAMILIES: dict[str, Family] = {k: _family(k, v) for k, v in _DATA["families"].items()}


def family(name: str) -> Family:
    """The family called ``name``: one of families.json, or a generic one for any gguf architecture."""
    if name in FAMILIES:
        return FAMILIES[name]
    return generic_family(name)


@cache
def generic_family(arch: str) -> Family:
    """A family known to gguf alone (no Hugging Face layout in taoke's data); KeyError for no arch."""
    if arch not in ARCH_BY_NAME:
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
    return [generic_family(arch)] if arch in ARCH_BY_NAME else []
