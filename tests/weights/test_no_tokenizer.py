"""Issue 17: an identical copy whose suspect has no tokenizer file (what llamafy writes) showed
"similarity 0.000" on every layer, a blank heatmap and "vocabularies: different (0 shared)"."""

from __future__ import annotations

import json

import numpy as np
import pytest

from taoke.weights import compare, fingerprint
from tests.helpers.compare import without_tokenizer, zoo_fp


def _check_copy(res):
    d = json.loads(json.dumps(res.to_dict()))
    assert res.derived and res.relationship == "identical", res.reasons
    assert all(m["similarity"] is not None and m["similarity"] > 0.95 for m in d["layers"]), d["layers"]
    assert np.min(np.diag(np.asarray(d["similarity_matrix"]))) > 0.95  # the heatmap is not blank
    assert d["transformations"]["similarity_statistic"] in ("raw-basis", "weight-basis")
    v = d["transformations"]["vocabulary"]
    assert v["relation"] == "same" and "token id" in v["aligned_by"], v
    msgs = " | ".join(e["message"] for e in d["evidence"])
    assert "different (0 shared)" not in msgs and "no tokenizer" in msgs, msgs


def test_zoo_copy_without_tokenizer(tmp_path):
    res = compare(zoo_fp("base-a"), fingerprint(without_tokenizer("base-a", tmp_path / "a-notok")))
    _check_copy(res)


def test_no_tokenizer_with_other_embeddings_is_not_called_the_same_vocabulary(tmp_path):
    """Same vocabulary size, other embedding rows (an independent twin without tokenizer): the ids
    cannot be aligned, and the report says the vocabularies could not be compared."""
    res = compare(zoo_fp("base-a"), fingerprint(without_tokenizer("base-a2", tmp_path / "a2-notok")))
    v = res.to_dict()["transformations"]["vocabulary"]
    assert v["relation"] == "unknown" and not res.derived, v


@pytest.mark.realdata
@pytest.mark.slow
def test_smollm2_copy_without_tokenizer():
    from taoke import zoo

    res = compare(zoo_fp("smollm2"), fingerprint(zoo.materialize("smollm2-notok")))
    _check_copy(res)
