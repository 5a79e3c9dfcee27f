"""Declared lineage vs measured lineage: "does it say so?"

What a release declares about its parents, from three places: the model card's YAML ``base_model``
and ``base_model_relation`` (the Hugging Face Hub convention: ``finetune``, ``adapter``, ``merge``,
``quantized``), GGUF ``general.base_model.{i}.*`` keys (llama.cpp's convention for converted models),
and sentences of the card text ("fine-tuned from X", "based on X", hub links). It is then reconciled
with what was measured (weights compare, tokenizer lineage, code lineage). WHY this is the headline of
an audit: borrowing is normal; borrowing without saying so is what the Yi and Qwen-comparison disputes
were about. An undeclared parent, or a declared parent the weights contradict, is the finding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from taoke.evidence import Evidence

RELATIONS = ("finetune", "adapter", "merge", "quantized")

_TEXT_PATTERNS = [
    (
        "finetune",
        re.compile(
            r"\b(?:fine[- ]?tuned|finetuned|instruction[- ]tuned|sft)\s+(?:version\s+)?"
            r"(?:from|of|on(?:\s+top\s+of)?)\s+(?:the\s+)?\[?`?([A-Za-z0-9][\w./-]{2,80})",
            re.I,
        ),
    ),
    (
        "continued-pretraining",
        re.compile(
            r"\bcontinued[- ]pre-?train(?:ed|ing)\s+(?:from|of|on)\s+(?:the\s+)?\[?`?"
            r"([A-Za-z0-9][\w./-]{2,80})",
            re.I,
        ),
    ),
    (
        "based-on",
        re.compile(
            r"\b(?:based on|built (?:on|upon|from)|derived from|initiali[sz]ed from)\s+(?:the\s+)?"
            r"\[?`?([A-Za-z0-9][\w./-]{2,80})",
            re.I,
        ),
    ),
    ("merge", re.compile(r"\bmerge(?:d)?\s+of\s+\[?`?([A-Za-z0-9][\w./-]{2,80})", re.I)),
    ("quantized", re.compile(r"\bquanti[sz]ed\s+(?:version\s+)?of\s+\[?`?([A-Za-z0-9][\w./-]{2,80})", re.I)),
]
_STOP = {
    "the",
    "a",
    "an",
    "our",
    "this",
    "their",
    "its",
    "transformer",
    "transformers",
    "architecture",
    "data",
    "dataset",
    "datasets",
    "top",
    "model",
    "models",
    "llm",
    "base",
}


@dataclass
class DeclaredParent:
    name: str
    relation: str | None  # finetune | adapter | merge | quantized | based-on | continued-pretraining | None
    source: str  # "card:base_model" | "gguf:general.base_model.0" | "card text"
    quote: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class DeclaredLineage:
    parents: list[DeclaredParent] = field(default_factory=list)
    relation: str | None = None  # card base_model_relation
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def structured(self) -> list[DeclaredParent]:
        """Parents declared in metadata (card YAML / GGUF), not only mentioned in prose."""
        return [p for p in self.parents if p.source != "card text"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "parents": [p.to_dict() for p in self.parents],
            "relation": self.relation,
            "evidence": [e.to_dict() for e in self.evidence],
        }


def declared_lineage(
    card_meta: dict[str, Any] | None, card_text: str = "", gguf_meta: dict[str, Any] | None = None
) -> DeclaredLineage:
    """Collect every declared parent with where it was declared."""
    out = DeclaredLineage()
    meta = card_meta or {}
    rel = meta.get("base_model_relation")
    out.relation = str(rel).strip().lower() if rel not in (None, "") else None
    base = meta.get("base_model")
    for b in base if isinstance(base, list) else [base] if base not in (None, "") else []:
        if b not in (None, ""):
            out.parents.append(DeclaredParent(str(b).strip(), out.relation, "card:base_model"))
    if out.relation and out.relation not in RELATIONS:
        out.evidence.append(
            Evidence(
                "declared",
                "unknown-base-model-relation",
                f"card base_model_relation '{out.relation}' is not one of the Hub's {', '.join(RELATIONS)}",
                "low",
            )
        )
    if out.relation and not out.parents:
        out.evidence.append(
            Evidence(
                "declared",
                "relation-without-base",
                f"card declares base_model_relation '{out.relation}' but no base_model",
                "medium",
            )
        )
    g = gguf_meta or {}
    try:
        count = int(g.get("general.base_model.count") or 0)
    except (TypeError, ValueError):
        count = 0
    for i in range(min(count, 64)):
        name = g.get(f"general.base_model.{i}.name") or g.get(f"general.base_model.{i}.repo_url")
        org = g.get(f"general.base_model.{i}.organization")
        if name:
            full = f"{org}/{name}" if org and "/" not in str(name) else str(name)
            out.parents.append(DeclaredParent(full, None, f"gguf:general.base_model.{i}"))
    seen = {_key(p.name) for p in out.parents}
    for relation, pat in _TEXT_PATTERNS:
        for m in pat.finditer(card_text or ""):
            name = m.group(1).rstrip(".,;:)]`'\"")
            if name.lower() in _STOP or _key(name) in seen or len(_key(name)) < 3:
                continue
            seen.add(_key(name))
            line = card_text[max(0, m.start() - 40) : m.end() + 40].replace("\n", " ").strip()
            out.parents.append(DeclaredParent(name, relation, "card text", line))
            if len(out.parents) > 20:
                break
    for p in out.parents:
        out.evidence.append(
            Evidence(
                "declared",
                "declared-parent",
                f"declares parent {p.name}" + (f" ({p.relation})" if p.relation else "") + f" in {p.source}",
                "info",
                detail=p.to_dict(),
            )
        )
    if not out.parents:
        out.evidence.append(
            Evidence(
                "declared",
                "no-declared-parent",
                "the release declares no base model (no card base_model, no GGUF "
                "general.base_model.*, no 'fine-tuned from' in the card)",
                "info",
            )
        )
    return out


def _key(name: str) -> str:
    """Comparable form of a model name: last path part, lower case, alphanumerics only."""
    return re.sub(r"[^a-z0-9]", "", name.split("/")[-1].lower())


def same_model(a: str, b: str) -> bool:
    """Loose name match ('meta-llama/Llama-2-7b-hf' ~ 'Llama-2-7b-hf' ~ 'llama2-7b-hf')."""
    ka, kb = _key(a), _key(b)
    if not ka or not kb:
        return False
    return ka == kb or (min(len(ka), len(kb)) >= 5 and (ka in kb or kb in ka))


@dataclass
class Measured:
    """One measured relation to a reference (from compare, tokenizer or code lineage)."""

    reference: str
    layer: str  # weights | tokenizer | code
    derived: bool
    relationship: str
    p_value: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Reconciliation:
    findings: list[Evidence]
    headline: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"headline": self.headline, "findings": [e.to_dict() for e in self.findings]}


def reconcile(declared: DeclaredLineage, measured: list[Measured]) -> Reconciliation:
    """Headline findings: undeclared parents, contradicted declarations, confirmations."""
    out: list[Evidence] = []
    headline: str | None = None
    weights = [m for m in measured if m.layer == "weights"]
    for m in weights:
        decl = [p for p in declared.parents if same_model(p.name, m.reference)]
        if m.derived and not decl:
            names = ", ".join(p.name for p in declared.parents)
            what = (
                f"weights share an ancestor with {m.reference} (not shown to derive from it)"
                if m.relationship == "shares-ancestor"
                else f"weights derive from {m.reference} ({m.relationship})"
            )
            msg = f"{what}; the release declares " + (
                f"{names} instead" if declared.parents else "no base model"
            )
            out.append(
                Evidence(
                    "declared",
                    "undeclared-parent",
                    msg,
                    "high",
                    p_value=m.p_value,
                    null=m.detail.get("null"),
                    detail=m.to_dict(),
                )
            )
            headline = headline or msg
        elif m.derived and decl:
            out.append(
                Evidence(
                    "declared",
                    "declared-parent-confirmed",
                    f"declared parent {decl[0].name} confirmed by the weights ({m.relationship})",
                    "info",
                    p_value=m.p_value,
                    null=m.detail.get("null"),
                    detail=m.to_dict(),
                )
            )
        elif m.relationship == "untestable":
            # no statistic applied: neither a confirmation nor a contradiction (issue 17)
            out.append(
                Evidence(
                    "declared",
                    "weights-untestable",
                    f"weights could not be compared with {m.reference} (compare: untestable)"
                    + (f"; the declared base {decl[0].name} is unchecked" if decl else ""),
                    "medium" if decl else "info",
                    detail=m.to_dict(),
                )
            )
        elif not m.derived and decl:
            msg = (
                f"declares base {decl[0].name} but the weights do not support it (compare: {m.relationship})"
            )
            out.append(
                Evidence(
                    "declared",
                    "declared-parent-unsupported",
                    msg,
                    "high",
                    p_value=m.p_value,
                    null=m.detail.get("null"),
                    detail=m.to_dict(),
                )
            )
            headline = headline or msg
    for m in measured:
        if (
            m.layer == "tokenizer"
            and m.derived
            and not any(same_model(p.name, m.reference) for p in declared.parents)
        ):
            out.append(
                Evidence(
                    "declared",
                    "undeclared-tokenizer",
                    f"tokenizer derives from {m.reference} ({m.relationship}) and the release "
                    "does not say so",
                    "medium",
                    detail=m.to_dict(),
                )
            )
        if m.layer == "code" and m.derived:
            out.append(
                Evidence(
                    "declared",
                    "borrowed-code",
                    f"modeling code derives from {m.reference}: the architecture is borrowed "
                    "(legitimate, but the code's licence obligations apply)",
                    "medium",
                    detail=m.to_dict(),
                )
            )
    return Reconciliation(out, headline)
