"""``taoke scan`` with the local executor (processes): findings, failures, resumability, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taoke import zoo
from taoke.cli.main import main
from taoke.errors import SourceNotFound
from taoke.jobs.scan import collect_sources, scan
from taoke.registry import Registry

MODELS = ("base-a", "a-ft-man", "a-obf-all", "calib-00")


@pytest.fixture(scope="module")
def scan_list(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("scan")
    bad = d / "broken"
    bad.mkdir()
    (bad / "model.safetensors").write_bytes(b"\x00" * 8)
    lines = [str(zoo.materialize(m)) for m in MODELS] + ["# a comment", "", str(bad), str(d / "missing")]
    (d / "models.txt").write_text("\n".join(lines) + "\n")
    return d / "models.txt"


def test_collect_sources(scan_list: Path, tmp_path: Path) -> None:
    assert len(collect_sources(scan_list)) == 6
    assert collect_sources(zoo.materialize("base-a")) == [str(zoo.materialize("base-a"))]  # one release
    (tmp_path / "m1").mkdir()
    (tmp_path / "m2.gguf").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    assert collect_sources(tmp_path) == [str(tmp_path / "m1"), str(tmp_path / "m2.gguf")]
    with pytest.raises(SourceNotFound):
        collect_sources(tmp_path / "absent")


def test_local_scan_findings_failures_and_resume(scan_list: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "scan.sqlite")
    res = scan(collect_sources(scan_list), db, executor="local", workers=2)
    by = {f.name or Path(f.source).name: f for f in res.findings}
    # undeclared parents first: a-obf-all is a disguised copy of base-a and says nothing
    assert res.findings[0].finding == "undeclared-parent" and res.findings[0].name == "a-obf-all"
    assert by["a-obf-all"].relative == "base-a" and by["a-obf-all"].relationship == "obfuscated-copy"
    assert by["a-ft-man"].finding == "declared-parent-confirmed" and by["a-ft-man"].relative == "base-a"
    assert by["calib-00"].finding == "no-relative"
    # failures are recorded with their one-line error and did not stop the scan
    failed = [f for f in res.findings if f.status == "failed"]
    assert len(failed) == 2 and all(f.error and "\n" not in f.error for f in failed)
    assert res.counts["status"] == {"indexed": 4, "failed": 2}
    with Registry(db) as reg:
        assert reg.count() == 4 and len(reg.failures()) == 2
    # resumable: a second run fingerprints nothing it already has
    again = scan(collect_sources(scan_list), db, workers=2, search_phase=False)
    assert again.counts["status"] == {"skipped": 4, "failed": 2}


def test_cli_scan_json(scan_list: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    db = str(tmp_path / "cli.sqlite")
    assert main(["scan", str(scan_list), "--db", db, "--workers", "1", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["executor"] == "local" and out["findings"][0]["finding"] == "undeclared-parent"
    # a re-run skips every fingerprint but searches again, here by exact scan: same findings
    assert main(["scan", str(scan_list), "--db", db, "--workers", "1", "--exact", "-f", "json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert [f["finding"] for f in again["findings"]] == [f["finding"] for f in out["findings"]]
    assert out["shortlist"] == again["shortlist"] == "exact"  # a small registry is scanned exactly
    assert main(["scan", str(scan_list), "--db", db, "--executor", "spark"]) == 2
    assert main(["scan", str(scan_list), "--ray-address", "x:1"]) == 2
