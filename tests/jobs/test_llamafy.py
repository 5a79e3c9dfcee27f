"""llamafy: renamed/fused LLaMA-family releases -> canonical HF Llama, verified bit for bit and by logits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from taoke.errors import AnalysisError, TaokeError
from taoke.jobs import llamafy
from taoke.model import load
from taoke.rewrite import reference_logits
from tests.helpers.need import require

torch = require("torch")
transformers = require("transformers")

from tests.helpers.llama import (  # noqa: E402
    baichuan_release,
    llama_gguf,
    tiny_llama_state,
    write_release,
    yi_release,
)


def _hf_logits(folder, tokens):
    model = transformers.LlamaForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    with torch.no_grad():
        return model(torch.from_numpy(tokens)).logits.double().numpy()


def test_reference_forward_matches_transformers_on_the_original(tmp_path):
    """The reference forward itself is checked against transformers on an untouched Llama."""
    state, config = tiny_llama_state(seed=3)
    folder = write_release(tmp_path / "orig", state, config)
    tokens = np.random.default_rng(1).integers(0, 96, size=(2, 9))
    with load(folder) as m:
        ref = reference_logits(m, tokens)
    np.testing.assert_allclose(ref, _hf_logits(folder, tokens), atol=1e-4)


def test_yi_round_trip(tmp_path):
    src, state = yi_release(tmp_path / "yi", card="# Yi\nlicense: apache-2.0\n")
    out = tmp_path / "out"
    res = llamafy(src, out)
    assert res.verify["bitwise"]["equal"] == res.verify["bitwise"]["checked"] == 21
    assert res.verify["bitwise"]["output_family"] == "llama"
    logits = res.verify["logits"]
    assert logits["passed"] and logits["max_abs_diff"] < 1e-4 and logits["argmax_agreement"] == 1.0
    assert res.renamed == 4 and res.split == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["architectures"] == ["LlamaForCausalLM"] and cfg["model_type"] == "llama"
    assert cfg["num_key_value_heads"] == 2 and cfg["tie_word_embeddings"] is False
    assert not (out / "modeling_yi.py").exists()  # the release code is not carried over
    assert (out / "tokenizer.model").exists() and (out / "README.md").exists()
    # the output is the original LLaMA: same tensors under the canonical names, loads without custom code
    from safetensors.numpy import load_file

    written = load_file(str(out / "model.safetensors"))
    assert set(written) == set(state)
    for k, v in state.items():
        np.testing.assert_array_equal(written[k], v)
    tokens = np.random.default_rng(2).integers(0, 96, size=(1, 7))
    orig = write_release(tmp_path / "orig", state, tiny_llama_state()[1])
    np.testing.assert_allclose(_hf_logits(out, tokens), _hf_logits(orig, tokens), atol=1e-5)
    assert not [p for p in tmp_path.iterdir() if ".taoke-" in p.name]  # no temp folder left behind


def test_baichuan_w_pack_round_trip_sharded(tmp_path):
    src, state = baichuan_release(tmp_path / "bc")
    out = tmp_path / "out"
    res = llamafy(src, out, shard_bytes=40_000)
    assert res.split == 6 and len(res.shards) > 1
    assert (out / "model.safetensors.index.json").exists()
    assert res.verify["logits"]["passed"]
    with load(out) as m:
        assert m.family.label == "llama family"
        for k, v in state.items():
            np.testing.assert_array_equal(m.read(k), v)


def test_gguf_llama_to_hf(tmp_path):
    state, config = tiny_llama_state()
    gguf_path = llama_gguf(tmp_path / "tiny.gguf", state, config, "F32")
    out = tmp_path / "out"
    res = llamafy(gguf_path, out)
    assert res.verify["logits"]["passed"]
    with load(out) as m:  # F32 GGUF: un-permuted q/k equal the original HF weights exactly
        for k, v in state.items():
            np.testing.assert_array_equal(m.read(k), v)


def test_refuses_existing_output_and_non_llama(tmp_path, minilm_dir):
    src, _ = yi_release(tmp_path / "yi")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(TaokeError, match="--force"):
        llamafy(src, out)
    assert (out / "keep.txt").read_text() == "mine"
    # issue 17: --force replaces llamafy's own output only; the user's file is never deleted
    with pytest.raises(TaokeError, match="did not write"):
        llamafy(src, out, force=True, verify_logits=False)
    assert (out / "keep.txt").read_text() == "mine"
    (out / "keep.txt").unlink()
    res = llamafy(src, out, force=True, verify_logits=False)  # an empty folder may be filled
    assert res.verify["logits"] is None and not (out / "keep.txt").exists()
    with pytest.raises(AnalysisError, match="not a LLaMA-layout family"):
        llamafy(minilm_dir, tmp_path / "bert-out")
    assert not (tmp_path / "bert-out").exists()
    assert not [p for p in tmp_path.iterdir() if ".taoke-" in p.name]


def test_lost_tensors_are_refused(tmp_path):
    state, config = tiny_llama_state()
    state["model.layers.0.self_attn.rotary_extra.weight"] = np.zeros((2, 2), np.float32)
    with pytest.raises(AnalysisError, match="would be lost"):
        llamafy(write_release(tmp_path / "x", state, config), tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_real_smollm2_gguf_llamafy(smollm2_gguf, tmp_path):
    """A real trained model: the transformers model built from OUT reproduces the reference logits."""
    res = llamafy(smollm2_gguf, tmp_path / "smollm2-hf")
    assert res.verify["bitwise"]["equal"] == res.verify["bitwise"]["checked"] == 272
    logits = res.verify["logits"]
    assert logits["passed"] and logits["argmax_agreement"] == 1.0
    cfg = json.loads((tmp_path / "smollm2-hf" / "config.json").read_text())
    assert cfg["tie_word_embeddings"] is True and cfg["num_key_value_heads"] == 3


def test_incomplete_llama_is_refused(tmp_path):
    state, config = tiny_llama_state()
    del state["model.layers.1.mlp.up_proj.weight"]
    with pytest.raises(AnalysisError, match="1 missing"):
        llamafy(write_release(tmp_path / "x", state, config), tmp_path / "out")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------- issue 17: never delete what taoke did not make


def test_force_never_deletes_a_folder_that_holds_the_source(tmp_path):
    """OUT a parent of SOURCE used to be deleted wholesale with --force, the source with it."""
    src, _ = yi_release(tmp_path / "models" / "yi")
    before = sorted(p.name for p in src.iterdir())
    with pytest.raises(TaokeError, match="contains the source") as err:
        llamafy(src, tmp_path / "models", force=True, verify_logits=False)
    assert "\n" not in str(err.value)
    assert sorted(p.name for p in src.iterdir()) == before  # the source is still there, whole
    with pytest.raises(TaokeError, match="inside the source"):
        llamafy(src, src / "out", verify_logits=False)
    assert not (src / "out").exists()
    assert not [p for p in tmp_path.rglob("*") if ".taoke-" in p.name]  # no stray temporary folder


def test_output_dot_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    """``taoke llamafy SRC . --force`` in a folder of one's own: refused in one line, exit 2, nothing made."""
    from taoke.cli.main import main

    src, _ = yi_release(tmp_path / "yi")
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("mine")
    monkeypatch.chdir(work)
    code = main(["llamafy", str(src), ".", "--force", "--no-logits"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "did not write" in err and "internal error" not in err
    assert sorted(p.name for p in work.iterdir()) == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work", "yi"]
    assert main(["llamafy", str(src), str(work / "yi-hf"), "--no-logits"]) == 0
    capsys.readouterr()
    # --force on llamafy's own output replaces it; a file the user added afterwards stops it
    assert main(["llamafy", str(src), str(work / "yi-hf"), "--force", "--no-logits"]) == 0
    (work / "yi-hf" / "my-notes.md").write_text("mine")
    assert main(["llamafy", str(src), str(work / "yi-hf"), "--force", "--no-logits"]) == 2
    assert (work / "yi-hf" / "my-notes.md").read_text() == "mine"


def test_dtype_float16_halves_the_output_and_is_verified(tmp_path):
    state, config = tiny_llama_state()
    gguf_path = llama_gguf(tmp_path / "tiny.gguf", state, config, "F32")
    (tmp_path / "LICENSE").write_text("Apache License\nVersion 2.0, January 2004\n")
    full = llamafy(gguf_path, tmp_path / "f32")
    assert "LICENSE" in full.copied  # the licence beside a single-file release travels with it
    assert (tmp_path / "f32" / "LICENSE").read_text().startswith("Apache License")
    half = llamafy(gguf_path, tmp_path / "f16", dtype="float16")
    assert full.dtype == "F32" and half.dtype == "F16"
    size = lambda d: (d / "model.safetensors").stat().st_size  # noqa: E731
    assert size(tmp_path / "f16") < 0.55 * size(tmp_path / "f32")
    assert half.verify["bitwise"]["equal"] == half.verify["bitwise"]["checked"]
    assert half.verify["logits"]["passed"] and half.verify["rounded_to"] == "F16"
    with load(tmp_path / "f16") as m:
        assert {t.dtype for t in m.tensor_infos.values()} == {"F16"}
    with pytest.raises(TaokeError, match="--dtype"):
        llamafy(gguf_path, tmp_path / "x", dtype="int3")


@pytest.mark.slow
def test_real_gguf_keeps_its_tokenizer_and_shrinks_with_dtype(smollm2_gguf, tmp_path):
    """The real SmolLM2 GGUF: OUT gets a tokenizer.json converted from the GGUF metadata that encodes
    like transformers' own GGUF conversion, and --dtype bfloat16 writes half of float32's bytes."""
    out = tmp_path / "smollm2-hf"
    res = llamafy(smollm2_gguf, out, dtype="bfloat16")
    assert "tokenizer.json" in res.copied and (out / "tokenizer.json").is_file()
    assert (out / "model.safetensors").stat().st_size < 0.55 * 134_515_008 * 4
    assert res.verify["logits"]["passed"] and res.verify["bitwise"]["mismatched"] == []
    mine = transformers.AutoTokenizer.from_pretrained(str(out))
    theirs = transformers.AutoTokenizer.from_pretrained(str(smollm2_gguf.parent), gguf_file=smollm2_gguf.name)
    for text in (
        "Hello world! The quick brown fox.",
        "  spaces,\ttabs\nnewlines",
        "我们在北京大学学习",
        "café 🦙",
    ):
        assert mine(text)["input_ids"] == theirs(text)["input_ids"]
