"""Issue 17 / issue 15.5: "untestable" is not "independent".

When no lineage statistic applies to a pair (other widths, too few shared tokens, no invariant across
the two families), compare says so: relationship ``untestable``, no p-value (JSON null), no confidence,
and ``taoke compare`` exits with code 3 -- also under ``--fail-if-derived``, which must not pass silently.
"""

from __future__ import annotations

import json

import pytest

from taoke.cli.main import main
from taoke.weights import Relationship, compare, fingerprint
from tests.helpers.compare import without_tokenizer, zoo_fp, zoo_path


@pytest.fixture(scope="module")
def c_without_tokenizer(tmp_path_factory):
    """Base C (d=128) with its tokenizer files removed: no token is shared with base A (d=64) and the
    widths differ, so no statistic of compare applies."""
    return without_tokenizer("base-c", tmp_path_factory.mktemp("c-notok") / "c-notok")


def test_nothing_comparable_is_untestable_with_no_p_value(c_without_tokenizer):
    res = compare(zoo_fp("base-a"), fingerprint(c_without_tokenizer))
    assert res.relationship is Relationship.UNTESTABLE
    assert res.derived is False and res.p_value is None and res.log10_p_value is None
    assert res.confidence is None
    d = json.loads(json.dumps(res.to_dict()))
    assert d["relationship"] == "untestable" and d["p_value"] is None and d["confidence"] is None
    assert any("statistic" in r for r in res.reasons), res.reasons
    assert all(m["p_value"] is None and m["similarity"] is None for m in d["layers"])


def test_cli_compare_untestable_exits_3_even_with_fail_if_derived(c_without_tokenizer, capsys):
    a = zoo_path("base-a")
    assert main(["compare", a, str(c_without_tokenizer), "--format", "json"]) == 3
    d = json.loads(capsys.readouterr().out)
    assert d["relationship"] == "untestable" and d["p_value"] is None
    assert main(["compare", a, str(c_without_tokenizer), "--fail-if-derived"]) == 3
    out = capsys.readouterr()
    assert "untestable" in out.out and "p-value: -" in out.out and "1.000" not in out.out.split("why")[0]
    for fmt in ("html",):
        assert main(["compare", a, str(c_without_tokenizer), "--format", fmt]) == 3
        assert "untestable" in capsys.readouterr().out


@pytest.mark.realdata
def test_smollm2_vs_gemma3_is_untestable_not_independent(smollm2_gguf, gemma3_gguf, capsys):
    """The case of issue 17: shapes share nothing; today "independent, p 1.000, confidence 0.89"."""
    code = main(["compare", str(smollm2_gguf), str(gemma3_gguf), "--format", "json", "--fail-if-derived"])
    d = json.loads(capsys.readouterr().out)
    assert code == 3, d["relationship"]
    assert d["relationship"] == "untestable" and d["p_value"] is None and d["derived"] is False
