"""Siblings are not parents (issue 20): a common relative between two related zoo models turns a drift
verdict into ``shares-ancestor``; a parent and its child keep ``fine-tuned``; a copy of one side is no
third model."""

from __future__ import annotations

import json

from taoke.cli.main import main
from taoke.weights import compare
from taoke.weights.ancestry import BETWEEN_MARGIN
from tests.helpers.compare import zoo_fp, zoo_path


def test_two_fine_tunes_of_one_base_share_an_ancestor_when_the_base_is_named() -> None:
    man, doc, base = zoo_fp("a-ft-man"), zoo_fp("a-ft-doc"), zoo_fp("base-a")
    alone = compare(man, doc)
    assert alone.relationship == "fine-tuned"  # the pair alone cannot tell: the limitation stated
    res = compare(man, doc, relatives=[base])
    assert res.relationship == "shares-ancestor" and res.derived
    found = res.transformations["shared_ancestor"]
    assert found["name"] == "base-a"
    assert found["to_reference"] > found["pair"] and found["to_suspect"] > found["pair"]
    assert found["margin"] > BETWEEN_MARGIN
    assert "drift" not in res.transformations  # "trained further" would assert a direction
    assert any("base-a is closer to both" in r for r in res.reasons)
    assert res.reasons[0].endswith("not shown to derive from the reference")


def test_a_parent_and_its_child_stay_fine_tuned_beside_the_childs_sibling() -> None:
    res = compare(zoo_fp("base-a"), zoo_fp("a-ft-man"), relatives=[zoo_fp("a-ft-doc")])
    assert res.relationship == "fine-tuned"
    assert "shared_ancestor" not in res.transformations


def test_a_quantised_copy_of_one_side_is_not_a_relative_between_them() -> None:
    """a-ft-doc is closer to base-a than its own Q4_0 export is, and near-equal to the export: without
    the same-model check it sat "between" base-a and a-ft-doc-q4_0 (a failure seen while building)."""
    res = compare(zoo_fp("base-a"), zoo_fp("a-ft-doc-q4_0"), relatives=[zoo_fp("a-ft-doc")])
    assert res.relationship == "fine-tuned"


def test_cli_relative_option_and_a_bad_relative(tmp_path, capsys) -> None:
    man, doc, base = zoo_path("a-ft-man"), zoo_path("a-ft-doc"), zoo_path("base-a")
    assert main(["compare", man, doc, "--relative", base, "--format", "json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["relationship"] == "shares-ancestor"
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04garbage")
    assert main(["compare", man, doc, "--relative", str(bad), "-q"]) == 2
    err = capsys.readouterr().err
    assert "bad.npz" in err and len(err.strip().splitlines()) == 1
