"""Issue 19: ``taoke audit --evidence FILE``: evidence from outside the release is accepted and used for
the openness dimensions that need it; a bad file is one line naming it, exit 2."""

from __future__ import annotations

import json

from taoke.analyzers import openness as op
from taoke.cli.main import main
from tests.helpers.compare import zoo_path


def test_audit_uses_user_evidence_and_says_needs_evidence_otherwise(capsys, tmp_path) -> None:
    release = zoo_path("base-a")
    assert main(["audit", release, "-f", "json"]) == 0
    plain = {r["dimension"]: r for r in json.loads(capsys.readouterr().out)["openness"]["osai"]}
    external = [d for d, k in op.DIMENSION_DECIDABILITY.items() if k is op.Decidability.EXTERNAL]
    assert all(plain[d]["class"] == "unknown" and plain[d]["basis"] == "needs-evidence" for d in external)
    assert all(plain[d]["decidability"] == "release" for d in plain if d not in external)

    ev = tmp_path / "evidence.yaml"
    ev.write_text(
        "trainingcode:\n  class: open\n  link: https://github.com/example/train\n"
        "  statement: the training repository, Apache-2.0\n",
        encoding="utf-8",
    )
    assert main(["audit", release, "--evidence", str(ev), "-f", "json"]) == 0
    got = {r["dimension"]: r for r in json.loads(capsys.readouterr().out)["openness"]["osai"]}
    assert got["trainingcode"]["class"] == "open" and got["trainingcode"]["basis"] == "user-evidence"
    assert "https://github.com/example/train" in got["trainingcode"]["evidence"]
    assert got["paper"]["class"] == "unknown"


def test_bad_evidence_file_exits_2_naming_it(capsys, tmp_path) -> None:
    bad = tmp_path / "evidence.json"
    bad.write_text('{"trainingcode": {"class": "sort of"}}', encoding="utf-8")
    code = main(["audit", zoo_path("base-a"), "--evidence", str(bad)])
    err = capsys.readouterr().err
    assert code == 2
    assert str(bad) in err and len(err.strip().splitlines()) == 1
