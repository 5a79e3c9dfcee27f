"""Architecture analyzer: family, renames (once per pattern), fusion, hyper-parameter and layout diffs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from taoke.analyzers.architecture import analyze, block_pattern
from taoke.errors import CorruptFile
from taoke.model import load
from tests.helpers.need import require

require("torch")
require("transformers")

from tests.helpers.llama import baichuan_release, llama_release, tiny_llama_state, write_release, yi_release  # noqa: E402


def _kinds(result):
    return [e.kind for e in result.evidence]


def test_block_pattern():
    assert block_pattern("model.layers.12.ln1.weight", 12) == "model.layers.*.ln1.weight"
    assert (
        block_pattern("encoder.block.1.layer.1.layer_norm.weight", 1)
        == "encoder.block.*.layer.1.layer_norm.weight"
    )
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
        {
            "stored": "model.layers.*.ln1.weight",
            "canonical": "model.layers.*.input_layernorm.weight",
            "count": 2,
        },
        {
            "stored": "model.layers.*.ln2.weight",
            "canonical": "model.layers.*.post_attention_layernorm.weight",
            "count": 2,
        },
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
    assert r.fused == [
        {
            "stored": "model.layers.*.self_attn.W_pack.weight",
            "parts": ["blk.*.attn_q.weight", "blk.*.attn_k.weight", "blk.*.attn_v.weight"],
            "layout": "rows",
            "count": 2,
        }
    ]
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


def _transformers_cases():
    import transformers as T

    small = dict(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    return {
        "llama": (T.LlamaConfig(**small), T.LlamaForCausalLM),
        "mistral": (T.MistralConfig(**small), T.MistralForCausalLM),
        "qwen2": (T.Qwen2Config(**small), T.Qwen2ForCausalLM),
        "qwen3": (T.Qwen3Config(**small, head_dim=8), T.Qwen3ForCausalLM),
        "gemma": (T.GemmaConfig(**small, head_dim=8), T.GemmaForCausalLM),
        "gemma2": (T.Gemma2Config(**small, head_dim=8), T.Gemma2ForCausalLM),
        "gemma3": (T.Gemma3TextConfig(**small, head_dim=8), T.Gemma3ForCausalLM),
        "phi": (T.PhiConfig(**small), T.PhiForCausalLM),
        "phi3": (T.Phi3Config(**small, pad_token_id=0), T.Phi3ForCausalLM),
        "gpt2": (
            T.GPT2Config(n_embd=32, n_layer=2, n_head=4, vocab_size=64, n_positions=64),
            T.GPT2LMHeadModel,
        ),
        "gptneox": (
            T.GPTNeoXConfig(
                hidden_size=32,
                num_hidden_layers=2,
                num_attention_heads=4,
                intermediate_size=64,
                vocab_size=64,
            ),
            T.GPTNeoXForCausalLM,
        ),
        "falcon": (
            T.FalconConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, vocab_size=64),
            T.FalconForCausalLM,
        ),
        "bert": (
            T.BertConfig(
                hidden_size=32,
                num_hidden_layers=2,
                num_attention_heads=4,
                intermediate_size=64,
                vocab_size=64,
            ),
            T.BertModel,
        ),
        "t5": (
            T.T5Config(d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4, vocab_size=64),
            T.T5ForConditionalGeneration,
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "llama",
        "mistral",
        "qwen2",
        "qwen3",
        "gemma",
        "gemma2",
        "gemma3",
        "phi",
        "phi3",
        "gpt2",
        "gptneox",
        "falcon",
        "bert",
        "t5",
    ],
)
def test_transformers_layout_of_each_family_is_clean(tmp_path, name):
    """What transformers itself saves for each family: identified, config and layout agree, no diff."""
    import torch

    config, cls = _transformers_cases()[name]
    torch.manual_seed(0)
    model = cls(config)
    state, seen = {}, set()
    for k, v in model.state_dict().items():  # drop tied duplicates, as save_pretrained does
        if v.data_ptr() not in seen:
            seen.add(v.data_ptr())
            state[k] = v.detach().numpy().copy()
    folder = write_release(tmp_path / name, state, config.to_dict() | {"architectures": [cls.__name__]})
    with load(folder) as m:
        r = analyze(m)
        assert m.family.family == name and m.family.agree, m.family.why
        assert [e.message for e in r.evidence if e.severity != "info"] == []
        for key in m.canonical_keys():
            assert m.canonical(key).shape == m.canonical_shape(key), key
        if name == "phi3":  # gate_up_proj = [gate; up] rows, qkv_proj = [q; k; v] rows
            gate_up = state["model.layers.0.mlp.gate_up_proj.weight"]
            np.testing.assert_array_equal(m.canonical("blk.0.ffn_gate.weight"), gate_up[:64])
            np.testing.assert_array_equal(m.canonical("blk.0.ffn_up.weight"), gate_up[64:])
            qkv = state["model.layers.1.self_attn.qkv_proj.weight"]
            np.testing.assert_array_equal(m.canonical("blk.1.attn_k.weight"), qkv[32:48])


def test_absurd_layer_count_in_config_is_bounded(tmp_path):
    """A layer count no model has is refused where the config is read (one line naming the file); a
    plausible lie is a claim the architecture check measures against the tensors."""
    state, config = tiny_llama_state()
    config["num_hidden_layers"] = 10**12
    with pytest.raises(CorruptFile, match="num_hidden_layers") as err:
        load(write_release(tmp_path / "absurd", state, config))
    assert "config.json" in str(err.value) and "\n" not in str(err.value)
    config["num_hidden_layers"] = 4096
    with load(write_release(tmp_path / "liar", state, config)) as m:
        r = analyze(m)
    mism = next(d for d in r.hparam_diffs if d["param"] == "n_layers")
    assert mism["declared"] == 4096 and mism["actual"] == 2
    missing = {d["name"]: d["count"] for d in r.missing}
    assert missing["model.layers.*.self_attn.q_proj.weight"] == 4096 - 2


def test_many_extra_patterns_are_one_finding_past_the_cap(tmp_path):
    """600 distinct unmapped names beside a llama: every pattern is listed in ``extra`` (JSON), the
    first EXTRA_FINDINGS are findings of their own and the rest one finding with their counts (issue 16:
    100,000 findings cost more to render than the analysis); the text role table shows ROLE_ROWS groups
    and says how many it left out."""
    from taoke.analyzers.architecture import EXTRA_FINDINGS
    from taoke.jobs.inspect import inspect
    from taoke.render.inspect import ROLE_ROWS, inspect_renderables

    state, config = tiny_llama_state()
    n = 600
    for i in range(n):
        state[f"model.layers.{i}.extra.w{i}"] = np.zeros(1, np.float32)
    folder = write_release(tmp_path / "many", state, config)
    with load(folder) as m:
        r = analyze(m)
    assert r.family["label"] == "llama family"
    assert len(r.extra) == n and sum(d["count"] for d in r.extra) == n
    single = [e for e in r.evidence if e.kind == "extra-tensor"]
    rest = [e for e in r.evidence if e.kind == "extra-tensors"]
    assert len(single) == EXTRA_FINDINGS and len(rest) == 1
    assert rest[0].detail == {"patterns": n - EXTRA_FINDINGS, "count": n - EXTRA_FINDINGS}
    assert rest[0].message.startswith(f"{n - EXTRA_FINDINGS} more tensor name patterns")
    result = inspect(folder)
    assert len(result.tensor_groups) > ROLE_ROWS  # the llama roles' groups plus one per extra name
    roles = next(t for t in inspect_renderables(result) if "tensor roles" in str(getattr(t, "title", "")))
    assert roles.row_count == ROLE_ROWS
    hidden = len(result.tensor_groups) - ROLE_ROWS
    assert roles.caption.startswith(f"... and {hidden} more groups")
