"""Which files of a hub repository taoke needs, so that a hub id downloads only those.

WHY: a model repository often holds the same weights several times (safetensors and
``pytorch_model.bin``, a ``consolidated`` copy, an ``original/`` folder, or a dozen GGUF
quantizations of 1-100 GB each). taoke reads one copy: the config, tokenizer, card, licence and
custom code files at the top of the repo, and the weights of ONE format; in a GGUF repository one
quantization, named by the user (``org/name:Q4_K_M``, or ``--include`` with a name or a glob).
:func:`select_files` decides from the repository's file list (``HfApi.model_info(...).siblings``)
before anything is downloaded; the same rule picks the weight files of a cache snapshot that holds
more than one quantization.

>>> sel = select_files(["config.json", "model.safetensors", "pytorch_model.bin", "README.md"])
>>> sel.weights, sel.meta
(['model.safetensors'], ['README.md', 'config.json'])
>>> select_files(["a.Q4_K_M.gguf", "a.Q8_0.gguf"], "q8_0").weights
['a.Q8_0.gguf']
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from taoke.errors import SourceNotFound

__all__ = ["META_PATTERNS", "HubSelection", "gguf_quant", "select_files"]

META_PATTERNS = (
    "config.json",
    "generation_config.json",
    "params.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "tokenizer.model",
    "*.tiktoken",
    "vocab.json",
    "merges.txt",
    "vocab.txt",
    "chat_template.jinja",
    "README.md",
    "LICENSE*",
    "LICENCE*",
    "License*",
    "license*",
    "NOTICE*",
    "COPYING*",
    "USE_POLICY*",
    "*.py",
)
"""Top-level files taoke reads besides weights: config, tokenizer, card, licence, custom code (read as
text, never run). The shard index of the chosen weights is added with them."""

_QUANT = re.compile(r"(?<![A-Za-z0-9])(I?Q\d(?:_[A-Za-z0-9]+)*|BF16|F16|F32|FP16|FP32)(?![A-Za-z0-9])", re.I)
_SPLIT = re.compile(r"-\d{5}-of-\d{5}\.gguf$", re.I)
_SHARD = re.compile(r"^model-\d{5}-of-\d{5}\.safetensors$")


@dataclass
class HubSelection:
    """The files to fetch: ``meta`` (top-level side files) and ``weights`` (one format, one quant)."""

    meta: list[str] = field(default_factory=list)
    weights: list[str] = field(default_factory=list)
    fmt: str = "none"  # safetensors | pytorch | gguf | checkpoint | none

    @property
    def names(self) -> list[str]:
        return sorted({*self.meta, *self.weights})


def gguf_quant(name: str) -> str | None:
    """The quantization a GGUF file name states (``Q4_K_M``, ``IQ2_XS``, ``F16``...), upper case; the
    last one named wins (``model-f16.Q4_K_M.gguf`` is Q4_K_M). None when the name states none."""
    stem = _SPLIT.sub("", PurePosixPath(name).name)
    stem = stem[:-5] if stem.lower().endswith(".gguf") else stem
    found = _QUANT.findall(stem)
    return found[-1].upper() if found else None


def _top(name: str) -> bool:
    return "/" not in name


def select_files(names: list[str], include: str | None = None, repo: str = "the repository") -> HubSelection:
    """The files of a repository (``names``: POSIX paths relative to its root) that taoke needs.

    ``include``: a quantization name (``Q4_K_M``, case-insensitive: the GGUF files stating it, split
    parts included) or a glob (``*Q4_K_M*.gguf``, ``model-0000?-of-00004.safetensors``) choosing the
    weight files. Without it: safetensors (the ``model-*-of-*`` shards when the repo also holds a
    ``consolidated`` copy), else ``pytorch_model*.bin``, else one top-level ``.pt``/``.pth`` format,
    else the repository's only GGUF quantization. Raises a one-line :class:`SourceNotFound` when
    ``include`` matches no weight file, or when a GGUF repository holds several quantizations and none
    was chosen (the message lists them).
    """
    meta = sorted(n for n in names if _top(n) and any(fnmatch.fnmatchcase(n, p) for p in META_PATTERNS))
    weights: list[str] = []
    fmt = "none"
    ggufs = sorted(n for n in names if n.lower().endswith(".gguf"))
    if include:
        pattern = include.strip()
        if any(c in pattern for c in "*?["):
            weights = sorted(
                n
                for n in names
                if n.lower().endswith((".safetensors", ".bin", ".pt", ".pth", ".gguf"))
                and (fnmatch.fnmatch(n, pattern) or fnmatch.fnmatch(PurePosixPath(n).name, pattern))
            )
        else:
            weights = [n for n in ggufs if (gguf_quant(n) or "") == pattern.upper()]
        if not weights:
            quants = sorted({q for n in ggufs if (q := gguf_quant(n))})
            hint = f" (its GGUF quantizations: {', '.join(quants)})" if quants else ""
            raise SourceNotFound(f"{repo}: no weight file matches {include!r}{hint}")
        fmt = "gguf" if all(n.lower().endswith(".gguf") for n in weights) else "selected"
    else:
        top = [n for n in names if _top(n)]
        safetensors = sorted(n for n in top if n.endswith(".safetensors"))
        bins = sorted(n for n in top if n.startswith("pytorch_model") and n.endswith(".bin"))
        checkpoints = sorted(n for n in top if n.endswith((".pt", ".pth")))
        if safetensors:
            shards = [n for n in safetensors if _SHARD.match(n)]
            weights, fmt = (shards or safetensors), "safetensors"
            if "model.safetensors.index.json" in top:
                meta.append("model.safetensors.index.json")
        elif bins:
            weights, fmt = bins, "pytorch"
            if "pytorch_model.bin.index.json" in top:
                meta.append("pytorch_model.bin.index.json")
        elif checkpoints:
            weights, fmt = checkpoints, "checkpoint"
        elif ggufs:
            groups: dict[str, list[str]] = {}
            for n in ggufs:
                groups.setdefault(gguf_quant(n) or _SPLIT.sub("", n), []).append(n)
            if len(groups) > 1:
                raise SourceNotFound(
                    f"{repo} holds {len(groups)} GGUF quantizations; choose one with {repo}:QUANT or "
                    f"--include QUANT ({', '.join(sorted(groups))})"
                )
            weights, fmt = ggufs, "gguf"
    return HubSelection(sorted(set(meta)), weights, fmt)
