"""``taoke tokenizer compare|identify|add`` end to end, on real fixtures."""

from __future__ import annotations

import json
from pathlib import Path

from taoke.cli.main import main


def test_compare_json(fixtures_dir: Path, capsys) -> None:
    t = fixtures_dir / "tokenizers"
    rc = main(
        [
            "tokenizer",
            "compare",
            str(t / "llama/ggml-vocab-llama-spm.gguf"),
            str(t / "phi3/ggml-vocab-phi-3.gguf"),
            "--format",
            "json",
        ]
    )
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["comparison"]["relation"] == "extends"
    assert out["comparison"]["added"]["count"] == 11
    assert any(e["kind"] == "tokenizer-extends" for e in out["evidence"])


def test_compare_text_shows_token_text_literally(fixtures_dir: Path, capsys) -> None:
    t = fixtures_dir / "tokenizers/mistral"
    rc = main(
        [
            "tokenizer",
            "compare",
            str(t / "tokenizer.model.v1"),
            str(t / "mistral_instruct_tokenizer_240216.model.v2"),
            "--no-behaviour",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "extends" in out and "[INST]" in out and "+768" in out


def test_identify_json_top_k(fixtures_dir: Path, capsys) -> None:
    rc = main(
        [
            "tokenizer",
            "identify",
            str(fixtures_dir / "tokenizers/mpt/ggml-vocab-mpt.gguf"),
            "--top",
            "2",
            "--format",
            "json",
        ]
    )
    assert rc == 0
    res = json.loads(capsys.readouterr().out)["identify"]
    assert len(res["matches"]) == 2
    assert res["matches"][0]["name"] == "gpt-neox-20b" and res["matches"][0]["relation"] == "identical"


def test_add_then_identify(fixtures_dir: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TAOKE_CACHE_DIR", str(tmp_path))
    src = str(fixtures_dir / "tokenizers/yi/yi/tokenizer.json")
    assert main(["tokenizer", "add", src, "--name", "yi-copy", "--family", "yi"]) == 0
    capsys.readouterr()
    assert main(["tokenizer", "identify", src, "--format", "json"]) == 0
    names = [m["name"] for m in json.loads(capsys.readouterr().out)["identify"]["matches"][:2]]
    assert set(names) == {"yi", "yi-copy"}


def test_unknown_format_is_an_error(fixtures_dir: Path, capsys) -> None:
    src = str(fixtures_dir / "tokenizers/gpt2/ggml-vocab-gpt-2.gguf")
    assert main(["tokenizer", "identify", src, "--format", "yaml"]) == 2
    # typer's usage error now (the hand-written "unknown --format" check is gone): it names the option,
    # the bad value and the choices
    err = " ".join(capsys.readouterr().err.replace("\u2502", " ").split())  # unwrap rich's error box
    assert "Invalid value for '--format'" in err and "'yaml' is not one of 'text', 'json', 'html'" in err
