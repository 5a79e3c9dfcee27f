"""Benchmark: precision/recall of taoke's code lineage on real ground truth, measured out of sample.

Ground truth comes from transformers itself (the installed version):
- ``# Copied from transformers.models.X.modeling_X.Y`` markers in ``A/modeling_A.py`` say that A copies
  code from ``X/modeling_X.py`` (X != A);
- ``A/modular_A.py`` importing from ``..X.modeling_X`` says that the generated ``A/modeling_A.py``
  is assembled from ``X/modeling_X.py``.
Each modeling file is analysed against the index of all the OTHER modeling files (leave-one-out; the
markers are comments, which the normalisation drops, so the answer is not in the question).

Splits (nothing used to choose a threshold is scored):
- by date: FIT = model files already in the last 2024 release of transformers (4.47.1, pass
  ``--cutoff-tree DIR`` holding ``pip install --no-deps --target DIR transformers==4.47.1``; without it,
  files whose header's copyright year is <= 2024), TEST = the files added since;
- leave-one-family-out (LOFO): every family (model folder name up to its first digit or underscore:
  qwen2, qwen2_moe and qwen3 are one family) is scored with the threshold fitted on all the others.
The decision score is a reference's origin share (``code.align_blocks``: the idf-weighted share of
the file's top-level classes/functions credited to it as their oldest holder). The only number fitted
here is the parent threshold on it (``code.MIN_ORIGIN``); the bench fits it on FIT (best top-1 F1) and
reports TEST with it. The block similarity (Dice), ``BLOCK_SIM``, ``BLOCK_TIE`` and the crediting rule
(oldest holders, all credited; among hub, fewest-blocks, best-similarity and split-credit tie-breaks;
a reference without a copyright year dated by its model folder's other headers, ``index.file_years``;
holders ordered first by the transformers release that first shipped them, shipped data from
``bench/transformers_releases.py``, ``CodeIndex.release_order``; a class credited method by method, each
of its methods aligned against the reference classes' methods and crediting an equal part of the class,
among four forms of member alignment) were also chosen on FIT.

Scores: top-1 (the best reference when it clears the threshold) precision = top-1 predictions that are a
ground-truth edge in either direction / predictions; recall = files with ground truth whose top-1 is one
of their ground-truth parents / files with ground truth. "set" scores the whole reported parent set
(edges). The ground truth is incomplete (unmarked copies exist), so precision is a lower bound.
``--baseline`` also scores the earlier ranking (plain containment, no idf, no date precedence; same
candidates and parent flags) for comparison.

Usage: ``python bench/code_lineage.py [--cutoff-tree DIR] [--old-tree DIR] [--limit N]
[--show-fit-errors N]``; prints the split, the numbers and the ten worst TEST errors with the reason; writes
``bench/results/code_lineage.json``. ``--show-fit-errors N`` also prints (and stores) the N worst FIT
errors: the errors to study when designing a rule, since TEST errors must not shape one.
``--old-tree DIR`` (``pip install --no-deps --target DIR transformers==4.36.2``) also traces that
release's files with an index built from it and with the installed version's index.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from taoke.analyzers import code
from taoke.zoo.refactor import yi_style_refactor

COPIED = re.compile(r"#\s*Copied from transformers\.models\.([\w]+)\.(modeling_[\w]+)\.")
# the three spellings of a modular file's import of another model: ``from ..X.modeling_X``,
# ``from ...models.X.modeling_X`` (bailing_hybrid, kimi_linear, nemotron_h, voxtral_realtime) and
# ``from transformers.models.X.modeling_X``
MODULAR_IMPORT = re.compile(
    r"from\s+(?:\.\.|\.\.\.models\.|transformers\.models\.)([\w]+)\.(modeling_[\w]+)\s+import"
)


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


def family(rel: str) -> str:
    """qwen2_moe/modeling_qwen2_moe.py -> qwen."""
    return re.split(r"[\d_]", rel.split("/", 1)[0], maxsplit=1)[0] or rel.split("/", 1)[0]


Candidates = dict[str, list[dict[str, Any]]]  # file -> ranked candidates (top-1 first)


def collect(index: code.CodeIndex, models: Path, files: list[str], precedence: bool) -> Candidates:
    """Ranked candidates of every file against all the others (with or without date precedence)."""
    out: Candidates = {}
    for rel in files:
        text = (models / rel).read_text(encoding="utf-8")
        # a file without a copyright year is dated by its folder's other headers, as in analyze_files
        folder_year = code.file_years(models / rel, code.header_notice(text))[0]
        fl = code.analyze_text(
            rel,
            text,
            index,
            exclude={index.file_id(rel)},
            with_spans=False,
            precedence=precedence,
            folder_year=folder_year,
        )
        out[rel] = [
            {
                "reference": m.reference,
                "score": m.origin_share,
                "file_score": m.score,
                "marginal": m.marginal,
                "containment": m.containment_suspect,
                "parent": m.parent,
            }
            for m in fl.matches
        ]
    return out


def score(
    cands: Candidates, files: list[str], gt: dict[str, set[str]], thr: float, key: str = "score"
) -> dict[str, Any]:
    """Top-1 and set precision/recall of the files in ``files`` at threshold ``thr`` on ``key``."""
    undirected = {frozenset((a, b)) for a, ps in gt.items() for b in ps}
    tp = pred = hit = with_gt = 0
    set_pred = set_tp = set_hit = 0
    for a in files:
        ranked = cands.get(a, [])
        top = ranked[0] if ranked and ranked[0][key] >= thr else None
        if gt.get(a):
            with_gt += 1
        if top is not None:
            pred += 1
            tp += frozenset((a, top["reference"])) in undirected
            hit += top["reference"] in gt.get(a, ())
        reported = {c["reference"] for c in ranked if c["parent"] and c[key] >= thr}
        set_pred += len(reported)
        set_tp += sum(frozenset((a, b)) in undirected for b in reported)
        set_hit += bool(reported & gt.get(a, set()))
    return {
        "files": len(files),
        "files_with_ground_truth": with_gt,
        "top1_precision": tp / pred if pred else None,
        "top1_recall": hit / with_gt if with_gt else None,
        "set_precision": set_tp / set_pred if set_pred else None,
        "set_recall": set_hit / with_gt if with_gt else None,
    }


def fit_threshold(cands: Candidates, files: list[str], gt: dict[str, set[str]], key: str = "score") -> float:
    """The threshold with the best top-1 F1 on ``files`` (the target, precision >= 0.9 at recall >= 0.7,
    is checked on TEST, not fitted to)."""
    best_f1, best_t = -1.0, 0.0
    for t in (i / 200 for i in range(0, 200)):
        s = score(cands, files, gt, t, key)
        p, r = s["top1_precision"] or 0.0, s["top1_recall"] or 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if f1 > best_f1:
            best_f1, best_t = f1, t
    return best_t


def worst_errors(
    cands: Candidates, files: list[str], gt: dict[str, set[str]], thr: float, n: int = 10
) -> list[dict[str, Any]]:
    """The most confident wrong top-1 answers and the true parents ranked lowest, with the reason."""
    undirected = {frozenset((a, b)) for a, ps in gt.items() for b in ps}
    errs = []
    for a in files:
        ranked = cands.get(a, [])
        truth = gt.get(a, set())
        top = ranked[0] if ranked else None
        if top is not None and top["score"] >= thr and frozenset((a, top["reference"])) not in undirected:
            gt_rank = next((i + 1 for i, c in enumerate(ranked) if c["reference"] in truth), None)
            why = (
                "no ground truth: an unmarked copy, or a false match"
                if not truth
                else f"a sibling or cousin outranks the parent (true parent at rank {gt_rank})"
                if gt_rank
                else "the true parent is not among the candidates"
            )
            errs.append(
                {
                    "file": a,
                    "reported": top["reference"],
                    "score": round(top["score"], 3),
                    "truth": sorted(truth)[:3],
                    "reason": why,
                }
            )
        elif truth and (top is None or top["score"] < thr):
            errs.append(
                {
                    "file": a,
                    "reported": None,
                    "score": round(top["score"], 3) if top else 0.0,
                    "truth": sorted(truth)[:3],
                    "reason": "missed: best score under the threshold" if top else "missed: no candidate",
                }
            )
    wrong = sorted((e for e in errs if e["reported"]), key=lambda e: -e["score"])
    missed = sorted((e for e in errs if not e["reported"]), key=lambda e: e["score"])
    # the most confident wrong answers and the worst misses, half each when both exist
    k = min(len(wrong), max(n // 2, n - len(missed)))
    return wrong[:k] + missed[: n - k]


def old_release(old: Path, index_now: code.CodeIndex, limit: int) -> dict[str, Any] | None:
    """Files of an older transformers (4.3x) traced with its own index and with the installed one's."""
    tree = code.transformers_tree(old)
    if tree is None:
        return None
    models, version = tree
    index_old = code.reference_index(tree)
    known = {f.rel for f in index_old.files}
    gt = ground_truth(models, known)
    files = sorted(a for a in gt if gt[a])[: limit or None]
    res: dict[str, Any] = {"version": version, "files": len(files)}
    for label, idx in (("own_index", index_old), ("installed_index", index_now)):
        hit = found = 0
        for a in files:
            text = (models / a).read_text(encoding="utf-8")
            excl = {idx.file_id(a)} if a in {f.rel for f in idx.files} else set()
            # the installed index also holds this model's newer file: leave it out, a custom file
            # written against 4.3x has no such twin
            folder_year = code.file_years(models / a, code.header_notice(text))[0]
            fl = code.analyze_text(a, text, idx, exclude=excl, with_spans=False, folder_year=folder_year)
            if fl.best is not None:
                found += 1
                hit += fl.best.reference in gt[a]
        res[label] = {"top1_found": found, "top1_in_ground_truth": hit}
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=0, help="analyse only the first N files (0 = all)")
    ap.add_argument("--cutoff-tree", default="", help="pip --target folder of transformers 4.47.1")
    ap.add_argument("--old-tree", default="", help="pip --target folder of transformers 4.36.2")
    ap.add_argument("--baseline", action="store_true", help="also score the ranking without precedence")
    ap.add_argument("--dump", default="", help="also write every file's ranked candidates (JSON)")
    ap.add_argument(
        "--show-fit-errors",
        type=int,
        default=0,
        metavar="N",
        help="also print the N worst FIT errors (the ones to study; TEST errors only report)",
    )
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
    files = sorted(known)[: args.limit or None]

    cutoff = code.transformers_tree(Path(args.cutoff_tree)) if args.cutoff_tree else None
    if cutoff is not None:
        old = {p.relative_to(cutoff[0]).as_posix() for p in cutoff[0].glob("*/modeling_*.py")}
        split_by = f"first release: in transformers {cutoff[1]} (FIT) or added after it (TEST)"
        fit = [a for a in files if a in old]
    else:
        split_by = "copyright year of the file's header <= 2024 (FIT) or later (TEST)"
        fit = [a for a in files if index.files[index.file_id(a)].year <= 2024]
    test = [a for a in files if a not in set(fit)]

    t1 = time.perf_counter()
    cands = collect(index, models, files, precedence=True)
    t_query = time.perf_counter() - t1
    thr = fit_threshold(cands, fit, gt)
    res: dict[str, Any] = {
        "transformers": version,
        "k": code.K,
        "w": code.W,
        "split": split_by,
        "threshold_fitted_on_fit": thr,
        "threshold_in_library": code.MIN_ORIGIN,
        "fit": score(cands, fit, gt, thr),
        "test": score(cands, test, gt, thr),
    }
    # leave one family out: each family scored with the threshold fitted on all the others
    fams: dict[str, list[str]] = defaultdict(list)
    for a in files:
        fams[family(a)].append(a)
    lofo_cands: Candidates = {}
    per_file_thr: dict[str, float] = {}
    for fam, members in fams.items():
        rest = [a for a in files if family(a) != fam]
        t = fit_threshold(cands, rest, gt)
        for a in members:
            per_file_thr[a] = t
            lofo_cands[a] = [dict(c, score=c["score"] - t) for c in cands[a]]  # shift: threshold 0
    res["lofo"] = score(lofo_cands, files, gt, 0.0)
    res["lofo"]["families"] = len(fams)
    if args.baseline:
        base = collect(index, models, files, precedence=False)
        for ranked in base.values():  # the earlier ranking: plain containment of the suspect
            ranked.sort(key=lambda c: c["containment"], reverse=True)
        bthr = fit_threshold(base, fit, gt, key="containment")
        res["baseline_containment_no_precedence"] = {
            "threshold_fitted_on_fit": bthr,
            "fit": score(base, fit, gt, bthr, key="containment"),
            "test": score(base, test, gt, bthr, key="containment"),
        }
    res["worst_test_errors"] = worst_errors(cands, test, gt, thr)
    if args.show_fit_errors:
        res["worst_fit_errors"] = worst_errors(cands, fit, gt, thr, args.show_fit_errors)
    if args.dump:  # every file's ranked candidates, to study a rule on FIT without re-running
        Path(args.dump).write_text(
            json.dumps(
                {"fit": fit, "test": test, "gt": {a: sorted(b) for a, b in gt.items()}, "cands": cands}
            ),
            encoding="utf-8",
        )

    yi_text = yi_style_refactor((models / "llama" / "modeling_llama.py").read_text(encoding="utf-8"))
    yi = code.analyze_text("modeling_yi.py", yi_text, index)
    res["yi_refactor"] = {
        "best": yi.best.reference if yi.best else None,
        "containment": round(yi.best.containment_suspect, 4) if yi.best else None,
        "notice": yi.notice_kept,
    }
    if args.old_tree:
        res["older_release"] = old_release(Path(args.old_tree), index, args.limit)
    res["index_load_seconds"] = round(t_index, 2)
    res["index_built_seconds"] = round(index.build_seconds, 2)
    res["query_seconds_per_file"] = round(t_query / max(len(files), 1), 4)

    print(f"code lineage on transformers {version} (k={code.K}, w={code.W})")
    print(f"  split: {split_by}")
    print(f"  threshold fitted on FIT: {thr:.3f} (library: {code.MIN_ORIGIN:.3f})")
    print(f"  {'':<10} {'files':>6} {'w/ GT':>6} {'top1 P':>7} {'top1 R':>7} {'set P':>7} {'set R':>7}")

    def row(name: str, s: dict[str, Any]) -> None:
        f = [
            ("-" if s[k] is None else f"{s[k]:.3f}")
            for k in ("top1_precision", "top1_recall", "set_precision", "set_recall")
        ]
        print(
            f"  {name:<10} {s['files']:>6} {s['files_with_ground_truth']:>6} "
            + " ".join(f"{x:>7}" for x in f)
        )

    row("FIT", res["fit"])
    row("TEST", res["test"])
    row("LOFO", res["lofo"])
    if args.baseline:
        b = res["baseline_containment_no_precedence"]
        row("base FIT", b["fit"])
        row("base TEST", b["test"])

    def errors(title: str, errs: list[dict[str, Any]]) -> None:
        print(f"  {title}:")
        for e in errs:
            print(
                f"    {e['file']:<48} -> {e['reported'] or '(none)'} [{e['score']}] "
                f"truth {e['truth']}: {e['reason']}"
            )

    if args.show_fit_errors:
        errors(f"{args.show_fit_errors} worst FIT errors", res["worst_fit_errors"])
    errors("ten worst TEST errors", res["worst_test_errors"])
    print(f"  Yi refactor -> {res['yi_refactor']['best']} (licence notice {res['yi_refactor']['notice']})")
    if res.get("older_release"):
        o = res["older_release"]
        print(
            f"  transformers {o['version']}: {o['files']} files with ground truth; top-1 in ground truth "
            f"{o['own_index']['top1_in_ground_truth']} with its own index, "
            f"{o['installed_index']['top1_in_ground_truth']} with the installed {version}'s"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
