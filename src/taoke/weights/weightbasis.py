"""The weight-basis statistic (S3): lineage of the blocks with no shared token at all (issue 15.6).

The basis-free statistic (S1) reads every block through the embeddings of anchor tokens both models
share; the raw-basis statistic (S2) reads it on fixed probes in the raw residual basis. A copy that took
a new tokenizer (new embeddings: no shared anchor rows, or shared tokens with other rows) and then
rotated its residual stream escapes both: issue 15 measured p = 1 on exactly that.

S3 takes its probes from the blocks themselves: each fingerprint holds the same four token-space
invariants (qk, ov, ffn, gate) evaluated on its own model's weight-derived basis
(:func:`taoke.weights.fingerprint.weight_basis`: the top right-singular vectors of the first block's
folded FFN gate, signs fixed by the skew of the neuron loadings). A rotated copy has the rotated basis,
so its invariants equal the original's entry for entry; every function-preserving disguise of
:mod:`taoke.weights.invariants` leaves them unchanged too. Scores are the mean Fisher-z correlations of
the off-diagonal entries per layer pair (as S1 and S2), in units of this pair's probe-permutation noise
(the suspect's probes shuffled: how large a score chance alone gives when the probe correspondence is
broken). Between independent models the two bases are unrelated and their signs arbitrary with respect
to each other, so there is no convergence to allow for; but the spread of those z between independent
models is wider than the permutation noise and heavy-tailed (probes of one basis are not exchangeable:
the top singular directions carry larger entries). So the null of a layer-pair z is a Student-t with
4 degrees of freedom and scale :data:`Z_SCALE`, fitted on the independent pairs of calibration bases
calib-00..calib-04 (10 pairs, 160 layer pairs: sample SD 1.29, largest 3.66; the scale is the larger of
the SD and the spread that puts the largest at 3.5, :func:`fit_z_scale`), and its false-positive rate is
measured on the other 35 calibration pairs and the zoo's independent pairs (``tests/weights/
test_weight_basis.py``, ``docs/compare.md``). The model-level p-value is the Bonferroni minimum over
layer pairs. A copy scores hundreds of noise SDs (p ~ 1e-8 under this tail, alone); a fine-tune a
few (S1 and S2 see those).

Needs equal widths (a basis of the same space) and fingerprints that carry ``binv`` (written by this
version of taoke); otherwise :func:`weight_basis_statistic` returns None and says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

from taoke.evidence import Evidence
from taoke.weights.fingerprint import Fingerprint
from taoke.weights.similarity import SharedAnchors, component_similarity, permutation_noise

Z_SCALE = 1.29  # fit_z_scale on calib-00..calib-04 (see the module docstring)
Z_DOF = 4.0
FIT_MODELS = tuple(f"calib-{i:02d}" for i in range(5))
NULL = (
    f"independent models (unrelated weight-derived bases): a layer-pair score in units of this pair's "
    f"probe-permutation noise follows t(dof={Z_DOF:g}, scale={Z_SCALE}) (fitted on the zoo's "
    "calib-00..04 pairs); Bonferroni over layer pairs and statistics"
)


@dataclass
class WeightBasisStat:
    """S3 for one pair: layer-pair scores, their z in permutation-noise units, p-values."""

    scores: np.ndarray  # [L_ref, L_sus] mean Fisher-z correlation of the binv components
    z: np.ndarray
    perm_mean: float
    perm_sd: float
    log10p: np.ndarray  # per layer pair, one-sided Gaussian tail of z
    log10p_model: float  # Bonferroni minimum over layer pairs
    k: int

    def evidence(self, severity: str = "info") -> Evidence:
        i, j = np.unravel_index(int(np.argmax(self.z)), self.z.shape)
        return Evidence(
            "weights",
            "lineage-weight-basis",
            f"weight-basis match (probes from each model's own FFN gate, no tokens needed): suspect "
            f"layer {j} ~ reference layer {i}, r={np.tanh(self.scores[i, j]):.3f} "
            f"({self.z[i, j] / Z_SCALE:.1f} null SDs)",
            severity,
            "mean Fisher-z correlation of block invariants on weight-derived probe vectors "
            f"({self.k} right-singular vectors of the first block's folded FFN gate)",
            float(self.scores[i, j]),
            float(10 ** min(0.0, self.log10p_model)) if self.log10p_model > -300 else 0.0,
            NULL,
            {
                "reference_layer": int(i),
                "suspect_layer": int(j),
                "z": float(self.z[i, j] / Z_SCALE),  # null SDs, as the other statistics' z
                "z_noise": float(self.z[i, j]),
                "probes": self.k,
            },
        )


def weight_basis_statistic(ref: Fingerprint, sus: Fingerprint) -> tuple[WeightBasisStat | None, str | None]:
    """S3 for (ref, sus), or (None, why it does not apply)."""
    if not ref.binv or not sus.binv:
        return None, "the weight-basis statistic needs fingerprints with weight-derived probes (binv)"
    if ref.d_model != sus.d_model:
        return None, f"the weight-basis statistic needs equal widths (d_model {ref.d_model} vs {sus.d_model})"
    for fp in (ref, sus):
        if any(
            v.ndim != 3 or v.shape[1] != v.shape[2] or v.shape[0] != fp.n_layers for v in fp.binv.values()
        ):
            return None, f"{fp.name}: malformed weight-basis invariants"
    k = min(_size(ref.binv), _size(sus.binv))
    if k < 8:
        return None, f"only {k} weight-derived probes: the weight-basis statistic needs >= 8"
    a = {c: v[:, :k, :k] for c, v in ref.binv.items()}
    b = {c: v[:, :k, :k] for c, v in sus.binv.items()}
    ident = SharedAnchors(np.arange(k), np.arange(k), k, k)
    comps = component_similarity(a, b, ident)
    if not comps:
        return None, "no block invariant in common on the weight-derived probes"
    scores = np.mean([np.arctanh(np.clip(s, -0.999999, 0.999999)) for s in comps.values()], axis=0)
    m, sd = permutation_noise(a, b, ident)
    z = (scores - m) / sd
    log10p = student_t.logsf(z / Z_SCALE, Z_DOF) / np.log(10)
    model = float(log10p.min()) + float(np.log10(log10p.size)) if log10p.size else 0.0
    return WeightBasisStat(scores, z, m, sd, log10p, min(0.0, model), k), None


def _size(inv: dict[str, np.ndarray]) -> int:
    return int(next(iter(inv.values())).shape[1]) if inv else 0


def fit_z_scale(pairs: list[tuple[Fingerprint, Fingerprint]]) -> float:
    """The scale of S3's null from independent pairs: the larger of the sample SD of their layer-pair z
    and the spread that puts the most extreme one at 3.5 (as :func:`taoke.weights.lineage.fit_null`)."""
    zs = []
    for a, b in pairs:
        st, _ = weight_basis_statistic(a, b)
        if st is not None:
            zs.append(st.z.ravel())
    z = np.concatenate(zs) if zs else np.zeros(0)
    if z.size < 10:
        raise ValueError("too few layer pairs to fit the weight-basis null")
    return float(max(np.std(z, ddof=1), (z.max() - z.mean()) / 3.5))
