"""Bad tokenizer input: one TaokeError line naming the file, no traceback, nothing huge allocated."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from taoke.analyzers.tokenizer import check_vocab_vs_embeddings
from taoke.cli.main import main
from taoke.errors import (
    AnalysisError,
    CorruptFile,
    LimitExceeded,
    SourceNotFound,
    TaokeError,
    UnsupportedFormat,
)
from taoke.tokenizers import load_tokenizer


def _one_line(exc: TaokeError, path: Path) -> None:
    text = str(exc)
    assert "\n" not in text and str(path) in text


def test_corrupt_sentencepiece_protobuf(tmp_path: Path) -> None:
    bad = tmp_path / "tokenizer.model"
    bad.write_bytes(b"\x0a\xff\xff\xff\xff\x0f garbage that is not a protobuf")
    with pytest.raises(CorruptFile) as err:
        load_tokenizer(bad)
    _one_line(err.value, bad)


def test_truncated_real_sentencepiece_model(fixtures_dir: Path, tmp_path: Path) -> None:
    data = (fixtures_dir / "tokenizers/mistral/tokenizer.model.v1").read_bytes()
    bad = tmp_path / "tokenizer.model"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFile) as err:
        load_tokenizer(bad)
    _one_line(err.value, bad)


def test_tokenizer_json_that_is_not_json(tmp_path: Path) -> None:
    bad = tmp_path / "tokenizer.json"
    bad.write_text('{"model": {"type": "BPE", "vocab": {"a": 0,,}}', encoding="utf-8")
    with pytest.raises(CorruptFile, match="invalid JSON") as err:
        load_tokenizer(bad)
    _one_line(err.value, bad)


def test_tokenizer_json_without_model(tmp_path: Path) -> None:
    bad = tmp_path / "tokenizer.json"
    bad.write_text('{"version": "1.0"}', encoding="utf-8")
    with pytest.raises(CorruptFile, match="model"):
        load_tokenizer(bad)


def test_billion_entry_vocab_claims_are_refused(tmp_path: Path) -> None:
    # tokenizer.json: one entry whose id claims a 10^9-row vocabulary
    tj = tmp_path / "tokenizer.json"
    tj.write_text(json.dumps({"model": {"type": "BPE", "vocab": {"a": 10**9 - 1}, "merges": []}}), "utf-8")
    with pytest.raises(LimitExceeded, match="TAOKE_MAX_VOCAB") as err:
        load_tokenizer(tj)
    _one_line(err.value, tj)
    # tiktoken: a rank of 10^9
    tk = tmp_path / "ranks.tiktoken"
    tk.write_text("IQ== 0\nIg== 1000000000\n", encoding="ascii")
    with pytest.raises(LimitExceeded, match="rank 1000000000"):
        load_tokenizer(tk)
    # GGUF: tokenizer.ggml.tokens claims 10^9 strings in a 100-byte file
    gg = tmp_path / "vocab.gguf"
    key = b"tokenizer.ggml.tokens"
    gg.write_bytes(
        b"GGUF"
        + struct.pack("<IQQ", 3, 0, 1)
        + struct.pack("<Q", len(key))
        + key
        + struct.pack("<IIQ", 9, 8, 10**9)
        + b"\x01" * 40
    )
    with pytest.raises(LimitExceeded, match="1000000000") as err:
        load_tokenizer(gg)
    _one_line(err.value, gg)


def test_vocab_limit_is_configurable(fixtures_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("TAOKE_MAX_VOCAB", "1000")
    with pytest.raises(LimitExceeded, match="1000"):
        load_tokenizer(fixtures_dir / "tokenizers/mistral/tokenizer.model.v1")


def test_gguf_without_vocabulary(tmp_path: Path) -> None:
    import gguf

    path = tmp_path / "novocab.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(UnsupportedFormat, match="no embedded vocabulary"):
        load_tokenizer(path)


def test_folder_without_tokenizer(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("hi")
    with pytest.raises(SourceNotFound, match="no tokenizer file"):
        load_tokenizer(tmp_path)


def test_vocab_vs_embedding_rows(fixtures_dir: Path) -> None:
    view = load_tokenizer(fixtures_dir / "tokenizers/phi3/ggml-vocab-phi-3.gguf")
    (ev,) = check_vocab_vs_embeddings(view, 32000)
    assert ev.kind == "vocab-exceeds-embedding" and ev.severity == "high" and ev.value == 64
    with pytest.raises(AnalysisError) as err:
        check_vocab_vs_embeddings(view, 32000, strict=True)
    _one_line(err.value, view.source_files[0])
    (ev,) = check_vocab_vs_embeddings(
        load_tokenizer(fixtures_dir / "tokenizers/gpt2/ggml-vocab-gpt-2.gguf"), 50304
    )
    assert ev.kind == "embedding-exceeds-vocab" and ev.value == 47 and "multiple of 128" in ev.message
    (ev,) = check_vocab_vs_embeddings(view, 32064)
    assert ev.kind == "vocab-matches-embedding"


def test_cli_bad_input_is_one_line_exit_2(tmp_path: Path, fixtures_dir: Path, capsys) -> None:
    bad = tmp_path / "tokenizer.json"
    bad.write_text("not json at all", encoding="utf-8")
    good = fixtures_dir / "tokenizers/mistral/tokenizer.model.v1"
    assert main(["tokenizer", "compare", str(good), str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "tokenizer.json" in err and "Traceback" not in err
