"""Relations between real vocabularies, and edits of them with known ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from taoke.tokenizers import align_vocab, compare_tokenizers, load_tokenizer

T = "tokenizers"


@pytest.fixture(scope="module")
def llama(fixtures_dir: Path):
    return load_tokenizer(fixtures_dir / T / "llama/ggml-vocab-llama-spm.gguf")


@pytest.fixture(scope="module")
def mistral_v1(fixtures_dir: Path):
    return load_tokenizer(fixtures_dir / T / "mistral/tokenizer.model.v1")


def test_phi3_extends_llama2_by_11_tokens_and_53_padding_rows(fixtures_dir: Path, llama) -> None:
    """The '+64' of Phi-3 is 11 real tokens (<|endoftext|>, chat markers) and 53 [PAD] rows."""
    phi3 = load_tokenizer(fixtures_dir / T / "phi3/ggml-vocab-phi-3.gguf")
    comp = compare_tokenizers(llama, phi3)
    assert comp.relation == "extends"
    assert phi3.size - llama.size == 64
    assert comp.added["count"] == 11 and phi3.n_padding == 53
    assert comp.added["id_range"] == [32000, 32010]
    assert comp.alignment.is_identity and comp.containment_a_in_b == 1.0
    # no special token in the sample texts: same split, same ids
    assert comp.behaviour is not None and comp.behaviour.available
    assert comp.behaviour.same_ids == comp.behaviour.texts


def test_mistral_v3_extends_v1_shifted_by_768(fixtures_dir: Path, mistral_v1) -> None:
    v3 = load_tokenizer(fixtures_dir / T / "mistral/mistral_instruct_tokenizer_240323.model.v3")
    comp = compare_tokenizers(mistral_v1, v3)
    al = comp.alignment
    assert comp.relation == "extends" and comp.added["count"] == 768
    assert al.offset == 768 and al.n_shared == 32000
    assert int(np.count_nonzero(al.sus_ids - al.ref_ids == 768)) == 31997  # all but <unk> <s> </s>
    assert comp.behaviour is not None and comp.behaviour.available
    assert comp.behaviour.same_pieces == comp.behaviour.texts and comp.behaviour.same_ids == 0


def test_mpt_ships_gpt_neox_vocabulary(fixtures_dir: Path) -> None:
    neox = load_tokenizer(fixtures_dir / T / "gpt-neox/ggml-vocab-gpt-neox.gguf")
    mpt = load_tokenizer(fixtures_dir / T / "mpt/ggml-vocab-mpt.gguf")
    comp = compare_tokenizers(neox, mpt)
    assert comp.relation == "identical"
    assert comp.merges is not None and comp.merges["common_prefix"] == comp.merges["n_a"] == 50009
    assert comp.same_pre_tokenizer is False  # GGUF pre 'default' vs 'mpt': same vocabulary, other label


def test_lenml_llama2_tokenizer_json_is_mistral_v1(fixtures_dir: Path, llama, mistral_v1) -> None:
    """The fixture labelled Llama-2 tokenizer.json holds Mistral v1's vocabulary id for id."""
    labelled = load_tokenizer(fixtures_dir / T / "llama/llama2/tokenizer.json")
    assert compare_tokenizers(mistral_v1, labelled, behaviour=False).relation == "identical"
    comp = compare_tokenizers(llama, labelled, behaviour=False)
    assert comp.relation == "unrelated" and comp.alignment.n_shared == 24184


@pytest.mark.parametrize(
    ("a", "b", "relation"),
    [
        ("gpt2/ggml-vocab-gpt-2.gguf", "llama/ggml-vocab-llama-spm.gguf", "unrelated"),
        ("gpt2/ggml-vocab-gpt-2.gguf", "gpt-neox/ggml-vocab-gpt-neox.gguf", "unrelated"),
        ("chatglm/chatglm3/tokenizer.json", "yi/yi/tokenizer.json", "unrelated"),
        ("starcoder/ggml-vocab-starcoder.gguf", "refact/ggml-vocab-refact.gguf", "partial-overlap"),
        ("llama3/ggml-vocab-llama-bpe.gguf", "qwen2/ggml-vocab-qwen2.gguf", "partial-overlap"),
        ("baichuan/ggml-vocab-baichuan.gguf", "baichuan/baichuan2/tokenizer.json", "extends"),
    ],
)
def test_real_pairs(fixtures_dir: Path, a: str, b: str, relation: str) -> None:
    comp = compare_tokenizers(
        load_tokenizer(fixtures_dir / T / a), load_tokenizer(fixtures_dir / T / b), False
    )
    assert comp.relation == relation, comp.notes


def test_llama3_and_qwen2_share_a_shifted_block(fixtures_dir: Path) -> None:
    """Both descend from cl100k: two thirds of shared tokens sit at one id offset (-1100)."""
    l3 = load_tokenizer(fixtures_dir / T / "llama3/tokenizer.model")
    qw = load_tokenizer(fixtures_dir / T / "qwen2/ggml-vocab-qwen2.gguf")
    al = align_vocab(l3, qw)
    assert al.offset == -1100 and al.offset_fraction > 0.6


def test_llama_extended_with_chinese_pieces(fixtures_dir: Path, tmp_path: Path, llama) -> None:
    """Chinese-LLaMA style: append CJK pieces to LLaMA's SentencePiece model; recognised as an extension."""
    from taoke.tokenizers.encode import gguf_spm_proto

    proto = gguf_spm_proto(fixtures_dir / T / "llama/ggml-vocab-llama-spm.gguf")
    have = {p.piece for p in proto.pieces}
    # words of the Chinese sample text first (a real extension adds frequent words), then filler pieces
    new = [
        w
        for w in ("我们", "北京", "大学", "学习", "自然", "语言", "处理", "模型", "词表", "扩展")
        if w not in have
    ]
    for cp in range(0x4E00, 0x9FA5):
        for piece in (chr(cp) + chr(cp + 1), "▁" + chr(cp)):
            if piece not in have and len(new) < 1500:
                new.append(piece)
    for i, piece in enumerate(new):
        p = proto.pieces.add()
        p.piece, p.score, p.type = piece, -50000.0 - i, 1
    (tmp_path / "tokenizer.model").write_bytes(proto.SerializeToString())
    ext = load_tokenizer(tmp_path)
    comp = compare_tokenizers(llama, ext)
    assert comp.relation == "extends"
    assert comp.added["count"] == len(new) == 1500
    assert comp.added["scripts"] == {"CJK": 1500}
    assert comp.alignment.is_identity
    assert comp.behaviour is not None and comp.behaviour.available
    assert comp.behaviour.same_pieces < comp.behaviour.texts  # the Chinese sample now splits differently


def test_reordered_vocabulary_is_a_permutation_with_the_right_mapping(
    fixtures_dir: Path, tmp_path: Path
) -> None:
    src = fixtures_dir / T / "yi/yi/tokenizer.json"
    doc = json.loads(src.read_text(encoding="utf-8"))
    vocab = doc["model"]["vocab"]
    n = len(vocab)
    rng = np.random.default_rng(5)
    perm = np.arange(n)
    perm[3:] = 3 + rng.permutation(n - 3)  # keep the three added specials in place
    doc["model"]["vocab"] = {tok: int(perm[i]) for tok, i in vocab.items()}
    out = tmp_path / "tokenizer.json"
    out.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    a, b = load_tokenizer(src), load_tokenizer(out)
    comp = compare_tokenizers(a, b, behaviour=False)
    assert comp.relation == "reordered"
    al = comp.alignment
    assert al.n_shared == n and np.array_equal(al.sus_ids, perm[al.ref_ids])
    assert comp.jaccard == 1.0 and al.in_place_fraction < 0.01


def test_pruned_vocabulary_is_a_subset(fixtures_dir: Path, tmp_path: Path) -> None:
    from sentencepiece import sentencepiece_model_pb2 as pb

    proto = pb.ModelProto()
    proto.ParseFromString((fixtures_dir / T / "mistral/tokenizer.model.v1").read_bytes())
    del proto.pieces[30000:]
    (tmp_path / "tokenizer.model").write_bytes(proto.SerializeToString())
    full = load_tokenizer(fixtures_dir / T / "mistral/tokenizer.model.v1")
    comp = compare_tokenizers(full, load_tokenizer(tmp_path), behaviour=False)
    assert comp.relation == "subset" and comp.removed["count"] == 2000
    assert comp.alignment.is_identity


def test_behaviour_check_says_when_it_is_not_available(fixtures_dir: Path) -> None:
    """GPT-NeoX's GGUF predates tokenizer.ggml.pre: no splitting rule is known, so none is guessed."""
    neox = load_tokenizer(fixtures_dir / T / "gpt-neox/ggml-vocab-gpt-neox.gguf")
    comp = compare_tokenizers(neox, neox)
    assert comp.relation == "identical"
    assert comp.behaviour is not None and not comp.behaviour.available
    assert "'default'" in comp.behaviour.reason


def test_align_vocab_disjoint_is_empty(fixtures_dir: Path, llama) -> None:
    bert = load_tokenizer(fixtures_dir / T / "bert/ggml-vocab-bert-bge.gguf")
    al = align_vocab(llama, bert)
    assert al.n_shared == len(al.ref_ids) == len(al.sus_ids)
    assert al.ref_ids.dtype == np.int64 and np.all(np.diff(al.ref_ids) > 0)
