"""Obfuscated copies must compute the same function as their source: checked with a real LLaMA forward."""

from __future__ import annotations

import numpy as np
import pytest

from taoke import zoo
from taoke.zoo import build as B
from taoke.zoo.catalog import MODELS
from tests.helpers.need import require

torch = require("torch")
require("transformers")
pytestmark = pytest.mark.torch

from taoke.zoo.forward import llama_logits  # noqa: E402

OBFUSCATED = [m for m, r in MODELS.items() if r.kind == "obfuscate" and not m.startswith("smollm2")]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("zoo")


@pytest.fixture(scope="module")
def ids():
    return np.random.default_rng(0).integers(0, 2048, size=(2, 48))


def _parent(mid):
    return B.load(MODELS[mid].parents[0])


@pytest.mark.parametrize("mid", OBFUSCATED)
def test_obfuscation_preserves_logits_in_float32(mid, ids):
    parent = _parent(mid)
    cfg, w, _ = B.obfuscate(parent.w, parent.cfg, MODELS[mid].params["ops"], MODELS[mid].params["seed"])
    ref = llama_logits(parent.cfg, parent.w, ids)
    out = llama_logits(cfg, w, ids)
    assert np.abs(out - ref).max() < 1e-3 * max(1.0, np.abs(ref).max())
    # and it really changed the weights
    changed = [
        k
        for k in parent.w
        if k in w and w[k].shape == parent.w[k].shape and not np.allclose(w[k], parent.w[k])
    ]
    assert len(changed) >= 4, changed


@pytest.mark.parametrize("mid", ["a-obf-all", "a-rotate", "c-obf-all", "a-scale-norms"])
def test_released_float16_files_preserve_function(mid, ids, root):
    """What is written to disk (float16) still predicts the same next tokens as the source."""
    folder = zoo.materialize(mid, root)
    import json

    cfg = json.loads((folder / "config.json").read_text())
    w = {k: v.astype(np.float32) for k, v in B._load_any(folder / "model.safetensors").items()}
    parent = _parent(mid)
    ref = llama_logits(parent.cfg, parent.w, ids)
    out = llama_logits(cfg, w, ids)
    assert np.abs(out - ref).max() < 0.05 * np.abs(ref).max()
    assert np.mean(out.argmax(-1) == ref.argmax(-1)) > 0.95


def test_non_preserving_derivatives_do_change_function(ids):
    base = B.load("base-a")
    ref = llama_logits(base.cfg, base.w, ids)
    for mid in ("a-ft-man", "a-upscaled", "a-pruned"):
        d = B.load(mid)
        out = llama_logits(d.cfg, d.w, ids)
        assert np.abs(out - ref).mean() > 1e-2, mid


def test_zoo_folder_loads_in_transformers(root):
    from transformers import AutoModelForCausalLM

    for mid in ("base-a", "a-obf-all", "a-vocabext"):
        model = AutoModelForCausalLM.from_pretrained(zoo.materialize(mid, root))
        assert type(model).__name__ == "LlamaForCausalLM"
