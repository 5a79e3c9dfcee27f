"""The lineage test's statistics on numbers (issue 20: a mutation-tested specification, seconds to run).

Each test checks a property the docstrings of :mod:`taoke.weights.lineage` state -- p uniform under
the null (by simulation), monotone in the statistic, the Monte Carlo p never 0, Bonferroni's min(1, m p),
the predictive Student-t of a calibration of n_eff pairs, the fitted nulls' definitions -- without a
model or a fingerprint. ``bench/mutation.py --module lineage`` runs them against every small change of
those functions.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kstest, norm
from scipy.stats import t as student_t

from taoke.weights.lineage import (
    Null,
    NullFit,
    basis_free_null,
    bonferroni,
    effective_pairs,
    fisher_z,
    fit_null,
    fit_nulls,
    layer_scores,
    median_best,
    p_value,
    raw_basis_permutation_test,
)
from taoke.weights.similarity import SharedAnchors, component_similarity


def test_p_value_is_ten_to_the_log_and_zero_only_below_float_range():
    for lp in (0.0, -0.5, -3.0, -299.0):
        assert p_value(lp) == pytest.approx(10.0**lp, rel=1e-12)
    assert p_value(-300.0) == 0.0 and p_value(-301.0) == 0.0 and p_value(-299.9) > 0.0
    assert p_value(0.0) == 1.0


def test_bonferroni_is_min_one_m_p():
    assert bonferroni(-3.0, 3) == pytest.approx(np.log10(3e-3))
    assert bonferroni(-3.0, 1) == -3.0
    assert bonferroni(-0.1, 10) == 0.0  # m p > 1: capped at 1
    assert bonferroni(-3.0, 0) == -3.0 and bonferroni(-3.0, -2) == -3.0  # no test counts as one
    # valid under any dependence: the family-wise error of m identical (fully dependent) uniform tests
    # and of m independent ones stays at most alpha
    rng = np.random.default_rng(0)
    m, alpha = 5, 0.05
    indep = np.log10(rng.uniform(size=(20000, m))).min(axis=1)
    same = np.log10(rng.uniform(size=20000))
    for lp in (indep, same):
        rejected = np.mean([bonferroni(v, m) <= np.log10(alpha) for v in lp])
        assert rejected <= alpha + 0.005
    # and it is sharp for independent tests: close to 1 - (1 - alpha / m)^m
    assert np.mean([bonferroni(v, m) <= np.log10(alpha) for v in indep]) > 0.045


def test_fisher_z_is_atanh_clipped_short_of_infinity():
    r = np.array([-0.5, 0.0, 0.3, 0.9])
    assert np.allclose(fisher_z(r), np.arctanh(r))
    ends = fisher_z(np.array([-1.0, 1.0, 2.0]))
    assert np.all(np.isfinite(ends)) and ends[1] == pytest.approx(np.arctanh(0.999999))
    assert ends[0] == -ends[1] and ends[2] == ends[1]


def test_layer_scores_average_the_components_in_fisher_z():
    a, b = np.array([[0.2, 0.9]]), np.array([[0.6, -0.1]])
    got = layer_scores({"qk": a, "ov": b})
    assert got.shape == (1, 2)
    assert np.allclose(got, (np.arctanh(a) + np.arctanh(b)) / 2)
    assert layer_scores({}).shape == (0, 0)


def test_gaussian_null_z_and_tail():
    null = Null(mu=1.0, sd=2.0, source="test")
    x = np.array([-3.0, 1.0, 2.0, 9.0])
    assert np.allclose(null.z(x), (x - 1.0) / 2.0)
    assert np.allclose(null.log10_sf(x), np.log10(norm.sf((x - 1.0) / 2.0)))
    assert null.log10_sf(np.array(1.0)) == pytest.approx(np.log10(0.5))
    # far tails stay finite and exact in log space (no underflow to p = 0)
    assert null.log10_sf(np.array(81.0)) == pytest.approx(norm.logsf(40.0) / np.log(10))


def test_student_null_tail_and_monotone_in_the_statistic():
    null = Null(mu=0.5, sd=1.5, source="test", dof=4.0)
    x = np.linspace(-5, 40, 200)
    lp = null.log10_sf(x)
    assert np.allclose(lp, np.log10(student_t.sf((x - 0.5) / 1.5, 4.0)))
    assert np.all(np.diff(lp) < 0)  # a larger statistic is never less significant
    assert np.all(lp <= 0)
    # heavier than the Gaussian of the same location and scale
    gauss = Null(mu=0.5, sd=1.5, source="test")
    assert np.all(null.log10_sf(x[x > 4]) > gauss.log10_sf(x[x > 4]))


def test_null_p_values_are_uniform_under_their_null():
    rng = np.random.default_rng(1)
    for null, draws in (
        (Null(0.3, 0.7, "g"), 0.3 + 0.7 * rng.standard_normal(4000)),
        (Null(-1.0, 2.0, "t", dof=3.0), -1.0 + 2.0 * rng.standard_t(3.0, 4000)),
    ):
        p = 10.0 ** null.log10_sf(draws)
        assert kstest(p, "uniform").pvalue > 0.01


def test_effective_pairs_are_the_disjoint_pairs_of_the_calibration_models():
    assert effective_pairs(NullFit(0.0, 1.0, n_models=10)) == 5
    assert effective_pairs(NullFit(0.0, 1.0, n_models=11)) == 5
    assert effective_pairs(NullFit(0.0, 1.0, n_models=40)) == 20
    assert effective_pairs(NullFit(0.0, 1.0, n_models=3)) == 2  # at least 2: a t with 1 dof
    assert effective_pairs(NullFit(0.0, 1.0)) == 5  # unknown: the zoo's 10 calibration models


def test_basis_free_null_maps_calibrated_z_back_to_scores():
    cal = NullFit(mu=0.8, sd=1.2, source="zoo", n=45, n_models=10)
    null = basis_free_null(cal, perm_mean=0.05, perm_sd=0.02, n_shared=300)
    n_eff = 5
    assert null.mu == pytest.approx(0.05 + 0.8 * 0.02)
    assert null.sd == pytest.approx(1.2 * 0.02 * np.sqrt(1 + 1 / n_eff))
    assert null.dof == n_eff - 1 and null.n == 45
    assert "300 shared anchors" in null.source
    alone = basis_free_null(None, perm_mean=0.05, perm_sd=0.02, n_shared=300)
    assert (alone.mu, alone.sd, alone.dof) == (0.05, 0.02, None) and "uncalibrated" in alone.source


def test_basis_free_null_is_the_predictive_t_of_a_new_independent_pair():
    """The docstring's claim: mean and SD from n_eff independent values, the next value's p under
    t(n_eff - 1) with scale sd * sqrt(1 + 1/n_eff) is exactly uniform (the prediction interval)."""
    rng = np.random.default_rng(2)
    for n_eff in (2, 5, 20):
        p = []
        for _ in range(3000):
            cal = rng.normal(3.0, 2.0, n_eff)
            fit = NullFit(float(cal.mean()), float(cal.std(ddof=1)), n_models=2 * n_eff)
            null = basis_free_null(fit, perm_mean=0.0, perm_sd=1.0, n_shared=100)
            p.append(10.0 ** float(null.log10_sf(np.asarray(rng.normal(3.0, 2.0)))))
        assert kstest(p, "uniform").pvalue > 0.01, n_eff


def test_median_best_is_the_median_of_each_suspect_layers_best():
    z = np.array([[1.0, 5.0, 0.0], [2.0, 0.0, 7.0], [0.5, 1.0, 3.0]])  # [ref, sus]
    assert median_best(z) == 5.0  # best per suspect layer: 2, 5, 7
    assert median_best(np.array([[1.0, 4.0]])) == 2.5
    assert np.isnan(median_best(np.zeros((0, 0))))


def test_fit_null_sd_puts_the_largest_calibration_value_at_most_3_5_sd_out():
    rng = np.random.default_rng(3)
    plain = [rng.normal(0.1, 1.0, (4, 4)) for _ in range(6)]
    fit = fit_null(plain, "plain")
    allv = np.concatenate([s.ravel() for s in plain])
    assert fit.mu == pytest.approx(allv.mean()) and fit.sample_sd == pytest.approx(allv.std(ddof=1))
    assert fit.n == 96 and fit.pairs == 6 and fit.max == pytest.approx(allv.max())
    assert fit.sd == pytest.approx(max(allv.std(ddof=1), (allv.max() - allv.mean()) / 3.5))
    tailed = [*plain, np.array([[40.0]])]  # one converged layer pair far out
    fit = fit_null(tailed, "tail")
    allv = np.concatenate([s.ravel() for s in tailed])
    assert fit.sd == pytest.approx((40.0 - allv.mean()) / 3.5) and fit.sd > fit.sample_sd
    assert (40.0 - fit.mu) / fit.sd == pytest.approx(3.5)
    assert fit_null([np.zeros(9), np.zeros((0, 0)), np.ones(1)], "empty ones skipped").n == 10
    with pytest.raises(ValueError):
        fit_null([np.zeros(9)], "too few")
    assert fit_null([np.arange(10.0)], "ten").n == 10


def test_fit_nulls_builds_each_null_from_its_own_scores():
    rng = np.random.default_rng(4)
    z = [rng.normal(0.0, 1.0, (3, 3)) for _ in range(6)]
    raw = [rng.normal(0.0, 0.05, (3, 3)) for _ in range(6)]
    nulls = fit_nulls(z, raw, "zoo", n_models=12, perm_sd=[0.02, 0.04, float("nan"), 0.0])
    assert nulls.basis_free is not None and nulls.basis_free.n_models == 12
    assert nulls.basis_free.mu == pytest.approx(np.concatenate([v.ravel() for v in z]).mean())
    meds = np.array([median_best(v) for v in z])
    med = nulls.basis_free_median
    assert med is not None and med.n == 6 and med.n_models == 12
    assert med.mu == pytest.approx(meds.mean()) and med.sample_sd == pytest.approx(meds.std(ddof=1))
    assert med.sd == pytest.approx(max(meds.std(ddof=1), (meds.max() - meds.mean()) / 3.5))
    assert med.max == pytest.approx(meds.max())
    assert nulls.raw_basis is not None and "raw basis" in nulls.raw_basis.source
    assert nulls.raw_basis.perm_ratio == pytest.approx(nulls.raw_basis.sd / 0.03)  # finite, > 0 only
    assert fit_nulls(z, raw, "zoo").basis_free_median.n_models == 10  # the zoo's calibration models
    assert fit_nulls(z[:5], [], "zoo").basis_free_median.n == 5  # from five pairs on
    # one pair's median far out: the tail rule sets the median null's sd as it does fit_null's
    # (the tail rule can bind only from 13 values on: one value is at most (n - 1) / sqrt(n) SDs out)
    out = [*(rng.normal(0.0, 1.0, (3, 3)) for _ in range(19)), np.full((3, 3), 30.0)]
    med = fit_nulls(out, [], "zoo").basis_free_median
    meds = np.array([median_best(v) for v in out])
    assert med.sd == pytest.approx((30.0 - meds.mean()) / 3.5) and med.sd > med.sample_sd
    few = fit_nulls(z[:4], [np.zeros((0, 0))], "zoo")
    assert few.basis_free_median is None and few.raw_basis is None and few.basis_free is not None
    assert fit_nulls(z, raw, "zoo").raw_basis.perm_ratio is None  # no noise SDs given
    assert fit_nulls([np.zeros((0, 0))], [], "zoo").basis_free is None


# -- S2's Monte Carlo permutation test ------------------------------------------------------------


def _model(rng: np.random.Generator, k: int = 8, layers: int = 2) -> dict[str, np.ndarray]:
    """Symmetric invariants over k exchangeable probes (independent draws: the null holds exactly)."""
    out = {}
    for comp in ("qk", "ov"):
        u = rng.standard_normal((layers, k, 2))
        out[comp] = np.einsum("lia,lja->lij", u, u) + 0.5 * rng.standard_normal((layers, k, k))
    return out


def _s2(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> np.ndarray:
    k = next(iter(a.values())).shape[1]
    ident = SharedAnchors(np.arange(k), np.arange(k), k, k)
    return layer_scores(component_similarity(a, b, ident))


def test_permutation_p_is_never_zero_and_counts_the_observed_draw():
    rng = np.random.default_rng(5)
    a, b = _model(rng), _model(rng)
    s2 = _s2(a, b)
    # exceedances out of reach: every draw is made, p = (1 + #>=) / (1 + N)
    t = raw_basis_permutation_test(a, b, s2, max_draws=49, exceedances=10**6)
    assert t.draws == 49 and not t.extrapolated and 0 < t.exceedances < 49
    assert t.log10p == pytest.approx(np.log10((t.exceedances + 1) / 50))
    # a statistic no draw reaches: p at most 1 / (N + 1), never 0, the Gaussian tail flagged
    far = raw_basis_permutation_test(a, b, s2 + 100.0, max_draws=49, exceedances=10**6)
    assert far.exceedances == 0 and far.extrapolated and far.draws == 49
    assert -np.inf < far.log10p <= np.log10(1 / 50)
    tail = norm.logsf((far.statistic - far.mean) / far.sd) / np.log(10) + np.log10(s2.size)
    assert far.log10p == pytest.approx(min(np.log10(1 / 50), tail))
    near = raw_basis_permutation_test(a, b, s2 + 0.5, max_draws=49, exceedances=10**6)
    if near.exceedances == 0:  # a gaussian tail above the bound is never reported: the bound is
        assert near.log10p <= np.log10(1 / 50)
    # the observed statistic is the maximum over layer pairs
    assert t.statistic == pytest.approx(float(s2.max()))


def test_permutation_p_stops_at_the_h_th_exceedance_besag_clifford():
    rng = np.random.default_rng(6)
    a, b = _model(rng), _model(rng)
    s2 = _s2(a, b)
    t = raw_basis_permutation_test(a, b, s2, max_draws=999, exceedances=4)
    assert t.exceedances == 4 and t.draws < 999 and not t.extrapolated
    assert t.log10p == pytest.approx(np.log10(4 / t.draws))
    # the stopped test is the unstopped one cut at the same draw: the same seed gives the same draws
    full = raw_basis_permutation_test(a, b, s2, max_draws=t.draws, exceedances=10**6)
    assert full.exceedances == 4 and full.draws == t.draws
    # the trivial statistic (every draw reaches it) stops at once with p = 1
    low = raw_basis_permutation_test(a, b, s2 - 100.0, max_draws=999, exceedances=4)
    assert low.draws == 4 and low.log10p == 0.0


def test_permutation_p_is_monotone_in_the_statistic():
    rng = np.random.default_rng(7)
    a, b = _model(rng), _model(rng)
    s2 = _s2(a, b)
    ps = [
        raw_basis_permutation_test(a, b, s2 + c, max_draws=99, exceedances=10**6).log10p
        for c in np.linspace(-0.3, 0.6, 10)
    ]
    assert all(x >= y for x, y in zip(ps, ps[1:], strict=False)), ps
    assert ps[0] > ps[-1]


def test_permutation_p_is_uniform_under_exchangeable_independence():
    """Independent draws with exchangeable probes: P(p <= u) <= u at every u the draws resolve
    (u >= 1 / (N + 1); below it the extrapolated tail decides nothing at such alpha), and the p-value
    is not far from uniform (the test is not merely conservative)."""
    rng = np.random.default_rng(8)
    p, extrapolated = [], []
    for _ in range(300):
        a, b = _model(rng, layers=1), _model(rng, layers=1)
        seed = int(rng.integers(1 << 30))
        t = raw_basis_permutation_test(a, b, _s2(a, b), max_draws=39, exceedances=10**6, seed=seed)
        p.append(10.0**t.log10p)
        extrapolated.append(t.extrapolated)
    p, extrapolated = np.array(p), np.array(extrapolated)
    assert p[~extrapolated].min() >= 1 / 40 and np.all(p[extrapolated] <= 1 / 40)
    for u in (1 / 40, 0.05, 0.1, 0.25, 0.5, 0.75):
        assert np.mean(p <= u) <= u + 0.05, u  # binomial sd at 300 draws <= 0.029
    assert np.mean(p <= 0.5) > 0.4 and np.mean(p <= 0.1) > 0.04


def test_permutation_moments_are_those_of_the_drawn_scores():
    rng = np.random.default_rng(9)
    a, b = _model(rng), _model(rng)
    s2 = _s2(a, b)
    t = raw_basis_permutation_test(a, b, s2, max_draws=63, exceedances=10**6, seed=3)
    # the draws: shuffles of b's probe order, scores over every layer pair (here 2 x 2)
    from taoke.weights.similarity import permutation_scores

    k = 8
    ident = SharedAnchors(np.arange(k), np.arange(k), k, k)
    g = np.random.default_rng(3)
    perms = [np.stack([g.permutation(k) for _ in range(n)]) for n in (32, 31)]
    scores = np.concatenate([permutation_scores(a, b, ident, p).ravel() for p in perms])
    assert t.mean == pytest.approx(scores.mean()) and t.sd == pytest.approx(scores.std(ddof=1))
    assert t.draws == 63


def _drawn_maxima(a: dict[str, np.ndarray], b: dict[str, np.ndarray], n: int, seed: int) -> np.ndarray:
    """The maxima over layer pairs of the test's first ``n`` draws (its seed, its draw order)."""
    from taoke.weights.similarity import permutation_scores

    k = next(iter(a.values())).shape[1]
    ident = SharedAnchors(np.arange(k), np.arange(k), k, k)
    g = np.random.default_rng(seed)
    perms = np.stack([g.permutation(k) for _ in range(n)])
    return permutation_scores(a, b, ident, perms).reshape(n, -1).max(axis=1)


def test_permutation_draws_that_tie_the_statistic_count_and_stop_the_test():
    """A draw equal to the statistic reaches it (>=); the test stops at the draw that makes the h-th
    exceedance, even when that is the last draw of a batch, and its moments are those of the draws made."""
    rng = np.random.default_rng(10)
    a, b = _model(rng), _model(rng)
    maxima = _drawn_maxima(a, b, 32, seed=0)
    t = float(maxima[31])  # the 32nd draw ties the statistic exactly
    h = int(np.sum(maxima >= t))
    s2 = np.array([[t]])
    res = raw_basis_permutation_test(a, b, s2, max_draws=999, exceedances=h, seed=0)
    assert res.exceedances == h and res.draws == 32
    assert res.log10p == pytest.approx(np.log10(h / 32))
    # stopped inside a batch: the moments are those of the draws up to the stop, not of the batch
    t2 = float(np.sort(maxima)[-3])  # three of the first 32 draws reach it
    stop = int(np.flatnonzero(maxima >= t2)[2]) + 1
    res = raw_basis_permutation_test(a, b, s2 * 0 + t2, max_draws=999, exceedances=3, seed=0)
    assert res.draws == stop and res.log10p == pytest.approx(np.log10(3 / stop))
    from taoke.weights.similarity import permutation_scores

    k = 8
    g = np.random.default_rng(0)
    perms = np.stack([g.permutation(k) for _ in range(stop)])
    scores = permutation_scores(a, b, SharedAnchors(np.arange(k), np.arange(k), k, k), perms).ravel()
    assert res.mean == pytest.approx(scores.mean()) and res.sd == pytest.approx(scores.std(ddof=1))
