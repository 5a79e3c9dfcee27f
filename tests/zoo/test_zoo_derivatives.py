"""Each zoo derivative is what its label says: checked on the weights, with numpy (no torch needed)."""

from __future__ import annotations

import json

import gguf
import numpy as np
import pytest
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from taoke import zoo
from taoke.zoo import build as B
from taoke.zoo import transforms as T
from taoke.zoo.gguf_io import permute_qk, read_llama_gguf, unpermute_qk
from taoke.zoo.tok import extend_tokenizer


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("zoo")


@pytest.fixture(scope="module")
def base():
    return B.load("base-a")


def _weights(root, model_id):
    folder = zoo.materialize(model_id, root)
    return json.loads((folder / "config.json").read_text()), B._load_any(folder / "model.safetensors")


def test_folders_have_release_files(root):
    for mid in ("base-a", "a-yi", "a-obf-all", "a-ft-man", "merge-ft-slerp", "a-vocabext"):
        folder = zoo.materialize(mid, root)
        for name in ("config.json", "model.safetensors", "tokenizer.json", "README.md"):
            assert (folder / name).is_file(), (mid, name)
        card = (folder / "README.md").read_text()
        assert card.startswith("---\nlicense: ")
        assert ("base_model:" in card) == B.MODELS[mid].declares_base


def test_casts(root, base):
    _, w16 = _weights(root, "a-copy")
    _, w32 = _weights(root, "a-fp32")
    _, wbf = _weights(root, "a-bf16")
    for k, v in base.w.items():
        assert np.array_equal(w16[k].astype(np.float32), v)
        assert w32[k].dtype == np.float32 and np.array_equal(w32[k], v)
        assert np.allclose(wbf[k], v, rtol=2**-8, atol=1e-30)
        assert not np.array_equal(wbf[k], v) or v.size < 8
    assert (
        json.loads((zoo.materialize("a-bf16", root) / "config.json").read_text())["torch_dtype"] == "bfloat16"
    )


@pytest.mark.parametrize("qtype,tol", [("f16", 0.0), ("q8_0", 0.01), ("q4_0", 0.2)])
def test_gguf_export_round_trip(root, base, qtype, tol):
    path = zoo.materialize(f"a-gguf-{qtype}", root)
    reader = gguf.GGUFReader(str(path))
    assert reader.fields["general.architecture"].contents() == "llama"
    assert len(reader.fields["tokenizer.ggml.tokens"].contents()) == 2048
    assert len(reader.tensors) == len(base.w)
    cfg, w, tok = read_llama_gguf(path)
    assert cfg["num_key_value_heads"] == 2 and cfg["hidden_size"] == 64
    for k, v in base.w.items():
        err = np.abs(w[k] - v).max() / np.abs(v).max()
        assert err <= tol + 1e-7, (k, err)
    assert (
        Tokenizer.from_str(tok).encode("def f(x): return x").ids
        == Tokenizer.from_str(base.tok).encode("def f(x): return x").ids
    )


def test_gguf_qk_permutation_is_llama_cpp_layout():
    rows = np.arange(2 * 8, dtype=np.float32)[:, None]  # 2 heads of dim 8
    permuted = permute_qk(rows, 2)[:, 0]
    # rotate-half pairs (0,4),(1,5).. of each head become adjacent (interleaved) in GGML
    assert permuted[:8].tolist() == [0, 4, 1, 5, 2, 6, 3, 7]
    assert np.array_equal(unpermute_qk(permute_qk(rows, 2), 2), rows)


def test_renamed_copies_invert_exactly(root, base):
    cfg, yi = _weights(root, "a-yi")
    assert cfg["architectures"] == ["YiForCausalLM"] and cfg["model_type"] == "Yi"
    assert any(".ln1." in k for k in yi) and not any("layernorm" in k for k in yi)
    back = {
        k.replace(".ln1.", ".input_layernorm.").replace(".ln2.", ".post_attention_layernorm."): v
        for k, v in yi.items()
    }
    cfg_b, bc = _weights(root, "a-baichuan")
    cfg_n, nx = _weights(root, "a-neox")
    assert cfg_b["architectures"] == ["BaichuanForCausalLM"] and cfg_n["model_type"] == "gpt_neox"
    assert bc["model.layers.0.self_attn.W_pack.weight"].shape == (64 + 32 + 32, 64)
    for restored in (back, T.from_baichuan(bc, base.cfg), T.from_neox(nx, base.cfg)):
        assert set(restored) == set(base.w)
        for k, v in base.w.items():
            assert np.array_equal(restored[k].astype(np.float32), v), k
    # NeoX interleaving really is per group, not plain concatenation
    stacked = np.concatenate([base.w[f"model.layers.0.self_attn.{p}_proj.weight"] for p in "qkv"])
    assert not np.array_equal(nx["gpt_neox.layers.0.attention.query_key_value.weight"], stacked)


def test_permuted_copies_equal_original_up_to_recorded_permutation(root, base):
    _, w = _weights(root, "a-perm-resid")
    perm = zoo.ground_truth("a-perm-resid", root)["perm_resid"]
    assert sorted(perm.tolist()) == list(range(64)) and perm.tolist() != list(range(64))
    assert np.array_equal(w["model.embed_tokens.weight"], base.w["model.embed_tokens.weight"][:, perm])
    assert np.array_equal(
        w["model.layers.1.mlp.down_proj.weight"], base.w["model.layers.1.mlp.down_proj.weight"][perm]
    )
    assert np.array_equal(
        w["model.layers.2.self_attn.q_proj.weight"], base.w["model.layers.2.self_attn.q_proj.weight"][:, perm]
    )

    _, w = _weights(root, "a-perm-ffn")
    truth = zoo.ground_truth("a-perm-ffn", root)
    for i in range(4):
        p = truth[f"ffn.{i}"]
        assert np.array_equal(
            w[f"model.layers.{i}.mlp.up_proj.weight"], base.w[f"model.layers.{i}.mlp.up_proj.weight"][p]
        )
        assert np.array_equal(
            w[f"model.layers.{i}.mlp.down_proj.weight"],
            base.w[f"model.layers.{i}.mlp.down_proj.weight"][:, p],
        )

    _, w = _weights(root, "a-perm-heads")
    truth = zoo.ground_truth("a-perm-heads", root)
    for i in range(4):
        q, kv = truth[f"heads.{i}.q"], truth[f"heads.{i}.kv"]
        assert all(q[j] // 2 == kv[j // 2] for j in range(4)), "query heads must stay with their GQA group"
        k_old = base.w[f"model.layers.{i}.self_attn.k_proj.weight"].reshape(2, 16, 64)
        assert np.array_equal(w[f"model.layers.{i}.self_attn.k_proj.weight"].reshape(2, 16, 64), k_old[kv])
        q_old = base.w[f"model.layers.{i}.self_attn.q_proj.weight"].reshape(4, 16, 64)
        assert np.array_equal(w[f"model.layers.{i}.self_attn.q_proj.weight"].reshape(4, 16, 64), q_old[q])


def test_rotation_is_recorded_and_orthogonal(root, base):
    truth = zoo.ground_truth("a-rotate", root)
    q = truth["rotation"].astype(np.float64)
    assert np.allclose(q @ q.T, np.eye(64), atol=1e-5)
    _, w = _weights(root, "a-rotate")
    assert np.allclose(w["model.layers.0.input_layernorm.weight"], 1.0)
    assert np.allclose(w["model.embed_tokens.weight"], base.w["model.embed_tokens.weight"] @ q.T, atol=2e-3)


def test_merges_follow_their_formula(root):
    a, a2 = B.load("base-a").w, B.load("base-a2").w
    _, m = _weights(root, "merge-a-a2")
    for k in a:
        assert np.allclose(m[k].astype(np.float32), 0.6 * a[k] + 0.4 * a2[k], atol=2e-3, rtol=1e-3)
    f1, f2 = B.load("a-ft-man").w, B.load("a-ft-doc").w
    s = T.slerp_merge(f1, f2, 0.5)
    lin = T.linear_merge([f1, f2], [0.5, 0.5])
    k = "model.layers.1.mlp.up_proj.weight"
    assert np.allclose(np.linalg.norm(s[k]), (np.linalg.norm(f1[k]) + np.linalg.norm(f2[k])) / 2, rtol=0.05)
    assert not np.allclose(s[k], lin[k], atol=1e-7)
    ties = T.ties_merge(a, [f1, f2], density=0.2)
    changed = np.mean(ties[k] != a[k])
    assert 0.05 < changed <= 0.4, changed  # trimmed to the top 20% of each task vector


def test_structural_derivatives_have_their_recorded_shapes(root):
    cfg, w = _weights(root, "a-pruned")
    assert cfg["num_hidden_layers"] == 3 and cfg["intermediate_size"] == 128
    assert w["model.layers.2.mlp.up_proj.weight"].shape == (128, 64)
    cfg, w = _weights(root, "a-upscaled")
    assert cfg["num_hidden_layers"] == 6 and "model.layers.5.mlp.up_proj.weight" in w
    cfg, w = _weights(root, "a-vocabext")
    folder = zoo.materialize("a-vocabext", root)
    vocab = json.loads((folder / "tokenizer.json").read_text())["model"]["vocab"]
    old = json.loads(B.tokenizer_json("tok-code"))["model"]["vocab"]
    assert cfg["vocab_size"] == len(vocab) == 2048 + 256 == w["model.embed_tokens.weight"].shape[0]
    assert all(vocab[t] == i for t, i in old.items())
    cfg, w = _weights(root, "a2-partial-a")
    assert cfg["num_hidden_layers"] == 4


def test_healed_derivatives_moved_away_from_parent_but_stayed_close():
    a = B.load("base-a").w
    for mid in ("a-ft-man", "a-lora-man", "a-cpt-man"):
        w = B.load(mid).w
        k = "model.layers.1.self_attn.q_proj.weight"
        rel = np.linalg.norm(w[k] - a[k]) / np.linalg.norm(a[k])
        assert 1e-4 < rel < 1.0, (mid, rel)
    cpt, ft = B.load("a-cpt-man").w, B.load("a-ft-man").w
    k = "model.layers.2.mlp.up_proj.weight"
    assert np.linalg.norm(cpt[k] - a[k]) > np.linalg.norm(ft[k] - a[k])


def test_extend_tokenizer_appends_reachable_merges():
    new_json, added = extend_tokenizer(B.tokenizer_json("tok-code"), B.tokenizer_json("tok-man"), 50)
    assert len(added) == 50
    tok = Tokenizer.from_str(new_json)
    assert tok.get_vocab_size() == 2048 + 50
    text = " ".join(t.replace("Ġ", " ") for t in added[:10])
    assert any(i >= 2048 for i in tok.encode(text).ids)


def test_committed_checkpoints_are_float16():
    path = B.checkpoint_dir() / "checkpoints" / "base-a.safetensors"
    assert all(v.dtype == np.float16 for v in load_file(str(path)).values())
