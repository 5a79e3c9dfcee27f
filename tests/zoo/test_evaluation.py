"""``taoke eval`` on a one-pair manifest: --calibrate writes the refitted nulls where the user says (and
they are the shipped ones: the package was fitted on this zoo), --nulls reads them back, bad input
exits 2. The installed package is never written."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from taoke.cli.main import main
from taoke.weights import load_nulls, packaged_nulls


def _shipped() -> Path:
    return Path(str(resources.files("taoke").joinpath("data", "weights_null.json")))


@pytest.fixture(scope="module")
def one_pair(tmp_path_factory: pytest.TempPathFactory) -> Path:
    f = tmp_path_factory.mktemp("eval") / "manifest.json"
    f.write_text(
        json.dumps(
            [{"reference": "base-a", "suspect": "a-ft-man", "relationship": "fine-tuned", "derived": True}]
        )
    )
    return f


def test_calibrate_writes_where_asked_and_reproduces_the_shipped_nulls(one_pair, tmp_path, capsys):
    before = _shipped().read_bytes()
    out, report = tmp_path / "sub" / "nulls.json", tmp_path / "report.json"
    argv = ["eval", str(one_pair), "--no-real", "--calibrate", str(out), "-o", str(report), "-f", "json"]
    assert main(argv) == 0
    capsys.readouterr()
    assert _shipped().read_bytes() == before, "eval --calibrate wrote into the installed package"
    refit, shipped = load_nulls(out), packaged_nulls()
    for key in ("basis_free", "basis_free_median", "raw_basis"):
        new, old = getattr(refit, key), getattr(shipped, key)
        assert new.n == old.n and new.source == old.source, key
        assert new.mu == pytest.approx(old.mu, rel=1e-6, abs=1e-9), key
        assert new.sd == pytest.approx(old.sd, rel=1e-6), key
    d = json.loads(report.read_text())
    assert d["summary"]["labelled_pairs"] == 1 and d["pairs"][0]["relationship"] == "fine-tuned"
    assert d["summary"]["calibration_pairs"] == 45 and d["summary"]["fpr_at_0.01"] <= 0.01

    # --nulls: the labelled pairs are compared with the given nulls, which the report states
    report2 = tmp_path / "report2.json"
    assert (
        main(["eval", str(one_pair), "--no-real", "--nulls", str(out), "-o", str(report2), "-f", "json"]) == 0
    )
    capsys.readouterr()
    d2 = json.loads(report2.read_text())
    assert d2["null"]["basis_free"]["mu_z"] == refit.basis_free.mu
    assert d2["pairs"][0]["log10_p_value"] == d["pairs"][0]["log10_p_value"]


def test_bad_eval_input_exits_2_naming_the_file(one_pair, tmp_path, capsys):
    bad = tmp_path / "bad-nulls.json"
    bad.write_text("{}")
    assert main(["eval", str(one_pair), "--nulls", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "bad-nulls.json" in err and len(err.splitlines()) == 1
    assert main(["eval", str(one_pair), "--calibrate", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "--calibrate" in err and len(err.splitlines()) == 1


def test_merges_are_labelled_without_their_parents_given(tmp_path, capsys):
    """Issue 20: a manifest's merge pair is labelled merged from parents found among the models the
    manifest names; the true parents are only used for the with-oracle count beside it."""
    pairs = [
        {"reference": "base-a", "suspect": "a-ft-man", "relationship": "fine-tuned", "derived": True},
        {"reference": "base-a", "suspect": "a-ft-doc", "relationship": "fine-tuned", "derived": True},
        {
            "reference": "base-a",
            "suspect": "merge-ft-linear",
            "relationship": "merged",
            "derived": True,
            "details": {"parents": {"a-ft-man": 0.5, "a-ft-doc": 0.5}},
        },
    ]
    f = tmp_path / "m.json"
    f.write_text(json.dumps(pairs))
    out = tmp_path / "r.json"
    assert main(["eval", str(f), "--no-real", "-f", "json", "-o", str(out), "--quiet"]) == 0
    doc = json.loads(out.read_text())
    rep = doc.get("result", doc)
    m = rep["merges"]
    assert m["protocol"] == "parents found in a pool of 4" and m["merge_pairs"] == 1
    assert m["labelled_merged"] == 1 and m["false_merges"] == []
    assert set(m["found_parents"]["base-a__merge-ft-linear"]) == {"a-ft-man", "a-ft-doc"}
    assert m["with_oracle_parents"] == 1 and m["with_oracle_pairs"] == 1
    assert rep["summary"]["accuracy_by_split"]["fit"] == {
        "pairs": 3,
        "correct": 3,
        "wrong": [],
        "accuracy": 1.0,
    }
