"""taoke's own loaders must read every local zoo model, including the GGUF and the renamed ones."""

from __future__ import annotations

import numpy as np
import pytest

import taoke.model as TM  # the product's own loaders: an import error is a failure, never a skip
from taoke import zoo
from taoke.zoo import build as B
from taoke.zoo.catalog import MODELS

LOCAL = [m for m, r in MODELS.items() if not B.requires_real(m) and r.kind != "train"]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("zoo")


@pytest.mark.parametrize("mid", LOCAL)
def test_model_view_reads_zoo_model(mid, root):
    model = TM.load(str(zoo.materialize(mid, root)))
    source = mid
    while MODELS[source].kind in ("gguf", "rename", "family-gguf"):  # same config as the model made from
        source = MODELS[source].parents[0]
    cfg = B.load(source).cfg
    assert model.hparams.n_layers == cfg["num_hidden_layers"]
    # GPT-NeoX and BERT configs have no num_key_value_heads: multi-head attention, as transformers reads it
    assert model.hparams.n_kv_heads == cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    q = model.canonical("blk.0.attn_q.weight")
    d, h = cfg["hidden_size"], cfg["num_attention_heads"]
    # [heads x head_dim, d]: square except for the width-pruned models, which keep head_dim (issue 15.3)
    assert q.shape == (h * (cfg.get("head_dim") or d // h), d)


@pytest.mark.parametrize(
    "mid,tol",
    [
        ("a-yi", 0),
        ("a-baichuan", 0),
        ("a-neox", 0),
        ("a-gguf-f16", 0),
        ("a-gguf-q8_0", 0.01),
        ("a-gguf-q4_0", 0.2),
    ],
)
def test_canonical_view_undoes_renames_and_gguf_layout(mid, tol, root):
    base = B.load("base-a").w
    model = TM.load(str(zoo.materialize(mid, root)))
    for key, hf in (
        ("blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight"),
        ("blk.1.attn_k.weight", "model.layers.1.self_attn.k_proj.weight"),
        ("blk.3.attn_v.weight", "model.layers.3.self_attn.v_proj.weight"),
    ):
        err = np.abs(model.canonical(key) - base[hf]).max() / np.abs(base[hf]).max()
        assert err <= tol + 1e-7, (mid, key, err)
