"""Relationship synthesis rules (taoke.weights.verdict.decide) on controlled facts, one rule at a time."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from taoke.weights.alignment import Explanation, ParentMatch, RawIdentity, VocabChange, VocabularyRelation
from taoke.weights.verdict import FINE_TUNE_MIN, FUNCTION_EQUAL, decide


def _fp(n_layers=4, d=64, ffn=192, **meta):
    return SimpleNamespace(n_layers=n_layers, d_model=d, meta={"ffn_dim": ffn, **meta})


def _stats(sim: np.ndarray, layer_map, log10p=-50.0):
    s1 = np.arctanh(np.clip(sim, -0.999999, 0.999999))
    return SimpleNamespace(
        log10p_model=log10p, layer_map=list(layer_map), s1=s1, s2=None, basis_free={"qk": sim}
    )


def _decide(
    ref=None,
    sus=None,
    sim=None,
    layer_map=(0, 1, 2, 3),
    raw_same=0,
    vocab="same",
    log10p=-50.0,
    parents=(),
    resid=None,
    neurons=None,
):
    ref = ref or _fp()
    sus = sus or _fp()
    if sim is None:
        sim = np.eye(ref.n_layers, sus.n_layers) * 0.97
    found = Explanation(
        raw=RawIdentity(compared=39, same=raw_same, mean_corr=0.9),
        residual=resid,
        vocabulary=VocabularyRelation(VocabChange(vocab), added_tokens=256 if vocab == "extended" else 0),
        neurons=neurons,
        parents=list(parents),
        same_architecture=True,
    )
    return decide(ref, sus, _stats(sim, layer_map, log10p), found, alpha=1e-3)


def test_not_derived_same_and_other_architecture():
    v = _decide(log10p=-1.0)
    assert (v.relationship, v.derived) == ("independent-same-architecture", False)
    v = decide(
        _fp(),
        _fp(),
        _stats(np.zeros((4, 4)), [None] * 4, -0.5),
        Explanation(
            raw=RawIdentity(compared=0, same=0),
            residual=None,
            vocabulary=VocabularyRelation(VocabChange.DIFFERENT, added_tokens=0),
            neurons=None,
            parents=[],
            same_architecture=False,
        ),
        alpha=1e-3,
    )
    assert v.relationship == "independent"


def test_identical_vs_renamed():
    assert _decide(raw_same=39).relationship == "identical"
    v = _decide(raw_same=39, sus=_fp(renamed=True))
    assert v.relationship == "renamed-copy" and v.transformations["renames"]["suspect_renamed"] is True
    assert "suspect's stored tensor names differ" in v.reasons[-1]
    # the same format under other stored names: the renamed names are counted
    names = ["blk.0.attn_q.weight", "blk.0.attn_norm.weight"]
    v = _decide(
        raw_same=39,
        ref=_fp(format="safetensors", stored_names=names),
        sus=_fp(format="safetensors", stored_names=[names[0], "blk.0.ln1.weight"]),
    )
    assert v.relationship == "renamed-copy" and v.transformations["renames"]["renamed_tensors"] == 1


def test_config_class_alone_is_not_a_rename():
    """Issue 20: editing only config.json to YiForCausalLM made "identical" a "renamed-copy" with the
    false reason "under other tensor names"; the class name is metadata, not a measured rename."""
    v = _decide(raw_same=39, sus=_fp(hf_class="YiForCausalLM"), ref=_fp(hf_class="LlamaForCausalLM"))
    assert v.relationship == "identical"
    assert not any("tensor names" in r for r in v.reasons)


def test_vocab_extension_needs_a_grown_embedding():
    grown = _decide(
        raw_same=39,
        vocab="extended",
        ref=_fp(shapes={"token_embd.weight": [2048, 64]}),
        sus=_fp(shapes={"token_embd.weight": [2304, 64]}),
    )
    assert grown.relationship == "vocab-extended"
    assert grown.transformations["vocab_extension"]["embedding_rows"] == [2048, 2304]
    # issue 20: the tokenizer files alone (same embedding rows) do not override the weight rules
    same_rows = {"token_embd.weight": [2048, 64]}
    v = _decide(raw_same=39, vocab="extended", ref=_fp(shapes=same_rows), sus=_fp(shapes=same_rows))
    assert v.relationship == "identical"
    assert _decide(raw_same=39, vocab="extended").relationship == "identical"  # no shapes: not measured


def test_empty_layer_map_is_not_pruned():
    """Issue 20: a derived pair whose layer map is empty fell through to "pruned" with an invented
    reason; nothing structural was measured, so the label says only that the two are related."""
    v = _decide(sus=_fp(n_layers=3, ffn=128), sim=np.zeros((4, 3)), layer_map=[None, None, None])
    assert v.relationship == "shares-ancestor" and v.derived
    assert "no suspect layer maps" in v.reasons[-1]
    assert "pruning" not in v.transformations


def test_structure_rules():
    up = _decide(sus=_fp(n_layers=6), sim=np.ones((4, 6)) * 0.97, layer_map=[0, 1, 2, 1, 2, 3])
    assert up.relationship == "depth-upscaled"
    pruned = _decide(sus=_fp(n_layers=3, ffn=128), sim=np.ones((4, 3)) * 0.95, layer_map=[0, 1, 3])
    assert pruned.relationship == "pruned" and pruned.transformations["pruning"][
        "dropped_reference_layers"
    ] == [2]
    partial = _decide(layer_map=[0, 1, None, None])
    assert partial.relationship == "partial" and partial.transformations["copied_layers"] == {"0": 0, "1": 1}


def test_function_equal_is_obfuscation_and_drift_splits_finetune_from_cpt():
    obf = _decide(sim=np.eye(4) * (FUNCTION_EQUAL + 0.01))
    assert obf.relationship == "obfuscated-copy"
    ft = _decide(sim=np.eye(4) * (FINE_TUNE_MIN + 0.1))
    assert ft.relationship == "fine-tuned"
    cpt = _decide(sim=np.eye(4) * (FINE_TUNE_MIN - 0.2))
    assert cpt.relationship == "continued-pretraining"
    assert "possible_merge" in cpt.transformations  # uniform intermediate similarity is flagged


@pytest.mark.parametrize("p_second, expected", [(1e-9, "merged"), (0.5, "fine-tuned")])
def test_merge_needs_two_significant_parents(p_second, expected):
    parents = [
        ParentMatch("p1", -30.0, 1e-30, 0.9, share=0.6),
        ParentMatch("p2", float(np.log10(p_second)), p_second, 0.9, share=0.4),
    ]
    v = _decide(parents=parents)
    assert v.relationship == expected
    if expected == "merged":
        assert v.transformations["merge"] == {"p1": 0.6, "p2": 0.4}


def _shared_init_stats(raw_r: float, log10p_bf: float):
    st = _stats(np.eye(4) * 0.02, [0, 1, None, None], log10p=-6.0)
    st.s2 = np.arctanh(np.full((4, 4), 0.01) + np.eye(4) * (raw_r - 0.01))
    st.log10p_basis_free = log10p_bf
    return st


def _found():
    return Explanation(
        raw=RawIdentity(compared=39, same=0, mean_corr=0.1),
        residual=None,
        vocabulary=VocabularyRelation(VocabChange.SAME),
        neurons=None,
        parents=[],
        same_architecture=True,
    )


def _init_pair(parent_share: float | None, seed: int = 0):
    """Two fingerprints' raw samples over 28 block matrices of spread scales: sharing one random init
    (the same N(0, 0.02^2) values plus each model's own training, ``parent_share`` None), or the suspect
    holding ``parent_share`` of the reference's trained values (a trained parent)."""
    rng = np.random.default_rng(seed)
    raw_r, raw_s, rms_r, rms_s = {}, {}, {}, {}
    for k in range(28):
        key = f"blk.{k // 7}.m{k % 7}.weight"
        scale = 0.02 * np.exp(k / 10)  # trained scales spread by e^2.7
        if parent_share is None:
            init = rng.normal(0, 0.02, 256)
            a, b = init + rng.normal(0, scale, 256), init + rng.normal(0, scale, 256)
        else:
            a = rng.normal(0, scale, 256)
            b = parent_share * a + rng.normal(0, scale, 256)
        raw_r[key], raw_s[key] = a, b
        rms_r[key], rms_s[key] = float(np.sqrt(np.mean(a**2))), float(np.sqrt(np.mean(b**2)))
    return _fp(), _fp(), raw_r, raw_s, rms_r, rms_s


def _with_raw(parent_share: float | None):
    ref, sus, raw_r, raw_s, rms_r, rms_s = _init_pair(parent_share)
    ref.raw, sus.raw, ref.rms, sus.rms = raw_r, raw_s, rms_r, rms_s
    return ref, sus


def test_shared_initialisation_is_not_a_parent():
    """Issue 20: same init, other data came out "continued-pretraining"/"partial". A shared covariance
    that does not grow with the tensors' scale (the init's variance) with no basis-free match is a
    shared ancestor, and the output says what would tell a parent from a shared initialisation."""
    from taoke.weights.verdict import SHARED_COV_SLOPE_MAX, shared_covariance

    ref, sus = _with_raw(None)
    cov = shared_covariance(ref, sus)
    assert cov is not None and cov["slope"] < SHARED_COV_SLOPE_MAX
    assert 0.015 < cov["shared_sd"] < 0.025  # the init's SD, read back
    v = decide(ref, sus, _shared_init_stats(0.2, -0.1), _found(), alpha=1e-3)
    assert v.relationship == "shares-ancestor" and v.derived
    assert v.transformations["shared_ancestor"]["slope"] == pytest.approx(cov["slope"])
    assert v.reasons[-1].startswith("what would tell them apart: the common ancestor's weights")
    # a share of a trained parent's values (a weak merge) grows with the tensors' scale: not an init
    ref, sus = _with_raw(0.4)
    assert shared_covariance(ref, sus)["slope"] > SHARED_COV_SLOPE_MAX
    v = decide(ref, sus, _shared_init_stats(0.2, -0.1), _found(), alpha=1e-3)
    assert v.relationship != "shares-ancestor"
    # whole blocks of raw values (a transplant) are trained weights: not a shared ancestor
    ref, sus = _with_raw(1.0)
    v = decide(ref, sus, _shared_init_stats(0.98, -0.1), _found(), alpha=1e-3)
    assert v.relationship == "partial"
    # a significant basis-free match is the trained function: not a shared ancestor either
    ref, sus = _with_raw(None)
    v = decide(ref, sus, _shared_init_stats(0.1, -5.0), _found(), alpha=1e-3)
    assert v.relationship != "shares-ancestor"
    # no raw samples: nothing measured, no shared-init label
    v = decide(_fp(), _fp(), _shared_init_stats(0.1, -0.1), _found(), alpha=1e-3)
    assert v.relationship != "shares-ancestor"


def test_shares_ancestor_never_says_derived_from_the_reference():
    ref, sus = _with_raw(None)
    v = decide(ref, sus, _shared_init_stats(0.1, -0.1), _found(), alpha=1e-3)
    assert v.relationship == "shares-ancestor"
    assert v.reasons[0].endswith("the weights are related, not shown to derive from the reference")
    assert not any("weights derive from the reference" in r for r in v.reasons)


def test_text_report_says_related_not_derived_for_a_shared_ancestor():
    from taoke.render.compare import compare_renderables
    from taoke.weights import compare
    from taoke.zoo.evaluation import FingerprintCache

    cache = FingerprintCache()
    res = compare(cache.get("base-a"), cache.get("a-init-man"))
    assert res.relationship == "shares-ancestor"
    for lang, word in (("en", "related, not shown"), ("zh", "相关，但未表明来源")):
        head = str(compare_renderables(res, lang)[0].renderable)
        assert word in head and ": yes" not in head


def test_empty_layer_map_with_a_measured_width_cut_is_pruned_without_invented_layers():
    """smollm2-wpruned (unhealed width cut) has no single significant layer: the width cut read from
    the tensor shapes is measured, a list of "dropped" layers would not be."""
    ref = _fp(shapes={"token_embd.weight": [2048, 64], "blk.0.ffn_up.weight": [192, 64]})
    sus = _fp(d=48, ffn=128, shapes={"token_embd.weight": [2048, 48], "blk.0.ffn_up.weight": [128, 48]})
    v = _decide(ref=ref, sus=sus, sim=np.zeros((4, 4)), layer_map=[None] * 4)
    assert v.relationship == "pruned"
    assert "hidden size 64->48, FFN 192->128" in v.reasons[-1]
    assert v.transformations["pruning"]["dropped_reference_layers"] is None
    assert not any("dropped" in r for r in v.reasons)
    # the config's sizes alone (no shapes) are a claim: not pruned
    v = _decide(sus=_fp(d=48, ffn=128), sim=np.zeros((4, 4)), layer_map=[None] * 4)
    assert v.relationship == "shares-ancestor"
