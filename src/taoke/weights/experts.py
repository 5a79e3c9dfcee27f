"""Expert-level lineage: which experts of a MoE come from a dense model's FFN, or from another MoE's experts.

WHY: the dense lineage test sees a MoE's attention but not its experts, and the two questions people ask
of a MoE are about the experts: was it *upcycled* from a dense model (Komatsuzaki et al. 2022, "Sparse
Upcycling"; Qwen1.5-MoE from Qwen-1.8B), and were its experts copied from another MoE and re-ordered, or
retrained behind copied attention (the 2025 Pangu Pro MoE / Qwen argument)?

Method, per MoE block, in the residual basis of the reference (both sides read the same fixed probe rows
:func:`taoke.weights.fingerprint.probes`). When the dense comparison found the suspect's residual stream
rotated or permuted against the reference's (orthogonal Procrustes on shared-anchor embeddings,
:func:`taoke.weights.alignment.residual_map`), the suspect reads the probes mapped into its own basis,
``x R``: a copier who rotates the residual stream (norm gains folded, every reader ``W -> W R``) leaves
``W R (x R)^T = W x^T`` unchanged, so a rotated copy is matched as the plain one is. Without that map
(independent models; a 7B model whose fingerprint keeps fewer anchor rows than dimensions) the probes are
read in each side's raw basis, and a rotated copy is not matched.

1. every *unit* (a routed expert, or the dense FFN of a dense model) is summarised by its neurons' gate
   pre-activations on the probe rows (``[f, m]``) -- the FFN norm's gain folded into the gate, since the
   FFN reads ``g * norm(h)`` and a rotation can only be applied after folding it -- each neuron centred and
   scaled over the probes;
2. unit similarity ``N[i, j]``: the mean, over unit j's neurons, of the best correlation with any neuron of
   unit i: blind to neuron order (FFN neurons may be permuted) and to a unit holding a *subset* of the
   other's neurons (fine-grained upcycling splits a dense FFN across experts);
3. experts are paired by a linear assignment on ``N`` (Hungarian, scipy ``linear_sum_assignment``), so a
   re-ordering of experts is found, not assumed;
4. a max-T permutation test (Westfall & Young 1993): the probe rows of the suspect are permuted (the same
   permutation for every block and unit), ``N`` recomputed, and its maximum over every block and unit pair
   recorded; a pair's p-value is the share of permutations whose maximum reaches it. This controls the
   family-wise error over all blocks and experts; with ``N_PERM`` = 999 the smallest p is 0.001;
5. within each significant pair, the neuron order is recovered (Hungarian on the neuron correlations) and
   reported as identity or permuted, with the share of neurons matched above 0.9 (``kept``). A pair
   *carries* the reference expert only when most of its neurons are kept; a significant pair that keeps
   few is "convergent" (experts trained anew in a residual basis they share with the reference, as behind
   copied attention, resemble it without being copies) and is not counted as carried.

Also reported: the cosine of the two units' responses ``down(silu(gate x) * up x)`` on the probes
(``response``, 1.0 for an exact copy in any neuron order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from taoke.evidence import Evidence
from taoke.moe import ExpertFFN, dense_ffn, experts_of, moe_layout
from taoke.weights.fingerprint import gain_keys, is_fingerprint_file, norm_offset, probes
from taoke.weights.relationship import Relationship

N_PERM = 999
N_PROBES = 32
SUB_NEURONS = 32  # neurons per suspect unit the statistic averages over (seeded sample)
KEPT = 0.9  # a neuron "kept" when its matched correlation reaches this
#: an expert *carries* the reference's when most of its neurons are kept (a definition, not a fit: copies and
#: upcycled experts keep 0.99-1.0 of them after training; experts retrained behind copied attention match
#: significantly -- they converge in the shared basis -- but keep none, and are reported as "convergent")
CARRIED = 0.5
BLOCK_SHARE = 0.5  # share of MoE blocks with matched experts that makes "carried" a model-level answer


@dataclass
class ExpertMatch:
    """One suspect unit matched to a reference unit in one block."""

    layer: int
    suspect: int
    reference: int
    similarity: float
    p_value: float
    response: float
    neurons: str = ""  # "identity" | "permuted" | "convergent" (significant, neurons not kept) | ""
    kept: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "suspect_expert": self.suspect,
            "reference_expert": self.reference,
            "similarity": round(self.similarity, 4),
            "p_value": self.p_value,
            "response": round(self.response, 4),
            "neurons": self.neurons or None,
            "neurons_kept": round(self.kept, 3),
        }


@dataclass
class ExpertLineage:
    """The answer: a relationship where the experts decide it, and every block's matches."""

    reference_kind: str  # "dense" | "moe"
    suspect_kind: str
    relationship: Relationship | None
    carried: dict[int, list[int]]  # block -> suspect experts that carry the reference
    reordered: bool
    matches: list[ExpertMatch] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    alpha: float = 1e-3
    residual_mapped: bool = False  # the suspect read the probes through the residual map found

    @property
    def p_value(self) -> float:
        """The smallest max-T p-value over every block and expert pair (family-wise over all of them)."""
        return min((m.p_value for m in self.matches), default=1.0)

    def evidence(self) -> Evidence:
        """The expert stage as one evidence item (high when it decided the relationship)."""
        n = sum(len(v) for v in self.carried.values())
        msg = (
            f"expert matching ({self.reference_kind} vs {self.suspect_kind}): {n} suspect experts in "
            f"{len(self.carried)} blocks carry reference FFN neurons"
            + ("; experts re-ordered" if self.reordered else "")
            + ("; residual rotation undone" if self.residual_mapped else "")
            + (f" -> {self.relationship}" if self.relationship else "")
        )
        return Evidence(
            "weights",
            "expert-lineage",
            msg,
            "high" if self.relationship else "info",
            "mean best neuron correlation on shared probes",
            max((m.similarity for m in self.matches), default=None),
            self.p_value,
            f"max-T over {N_PERM} permutations of the probe rows, every block and expert pair",
            {"carried": {str(k): v for k, v in self.carried.items()}},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference_kind": self.reference_kind,
            "suspect_kind": self.suspect_kind,
            "relationship": self.relationship,
            "carried": {str(k): v for k, v in self.carried.items()},
            "reordered": self.reordered,
            "residual_mapped": self.residual_mapped,
            "alpha": self.alpha,
            "reasons": self.reasons,
            "matches": [m.to_dict() for m in self.matches],
        }


def _units(model: Any) -> tuple[str, dict[int, list[ExpertFFN]]]:
    layout = moe_layout(model)
    if layout is not None:
        return "moe", {li: experts_of(model, layout, li) for li in layout.moe_layers}
    n = model.hparams.n_layers or 0
    units = {li: [f] for li in range(n) if (f := dense_ffn(model, li)) is not None}
    return "dense", units


def _ffn_gain(model: Any, layer: int, d: int) -> np.ndarray:
    """The gain of the norm the FFN of block ``layer`` reads (ones when none is stored or it is unusable)."""
    key = gain_keys(list(model.canonical_keys()), layer)[1]
    if key is not None:
        g = np.asarray(model.canonical(key), dtype=np.float64).reshape(-1) + norm_offset(model)
        if g.shape == (d,) and np.isfinite(g).all():
            return g
    return np.ones(d)


def _signatures(units: list[ExpertFFN], x: np.ndarray) -> np.ndarray:
    """``[U, f, m]`` neuron gate pre-activations on the probes ``x`` (already scaled by the FFN norm's gain
    and mapped into the unit's residual basis), centred and unit-norm per neuron."""
    s = np.stack([u.gate @ x.T for u in units]).astype(np.float64)
    s -= s.mean(axis=2, keepdims=True)
    return s / np.maximum(np.linalg.norm(s, axis=2, keepdims=True), 1e-12)


def _similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``N[i, j]`` for signatures a ``[Ua, fa, m]`` and (sampled) b ``[Ub, k, m]``."""
    c = np.einsum("ifm,jkm->ijfk", a, b)
    return c.max(axis=2).mean(axis=2)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(0), b - b.mean(0)
    return float((a * b).sum() / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


def expert_lineage(
    reference: Any,
    suspect: Any,
    *,
    alpha: float = 1e-3,
    attention_derived: bool | None = None,
    seed: int = 0,
    residual: np.ndarray | None = None,
) -> ExpertLineage | None:
    """Expert-level lineage of two :class:`taoke.model.Model` views (None when neither is a MoE, or when
    they share no width or block). ``attention_derived``: the dense lineage verdict on the rest of the
    weights, which separates "experts retrained behind copied attention" from "independent".
    ``residual``: an orthogonal ``[d, d]`` map with the suspect's residual stream ``~ h_ref R`` (from
    :func:`taoke.weights.alignment.residual_map`); the suspect then reads the probes as ``x R``."""
    if moe_layout(reference) is None and moe_layout(suspect) is None:
        return None  # two dense models: nothing is read (the dense lineage test has the answer)
    kind_a, ua = _units(reference)
    kind_b, ub = _units(suspect)
    d = reference.hparams.d_model
    layers = sorted(set(ua) & set(ub))
    if d is None or d != suspect.hparams.d_model or not layers:
        return None
    x = probes(d, min(N_PROBES, d))
    rot = residual if residual is not None and residual.shape == (d, d) else None
    x_b = x @ rot if rot is not None else x
    xa = {li: x * _ffn_gain(reference, li, d)[None, :] for li in layers}
    xb = {li: x_b * _ffn_gain(suspect, li, d)[None, :] for li in layers}
    rng = np.random.default_rng(seed)
    sig_a, sig_b, stat = {}, {}, {}
    for li in layers:
        sig_a[li] = _signatures(ua[li], xa[li])
        full = _signatures(ub[li], xb[li])
        k = min(SUB_NEURONS, full.shape[1])
        sig_b[li] = (full, full[:, np.sort(rng.choice(full.shape[1], k, replace=False))])
        stat[li] = _similarity(sig_a[li], sig_b[li][1])
    m = x.shape[0]
    null = np.empty(N_PERM)
    for t in range(N_PERM):
        perm = rng.permutation(m)
        null[t] = max(float(_similarity(sig_a[li], sig_b[li][1][:, :, perm]).max()) for li in layers)
    matches: list[ExpertMatch] = []
    carried: dict[int, list[int]] = {}
    reordered = False
    for li in layers:
        s = stat[li]
        if kind_a == "dense":
            pairs = [(0, j) for j in range(s.shape[1])]
        else:
            rows, cols = linear_sum_assignment(-s)
            pairs = list(zip(rows.tolist(), cols.tolist(), strict=True))
        for i, j in pairs:
            p = float((1 + np.sum(null >= s[i, j])) / (1 + N_PERM))
            out_b = ub[li][j].response(xb[li])
            resp = _cos(ua[li][i].response(xa[li]), out_b @ rot.T if rot is not None else out_b)
            mt = ExpertMatch(li, j, i, float(s[i, j]), p, resp)
            if p <= alpha:
                c = sig_a[li][i] @ sig_b[li][0][j].T  # [fa, fb]
                r, cidx = linear_sum_assignment(-c.T)  # each suspect neuron -> a reference neuron
                mt.kept = float(np.mean(c.T[r, cidx] >= KEPT))
                mt.neurons = "identity" if np.array_equal(cidx, np.arange(len(cidx))) else "permuted"
                if mt.kept < CARRIED:
                    # significant, yet its neurons are not the reference's: experts retrained in a shared
                    # residual basis (behind copied attention) converge this far without being copies
                    mt.neurons = "convergent"
                    matches.append(mt)
                    continue
                carried.setdefault(li, []).append(j)
                if kind_a == "moe" and i != j:
                    reordered = True
            matches.append(mt)
    for v in carried.values():
        v.sort()
    out = ExpertLineage(
        kind_a, kind_b, None, carried, reordered, matches, alpha=alpha, residual_mapped=rot is not None
    )
    _decide(out, layers, attention_derived)
    return out


def _decide(out: ExpertLineage, layers: list[int], attention_derived: bool | None) -> None:
    share = len(out.carried) / len(layers)
    experts = sorted({e for v in out.carried.values() for e in v})
    if out.reference_kind == "dense" and out.suspect_kind == "moe":
        if share >= BLOCK_SHARE:
            out.relationship = Relationship.UPCYCLED
            out.reasons.append(
                f"experts {', '.join(map(str, experts))} carry REFERENCE's dense FFN neurons in "
                f"{len(out.carried)}/{len(layers)} MoE blocks (max-T permutation p <= {out.alpha:g})"
            )
        return
    if out.reference_kind == "moe" and out.suspect_kind == "moe":
        if share >= BLOCK_SHARE and out.reordered:
            out.relationship = Relationship.EXPERT_LINEAGE
            out.reasons.append(
                f"experts copied and re-ordered in {len(out.carried)}/{len(layers)} MoE blocks"
            )
        elif share >= BLOCK_SHARE and attention_derived is False:
            out.relationship = Relationship.EXPERT_LINEAGE
            out.reasons.append("experts copied, the rest of the weights retrained")
        elif share < BLOCK_SHARE and attention_derived:
            out.relationship = Relationship.EXPERT_LINEAGE
            out.reasons.append("attention copied, experts retrained (no expert carries REFERENCE's)")


def expert_stage(
    reference: Any,
    suspect: Any,
    result: Any,
    limits: Any,
    alpha: float,
    residual: np.ndarray | None = None,
) -> None:
    """Expert-level lineage (issue 15.4) when either side is a mixture of experts: the experts are read
    from the weights themselves (a fingerprint file holds no experts; the stage is then skipped). An
    ``upcycled`` / ``expert-lineage`` answer replaces the dense verdict, whose reasons stay. ``residual``:
    the residual map of the two fingerprints (:func:`taoke.weights.alignment.residual_map`)."""
    import os

    from taoke.model import load
    from taoke.release import Release

    def openable(src: Any) -> bool:
        if isinstance(src, (str, os.PathLike)):
            return not is_fingerprint_file(os.fspath(src))
        return isinstance(src, Release)

    if not (openable(reference) and openable(suspect)):
        return
    with load(reference, limits) as ref, load(suspect, limits) as sus:
        found = expert_lineage(ref, sus, alpha=alpha, attention_derived=result.derived, residual=residual)
    if found is None:
        return
    result.transformations["experts"] = found.to_dict()
    result.evidence.append(found.evidence())
    if found.relationship is not None:
        result.relationship = found.relationship
        result.derived = True
        result.reasons = found.reasons + result.reasons
