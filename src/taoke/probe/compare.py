"""``probe-compare``: is endpoint B a passthrough of endpoint A, or closer to A than to other models?

The test follows model provenance testing (Nikolić, Baluta & Saxena, "Model Provenance Testing for
Large Language Models", NeurIPS 2025, arXiv:2502.00706): a derived model's greedy outputs agree with
its parent's more than with unrelated models', so the agreement of B with a candidate parent is tested
against the agreement of B with *control* models on the same prompts, and several candidate parents are
corrected with Holm-Bonferroni.

For candidate A and control C, prompt i gives ``d_i = sim(B_i, A_i) - sim(B_i, C_i)``.
Null H0(A, C): B is no closer to A than to C -- the d_i are symmetric about zero (exchangeable labels
A <-> C per prompt). The one-sided paired sign-flip permutation test is exact (all 2^n sign vectors for
n <= 20 prompts; above that N = 20,000 seeded random flips and the Monte Carlo p-value
``(1 + #{T* >= T}) / (1 + N)``, which is valid -- never 0 -- because the observed sign vector is counted
among the draws: Phipson & Smyth, "Permutation P-values Should Never Be Zero", Stat. Appl. Genet. Mol.
Biol. 9(1), 2010). "B closer to A" requires beating *every* control, an intersection-union test (Berger
1982), so its p-value is the largest of the per-control p-values and needs no correction across
controls; across candidate parents Holm-Bonferroni controls the family-wise error. With n prompts the
smallest attainable p-value is 2^-n (12 prompts: 2.4e-4), or 1/(1 + N) above 20 prompts; the report
states it.

WHAT a rejection shows: B's answers are closer to A's than to every control's. That is what a
derivative of A looks like, but also what A derived from B, or A and B derived from one common parent or
trained on the same data, look like; the test cannot tell these apart, so the verdict says "closer",
not "derived". Controls from other families make it stronger, never directional.
Without any control there is nothing to test against: the result is ``untestable`` (no p-value), never
p = 1 (issue 17).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from taoke.probe.behaviour import BEHAVIOUR_PROMPTS, similarity

EXACT_MAX = 20  # 2^20 sign vectors enumerated at most; above, Monte Carlo
N_RANDOM = 20_000


def sign_flip_p(d: list[float], n_random: int = N_RANDOM, seed: int = 0) -> float:
    """One-sided p-value of ``sum(d) > 0`` under random sign flips.

    Exact (all 2^n sign vectors) for n <= 20; above, ``(1 + #{T* >= T}) / (1 + n_random)`` over seeded
    random sign vectors (Phipson & Smyth 2010: the observed vector counts as one of the draws, so the
    p-value is valid and never 0).

    >>> sign_flip_p([1.0] * 10)  # all ten prompts favour A: only one of 1024 sign vectors as extreme
    0.0009765625
    >>> sign_flip_p([0.0] * 5)
    1.0
    >>> sign_flip_p([1.0] * 25, n_random=999)  # 25 prompts: Monte Carlo, smallest p 1/1000, never 0
    0.001
    """
    x = np.abs(np.asarray(d, dtype=np.float64))
    obs = float(np.sum(d))
    n = len(x)
    if n == 0:
        return 1.0
    if n <= EXACT_MAX:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
        return float(np.mean(signs @ x >= obs - 1e-12))
    rng = np.random.default_rng(seed)
    signs = rng.choice((1.0, -1.0), size=(n_random, n))
    return float((1 + int(np.sum(signs @ x >= obs - 1e-12))) / (1 + n_random))


def min_attainable_p(n: int, n_random: int = N_RANDOM) -> float:
    """The smallest p-value :func:`sign_flip_p` can return for ``n`` prompts (2^-n, or 1/(1 + N))."""
    return 2.0**-n if n <= EXACT_MAX else 1.0 / (1 + n_random)


def holm(pvals: dict[str, float]) -> dict[str, float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1).

    >>> holm({"a": 0.01, "b": 0.04, "c": 0.03})
    {'a': 0.03, 'c': 0.06, 'b': 0.06}
    """
    items = sorted(pvals.items(), key=lambda kv: kv[1])
    m = len(items)
    out: dict[str, float] = {}
    running = 0.0
    for k, (name, p) in enumerate(items):
        running = max(running, min(1.0, (m - k) * p))
        out[name] = round(running, 12)
    return out


@dataclass
class ControlTest:
    control: str
    mean_sim_control: float
    p_value: float


@dataclass
class CandidateTest:
    candidate: str
    mean_sim: float | None  # None when no answers were collected (untestable before any request)
    identical: int
    controls: list[ControlTest] = field(default_factory=list)
    p_value: float | None = None  # max over controls (intersection-union); None without controls
    p_holm: float | None = None
    verdict: str = ""


UNTESTABLE = "untestable"
# what a rejection shows, and no more (the module docstring says why it is not "derived from A")
CLOSER = (
    "closer to A than to every control (B derived from A, A from B, or both from a common source; "
    "the test cannot tell which)"
)
NOT_CLOSER = "not shown closer to this candidate than to the controls"
UNTESTABLE_VERDICT = "untestable: no control model to compare against (give --control or record models)"


@dataclass
class CompareResult:
    suspect: str
    n_prompts: int
    candidates: list[CandidateTest]
    alpha: float
    null: str
    min_p: float
    notes: list[str] = field(default_factory=list)

    @property
    def untestable(self) -> bool:
        """True when no control model was available: no p-value could be computed."""
        return bool(self.candidates) and all(c.p_value is None for c in self.candidates)

    @property
    def relationship(self) -> str:
        """``untestable``, or the verdict of the best candidate (passthrough / closer / not shown closer)."""
        if self.untestable or not self.candidates:
            return UNTESTABLE
        return self.candidates[0].verdict

    def to_dict(self) -> dict[str, Any]:
        return {
            "relationship": self.relationship,
            "suspect": self.suspect,
            "n_prompts": self.n_prompts,
            "alpha": self.alpha,
            "null": self.null,
            "min_attainable_p": self.min_p,
            "notes": self.notes,
            "candidates": [
                {
                    **{k: v for k, v in c.__dict__.items() if k != "controls"},
                    "controls": [x.__dict__ for x in c.controls],
                }
                for c in self.candidates
            ],
        }


NULL = (
    "B's greedy answers are no closer to candidate A's than to a control model's on the same prompts "
    "(per-prompt similarity differences symmetric about 0; one-sided paired sign-flip test, "
    "max over controls, Holm-Bonferroni over candidates)"
)


def compare_answers(
    suspect: tuple[str, list[str]],
    candidates: dict[str, list[str]],
    controls: dict[str, list[str]],
    alpha: float = 0.01,
) -> CompareResult:
    """Test B (``suspect``) against each candidate parent, with ``controls`` as the null baseline."""
    b_name, b = suspect
    n = len(b)
    res = CompareResult(b_name, n, [], alpha, NULL, min_attainable_p(n))
    if not controls:
        res.notes.append(
            "no control models: the p-values cannot be computed (give --control or record models)"
        )
        for a_name, a in candidates.items():
            sims_a = [similarity(x, y) for x, y in zip(b, a, strict=True)]
            same = sum(1 for x, y in zip(b, a, strict=True) if x == y)
            res.candidates.append(
                CandidateTest(
                    a_name,
                    round(float(np.mean(sims_a)), 4) if sims_a else None,
                    same,
                    [],
                    None,
                    None,
                    UNTESTABLE_VERDICT,
                )
            )
        return res
    raw: dict[str, float] = {}
    for a_name, a in candidates.items():
        sims_a = [similarity(x, y) for x, y in zip(b, a, strict=True)]
        ct = CandidateTest(
            a_name, round(float(np.mean(sims_a)), 4), sum(1 for x, y in zip(b, a, strict=True) if x == y)
        )
        for c_name, c in controls.items():
            sims_c = [similarity(x, y) for x, y in zip(b, c, strict=True)]
            d = [sa - sc for sa, sc in zip(sims_a, sims_c, strict=True)]
            ct.controls.append(ControlTest(c_name, round(float(np.mean(sims_c)), 4), sign_flip_p(d)))
        ct.p_value = max((x.p_value for x in ct.controls), default=1.0)
        raw[a_name] = ct.p_value
        res.candidates.append(ct)
    adjusted = holm(raw)
    for ct in res.candidates:
        ct.p_holm = adjusted[ct.candidate]
        if ct.identical == n and n > 0:
            kind = "passthrough (every answer identical)"
        else:
            kind = CLOSER
        ct.verdict = kind if ct.p_holm <= alpha else NOT_CLOSER
    res.candidates.sort(key=lambda c: c.p_holm)
    return res


def untestable_result(suspect: str, candidates: list[str], alpha: float, reason: str) -> CompareResult:
    """The answer when no control can exist, given before any request is sent."""
    res = CompareResult(suspect, 0, [], alpha, NULL, 1.0, [reason])
    res.candidates = [CandidateTest(c, None, 0, [], None, None, UNTESTABLE_VERDICT) for c in candidates]
    return res


def prompts() -> tuple[str, ...]:
    """The prompts both sides answer (the behaviour set, so recorded models can serve as controls)."""
    return BEHAVIOUR_PROMPTS
