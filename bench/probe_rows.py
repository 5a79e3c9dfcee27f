"""How many probe rows the fingerprint needs: the zoo's accuracy as rows are removed (issue 21).

Every stored weight costs 2 flops per probe row, so the number of rows (``M_INV`` whitened anchors +
``M_PROBES`` fixed probes + ``M_BASIS`` weight-basis vectors: 48 + 32 + 24 = 104) sets the compute
of a 7B fingerprint. Fewer rows are only worth it if the lineage test keeps its power and its level.
For each row budget this runs the zoo evaluation (:func:`taoke.zoo.evaluation.evaluate`: every
labelled pair, the nulls refitted on the 45 calibration pairs fingerprinted with the same rows) and
reports derived accuracy, the false-positive rate at alpha 0.01 and 0.001, the margin between the
weakest derived and the strongest independent pair in null SDs, the pairs that became untestable,
and the weakest derived pairs' z and p-values. Prints a table, writes ``bench/results/probe_rows.json``.

    python bench/probe_rows.py [--budgets 48,32,24 36,20,16 24,16,12]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path


def run(m_inv: int, m_probes: int, m_basis: int) -> dict:
    os.environ["TAOKE_NO_CACHE"] = "1"  # the content cache does not know the row budget
    fp = importlib.import_module("taoke.weights.fingerprint")
    evaluation = importlib.import_module("taoke.zoo.evaluation")
    # the zoo's on-disk fingerprints are keyed by source code, not by the row budget: bypass them
    evaluation._disk_cache = lambda model_id, path: None
    evaluate = evaluation.evaluate

    saved = (fp.M_INV, fp.M_PROBES, fp.M_BASIS)
    fp.M_INV, fp.M_PROBES, fp.M_BASIS = m_inv, m_probes, m_basis
    try:
        t = time.perf_counter()
        rep = evaluate(None, include_real=False, sweep=False, widths=False)
        seconds = time.perf_counter() - t
    finally:
        fp.M_INV, fp.M_PROBES, fp.M_BASIS = saved
    s = rep["summary"]
    derived = sorted(
        (p for p in rep["pairs"] if p.get("derived_truth") and p.get("max_z") is not None),
        key=lambda p: p["max_z"],
    )
    return {
        "rows": m_inv + m_probes + m_basis,
        "m_inv": m_inv,
        "m_probes": m_probes,
        "m_basis": m_basis,
        "derived_accuracy": s.get("derived_accuracy"),
        "relationship_accuracy": s.get("relationship_accuracy"),
        "fpr_at_0.01": s.get("fpr_at_0.01"),
        "fpr_at_0.001": s.get("fpr_at_0.001"),
        "margin_null_sd": s.get("margin_null_sd"),
        "untestable": s.get("untestable"),
        "errors": s.get("errors"),
        "weakest_derived": [
            {
                "id": p["id"],
                "z": p["max_z"],
                "log10_p": p.get("log10_p_value"),
                "relationship": p["relationship"],
            }
            for p in derived[:4]
        ],
        "seconds": seconds,
        "load_average": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--budgets",
        nargs="+",
        default=["48,32,24", "36,20,16", "24,16,12"],
        help="M_INV,M_PROBES,M_BASIS triples",
    )
    ap.add_argument("--output", default="bench/results/probe_rows.json")
    args = ap.parse_args(argv)
    rows = []
    for b in args.budgets:
        m_inv, m_probes, m_basis = (int(x) for x in b.split(","))
        print(f"evaluating the zoo with {m_inv}+{m_probes}+{m_basis} probe rows ...", flush=True)
        rows.append(run(m_inv, m_probes, m_basis))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps({"budgets": rows}, indent=2) + "\n")
    head = ["rows (inv+probes+basis)", "derived acc.", "FPR@0.01", "FPR@0.001", "margin (null SD)"]
    head += ["untestable", "weakest derived (z)", "load"]
    print("| " + " | ".join(head) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        weak = ", ".join(f"{w['id']} {w['z']:.1f}" for w in r["weakest_derived"][:2])
        print(
            f"| {r['rows']} ({r['m_inv']}+{r['m_probes']}+{r['m_basis']}) | {r['derived_accuracy']:.3f} | "
            f"{r['fpr_at_0.01']:.3f} | {r['fpr_at_0.001']:.3f} | {r['margin_null_sd']:.1f} | "
            f"{', '.join(r['untestable'] or []) or '-'} | {weak} | {r['load_average']:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
