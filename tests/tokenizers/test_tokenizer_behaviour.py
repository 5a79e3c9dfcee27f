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


def test_every_pre_tokenizer_rule_runs() -> None:
    """Each name of the table (transcribed from llama.cpp's llama-vocab.cpp) compiles in HF tokenizers
    and splits a mixed text into pieces that cover it exactly."""
    from tokenizers import Regex, pre_tokenizers

    from taoke.tokenizers.encode import GGUF_PRE_PATTERNS, GGUF_PRE_UNSUPPORTED

    text = "Hello, WORLD's 12345 café 北京大学 \n\n  <sentinel:3> x=1;"
    for name, patterns in GGUF_PRE_PATTERNS.items():
        split = pre_tokenizers.Sequence(
            [pre_tokenizers.Split(Regex(p), behavior="isolated") for p in patterns]
        )
        pieces = split.pre_tokenize_str(text)
        assert "".join(p for p, _ in pieces) == text, name
    assert not set(GGUF_PRE_PATTERNS) & set(GGUF_PRE_UNSUPPORTED)


def test_smollm_pre_tokenizer_on_the_real_smollm2_gguf(smollm2_gguf: Path) -> None:
    """SmolLM2 GGUFs name the pre-tokenizer 'smollm' (llama.cpp: StarCoder's rule, digits one by one);
    it had no rule, so its behaviour could not be checked at all."""
    enc = make_encoder(load_tokenizer(smollm2_gguf))
    view = load_tokenizer(smollm2_gguf)
    ids = enc.encode("in 2024")
    assert [view.tokens[i] for i in ids[-4:]] == [b"2", b"0", b"2", b"4"]


def test_a_name_llama_cpp_splits_in_code_says_why(fixtures_dir: Path) -> None:
    view = load_tokenizer(fixtures_dir / T / "gpt2/ggml-vocab-gpt-2.gguf")
    view.extra["ggml_pre"] = "kimi-k2"
    with pytest.raises(EncoderUnavailable, match="custom C\\+\\+ code"):
        make_encoder(view)
