"""Benchmark: taoke's openness ratings against the European Open Source AI Index, and MOF golden data.

- Index agreement: for every Index system that has a Model Openness Tool record of the same model
  (matched by name), taoke rates the Index's 12 dimensions from the MOF record's component list (an
  independent description of what was released) and compares class by class with the Index's own rating.
- MOF golden data: the tool's Test_Data files must classify exactly as its expected_results.json.

Usage: ``python bench/openness_agreement.py [--fixtures DIR]``; prints tables and writes
``bench/results/openness_agreement.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import yaml

from taoke.analyzers import openness as op


def main(argv: list[str] | None = None) -> int:
    repo = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--fixtures", default=os.environ.get("TAOKE_FIXTURES", str(repo.parent / "shared" / "fixtures"))
    )
    ap.add_argument("--out", default=str(repo / "bench" / "results" / "openness_agreement.json"))
    args = ap.parse_args(argv)
    base = Path(args.fixtures) / "openness"
    if not base.is_dir():
        print(f"openness fixtures not found under {base} (set TAOKE_FIXTURES)", file=sys.stderr)
        return 2
    mof = base / "mof"
    text = (mof / "Test_Data" / "expected_results.json").read_text(encoding="utf-8")
    expected = {
        m["release"]["name"]: m["classification"]
        for m in json.loads(re.sub(r",(\s*[}\]])", r"\1", text))["models"]
    }
    golden_ok = 0
    files = sorted((mof / "Test_Data").glob("*.yml"))
    for f in files:
        doc = yaml.safe_load(f.read_text(encoding="utf-8"))
        got, want = op.mof_evaluate(doc), expected[doc["release"]["name"]]
        golden_ok += (
            got.klass == want["class"] and got.progress == want["progress"] and got.label == want["label"]
        )
    agr = op.index_agreement(base / "osai-index", mof / "models")
    print(f"MOF golden Test_Data: {golden_ok}/{len(files)} exact")
    print(f"Index agreement: {agr['systems_matched']} systems, {agr['ratings_compared']} ratings")
    print(f"  exact class agreement   {agr['exact_agreement']:.3f}")
    print(f"  within one step         {agr['within_one_step']:.3f}")
    for dim, v in agr["per_dimension"].items():
        print(f"  {dim:<24} {v['exact']:.3f}  (n={v['n']})")
    res = {"mof_golden": {"exact": golden_ok, "files": len(files)}, **agr}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
