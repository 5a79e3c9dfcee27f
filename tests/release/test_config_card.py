"""Bounded JSON (configs, indexes) and model cards / licence files, on real release files."""

from __future__ import annotations

from pathlib import Path

import pytest

from taoke.errors import CorruptFile, LimitExceeded
from taoke.limits import Limits
from taoke.release import find_license_files, load_card, load_config, parse_card, resolve
from taoke.release.bounded import read_json, read_text


def test_real_configs_of_many_families(fixtures_dir: Path) -> None:
    configs = sorted((fixtures_dir / "configs").rglob("config.json"))
    assert len(configs) >= 10
    for path in configs:
        config = read_json(path)
        assert isinstance(config, dict) and config, path
    rel = resolve(configs[0].parent)
    assert load_config(rel) == read_json(configs[0])


def test_read_json_size_limit_and_non_object_config(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"a": "' + "x" * 5000 + '"}')
    with pytest.raises(LimitExceeded, match="TAOKE_MAX_STRING_BYTES"):
        read_json(path, Limits(max_string_bytes=1000))
    path.write_text("[1, 2]")
    with pytest.raises(CorruptFile, match="JSON object"):
        load_config(resolve(tmp_path))
    (tmp_path / "config.json").unlink()
    assert load_config(resolve(tmp_path)) == {}


def test_real_minilm_card_and_licence(minilm_dir: Path) -> None:
    rel = resolve(minilm_dir)
    card = load_card(rel)
    assert card is not None and card.license == "apache-2.0"
    assert "sentence-transformers" in card.metadata["tags"]
    assert card.text.lstrip().startswith("#") and "---" not in card.text[:5]
    assert card.base_model == []


def test_real_gemma_card_base_model_and_terms(gemma3_gguf: Path) -> None:
    folder = gemma3_gguf.parent
    card = parse_card(read_text(folder / "README.upstream.md"), folder / "README.upstream.md")
    assert card.license == "gemma" and card.base_model == ["google/gemma-3-270m"]
    names = [p.name for p in find_license_files(resolve(folder))]
    assert names == ["GEMMA_TERMS.html", "NOTICE.md"]


def test_card_forms(tmp_path: Path) -> None:
    assert parse_card("# no front matter\n").metadata == {}
    card = parse_card("---\nlicense: other\nlicense_name: yi-license\nbase_model:\n- a/b\n- c/d\n---\nbody\n")
    assert card.license == "other" and card.license_name == "yi-license" and card.base_model == ["a/b", "c/d"]
    assert card.text == "body\n" and card.to_dict()["base_model"] == ["a/b", "c/d"]
    with pytest.raises(CorruptFile, match="not a mapping"):
        parse_card("---\n- just\n- a list\n---\n", tmp_path / "README.md")
    (tmp_path / "LICENSE").write_text("MIT")
    (tmp_path / "USE_POLICY.md").write_text("policy")
    (tmp_path / "model.py").write_text("x = 1")
    assert [p.name for p in find_license_files(resolve(tmp_path))] == ["LICENSE", "USE_POLICY.md"]
    assert load_card(resolve(tmp_path)) is None
    big = tmp_path / "README.md"
    big.write_text("x" * 2000)
    with pytest.raises(LimitExceeded):
        read_text(big, Limits(max_text_bytes=1000))
