"""Calibration: the false-positive rate of the lineage test on independent same-architecture pairs.

The zoo's calibration set holds >= 10 bases of one shape trained independently on the same data and
tokenizer (issue 3), so 45 pairs that are independent by construction. Each pair is tested with a
basis-free null refitted *without* any pair involving either of its models (leave-one-out), so the
measured false-positive rate is not an in-sample fit. Issue 4 asks for FPR <= 1% at alpha = 0.01.
"""

from __future__ import annotations

from itertools import combinations

import pytest

from taoke.weights import compare, packaged_nulls
from taoke.weights.lineage import fit_nulls, pair_scores
from tests.helpers.compare import zoo_fp
from tests.helpers.need import unavailable


@pytest.fixture(scope="module")
def calibration():
    from taoke import zoo

    models = zoo.calibration_models()
    if len(models) < 10:
        unavailable("fewer than 10 calibration bases in this zoo")
    fps = {m: zoo_fp(m) for m in models}
    scores = {(a, b): pair_scores(fps[a], fps[b]) for a, b in combinations(models, 2)}
    return fps, scores


def test_calibration_set_is_large_enough(calibration):
    _, scores = calibration
    assert len(scores) >= 45


def test_false_positive_rate_leave_one_out(calibration):
    fps, scores = calibration
    ps = []
    for a, b in scores:
        keep = [k for k in scores if not set(k) & {a, b}]
        nulls = fit_nulls(
            [scores[k][0] for k in keep],
            [scores[k][1] for k in keep],
            "leave-one-out",
            len(fps) - 2,
            [scores[k][2] for k in keep],
        )
        res = compare(fps[a], fps[b], nulls=packaged_nulls().overlay(nulls))
        assert res.relationship == "independent-same-architecture"
        ps.append(res.p_value)
    fpr = sum(p < 0.01 for p in ps) / len(ps)
    assert fpr <= 0.01, sorted(ps)[:5]


def test_shipped_null_matches_the_zoo(calibration):
    """The null shipped in taoke/data was fitted on these pairs (if not: `taoke eval --calibrate OUT.json`
    and copy OUT.json to src/taoke/data/weights_null.json)."""
    shipped = packaged_nulls()
    assert shipped.basis_free_median is not None, "no calibrated null shipped"
    fps, scores = calibration
    refit = fit_nulls(
        [v[0] for v in scores.values()],
        [v[1] for v in scores.values()],
        "refit",
        len(fps),
        [v[2] for v in scores.values()],
    )
    for key in ("basis_free", "basis_free_median", "raw_basis"):
        new, old = getattr(refit, key), getattr(shipped, key)
        assert abs(new.mu - old.mu) < 0.05 * max(1.0, abs(old.mu)) + 0.01, key
        assert abs(new.sd - old.sd) < 0.1 * old.sd, key
