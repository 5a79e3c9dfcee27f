"""Issue 17: every cache follows XDG_CACHE_HOME under one TAOKE_HOME (taoke.paths)."""

from __future__ import annotations

from pathlib import Path

import pytest

from taoke.cli.main import main
from tests.helpers.compare import zoo_path

OVERRIDES = ("TAOKE_HOME", "TAOKE_CACHE_DIR", "TAOKE_DATA_DIR", "TAOKE_ZOO_DIR", "TAOKE_REGISTRY")


def _places() -> dict[str, Path]:
    from taoke.analyzers.code.index import cache_dir as code_index
    from taoke.datasets import data_dir
    from taoke.probe.behaviour import library_path
    from taoke.registry.store import default_url
    from taoke.tokenizers.library import user_library_path
    from taoke.zoo.build import cache_dir as zoo_dir

    return {
        "data": data_dir(),
        "zoo": zoo_dir(),
        "registry": Path(default_url().removeprefix("sqlite:///")),
        "tokenizers": user_library_path(),
        "probe": library_path(),
        "code-index": code_index(),
    }


@pytest.fixture
def clean_env(monkeypatch):
    for var in (*OVERRIDES, "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_every_cache_follows_xdg_cache_home(clean_env, tmp_path: Path) -> None:
    clean_env.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    places = _places()
    outside = {k: p for k, p in places.items() if tmp_path / "xdg" / "taoke" not in p.parents}
    assert not outside, outside


def test_taoke_home_moves_every_cache_and_each_override_still_wins(clean_env, tmp_path: Path) -> None:
    clean_env.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    clean_env.setenv("TAOKE_HOME", str(tmp_path / "home"))
    places = _places()
    assert all(tmp_path / "home" in p.parents for p in places.values()), places
    assert places["zoo"] == tmp_path / "home" / "zoo" and places["data"] == tmp_path / "home" / "data"
    clean_env.setenv("TAOKE_ZOO_DIR", str(tmp_path / "zoo"))
    clean_env.setenv("TAOKE_DATA_DIR", str(tmp_path / "data"))
    clean_env.setenv("TAOKE_REGISTRY", str(tmp_path / "r.sqlite"))
    places = _places()
    assert places["zoo"] == tmp_path / "zoo" and places["data"] == tmp_path / "data"
    assert places["registry"] == tmp_path / "r.sqlite"


def test_without_settings_the_home_is_dot_cache_taoke(clean_env, tmp_path: Path) -> None:
    from taoke.paths import home

    clean_env.setenv("HOME", str(tmp_path))
    assert home() == tmp_path / ".cache" / "taoke"
    clean_env.setenv("XDG_CACHE_HOME", "relative/path")  # the XDG spec: relative paths are ignored
    assert home() == tmp_path / ".cache" / "taoke"
    clean_env.setenv("TAOKE_CACHE_DIR", str(tmp_path / "old-name"))  # the older spelling still works
    assert home() == tmp_path / "old-name"


def test_commands_write_under_taoke_home(clean_env, capsys, tmp_path: Path) -> None:
    a = zoo_path("base-a")  # the zoo is materialized before the home moves
    clean_env.setenv("TAOKE_ZOO_DIR", str(Path(a).parent))
    clean_env.setenv("TAOKE_HOME", str(tmp_path / "home"))
    assert main(["index", a, "-q"]) == 0
    assert main(["tokenizer", "add", a, "--name", "zoo-a"]) == 0
    capsys.readouterr()
    written = sorted(str(p.relative_to(tmp_path / "home")) for p in (tmp_path / "home").rglob("*.*"))
    assert "registry.sqlite" in written and "tokenizers/library.json" in written
