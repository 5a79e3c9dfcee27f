"""Weight lineage of two fingerprints: did SUSPECT's weights come from REFERENCE, and how were they changed?

The library call behind ``taoke compare`` (the job :func:`taoke.jobs.compare` turns source specs into
:class:`~taoke.weights.fingerprint.Fingerprint` objects first, one streaming pass per model). Then:

1. the lineage test (:mod:`taoke.weights.lineage`) gives layer-pair similarities, their p-values under
   stated nulls (:class:`~taoke.weights.lineage.Nulls`), a layer map and a model-level p-value;
2. the explainers (:mod:`taoke.weights.alignment`) recover what was done: same raw values, residual
   permutation/rotation/scale, neuron permutation, vocabulary alignment, moved scales, merge shares;
3. :mod:`taoke.weights.verdict` turns those facts into one :class:`Relationship` with a confidence.

>>> from taoke.weights import compare, fingerprint
>>> res = compare(fingerprint("base/"), fingerprint("suspect/"))   # doctest: +SKIP
>>> res.relationship, res.derived, res.p_value                     # doctest: +SKIP
(<Relationship.OBFUSCATED_COPY: 'obfuscated-copy'>, True, 0.0)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from taoke.defaults import DEFAULT_ALPHA
from taoke.evidence import Evidence
from taoke.model import HParams
from taoke.weights.alignment import Explanation, ParentMatch, explain, rescaled_tensors
from taoke.weights.ancestry import common_relative
from taoke.weights.fingerprint import Fingerprint, blas_limit
from taoke.weights.lineage import LineageStats, Nulls, lineage, p_value, packaged_nulls
from taoke.weights.relationship import Relationship
from taoke.weights.verdict import Verdict, decide, through_relative

__all__ = ["CompareResult", "LayerMatch", "compare"]


@dataclass
class LayerMatch:
    """One suspect layer: the reference layer it comes from (or None), similarity and p-value."""

    suspect_layer: int
    reference_layer: int | None
    similarity: float | None  # None when no statistic was computed (untestable)
    p_value: float | None
    components: dict[str, float] = field(default_factory=dict)
    raw_basis_similarity: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "suspect_layer": self.suspect_layer,
            "reference_layer": self.reference_layer,
            "similarity": None if self.similarity is None else round(self.similarity, 6),
            "p_value": self.p_value,
            "components": {k: round(v, 6) for k, v in self.components.items()},
        }
        if self.raw_basis_similarity is not None:
            out["raw_basis_similarity"] = round(self.raw_basis_similarity, 6)
        return out


@dataclass
class CompareResult:
    """The answer of ``taoke compare`` (renderers draw it; ``to_dict()`` is the JSON contract)."""

    reference: str
    suspect: str
    relationship: Relationship
    derived: bool
    p_value: float | None  # None when untestable (JSON null): no test was made
    log10_p_value: float | None
    confidence: float | None
    alpha: float
    evidence: list[Evidence]
    layers: list[LayerMatch]
    transformations: dict[str, Any]
    similarity: np.ndarray  # [L_ref, L_sus] for the heatmap
    reference_info: dict[str, Any]
    suspect_info: dict[str, Any]
    reasons: list[str] = field(default_factory=list)
    parents: list[ParentMatch] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "suspect": self.suspect,
            "relationship": self.relationship,
            "derived": self.derived,
            "p_value": self.p_value,
            "log10_p_value": None if self.log10_p_value is None else round(self.log10_p_value, 3),
            "confidence": None if self.confidence is None else round(self.confidence, 3),
            "alpha": self.alpha,
            "reasons": self.reasons,
            "evidence": [e.to_dict() for e in self.evidence],
            "layers": [m.to_dict() for m in self.layers],
            "transformations": self.transformations,
            "parents": [p.to_dict() for p in self.parents],
            "similarity_matrix": np.round(self.similarity, 4).tolist(),
            "reference_info": self.reference_info,
            "suspect_info": self.suspect_info,
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
        }


def _info(fp: Fingerprint) -> dict[str, Any]:
    m = fp.meta
    keys = (
        "arch",
        "hf_class",
        "format",
        *HParams.SHAPE_FIELDS,
        "renamed",
        "fused",
        "token_keys_from",
        "dtypes",
    )
    out = {k: m.get(k) for k in keys if m.get(k) not in (None, [], {})}
    out["name"] = fp.name
    return out


def _layers(stats: LineageStats, tested: bool = True) -> list[LayerMatch]:
    if not tested:
        return [LayerMatch(j, None, None, None) for j in range(len(stats.layer_map))]
    out = []
    sim = stats.similarity()
    for j, i in enumerate(stats.layer_map):
        if i is not None:
            s = float(sim[i, j])
            comps = {c: float(v[i, j]) for c, v in stats.basis_free.items()}
            rb = float(np.tanh(stats.s2[i, j])) if stats.s2 is not None else None
        else:
            best = int(np.argmax(sim[:, j])) if sim.size else 0
            s = float(sim[best, j]) if sim.size else 0.0
            comps = {}
            rb = None
        out.append(LayerMatch(j, i, s, p_value(stats.layer_log10p[j]), comps, rb))
    return out


_DRIFT = (Relationship.FINE_TUNED, Relationship.CONTINUED_PRETRAINING)


def compare(
    reference: Fingerprint,
    suspect: Fingerprint,
    *,
    parents: list[Fingerprint] | None = None,
    alpha: float = DEFAULT_ALPHA,
    nulls: Nulls | None = None,
    relatives: list[Fingerprint] | None = None,
    memo: dict[tuple[str, str], float | None] | None = None,
) -> CompareResult:
    """Compare SUSPECT's fingerprint against REFERENCE's; see the module docstring.

    ``parents``: fingerprints of candidate parents of a merge (two or more); each is compared with
    SUSPECT and their shares are estimated. ``relatives``: other models that may sit between the two
    (a base two fine-tunes came from; :mod:`taoke.weights.ancestry`): a drift verdict through one of
    them is ``shares-ancestor``; ``memo`` caches their closeness across calls. ``alpha``: the
    significance level for ``derived``.
    ``nulls``: the calibrated nulls of the lineage test (default: the packaged calibration,
    :func:`~taoke.weights.lineage.packaged_nulls`).
    """
    t0 = time.perf_counter()
    nulls = packaged_nulls() if nulls is None else nulls
    with blas_limit(1):  # every product here is small; threads only add contention
        stats = lineage(reference, suspect, nulls)
        found = explain(reference, suspect, stats.layer_map, list(parents or []), nulls)
        verdict = decide(reference, suspect, stats, found, alpha)
        drift = verdict.transformations.get("drift")
        if relatives and drift and verdict.relationship in _DRIFT:
            pair = float(drift["median_layer_similarity"])
            rel = common_relative(reference, suspect, pair, list(relatives), nulls, alpha, memo)
            if rel is not None:
                verdict = through_relative(verdict, rel, stats.log10p_model, alpha)
        if drift and verdict.relationship in _DRIFT:
            # The pair alone reads a parent and its child the same way as two children of one base
            # (issue 20): the label names the drift, the direction is not shown, and the output says so.
            verdict.reasons.append(
                f"no relative checked ({len(relatives)}) sits between the two"
                if relatives
                else "which one is the parent is not shown: two fine-tunes of one base read the same; "
                "check a candidate base with --relative"
            )
        transformations = _transformations(reference, suspect, stats, found, verdict)
        evidence = _evidence(stats, found, verdict)
        tested = verdict.relationship.tested
        result = CompareResult(
            reference=reference.name,
            suspect=suspect.name,
            relationship=verdict.relationship,
            derived=verdict.derived,
            p_value=p_value(stats.log10p_model) if tested else None,
            log10_p_value=stats.log10p_model if tested else None,
            confidence=verdict.confidence,
            alpha=alpha,
            evidence=evidence,
            layers=_layers(stats, tested),
            transformations=transformations,
            similarity=stats.similarity(),
            reference_info=_info(reference),
            suspect_info=_info(suspect),
            reasons=verdict.reasons,
            parents=found.parents,
        )
    result.timings = {"compare": time.perf_counter() - t0}
    return result


def _transformations(
    ref: Fingerprint, sus: Fingerprint, stats: LineageStats, found: Explanation, verdict: Verdict
) -> dict[str, Any]:
    """The JSON ``transformations`` of a comparison: the verdict's own, then what the explainers found."""
    out = dict(verdict.transformations)
    out["vocabulary"] = found.vocabulary.to_dict()
    out["layer_map"] = {str(j): i for j, i in enumerate(stats.layer_map)}
    out["similarity_statistic"] = stats.similarity_scores()[0]
    if found.residual is not None:
        out["residual_stream"] = found.residual.to_dict()
    if found.neurons is not None:
        out["ffn_neurons"] = found.neurons.to_dict()
    out["raw_values"] = found.raw.to_dict()
    if verdict.derived:
        rescaled = rescaled_tensors(ref, sus)
        if rescaled is not None:
            out["rescaled_tensors"] = rescaled.to_dict()
    return out


_STATISTICS = ("lineage-basis-free", "lineage-raw-basis", "lineage-weight-basis")


def _evidence(stats: LineageStats, found: Explanation, verdict: Verdict) -> list[Evidence]:
    """The lineage statistics (severity high when they made the suspect derived), the layer map, the
    explainers' findings, then the lineage test's notes."""
    lineage_ev = stats.evidence
    if verdict.derived:
        lineage_ev = [replace(e, severity="high") if e.kind in _STATISTICS else e for e in lineage_ev]
    notes = [e for e in lineage_ev if e.kind == "note"]
    return [e for e in lineage_ev if e.kind != "note"] + found.evidence + notes
