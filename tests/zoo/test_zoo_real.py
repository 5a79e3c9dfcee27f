"""Derivatives of the real SmolLM2-135M: trained signals at real scale (needs the PyPI-shipped models).

These build into the zoo cache (TAOKE_ZOO_DIR), once; the first run takes a few minutes on two cores.
"""

from __future__ import annotations

import json

import gguf
import numpy as np
import pytest

from taoke import zoo
from taoke.zoo import build as B
from tests.helpers.need import require

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@pytest.fixture(scope="module")
def smol(smollm2_gguf):
    return B.load("smollm2-hf")


def test_dequantized_smollm2_is_hf_llama(smol):
    assert smol.cfg["num_hidden_layers"] == 30 and smol.cfg["num_key_value_heads"] == 3
    assert smol.cfg["tie_word_embeddings"] is True and "lm_head.weight" not in smol.w
    assert smol.w["model.embed_tokens.weight"].shape == (49152, 576)
    assert smol.w["model.layers.0.self_attn.k_proj.weight"].shape == (192, 576)


def test_smollm2_obfuscation_preserves_function(smol):
    require("torch")
    from taoke.zoo.forward import llama_logits

    cfg, w, _ = B.obfuscate(smol.w, smol.cfg, B.MODELS["smollm2-obf"].params["ops"], 41)
    ids = np.random.default_rng(1).integers(0, 49152, size=(1, 24))
    ref = llama_logits(smol.cfg, smol.w, ids)
    out = llama_logits(cfg, w, ids)
    assert np.abs(out - ref).max() < 1e-2 * np.abs(ref).max()
    assert "lm_head.weight" in w and not cfg["tie_word_embeddings"]  # folding the final norm unties the head


def test_smollm2_requantized_gguf(smol):
    path = zoo.materialize("smollm2-q8_0")
    reader = gguf.GGUFReader(str(path))
    assert {t.tensor_type.name for t in reader.tensors} == {"Q8_0", "F32"}
    from taoke.zoo.gguf_io import read_llama_gguf

    _, w, _ = read_llama_gguf(path)
    k = "model.layers.3.self_attn.q_proj.weight"
    assert np.abs(w[k] - smol.w[k]).max() < 0.01 * np.abs(smol.w[k]).max()


def test_smollm2_structural_derivatives(smol):
    cfg = json.loads((zoo.materialize("smollm2-pruned") / "config.json").read_text())
    assert cfg["num_hidden_layers"] == 24 and cfg["intermediate_size"] == 1024
    cfg = json.loads((zoo.materialize("smollm2-vocabext") / "config.json").read_text())
    assert 49152 < cfg["vocab_size"] <= 49152 + 256
    cfg = json.loads((zoo.materialize("smollm2-yi") / "config.json").read_text())
    assert cfg["architectures"] == ["YiForCausalLM"]


def test_other_families_are_the_real_releases(gemma3_gguf, minilm_dir):
    assert zoo.materialize("gemma3") == gemma3_gguf
    assert zoo.materialize("minilm") == minilm_dir
