"""Family knowledge as data: which tensor names, layouts and classes make a model family.

- :mod:`~taoke.families.data`: ``families.json`` and ``tensor_names.json`` as typed :class:`Family`
  records (a new family is a data edit);
- :mod:`~taoke.families.roles`: stored tensor name -> role, on top of gguf's ``TensorNameMap``;
- :mod:`~taoke.families.identify`: the family of a release from its config and its tensor layout, and
  whether the two agree (the Yi-34B case: an unknown class on LLaMA's layout is "llama family, renamed").
"""

from taoke.families.data import (
    FAMILIES,
    GGUF_KEYS,
    HPARAM_KEYS,
    KNOWN_CLASSES,
    Family,
    Fused,
    canonical_name,
    families_for_gguf_arch,
    family,
    is_ignored,
)
from taoke.families.identify import FamilyMatch, LayoutFit, family_for_config, fit_layout, identify
from taoke.families.roles import RoleMapper, StoredRole, mapper_for_family

__all__ = [
    "FAMILIES",
    "GGUF_KEYS",
    "HPARAM_KEYS",
    "KNOWN_CLASSES",
    "Family",
    "FamilyMatch",
    "Fused",
    "LayoutFit",
    "RoleMapper",
    "StoredRole",
    "canonical_name",
    "families_for_gguf_arch",
    "family",
    "family_for_config",
    "fit_layout",
    "identify",
    "is_ignored",
    "mapper_for_family",
]
