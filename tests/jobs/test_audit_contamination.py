"""`taoke audit --benchmark FILE`: contamination results join the audit when the card lists scores."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers.need import require

torch = require("torch")
torch.set_num_threads(1)

CARD_WITH_SCORES = """---
license: apache-2.0
---
# twin

| Benchmark | Score |
|---|---|
| MMLU | 71.3 |
| CMMLU | 80.2 |
"""


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from taoke.zoo import twins

    root = tmp_path_factory.mktemp("audit-twin")
    folder = root / "twin-exp10"
    shutil.copytree(twins.materialize("twin-exp10", root / "cache"), folder)
    (folder / ".complete").unlink(missing_ok=True)
    bench = twins.write_split("train", root / "train.jsonl")
    bench.write_text("".join(bench.read_text().splitlines(keepends=True)[:30]))
    return folder, bench


def test_audit_includes_contamination_when_card_lists_scores(release: tuple[Path, Path]) -> None:
    from taoke.jobs import audit
    from taoke.render.audit import render

    folder, bench = release
    (folder / "README.md").write_text(CARD_WITH_SCORES)
    report = audit(folder, benchmarks=[bench])
    assert len(report.contamination) == 1
    result = report.contamination[0]
    assert result.verdict == "contaminated", result.conclusion
    assert any(e.kind == "benchmark-contaminated" for e in report.claims)
    assert any(e.kind == "benchmark-contaminated" for e in report.headline_findings)
    assert report.to_dict()["contamination"][0]["n_items"] == 30
    assert "contamination (" in render(report, "text")
    assert "contamination:" in render(report, "html")


def test_audit_skips_contamination_without_claimed_scores(release: tuple[Path, Path]) -> None:
    from taoke.jobs import audit

    folder, bench = release
    (folder / "README.md").write_text("---\nlicense: apache-2.0\n---\n# twin\n")
    report = audit(folder, benchmarks=[bench])
    assert report.contamination == []
    assert any(e.kind == "contamination-skipped" for e in report.claims)


def test_audit_cli_bad_benchmark_is_one_line(
    release: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from taoke.cli.main import main

    folder, _ = release
    (folder / "README.md").write_text(CARD_WITH_SCORES)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert main(["audit", str(folder), "--benchmark", str(empty)]) == 2
    err = capsys.readouterr().err.strip()
    assert "empty" in err and len(err.splitlines()) == 1


def test_audit_with_benchmark_loads_the_model_once(release: tuple[Path, Path], monkeypatch) -> None:
    """The claims and the contamination scorer share one Model view of one resolved release (before the
    jobs layer, the scorer resolved and loaded the release a second time)."""
    from taoke.jobs import audit
    from tests.helpers.calls import count_calls

    folder, bench = release
    (folder / "README.md").write_text(CARD_WITH_SCORES)
    resolves = count_calls(monkeypatch, "taoke.release.source", "resolve")
    loads = count_calls(monkeypatch, "taoke.model", "load")
    report = audit(folder, benchmarks=[bench])
    assert len(report.contamination) == 1
    assert sum(resolves.values()) == 1 and sum(loads.values()) == 1
