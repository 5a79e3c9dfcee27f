"""Benchmark: taoke's openness ratings against the European Open Source AI Index, and MOF golden data.

- Index agreement: for every Index system that has a Model Openness Tool record of the same model
  (matched by name), taoke rates the Index's 12 dimensions from the MOF record's component list (an
  independent description of what was released) and compares class by class with the Index's own rating.
- Dimensions are split by :data:`taoke.analyzers.openness.DIMENSION_DECIDABILITY`: decidable from the
  release's own files (weights, licences, model card, datasheet) vs needing external evidence (data
  sources, training code, hardware, preprint, paper; an audit says "needs external evidence" for those
  unless ``--evidence`` supplies it; the inventory's guess is still scored here, for comparison).
- Out of sample: the Index systems are split in two halves (every other file by name). Rule choices
  (weights: the Index's "shared" criterion vs the earlier "open licence" rule; the readings of MOF
  records in ``inventory_from_mof``) are made on half A (FIT) and reported on half B (TEST); "before"
  is the earlier weights rule.
- Comparable ratings: each Index system is paired with the MOF record of the release it rates when the
  MOF has one (same name without size and role), else the family's first record. A decidable rating
  counts as "same release" when the record describes the rated model
  (:func:`taoke.analyzers.openness.describes`) and as "MOF carries" when the record also lists the
  component the dimension rests on (:data:`taoke.analyzers.openness.CARRIED_BY`); every disagreement
  gets one kind (:data:`taoke.analyzers.openness.DISAGREEMENT_KINDS`), all mechanically.
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
    osai, models = base / "osai-index", mof / "models"
    rules = ("licence", "shared")
    fit = {r: op.index_agreement(osai, models, half="A", weights_rule=r) for r in rules}
    chosen = max(rules, key=lambda r: (fit[r]["decidable_from_release"]["exact_agreement"], r == "shared"))
    test = {r: op.index_agreement(osai, models, half="B", weights_rule=r) for r in rules}
    agr = op.index_agreement(osai, models, weights_rule=chosen)
    before = op.index_agreement(osai, models, weights_rule="licence")
    print(f"MOF golden Test_Data: {golden_ok}/{len(files)} exact")
    print(f"Index agreement: {agr['systems_matched']} systems, {agr['ratings_compared']} ratings")
    print("  split: Index systems by file name, even = half A (FIT), odd = half B (TEST)")
    print(f"  weights rule chosen on FIT: {chosen} (library default: {op.WEIGHTS_RULE})")
    print(f"  {'':<34} {'FIT':>6} {'TEST':>6} {'all':>6} {'before':>7}")
    for part, label in (
        ("decidable_from_release", "decidable from the release, exact"),
        ("needs_external_evidence", "needs evidence (guess), exact"),
    ):
        vals = (fit[chosen][part], test[chosen][part], agr[part], before[part])
        print(
            f"  {label:<34} "
            + " ".join(f"{v['exact_agreement']:>6.3f}" for v in vals[:3])
            + f" {vals[3]['exact_agreement']:>7.3f}"
        )
    print(
        f"  {'all dimensions, exact':<34} {fit[chosen]['exact_agreement']:>6.3f} "
        f"{test[chosen]['exact_agreement']:>6.3f} {agr['exact_agreement']:>6.3f} "
        f"{before['exact_agreement']:>7.3f}"
    )
    print(f"  within one step (all)              {agr['within_one_step']:.3f}")
    print(f"  {'per dimension':<24} {'':<9} {'FIT':>6} {'TEST':>6} {'all':>6}")
    for dim, v in agr["per_dimension"].items():
        kind = op.DIMENSION_DECIDABILITY[dim].value
        f, t = fit[chosen]["per_dimension"][dim], test[chosen]["per_dimension"][dim]
        print(f"  {dim:<24} {kind:<9} {f['exact']:>6.3f} {t['exact']:>6.3f} {v['exact']:>6.3f}  (n={v['n']})")
    print("  decidable dimensions, comparable ratings only (exact, n):")
    for key, label in (
        ("same_release", "record describes the rated release"),
        ("same_release_mof_carries", "... and lists the dimension's component"),
    ):
        vals = [x["comparable"][key] for x in (fit[chosen], test[chosen], agr)]
        print(
            f"    {label:<42} "
            + " ".join(f"{v['exact_agreement']:>6.3f} (n={v['ratings']:>3})" for v in vals)
        )
    print("  disagreements on decidable dimensions by kind (FIT / TEST / all):")
    for k, why in op.DISAGREEMENT_KINDS.items():
        c = [x["comparable"]["disagreements"][k] for x in (fit[chosen], test[chosen], agr)]
        print(f"    {k:<14} {c[0]:>3} {c[1]:>3} {c[2]:>3}  {why}")
    c = [x["comparable"]["disagreements"]["total"] for x in (fit[chosen], test[chosen], agr)]
    print(f"    {'total':<14} {c[0]:>3} {c[1]:>3} {c[2]:>3}")
    order = {"closed": 0, "partial": 1, "open": 2}
    errors = []
    for pair in test[chosen]["pairs"]:
        for dim, (ours, theirs) in pair["dims"].items():
            if op.DIMENSION_DECIDABILITY[dim] is op.Decidability.RELEASE and ours != theirs:
                reason = op.disagreement_kind(pair, dim)
                errors.append((abs(order[ours] - order[theirs]), pair["index"], dim, ours, theirs, reason))
    errors.sort(key=lambda e: (-e[0], e[1], e[2]))
    print("  ten worst TEST errors on decidable dimensions (ours vs Index):")
    for _, sys_name, dim, ours, theirs, reason in errors[:10]:
        print(f"    {sys_name:<32} {dim:<18} {ours:>7} vs {theirs:<7} {reason}")
    print("  (TEST is reported, never used to choose a rule)")
    half_keys = (
        "exact_agreement",
        "decidable_from_release",
        "needs_external_evidence",
        "per_dimension",
        "comparable",
    )
    agr = {
        **agr,
        "weights_rule_chosen_on_fit": chosen,
        "fit_half_A": {k: fit[chosen][k] for k in half_keys},
        "test_half_B": {k: test[chosen][k] for k in half_keys},
        "before_licence_rule": {
            k: before[k] for k in ("exact_agreement", "decidable_from_release", "needs_external_evidence")
        },
        "worst_test_errors": [
            dict(zip(("step", "system", "dimension", "ours", "index", "reason"), e, strict=True))
            for e in errors[:10]
        ],
    }
    res = {"mof_golden": {"exact": golden_ok, "files": len(files)}, **agr}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
