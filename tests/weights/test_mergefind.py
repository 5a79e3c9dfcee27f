"""Issue 20: merge parents found without being told them (taoke.weights.mergefind), on zoo fingerprints.

The pool is the zoo's trained checkpoints (what ``taoke eval`` searches). MERGE_GAIN was fitted on the
issue-3 pairs (fit split); the sweep's linear merges are the test split."""

from __future__ import annotations

import pytest

from taoke.weights.mergefind import MERGE_GAIN, MIN_SHARE, find_merge
from taoke.zoo.evaluation import FingerprintCache, merge_pool


@pytest.fixture(scope="module")
def zoo():
    cache = FingerprintCache()
    pool = [cache.get(m) for m in merge_pool(None)]
    return cache, pool


@pytest.mark.parametrize(
    "suspect, parents",
    [
        ("merge-ft-linear", {"a-ft-man", "a-ft-doc"}),
        ("merge-ft-ties", {"a-ft-man", "a-ft-doc"}),
        ("merge-ft-taskarith", {"a-lora-man", "a-ft-doc"}),
        ("merge-a-a2", {"base-a", "base-a2"}),
    ],
)
def test_merges_are_found_with_their_parents(zoo, suspect, parents):
    cache, pool = zoo
    f = find_merge(cache.get(suspect), pool)
    assert f.merged and {p.name for p in f.parents} == parents, f.to_dict()
    assert f.gain >= MERGE_GAIN and all(p.share >= MIN_SHARE for p in f.parents)
    assert sum(p.share for p in f.parents) == pytest.approx(1.0)


def test_linear_merge_shares_are_measured(zoo):
    cache, pool = zoo
    f = find_merge(cache.get("merge-a-a2"), pool)
    shares = {p.name: p.share for p in f.parents}
    assert shares["base-a"] == pytest.approx(0.6, abs=0.01) and shares["base-a2"] == pytest.approx(
        0.4, abs=0.01
    )


@pytest.mark.parametrize(
    "suspect", ["a-ft-man", "a-cpt-man", "a2-partial-a", "a-gguf-q4_0", "base-b", "a-init-man"]
)
def test_non_merges_are_not_merged(zoo, suspect):
    cache, pool = zoo
    f = find_merge(cache.get(suspect), pool)
    assert not f.merged and f.gain < MERGE_GAIN, f.to_dict()
    assert "best single" in f.why


def test_a_pool_without_two_candidates_says_so(zoo):
    cache, _ = zoo
    f = find_merge(cache.get("merge-a-a2"), [cache.get("base-a")])
    assert not f.merged and f.why == "fewer than two candidates of the same shape"
    # the suspect itself is never its own parent
    f = find_merge(cache.get("base-a"), [cache.get("base-a"), cache.get("base-c")])
    assert not f.merged and f.candidates == 0
