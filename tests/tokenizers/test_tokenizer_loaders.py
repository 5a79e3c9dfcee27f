"""Loading every tokenizer container of the real fixtures into one canonical view."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from taoke.tokenizers import compare_tokenizers, find_tokenizer_files, load_tokenizer
from taoke.tokenizers.loaders import load_vocab_merges, load_wordpiece
from taoke.tokenizers.view import BYTE, PADDING, SPECIAL, bytelevel_to_bytes, spm_piece_to_bytes

# fixture (under tokenizers/) -> (kind, ids, container)
EXPECTED = {
    "baichuan/baichuan2/tokenizer.json": ("spm-bpe", 125696, "tokenizer.json"),
    "baichuan/ggml-vocab-baichuan.gguf": ("spm-bpe", 64000, "gguf"),
    "bert/ggml-vocab-bert-bge.gguf": ("wordpiece", 30522, "gguf"),
    "chatglm/chatglm3/tokenizer.json": ("spm-bpe", 64789, "tokenizer.json"),
    "deepseek/ggml-vocab-deepseek-coder.gguf": ("bpe-bytelevel", 32256, "gguf"),
    "falcon/ggml-vocab-falcon.gguf": ("bpe-bytelevel", 65024, "gguf"),
    "gpt2/ggml-vocab-gpt-2.gguf": ("bpe-bytelevel", 50257, "gguf"),
    "internlm/internlm2/tokenizer.json": ("spm-bpe", 92544, "tokenizer.json"),
    "llama/ggml-vocab-llama-spm.gguf": ("spm-bpe", 32000, "gguf"),
    "llama3/tokenizer.model": ("tiktoken", 128000, "tiktoken"),
    "mistral/tokenizer.model.v1": ("spm-bpe", 32000, "sentencepiece"),
    "qwen2/ggml-vocab-qwen2.gguf": ("bpe-bytelevel", 151936, "gguf"),
    "yi/yi/tokenizer.json": ("spm-bpe", 64000, "tokenizer.json"),
}


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_fixture_loads_with_kind_and_size(fixtures_dir: Path, rel: str) -> None:
    view = load_tokenizer(fixtures_dir / "tokenizers" / rel)
    kind, size, container = EXPECTED[rel]
    assert (view.kind, view.size, view.container) == (kind, size, container)
    assert len(view.token_class) == view.size
    assert view.n_duplicates < 30  # NeoX-style added whitespace tokens may repeat vocabulary entries


def test_canonical_bytes_conventions() -> None:
    assert bytelevel_to_bytes("Ġthe") == b" the"
    assert bytelevel_to_bytes("ä¸Ń") == "中".encode()
    assert bytelevel_to_bytes("a b") is None  # a raw space is not a byte-level character
    assert spm_piece_to_bytes("▁the") == (b" the", False)
    assert spm_piece_to_bytes("<0x0A>") == (b"\n", True)


def test_same_vocab_in_tiktoken_and_gguf_is_the_same_bytes(fixtures_dir: Path) -> None:
    """LLaMA-3: tiktoken ranks (raw bytes) and GGUF byte-level strings give identical canonical tokens."""
    tik = load_tokenizer(fixtures_dir / "tokenizers/llama3/tokenizer.model")
    gg = load_tokenizer(fixtures_dir / "tokenizers/llama3/ggml-vocab-llama-bpe.gguf")
    assert gg.tokens[:128000] == tik.tokens
    assert set(np.flatnonzero(gg.token_class == SPECIAL)) == set(range(128000, 128256))
    comp = compare_tokenizers(tik, gg, behaviour=False)
    assert comp.relation == "extends" and comp.added["count"] == 256
    assert comp.alignment.is_identity


def test_byte_pieces_do_not_collide_with_ordinary_pieces(fixtures_dir: Path) -> None:
    """LLaMA holds both <0x41> and 'A': both stay distinct match keys."""
    view = load_tokenizer(fixtures_dir / "tokenizers/llama/ggml-vocab-llama-spm.gguf")
    assert view.token_class[3 + 0x41] == BYTE and view.tokens[3 + 0x41] == b"A"
    assert b"A" in view.key_to_id and b"<0x41>" in view.key_to_id
    assert view.key_to_id[b"A"] != view.key_to_id[b"<0x41>"]
    assert view.n_duplicates == 0


def _write_vocab_only_gguf(path: Path, arch: str, kv: dict) -> None:
    import gguf

    w = gguf.GGUFWriter(str(path), arch)
    w.add_tokenizer_model(kv["model"])
    if "pre" in kv:
        w.add_tokenizer_pre(kv["pre"])
    w.add_token_list(kv["tokens"])
    if "scores" in kv:
        w.add_token_scores(kv["scores"])
    w.add_token_types(kv["types"])
    if "merges" in kv:
        w.add_token_merges(kv["merges"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_gguf_embedded_vocab_matches_its_source_model(fixtures_dir: Path, tmp_path: Path) -> None:
    """Mistral's tokenizer.model converted to a GGUF vocabulary as llama.cpp does: same tokens, same ids."""
    from sentencepiece import sentencepiece_model_pb2 as pb

    src = fixtures_dir / "tokenizers/mistral/tokenizer.model.v1"
    proto = pb.ModelProto()
    proto.ParseFromString(src.read_bytes())
    kv = {
        "model": "llama",
        "tokens": [p.piece for p in proto.pieces],
        "scores": [p.score for p in proto.pieces],
        "types": [p.type for p in proto.pieces],
    }
    out = tmp_path / "mistral-vocab.gguf"
    _write_vocab_only_gguf(out, "llama", kv)
    a, b = load_tokenizer(src), load_tokenizer(out)
    comp = compare_tokenizers(a, b)
    assert comp.relation == "identical"
    assert a.order_hash == b.order_hash
    assert comp.behaviour is not None and comp.behaviour.available
    assert comp.behaviour.same_ids == comp.behaviour.texts


def test_vocab_json_merges_and_vocab_txt_match_gguf(fixtures_dir: Path, tmp_path: Path) -> None:
    """GPT-2 as vocab.json + merges.txt and BERT as vocab.txt read back as the GGUF's vocabulary."""
    from taoke.tokenizers.gguf_vocab import read_tokenizer_kv

    kv = read_tokenizer_kv(fixtures_dir / "tokenizers/gpt2/ggml-vocab-gpt-2.gguf")
    vocab = {t.decode(): i for i, t in enumerate(kv["tokenizer.ggml.tokens"])}
    (tmp_path / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    merges = [m.decode() for m in kv["tokenizer.ggml.merges"]]
    (tmp_path / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    vm = load_vocab_merges(tmp_path / "vocab.json", tmp_path / "merges.txt")
    gg = load_tokenizer(fixtures_dir / "tokenizers/gpt2/ggml-vocab-gpt-2.gguf")
    assert vm.tokens == gg.tokens and vm.merges == gg.merges
    assert load_tokenizer(tmp_path).container == "vocab.json+merges.txt"  # folder search finds vocab.json

    bert = load_tokenizer(fixtures_dir / "tokenizers/bert/ggml-vocab-bert-bge.gguf")
    lines = [bert.tokens[i].decode() for i in range(bert.size)]
    (tmp_path / "vocab.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    wp = load_wordpiece(tmp_path / "vocab.txt")
    assert wp.tokens == bert.tokens
    assert b"##ing" in wp.key_to_id and b"the" in wp.key_to_id
    assert compare_tokenizers(wp, bert, behaviour=False).relation == "identical"


def test_merges_are_streamed_with_the_same_lines_and_bounds(tmp_path: Path) -> None:
    """merges.txt is read line by line (issue 16: a 27 MB file held its text and its line list): the
    merges are exactly those of ``text.splitlines()`` (\\r\\n, a lone \\r, U+2028 and invalid UTF-8
    included), the #version line is dropped, and the byte and count limits still refuse in one line."""
    from taoke.errors import CorruptFile, LimitExceeded
    from taoke.limits import Limits

    (tmp_path / "vocab.json").write_text(json.dumps({"a": 0, "b": 1, "ab": 2}), encoding="utf-8")
    raw = "#version: 0.2\r\na b\r\nab b\rb a\u2028a ab\n\na \xe9\n".encode() + b"a \xff\xfe\n"
    (tmp_path / "merges.txt").write_bytes(raw)
    vm = load_vocab_merges(tmp_path / "vocab.json", tmp_path / "merges.txt")
    text = raw.decode("utf-8", "replace")
    want = [ln.split(" ") for ln in text.splitlines() if ln and not ln.startswith("#version")]
    assert len(vm.merges) == len(want) == 6
    assert vm.merges[:4] == [(b"a", b"b"), (b"ab", b"b"), (b"b", b"a"), (b"a", b"ab")]
    assert vm.merges[5] == (b"a", "\ufffd\ufffd".encode())
    (tmp_path / "merges.txt").write_bytes(b"a b\n" * 10)
    with pytest.raises(LimitExceeded, match="merges list claims 6 entries"):
        load_vocab_merges(tmp_path / "vocab.json", tmp_path / "merges.txt", Limits(max_vocab=5))
    with pytest.raises(LimitExceeded, match="merges.txt is 40 bytes") as exc:
        load_vocab_merges(tmp_path / "vocab.json", tmp_path / "merges.txt", Limits(max_string_bytes=39))
    assert "merges.txt" in str(exc.value) and "\n" not in str(exc.value)
    (tmp_path / "merges.txt").write_bytes(b"a b\na b c\n")
    with pytest.raises(CorruptFile, match="merge 2 is not two tokens"):
        load_vocab_merges(tmp_path / "vocab.json", tmp_path / "merges.txt")


def test_folder_search_prefers_tokenizer_json(fixtures_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "tokenizer.json").write_bytes((fixtures_dir / "tokenizers/yi/yi/tokenizer.json").read_bytes())
    (tmp_path / "tokenizer.model").write_bytes(
        (fixtures_dir / "tokenizers/mistral/tokenizer.model.v1").read_bytes()
    )
    files = find_tokenizer_files(tmp_path)
    assert [p.name for p in files] == ["tokenizer.json", "tokenizer.model"]
    assert load_tokenizer(tmp_path).container == "tokenizer.json"


def test_padding_rows_are_not_tokens(fixtures_dir: Path) -> None:
    phi3 = load_tokenizer(fixtures_dir / "tokenizers/phi3/ggml-vocab-phi-3.gguf")
    assert phi3.n_padding == 53
    assert all(phi3.keys[i] is None for i in np.flatnonzero(phi3.token_class == PADDING))
    assert phi3.size == 32064 and len(phi3.key_to_id) == 32011
