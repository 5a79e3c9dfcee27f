"""Threshold provenance of the weight verdict (issue 20): every threshold, its value (read from the
code), how it was set, and -- for the fitted ones -- its margin on the fit split and its outcomes on the
test split, re-measured on the zoo. Prints a table and writes ``bench/results/thresholds.json``.

    python bench/thresholds.py [--output bench/results/thresholds.json] [--markdown]

``--markdown`` prints the table of docs/compare.md ("Threshold provenance").
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _edge(m: dict[str, Any] | None, split: str) -> str:
    if not m or split not in m["splits"]:
        return "-"
    row = m["splits"][split]
    parts = []
    for key, label in (("positive_edge", "+"), ("negative_edge", "-")):
        if key in row:
            parts.append(f"{label}{row[key]['value']:g} ({row[key]['id']})")
    parts.append(f"{row['correct_side']}/{row['pairs']} on their side")
    if row["wrong"]:
        parts.append("not: " + ", ".join(row["wrong"]))
    return "; ".join(parts)


def markdown(report: dict[str, Any]) -> str:
    out = [
        "| threshold | value | cuts | provenance | set on | fit split (edges; pairs on their side) "
        "| test split |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in report["thresholds"]:
        m = t["measurement"]
        out.append(
            f"| `{t['name']}` | {t['value']:g} | {t['statistic']} | {t['provenance']} | {t['set_on']} | "
            f"{_edge(m, 'fit')} | {_edge(m, 'test')} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    from taoke.zoo.thresholds import measure

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--output", default="bench/results/thresholds.json")
    ap.add_argument("--markdown", action="store_true", help="print the Markdown table of docs/compare.md")
    args = ap.parse_args(argv)
    report = measure()
    if args.markdown:
        print(markdown(report))
    else:
        for t in report["thresholds"]:
            m = t["measurement"]
            print(f"{t['name']:<20} {t['value']!s:<8} {t['provenance']:<10} {t['set_on']}")
            if m:
                print(f"{'':<20} fit:  {_edge(m, 'fit')}")
                print(f"{'':<20} test: {_edge(m, 'test')}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
