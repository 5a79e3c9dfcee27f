"""The fitted thresholds of the weight verdict re-measured on the zoo: margins on the fit split, outcomes
on the test split (issue 20). The provenance of every threshold is :mod:`taoke.weights.thresholds`.

For each fitted threshold, the statistic it cuts is recomputed on every labelled pair it applies to
(real-data and build-time-training pairs left out), and reported per split: on ``fit`` the smallest
value on the side that must be at or above the cut and the largest on the other side (whether the cut
separates them, and the margin), on ``test`` how many pairs land on their correct side. A pair's split
is its ``split`` detail; issue 3's pairs, which carry none, are the fit split (the thresholds were set
on them). The merge finder's test split is the weak-merge sweep (linear merges of A with A2 or B).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from taoke.weights import packaged_nulls
from taoke.weights.ancestry import BETWEEN_MARGIN, mapped_similarity, nearest_relative
from taoke.weights.lineage import lineage
from taoke.weights.mergefind import MERGE_GAIN, MIN_SHARE, find_merge
from taoke.weights.relationship import Relationship as R
from taoke.weights.thresholds import THRESHOLDS
from taoke.weights.verdict import FINE_TUNE_MIN, FUNCTION_EQUAL, IMPRINT_MAX


def _split(p: dict[str, Any]) -> str:
    return str(p.get("details", {}).get("split") or "fit")


def _summary(points: list[tuple[str, str, float, bool]], cut: float, high_is_positive: bool) -> dict:
    """``points``: (split, id, value, positive). Positives must be >= cut when ``high_is_positive``
    (else < cut)."""
    out: dict[str, Any] = {}
    for split in sorted({s for s, *_ in points}):
        pts = [(i, v, pos) for s, i, v, pos in points if s == split]
        pos = [(v, i) for i, v, p in pts if p]
        neg = [(v, i) for i, v, p in pts if not p]

        def right(v: float, p: bool) -> bool:
            return (v >= cut) == (p == high_is_positive)

        row: dict[str, Any] = {
            "pairs": len(pts),
            "correct_side": sum(1 for _, v, p in pts if right(v, p)),
            "wrong": [i for i, v, p in pts if not right(v, p)],
        }
        if pos:
            v, i = min(pos) if high_is_positive else max(pos)
            row["positive_edge"] = {"id": i, "value": round(float(v), 4)}
        if neg:
            v, i = max(neg) if high_is_positive else min(neg)
            row["negative_edge"] = {"id": i, "value": round(float(v), 4)}
        out[split] = row
    return {"cut": cut, "positive_side": ">= cut" if high_is_positive else "< cut", "splits": out}


def measure(cache: Any = None, pairs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Re-measure every fitted threshold that has a ``measured`` key; see the module docstring."""
    from taoke.zoo.catalog import sweep_pairs
    from taoke.zoo.evaluation import FingerprintCache, merge_pool, relative_pool
    from taoke.zoo.pairs import manifest

    cache = cache or FingerprintCache()
    nulls = packaged_nulls()
    pairs = [
        p
        for p in (pairs if pairs is not None else manifest())
        if not p.get("requires_real_data") and not p.get("requires_training")
    ]
    ft, fe, imp, mg, bm = [], [], [], [], []
    relatives, memo = [cache.get(m) for m in relative_pool(None)], {}
    for p in pairs:
        truth = R(p["relationship"])
        if not truth.derived:
            continue
        ref, sus = cache.get(p["reference"]), cache.get(p["suspect"])
        st = lineage(ref, sus, nulls)
        mapped = [(j, i) for j, i in enumerate(st.layer_map) if i is not None]
        sims = (
            np.array([np.tanh(st.s1[i, j]) for j, i in mapped])
            if mapped and st.s1.size and st.basis_free
            else np.zeros(0)
        )
        split = _split(p)
        if truth in (R.FINE_TUNED, R.CONTINUED_PRETRAINING) and sims.size:
            ft.append((split, p["id"], float(np.median(sims)), truth is R.FINE_TUNED))
        identity = ref.n_layers == sus.n_layers and all(i == j for j, i in enumerate(st.layer_map))
        if truth in (R.OBFUSCATED_COPY, R.FINE_TUNED) and sims.size and identity:
            fe.append((split, p["id"], float(np.min(sims)), truth is R.OBFUSCATED_COPY))
        drift = truth in (R.FINE_TUNED, R.CONTINUED_PRETRAINING, R.SHARES_ANCESTOR)
        pair_sim = mapped_similarity(st)
        if drift and pair_sim is not None and st.log10p_basis_free < np.log10(1e-3):
            near = nearest_relative(ref, sus, pair_sim, relatives, nulls, memo=memo)
            if near is not None:
                bm.append((split, p["id"], near.margin, truth is R.SHARES_ANCESTOR))
        s2_ok = st.s2 is not None and np.size(st.s2)
        if s2_ok and st.basis_free and st.s1.size and st.log10p_basis_free >= np.log10(1e-3):
            imprint = float(np.nanmax(np.tanh(np.asarray(st.s2, dtype=np.float64))))
            imp.append((split, p["id"], imprint, truth is R.SHARES_ANCESTOR))
    pool = [cache.get(m) for m in merge_pool(None)]
    seen: set[str] = set()
    for p in pairs:
        truth = R(p["relationship"])
        if not truth.derived or p["suspect"] in seen:
            continue
        seen.add(p["suspect"])
        f = find_merge(cache.get(p["suspect"]), pool)
        if f.candidates >= 2:
            mg.append((_split(p), p["suspect"], f.gain, truth is R.MERGED))
    for _ref, sus, share in sweep_pairs():
        if share >= MIN_SHARE:
            f = find_merge(cache.get(sus), pool)
            mg.append(("test", sus, f.gain, True))
    found = {
        "fine_tune_min": _summary(ft, FINE_TUNE_MIN, True),
        "function_equal": _summary(fe, FUNCTION_EQUAL, True),
        "imprint_max": _summary(imp, IMPRINT_MAX, False),
        "merge_gain": _summary(mg, MERGE_GAIN, True),
        "between_margin": _summary(bm, BETWEEN_MARGIN, True),
    }
    return {
        "thresholds": [{**t.to_dict(), "measurement": found.get(t.measured or "")} for t in THRESHOLDS],
        "split_rule": "a pair's split detail; issue 3's pairs (none) are fit; the sweep is the merge "
        "finder's test split",
    }
