"""Claims check: what a release says about itself against what its config and weights say.

Yi-34B's card claimed 32K/200K context while its config said 4096 positions with no RoPE scaling; names
carry sizes ("34B") that nobody recomputes. This module extracts the claims a release makes (model
card text and front matter, the release name, GGUF ``general.size_label``) and checks each against the
numbers the weights themselves imply. Every finding states both sides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from taoke.evidence import Evidence
from taoke.model import Model

ANALYZER = "claims"
PARAM_TOLERANCE = 0.15  # relative difference between the size in the name and the computed count

__all__ = ["ClaimsResult", "analyze", "context_claims", "effective_context", "size_claims"]

# Every quantifier is bounded: the card is untrusted text, and "context" followed by a megabyte of
# spaces must not make two adjacent \s* backtrack quadratically.
_NUM = r"(\d{1,9}(?:[.,]\d{1,6})?)"
_WS = r"[\s-]{0,3}"
# "200K", "32k context", "128K-token context", "context window of 4096 tokens", "context length: 32,768"
_CTX_PATTERNS = [
    re.compile(
        _NUM + r"\s{0,2}([kKmM])\b" + _WS + r"(?:tokens?" + _WS + r")?(?:context|ctx|long[\s-]context"
        r"|sequence[\s-]length)",
        re.IGNORECASE,
    ),
    re.compile(
        r"(?:context(?:\s{1,3}window|\s{1,3}length|\s{1,3}size)?|sequence\s{1,3}length|max(?:imum)?\s{1,3}length)"
        r"\s{0,3}(?:of|:|=|is|up\s{1,3}to|supports?)?\s{0,3}(?:up\s{1,3}to\s{1,3})?"
        + _NUM
        + r"\s{0,2}([kKmM])?\b(?!\s{0,2}[bB]\b)",
        re.IGNORECASE,
    ),
]
# sizes in names: "34B", "1.1B", "135M", "8x7B" (mixture of experts: total is roughly 8*7B minus sharing)
_SIZE = re.compile(r"(?<![\w.])(?:(\d+)x)?(\d+(?:\.\d+)?)\s*([MBT])(?![a-zA-Z])", re.IGNORECASE)
# name parts that look like context claims: "Yi-34B-200K", "Llama-3-8B-Instruct-262k"
_NAME_CTX = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)([kK])(?![a-zA-Z])")


@dataclass
class Claim:
    kind: str  # "context" | "params"
    value: float
    text: str  # the words that made the claim
    where: str  # "card", "name", "gguf:general.size_label", ...

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value, "text": self.text, "where": self.where}


@dataclass
class ClaimsResult:
    claims: list[Claim] = field(default_factory=list)
    n_params: int = 0
    context_length: int | None = None
    effective_context: int | None = None
    evidence: list[Evidence] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "claims": [c.to_dict() for c in self.claims],
            "n_params": self.n_params,
            "context_length": self.context_length,
            "effective_context": self.effective_context,
            "evidence": [e.to_dict() for e in self.evidence],
        }


def _number(text: str, unit: str | None) -> float:
    value = float(text.replace(",", ""))
    scale = {"k": 1000, "m": 1_000_000}.get((unit or "").lower(), 1)
    return value * scale


def context_claims(text: str, where: str) -> list[Claim]:
    """Context-length claims in free text ("200K context", "context window of 4096 tokens")."""
    out: list[Claim] = []
    seen: set[tuple[int, int]] = set()
    for pattern in _CTX_PATTERNS:
        for m in pattern.finditer(text):
            value = _number(m.group(1), m.group(2))
            if value < 256 or value > 100_000_000:
                continue  # "context of 3 documents", years, versions
            span = (m.start(), m.end())
            if any(a <= span[0] < b or a < span[1] <= b for a, b in seen):
                continue
            seen.add(span)
            out.append(Claim("context", value, m.group(0).strip(), where))
    return out


def size_claims(name: str, where: str) -> list[Claim]:
    """Parameter counts written in a name or size label ("Yi-34B", "SmolLM2-135M", "8x7B")."""
    out = []
    for m in _SIZE.finditer(name):
        experts, number, unit = m.group(1), m.group(2), m.group(3).upper()
        value = float(number) * {"M": 1e6, "B": 1e9, "T": 1e12}[unit]
        if experts:
            value *= int(experts)
        out.append(Claim("params", value, m.group(0), where))
    return out


def effective_context(model: Model) -> tuple[int | None, str]:
    """Positions the model can address: max_position_embeddings, times a rope scaling factor if any."""
    hp = model.hparams
    if hp.context_length is None:
        return None, "no context length in the config or metadata"
    scaling = hp.rope_scaling or {}
    factor = scaling.get("factor") if isinstance(scaling, dict) else None
    original = scaling.get("original_max_position_embeddings") if isinstance(scaling, dict) else None
    try:
        factor = float(factor) if factor is not None else None
    except (TypeError, ValueError):
        factor = None
    if factor and factor > 1:
        base = int(original) if isinstance(original, (int, float)) and original else hp.context_length
        scaled = int(base * factor)
        eff = max(hp.context_length, scaled)
        return (
            eff,
            f"{hp.source.get('context_length', 'context_length')}={hp.context_length} with rope "
            f"scaling x{factor:g} ({scaling.get('rope_type') or scaling.get('type')})",
        )
    return (
        hp.context_length,
        f"{hp.source.get('context_length', 'context_length')}={hp.context_length}, no rope scaling",
    )


def _names(model: Model) -> list[tuple[str, str]]:
    names = [(model.name, "name")]
    spec = getattr(model.release, "spec", None)
    if isinstance(spec, str) and spec != model.name and "/" in spec and not spec.startswith(("/", ".")):
        names.append((spec, "hub id"))
    for key in ("general.name", "general.size_label", "general.basename"):
        v = model.gguf_metadata.get(key)
        if isinstance(v, str) and v:
            names.append((v, f"gguf:{key}"))
    if model.card is not None:
        for key in ("model_name", "model-index"):
            v = model.card.metadata.get(key)
            if isinstance(v, str):
                names.append((v, f"card:{key}"))
    return names


def analyze(model: Model) -> ClaimsResult:
    """Check the release's context-length, size and architecture claims against config and weights."""
    result = ClaimsResult(n_params=model.n_params, context_length=model.hparams.context_length)
    eff, how = effective_context(model)
    result.effective_context = eff
    # --- context length ---
    if model.card is not None:
        result.claims += context_claims(model.card.text, "card")
        meta_text = " ".join(str(v) for v in model.card.metadata.values() if isinstance(v, (str, int)))
        result.claims += context_claims(meta_text, "card front matter")
    for name, where in _names(model):
        for m in _NAME_CTX.finditer(name):
            value = _number(m.group(1), m.group(2))
            if value >= 1000:
                result.claims.append(Claim("context", value, m.group(0), where))
    ctx_claims = [c for c in result.claims if c.kind == "context"]
    if ctx_claims and eff is not None:
        top = max(ctx_claims, key=lambda c: c.value)
        # "32K" means 32768 to some and 32000 to others: allow the 1024/1000 difference and 5% more
        if top.value > eff * 1.05 * 1.024:
            ratio = top.value / eff
            scaled = bool(model.hparams.rope_scaling)
            severity = "high" if (ratio >= 2 and not scaled) else "medium"
            result.evidence.append(
                Evidence(
                    ANALYZER,
                    "context-claim",
                    f"{top.where} claims {top.text!r} (~{int(top.value):,} tokens) but the weights' config "
                    f"allows {eff:,} ({how}): {ratio:.1f}x more than configured",
                    severity,
                    statistic="claimed/configured",
                    value=round(ratio, 3),
                    detail={
                        "claimed": top.value,
                        "claim_text": top.text,
                        "where": top.where,
                        "configured": eff,
                        "rope_scaling": model.hparams.rope_scaling,
                    },
                )
            )
        else:
            result.evidence.append(
                Evidence(
                    ANALYZER,
                    "context-claim",
                    f"{top.where} claims {top.text!r}; the config allows {eff:,} ({how}): consistent",
                    "info",
                    detail={"claimed": top.value, "configured": eff},
                )
            )
    elif eff is not None:
        result.evidence.append(
            Evidence(
                ANALYZER,
                "context-length",
                f"context length {eff:,} ({how}); no context claim found in the card or name",
                "info",
                detail={"configured": eff},
            )
        )
    # --- parameter count ---
    size = [c for name, where in _names(model) for c in size_claims(name, where)]
    result.claims += size
    n = model.n_params
    if size and n:
        seen: set[float] = set()
        for claim in size:
            if claim.value in seen or claim.value <= 0:  # "0B" in a name claims no size
                continue
            seen.add(claim.value)
            rel = (n - claim.value) / claim.value
            if abs(rel) > PARAM_TOLERANCE:
                severity = "high" if abs(rel) > 0.5 else "medium"
                msg = (
                    f"{claim.where} says {claim.text!r} ({claim.value:,.0f}) but the weights hold {n:,} "
                    f"parameters ({rel:+.0%})"
                )
            else:
                severity = "info"
                msg = (
                    f"{claim.where} says {claim.text!r}; the weights hold {n:,} parameters ({rel:+.1%}, "
                    f"within {PARAM_TOLERANCE:.0%})"
                )
            result.evidence.append(
                Evidence(
                    ANALYZER,
                    "param-claim",
                    msg,
                    severity,
                    statistic="relative difference",
                    value=round(rel, 4),
                    detail={
                        "claimed": claim.value,
                        "claim_text": claim.text,
                        "where": claim.where,
                        "computed": n,
                    },
                )
            )
    # --- architecture class ---
    fam = model.family_info
    match = model.family
    if fam is not None and match.hf_class and match.hf_class not in fam.hf_classes and not fam.generic:
        result.evidence.append(
            Evidence(
                ANALYZER,
                "architecture-claim",
                f"the config declares its own class {match.hf_class} but the weights are laid out as "
                f"{fam.name} ({match.label}); a release on a borrowed architecture should say so",
                "medium",
                detail={"hf_class": match.hf_class, "family": fam.name, "renamed": match.renamed},
            )
        )
    return result
