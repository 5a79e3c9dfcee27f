"""Search's labels on parents and siblings (issue 20): does ``taoke search`` name a fine-tune's base as
its parent and the base's other fine-tunes as siblings (``shares-ancestor``), not as parents?

Each group is a base and its trained children, indexed into a fresh registry; every member is then
searched (its own row left out), and each significant hit of the group is scored:

* a parent/child pair (base and child, either side the query) must keep its drift label
  (``fine-tuned`` or ``continued-pretraining``);
* a sibling pair (two children of the base) must read ``shares-ancestor``;
* a child's verdict (its best significant hit) must name the base.

Splits (as in ``docs/compare.md``): base A and its four trained children (a-ft-man, a-ft-doc,
a-lora-man, a-cpt-man) are the **fit** split -- ``BETWEEN_MARGIN`` was fitted on them; each family's
base and its two fine-tunes (:mod:`taoke.zoo.family_catalog`) are the **test** split. A family search
cannot run on (BERT: not a decoder LLM) is counted as untestable, not as right or wrong.

    nice python bench/search_siblings.py            # writes bench/results/search_siblings.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from taoke import zoo
from taoke.errors import AnalysisError
from taoke.registry import Registry, index_source, search
from taoke.zoo.family_catalog import FAMILIES, model_ids

REPO = Path(__file__).resolve().parents[1]
DRIFT = {"fine-tuned", "continued-pretraining"}
GROUPS: dict[str, tuple[str, list[str]]] = {
    "base-a": ("fit", ["a-ft-man", "a-ft-doc", "a-lora-man", "a-cpt-man"]),
    **{model_ids(f)["base"]: ("test", [model_ids(f)["ft"], model_ids(f)["ft2"]]) for f in FAMILIES},
}


def run_group(base: str, children: list[str], top: int) -> dict:
    """Index the group, search each member, score every (query, hit) pair of the group."""
    members = [base, *children]
    paths = {m: zoo.materialize(m) for m in members}
    rows, verdicts, untestable = [], [], []
    with tempfile.TemporaryDirectory(prefix="taoke-sib-") as tmp, Registry(f"{tmp}/r.sqlite") as reg:
        for m in members:
            index_source(reg, paths[m])
        for q in members:
            try:
                res = search(reg, paths[q], top=top, width_scan_max=0)
            except AnalysisError as exc:
                untestable.append({"query": q, "why": str(exc)})
                continue
            hits = {h.record.name: h for h in res.hits if h.significant}
            for other in members:
                if other == q:
                    continue
                kind = "sibling" if base not in (q, other) else "parent"
                h = hits.get(other)
                label = str(h.relationship) if h is not None else "not significant"
                right = label == "shares-ancestor" if kind == "sibling" else label in DRIFT
                rel = getattr(h, "relative", None) if h is not None else None
                rows.append(
                    {"query": q, "hit": other, "pair": kind, "label": label, "relative": rel, "right": right}
                )
            if q != base:
                best = res.best.record.name if res.best else None
                verdicts.append({"query": q, "verdict": res.to_dict()["verdict"], "right": best == base})
    return {"rows": rows, "verdicts": verdicts, "untestable": untestable}


def score(rows: list[dict], kind: str) -> dict:
    sel = [r for r in rows if r["pair"] == kind]
    return {"right": sum(r["right"] for r in sel), "of": len(sel)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "search_siblings.json")
    a = ap.parse_args()
    t0 = time.time()
    groups = {b: {"split": split, **run_group(b, kids, a.top)} for b, (split, kids) in GROUPS.items()}
    summary = {}
    for split in ("fit", "test"):
        rows = [r for g in groups.values() if g["split"] == split for r in g["rows"]]
        verdicts = [v for g in groups.values() if g["split"] == split for v in g["verdicts"]]
        summary[split] = {
            "parent_pairs_drift_label": score(rows, "parent"),
            "sibling_pairs_shares_ancestor": score(rows, "sibling"),
            "child_verdict_names_base": {"right": sum(v["right"] for v in verdicts), "of": len(verdicts)},
            "untestable_queries": sum(len(g["untestable"]) for g in groups.values() if g["split"] == split),
        }
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO)
    report = {
        "commit": commit.stdout.strip(),
        "note": "ordered (query, hit) pairs: each pair is searched from both sides",
        "summary": summary,
        "groups": groups,
        "seconds": round(time.time() - t0, 1),
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    for split, s in summary.items():
        print(split, json.dumps(s))
    for g in groups.values():
        for r in g["rows"]:
            if not r["right"]:
                print("  wrong", g["split"], r)


if __name__ == "__main__":
    main()
