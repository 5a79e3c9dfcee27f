"""taoke.release.source: folders, single files, HF cache entries and hub ids, built as real files on disk."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from taoke.errors import HubUnreachable, SourceNotFound, UnsafeContent, UnsupportedFormat
from taoke.formats import open_tensor_file
from taoke.release import load_config, resolve
from tests.helpers.need import require


def _weights(path: Path, names: list[str], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    tensors = {n: rng.standard_normal((4, 3)).astype(np.float32) for n in names}
    save_file(tensors, str(path))
    return tensors


def _sharded(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    _weights(folder / "model-00001-of-00002.safetensors", ["a.weight", "b.weight"], 1)
    _weights(folder / "model-00002-of-00002.safetensors", ["c.weight"], 2)
    index = {
        "metadata": {"total_size": 144},
        "weight_map": {
            "a.weight": "model-00001-of-00002.safetensors",
            "b.weight": "model-00001-of-00002.safetensors",
            "c.weight": "model-00002-of-00002.safetensors",
        },
    }
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 3}))


def test_folder_sharded_safetensors(tmp_path: Path) -> None:
    _sharded(tmp_path / "m")
    (tmp_path / "m" / "1_Pooling").mkdir()
    (tmp_path / "m" / "1_Pooling" / "config.json").write_text("{}")
    rel = resolve(tmp_path / "m")
    assert rel.kind == "folder" and rel.name == "m" and rel.revision is None
    assert [p.name for p in rel.weight_files()] == [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ]
    assert rel.find("missing.json", "1_Pooling/config.json") == rel.root / "1_Pooling" / "config.json"
    assert load_config(rel)["model_type"] == "llama"
    assert all(p.is_absolute() and p.is_file() for p in rel.files)


def test_folder_prefers_safetensors_over_bin_and_gguf(tmp_path: Path) -> None:
    _weights(tmp_path / "model.safetensors", ["w"])
    (tmp_path / "pytorch_model.bin").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    (tmp_path / "model.Q8_0.gguf").write_bytes(b"GGUF")
    assert [p.name for p in resolve(tmp_path).weight_files()] == ["model.safetensors"]
    (tmp_path / "model.safetensors").unlink()
    assert [p.name for p in resolve(tmp_path).weight_files()] == ["pytorch_model.bin"]
    (tmp_path / "pytorch_model.bin").unlink()
    assert [p.name for p in resolve(tmp_path).weight_files()] == ["model.Q8_0.gguf"]


def test_bin_index(tmp_path: Path) -> None:
    torch = require("torch")
    torch.save({"x": torch.ones(2)}, tmp_path / "pytorch_model-00001-of-00001.bin")
    (tmp_path / "pytorch_model.bin.index.json").write_text(
        json.dumps({"weight_map": {"x": "pytorch_model-00001-of-00001.bin"}})
    )
    files = resolve(tmp_path).weight_files()
    assert [p.name for p in files] == ["pytorch_model-00001-of-00001.bin"]
    with open_tensor_file(files[0]) as f:
        np.testing.assert_array_equal(f.read("x"), np.ones(2, np.float32))


def test_tokenizer_only_folder_has_no_weights(tmp_path: Path) -> None:
    (tmp_path / "tokenizer.json").write_text("{}")
    rel = resolve(tmp_path)
    assert rel.weight_files() == []
    with pytest.raises(SourceNotFound, match="no weight files"):
        rel.require_weight_files()


def test_single_file(tmp_path: Path) -> None:
    _weights(tmp_path / "w.safetensors", ["w"])
    rel = resolve(str(tmp_path / "w.safetensors"))
    assert rel.kind == "file" and rel.root == tmp_path and rel.weight_files() == [tmp_path / "w.safetensors"]
    # the magic decides, not the extension: a safetensors named .ckpt is still accepted
    os.rename(tmp_path / "w.safetensors", tmp_path / "w.ckpt")
    assert resolve(tmp_path / "w.ckpt").kind == "file"
    (tmp_path / "notes.txt").write_text("hello, not weights")
    with pytest.raises(UnsupportedFormat):
        resolve(tmp_path / "notes.txt")


def test_missing_path_is_source_not_found(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFound) as exc:
        resolve(str(tmp_path / "nope"))
    assert "\n" not in str(exc.value) and "nope" in str(exc.value)


def _hf_cache(cache: Path, repo: str = "acme/tiny", commit: str = "a" * 40) -> Path:
    """A real HF cache layout: blobs named by hash, snapshot symlinks into them, refs/main."""
    repo_dir = cache / ("models--" + repo.replace("/", "--"))
    blobs, snap = repo_dir / "blobs", repo_dir / "snapshots" / commit
    blobs.mkdir(parents=True)
    snap.mkdir(parents=True)
    _weights(blobs / "b1", ["w"])
    (blobs / "b2").write_text(json.dumps({"model_type": "llama"}))
    os.symlink("../../blobs/b1", snap / "model.safetensors")
    os.symlink("../../blobs/b2", snap / "config.json")
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(commit)
    return repo_dir


def test_hf_cache_entry_and_snapshot(tmp_path: Path) -> None:
    repo_dir = _hf_cache(tmp_path)
    old = repo_dir / "snapshots" / ("b" * 40)
    old.mkdir()
    for spec in (repo_dir, repo_dir / "snapshots" / ("a" * 40)):
        rel = resolve(spec)
        assert rel.kind == "hf-cache" and rel.name == "acme/tiny" and rel.revision == "a" * 40
        [weights] = rel.weight_files()
        assert weights.name == "model.safetensors"
        with open_tensor_file(weights) as f:
            assert f.tensors()[0].shape == (4, 3)
        assert load_config(rel) == {"model_type": "llama"}


def test_hf_cache_symlink_leaving_the_repo_is_refused(tmp_path: Path) -> None:
    repo_dir = _hf_cache(tmp_path / "cache")
    secret = tmp_path / "secret.txt"
    secret.write_text("private")
    os.symlink(secret, repo_dir / "snapshots" / ("a" * 40) / "tokenizer.json")
    with pytest.raises(UnsafeContent, match="outside the release"):
        resolve(repo_dir)


def test_hub_id_from_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _hf_cache(tmp_path, "acme/tiny")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    rel = resolve("acme/tiny")
    assert rel.kind == "hub" and rel.name == "acme/tiny" and rel.revision == "a" * 40
    assert resolve("acme/tiny@" + "a" * 40).revision == "a" * 40


def test_hub_id_not_cached_and_offline_fails_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    for offline in ("1", ""):
        monkeypatch.setenv("HF_HUB_OFFLINE", offline)
        start = time.monotonic()
        with pytest.raises(HubUnreachable) as exc:
            resolve("acme/not-cached-model@main")
        assert time.monotonic() - start < 30
        message = str(exc.value)
        assert "\n" not in message and "acme/not-cached-model" in message and "HF cache" in message


def test_minilm_real_folder(minilm_dir: Path) -> None:
    rel = resolve(minilm_dir)
    [weights] = rel.weight_files()
    assert weights.name == "model.safetensors"
    assert load_config(rel)["model_type"] == "bert"
    assert rel.find("tokenizer.json") is not None
