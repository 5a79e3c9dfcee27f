"""Tokenizer layer of analysis: evidence for ``taoke inspect`` and ``taoke compare``.

The numbers come from :mod:`taoke.tokenizers` (loading, comparison, the known-tokenizer library);
this module only turns them into :class:`~taoke.evidence.Evidence` a renderer can show. The null every
overlap figure is read against is the overlap that *independently trained* vocabularies have, measured
on the real fixtures (docs/tokenizer.md): Jaccard 0.06-0.65, at most 2% of shared tokens at one id offset,
shared-merge rank Spearman at most 0.89. Derivation shows as more than that, identity as equal hashes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from taoke.errors import AnalysisError
from taoke.evidence import Evidence
from taoke.tokenizers.compare import TokenizerComparison
from taoke.tokenizers.library import IdentifyResult, identify
from taoke.tokenizers.view import TokenizerView

ANALYZER = "tokenizer"
NULL_INDEPENDENT = (
    "independently trained vocabularies on the real fixtures: Jaccard 0.06-0.65, "
    "<= 2% of shared tokens at one id offset, shared-merge rank Spearman <= 0.89"
)
_DERIVED = {"identical", "reordered", "extends", "subset"}


@dataclass
class TokenizerAnalysis:
    """What the tokenizer analyzer found about one release: its view summary, identification, evidence."""

    summary: dict[str, Any]
    identify: IdentifyResult | None
    evidence: list[Evidence] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "identify": self.identify.to_dict() if self.identify else None,
            "evidence": [e.to_dict() for e in self.evidence],
        }


def _ev(kind: str, message: str, severity: str = "info", **kw: Any) -> Evidence:
    return Evidence(ANALYZER, kind, message, severity, **kw)  # type: ignore[arg-type]


def identify_evidence(res: IdentifyResult) -> list[Evidence]:
    """Evidence for the nearest known tokenizer (and any other known tokenizer it derives from)."""
    out: list[Evidence] = []
    for m in res.matches:
        if m.relation not in _DERIVED and m is not res.best:
            continue
        if m.exact:
            msg = (
                f"vocabulary is {m.relation} to known tokenizer {m.name} ({m.family}): "
                f"equal SHA-256 of the {'id-ordered' if m.exact == 'order' else 'sorted'} vocabulary"
            )
            out.append(
                _ev(
                    "tokenizer-known",
                    msg,
                    "medium",
                    statistic="sha256 equality",
                    value=1.0,
                    detail=m.to_dict(),
                )
            )
        elif m.relation in ("extends", "subset"):
            placed = (
                "known ids kept in place"
                if m.offset == 0 and m.offset_fraction > 0.99
                else f"{m.offset_fraction:.0%} of shared tokens shifted by {m.offset:+d}"
            )
            what = "contains" if m.relation == "extends" else "is contained in"
            msg = (
                f"vocabulary {what} {m.containment if m.relation == 'extends' else m.query_in_known:.1%} "
                f"of known tokenizer {m.name} ({m.family}) ±{m.stderr:.1%}; {placed}"
            )
            out.append(
                _ev(
                    "tokenizer-derived",
                    msg,
                    "medium",
                    statistic="containment (bottom-k estimate)",
                    value=round(m.containment, 4),
                    null=NULL_INDEPENDENT,
                    detail=m.to_dict(),
                )
            )
        elif m.relation == "partial-overlap":
            msg = (
                f"vocabulary shares tokens with {m.name} ({m.family}) beyond independent training: "
                + "; ".join(m.derived)
            )
            out.append(
                _ev(
                    "tokenizer-related",
                    msg,
                    "low",
                    statistic="Jaccard (bottom-k estimate)",
                    value=round(m.jaccard, 4),
                    null=NULL_INDEPENDENT,
                    detail=m.to_dict(),
                )
            )
        else:
            msg = (
                f"no known tokenizer matches; nearest is {m.name} ({m.family}) with Jaccard {m.jaccard:.2f}, "
                "the overlap independently trained vocabularies have"
            )
            out.append(
                _ev(
                    "tokenizer-unknown",
                    msg,
                    "info",
                    statistic="Jaccard (bottom-k estimate)",
                    value=round(m.jaccard, 4),
                    null=NULL_INDEPENDENT,
                    detail=m.to_dict(),
                )
            )
    return out


def view_evidence(view: TokenizerView) -> list[Evidence]:
    """Facts about the vocabulary itself that a sceptical reader should know."""
    out: list[Evidence] = []
    if view.n_duplicates:
        out.append(
            _ev(
                "duplicate-tokens",
                f"{view.n_duplicates} ids repeat a token already at a lower id "
                "(added tokens duplicating vocabulary entries)",
                "low",
                value=view.n_duplicates,
            )
        )
    if view.n_padding:
        out.append(
            _ev(
                "padding-rows",
                f"{view.n_padding} ids are converter padding placeholders ([PADn]), not tokens",
                "info",
                value=view.n_padding,
            )
        )
    und = view.extra.get("undecodable_tokens")
    if und:
        out.append(
            _ev(
                "undecodable-tokens",
                f"{und} tokens do not follow the container's byte convention",
                "low",
                value=und,
            )
        )
    return out


def analyze(view: TokenizerView, top: int = 3, library: Any = None) -> TokenizerAnalysis:
    """Evidence about one tokenizer for ``taoke inspect``: what it is and whose vocabulary it is."""
    res = identify(view, top=top, library=library)
    ev = view_evidence(view) + identify_evidence(res)
    claimed = view.extra.get("tokenizer_class")
    best = res.best
    if (
        claimed
        and best is not None
        and best.relation not in _DERIVED
        and "llama" in str(claimed).lower()
        and best.family != "llama"
    ):
        ev.append(
            _ev(
                "tokenizer-class-claim",
                f"tokenizer_config.json names {claimed}, a class name only: the "
                f"vocabulary is not LLaMA's (nearest known: {best.name}, {best.relation})",
                "info",
            )
        )
    return TokenizerAnalysis(view.summary(), res, ev)


def compare_evidence(comp: TokenizerComparison) -> list[Evidence]:
    """Evidence for ``taoke compare`` from a :class:`TokenizerComparison` (A = reference, B = suspect)."""
    al = comp.alignment
    a, b = comp.a["name"], comp.b["name"]
    rel = comp.relation
    out: list[Evidence] = []
    if rel == "identical":
        out.append(
            _ev(
                "tokenizer-identical",
                f"{b} uses the same vocabulary as {a}, id for id ({al.n_shared} tokens)",
                "high",
                statistic="shared tokens at equal ids",
                value=al.n_shared,
            )
        )
    elif rel == "reordered":
        out.append(
            _ev(
                "tokenizer-reordered",
                f"{b} holds exactly {a}'s {al.n_shared} tokens with ids permuted "
                f"({al.in_place_fraction:.1%} in place)",
                "high",
                statistic="Jaccard",
                value=1.0,
            )
        )
    elif rel == "extends":
        scripts = ", ".join(f"{k} {v}" for k, v in comp.added.get("scripts", {}).items())
        placed = (
            "keeping A's ids"
            if al.in_place_fraction == 1.0
            else f"{al.offset_fraction:.1%} of A's tokens shifted by {al.offset:+d}"
        )
        out.append(
            _ev(
                "tokenizer-extends",
                f"{b} extends {a}: +{comp.added.get('count', 0)} tokens ({scripts}), "
                f"{placed}; {comp.containment_a_in_b:.2%} of A kept",
                "high",
                statistic="containment of A in B",
                value=round(comp.containment_a_in_b, 6),
                null=NULL_INDEPENDENT,
                detail={"added": comp.added, "alignment": al.to_dict()},
            )
        )
    elif rel == "subset":
        out.append(
            _ev(
                "tokenizer-subset",
                f"{b} keeps {comp.containment_b_in_a:.2%} of its tokens from {a} and "
                f"drops {comp.removed.get('count', 0)} of A's",
                "high",
                statistic="containment of B in A",
                value=round(comp.containment_b_in_a, 6),
                null=NULL_INDEPENDENT,
                detail={"removed": comp.removed, "alignment": al.to_dict()},
            )
        )
    elif rel == "partial-overlap":
        out.append(
            _ev(
                "tokenizer-partial-overlap",
                f"{b} and {a} share {al.n_shared} tokens (Jaccard "
                f"{comp.jaccard:.3f}) with traces of derivation: {'; '.join(comp.derived)}",
                "medium",
                statistic="Jaccard",
                value=round(comp.jaccard, 6),
                null=NULL_INDEPENDENT,
                detail={"merges": comp.merges, "alignment": al.to_dict()},
            )
        )
    else:
        out.append(
            _ev(
                "tokenizer-unrelated",
                f"{b} and {a} share {al.n_shared} tokens (Jaccard {comp.jaccard:.3f}), "
                "no more than independently trained vocabularies do",
                "info",
                statistic="Jaccard",
                value=round(comp.jaccard, 6),
                null=NULL_INDEPENDENT,
            )
        )
    if comp.same_pre_tokenizer is False or comp.same_normalizer is False:
        out.append(
            _ev(
                "tokenizer-pipeline-differs",
                f"normalizer {'same' if comp.same_normalizer else 'differs'}, "
                f"pre-tokenizer {'same' if comp.same_pre_tokenizer else 'differs'}",
                "info",
            )
        )
    beh = comp.behaviour
    if beh is not None:
        if beh.available:
            out.append(
                _ev(
                    "tokenizer-behaviour",
                    f"{beh.same_pieces}/{beh.texts} sample texts split into the same "
                    f"pieces, {beh.same_ids}/{beh.texts} into the same ids",
                    "info",
                    statistic="texts with equal segmentation",
                    value=beh.same_pieces,
                    detail=beh.to_dict(),
                )
            )
        else:
            out.append(_ev("tokenizer-behaviour", f"behavioural check {beh.reason}", "info"))
    return out


def check_vocab_vs_embeddings(view: TokenizerView, n_rows: int, strict: bool = False) -> list[Evidence]:
    """Compare the tokenizer's id range with the embedding's row count.

    More ids than rows means some tokens index past the embedding (a broken or mismatched release):
    high severity, or :class:`~taoke.errors.AnalysisError` naming the tokenizer file when ``strict``.
    More rows than ids is common (rows padded to a multiple of 64/128, or reserved for future tokens)
    and is reported for what it is.
    """
    where = view.source_files[0] if view.source_files else None
    if n_rows < 0:
        raise AnalysisError(f"embedding row count {n_rows} is negative", where)
    if view.size > n_rows:
        msg = (
            f"the tokenizer has {view.size} ids but the embedding has {n_rows} rows: ids {n_rows}.."
            f"{view.size - 1} have no embedding"
        )
        if strict:
            raise AnalysisError(msg, where)
        return [
            _ev(
                "vocab-exceeds-embedding",
                msg,
                "high",
                statistic="ids - rows",
                value=view.size - n_rows,
                detail={"tokenizer": view.size, "embedding": n_rows},
            )
        ]
    if view.size < n_rows:
        extra = n_rows - view.size
        padded = next((m for m in (128, 64, 32, 8) if n_rows % m == 0), None)
        why = f" (rows padded to a multiple of {padded})" if padded and extra < padded * 8 else ""
        return [
            _ev(
                "embedding-exceeds-vocab",
                f"the embedding has {extra} rows no token uses{why}",
                "info" if why else "low",
                statistic="rows - ids",
                value=extra,
                detail={"tokenizer": view.size, "embedding": n_rows},
            )
        ]
    return [
        _ev(
            "vocab-matches-embedding",
            f"tokenizer ids and embedding rows agree ({n_rows})",
            "info",
            value=n_rows,
        )
    ]
