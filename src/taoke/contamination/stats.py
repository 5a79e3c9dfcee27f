"""The statistics: exact permutation p-values under exchangeability, and per-item membership scores.

Two tests carry the verdict, each with an exact false-positive guarantee that needs no model of text:

1. **Item order** (Oren et al. 2023, "Proving test set contamination in black box language models",
   arXiv:2310.17623). If the model never saw the benchmark and its items are exchangeable, the published
   order is just one random order, so the log-likelihood of the benchmark in published order is
   exchangeable with its log-likelihood under N random shuffles, and
   ``p = (1 + #{shuffled >= published}) / (N + 1)`` is an exact p-value (their permutation test; their
   sharded test trades exactness for speed on large benchmarks, which we do not need).

2. **Option order** (the same argument, one level down: the order of a multiple-choice item's options,
   with the answer letter relabelled to follow the right option -- the perturbation of Zheng et al. 2023,
   arXiv:2309.03882, used for leakage detection by Hidayat et al. 2025, arXiv:2505.24263). Per item, the
   published order is scored among K random other orders; under exchangeability the published order is
   a uniformly random member of that set, independently per item. The statistic sums, over items, how
   much the published order beats the mean of its set; its null is drawn by re-choosing, per item, which
   member is "published" (Monte Carlo with M draws; the p-value ``(1 + #{T* >= T}) / (M + 1)`` is exact
   for the Monte Carlo test).

Membership scores (Min-K% Prob, Shi et al. 2023, arXiv:2310.16789; Min-K%++, Zhang et al. 2024,
arXiv:2404.02936) rank the items most likely seen. They are compared with controls made by number and
name substitution, which changes the text, so their gap is descriptive (a model that merely *knows* the
names also prefers the originals) and never decides the verdict alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class PermutationTest:
    """An exact permutation / Monte Carlo test result with everything needed to read it."""

    name: str
    statistic: float
    p_value: float
    draws: int
    null_mean: float
    null_std: float
    min_p: float
    null: str
    # the null draws as a histogram {"edges": [...], "counts": [...]} (what the report draws; the draws
    # themselves are not kept)
    null_histogram: dict | None = None

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {
            "name": self.name,
            "statistic": round(self.statistic, 4),
            "p_value": self.p_value,
            "draws": self.draws,
            "null_mean": round(self.null_mean, 4),
            "null_std": round(self.null_std, 4),
            "min_achievable_p": self.min_p,
            "null": self.null,
            "null_histogram": self.null_histogram,
        }


def histogram(null: np.ndarray, bins: int | None = None) -> dict | None:
    """The null draws binned for the report: ``{"edges": [...], "counts": [...]}`` (None when empty or
    not finite). Bins: about sqrt(n), between 5 and 40."""
    x = np.asarray(null, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return None
    k = bins or int(min(40, max(5, round(math.sqrt(x.size)))))
    lo, hi = float(x.min()), float(x.max())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(x, bins=k, range=(lo, hi))
    return {"edges": [round(float(e), 6) for e in edges], "counts": [int(c) for c in counts]}


def permutation_p(observed: float, null: np.ndarray) -> float:
    """Exact permutation p-value ``(1 + #{null >= observed}) / (len(null) + 1)`` (never 0)."""
    return float((1 + int(np.sum(null >= observed - 1e-9 * max(1.0, abs(observed))))) / (len(null) + 1))


def order_windows(
    token_lists: list[list[int]], order: list[int] | np.ndarray, window: int
) -> list[list[int]]:
    """Concatenate items in ``order`` and cut the stream into non-overlapping windows of ``window`` tokens.

    Every ordering yields the same multiset of tokens; only which neighbours condition them differs,
    which is what a model that memorised the published order is sensitive to.
    """
    stream = [t for i in order for t in token_lists[i]]
    return [stream[s : s + window] for s in range(0, len(stream), window) if len(stream[s : s + window]) > 1]


def order_test(canonical: float, shuffled: list[float]) -> PermutationTest:
    """Oren et al.'s permutation test from the published-order and shuffled log-likelihoods."""
    null = np.asarray(shuffled, dtype=np.float64)
    return PermutationTest(
        name="item-order exchangeability",
        statistic=canonical,
        p_value=permutation_p(canonical, null),
        draws=len(null),
        null_mean=float(null.mean()) if len(null) else 0.0,
        null_std=float(null.std()) if len(null) else 0.0,
        min_p=1.0 / (len(null) + 1),
        null="the model never saw the benchmark, so its published item order is as likely as any shuffle",
        null_histogram=histogram(null),
    )


def option_test(scores: list[np.ndarray], draws: int, seed: int = 0) -> PermutationTest:
    """Monte Carlo test that published option orders (index 0 of each array) beat their random peers.

    ``scores[i]`` holds the log-likelihood of item i in published order (index 0) and in K_i random other
    orders. T = sum_i (s_i0 - mean_i); null T* re-chooses the published member uniformly per item.
    """
    rng = np.random.default_rng(seed)
    centred = [np.asarray(s, dtype=np.float64) - float(np.mean(s)) for s in scores if len(s) > 1]
    if not centred:
        return PermutationTest(
            "option-order exchangeability", 0.0, 1.0, 0, 0.0, 0.0, 1.0, "no items with options"
        )
    observed = float(sum(c[0] for c in centred))
    null = np.zeros(draws)
    for c in centred:
        null += c[rng.integers(0, len(c), size=draws)]
    min_p = max(1.0 / (draws + 1), float(np.exp(-sum(math.log(len(c)) for c in centred))))
    return PermutationTest(
        name="option-order exchangeability",
        statistic=observed,
        p_value=permutation_p(observed, null),
        draws=draws,
        null_mean=float(null.mean()),
        null_std=float(null.std()),
        min_p=min_p,
        null="the model never saw the items, so each published option order is as likely as a random one",
        null_histogram=histogram(null),
    )


def item_rank_p(s: np.ndarray) -> float:
    """Exact per-item p-value: share of the item's option orders scoring at least the published one."""
    s = np.asarray(s, dtype=np.float64)
    return float(np.sum(s >= s[0] - 1e-9 * max(1.0, abs(s[0])))) / len(s)


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def seen_fraction(top_hits: int, n: int, k_plus_1: float) -> dict:
    """Estimate of the share of items memorised, from how often the published order ranks first.

    An unseen item ranks first with probability 1/(K+1); a memorised item (nearly) always does, so
    rate = f + (1 - f)/(K+1) gives f = (rate - 1/(K+1)) / (1 - 1/(K+1)), with a Wilson 95% interval.
    """
    if n == 0 or k_plus_1 <= 1:
        return {"estimate": None, "low": None, "high": None}
    base = 1.0 / k_plus_1
    lo, hi = wilson(top_hits, n)

    def f(r: float) -> float:
        return min(1.0, max(0.0, (r - base) / (1 - base)))

    return {"estimate": round(f(top_hits / n), 3), "low": round(f(lo), 3), "high": round(f(hi), 3)}
