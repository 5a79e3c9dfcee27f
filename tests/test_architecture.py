"""Architecture analyzer: family, renames (once per pattern), fusion, hyper-parameter and layout diffs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from taoke.analyzers.architecture import analyze, block_pattern
from taoke.model import load

pytest.importorskip("torch")
pytest.importorskip("transformers")

from helpers_llama import baichuan_release, llama_release, tiny_llama_state, write_release, yi_release  # noqa: E402


def _kinds(result):
    return [e.kind for e in result.evidence]


def test_block_pattern():
    assert block_pattern("model.layers.12.ln1.weight", 12) == "model.layers.*.ln1.weight"
    assert block_pattern("encoder.block.1.layer.1.layer_norm.weight", 1) == "encoder.block.*.layer.1.layer_norm.weight"
    assert block_pattern("blk.0.attn_q.weight", 0) == "blk.*.attn_q.weight"
    assert block_pattern("lm_head.weight", None) == "lm_head.weight"


def test_canonical_llama_has_no_diff(tmp_path):
    folder, _ = llama_release(tmp_path / "llama")
    with load(folder) as m:
        r = analyze(m)
    assert r.family["label"] == "llama family"
    assert r.renames == [] and r.fused == [] and r.missing == [] and r.extra == [] and r.hparam_diffs == []
    assert all(e.severity == "info" for e in r.evidence)


def test_yi_renames_reported_once_per_pattern_with_counts(tmp_path):
    folder, _ = yi_release(tmp_path / "yi")
    with load(folder) as m:
        r = analyze(m)
    assert r.family["label"] == "llama family, renamed"
    assert r.renames == [
        {"stored": "model.layers.*.ln1.weight", "canonical": "model.layers.*.input_layernorm.weight", "count": 2},
        {"stored": "model.layers.*.ln2.weight", "canonical": "model.layers.*.post_attention_layernorm.weight",
         "count": 2},
    ]
    kinds = _kinds(r)
    assert kinds.count("renamed-tensor") == 2
    assert "unknown-class" in kinds  # YiForCausalLM is not a llama class
    assert r.missing == [] and r.extra == []
    unknown = next(e for e in r.evidence if e.kind == "unknown-class")
    assert unknown.severity == "medium" and "YiForCausalLM" in unknown.message
    json.dumps(r.to_dict())  # JSON-able


def test_baichuan_fused_w_pack(tmp_path):
    folder, _ = baichuan_release(tmp_path / "bc")
    with load(folder) as m:
        r = analyze(m)
    assert r.family["family"] == "baichuan"
    assert r.fused == [{"stored": "model.layers.*.self_attn.W_pack.weight",
                        "parts": ["blk.*.attn_q.weight", "blk.*.attn_k.weight", "blk.*.attn_v.weight"],
                        "layout": "rows", "count": 2}]
    assert "llama-compatible" in _kinds(r)
    assert r.renames == [] and r.missing == []


def test_hparam_mismatch_missing_extra_and_tied(tmp_path):
    state, config = tiny_llama_state()
    del state["model.layers.1.mlp.gate_proj.weight"]
    state["model.layers.0.self_attn.q_proj.bias"] = np.zeros(64, np.float32)
    state["model.extra_adapter.weight"] = np.zeros((4, 4), np.float32)
    config["num_hidden_layers"] = 3  # the weights have 2 blocks
    config["hidden_act"] = "gelu"
    config["tie_word_embeddings"] = True  # but lm_head is stored separately
    with load(write_release(tmp_path / "odd", state, config)) as m:
        r = analyze(m)
    diffs = {d["param"]: d for d in r.hparam_diffs}
    assert diffs["n_layers"]["declared"] == 3 and diffs["n_layers"]["actual"] == 2
    assert diffs["hidden_act"]["declared"] == "gelu"
    missing = {d["name"]: d["count"] for d in r.missing}
    assert missing["model.layers.*.mlp.gate_proj.weight"] >= 1
    assert missing.get("model.layers.*.input_layernorm.weight") == 1  # block 2 announced, absent
    extra = {d["name"] for d in r.extra}
    assert "model.layers.*.self_attn.q_proj.bias" in extra and "model.extra_adapter.weight" in extra
    tied = next(e for e in r.evidence if e.kind == "tied-embeddings")
    assert tied.severity == "medium" and "tie_word_embeddings=True" in tied.message
    assert any(e.kind == "hparam-mismatch" and e.severity == "high" for e in r.evidence)


def test_config_layout_disagreement(tmp_path):
    state, config = tiny_llama_state()
    for i in range(2):  # qwen2's q/k/v biases on a release that calls itself llama
        for p, n in (("q", 64), ("k", 32), ("v", 32)):
            state[f"model.layers.{i}.self_attn.{p}_proj.bias"] = np.zeros(n, np.float32)
    with load(write_release(tmp_path / "q", state, config)) as m:
        r = analyze(m)
    assert r.family["family"] == "qwen2" and r.family["agree"] is False
    dis = next(e for e in r.evidence if e.kind == "family-disagreement")
    assert dis.severity == "high"


def test_real_gguf_and_minilm(smollm2_gguf, minilm_dir):
    with load(smollm2_gguf) as m:
        r = analyze(m)
    assert r.family["family"] == "llama" and r.missing == [] and r.extra == [] and r.hparam_diffs == []
    assert r.tied_embeddings is True
    with load(minilm_dir) as m:
        r = analyze(m)
    assert r.family["family"] == "bert" and r.missing == [] and r.renames == []
    assert [d["name"] for d in r.extra] == []  # pooler.* is an allowed part of BERT releases


def test_gemma3_gguf_layout(gemma3_gguf):
    with load(gemma3_gguf) as m:
        r = analyze(m)
    assert r.family["family"] == "gemma3" and r.missing == [] and r.extra == []
    assert r.tied_embeddings is True
