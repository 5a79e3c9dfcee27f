"""Merge candidates found without being told the parents (issue 20: "merges need the answer to be found").

``taoke compare --parent`` tests parents the user names; the zoo evaluation used to name the true ones,
so "6/6 merges found" measured nothing a user without the answer could do (without them 0 of 6 were
labelled merged). :func:`find_merge` looks for the parents itself, in a pool of candidate fingerprints
(the registry's relatives of ``taoke search``, or the models of an evaluation's registry).

WHY raw samples and non-negative least squares: a linear, SLERP, TIES or task-arithmetic merge of
models that share a basis is, value by value, close to a non-negative combination of its parents (the
base's share folds into the fine-tunes' coefficients), and every fingerprint holds the same seeded
positions of every tensor (:data:`taoke.weights.fingerprint.RAW_SAMPLES`). Each tensor's samples are
centred and scaled by the suspect's spread (norm gains, all near 1, are left out: they would make every
pair look alike), the suspect is regressed on every candidate (NNLS, Lawson and Hanson 1974), the two
largest coefficients are kept and refitted, and the finding is a merge when the pair explains a
fraction :data:`MERGE_GAIN` of what the best single candidate leaves unexplained, with each parent at
least :data:`MIN_SHARE` of the mixture. A fine-tune is explained by its base alone, up to its own
update, which no other model holds; a merge's residual against the pair is rounding.

The cut-offs are fitted on the fit split (the issue-3 pairs: 6 merges, the other derivatives and bases
of A as suspects) and reported on the test split (the weak-merge sweep's linear merges, nothing fitted
on them): see ``docs/compare.md`` and ``bench/thresholds.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from taoke.weights.fingerprint import Fingerprint

#: Fraction of the best single candidate's residual that two parents must explain. Fit split: the
#: merges reach 0.431 (TIES: trimmed, not linear) to 1.0, the non-merges at most 0.302 (A2 with two
#: blocks of A, a2-partial-a, whose blocks do mix the two); the cut is their midpoint (0.37).
MERGE_GAIN = 0.37
#: Smallest share of a parent in the mixture: a stated choice, not fitted (a model that is >= 90 % one
#: parent is reported as that parent's derivative; the finding still lists the minor parent).
MIN_SHARE = 0.1
MAX_PARENTS = 2


@dataclass
class MergeParent:
    """One parent found: its name, its non-negative coefficient and share of the mixture."""

    name: str
    coefficient: float
    share: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "coefficient": round(self.coefficient, 4), "share": round(self.share, 4)}


@dataclass
class MergeFinding:
    """What :func:`find_merge` measured: the best single candidate, the best pair, and the gain."""

    merged: bool
    parents: list[MergeParent] = field(default_factory=list)
    best_single: str | None = None
    r2_single: float = 0.0
    r2_pair: float = 0.0
    gain: float = 0.0
    candidates: int = 0
    tensors: int = 0
    why: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "merged": self.merged,
            "parents": [p.to_dict() for p in self.parents],
            "best_single": self.best_single,
            "r2_single": round(self.r2_single, 6),
            "r2_pair": round(self.r2_pair, 6),
            "gain": round(self.gain, 4),
            "merge_gain_min": MERGE_GAIN,
            "min_share": MIN_SHARE,
            "candidates": self.candidates,
            "tensors": self.tensors,
            "method": "NNLS of the suspect's raw samples on the candidates' (centred, norms left out)",
            "why": self.why,
        }


def _keys(sus: Fingerprint, cands: list[Fingerprint]) -> list[str]:
    return [
        k
        for k in sorted(sus.raw)
        if "norm" not in k and all(k in fp.raw and fp.raw[k].shape == sus.raw[k].shape for fp in cands)
    ]


def _vector(fp: Fingerprint, sus: Fingerprint, keys: list[str]) -> np.ndarray:
    return np.concatenate(
        [
            (fp.raw[k].astype(np.float64) - float(np.mean(fp.raw[k]))) / (float(np.std(sus.raw[k])) + 1e-12)
            for k in keys
        ]
    )


def _r2(y: np.ndarray, x: np.ndarray) -> tuple[float, np.ndarray]:
    from scipy.optimize import nnls

    coef, res = nnls(x, y)
    return float(1.0 - res**2 / max(float(y @ y), 1e-300)), coef


def find_merge(sus: Fingerprint, pool: Iterable[Fingerprint]) -> MergeFinding:
    """Find two parents of ``sus`` among ``pool`` (see the module docstring); the finding says
    ``merged`` False, and why, when there are none."""
    cands = [
        fp
        for fp in pool
        if fp.name != sus.name and fp.d_model == sus.d_model and fp.n_layers == sus.n_layers and fp.raw
    ]
    # a candidate that lacks most of the suspect's tensors (another layout) cannot be a parent
    base = [k for k in sus.raw if "norm" not in k]
    cands = [
        fp
        for fp in cands
        if sum(1 for k in base if k in fp.raw and fp.raw[k].shape == sus.raw[k].shape) >= 0.9 * len(base)
    ]
    if len(cands) < 2:
        return MergeFinding(False, candidates=len(cands), why="fewer than two candidates of the same shape")
    keys = _keys(sus, cands)
    if not keys:
        return MergeFinding(False, candidates=len(cands), why="no tensor sampled alike in every candidate")
    y = _vector(sus, sus, keys)
    x = np.stack([_vector(fp, sus, keys) for fp in cands], axis=1)
    tot = max(float(y @ y), 1e-300)
    singles = []
    for i in range(x.shape[1]):
        xi = x[:, i]
        c = max(0.0, float(xi @ y) / max(float(xi @ xi), 1e-300))
        singles.append(1.0 - float(np.sum((y - c * xi) ** 2)) / tot)
    b = int(np.argmax(singles))
    _, coef = _r2(y, x)
    top = [int(i) for i in np.argsort(-coef)[:MAX_PARENTS] if coef[i] > 0]
    if len(top) < 2:
        return MergeFinding(
            False,
            [],
            cands[b].name,
            singles[b],
            singles[b],
            0.0,
            len(cands),
            len(keys),
            "one candidate explains it",
        )
    r2_pair, c2 = _r2(y, x[:, top])
    total = float(np.sum(c2)) or 1.0
    parents = [MergeParent(cands[i].name, float(c), float(c / total)) for i, c in zip(top, c2, strict=True)]
    gain = (r2_pair - singles[b]) / (1.0 - singles[b]) if singles[b] < 1.0 else 0.0
    gain = max(0.0, float(gain))
    ok = gain >= MERGE_GAIN and all(p.share >= MIN_SHARE for p in parents)
    why = f"two candidates explain {gain:.0%} of what the best single one ({cands[b].name}) leaves" + (
        "" if ok else f" (a merge needs >= {MERGE_GAIN:.0%}, each parent >= {MIN_SHARE:.0%} of it)"
    )
    parents.sort(key=lambda p: -p.share)
    return MergeFinding(ok, parents, cands[b].name, singles[b], r2_pair, gain, len(cands), len(keys), why)


__all__ = ["MAX_PARENTS", "MERGE_GAIN", "MIN_SHARE", "MergeFinding", "MergeParent", "find_merge"]
