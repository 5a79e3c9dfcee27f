"""Accuracy of ``taoke compare`` on the zoo: the same as ``taoke eval``, as a script.

Runs compare on every labelled zoo pair (issue 3) and on the 45 calibration pairs, prints the confusion
table of relationships, derived-vs-not accuracy, the false-positive rate at alpha 0.01 (leave-one-out
null, see :mod:`taoke.zoo.evaluation`), min/max p-value per class and the margin between
the weakest derived pair and the strongest independent one in null SDs, and writes
``bench/results/accuracy.json``.

    python bench/accuracy.py [--no-real] [--calibrate OUT.json] [--output bench/results/accuracy.json]

``--calibrate OUT.json`` also refits the lineage nulls on the calibration pairs and writes them to
OUT.json; copy it to ``src/taoke/data/weights_null.json`` to ship it (what ``taoke compare`` uses).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    from taoke.render.common import dumps
    from taoke.render.compare import eval_renderables
    from taoke.zoo.evaluation import evaluate

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-real", action="store_true", help="skip pairs needing the real PyPI-shipped models")
    ap.add_argument(
        "--calibrate", metavar="OUT.json", help="refit the lineage nulls and write them to OUT.json"
    )
    ap.add_argument("--output", default="bench/results/accuracy.json")
    ap.add_argument(
        "--markdown", action="store_true", help="also print the Markdown table for docs/compare.md"
    )
    args = ap.parse_args(argv)
    con = Console(highlight=False)
    if not con.is_terminal:
        con = Console(highlight=False, width=130)
    report = evaluate(
        None,
        include_real=not args.no_real,
        calibrate_to=args.calibrate,
        progress=lambda task, done, total=None, item=None: con.print(f"[dim]{task} {done} {item or ''}[/]"),
    )
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dumps(report) + "\n", encoding="utf-8")
    for r in eval_renderables(report):
        con.print(r)
    wrong = [r for r in report["pairs"] + report["calibration"] if r["relationship"] != r["truth"]]
    for r in wrong:
        con.print(
            f"[red]wrong[/] {r['id']}: truth {r['truth']}, taoke {r['relationship']} (p={r['p_value']})"
        )
    if report["skipped"]:
        con.print(
            f"[dim]skipped {len(report['skipped'])}: "
            + "; ".join(f"{s['id']} ({s['why']})" for s in report["skipped"])
            + "[/]"
        )
    con.print(f"[dim]written {out}[/]")
    if args.markdown:
        from taoke.render.compare import eval_markdown, families_markdown, split_markdown, weak_merge_markdown

        print(eval_markdown(report))
        print(split_markdown(report))
        print(weak_merge_markdown(report))
        print(families_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
