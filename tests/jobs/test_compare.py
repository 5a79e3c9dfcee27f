"""The compare job: every kind of source becomes a fingerprint once, then taoke.weights.compare."""

from __future__ import annotations

import numpy as np
import pytest

from taoke import weights
from taoke.errors import AnalysisError
from taoke.jobs import compare
from tests.helpers.compare import zoo_fp, zoo_path


def test_job_matches_the_library_on_fingerprints():
    a, b = zoo_path("base-a"), zoo_path("a-ft-man")
    job = compare(a, b)
    lib = weights.compare(zoo_fp("base-a"), zoo_fp("a-ft-man"))
    assert job.relationship == lib.relationship == "fine-tuned"
    assert job.log10_p_value == lib.log10_p_value
    assert np.array_equal(job.similarity, lib.similarity)
    assert set(job.timings) == {"fingerprint_reference", "fingerprint_suspect", "compare"}


def test_each_spec_is_fingerprinted_once(monkeypatch):
    a, a2, merge = zoo_path("base-a"), zoo_path("base-a2"), zoo_path("merge-a-a2")
    seen: list[str] = []
    real = weights.fingerprint

    def counting(model, **kw):
        seen.append(str(model))
        return real(model, **kw)

    monkeypatch.setattr(weights, "fingerprint", counting)
    res = compare(a, merge, parents=[a, a2])
    assert sorted(seen) == sorted([a, merge, a2])
    assert res.relationship == "merged" and {p.name for p in res.parents} == {"base-a", "base-a2"}


def test_job_takes_models_fingerprint_files_and_fingerprints(tmp_path):
    from taoke.model import load

    f = zoo_fp("a-yi").save(tmp_path / "yi.npz")
    with load(zoo_path("base-a")) as model:
        res = compare(model, str(f))
    assert res.relationship == "renamed-copy"
    assert compare(zoo_fp("base-a"), f).log10_p_value == res.log10_p_value


def test_job_refuses_what_is_not_a_source():
    with pytest.raises(AnalysisError, match="cannot compare a int"):
        compare(3, zoo_fp("base-a"))
