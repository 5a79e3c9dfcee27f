"""Role mapping: a stored tensor name -> its role (tensor type, block number, suffix).

gguf's ``TensorNameMap`` knows the names ~126 architectures give each role; taoke adds the few Hugging Face
names it lacks (``tensor_names.json``) and, per family, the family's own canonical names and aliases.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import gguf
from gguf import MODEL_TENSOR, MODEL_TENSORS, TENSOR_NAMES

from taoke.families.data import ARCH_BY_NAME, EXTRA_TENSOR_NAMES, MODULE_PREFIXES, Family, family

SUFFIXES = (".weight", ".bias")


def is_block_number(part: str) -> bool:
    """Whether a name component can be a block number: ASCII digits, at most 18 of them.

    ``str.isdigit`` alone also accepts ``"²"`` (which ``int`` refuses) and 5,000-digit strings (which
    ``int`` refuses past 4,300 digits): both crashed identification of a hostile release (issue 16).
    """
    return part.isascii() and part.isdigit() and len(part) <= 18


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
        march = ARCH_BY_NAME[arch]
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
        extras: dict[str, list[str]] = dict(EXTRA_TENSOR_NAMES.get("all", {}))
        for tname, keys in EXTRA_TENSOR_NAMES.get("per_arch", {}).get(arch, {}).items():
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
        # no plain name with a number as a component: a name's role then does not depend on the value
        # of its one block number (identify groups names by shape, see identify._name_groups)
        self.digit_free = not any(is_block_number(part) for k in plain for part in k.split("."))

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
                if is_block_number(part):
                    template = ".".join(parts[:i] + ["{bid}"] + parts[i + 1 :])
                    if template in self._block:
                        return StoredRole(self._block[template], int(part), suffix)
        return None


@cache
def mapper_for_family(name: str) -> RoleMapper:
    """The role mapper of a family: its architecture's names, with the family's own names winning."""
    fam = family(name)
    return RoleMapper(fam.gguf_arch, None if fam.generic else fam)
