"""Nulls are data passed to compare: the packaged calibration, files written by ``taoke eval --calibrate``,
and what compare does without them. Nothing is patched into a cache."""

from __future__ import annotations

import json

import pytest

from taoke.errors import CorruptFile, SourceNotFound
from taoke.weights import Nulls, compare, load_nulls, packaged_nulls
from taoke.weights.lineage import NullFit
from tests.helpers.compare import zoo_fp


def test_packaged_nulls_round_trip_through_a_file(tmp_path):
    shipped = packaged_nulls()
    assert shipped.basis_free and shipped.basis_free_median and shipped.raw_basis
    path = shipped.save(tmp_path / "n.json")
    assert load_nulls(path) == shipped
    # the JSON keys are those of the shipped file (basis_free in noise units: mu_z, sd_z)
    from importlib import resources

    text = resources.files("taoke").joinpath("data", "weights_null.json").read_text(encoding="utf-8")
    assert json.loads(path.read_text()) == json.loads(text)


def test_overlay_replaces_only_what_is_set():
    base = packaged_nulls()
    fit = NullFit(0.0, 1.0, "test", 10)
    over = base.overlay(Nulls(raw_basis=fit))
    assert over.raw_basis == fit and over.basis_free == base.basis_free
    assert over.basis_free_median == base.basis_free_median and base.raw_basis != fit


def test_bad_nulls_files_are_one_line_errors(tmp_path):
    with pytest.raises(SourceNotFound):
        load_nulls(tmp_path / "missing.json")
    for name, text in (
        ("garbage.json", "{not json"),
        ("list.json", "[1, 2]"),
        ("empty.json", "{}"),
        ("partial.json", '{"raw_basis": {"mu": 0.0}}'),
    ):
        f = tmp_path / name
        f.write_text(text)
        with pytest.raises(CorruptFile) as exc:
            load_nulls(f)
        assert name in str(exc.value) and "\n" not in str(exc.value)


def test_compare_defaults_to_the_packaged_nulls_and_takes_others_explicitly():
    a, b = zoo_fp("base-a"), zoo_fp("base-a2")
    default = compare(a, b)
    assert compare(a, b, nulls=packaged_nulls()).log10_p_value == default.log10_p_value
    bare = compare(a, b, nulls=Nulls())
    notes = [e.message for e in bare.evidence if e.kind == "note"]
    assert any("no calibrated null for the basis-free statistic" in n for n in notes), notes
    assert bare.log10_p_value != default.log10_p_value
    # nothing leaked: the default is what it was
    assert compare(a, b).log10_p_value == default.log10_p_value
