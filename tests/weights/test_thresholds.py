"""Issue 20: every threshold of the weight verdict is listed with its provenance, and the fitted ones
separate their fit split on the zoo (re-measured, not copied)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from taoke.weights import ancestry, experts, mergefind, verdict
from taoke.weights.thresholds import THRESHOLDS, Provenance
from taoke.zoo.thresholds import measure

DOCS = Path(__file__).resolve().parents[2] / "docs" / "compare.md"


def test_every_verdict_and_mergefind_constant_is_listed():
    listed = {t.name for t in THRESHOLDS} | {"DEFAULT_ALPHA"}  # alpha is the user's, not a fitted cut
    for module in (verdict, mergefind, experts, ancestry):
        consts = {
            n
            for n in vars(module)
            if re.fullmatch(r"[A-Z][A-Z_]+", n) and isinstance(getattr(module, n), float)
        }
        assert consts <= listed, consts - listed
    assert all(t.set_on and t.statistic for t in THRESHOLDS)


def test_docs_table_lists_each_threshold_with_its_value():
    text = DOCS.read_text(encoding="utf-8")
    for t in THRESHOLDS:
        assert f"| `{t.name}` | {t.value:g} |" in text, t.name


@pytest.fixture(scope="module")
def measured():
    return {t["name"]: t for t in measure()["thresholds"]}


def test_fitted_thresholds_separate_their_fit_split(measured):
    for name in ("FINE_TUNE_MIN", "IMPRINT_MAX", "MERGE_GAIN"):
        t = measured[name]
        assert t["provenance"] == Provenance.FITTED
        fit = t["measurement"]["splits"]["fit"]
        assert fit["pairs"] >= 3 and fit["correct_side"] == fit["pairs"], (name, fit)


@pytest.mark.xfail(
    strict=True,
    reason="test-split miss, reported not retuned: calib-00/calib00-init-man's imprint is 0.264 on the "
    "committed checkpoints, above IMPRINT_MAX 0.26 (fitted on base-a/a-init-man 0.098 vs 0.415)",
)
def test_shared_init_cut_holds_on_its_test_pair(measured):
    test = measured["IMPRINT_MAX"]["measurement"]["splits"]["test"]
    assert test["positive_edge"]["id"] == "calib-00__calib00-init-man"
    assert test["positive_edge"]["value"] < verdict.IMPRINT_MAX


def test_function_equal_cannot_tell_a_sub_step_fine_tune(measured):
    """Reported, not hidden: a fine-tune moving every value by less than a Q4_1 step computes the same
    function to 0.9996; the exact requantization check (issue 15.2) decides those pairs first."""
    fit = measured["FUNCTION_EQUAL"]["measurement"]["splits"]["fit"]
    assert set(fit["wrong"]) == {"a-gguf-q4_1__a-q41-ft", "a-q41-hf__a-q41-ft"}


def test_between_margin_keeps_every_parent_pair_and_reports_its_sibling_misses(measured):
    """Issue 20, two fine-tunes of one base: fitted on base A's children (fit), reported on the
    families' second fine-tunes (test). Every parent/child pair stays below the margin on both splits
    (a wrong "shares-ancestor" there would hide a real derivation); the siblings it misses are listed."""
    t = measured["BETWEEN_MARGIN"]
    assert t["provenance"] == Provenance.FITTED
    fit, test = t["measurement"]["splits"]["fit"], t["measurement"]["splits"]["test"]
    assert set(fit["wrong"]) == {"a-ft-man__a-lora-man", "a-ft-man__a-cpt-man"}
    assert fit["negative_edge"]["value"] < ancestry.BETWEEN_MARGIN
    assert test["wrong"] == ["bert-ft-man__bert-ft-doc"]
    assert test["pairs"] >= 15 and test["correct_side"] == test["pairs"] - 1
