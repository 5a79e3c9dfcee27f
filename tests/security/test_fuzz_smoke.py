"""A short run of every fuzz target, and a replay of every crash the campaign has found.

The property (from ``fuzz/targets.py``): every input either parses or raises a ``TaokeError``.
The long campaign (``python fuzz/campaign.py``) runs millions of executions; this keeps each harness
working and each fixed crash fixed, in a few seconds per target.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from fuzz.engine import fuzz, run_one  # noqa: E402
from fuzz.seeds import load_seeds  # noqa: E402
from fuzz.targets import TARGETS  # noqa: E402

RUNS = 250
REGRESSIONS = sorted((REPO / "fuzz" / "regressions").glob("*/*.bin"))


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_smoke(name: str, tmp_path: Path) -> None:
    seeds = load_seeds(name)
    assert seeds, f"{name}: no seeds"
    stats = fuzz(TARGETS[name], seeds, RUNS, seed=1, crash_dir=tmp_path, timeout_s=20, max_seconds=20)
    assert stats.executions > min(RUNS, 50)
    assert not stats.crashes, "\n\n".join(c.traceback for c in stats.crashes.values())
    # the mutants reach the parsers' checks, not only the seeds' happy path (code lineage's reader
    # reports unreadable files as findings instead of raising, so it has no refusals to count)
    if name != "code_text":
        assert stats.refused > 0, f"{name}: no mutant was refused: the harness is not exercising the parser"


def test_regressions_exist() -> None:
    assert len(REGRESSIONS) >= 8
    assert {p.parent.name for p in REGRESSIONS} <= set(TARGETS)


@pytest.mark.parametrize("path", REGRESSIONS, ids=[f"{p.parent.name}/{p.stem}" for p in REGRESSIONS])
def test_fixed_crash_stays_fixed(path: Path, tmp_path: Path) -> None:
    outcome, exc = run_one(TARGETS[path.parent.name], path.read_bytes(), tmp_path, 20)
    assert outcome in ("parsed", "refused"), repr(exc)
    if exc is not None:
        assert "\n" not in str(exc)


def test_campaign_top_up_merges_runs_honestly() -> None:
    """`fuzz/campaign.py --top-up` adds a second run to a target: the committed figures must add up
    (executions, parsed + refused, the rate over the summed time) and keep each run with its seed."""
    import json

    from fuzz.campaign import merge_runs, render

    data = json.loads((REPO / "bench" / "results" / "fuzz.json").read_text(encoding="utf-8"))
    for row in data["targets"]:
        if TARGETS[row["target"]].binary_parser:
            assert row["executions"] >= 1_000_000, row["target"]
        runs = row.get("runs", [row])
        assert row["executions"] == sum(r["executions"] for r in runs)
        assert row["parsed"] + row["refused"] + row.get("crash_executions", 0) == row["executions"]
        assert len({r.get("seed") for r in runs}) == len(runs)  # no run replays another's seed
    first = {"target": "gguf", "executions": 10, "parsed": 4, "refused": 6, "seconds": 2.0,
             "exec_per_s": 5.0, "corpus": 3, "refusal_kinds": 2, "unique_crashes": 0, "crashes": [],
             "peak_rss_mb": 40.0}  # fmt: skip
    second = {**first, "executions": 30, "parsed": 10, "refused": 20, "seconds": 1.0, "refusal_kinds": 5}
    merged = merge_runs(first, second)
    assert (merged["executions"], merged["parsed"], merged["refused"]) == (40, 14, 26)
    assert merged["exec_per_s"] == round(40 / 3.0, 1) and merged["refusal_kinds"] == 5
    assert len(merged["runs"]) == 2 and len(merge_runs(merged, second)["runs"]) == 3
    assert "(2 runs)" in render(data)
