"""Architecture analyzer: which family a release belongs to and exactly how it differs from it.

The diff is against the family's canonical layout (families.json), so a finding reads like the Yi-34B
discussion did: "``model.layers.*.ln1.weight`` is LLaMA's ``model.layers.*.input_layernorm.weight``
(60x)". Each pattern is reported once with its count, never once per block. Borrowing an
architecture is legitimate; what this analyzer establishes is *which* one was borrowed and how much
of it was changed (names, fusion, hyper-parameters, extra or missing tensors, tied embeddings).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from taoke.evidence import Evidence
from taoke.families import KNOWN_CLASSES, canonical_name, is_ignored
from taoke.model import Model

ANALYZER = "architecture"
MAX_REPORTED_BLOCKS = 4096  # real decoders have < 200 blocks
# a block-number component: ASCII digits, at most 18 (``\d+`` also matched '²' and 5,000 digits,
# which int() refuses: an internal error on a hostile tensor name, issue 16)
_BLOCK_NUMBER = re.compile(r"(^|\.)([0-9]{1,18})(\.|$)")

__all__ = ["ArchitectureResult", "analyze", "block_pattern"]


def block_pattern(name: str, block: int | None) -> str:
    """``model.layers.7.ln1.weight`` -> ``model.layers.*.ln1.weight`` (the block number only).

    The first dot-separated component equal to the block number is replaced. Split, not a regex built
    from the number: one pattern per block thrashed ``re``'s 512-entry cache, so every tensor of a
    12,500-block file compiled a regex (issue 16).
    """
    if block is None:
        return name
    parts = name.split(".")
    try:
        parts[parts.index(str(block))] = "*"
    except ValueError:
        return name
    return ".".join(parts)


@dataclass
class ArchitectureResult:
    """Family identification and the exact diff against the family's canonical layout."""

    family: dict[str, Any]
    renames: list[dict[str, Any]] = field(default_factory=list)  # {stored, canonical, count}
    fused: list[dict[str, Any]] = field(default_factory=list)  # {stored, parts, layout, count}
    split: list[dict[str, Any]] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)  # {name, count}
    extra: list[dict[str, Any]] = field(default_factory=list)  # {name, count, why}
    hparam_diffs: list[dict[str, Any]] = field(default_factory=list)
    tied_embeddings: bool | None = None
    evidence: list[Evidence] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "renames": self.renames,
            "fused": self.fused,
            "split": self.split,
            "missing": self.missing,
            "extra": self.extra,
            "hparam_diffs": self.hparam_diffs,
            "tied_embeddings": self.tied_embeddings,
            "evidence": [e.to_dict() for e in self.evidence],
        }


# extra name patterns reported one finding each; the rest are one finding (a release of 100,000
# distinct unmapped names made 100,000 findings, and rendering them cost more than the analysis:
# issue 16). ArchitectureResult.extra keeps every pattern.
EXTRA_FINDINGS = 50


def _ev(kind: str, message: str, severity: str = "info", **detail: Any) -> Evidence:
    return Evidence(
        ANALYZER, kind, message, severity, detail={k: v for k, v in detail.items() if v is not None}
    )


def analyze(model: Model) -> ArchitectureResult:
    """Identify the family of ``model`` and diff its layout against the family's canonical one."""
    match = model.family
    result = ArchitectureResult(family=match.to_dict(), tied_embeddings=model.hparams.tied_embeddings)
    ev = result.evidence
    if match.family is None:
        ev.append(
            _ev(
                "family-unknown",
                "no known family matches the config or the tensor layout "
                f"({len(model.tensor_infos)} tensors)",
                "medium",
                why=match.why,
            )
        )
        _unmapped(model, result)
        return result
    fam = model.family_info
    assert fam is not None
    ev.append(
        _ev(
            "family",
            f"{match.label} ({fam.description}); confidence {match.confidence:.2f}: " + "; ".join(match.why),
            "info",
            family=match.family,
            arch=match.arch,
            confidence=match.confidence,
        )
    )
    ev[-1].statistic, ev[-1].value = "confidence", match.confidence
    if match.agree is False:
        ev.append(
            _ev(
                "family-disagreement",
                f"config names {match.config_family} "
                f"({match.hf_class or match.model_type}) but the tensor layout is {match.layout_family}",
                "high",
                config_family=match.config_family,
                layout_family=match.layout_family,
            )
        )
    if match.hf_class is not None and match.hf_class not in fam.hf_classes and not fam.generic:
        ev.append(
            _ev(
                "unknown-class",
                f"class {match.hf_class} is not a known {fam.name} class "
                f"({', '.join(fam.hf_classes)}), yet the layout is {fam.name}'s"
                + (
                    f"; known case: {KNOWN_CLASSES[match.hf_class]['note']}"
                    if match.hf_class in KNOWN_CLASSES
                    else ""
                ),
                "medium",
                hf_class=match.hf_class,
                known_classes=list(fam.hf_classes),
            )
        )
    elif match.note:
        ev.append(_ev("config-note", match.note, "low"))
    if (
        match.model_type is not None
        and fam.model_types
        and match.model_type not in fam.model_types
        and not fam.generic
    ):
        ev.append(
            _ev(
                "unknown-model-type",
                f"model_type {match.model_type!r} is not {fam.name}'s ({', '.join(fam.model_types)})",
                "low",
                model_type=match.model_type,
            )
        )
    if fam.llama_compatible and fam.name != "llama":
        ev.append(
            _ev(
                "llama-compatible",
                f"the {fam.name} layout is the LLaMA layout up to names/fusion: "
                "`taoke llamafy` can rewrite it as LlamaForCausalLM",
                "info",
            )
        )
    if not model.tensor_infos:  # a vocabulary-only GGUF, say: nothing to diff, say so once
        ev.append(
            _ev(
                "no-tensors",
                "the release holds no tensors: family from metadata only, no layout to compare",
                "medium",
            )
        )
        return result
    if not model.is_gguf:
        _renames(model, result)
    _fused(model, result)
    _missing(model, result)
    _unmapped(model, result)
    _hparams(model, result)
    _tied(model, result)
    return result


def _renames(model: Model, result: ArchitectureResult) -> None:
    renames: Counter[tuple[str, str]] = Counter()
    prefixes: Counter[str] = Counter()
    fam = model.family_info
    assert fam is not None
    for name, role in model.roles.items():
        if role.hf_name is None or role.hf_name == name:
            continue
        suffix = ".bias" if name.endswith(".bias") else (".weight" if name.endswith(".weight") else "")
        if fam.is_canonical(name, role.tensor_type, role.block, suffix):
            continue
        if name.endswith(role.hf_name) and name[: len(name) - len(role.hf_name)] in (
            "bert.",
            "model.",
            "transformer.",
            "language_model.",
        ):
            prefixes[name[: len(name) - len(role.hf_name)]] += 1
            continue
        renames[(block_pattern(name, role.block), block_pattern(role.hf_name, role.block))] += 1
    for (stored, canonical), count in sorted(renames.items(), key=lambda kv: -kv[1]):
        result.renames.append({"stored": stored, "canonical": canonical, "count": count})
        result.evidence.append(
            _ev(
                "renamed-tensor",
                f"`{stored}` is {fam.name}'s `{canonical}` under another name ({count}x)",
                "medium",
                stored=stored,
                canonical=canonical,
                count=count,
            )
        )
    for prefix, count in prefixes.items():
        result.evidence.append(
            _ev(
                "module-prefix",
                f"{count} tensors carry the module prefix {prefix!r} (a task head wrapper; same layout)",
                "info",
                prefix=prefix,
                count=count,
            )
        )


def _fused(model: Model, result: ArchitectureResult) -> None:
    fam = model.family_info
    assert fam is not None
    fused: Counter[tuple[str, tuple[str, ...], str]] = Counter()
    for name, role in model.roles.items():
        if role.parts:
            parts = tuple(p.replace(f"blk.{role.block}.", "blk.*.") for p in role.parts)
            fused[(block_pattern(name, role.block), parts, role.fused_layout or "rows")] += 1
    for (stored, parts, layout), count in fused.items():
        result.fused.append({"stored": stored, "parts": list(parts), "layout": layout, "count": count})
        how = {"rows": "concatenated row-wise", "groups": "interleaved per kv group/head"}.get(layout, layout)
        result.evidence.append(
            _ev(
                "fused-tensor",
                f"`{stored}` fuses {', '.join(parts)} ({how}, {count}x)",
                "info",
                stored=stored,
                parts=list(parts),
                layout=layout,
                count=count,
            )
        )
    # split: the family's canonical layout fuses a tensor but the release stores its parts
    if model.is_gguf:
        return
    present = {r.tensor_type for r in model.roles.values()}
    for ftype, spec in fam.fused.items():
        if ftype in fam.tensors and ftype not in present and all(p in present for p in spec.parts):
            hf = fam.tensors[ftype].replace("{bid}", "*")
            result.split.append({"canonical": hf, "parts": list(spec.parts)})
            result.evidence.append(
                _ev(
                    "split-tensor",
                    f"{fam.name} stores `{hf}` fused, this release stores "
                    f"its parts {', '.join(spec.parts)} separately",
                    "low",
                    canonical=hf,
                    parts=list(spec.parts),
                )
            )


def _missing(model: Model, result: ArchitectureResult) -> None:
    fam = model.family_info
    assert fam is not None
    if fam.generic:
        return
    stored_blocks = 1 + max((r.block for r in model.roles.values() if r.block is not None), default=-1)
    # a config may claim any number of layers: list missing blocks only up to a bound (the mismatch
    # itself is reported by the hyper-parameter check), so a lying header cannot make this loop huge
    n_blocks = min(model.hparams.n_layers or 0, max(stored_blocks, MAX_REPORTED_BLOCKS))
    tied = model.hparams.tied_embeddings
    have = set()
    for role in model.roles.values():
        have.add(role.canonical)
        have.update(role.parts or ())
    if model.is_gguf:  # compare roles: llama.cpp keeps or splits fused tensors its own way
        split_parts = {p: t for t, f in fam.fused.items() for p in f.parts}
        expected: dict[str, str] = {}
        for ttype in fam.layout_types(tied):
            if "{bid}" in (fam.tensors.get(ttype) or ""):
                for b in range(n_blocks):
                    expected[canonical_name(ttype, b)] = ttype
            else:
                expected[canonical_name(ttype, None)] = ttype
        missing = [
            c
            for c, t in expected.items()
            if c not in have
            and not (t in fam.fused and all(canonical_name(p, _blk(c)) in have for p in fam.fused[t].parts))
            and not (t in split_parts and canonical_name(split_parts[t], _blk(c)) in have)
        ]
    else:
        exp = fam.expected_names(n_blocks, tied)
        missing = [
            hf for hf, canon in exp.items() if canon not in have and not _covered_by_split(hf, fam, have)
        ]
    counts: Counter[str] = Counter()
    for name in missing:
        m = _BLOCK_NUMBER.search(name)
        counts[block_pattern(name, int(m.group(2))) if m else name] += 1
    for pattern, count in sorted(counts.items()):
        result.missing.append({"name": pattern, "count": count})
        result.evidence.append(
            _ev(
                "missing-tensor",
                f"`{pattern}` of the canonical {fam.name} layout is absent ({count}x)",
                "medium",
                name=pattern,
                count=count,
            )
        )


def _blk(canon: str) -> int | None:
    m = re.match(r"blk\.(\d+)\.", canon)
    return int(m.group(1)) if m else None


def _covered_by_split(hf: str, fam: Any, have: set[str]) -> bool:
    """A fused canonical tensor (phi3 qkv_proj) whose parts are all present is split, not missing."""
    for ftype, spec in fam.fused.items():
        template = fam.tensors.get(ftype)
        if template is None:
            continue
        pattern = re.escape(template).replace(re.escape("{bid}"), r"(\d+)") + r"\.(weight|bias)$"
        m = re.fullmatch(pattern, hf)
        if m:
            block = int(m.group(1)) if "{bid}" in template else None
            suffix = "." + m.group(m.lastindex or 1)
            return all(canonical_name(p, block, suffix) in have for p in spec.parts)
    return False


def _unmapped(model: Model, result: ArchitectureResult) -> None:
    fam = model.family_info
    counts: Counter[str] = Counter()
    why: dict[str, str] = {}
    for name in model.tensor_infos:
        if is_ignored(name):
            continue
        role = model.roles.get(name)
        if role is None:
            if fam is not None and fam.allows_extra(name):
                continue
            m = _BLOCK_NUMBER.search(name)
            pattern = block_pattern(name, int(m.group(2))) if m else name
            counts[pattern] += 1
            why[pattern] = "no role in this family"
        elif (
            fam is not None
            and not fam.generic
            and name.endswith(".bias")
            and role.tensor_type not in fam.biases
            and not model.is_gguf
        ):
            pattern = block_pattern(name, role.block)
            counts[pattern] += 1
            why[pattern] = f"{fam.name} has no bias here"
        elif (
            fam is not None
            and not fam.generic
            and not model.is_gguf
            and role.tensor_type not in fam.tensors
            and role.tensor_type not in fam.optional
        ):
            pattern = block_pattern(name, role.block)
            counts[pattern] += 1
            why[pattern] = f"role {role.tensor_type} is not in the {fam.name} layout"
    fname = fam.name if fam is not None else "any known family"
    rest = rest_tensors = 0
    for pattern, count in sorted(counts.items()):
        result.extra.append({"name": pattern, "count": count, "why": why[pattern]})
        if len(result.extra) > EXTRA_FINDINGS:
            rest, rest_tensors = rest + 1, rest_tensors + count
            continue
        result.evidence.append(
            _ev(
                "extra-tensor",
                f"`{pattern}` is not part of the canonical {fname} layout ({why[pattern]}, {count}x)",
                "low",
                name=pattern,
                count=count,
            )
        )
    if rest:
        result.evidence.append(
            _ev(
                "extra-tensors",
                f"{rest} more tensor name patterns ({rest_tensors} tensors) are not part of the canonical "
                f"{fname} layout (all listed under architecture.extra in the JSON output)",
                "low",
                patterns=rest,
                count=rest_tensors,
            )
        )


def _hparams(model: Model, result: ArchitectureResult) -> None:
    """Config/GGUF hyper-parameters against the shapes of the weights and the family's expectations."""
    fam = model.family_info
    assert fam is not None
    hp = model.hparams
    shapes: dict[str, tuple[int, ...]] = {}
    blocks: set[int] = set()
    for name, role in model.roles.items():
        if role.block is not None:
            blocks.add(role.block)
        if name.endswith(".bias"):
            continue
        shape = model.tensor_infos[name].shape
        if role.tensor_type in fam.hf_transposed and not model.is_gguf and len(shape) == 2:
            shape = shape[::-1]
        shapes.setdefault(role.tensor_type, shape)

    def diff(param: str, declared: Any, actual: Any, why: str, severity: str = "high") -> None:
        if declared is None or actual is None or declared == actual:
            return
        src = hp.source.get(param, "?")
        result.hparam_diffs.append({"param": param, "declared": declared, "actual": actual, "source": src})
        result.evidence.append(
            _ev(
                "hparam-mismatch",
                f"{param} is {declared} per {src} but the weights say {actual} ({why})",
                severity,
                param=param,
                declared=declared,
                actual=actual,
            )
        )

    if not hp.source.get("n_layers", "").startswith("shapes") and blocks:
        diff("n_layers", hp.n_layers, max(blocks) + 1, "highest block index + 1")
    emb = shapes.get("TOKEN_EMBD")
    if emb is not None and len(emb) == 2:
        if not hp.source.get("d_model", "").startswith("shapes"):
            diff("d_model", hp.d_model, emb[1], "token embedding width")
        if (
            hp.vocab_size is not None
            and hp.vocab_size != emb[0]
            and not hp.source.get("vocab_size", "").startswith("shapes")
        ):
            sev = "low" if emb[0] > hp.vocab_size else "high"
            diff("vocab_size", hp.vocab_size, emb[0], "token embedding rows (padding is common)", sev)
    q = shapes.get("ATTN_Q")
    if q is not None and hp.n_heads and hp.head_dim and len(q) == 2 and hp.source.get("n_heads"):
        diff("n_heads*head_dim", hp.n_heads * hp.head_dim, q[0], "rows of attn_q")
    k = shapes.get("ATTN_K")
    if k is not None and hp.n_kv_heads and hp.head_dim and len(k) == 2 and hp.source.get("n_kv_heads"):
        diff("n_kv_heads*head_dim", hp.n_kv_heads * hp.head_dim, k[0], "rows of attn_k")
    # the feed-forward width from the canonical (already split) tensors, so a fused gate/up counts once
    ffn_key = next(
        (k for k in ("blk.0.ffn_gate.weight", "blk.0.ffn_up.weight") if k in model.canonical_keys()), None
    )
    gate = model.canonical_shape(ffn_key) if ffn_key is not None else None
    if gate is not None and len(gate) == 2 and hp.source.get("ffn_dim", "").startswith(("config", "gguf")):
        diff("ffn_dim", hp.ffn_dim, gate[0], "rows of the feed-forward up/gate projection")
    for key, allowed in fam.config_expect.items():
        value = model.config.get(key)
        if value is not None and value not in allowed:
            result.hparam_diffs.append(
                {"param": key, "declared": value, "expected": list(allowed), "source": f"config:{key}"}
            )
            result.evidence.append(
                _ev(
                    "hparam-family",
                    f"{key} is {value!r}; {fam.name} uses {' or '.join(map(repr, allowed))}",
                    "low",
                    param=key,
                    value=value,
                )
            )
    if hp.rope_scaling:
        result.evidence.append(
            _ev(
                "rope-scaling",
                f"rope scaling {hp.rope_scaling} extends the context "
                f"beyond the trained positions ({hp.source.get('rope_scaling')})",
                "info",
            )
        )


def _tied(model: Model, result: ArchitectureResult) -> None:
    fam = model.family_info
    assert fam is not None
    if fam.encoder_only or fam.generic:
        return
    actual = model.hparams.tied_embeddings
    declared = model.config.get("tie_word_embeddings")
    if actual is None:
        return
    state = "tied (no separate output matrix)" if actual else "untied (separate output matrix)"
    if isinstance(declared, bool) and declared != actual:
        result.evidence.append(
            _ev(
                "tied-embeddings",
                f"config says tie_word_embeddings={declared} but the weights are {state}",
                # declared untied, stored tied: transformers would build a random lm_head (high);
                # declared tied, stored untied: the stored lm_head is silently ignored (medium)
                "high" if actual else "medium",
                declared=declared,
                actual=actual,
            )
        )
    elif actual != fam.tied_embeddings:
        result.evidence.append(
            _ev(
                "tied-embeddings",
                f"embeddings are {state}; {fam.name} releases are "
                f"usually {'tied' if fam.tied_embeddings else 'untied'}",
                "info",
                actual=actual,
                family_default=fam.tied_embeddings,
            )
        )
    else:
        result.evidence.append(
            _ev("tied-embeddings", f"embeddings are {state}, as usual for {fam.name}", "info", actual=actual)
        )
