"""The data-only encoders reproduce llama.cpp's own expected segmentations (test-tokenizer-0 vectors)."""

from __future__ import annotations

from pathlib import Path

import pytest

from taoke.tokenizers import load_tokenizer
from taoke.tokenizers.encode import EncoderUnavailable, make_encoder, segment

T = "tokenizers"
ENCODABLE = [
    "bert/ggml-vocab-bert-bge.gguf",
    "deepseek/ggml-vocab-deepseek-coder.gguf",
    "deepseek/ggml-vocab-deepseek-llm.gguf",
    "falcon/ggml-vocab-falcon.gguf",
    "gpt2/ggml-vocab-gpt-2.gguf",
    "llama/ggml-vocab-llama-spm.gguf",
    "llama3/ggml-vocab-llama-bpe.gguf",
    "mpt/ggml-vocab-mpt.gguf",
    "phi3/ggml-vocab-phi-3.gguf",
    "qwen2/ggml-vocab-qwen2.gguf",
    "refact/ggml-vocab-refact.gguf",
    "starcoder/ggml-vocab-starcoder.gguf",
]


def _vectors(gguf: Path) -> list[tuple[str, list[int]]]:
    texts = gguf.with_name(gguf.name + ".inp").read_text(encoding="utf-8").split("\n__ggml_vocab_test__\n")
    outs = gguf.with_name(gguf.name + ".out").read_text(encoding="utf-8").split("\n")
    assert len(texts) == len(outs) and len(texts) > 40
    return [(t, [int(x) for x in o.split()]) for t, o in zip(texts, outs, strict=True)]


@pytest.mark.parametrize("rel", ENCODABLE)
def test_gguf_encoder_matches_llama_cpp_vectors(fixtures_dir: Path, rel: str) -> None:
    path = fixtures_dir / T / rel
    enc = make_encoder(load_tokenizer(path))
    wrong = [(t, enc.encode(t), ids) for t, ids in _vectors(path) if enc.encode(t) != ids]
    assert not wrong, wrong[:3]


@pytest.mark.parametrize(
    ("source", "vectors"),
    [
        ("llama3/tokenizer.model", "llama3/ggml-vocab-llama-bpe.gguf"),  # tiktoken ranks, LLaMA-3 pattern
    ],
)
def test_other_containers_match_the_vectors_of_their_vocabulary(
    fixtures_dir: Path, source: str, vectors: str
):
    enc = make_encoder(load_tokenizer(fixtures_dir / T / source))
    for text, ids in _vectors(fixtures_dir / T / vectors):
        assert enc.encode(text) == ids, text


def test_mislabelled_llama2_json_fails_llama2_vectors(fixtures_dir: Path) -> None:
    """The 'Llama-2' tokenizer.json (really Mistral v1) does not reproduce Llama-2's segmentation."""
    enc = make_encoder(load_tokenizer(fixtures_dir / T / "llama/llama2/tokenizer.json"))
    vec = _vectors(fixtures_dir / T / "llama/ggml-vocab-llama-spm.gguf")
    agree = sum(enc.encode(t) == ids for t, ids in vec)
    assert agree < len(vec) // 4


def test_unknown_pre_tokenizer_is_reported_not_guessed(fixtures_dir: Path) -> None:
    view = load_tokenizer(fixtures_dir / T / "gpt2/ggml-vocab-gpt-2.gguf")
    view.extra["ggml_pre"] = "made-up-pre"  # a pre-tokenizer whose splitting rule taoke does not know
    with pytest.raises(EncoderUnavailable, match="made-up-pre"):
        make_encoder(view)


def test_piece_hash_is_container_independent(fixtures_dir: Path) -> None:
    """Same vocabulary and splitting rule in two containers: same piece hash and id hash (chkhsh idea)."""
    a = segment(load_tokenizer(fixtures_dir / T / "llama3/tokenizer.model"))
    b = segment(load_tokenizer(fixtures_dir / T / "llama3/ggml-vocab-llama-bpe.gguf"))
    assert a.piece_hash == b.piece_hash and a.id_hash == b.id_hash
    c = segment(load_tokenizer(fixtures_dir / T / "qwen2/ggml-vocab-qwen2.gguf"))
    assert c.piece_hash != a.piece_hash
