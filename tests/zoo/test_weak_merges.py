"""Issue 15.7: the smallest share of a model detected in a linear merge with an independent one, at
alpha 0.01, measured on the zoo (linear merges of A with A2 -- same data -- and with B -- other data and
tokenizer -- at shares 0.02..0.5 of A; no parent named). Nothing is fitted on the sweep."""

from __future__ import annotations

from taoke.weights import packaged_nulls
from taoke.zoo.catalog import MERGE_SHARES, sweep_pairs
from taoke.zoo.evaluation import FingerprintCache, weak_merges


def test_sweep_reports_the_smallest_detected_share():
    out = weak_merges(FingerprintCache(), packaged_nulls())
    rows = out["rows"]
    assert len(rows) == len(sweep_pairs()) == 2 * len(MERGE_SHARES) and out["alpha"] == 0.01
    smallest = out["smallest_share_detected"]
    assert smallest is not None and smallest <= 0.3, rows
    # every merge from that share on is detected, and the share below it is not in at least one pair
    assert all(r["detected"] for r in rows if r["share"] >= smallest)
    below = [s for s in MERGE_SHARES if s < smallest]
    if below:
        assert not all(r["detected"] for r in rows if r["share"] == max(below))
    # a 2 % merge is below what weights can show: reported as not detected, never as derived
    assert not any(r["detected"] for r in rows if r["share"] == 0.02)
