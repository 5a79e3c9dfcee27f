"""The lineage test: two layer-similarity statistics, their nulls, layer-level and model-level p-values.

Two statistics, each a ``[L_ref, L_sus]`` matrix of layer-pair scores (the mean over the qk/ov/ffn/gate
components of the Fisher-z transformed correlation of their invariants):

``basis-free`` (S1): invariants on whitened anchor-token embeddings. Survives renaming, dtype and
    quantization, permutations of residual dimensions/heads/neurons, the allowed rescalings and any
    orthogonal rotation of the residual stream; tokens are matched by string, so a reordered or
    extended vocabulary lines up too. Scores are first expressed in units of *this pair's*
    anchor-permutation noise (B's anchors shuffled), which makes them comparable whatever the number of
    shared tokens or the width. The null cannot be built from the pair alone: two models trained
    independently on similar text converge a little at the same depth (the "cautionary tale" of issue
    4; on the zoo, layer 0 of same-data twins reaches 12 noise SDs where other layer pairs stay near 1).
    So S1's null is *calibrated* on the zoo's independent calibration pairs
    (``taoke/data/weights_null.json``, written by ``taoke eval --calibrate``), and the model-level
    statistic is the median over suspect layers of each one's best match (a copy makes every layer
    match; convergence sits in one layer pair), tested against the predictive Student-t of that
    statistic (:func:`effective_pairs`).

``raw-basis`` (S2): the same invariants on fixed orthonormal probe vectors instead of anchors. Needs
    equal widths and breaks under a residual rotation/permutation, but does not depend on the
    embeddings (it sees blocks transplanted into a model that kept its own embeddings: partial copies).
    An independent model's residual coordinates are exchangeable (i.i.d. init and permutation-
    equivariant training), so there is no convergence to allow for, only noise: the null is the
    calibrated spread of raw-basis scores between independent models, never tighter than this pair's
    own probe-permutation noise (model tracing, Zhu et al. ICML 2025, makes the same exchangeability
    argument for its exact permutation null over MLP neurons, github.com/ahmeda14960/model-tracing).
    Without a calibration file, the pair's own off-map layer pairs give the centre and spread.

The model-level p-value is a Bonferroni minimum over the two statistics (and over every layer pair for
S2), which is valid whatever the dependence between layers (Fisher's method, used by model tracing,
assumes independent layers; it would be anti-conservative here because layers of one model share a
residual basis). Layer-pair p-values (for the layer map and the ``layers`` output) are the tails of
the per-layer-pair nulls, Bonferroni over reference layers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from scipy.stats import norm
from scipy.stats import t as student_t

from taoke.analyzers.weights.similarity import (
    SharedAnchors,
    best_layer_map,
    component_similarity,
    permutation_noise,
    shared_anchors,
)

NULL_FILE = "weights_null.json"
MIN_SHARED_ANCHORS = 16
LAYER_ALPHA = 1e-3  # per-suspect-layer significance for drawing the layer map (after Bonferroni)


@dataclass
class Null:
    """A null for a score: Gaussian N(mu, sd), or Student-t with ``dof`` degrees of freedom (location mu,
    scale sd) when the tail itself is uncertain; where it comes from and how many values fitted it."""

    mu: float
    sd: float
    source: str
    n: int = 0
    dof: float | None = None

    def z(self, score: np.ndarray) -> np.ndarray:
        return (score - self.mu) / self.sd

    def log10_sf(self, score: np.ndarray) -> np.ndarray:
        z = self.z(score)
        if self.dof:
            return student_t.logsf(z, self.dof) / np.log(10)
        return norm.logsf(z) / np.log(10)

    def describe(self) -> str:
        shape = (
            f"t(dof={self.dof:g}, loc={self.mu:.4f}, scale={self.sd:.4f})"
            if self.dof
            else (f"N(mu={self.mu:.4f}, sd={self.sd:.4f})")
        )
        return f"{shape} from {self.source}" + (f" (n={self.n})" if self.n else "")


@lru_cache(maxsize=1)
def calibrated_nulls() -> dict[str, Any]:
    """The calibration file shipped in ``taoke/data`` (empty dict when absent)."""
    try:
        text = resources.files("taoke").joinpath("data", NULL_FILE).read_text(encoding="utf-8")
    except (FileNotFoundError, OSError, ModuleNotFoundError):
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return {}


def fisher_z(r: np.ndarray) -> np.ndarray:
    return np.arctanh(np.clip(r, -0.999999, 0.999999))


def layer_scores(sims: dict[str, np.ndarray]) -> np.ndarray:
    """Mean over components of Fisher-z correlations: one score per layer pair."""
    if not sims:
        return np.zeros((0, 0))
    return np.mean([fisher_z(s) for s in sims.values()], axis=0)


def internal_null(score: np.ndarray, exclude: np.ndarray, source: str) -> Null | None:
    """Robust centre/spread of the layer pairs not in ``exclude`` (the off-map pairs of this comparison)."""
    vals = score[~exclude]
    if vals.size < 6:
        return None
    med = float(np.median(vals))
    mad = float(np.median(np.abs(vals - med))) * 1.4826
    sd = max(mad, float(np.std(vals)) * 0.5, 1e-4)
    return Null(med, sd, source, int(vals.size))


@dataclass
class LineageStats:
    """Everything the lineage test computed for one (reference, suspect) pair."""

    anchors: SharedAnchors
    basis_free: dict[str, np.ndarray]
    raw_basis: dict[str, np.ndarray]
    s1: np.ndarray
    s2: np.ndarray | None
    null1: Null | None
    null2: Null | None
    log10p: np.ndarray  # [L_ref, L_sus] combined layer-pair log10 p (min over statistics, x2)
    layer_map: list[int | None]
    layer_log10p: list[float]  # per suspect layer, Bonferroni over reference layers
    log10p_model: float
    best_statistic: str
    notes: list[str] = field(default_factory=list)
    t1: float | None = None  # S1 model statistic: median over suspect layers of the best z (noise units)
    t1_null: Null | None = None
    log10p_basis_free: float = 0.0
    log10p_raw_basis: float = 0.0

    def similarity(self) -> np.ndarray:
        """The ``[L_ref, L_sus]`` similarity shown to users: S1 as a correlation (S2 where S1 is absent)."""
        s = self.s1 if self.s1.size else (self.s2 if self.s2 is not None else np.zeros((0, 0)))
        return np.tanh(s)


def _inv_size(inv: dict[str, np.ndarray]) -> int:
    """Rows of a fingerprint's invariant matrices (anchors or probes), 0 when it has none."""
    return int(next(iter(inv.values())).shape[1]) if inv else 0


def effective_pairs(cal: dict[str, Any]) -> int:
    """Independent pairs behind a calibration: its pairs share models, so only n_models // 2 of them
    are disjoint. The calibrated nulls of the basis-free statistic are therefore used as the predictive
    Student-t of a new value (dof = n_eff - 1, scale x sqrt(1 + 1/n_eff)), not as a Gaussian whose tail
    45 correlated pairs cannot pin down (on the zoo, one same-data pair out of 45 sits 4 SDs out)."""
    return max(2, int(cal.get("n_models", 10)) // 2)


def basis_free_null(z_cal: dict[str, Any] | None, perm_mean: float, perm_sd: float, n_shared: int) -> Null:
    """The S1 null in score units: the calibrated N(mu_z, sd_z) of permutation-standardised scores.

    A score s is first standardised by this pair's anchor-permutation noise, z = (s - m_perm) / sd_perm,
    then compared with the calibrated distribution of z between independent models. Without a
    calibration file the null is the permutation null alone (which ignores convergence; flagged).
    """
    if z_cal:
        mu_z, sd_z = float(z_cal["mu_z"]), float(z_cal["sd_z"])
        src = (
            f"{z_cal.get('source', 'calibration')}, applied to scores standardised by this pair's "
            f"anchor-permutation noise (sd {perm_sd:.4f}, {n_shared} shared anchors)"
        )
        n_eff = effective_pairs(z_cal)
        return Null(
            perm_mean + mu_z * perm_sd,
            sd_z * perm_sd * np.sqrt(1 + 1 / n_eff),
            src,
            int(z_cal.get("n", 0)),
            dof=float(n_eff - 1),
        )
    return Null(perm_mean, perm_sd, f"anchor-permutation null only ({n_shared} shared anchors; uncalibrated)")


def lineage(ref: Any, sus: Any) -> LineageStats:
    """Run the lineage test on two :class:`~taoke.fingerprint.Fingerprint` objects."""
    notes: list[str] = []
    m_ref, m_sus = _inv_size(ref.inv), _inv_size(sus.inv)
    anchors = shared_anchors(ref.anchors, sus.anchors, m_ref, m_sus)
    n_ref, n_sus = ref.n_layers, sus.n_layers
    shape = (n_ref, n_sus)
    cal = calibrated_nulls()

    # S1: basis-free invariants on shared anchor tokens
    bf: dict[str, np.ndarray] = {}
    if len(anchors.ref) >= MIN_SHARED_ANCHORS:
        bf = component_similarity(ref.inv, sus.inv, anchors)
    else:
        notes.append(
            f"only {len(anchors.ref)} of the first {m_ref} anchor tokens are shared: the basis-free "
            f"statistic needs >= {MIN_SHARED_ANCHORS}"
        )
    s1 = layer_scores(bf) if bf else np.zeros(shape)
    null1 = None
    log10p1 = np.zeros(shape)
    perm1 = (0.0, 1.0)
    if bf:
        m, sd = permutation_noise(ref.inv, sus.inv, anchors)
        perm1 = (m, sd)
        null1 = basis_free_null(cal.get("basis_free"), m, sd, len(anchors.ref))
        if not cal.get("basis_free"):
            notes.append(
                "no calibrated null for the basis-free statistic (taoke/data/weights_null.json): "
                "p-values ignore the convergence of independent models"
            )
        log10p1 = null1.log10_sf(s1)

    # S2: the same invariants on fixed probes in the raw residual basis (equal widths only)
    rb: dict[str, np.ndarray] = {}
    k = _inv_size(ref.rinv)
    ident = SharedAnchors(np.arange(k), np.arange(k), k, k)
    if ref.d_model == sus.d_model and ref.rinv and sus.rinv and k == _inv_size(sus.rinv):
        rb = component_similarity(ref.rinv, sus.rinv, ident)
    s2 = layer_scores(rb) if rb else None
    null2 = None
    log10p2 = np.zeros(shape)
    if s2 is not None:
        _, perm_sd = permutation_noise(ref.rinv, sus.rinv, ident)
        c = cal.get("raw_basis")
        if c:
            # Calibrated centre and spread, but never tighter than this pair's own probe-permutation
            # noise scaled by the ratio seen in calibration (so the null follows the noise level of
            # other widths and probe counts).
            ratio = float(c.get("perm_ratio", 1.0))
            sd2 = max(float(c["sd"]), ratio * perm_sd)
            src = str(c.get("source", "calibration"))
            if sd2 > float(c["sd"]):
                src += f"; sd raised to {ratio:.2f} x this pair's probe-permutation noise"
            null2 = Null(float(c["mu"]), sd2, src, int(c.get("n", 0)))
        else:
            on_map = np.zeros(shape, dtype=bool)
            for j in range(n_sus):
                on_map[int(np.argmax(s2[:, j])), j] = True
            for i in range(n_ref):
                on_map[i, int(np.argmax(s2[i, :]))] = True
            null2 = internal_null(s2, on_map, "this pair's off-map layer pairs (uncalibrated)")
            if null2 is None or null2.sd < perm_sd:
                null2 = Null(
                    0.0 if null2 is None else null2.mu, perm_sd, "probe-permutation noise (uncalibrated)"
                )
            notes.append("no calibrated null for the raw-basis statistic: using this pair's own layers")
        log10p2 = null2.log10_sf(s2)

    n_stats = int(null1 is not None) + int(null2 is not None)
    if n_stats == 0:
        log10p = np.zeros(shape)
    else:
        log10p = np.minimum(log10p1, log10p2)
        log10p = np.minimum(0.0, log10p + np.log10(n_stats))
    # layer map on significance: a suspect layer maps to its most significant reference layer if that
    # clears LAYER_ALPHA after Bonferroni over the reference layers
    thr = -np.log10(LAYER_ALPHA) + np.log10(max(n_ref, 1))
    layer_map = best_layer_map(-log10p, thr) if log10p.size else [None] * n_sus
    layer_log10p = []
    for j in range(n_sus):
        i = layer_map[j]
        best = float(log10p[:, j].min()) if n_ref else 0.0
        val = float(log10p[i, j]) if i is not None else best
        layer_log10p.append(min(0.0, val + np.log10(max(n_ref, 1))))

    # model-level p-values, one per statistic, then Bonferroni over the statistics
    t1 = None
    t1_null = None
    model1 = 0.0
    if null1 is not None and s1.size:
        c = cal.get("basis_free_median")
        if c:
            # S1 at model level: the median over suspect layers of each one's best match, in units of
            # this pair's permutation noise. A copy makes every layer match; the convergence of
            # independent models sits in one or two layer pairs (layer 0 on the zoo), which the median
            # ignores. Its null is calibrated on the zoo's independent pairs.
            z = (s1 - perm1[0]) / perm1[1]
            t1 = float(np.median(z.max(axis=0)))
            n_eff = effective_pairs(c)
            t1_null = Null(
                float(c["mu"]),
                float(c["sd"]) * np.sqrt(1 + 1 / n_eff),
                str(c.get("source", "calibration")),
                int(c.get("n", 0)),
                dof=float(n_eff - 1),
            )
            model1 = float(t1_null.log10_sf(np.asarray(t1)))
        else:
            model1 = float(log10p1.min()) + np.log10(log10p1.size)
    model2 = float(log10p2.min()) + np.log10(log10p2.size) if null2 is not None and s2 is not None else 0.0
    model = min(model1, model2) + np.log10(max(n_stats, 1))
    which = "basis-free" if model1 <= model2 else "raw-basis"
    return LineageStats(
        anchors,
        bf,
        rb,
        s1,
        s2,
        null1,
        null2,
        log10p,
        layer_map,
        layer_log10p,
        min(0.0, model),
        which,
        notes,
        t1=t1,
        t1_null=t1_null,
        log10p_basis_free=min(0.0, model1),
        log10p_raw_basis=min(0.0, model2),
    )
