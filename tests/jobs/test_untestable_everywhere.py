"""Every command that reports a relationship copes with "untestable" (issue 17): audit, search, scan,
eval -- no p-value invented, no "independent", no crash in any renderer."""

from __future__ import annotations

import json

import pytest

from taoke.cli.main import main
from tests.helpers.compare import without_tokenizer, zoo_path

CARD = "---\nlicense: apache-2.0\nbase_model: taoke-zoo/base-a\n---\n# c-notok\n"


@pytest.fixture(scope="module")
def c_notok(tmp_path_factory):
    """Base C (d=128) without tokenizer files, its card declaring base A (d=64): nothing to compare."""
    return without_tokenizer("base-c", tmp_path_factory.mktemp("u") / "c-notok", CARD)


def test_audit_says_the_declared_base_is_unchecked_not_contradicted(c_notok, tmp_path):
    from taoke.jobs import audit
    from taoke.render.audit import render

    r = audit(c_notok, against=[zoo_path("base-a")])
    kinds = {e.kind for e in r.all_evidence()}
    assert "weights-untestable" in kinds and "declared-parent-unsupported" not in kinds
    assert r.comparisons[0].compare["relationship"] == "untestable"
    assert r.comparisons[0].compare["p_value"] is None
    for fmt in ("json", "html"):
        assert "untestable" in render(r, fmt)
    out = tmp_path / "a.txt"
    assert main(["audit", str(c_notok), "--against", zoo_path("base-a"), "-o", str(out)]) == 0
    assert "untestable" in out.read_text()


def test_search_and_scan_never_count_an_untestable_candidate(c_notok, tmp_path, capsys):
    from taoke.registry import Registry, index_source, search

    with Registry(str(tmp_path / "r.sqlite")) as reg:
        index_source(reg, zoo_path("base-a"))
        res = search(reg, c_notok, top=1)
        hit = res.hits[0]
        assert hit.relationship == "untestable" and hit.p_value is None and not hit.significant
        assert hit.p_adjusted is None and res.best is None
        d = json.loads(json.dumps(res.to_dict()))
        assert d["hits"][0]["p_value_holm"] is None and d["verdict"] == "no significant relative"
    db = str(tmp_path / "cli.sqlite")
    assert main(["index", zoo_path("base-a"), "--db", db, "-f", "json"]) == 0
    capsys.readouterr()
    assert main(["search", str(c_notok), "--db", db]) == 0
    assert "untestable" in capsys.readouterr().out
    assert main(["scan", str(c_notok), "--db", db, "-f", "json"]) == 0
    found = [f for f in json.loads(capsys.readouterr().out)["findings"] if f["name"] == "c-notok"]
    assert found and found[0]["finding"] == "declared-parent-not-found", found


def test_eval_reports_an_untestable_pair_as_such(c_notok, tmp_path, capsys):
    manifest = tmp_path / "m.json"
    manifest.write_text(
        json.dumps(
            [{"reference": "base-a", "suspect": str(c_notok), "relationship": "untestable", "derived": False}]
        )
    )
    report = tmp_path / "r.json"
    assert main(["eval", str(manifest), "--no-real", "-o", str(report), "-f", "json", "--quiet"]) == 0
    d = json.loads(report.read_text())
    row = d["pairs"][0]
    assert row["relationship"] == "untestable" and row["p_value"] is None and row["derived"] is False
    assert d["summary"]["untestable"] == [row["id"]]
    assert main(["eval", str(manifest), "--no-real", "--quiet"]) == 0
    assert "untst" in capsys.readouterr().out
