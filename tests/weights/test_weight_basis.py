"""Issue 15.6: no shared tokens. A copy whose tokenizer and embeddings were replaced, then rotated,
escapes both token-based statistics; the weight-basis statistic (S3) lines the blocks up from their own
weights. Its null scale is fitted on calib-00..04 (split "fit") and its false-positive rate is measured
here on the other 35 calibration pairs and the zoo's independent pairs (split "test")."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from taoke.weights import compare, fingerprint
from taoke.weights.weightbasis import FIT_MODELS, Z_SCALE, fit_z_scale, weight_basis_statistic
from tests.helpers.compare import without_tokenizer, zoo_fp

CALIB = [f"calib-{i:02d}" for i in range(10)]
TEST_PAIRS = [p for p in itertools.combinations(CALIB, 2) if not set(p) <= set(FIT_MODELS)] + [
    ("base-a", "base-a2"),
    ("base-a", "base-b"),
    ("base-a2", "base-b"),
    ("base-a", "a2-yi"),
    ("base-a2", "a-ft-man"),
    ("base-a2", "a-obf-all"),
    ("base-a", "calib-00"),
]


def test_null_scale_refits_from_the_fit_split():
    fit = [(zoo_fp(a), zoo_fp(b)) for a, b in itertools.combinations(FIT_MODELS, 2)]
    assert fit_z_scale(fit) == pytest.approx(Z_SCALE, abs=0.01)


def test_false_positive_rate_on_the_test_split():
    ps = []
    for a, b in TEST_PAIRS:
        st, why = weight_basis_statistic(zoo_fp(a), zoo_fp(b))
        assert st is not None, why
        ps.append(st.log10p_model)
    ps = np.array(ps)
    assert len(ps) == 42
    # at most 1 % of 42 pairs below alpha 0.01 means none; none below 1e-3
    assert (ps < -2).sum() == 0 and (ps < -3).sum() == 0, sorted(ps)[:3]


@pytest.mark.parametrize("model", ["a-rotate", "a-obf-all"])
def test_rotated_copy_without_any_shared_token_is_found(model, tmp_path):
    """No tokenizer on the suspect (keys are ids: nothing shared with A's byte keys) and the residual
    stream rotated: S1 cannot run, S2 is blind to the rotation; before S3 this was "independent"."""
    res = compare(zoo_fp("base-a"), fingerprint(without_tokenizer(model, tmp_path / model)))
    assert res.derived and res.p_value < 1e-6, res.reasons
    assert res.relationship == "obfuscated-copy", res.reasons
    assert any(e.kind == "lineage-weight-basis" and e.severity == "high" for e in res.evidence)
    assert res.transformations["similarity_statistic"] == "weight-basis"


def test_new_tokenizer_then_rotation_is_derived():
    """The case of issue 15: A's blocks under a new tokenizer (embeddings trained anew), then rotated."""
    res = compare(zoo_fp("base-a"), zoo_fp("a-newtok-rot"))
    assert res.derived and res.p_value < 1e-6, res.reasons
    assert res.relationship == "partial" and res.transformations["replaced"]["tensors"] == [
        "token_embd",
        "output",
    ]
    assert compare(zoo_fp("base-a2"), zoo_fp("a-newtok-rot")).derived is False
    unrotated = compare(zoo_fp("base-a"), zoo_fp("a-newtok"))  # raw values say "same": only the blocks are
    assert unrotated.relationship == "partial", unrotated.reasons


def test_never_p_one_without_shared_tokens_of_other_width(tmp_path):
    """Without shared tokens and with another width no statistic applies: untestable, not p = 1."""
    res = compare(zoo_fp("base-a"), fingerprint(without_tokenizer("base-c", tmp_path / "c")))
    assert res.relationship == "untestable" and res.p_value is None
