"""S2's model-level test (issue 15.1): an exact Monte Carlo permutation test over the probe order.

Synthetic invariants make the null exact by construction (independent draws, exchangeable probes), so
these tests check the test itself: its level where the scores are skewed, the Besag-Clifford stop, the
extrapolated tail of a copy, and that the permutation draws reproduce the observed score.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from taoke.weights.lineage import layer_scores, raw_basis_permutation_test
from taoke.weights.similarity import SharedAnchors, component_similarity, permutation_scores


def _skewed_model(rng: np.random.Generator, k: int = 32, layers: int = 4) -> dict[str, np.ndarray]:
    """Invariants dominated by two heavy-tailed directions per layer: off-diagonal entries are products
    of a few loadings, right-skewed as trained blocks' raw-basis invariants are, and exchangeable in the
    probe order by construction (so a permutation test is exact for two independent draws)."""
    out = {}
    for comp in ("qk", "ov", "ffn", "gate"):
        u = rng.standard_t(3, size=(layers, k, 2))
        out[comp] = np.einsum("lia,lja->lij", u, u) + 0.3 * rng.standard_normal((layers, k, k))
    return out


@pytest.mark.slow
def test_raw_basis_permutation_test_is_calibrated_where_a_gaussian_tail_is_not():
    """Independent pairs of skewed, exchangeable invariants: the permutation p-value keeps its level; the
    Gaussian tail of the same permutation moments (the shape of the old null) does not."""
    rng = np.random.default_rng(1)
    k = 32
    ident = SharedAnchors(np.arange(k), np.arange(k), k, k)
    perm, gauss = [], []
    for _ in range(150):
        a, b = _skewed_model(rng), _skewed_model(rng)
        s2 = layer_scores(component_similarity(a, b, ident))
        t = raw_basis_permutation_test(a, b, s2, max_draws=199, exceedances=10)
        perm.append(10**t.log10p)
        g = norm.logsf((s2.max() - t.mean) / t.sd) / np.log(10) + np.log10(s2.size)
        gauss.append(10 ** min(0.0, g))
    alpha = 0.05
    fpr_perm, fpr_gauss = np.mean(np.array(perm) < alpha), np.mean(np.array(gauss) < alpha)
    assert fpr_perm <= alpha + 0.03, fpr_perm  # binomial noise on 150 draws: sd 0.018
    assert fpr_gauss > fpr_perm + 0.03, (fpr_gauss, fpr_perm)


def test_permutation_scores_identity_is_the_observed_score():
    rng = np.random.default_rng(0)
    a, b = _skewed_model(rng, layers=3), _skewed_model(rng, layers=2)
    k = 32
    ident = SharedAnchors(np.arange(k), np.arange(k), k, k)
    s = layer_scores(component_similarity(a, b, ident))
    got = permutation_scores(a, b, ident, np.arange(k)[None])
    assert got.shape == (1, 3, 2)
    assert np.allclose(got[0], s)


def test_raw_basis_test_of_a_copy_is_extrapolated_and_small_and_sequential_stop_is_exact():
    rng = np.random.default_rng(2)
    a = _skewed_model(rng)
    k = 32
    ident = SharedAnchors(np.arange(k), np.arange(k), k, k)
    s2 = layer_scores(component_similarity(a, a, ident))
    t = raw_basis_permutation_test(a, a, s2, max_draws=99)
    assert t.extrapolated and t.exceedances == 0 and t.draws == 99 and t.log10p < np.log10(1 / 100)
    b = _skewed_model(rng)
    s2 = layer_scores(component_similarity(a, b, ident))
    t = raw_basis_permutation_test(a, b, s2, max_draws=999, exceedances=5)
    if t.draws < 999:  # stopped at the 5th exceedance: p = h / l (Besag-Clifford)
        assert t.exceedances == 5 and t.log10p == pytest.approx(np.log10(5 / t.draws))
    assert not t.extrapolated


def _shuffled_scores(a, b, anchors: SharedAnchors, perm: np.ndarray) -> np.ndarray:
    """The definition: the suspect's shared anchors reordered, then scored from scratch."""
    moved = SharedAnchors(anchors.ref, anchors.sus[perm], anchors.n_ref, anchors.n_sus)
    return layer_scores(component_similarity(a, b, moved))


def test_permutation_scores_and_noise_are_a_reshuffle_of_the_shared_anchors():
    """The gather that permutation_scores does on once-standardised matrices is the same as re-scoring
    with the suspect's anchors reordered, for anchors that sit at different positions on each side."""
    from taoke.weights.similarity import permutation_noise

    rng = np.random.default_rng(3)
    a, b = _skewed_model(rng, k=40, layers=3), _skewed_model(rng, k=36, layers=2)
    anchors = SharedAnchors(np.arange(2, 32), rng.permutation(36)[:30], 40, 36)
    perms = np.stack([rng.permutation(30) for _ in range(5)])
    got = permutation_scores(a, b, anchors, perms, chunk=2)
    want = np.stack([_shuffled_scores(a, b, anchors, p) for p in perms])
    assert np.allclose(got, want, atol=1e-12)
    # permutation_noise: the moments of 24 such draws in the generator's order
    gen = np.random.default_rng(7)
    draws = np.stack([_shuffled_scores(a, b, anchors, gen.permutation(30)) for _ in range(24)]).ravel()
    mean, sd = permutation_noise(a, b, anchors, seed=7)
    assert mean == pytest.approx(draws.mean(), abs=1e-12)
    assert sd == pytest.approx(draws.std(ddof=1), abs=1e-12)
