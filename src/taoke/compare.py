"""``taoke compare``: did SUSPECT's weights come from REFERENCE, and how were they changed?

The orchestrator. Each side (a source spec, a :class:`taoke.model.Model` or a fingerprint) becomes a
:class:`~taoke.fingerprint.Fingerprint` (one streaming pass over the model), then:

1. the lineage test (:mod:`taoke.analyzers.weights.lineage`) gives layer-pair similarities, their
   p-values under stated nulls, a layer map and a model-level p-value;
2. the explainers (:mod:`taoke.analyzers.weights.alignment`) recover what was done: same raw values,
   residual permutation/rotation/scale, neuron permutation, vocabulary alignment, layer map;
3. :mod:`taoke.verdict` turns those facts into one relationship label with a confidence.

>>> from taoke.compare import compare
>>> res = compare("base/", "suspect/")                 # doctest: +SKIP
>>> res.relationship, res.derived, res.p_value         # doctest: +SKIP
('obfuscated-copy', True, 0.0)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from taoke.analyzers.weights.alignment import neuron_matching, raw_identity, residual_transform
from taoke.analyzers.weights.lineage import LineageStats, lineage
from taoke.errors import AnalysisError
from taoke.evidence import Evidence
from taoke.fingerprint import Fingerprint, _blas_limit, fingerprint, is_fingerprint_file, load_fingerprint
from taoke.model import HParams
from taoke.verdict import DEFAULT_ALPHA, Verdict, decide

__all__ = ["CompareResult", "LayerMatch", "as_fingerprint", "compare"]


@dataclass
class LayerMatch:
    """One suspect layer: the reference layer it comes from (or None), similarity and p-value."""

    suspect_layer: int
    reference_layer: int | None
    similarity: float
    p_value: float
    components: dict[str, float] = field(default_factory=dict)
    raw_basis_similarity: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "suspect_layer": self.suspect_layer,
            "reference_layer": self.reference_layer,
            "similarity": round(self.similarity, 6),
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
    relationship: str
    derived: bool
    p_value: float
    log10_p_value: float
    confidence: float
    alpha: float
    evidence: list[Evidence]
    layers: list[LayerMatch]
    transformations: dict[str, Any]
    similarity: np.ndarray  # [L_ref, L_sus] for the heatmap
    reference_info: dict[str, Any]
    suspect_info: dict[str, Any]
    reasons: list[str] = field(default_factory=list)
    parents: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "suspect": self.suspect,
            "relationship": self.relationship,
            "derived": self.derived,
            "p_value": self.p_value,
            "log10_p_value": round(self.log10_p_value, 3),
            "confidence": round(self.confidence, 3),
            "alpha": self.alpha,
            "reasons": self.reasons,
            "evidence": [e.to_dict() for e in self.evidence],
            "layers": [m.to_dict() for m in self.layers],
            "transformations": self.transformations,
            "parents": self.parents,
            "similarity_matrix": np.round(self.similarity, 4).tolist(),
            "reference_info": self.reference_info,
            "suspect_info": self.suspect_info,
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
        }


def as_fingerprint(obj: Any, *, limits: Any = None) -> Fingerprint:
    """A fingerprint from a Fingerprint, a fingerprint file, a Model, or any source spec."""
    if isinstance(obj, Fingerprint):
        return obj
    if isinstance(obj, (str, Path)):
        if is_fingerprint_file(obj):
            return load_fingerprint(obj)
        return fingerprint(str(obj), limits=limits)
    if hasattr(obj, "canonical_keys") and hasattr(obj, "canonical"):
        return fingerprint(obj, limits=limits)
    raise AnalysisError(f"cannot compare a {type(obj).__name__}: give a path, a model or a fingerprint")


def _p(log10p: float) -> float:
    return float(10.0**log10p) if log10p > -300 else 0.0


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


def _same_architecture(a: Fingerprint, b: Fingerprint) -> bool:
    """Same family of block: both decoders with gated FFN and the same attention layout."""
    ma, mb = a.meta, b.meta
    fam_a, fam_b = ma.get("arch"), mb.get("arch")
    if fam_a and fam_b and fam_a != fam_b:
        return False
    comps_a, comps_b = set(a.inv), set(b.inv)
    return bool(comps_a) and comps_a == comps_b


def _vocab_relation(ref: Fingerprint, sus: Fingerprint) -> dict[str, Any]:
    ha, hb = ref.vocab_hashes, sus.vocab_hashes
    inter = int(np.intersect1d(ha, hb, assume_unique=True).size)
    na, nb = int(ha.size), int(hb.size)
    shared_pos = {k: i for i, k in enumerate(sus.anchors)}
    moved = sum(
        1
        for i, k in enumerate(ref.anchors)
        if k in shared_pos and int(ref.anchor_ids[i]) != int(sus.anchor_ids[shared_pos[k]])
    )
    both = sum(1 for k in ref.anchors if k in shared_pos)
    if inter == na == nb:
        kind = "same" if moved == 0 else "reordered"
    elif na and inter >= 0.98 * na and nb > na:
        kind = "extended"
    elif nb and inter >= 0.98 * nb and na > nb:
        kind = "reduced"
    elif inter >= 0.5 * min(na, nb):
        kind = "overlapping"
    else:
        kind = "different"
    return {
        "relation": kind,
        "reference_tokens": na,
        "suspect_tokens": nb,
        "shared_tokens": inter,
        "added_tokens": max(0, nb - inter),
        "anchors_shared": both,
        "anchor_ids_moved": moved,
        "aligned_by": "token string" if sus.meta.get("token_keys_from") != "ids" else "token id",
    }


def _neurons(ref: Fingerprint, sus: Fingerprint, stats: LineageStats) -> dict[str, Any] | None:
    if ref.neurons is None or sus.neurons is None:
        return None
    k = min(ref.neurons.shape[2], sus.neurons.shape[2])
    pos = {key: i for i, key in enumerate(sus.anchors[:k])}
    ia, ib = [], []
    for i, key in enumerate(ref.anchors[:k]):
        if key in pos:
            ia.append(i)
            ib.append(pos[key])
    if len(ia) < 8:
        return None
    per_layer = []
    for j, i in enumerate(stats.layer_map):
        if i is None:
            continue
        nm = neuron_matching(ref.neurons[i][:, ia], sus.neurons[j][:, ib])
        per_layer.append({"suspect_layer": j, "reference_layer": i, **nm.to_dict()})
    if not per_layer:
        return None
    return {
        "layers": per_layer,
        "matched_high": int(sum(x["matched_high"] for x in per_layer)),
        "moved": int(sum(x["moved"] for x in per_layer)),
        "n_ref": int(sum(x["n_ref"] for x in per_layer)),
        "n_sus": int(sum(x["n_sus"] for x in per_layer)),
    }


def _rescaled(ref: Fingerprint, sus: Fingerprint, tol: float = 0.02) -> dict[str, Any]:
    """Tensors of equal shape whose RMS changed by more than ``tol`` (relative): where scales were moved.

    A function-preserving rescaling (norm gain <-> projection, up <-> down, q <-> k) changes the RMS of
    both tensors of the pair in opposite directions; fine-tuning changes them a little everywhere.
    """
    sa, sb = ref.meta.get("shapes") or {}, sus.meta.get("shapes") or {}
    out = {}
    for key in sorted(set(ref.rms) & set(sus.rms)):
        a, b = ref.rms[key], sus.rms[key]
        if sa.get(key) != sb.get(key) or a <= 0 or b <= 0:
            continue
        ratio = b / a
        if abs(np.log(ratio)) > tol:
            out[key] = round(float(ratio), 4)
    if not out:
        return {}
    kinds = sorted({k.split(".")[-2] for k in out})
    return {"count": len(out), "roles": kinds, "rms_ratio": dict(list(out.items())[:24])}


def _layers(stats: LineageStats) -> list[LayerMatch]:
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
        out.append(LayerMatch(j, i, s, _p(stats.layer_log10p[j]), comps, rb))
    return out


def _parents(sus: Fingerprint, parents: list[Any], limits: Any) -> list[dict[str, Any]]:
    """Similarity of SUSPECT to each named parent, and a least-squares estimate of each one's share.

    WHY least squares on raw samples: a linear (or SLERP, or TIES) merge is, value by value, close to a
    weighted sum of its parents when they share a basis (every merge of fine-tunes of one base does),
    so regressing the suspect's seeded raw samples on each parent's gives the mixing weights directly.
    """
    fps = [as_fingerprint(p, limits=limits) for p in parents]
    out = []
    for fp in fps:
        st = lineage(fp, sus)
        med = (
            float(np.median([np.tanh(st.s1[i, j]) for j, i in enumerate(st.layer_map) if i is not None]))
            if any(i is not None for i in st.layer_map) and st.s1.size
            else 0.0
        )
        out.append(
            {
                "name": fp.name,
                "log10_p_value": st.log10p_model,
                "p_value": _p(st.log10p_model),
                "median_similarity": med,
            }
        )
    keys = sorted(set(sus.raw).intersection(*[set(fp.raw) for fp in fps]))
    keys = [k for k in keys if all(fp.raw[k].shape == sus.raw[k].shape for fp in fps)]
    if keys and len(fps) >= 2:
        y = np.concatenate([sus.raw[k] for k in keys]).astype(np.float64)
        x = np.stack([np.concatenate([fp.raw[k] for k in keys]).astype(np.float64) for fp in fps], axis=1)
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        resid = y - x @ coef
        r2 = float(1 - resid @ resid / max(y @ y, 1e-300))
        total = float(np.sum(coef)) or 1.0
        for rec, c in zip(out, coef, strict=True):
            rec["coefficient"] = float(c)
            rec["share"] = float(c / total)
        for rec in out:
            rec["mixture_fit_r2"] = r2
    return out


def compare(
    reference: Any,
    suspect: Any,
    *,
    parents: list[Any] | None = None,
    limits: Any = None,
    alpha: float = DEFAULT_ALPHA,
) -> CompareResult:
    """Compare SUSPECT against REFERENCE (paths, models or fingerprints); see the module docstring.

    ``parents``: candidate parents of a merge (two or more); each is compared with SUSPECT and their
    shares are estimated. ``alpha``: the significance level for ``derived``.
    """
    t0 = time.perf_counter()
    ref = as_fingerprint(reference, limits=limits)
    t1 = time.perf_counter()
    sus = as_fingerprint(suspect, limits=limits)
    t2 = time.perf_counter()
    with _blas_limit(1):  # every product here is small; threads only add contention
        return _compare(ref, sus, parents, limits, alpha, t0, t1, t2)


def _compare(
    ref: Fingerprint,
    sus: Fingerprint,
    parents: list[Any] | None,
    limits: Any,
    alpha: float,
    t0: float,
    t1: float,
    t2: float,
) -> CompareResult:
    stats = lineage(ref, sus)
    # explainers
    raw = raw_identity(ref.raw, sus.raw, ref.rms, sus.rms, ref.meta.get("shapes"), sus.meta.get("shapes"))
    shared = {k: i for i, k in enumerate(sus.anchors)}
    ia = [i for i, k in enumerate(ref.anchors) if k in shared]
    ib = [shared[ref.anchors[i]] for i in ia]
    resid = residual_transform(ref.embed[ia], sus.embed[ib]) if ia else None
    vocab = _vocab_relation(ref, sus)
    neurons = _neurons(ref, sus, stats)
    parent_info = _parents(sus, parents, limits) if parents else []
    verdict: Verdict = decide(
        ref=ref,
        sus=sus,
        stats=stats,
        raw=raw,
        resid=resid,
        vocab=vocab,
        neurons=neurons,
        parents=parent_info,
        alpha=alpha,
        same_arch=_same_architecture(ref, sus),
    )
    transformations = dict(verdict.transformations)
    transformations["vocabulary"] = vocab
    transformations["layer_map"] = {str(j): i for j, i in enumerate(stats.layer_map)}
    if resid is not None:
        transformations["residual_stream"] = resid.to_dict()
    if neurons is not None:
        transformations["ffn_neurons"] = {k: v for k, v in neurons.items() if k != "layers"}
    transformations["raw_values"] = raw
    if verdict.derived:
        rescaled = _rescaled(ref, sus)
        if rescaled:
            transformations["rescaled_tensors"] = rescaled
    evidence = _evidence(stats, raw, resid, vocab, neurons, parent_info, verdict)
    t3 = time.perf_counter()
    return CompareResult(
        reference=ref.name,
        suspect=sus.name,
        relationship=verdict.relationship,
        derived=verdict.derived,
        p_value=_p(stats.log10p_model),
        log10_p_value=stats.log10p_model,
        confidence=verdict.confidence,
        alpha=alpha,
        evidence=evidence,
        layers=_layers(stats),
        transformations=transformations,
        similarity=stats.similarity(),
        reference_info=_info(ref),
        suspect_info=_info(sus),
        reasons=verdict.reasons,
        parents=parent_info,
        timings={"fingerprint_reference": t1 - t0, "fingerprint_suspect": t2 - t1, "compare": t3 - t2},
    )


def _evidence(
    stats: LineageStats,
    raw: dict[str, Any],
    resid: Any,
    vocab: dict[str, Any],
    neurons: dict[str, Any] | None,
    parents: list[dict[str, Any]],
    verdict: Verdict,
) -> list[Evidence]:
    ev: list[Evidence] = []
    sev = "high" if verdict.derived else "info"
    if stats.null1 is not None and stats.s1.size:
        i, j = np.unravel_index(int(np.argmax(stats.s1)), stats.s1.shape)
        detail = {
            "strongest_reference_layer": int(i),
            "strongest_suspect_layer": int(j),
            "strongest_r": float(np.tanh(stats.s1[i, j])),
            "layer_pair_null": stats.null1.describe(),
            "shared_anchor_tokens": int(len(stats.anchors.ref)),
            "components": sorted(stats.basis_free),
        }
        if stats.t1 is not None and stats.t1_null is not None:
            z = float(stats.t1_null.z(np.asarray(stats.t1)))
            detail["z"] = z
            msg = (
                f"basis-free match: the median suspect layer's best match is {stats.t1:.1f} noise SDs "
                f"({z:.1f} null SDs above independent models); strongest: suspect layer {j} ~ reference "
                f"layer {i}, r={np.tanh(stats.s1[i, j]):.3f}"
            )
            null = (
                "independent training: statistic ~ "
                + stats.t1_null.describe()
                + "; Bonferroni over the two statistics"
            )
            value = stats.t1
            stat = (
                "median over suspect layers of the best layer-pair score, in units of this pair's "
                "anchor-permutation noise (whitened anchor-token invariants qk, ov, ffn, gate)"
            )
        else:
            z = float(stats.null1.z(stats.s1[i, j]))
            detail["z"] = z
            msg = (
                f"strongest basis-free layer match: suspect layer {j} ~ reference layer {i} "
                f"(r={np.tanh(stats.s1[i, j]):.3f}, {z:.1f} null SDs)"
            )
            null = (
                "independent training: "
                + stats.null1.describe()
                + "; Bonferroni over layer pairs and statistics"
            )
            value = float(stats.s1[i, j])
            stat = "mean Fisher-z correlation of whitened anchor-token invariants (qk, ov, ffn, gate)"
        lp = stats.log10p_basis_free + np.log10(2)
        ev.append(
            Evidence("weights", "lineage-basis-free", msg, sev, stat, value, _p(min(0.0, lp)), null, detail)
        )
    if stats.null2 is not None and stats.s2 is not None:
        i, j = np.unravel_index(int(np.argmax(stats.s2)), stats.s2.shape)
        lp = stats.log10p_raw_basis + np.log10(2)
        ev.append(
            Evidence(
                "weights",
                "lineage-raw-basis",
                f"strongest raw-basis layer match: suspect layer {j} ~ reference layer {i} "
                f"(r={np.tanh(stats.s2[i, j]):.3f}, {stats.null2.z(stats.s2[i, j]):.1f} null SDs)",
                sev,
                "mean Fisher-z correlation of probe-vector invariants in the raw residual basis",
                float(stats.s2[i, j]),
                _p(min(0.0, lp)),
                "exchangeable residual basis: "
                + stats.null2.describe()
                + "; Bonferroni over layer pairs and statistics",
                {
                    "reference_layer": int(i),
                    "suspect_layer": int(j),
                    "z": float(stats.null2.z(stats.s2[i, j])),
                },
            )
        )
    if not ev:
        ev.append(
            Evidence(
                "weights",
                "lineage-untestable",
                "no lineage statistic could be computed: " + "; ".join(stats.notes),
                "medium",
            )
        )
    mapped = [(j, i) for j, i in enumerate(stats.layer_map) if i is not None]
    ev.append(
        Evidence(
            "weights",
            "layer-map",
            f"{len(mapped)} of {len(stats.layer_map)} suspect layers match a reference layer"
            + (f": {', '.join(f'{j}<-{i}' for j, i in mapped[:12])}" if mapped else ""),
            "info",
            "layer map: most significant reference layer per suspect layer",
            float(len(mapped)),
            None,
            None,
            {"layer_map": {str(j): i for j, i in enumerate(stats.layer_map)}},
        )
    )
    ev.append(
        Evidence(
            "weights",
            "raw-values",
            f"{raw['same']} of {raw['compared']} tensors hold the same values at the same positions "
            f"(mean sample correlation {raw['mean_corr']:.3f})",
            "info",
            "seeded raw-value samples (256 per tensor)",
            float(raw["same"]),
            None,
            None,
            raw,
        )
    )
    if resid is not None and resid.kind not in ("none",):
        ev.append(
            Evidence(
                "weights",
                "residual-transform",
                f"residual stream relation found from shared-token embeddings: {resid.kind}"
                + (f" (fit R^2={resid.fit:.4f}, scale {resid.scale:.3f})" if resid.fit else ""),
                "info",
                "orthogonal Procrustes on anchor embeddings",
                resid.fit,
                None,
                None,
                resid.to_dict(),
            )
        )
    if neurons is not None:
        ev.append(
            Evidence(
                "weights",
                "ffn-neuron-matching",
                f"{neurons['matched_high']} of {neurons['n_sus']} FFN neurons matched (corr > 0.95), "
                f"{neurons['moved']} of them at another index",
                "info",
                "Hungarian matching of gate pre-activation profiles",
                float(neurons["matched_high"]),
                None,
                None,
                {k: v for k, v in neurons.items() if k != "layers"},
            )
        )
    ev.append(
        Evidence(
            "weights",
            "vocabulary-alignment",
            f"vocabularies: {vocab['relation']} ({vocab['shared_tokens']} shared tokens, "
            f"{vocab['added_tokens']} added in the suspect)",
            "info",
            None,
            None,
            None,
            None,
            vocab,
        )
    )
    for p in parents:
        ev.append(
            Evidence(
                "weights",
                "merge-parent",
                f"parent {p['name']}: p={p['p_value']:.2g}, median layer similarity "
                f"{p['median_similarity']:.3f}" + (f", share {p['share']:.2f}" if "share" in p else ""),
                "info",
                "lineage test against a named parent",
                p.get("share"),
                p["p_value"],
                "independent training (as for the main test)",
                p,
            )
        )
    for note in stats.notes:
        ev.append(Evidence("weights", "note", note, "low"))
    return ev
