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

Both tests are exact only under their assumption: that a model which never saw the benchmark finds its
published orders no likelier than random ones. That fails when the publisher's order is itself not
random -- options sorted alphabetically, numerically or by length, or the right answer favouring one
position -- because a clean model can prefer sorted lists or one answer letter. :func:`published_order_check`
tests the benchmark file for exactly those departures before the option-order test is believed; the
item order (topic or difficulty grouping) cannot be checked from the file and is stated as an assumption.

A Monte Carlo or permutation test with N draws cannot give a p-value below 1/(N+1); when that exceeds
the level a test is run at, "not significant" is certain in advance and says nothing: the test
"cannot tell", and :func:`draws_needed` gives the N that could.

Membership scores (Min-K% Prob, Shi et al. 2023, arXiv:2310.16789; Min-K%++, Zhang et al. 2024,
arXiv:2404.02936) rank the items most likely seen. They are compared with controls made by number and
name substitution, which changes the text, so their gap is descriptive (a model that merely *knows* the
names also prefers the originals) and never decides the verdict alone.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from taoke.contamination.items import LETTERS


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
    # the level the report runs the test at (alpha / number of tests that can be believed) and, when the
    # test cannot answer at that level, why (its assumption fails, or its smallest p is above the level)
    level: float | None = None
    cannot_tell: str | None = None

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
            "level": self.level,
            "cannot_tell": self.cannot_tell,
        }


def draws_needed(level: float) -> int:
    """The fewest draws N (shuffles, Monte Carlo draws) whose smallest p-value 1/(N+1) reaches ``level``.

    >>> draws_needed(0.025)
    39
    """
    return max(1, math.ceil(1.0 / level - 1.0 - 1e-9))


def tarone_level(min_ps: list[float], alpha: float) -> float:
    """The per-test level of Tarone's modified Bonferroni for discrete tests (Tarone 1990, "A modified
    Bonferroni method for discrete data", Biometrics 46:515-522): the smallest K >= 1 such that at most
    K tests can reach alpha/K at all (smallest attainable p-value ``min_ps``); each test runs at
    alpha/K. A test that can never reach its level adds nothing to the family-wise error, so it is not
    counted; with every test able to reach alpha/m this is plain Bonferroni.

    >>> tarone_level([0.05, 0.0001], 0.05)  # 19 shuffles next to the option test: still alpha/2
    0.025
    >>> tarone_level([0.1, 0.0001], 0.05)   # 9 shuffles can never reach 0.05: the option test gets alpha
    0.05
    """
    for k in range(1, len(min_ps) + 1):
        if sum(p <= alpha / k * (1 + 1e-9) for p in min_ps) <= k:
            return alpha / k
    return alpha


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


# ---------------------------------------------------------------- is the published order random?

ORDER_CHECK_LEVEL = 0.01  # family-wise, over the checks below (Bonferroni)


@dataclass(frozen=True)
class OrderFinding:
    """One check of the published option order: how many items show the pattern, how many a random order
    would give, and the one-sided p-value of seeing at least that many."""

    check: str  # "numeric" | "alphabetical" | "length" (options sorted by it) | "position" (answer skew)
    count: int
    n: int
    expected: float
    p_value: float
    reason: str

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {
            "check": self.check,
            "count": self.count,
            "n": self.n,
            "expected": round(self.expected, 3),
            "p_value": self.p_value,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class OrderCheck:
    """Whether a benchmark's published option orders look random (see :func:`published_order_check`)."""

    checks: list[OrderFinding]
    level: float

    @property
    def flagged(self) -> list[OrderFinding]:
        """The checks significant at ``level`` / number of checks."""
        return [c for c in self.checks if c.p_value <= self.level / max(1, len(self.checks))]

    @property
    def random(self) -> bool:
        """True when no check finds the published order non-random."""
        return not self.flagged

    @property
    def reason(self) -> str:
        """The most significant flagged check in words ("" when the order looks random; every check is
        in :meth:`to_dict`)."""
        flagged = self.flagged
        return min(flagged, key=lambda c: c.p_value).reason if flagged else ""

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {"random": self.random, "level": self.level, "checks": [c.to_dict() for c in self.checks]}


def _number(text: str) -> float | None:
    try:
        x = float(text.strip().replace(",", ""))
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _sorted_probability(keys: list) -> float | None:
    """P(a uniformly random order of ``keys`` is sorted, ascending or descending); None when every key
    ties (any order is sorted: the item says nothing). Ties count as sorted either way, so with key
    multiplicities m_j the chance of one direction is prod(m_j!) / k!."""
    counts: dict = {}
    for k in keys:
        counts[k] = counts.get(k, 0) + 1
    if len(counts) < 2:
        return None
    one_way = math.prod(math.factorial(m) for m in counts.values()) / math.factorial(len(keys))
    return 2.0 * one_way


def _is_sorted(keys: list) -> bool:
    pairs = list(itertools.pairwise(keys))
    return all(a <= b for a, b in pairs) or all(a >= b for a, b in pairs)


def poisson_binomial_sf(probs: list[float], count: int) -> float:
    """P(S >= count) for S a sum of independent Bernoulli(probs[i]) (exact, by convolution)."""
    dist = np.zeros(len(probs) + 1)
    dist[0] = 1.0
    for i, q in enumerate(probs):
        dist[1 : i + 2] = dist[1 : i + 2] * (1 - q) + dist[: i + 1] * q
        dist[0] *= 1 - q
    return float(min(1.0, max(0.0, dist[count:].sum())))


_SORT_KEYS = {
    "numeric": ("numeric value", _number),
    "alphabetical": ("alphabetical order", lambda c: c.strip().casefold()),
    "length": ("length", lambda c: len(c.strip())),
}


def _sorted_finding(check: str, published: list[tuple[tuple[str, ...], int]]) -> OrderFinding | None:
    words, key = _SORT_KEYS[check]
    probs: list[float] = []
    count = 0
    for choices, _answer in published:
        keys = [key(c) for c in choices]
        if any(k is None for k in keys):
            continue  # numeric: only items whose options are all numbers
        q = _sorted_probability(keys)
        if q is None:
            continue
        probs.append(q)
        count += _is_sorted(keys)
    if not probs:
        return None
    p = poisson_binomial_sf(probs, count)
    expected = float(sum(probs))
    return OrderFinding(
        check,
        count,
        len(probs),
        expected,
        p,
        f"options sorted by {words} in {count} of {len(probs)} items ({expected:.1f} expected if the order "
        f"were random, p = {p:.2g})",
    )


def _position_finding(published: list[tuple[tuple[str, ...], int]], draws: int, seed: int) -> OrderFinding:
    """Pearson's chi-square of the right answer's position against uniform, per number of options,
    summed; its p-value by Monte Carlo under uniform positions (exact for small n, where the chi-square
    approximation is not: Hope 1968, JRSS B 30:582; (1 + #{X* >= X}) / (1 + N), Phipson & Smyth 2010)."""
    by_k: dict[int, np.ndarray] = {}
    for choices, answer in published:
        k = len(choices)
        by_k.setdefault(k, np.zeros(k))[answer] += 1

    def chi2(counts: np.ndarray, n: int, k: int) -> np.ndarray:
        e = n / k
        return ((counts - e) ** 2 / e).sum(axis=-1)

    rng = np.random.default_rng(seed)
    observed = 0.0
    null = np.zeros(draws)
    for k, counts in by_k.items():
        n = int(counts.sum())
        observed += float(chi2(counts, n, k))
        null += chi2(rng.multinomial(n, [1.0 / k] * k, size=draws).astype(np.float64), n, k)
    p = permutation_p(observed, null)
    n = len(published)
    # the most over-represented position, for the words (over the most common number of options)
    k_main = max(by_k, key=lambda k: by_k[k].sum())
    pos = int(np.argmax(by_k[k_main]))
    count = int(by_k[k_main][pos])
    n_main = int(by_k[k_main].sum())
    return OrderFinding(
        "position",
        count,
        n,
        n_main / k_main,
        p,
        f"the right answer is option {LETTERS[pos]} in {count} of {n_main} items ({n_main / k_main:.1f} "
        f"expected if the order were random, chi-square p = {p:.2g})",
    )


def published_order_check(
    published: list[tuple[tuple[str, ...], int]],
    level: float = ORDER_CHECK_LEVEL,
    draws: int = 9999,
    seed: int = 0,
) -> OrderCheck:
    """Does the benchmark's published option order look random? ``published``: (options, answer index)
    per multiple-choice item, in the file's order.

    Two departures make a clean model prefer the published order (the option-order test's false
    positives, issue 20): options **sorted** -- numerically (all options numbers), alphabetically or by
    length, ascending or descending -- counted over the items against the exact chance of a random
    order being sorted (a Poisson-binomial tail); and the right answer's **position** skewed (Pearson
    chi-square against uniform, Monte Carlo p). Each check at ``level`` / number of checks (Bonferroni),
    so a benchmark whose orders are random is refused with probability at most ``level``. Other
    non-random orders ("all of the above" always last) are not detected.
    """
    checks = [f for f in (_sorted_finding(c, published) for c in _SORT_KEYS) if f is not None]
    if published:
        checks.append(_position_finding(published, draws, seed))
    return OrderCheck(checks, level)
