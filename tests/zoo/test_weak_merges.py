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


def test_the_merge_finders_detection_limit_is_stated_per_share():
    """Issue 20: merges with a parent under MIN_SHARE are not reported; eval says so with the counts
    found per share of A (the sweep is the finder's test split: the floor is never moved on it)."""
    from taoke.render.compare import merge_limit_line
    from taoke.weights.mergefind import MIN_SHARE

    out = weak_merges(FingerprintCache(), packaged_nulls(), pool=_pool())
    by = out["merges_found_by_share"]
    assert sum(k for k, _ in by.values()) == out["merges_found"]
    assert sum(n for _, n in by.values()) == len(out["rows"])
    assert out["min_share"] == MIN_SHARE
    # no merge is found where A's true share is far under the floor (2 % and 5 %)
    assert by["0.02"][0] == 0 and by["0.05"][0] == 0
    line = merge_limit_line(out)
    assert f"MIN_SHARE {MIN_SHARE:g}" in line and all(f"{s} {k}/{n}" in line for s, (k, n) in by.items())


def _pool():
    from taoke.zoo.evaluation import merge_pool

    cache = FingerprintCache()
    return [cache.get(m) for m in merge_pool(None)]
