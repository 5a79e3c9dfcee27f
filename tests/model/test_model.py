"""The Model view: roles, canonical keys, HF orientation, fused splits, GGUF un-permutation, real files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from taoke.errors import CorruptFile, SourceNotFound
from taoke.families import family
from taoke.model import load, permute_rope, unpermute_rope
from tests.helpers.need import require

torch = require("torch")
transformers = require("transformers")

from tests.helpers.llama import (  # noqa: E402
    baichuan_release,
    llama_gguf,
    llama_release,
    tiny_llama_state,
    write_release,
    yi_release,
)

HF_TO_CANON = family("llama").expected_names(2, tied=False)  # HF name -> canonical key


def test_llama_safetensors_canonical_equals_source(tmp_path):
    folder, state = llama_release(tmp_path / "llama")
    with load(folder) as m:
        assert m.family.family == "llama" and not m.family.renamed and m.family.agree
        assert m.format == "safetensors"
        assert set(m.canonical_keys()) == set(HF_TO_CANON.values())
        for hf, canon in HF_TO_CANON.items():
            np.testing.assert_array_equal(m.canonical(canon), state[hf])
            assert m.roles[hf].canonical == canon and m.roles[hf].hf_name == hf
        assert m.n_params == sum(v.size for v in state.values())
        hp = m.hparams
        assert (hp.n_layers, hp.d_model, hp.n_heads, hp.n_kv_heads, hp.head_dim, hp.ffn_dim) == (
            2,
            64,
            4,
            2,
            16,
            128,
        )
        assert hp.tied_embeddings is False and hp.rope_theta == 10000.0


def test_yi_renamed_norms_map_to_llama_roles(tmp_path):
    folder, state = yi_release(tmp_path / "yi")
    with load(folder) as m:
        assert m.family.label == "llama family, renamed"
        assert m.roles["model.layers.1.ln1.weight"].hf_name == "model.layers.1.input_layernorm.weight"
        np.testing.assert_array_equal(
            m.canonical("blk.1.attn_norm.weight"), state["model.layers.1.input_layernorm.weight"]
        )
        np.testing.assert_array_equal(
            m.canonical("blk.0.ffn_norm.weight"), state["model.layers.0.post_attention_layernorm.weight"]
        )
        assert m.code_files == ["modeling_yi.py"]  # listed, never imported
        assert "tokenizer.model" in m.tokenizer_files


def test_baichuan_w_pack_is_split_into_q_k_v(tmp_path):
    folder, state = baichuan_release(tmp_path / "bc")
    with load(folder) as m:
        assert m.family.family == "baichuan"
        role = m.roles["model.layers.1.self_attn.W_pack.weight"]
        assert role.parts == ("blk.1.attn_q.weight", "blk.1.attn_k.weight", "blk.1.attn_v.weight")
        for part, hf in (("q", "q_proj"), ("k", "k_proj"), ("v", "v_proj")):
            key = f"blk.1.attn_{part}.weight"
            np.testing.assert_array_equal(m.canonical(key), state[f"model.layers.1.self_attn.{hf}.weight"])
            assert m.canonical_shape(key) == m.canonical(key).shape


def test_gpt2_conv1d_is_transposed_and_c_attn_split(tmp_path):
    cfg = transformers.GPT2Config(n_embd=32, n_layer=2, n_head=4, vocab_size=50, n_positions=64)
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(cfg)
    state = {k: v.detach().numpy().copy() for k, v in hf.state_dict().items() if k != "lm_head.weight"}
    config = cfg.to_dict() | {"architectures": ["GPT2LMHeadModel"]}
    with load(write_release(tmp_path / "gpt2", state, config)) as m:
        assert m.family.family == "gpt2"
        w = state["transformer.h.1.attn.c_attn.weight"]  # Conv1D: [in, 3*out]
        np.testing.assert_array_equal(m.canonical("blk.1.attn_q.weight"), w[:, :32].T)
        np.testing.assert_array_equal(m.canonical("blk.1.attn_v.weight"), w[:, 64:].T)
        np.testing.assert_array_equal(
            m.canonical("blk.1.attn_k.bias"), state["transformer.h.1.attn.c_attn.bias"][32:64]
        )
        np.testing.assert_array_equal(
            m.canonical("blk.0.ffn_up.weight"), state["transformer.h.0.mlp.c_fc.weight"].T
        )
        # the q projection computed from the canonical tensor matches GPT-2's own attention input
        x = np.random.default_rng(0).standard_normal((3, 32)).astype(np.float32)
        ref = x @ w[:, :32] + state["transformer.h.1.attn.c_attn.bias"][:32]
        got = x @ m.canonical("blk.1.attn_q.weight").T + m.canonical("blk.1.attn_q.bias")
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def test_gpt_neox_query_key_value_is_deinterleaved_per_head(tmp_path):
    cfg = transformers.GPTNeoXConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=4,
        intermediate_size=64,
        vocab_size=50,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    hf = transformers.GPTNeoXForCausalLM(cfg)
    state = {k: v.detach().numpy().copy() for k, v in hf.state_dict().items()}
    config = cfg.to_dict() | {"architectures": ["GPTNeoXForCausalLM"]}
    with load(write_release(tmp_path / "neox", state, config)) as m:
        assert m.family.family == "gptneox"
        w = state["gpt_neox.layers.0.attention.query_key_value.weight"].reshape(4, 3, 8, 32)
        np.testing.assert_array_equal(m.canonical("blk.0.attn_q.weight"), w[:, 0].reshape(32, 32))
        np.testing.assert_array_equal(m.canonical("blk.0.attn_k.weight"), w[:, 1].reshape(32, 32))
        np.testing.assert_array_equal(m.canonical("blk.0.attn_v.weight"), w[:, 2].reshape(32, 32))
        b = state["gpt_neox.layers.0.attention.query_key_value.bias"].reshape(4, 3, 8)
        np.testing.assert_array_equal(m.canonical("blk.0.attn_v.bias"), b[:, 2].reshape(32))


def test_falcon_gqa_groups_layout(tmp_path):
    cfg = transformers.FalconConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_kv_heads=2,
        new_decoder_architecture=True,
        vocab_size=50,
        bias=False,
    )
    torch.manual_seed(0)
    hf = transformers.FalconForCausalLM(cfg)
    state = {k: v.detach().numpy().copy() for k, v in hf.state_dict().items() if k != "lm_head.weight"}
    config = cfg.to_dict() | {"architectures": ["FalconForCausalLM"]}
    with load(write_release(tmp_path / "falcon", state, config)) as m:
        assert m.family.family == "falcon"
        assert (m.hparams.n_heads, m.hparams.n_kv_heads) == (4, 2)
        qkv = state["transformer.h.0.self_attention.query_key_value.weight"]
        g = qkv.reshape(2, 4, 8, 32)  # [kv groups, 2 queries + k + v, head_dim, in]
        np.testing.assert_array_equal(m.canonical("blk.0.attn_q.weight"), g[:, :2].reshape(32, 32))
        np.testing.assert_array_equal(m.canonical("blk.0.attn_k.weight"), g[:, 2].reshape(16, 32))
        np.testing.assert_array_equal(m.canonical("blk.0.attn_v.weight"), g[:, 3].reshape(16, 32))
        # cross-check through transformers' public forward: a numpy forward pass of the one-layer model
        # that takes q, k and v from taoke's split (everything else from the state dict) must give
        # transformers' logits; a wrong grouping of the fused rows would not.
        ids = torch.tensor([[3, 17, 5, 42, 9]])
        with torch.no_grad():
            want = hf(ids).logits[0].numpy()
        got = _falcon_logits(state, m, ids[0].numpy(), heads=4, kv_heads=2, eps=cfg.layer_norm_epsilon)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def _falcon_logits(state, m, ids, *, heads, kv_heads, eps, theta=10000.0):
    """Logits of a one-layer new-architecture Falcon (parallel attention, GQA, RoPE, GELU, tied head)."""
    from scipy.special import erf

    def ln(x, name):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * state[name + ".weight"] + state[name + ".bias"]

    def rope(x):  # [T, H, hd], rotate_half layout
        t, _, hd = x.shape
        inv = 1.0 / theta ** (np.arange(0, hd, 2) / hd)
        ang = np.outer(np.arange(t), inv)
        cos = np.concatenate([np.cos(ang)] * 2, -1)[:, None, :]
        sin = np.concatenate([np.sin(ang)] * 2, -1)[:, None, :]
        rot = np.concatenate([-x[..., hd // 2 :], x[..., : hd // 2]], -1)
        return x * cos + rot * sin

    emb = state["transformer.word_embeddings.weight"]
    h = emb[ids].astype(np.float64)
    t, d = h.shape
    hd = d // heads
    a = ln(h, "transformer.h.0.ln_attn")
    q = rope((a @ m.canonical("blk.0.attn_q.weight").T).reshape(t, heads, hd))
    k = rope((a @ m.canonical("blk.0.attn_k.weight").T).reshape(t, kv_heads, hd))
    v = (a @ m.canonical("blk.0.attn_v.weight").T).reshape(t, kv_heads, hd)
    k, v = np.repeat(k, heads // kv_heads, 1), np.repeat(v, heads // kv_heads, 1)
    att = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(hd)
    att = np.where(np.tril(np.ones((t, t), bool)), att, -np.inf)
    att = np.exp(att - att.max(-1, keepdims=True))
    att /= att.sum(-1, keepdims=True)
    ctx = np.einsum("hqk,khd->qhd", att, v).reshape(t, d)
    attn_out = ctx @ state["transformer.h.0.self_attention.dense.weight"].T
    u = ln(h, "transformer.h.0.ln_mlp") @ state["transformer.h.0.mlp.dense_h_to_4h.weight"].T
    u = 0.5 * u * (1 + erf(u / np.sqrt(2)))
    h = h + attn_out + u @ state["transformer.h.0.mlp.dense_4h_to_h.weight"].T
    return ln(h, "transformer.ln_f") @ emb.T


def test_rope_permutation_round_trip():
    w = np.arange(6 * 8 * 5, dtype=np.float32).reshape(48, 5)
    for heads in (1, 2, 3, 6):
        np.testing.assert_array_equal(unpermute_rope(permute_rope(w, heads), heads), w)
        assert not np.array_equal(permute_rope(w, heads), w)


@pytest.mark.parametrize("qtype,tol", [("F32", 0.0), ("Q8_0", 2e-3), ("Q4_0", 2e-2)])
def test_gguf_llama_q_k_unpermuted_back_to_hf(tmp_path, qtype, tol):
    state, config = tiny_llama_state()
    path = llama_gguf(tmp_path / f"tiny-{qtype}.gguf", state, config, qtype)
    with load(path) as m:
        assert m.is_gguf and m.family.family == "llama"
        assert (m.hparams.n_heads, m.hparams.n_kv_heads) == (4, 2)
        for hf, canon in HF_TO_CANON.items():
            got, want = m.canonical(canon), state[hf]
            assert got.shape == want.shape, canon
            err = float(np.abs(got - want).max())
            assert err <= tol * max(1.0, float(np.abs(want).max())) + 1e-12, (canon, err)
        # the stored q rows really are permuted: reading them raw does not give HF's layout
        want = state["model.layers.0.self_attn.q_proj.weight"]
        canon_err = np.abs(m.canonical("blk.0.attn_q.weight") - want).max()
        assert np.abs(m.read("blk.0.attn_q.weight") - want).max() > 3 * canon_err + 1e-6


def test_smollm2_every_tensor_dequantized_through_the_view(smollm2_gguf):
    with load(smollm2_gguf) as m:
        assert m.family.family == "llama" and m.family.gguf_arch == "llama"
        hp = m.hparams
        assert (hp.n_layers, hp.d_model, hp.n_heads, hp.n_kv_heads, hp.ffn_dim, hp.vocab_size) == (
            30,
            576,
            9,
            3,
            1536,
            49152,
        )
        assert hp.tied_embeddings is True and hp.context_length == 8192
        expected = set(family("llama").expected_names(30, tied=True).values())
        assert set(m.canonical_keys()) == expected
        assert {t.dtype for t in m.tensor_infos.values()} == {"Q4_1", "Q8_0", "F32"}
        assert m.n_params == 134_515_008
        for key in m.canonical_keys():
            arr = m.canonical(key)
            assert arr.dtype == np.float32 and arr.shape == m.canonical_shape(key)
            assert np.isfinite(arr).all(), key
        q_raw = m.read("blk.3.attn_q.weight")
        np.testing.assert_array_equal(m.canonical("blk.3.attn_q.weight"), unpermute_rope(q_raw, 9))
        k_raw = m.read("blk.3.attn_k.weight")
        np.testing.assert_array_equal(m.canonical("blk.3.attn_k.weight"), unpermute_rope(k_raw, 3))


@pytest.mark.slow
def test_gemma3_every_tensor_dequantized_and_norm_shift_undone(gemma3_gguf):
    with load(gemma3_gguf) as m:
        assert m.family.family == "gemma3"
        assert (m.hparams.n_layers, m.hparams.d_model, m.hparams.head_dim) == (18, 640, 256)
        assert m.n_params == sum(t.numel for t in m.tensor_infos.values())
        for key in m.canonical_keys():
            arr = m.canonical(key)
            assert np.isfinite(arr).all(), key
        # llama.cpp stored Gemma's RMSNorm weights as 1 + w; the view gives HF's w back
        np.testing.assert_allclose(
            m.canonical("blk.0.attn_norm.weight"), m.read("blk.0.attn_norm.weight") - 1.0
        )
        np.testing.assert_array_equal(m.canonical("blk.0.attn_q.weight"), m.read("blk.0.attn_q.weight"))


def test_minilm_roles_and_orientation(minilm_dir):
    with load(minilm_dir) as m:
        assert m.family.family == "bert" and m.family.agree
        assert m.hparams.tied_embeddings is None  # an encoder has no output matrix to tie
        unmapped = sorted(set(m.tensor_infos) - set(m.roles))
        assert unmapped == ["embeddings.position_ids", "pooler.dense.bias", "pooler.dense.weight"]
        assert m.canonical("blk.0.attn_q.weight").shape == (384, 384)
        assert m.canonical("blk.5.ffn_up.weight").shape == (1536, 384)
        np.testing.assert_array_equal(
            m.canonical("token_embd.weight"), m.read("embeddings.word_embeddings.weight")
        )
        assert m.n_params == 22_713_216
        assert "tokenizer.json" in m.tokenizer_files


def test_sharded_release_merges_files(tmp_path):
    from safetensors.numpy import save_file

    state, config = tiny_llama_state()
    folder = tmp_path / "sharded"
    folder.mkdir()
    names = sorted(state)
    half = len(names) // 2
    shards = {
        "model-00001-of-00002.safetensors": names[:half],
        "model-00002-of-00002.safetensors": names[half:],
    }
    for fname, keys in shards.items():
        save_file({k: state[k] for k in keys}, str(folder / fname))
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {k: f for f, ks in shards.items() for k in ks}})
    )
    (folder / "config.json").write_text(json.dumps(config))
    with load(folder) as m:
        assert len(m.files) == 2 and len(m.tensor_infos) == len(state)
        np.testing.assert_array_equal(m.canonical("output.weight"), state["lm_head.weight"])


def test_duplicate_tensor_across_files_is_refused(tmp_path):
    from safetensors.numpy import save_file

    folder = tmp_path / "dup"
    folder.mkdir()
    for name in ("a.safetensors", "b.safetensors"):
        save_file({"model.norm.weight": np.ones(4, np.float32)}, str(folder / name))
    with pytest.raises(CorruptFile, match="stored twice"):
        load(folder)


def test_folder_without_weights_is_one_line_error(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(SourceNotFound) as info:
        load(tmp_path)
    assert "\n" not in str(info.value) and str(tmp_path) in str(info.value)


def test_pytorch_bin_release_through_the_restricted_loader(tmp_path):
    state, config = tiny_llama_state()
    folder = tmp_path / "bin"
    folder.mkdir()
    torch.save({k: torch.from_numpy(v) for k, v in state.items()}, folder / "pytorch_model.bin")
    (folder / "config.json").write_text(json.dumps(config))
    with load(folder) as m:
        assert m.format != "safetensors" and m.family.family == "llama"
        np.testing.assert_array_equal(
            m.canonical("blk.1.attn_k.weight"), state["model.layers.1.self_attn.k_proj.weight"]
        )


def test_llama_disguised_under_gpt_neox_names_is_undone(tmp_path):
    """LLaMA weights renamed to GPT-NeoX: q/k/v fused per kv group, [gate; up] fused in dense_h_to_4h."""
    state, config = tiny_llama_state()
    h, kv, hd = 4, 2, 16
    neox = {
        "gpt_neox.embed_in.weight": state["model.embed_tokens.weight"],
        "gpt_neox.final_layer_norm.weight": state["model.norm.weight"],
        "embed_out.weight": state["lm_head.weight"],
    }
    for i in range(2):
        p, q = f"model.layers.{i}.", f"gpt_neox.layers.{i}."
        wq = state[p + "self_attn.q_proj.weight"].reshape(kv, h // kv, hd, 64)
        wk = state[p + "self_attn.k_proj.weight"].reshape(kv, 1, hd, 64)
        wv = state[p + "self_attn.v_proj.weight"].reshape(kv, 1, hd, 64)
        neox[q + "attention.query_key_value.weight"] = np.concatenate([wq, wk, wv], axis=1).reshape(-1, 64)
        neox[q + "attention.dense.weight"] = state[p + "self_attn.o_proj.weight"]
        neox[q + "input_layernorm.weight"] = state[p + "input_layernorm.weight"]
        neox[q + "post_attention_layernorm.weight"] = state[p + "post_attention_layernorm.weight"]
        neox[q + "mlp.dense_h_to_4h.weight"] = np.concatenate(
            [state[p + "mlp.gate_proj.weight"], state[p + "mlp.up_proj.weight"]]
        )
        neox[q + "mlp.dense_4h_to_h.weight"] = state[p + "mlp.down_proj.weight"]
    cfg = {
        "architectures": ["GPTNeoXForCausalLM"],
        "model_type": "gpt_neox",
        "vocab_size": 96,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": h,
        "num_key_value_heads": kv,
        "hidden_act": "silu",
    }
    with load(write_release(tmp_path / "neox", neox, cfg)) as m:
        assert m.family.family == "gptneox"
        for hf, canon in HF_TO_CANON.items():
            np.testing.assert_array_equal(m.canonical(canon), state[hf])
