"""GGUF reader on real released models (SmolLM2, Gemma 3) and on files written with gguf.GGUFWriter."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q
from gguf import quants

from taoke.formats import open_tensor_file, sniff_format
from taoke.formats.gguf import GGUFFile


def _write(path: Path, tensors: dict[str, tuple[np.ndarray, Q]], tokens: list[str] | None = None) -> None:
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(2)
    w.add_context_length(4096)
    w.add_string("general.license", "mit")
    w.add_array("general.tags", ["a", "b"])
    if tokens is not None:
        w.add_tokenizer_model("gpt2")
        w.add_token_list(tokens)
        w.add_token_scores([float(i) for i in range(len(tokens))])
    for name, (array, qtype) in tensors.items():
        if qtype in (Q.F32, Q.F16):
            w.add_tensor(name, array.astype(np.float32 if qtype == Q.F32 else np.float16))
        else:
            w.add_tensor(name, quants.quantize(array, qtype), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_written_quantized_matches_source_within_quantization_error(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    src = {
        "blk.0.attn_q.weight": (rng.standard_normal((64, 256)).astype(np.float32), Q.Q8_0),
        "blk.0.ffn_up.weight": (rng.standard_normal((96, 128)).astype(np.float32), Q.Q4_0),
        "blk.0.attn_norm.weight": (rng.standard_normal(256).astype(np.float32), Q.F32),
        "token_embd.weight": (rng.standard_normal((10, 64)).astype(np.float32), Q.F16),
        "cube": (rng.standard_normal((2, 3, 64)).astype(np.float32), Q.Q8_0),
    }
    tokens = [f"tok{i}" for i in range(300)]
    path = tmp_path / "m.gguf"
    _write(path, src, tokens)
    assert sniff_format(path) == "gguf"
    with open_tensor_file(path) as f:
        assert isinstance(f, GGUFFile)
        infos = {t.name: t for t in f.tensors()}
        for name, (array, qtype) in src.items():
            assert infos[name].shape == array.shape and infos[name].dtype == qtype.name
            got = f.read(name)
            assert got.dtype == np.float32 and got.shape == array.shape
            if qtype in (Q.Q8_0, Q.Q4_0):  # identical to the gguf package's own dequantization
                np.testing.assert_array_equal(got, quants.dequantize(quants.quantize(array, qtype), qtype))
            block = array.reshape(-1, 32) if array.size % 32 == 0 else array.reshape(1, -1)
            amax = np.abs(block).max(axis=1, keepdims=True)
            err = np.abs(got.reshape(block.shape) - block)
            if qtype == Q.Q8_0:  # scale = amax/127; rounding error <= scale/2 (+ f16 scale rounding)
                assert (err <= amax / 127 * 0.51 + 1e-3 * amax).all(), name
            elif qtype == Q.Q4_0:  # scale = amax/8; 4-bit rounding error <= scale/2, clamped top <= scale
                assert (err <= amax / 8 * 1.01 + 1e-6).all(), name
                assert np.sqrt(np.mean(err**2)) < 0.15 * np.sqrt(np.mean(block**2)), name
            elif qtype == Q.F16:
                np.testing.assert_allclose(got, array, rtol=1e-3, atol=1e-4)
            else:
                np.testing.assert_array_equal(got, array)
        md = f.metadata()
        assert md["general.architecture"] == "llama" and md["llama.block_count"] == 2
        assert md["general.tags"] == ["a", "b"] and md["general.license"] == "mit"
        assert md["tokenizer.ggml.tokens"] == 300  # large arrays are summarised as their length
        assert f.field("tokenizer.ggml.tokens") == tokens
        assert f.field("tokenizer.ggml.tokens", raw=True)[5] == b"tok5"
        np.testing.assert_array_equal(f.field("tokenizer.ggml.scores"), np.arange(300, dtype=np.float32))
        assert f.field_type("tokenizer.ggml.tokens") == "ARRAY[STRING]"
        with pytest.raises(KeyError):
            f.field("no.such.key")


def test_smollm2_every_tensor(smollm2_gguf: Path) -> None:
    with open_tensor_file(smollm2_gguf) as f:
        md = f.metadata()
        assert md["general.architecture"] == "llama" and md["llama.block_count"] == 30
        assert md["llama.embedding_length"] == 576 and md["general.license"] == "apache-2.0"
        assert md["tokenizer.ggml.tokens"] == 49152
        tokens = f.field("tokenizer.ggml.tokens")
        assert len(tokens) == 49152 and tokens[0] == "<|endoftext|>"
        merges = f.field("tokenizer.ggml.merges")
        assert len(merges) == md["tokenizer.ggml.merges"] and all(" " in m for m in merges[:100])
        infos = f.tensors()
        assert {t.dtype for t in infos} >= {"Q4_1", "Q8_0", "F32"}
        shapes = {t.name: t.shape for t in infos}
        assert shapes["token_embd.weight"] == (49152, 576)  # PyTorch order: [vocab, d]
        assert shapes["blk.0.attn_k.weight"] == (192, 576)  # 3 kv heads * 64, d_model
        assert shapes["blk.0.ffn_down.weight"] == (576, 1536)
        n_params = 0
        for info in infos:
            x = f.read(info.name)
            assert x.shape == info.shape and x.dtype == np.float32 and np.isfinite(x).all(), info.name
            n_params += x.size
        assert 130e6 < n_params < 140e6
        [q8] = [t for t in infos if t.dtype == "Q8_0"]  # taoke's fast path equals gguf.quants exactly
        expected = quants.dequantize(f.read_raw(q8.name).reshape(q8.shape[0], -1), Q.Q8_0)
        np.testing.assert_array_equal(f.read(q8.name), expected)
        norm = f.read("blk.0.attn_norm.weight")
        assert norm.std() > 0  # trained weights, not a constant init


def test_gemma3_every_tensor(gemma3_gguf: Path) -> None:
    with open_tensor_file(gemma3_gguf) as f:
        md = f.metadata()
        assert md["general.architecture"] == "gemma3" and md["general.license"] == "gemma"
        infos = f.tensors()
        assert {"Q4_K", "Q6_K"} <= {t.dtype for t in infos}
        n_params = 0
        for info in infos:
            x = f.read(info.name)
            assert x.shape == info.shape and np.isfinite(x).all(), info.name
            n_params += x.size
        assert 250e6 < n_params < 300e6
        emb = f.read("token_embd.weight")
        assert emb.shape == (262144, 640) and 0.001 < float(emb.std()) < 10
