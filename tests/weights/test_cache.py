"""The fingerprint cache: a release is streamed once, whatever command looks at it again, and only the
same content is ever reused (never the path alone)."""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from taoke import zoo
from taoke.cli.main import main
from taoke.release import resolve
from taoke.weights.cache import FingerprintCache, content_key

fp_mod = importlib.import_module("taoke.weights.fingerprint")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh taoke home with the cache switched on (the suite runs with TAOKE_NO_CACHE=1)."""
    monkeypatch.setenv("TAOKE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TAOKE_NO_CACHE", raising=False)
    monkeypatch.delenv("TAOKE_FINGERPRINT_CACHE", raising=False)
    return tmp_path / "home"


@pytest.fixture
def streams(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the models actually streamed (the expensive pass the cache saves)."""
    seen: list[str] = []
    real = fp_mod._fingerprint

    def counting(model, *args, **kwargs):
        seen.append(str(model.name))
        return real(model, *args, **kwargs)

    monkeypatch.setattr(fp_mod, "_fingerprint", counting)
    return seen


def _copy(name: str, dest: Path) -> Path:
    out = dest / name
    shutil.copytree(zoo.materialize(name), out)
    return out


def test_compare_streams_each_release_once(home, streams, tmp_path, capsys):
    a, b = _copy("base-a", tmp_path), _copy("a-yi", tmp_path)
    assert main(["compare", str(a), str(b), "-f", "json", "--quiet"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert sorted(streams) == ["a-yi", "base-a"]
    assert main(["compare", str(a), str(b), "-f", "json", "--quiet"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert sorted(streams) == ["a-yi", "base-a"], "the second compare streamed a release again"
    assert second["relationship"] == first["relationship"] and second["p_value"] == first["p_value"]
    assert len(list((home / "fingerprints").glob("*.taoke.npz"))) == 2


def test_same_bytes_elsewhere_reuse_but_keep_their_own_name(home, streams, tmp_path, capsys):
    a = _copy("base-a", tmp_path)
    b = tmp_path / "renamed-upload"
    shutil.copytree(a, b)
    assert main(["compare", str(a), str(b), "-f", "json", "--quiet"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert streams == ["base-a"]  # the second folder's bytes were already known
    assert d["suspect"] == "renamed-upload" and d["relationship"] == "identical"


def test_no_cache_neither_reads_nor_writes(home, streams, tmp_path, capsys):
    a, b = _copy("base-a", tmp_path), _copy("a-yi", tmp_path)
    for _ in range(2):
        assert main(["compare", str(a), str(b), "-f", "json", "--quiet", "--no-cache"]) == 0
    capsys.readouterr()
    assert len(streams) == 4
    assert not (home / "fingerprints").exists() or not list((home / "fingerprints").iterdir())


def test_key_follows_content_not_path(tmp_path):
    a = _copy("base-a", tmp_path)
    key = content_key(resolve(str(a)))
    assert key is not None
    moved = tmp_path / "elsewhere" / "x"
    shutil.copytree(a, moved)
    assert content_key(resolve(str(moved))) == key
    weights = moved / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 0xFF  # the last block is always sampled
    weights.write_bytes(bytes(raw))
    assert content_key(resolve(str(moved))) != key
    cfg = a / "config.json"
    c = json.loads(cfg.read_text())
    c["rms_norm_eps"] = 1e-5 if c.get("rms_norm_eps") != 1e-5 else 1e-6
    cfg.write_text(json.dumps(c))
    assert content_key(resolve(str(a))) != key, "the config is part of what the fingerprint reads"


def test_a_broken_entry_is_dropped_and_recomputed(home, streams, tmp_path):
    a = _copy("base-a", tmp_path)
    cache = FingerprintCache(home / "fingerprints")
    fp_mod.fingerprint(str(a), cache=cache)
    (entry,) = list((home / "fingerprints").glob("*.taoke.npz"))
    entry.write_bytes(b"PK\x03\x04 not a fingerprint")
    again = fp_mod.fingerprint(str(a), cache=cache)
    assert streams == ["base-a", "base-a"] and again.n_layers > 0
    assert np.load(entry, allow_pickle=False) is not None  # rewritten, readable


def test_the_cap_evicts_least_recently_used(home, tmp_path):
    cache = FingerprintCache(home / "fingerprints", cap_bytes=1)
    for name in ("base-a", "a-yi"):
        fp_mod.fingerprint(str(_copy(name, tmp_path)), cache=cache)
    assert len(list((home / "fingerprints").glob("*.taoke.npz"))) <= 1


def test_index_then_search_reads_the_suspect_once(home, streams, tmp_path, capsys):
    a, b = _copy("base-a", tmp_path), _copy("a-ft-man", tmp_path)
    db = str(tmp_path / "r.sqlite")
    assert main(["index", str(a), str(b), "--db", db, "-f", "json", "--quiet"]) == 0
    assert sorted(streams) == ["a-ft-man", "base-a"]
    assert main(["search", str(b), "--db", str(tmp_path / "r.sqlite"), "-f", "json", "--quiet"]) == 0
    capsys.readouterr()
    assert sorted(streams) == ["a-ft-man", "base-a"], "search fingerprinted a model index had just read"
