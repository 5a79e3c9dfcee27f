"""Benchmark: precision/recall of taoke's file-level code lineage on real ground truth.

Ground truth comes from transformers itself (the installed version):
- ``# Copied from transformers.models.X.modeling_X.Y`` markers in ``A/modeling_A.py`` say that A copies
  code from ``X/modeling_X.py`` (X != A);
- ``A/modular_A.py`` importing from ``..X.modeling_X`` says that the generated ``A/modeling_A.py``
  is assembled from ``X/modeling_X.py``.
Each modeling file is analysed against the index of all the OTHER modeling files (leave-one-out) and
taoke's predicted parents (``code.is_parent``) are scored against those edges:
- recall: ground-truth edges (A -> X) that taoke predicts;
- precision (strict): predicted edges that are ground-truth edges in either direction;
- precision (lenient): also counting edges between files whose ground-truth lineage meets within two
  hops (siblings generated from the same parent, e.g. mistral and qwen2 both from llama). The ground
  truth is incomplete (unmarked copies exist), so strict precision is a lower bound.
Plus the Yi-style refactor of modeling_llama.py (tests do the same): rank of modeling_llama.py.

Usage: ``python bench/code_lineage.py [--limit N]``; prints a table and writes
``bench/results/code_lineage.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

from taoke.analyzers import code
from taoke.zoo.refactor import yi_style_refactor

COPIED = re.compile(r"#\s*Copied from transformers\.models\.([\w]+)\.(modeling_[\w]+)\.")
MODULAR_IMPORT = re.compile(r"from\s+(?:\.\.|transformers\.models\.)([\w]+)\.(modeling_[\w]+)\s+import")


def ground_truth(models: Path, known: set[str]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for path in sorted(models.glob("*/modeling_*.py")):
        rel = path.relative_to(models).as_posix()
        for pkg, mod in COPIED.findall(path.read_text(encoding="utf-8", errors="replace")):
            target = f"{pkg}/{mod}.py"
            if target != rel and target in known:
                edges[rel].add(target)
    for path in sorted(models.glob("*/modular_*.py")):
        generated = f"{path.parent.name}/{path.name.replace('modular_', 'modeling_', 1)}"
        if generated not in known:
            continue
        for pkg, mod in MODULAR_IMPORT.findall(path.read_text(encoding="utf-8", errors="replace")):
            target = f"{pkg}/{mod}.py"
            if target != generated and target in known:
                edges[generated].add(target)
    return edges


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=0, help="analyse only the first N files (0 = all)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "code_lineage.json"))
    args = ap.parse_args(argv)
    found = code.transformers_models_dir()
    if found is None:
        print("transformers is not installed: nothing to benchmark", file=sys.stderr)
        return 2
    models, version = found
    t0 = time.perf_counter()
    index = code.reference_index()
    t_index = time.perf_counter() - t0
    known = {f.rel for f in index.files}
    gt = ground_truth(models, known)
    undirected = {frozenset((a, b)) for a, ps in gt.items() for b in ps}
    neighbours: dict[str, set[str]] = defaultdict(set)
    for a, ps in gt.items():
        for b in ps:
            neighbours[a].add(b)
            neighbours[b].add(a)

    files = index.files[: args.limit] if args.limit else index.files
    predicted: dict[str, set[str]] = {}  # attribution mode: what the audit reports (one source per region)
    copies: dict[str, set[str]] = {}  # all-copies mode: every file holding a copy of one of its blocks
    t1 = time.perf_counter()
    for ref in files:
        text = (models / ref.rel).read_text(encoding="utf-8")
        fl = code.analyze_text(ref.rel, text, index, exclude={index.file_id(ref.rel)}, with_spans=False)
        predicted[ref.rel] = {m.reference for m in fl.matches if m.parent}
    t_query = time.perf_counter() - t1
    for ref in files:
        fp, toks = code.fingerprint((models / ref.rel).read_text(encoding="utf-8"))
        ranked = code.match_fingerprints(
            fp, code.name_bag(toks.names), index, exclude={index.file_id(ref.rel)}
        )
        found = set()
        for m, rows in ranked:
            if m.containment_suspect >= code.MIN_CONTAINMENT:
                found.add(m.reference)
                continue
            blocks = code.block_cover(index.files[index.file_id(m.reference)], index, rows)
            if any(b["cover"] >= code.MIN_BLOCK_COVER and b["matched"] >= code.MIN_BLOCK_FPS for b in blocks):
                found.add(m.reference)
        copies[ref.rel] = found

    analysed = set(predicted)
    gt_edges = [(a, b) for a, ps in gt.items() if a in analysed for b in ps]
    files_with_gt = [a for a in analysed if gt.get(a)]

    def score(pred: dict[str, set[str]]) -> dict[str, float | int | None]:
        pred_edges = [(a, b) for a, ps in pred.items() for b in ps]
        strict = sum(1 for a, b in pred_edges if frozenset((a, b)) in undirected)
        lenient = sum(
            1
            for a, b in pred_edges
            if frozenset((a, b)) in undirected or (neighbours[a] & (neighbours[b] | {b}))
        )
        return {
            "predicted_edges": len(pred_edges),
            "recall": sum(1 for a, b in gt_edges if b in pred[a]) / len(gt_edges) if gt_edges else None,
            "precision_strict": strict / len(pred_edges) if pred_edges else None,
            "precision_lenient": lenient / len(pred_edges) if pred_edges else None,
            "files_with_a_true_parent_found": (
                sum(1 for a in files_with_gt if pred[a] & gt[a]) / len(files_with_gt)
                if files_with_gt
                else None
            ),
        }

    attribution, all_copies = score(predicted), score(copies)

    yi_text = yi_style_refactor((models / "llama" / "modeling_llama.py").read_text(encoding="utf-8"))
    yi = code.analyze_text("modeling_yi.py", yi_text, index)
    yi_rank = next(
        (i + 1 for i, m in enumerate(yi.matches) if m.reference == "llama/modeling_llama.py"), None
    )

    res = {
        "transformers": version,
        "k": code.K,
        "w": code.W,
        "thresholds": {
            "min_shared": code.MIN_SHARED,
            "min_block_cover": code.MIN_BLOCK_COVER,
            "min_block_fps": code.MIN_BLOCK_FPS,
            "min_containment": code.MIN_CONTAINMENT,
        },
        "files_analysed": len(analysed),
        "files_with_ground_truth": len(files_with_gt),
        "ground_truth_edges": len(gt_edges),
        "attribution": attribution,
        "all_copies": all_copies,
        "index_load_seconds": round(t_index, 2),
        "index_built_seconds": round(index.build_seconds, 2),
        "index_from_cache": index.from_cache,
        "query_seconds_per_file": round(t_query / max(len(files), 1), 4),
        "yi_refactor": {
            "best": yi.best.reference if yi.best else None,
            "rank_of_llama": yi_rank,
            "containment": round(yi.best.containment_suspect, 4) if yi.best else None,
            "notice": yi.notice_kept,
        },
    }
    rows = [
        ("files analysed", res["files_analysed"]),
        ("ground-truth edges", res["ground_truth_edges"]),
    ]
    for mode in ("attribution", "all_copies"):
        for key, val in res[mode].items():
            rows.append((f"{mode}: {key.replace('_', ' ')}", val))
    rows += [
        ("index load s", res["index_load_seconds"]),
        ("index build s (first use)", res["index_built_seconds"]),
        ("query s/file", res["query_seconds_per_file"]),
        ("Yi refactor -> best", res["yi_refactor"]["best"]),
        ("Yi: licence notice", res["yi_refactor"]["notice"]),
    ]
    print(f"code lineage on transformers {version} (k={code.K}, w={code.W})")
    for name, val in rows:
        print(f"  {name:<36} {val:.3f}" if isinstance(val, float) else f"  {name:<36} {val}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
