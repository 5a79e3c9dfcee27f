"""The expert table of ``taoke eval`` (issue 15.4): every MoE pair of the zoo through ``taoke compare``.

Each row: the pair, its split (``fit``: looked at while the expert matching was designed; ``test``: not),
the true label, the answer, the experts found to carry the reference per block, the expert stage's
smallest max-T p-value, and whether the answer is right. Nothing here is fitted: alpha and the
permutation count of :mod:`taoke.weights.experts` are fixed constants.
"""

from __future__ import annotations

import time
from typing import Any

from taoke.progress import Progress, no_progress
from taoke.zoo.build import materialize
from taoke.zoo.catalog import MOE_PAIRS


def expert_table(progress: Progress = no_progress) -> dict[str, Any]:
    """Run every pair of ``catalog.MOE_PAIRS``; returns ``{"rows": [...], "accuracy": {split: [n, ok]}}``."""
    # the zoo sits below the jobs: the job's two steps (weight verdict, then the expert stage) are run
    # here from the weights package itself
    from taoke.weights import compare, fingerprint
    from taoke.weights.alignment import residual_map
    from taoke.weights.experts import expert_stage

    rows: list[dict[str, Any]] = []
    for i, p in enumerate(MOE_PAIRS):
        t = time.perf_counter()
        ref, sus = str(materialize(p["reference"])), str(materialize(p["suspect"]))
        fa, fb = fingerprint(ref), fingerprint(sus)
        res = compare(fa, fb)
        if res.relationship.tested:
            expert_stage(ref, sus, res, None, res.alpha, residual=residual_map(fa, fb))
        ex = res.transformations.get("experts") or {}
        p_min = min((m["p_value"] for m in ex.get("matches", [])), default=None)
        rows.append(
            {
                "reference": p["reference"],
                "suspect": p["suspect"],
                "split": p["details"].get("split", "test"),
                "truth": str(p["relationship"]),
                "answer": str(res.relationship),
                "correct": res.relationship == p["relationship"],
                "carried": ex.get("carried", {}),
                "reordered": bool(ex.get("reordered")),
                "expert_p_min": p_min,
                "seconds": round(time.perf_counter() - t, 2),
            }
        )
        progress("experts", i + 1, len(MOE_PAIRS), item=f"{p['reference']} -> {p['suspect']}")
    acc: dict[str, list[int]] = {}
    for r in rows:
        n_ok = acc.setdefault(r["split"], [0, 0])
        n_ok[0] += 1
        n_ok[1] += int(r["correct"])
    return {"rows": rows, "accuracy": acc}
