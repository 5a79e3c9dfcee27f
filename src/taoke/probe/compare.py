"""``probe-compare``: is endpoint B a passthrough or a derivative of endpoint A?

The test follows model provenance testing (Nikolić, Baluta & Saxena, "Model Provenance Testing for
Large Language Models", NeurIPS 2025, arXiv:2502.00706): a derived model's greedy outputs agree with
its parent's more than with unrelated models', so the agreement of B with a candidate parent is tested
against the agreement of B with *control* models on the same prompts, and several candidate parents are
corrected with Holm-Bonferroni.

For candidate A and control C, prompt i gives ``d_i = sim(B_i, A_i) - sim(B_i, C_i)``.
Null H0(A, C): B is no closer to A than to C -- the d_i are symmetric about zero (exchangeable labels
A <-> C per prompt). The one-sided paired sign-flip permutation test is exact (all 2^n sign vectors for
n <= 20 prompts, else 20,000 seeded random flips). "B derives from A" requires beating *every* control,
an intersection-union test, so its p-value is the largest of the per-control p-values and needs no
correction across controls; across candidate parents Holm-Bonferroni controls the family-wise error.
With n prompts the smallest attainable p-value is 2^-n (12 prompts: 2.4e-4), which the report states.
Without any control there is nothing to test against: the result is ``untestable`` (no p-value), never
p = 1 (issue 17).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from taoke.probe.behaviour import BEHAVIOUR_PROMPTS, similarity


def sign_flip_p(d: list[float], n_random: int = 20_000, seed: int = 0) -> float:
    """One-sided p-value of ``sum(d) > 0`` under random sign flips (exact for len(d) <= 20).

    >>> sign_flip_p([1.0] * 10)  # all ten prompts favour A: only one of 1024 sign vectors as extreme
    0.0009765625
    >>> sign_flip_p([0.0] * 5)
    1.0
    """
    x = np.abs(np.asarray(d, dtype=np.float64))
    obs = float(np.sum(d))
    n = len(x)
    if n == 0:
        return 1.0
    if n <= 20:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
    else:
        rng = np.random.default_rng(seed)
        signs = rng.choice((1.0, -1.0), size=(n_random, n))
    stats = signs @ x
    return float(np.mean(stats >= obs - 1e-12))


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
        """``untestable``, or the verdict of the best candidate (passthrough / derivative / not shown)."""
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
    res = CompareResult(b_name, n, [], alpha, NULL, 2.0**-n if n <= 20 else 1 / 20_000)
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
            kind = "derivative or wrapped (closer to A than to every control)"
        ct.verdict = kind if ct.p_holm <= alpha else "not shown to derive from this candidate"
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
