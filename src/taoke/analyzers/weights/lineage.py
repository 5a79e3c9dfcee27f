"""The lineage test: two layer-similarity statistics, their nulls, layer-level and model-level p-values.

Two statistics, each a ``[L_ref, L_sus]`` matrix of layer-pair scores (the mean over the qk/ov/ffn/gate
components of the Fisher-z transformed correlation of their invariants):

``basis-free`` (S1): invariants on whitened anchor-token embeddings. Survives renaming, dtype and
    quantization, permutations of residual dimensions/heads/neurons, the allowed rescalings and any
    orthogonal rotation of the residual stream; tokens are matched by string, so a reordered or
    extended vocabulary lines up too. Its null cannot be built from the pair alone: two models trained
    independently on similar text converge a little at the same depth (the "cautionary tale" of
    issue 4; on the zoo, layer 0's attention of same-data twins correlates at ~0.1 where everything
    else is ~0.01). So S1's null is *calibrated*: N(mu, sd) of scores over every layer pair of the
    zoo's independent calibration pairs (``taoke/data/weights_null.json``, written by
    ``taoke eval --calibrate`` / ``bench/accuracy.py --calibrate`` and shipped with its provenance).

``raw-basis`` (S2): the same invariants on fixed Gaussian probe vectors instead of anchors. Needs equal
    widths and breaks under a residual rotation/permutation, but does not depend on the embeddings (it
    sees blocks transplanted into a model that kept its own embeddings: partial copies). Its null is
    built *per pair*: an independent model's residual coordinates are exchangeable (i.i.d. init and
    permutation-equivariant training), so B's layer j is no closer to A's layer i than to A's layer
    i' -- the off-map layer pairs of the same comparison give the null's centre and spread (median and
    1.4826 * MAD; model tracing, Zhu et al. ICML 2025, makes the same exchangeability argument for
    its exact permutation null over MLP neurons, github.com/ahmeda14960/model-tracing).

Layer-pair p-values are one-sided normal tails of the standardised scores. The model-level p-value is a
Bonferroni minimum over every layer pair and both statistics, which is valid whatever the dependence
between layers (Fisher's method, used by model tracing, assumes independent layers; it would be
anti-conservative here because layers of one model share a residual basis).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from scipy.stats import norm

from taoke.analyzers.weights.similarity import (
    SharedAnchors,
    best_layer_map,
    component_similarity,
    shared_anchors,
)

NULL_FILE = "weights_null.json"
MIN_SHARED_ANCHORS = 16
LAYER_ALPHA = 1e-3  # per-suspect-layer significance for drawing the layer map (after Bonferroni)


@dataclass
class Null:
    """A Gaussian null for a layer-pair score: where it comes from and its parameters."""

    mu: float
    sd: float
    source: str
    n: int = 0

    def z(self, score: np.ndarray) -> np.ndarray:
        return (score - self.mu) / self.sd

    def log10_sf(self, score: np.ndarray) -> np.ndarray:
        return norm.logsf(self.z(score)) / np.log(10)

    def describe(self) -> str:
        return f"N(mu={self.mu:.4f}, sd={self.sd:.4f}) from {self.source}" + (f" (n={self.n})" if self.n else "")


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

    def similarity(self) -> np.ndarray:
        """The ``[L_ref, L_sus]`` similarity shown to users: S1 as a correlation (S2 where S1 is absent)."""
        s = self.s1 if self.s1.size else (self.s2 if self.s2 is not None else np.zeros((0, 0)))
        return np.tanh(s)


def basis_free_null(z_cal: dict[str, Any] | None, perm_mean: float, perm_sd: float, n_shared: int) -> Null:
    """The S1 null in score units: the calibrated N(mu_z, sd_z) of permutation-standardised scores.

    A score s is first standardised by this pair's anchor-permutation noise, z = (s - m_perm) / sd_perm,
    then compared with the calibrated distribution of z between independent models. Without a
    calibration file the null is the permutation null alone (which ignores convergence; flagged).
    """
    if z_cal:
        mu_z, sd_z = float(z_cal["mu_z"]), float(z_cal["sd_z"])
        src = (f"{z_cal.get('source', 'calibration')}, applied to scores standardised by this pair's "
               f"anchor-permutation noise (sd {perm_sd:.4f}, {n_shared} shared anchors)")
        return Null(perm_mean + mu_z * perm_sd, sd_z * perm_sd, src, int(z_cal.get("n", 0)))
    return Null(perm_mean, perm_sd, f"anchor-permutation null only ({n_shared} shared anchors; uncalibrated)")


def lineage(ref: Any, sus: Any) -> LineageStats:
    """Run the lineage test on two :class:`~taoke.fingerprint.Fingerprint` objects."""
    from taoke.fingerprint import M_INV

    notes: list[str] = []
    anchors = shared_anchors(ref.anchors, sus.anchors, M_INV, M_INV)
    n_ref, n_sus = ref.n_layers, sus.n_layers
    shape = (n_ref, n_sus)
    cal = calibrated_nulls()

    # S1: basis-free invariants on shared anchor tokens
    bf: dict[str, np.ndarray] = {}
    if len(anchors.ref) >= MIN_SHARED_ANCHORS:
        bf = component_similarity(ref.inv, sus.inv, anchors)
    else:
        notes.append(f"only {len(anchors.ref)} of the first {M_INV} anchor tokens are shared: the basis-free "
                     f"statistic needs >= {MIN_SHARED_ANCHORS}")
    s1 = layer_scores(bf) if bf else np.zeros(shape)
    null1 = None
    log10p1 = np.zeros(shape)
    if bf:
        m, sd = permutation_noise(ref.inv, sus.inv, anchors)
        null1 = basis_free_null(cal.get("basis_free"), m, sd, len(anchors.ref))
        if not cal.get("basis_free"):
            notes.append("no calibrated null for the basis-free statistic (taoke/data/weights_null.json): "
                         "p-values ignore the convergence of independent models")
        log10p1 = null1.log10_sf(s1)

    # S2: the same invariants on fixed probes in the raw residual basis (equal widths only)
    rb: dict[str, np.ndarray] = {}
    ident = SharedAnchors(np.arange(M_INV), np.arange(M_INV), M_INV, M_INV)
    if ref.d_model == sus.d_model and ref.rinv and sus.rinv:
        rb = component_similarity(ref.rinv, sus.rinv, ident)
    s2 = layer_scores(rb) if rb else None
    null2 = None
    log10p2 = np.zeros(shape)
    if s2 is not None:
        on_map = np.zeros(shape, dtype=bool)
        for j in range(n_sus):
            on_map[int(np.argmax(s2[:, j])), j] = True
        for i in range(n_ref):
            on_map[i, int(np.argmax(s2[i, :]))] = True
        null2 = internal_null(s2, on_map, "this pair's off-map layer pairs (raw residual basis)")
        _, perm_sd = permutation_noise(ref.rinv, sus.rinv, ident)
        floors = [("probe-permutation noise", perm_sd)]
        c = cal.get("raw_basis")
        if c:
            floors.append(("the calibrated spread", float(c["sd"])))
        if null2 is None:
            null2 = Null(0.0, max(v for _, v in floors), "probe-permutation null (too few layers for off-map)")
        for what, v in floors:
            # Few layer pairs make the off-map spread a noisy estimate: never let it be tighter than
            # the noise of shuffled probes or than the spread between independent zoo models.
            if null2.sd < v:
                null2 = Null(null2.mu, v, null2.source + f", sd floored at {what} ({v:.4f})", null2.n)
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
    if log10p.size:
        model = float(log10p.min()) + np.log10(log10p.size)
        which = "basis-free" if float(log10p1.min()) <= float(log10p2.min()) else "raw-basis"
    else:
        model, which = 0.0, "none"
    return LineageStats(anchors, bf, rb, s1, s2, null1, null2, log10p, layer_map, layer_log10p,
                        min(0.0, model), which, notes)
