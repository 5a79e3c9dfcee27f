"""Issue 17: a hub id downloads only what taoke reads (one weight format, one GGUF quantization), takes
``--revision``, and a cache snapshot holding several quantizations is read one quantization at a time.

No hub is reachable here: the download goes through huggingface_hub's public API (``HfApi.model_info``,
``snapshot_download``), replaced by a recording fake that lays out a real HF cache from real files."""

from __future__ import annotations

import fnmatch
import json
import shutil
from pathlib import Path

import huggingface_hub
import pytest

from taoke.cli.main import main
from taoke.errors import SourceNotFound
from taoke.release.hub import gguf_quant, select_files
from tests.helpers.compare import zoo_path

# The file list of a typical GGUF repository (several quantizations, one split in a folder).
GGUF_REPO = [
    ".gitattributes",
    "README.md",
    "SmolLM2-135M-Instruct-Q4_K_M.gguf",
    "SmolLM2-135M-Instruct-Q8_0.gguf",
    "SmolLM2-135M-Instruct-IQ2_XS.gguf",
    "SmolLM2-135M-Instruct-f16.gguf",
    "Q6_K/SmolLM2-135M-Instruct-Q6_K-00001-of-00002.gguf",
    "Q6_K/SmolLM2-135M-Instruct-Q6_K-00002-of-00002.gguf",
    "imatrix.dat",
]
# A safetensors repository that also ships .bin, a consolidated copy and an original/ folder.
MIXED_REPO = [
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "special_tokens_map.json",
    "LICENSE.txt",
    "USE_POLICY.md",
    "README.md",
    "model-00001-of-00002.safetensors",
    "model-00002-of-00002.safetensors",
    "model.safetensors.index.json",
    "consolidated.safetensors",
    "pytorch_model-00001-of-00002.bin",
    "pytorch_model-00002-of-00002.bin",
    "pytorch_model.bin.index.json",
    "original/consolidated.00.pth",
    "original/params.json",
    "modeling_custom.py",
    "eval/results.json",
]


def test_select_one_format_and_one_quantization() -> None:
    sel = select_files(MIXED_REPO, repo="org/m")
    assert sel.weights == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    assert "model.safetensors.index.json" in sel.meta and "pytorch_model.bin.index.json" not in sel.meta
    assert {"config.json", "tokenizer.model", "LICENSE.txt", "USE_POLICY.md", "modeling_custom.py"} <= set(
        sel.meta
    )
    assert not any(n.startswith(("original/", "eval/")) for n in sel.names)
    assert select_files(GGUF_REPO, "q4_k_m").weights == ["SmolLM2-135M-Instruct-Q4_K_M.gguf"]
    assert select_files(GGUF_REPO, "Q6_K").weights == [n for n in GGUF_REPO if n.startswith("Q6_K/")]
    assert select_files(GGUF_REPO, "*f16.gguf").weights == ["SmolLM2-135M-Instruct-f16.gguf"]
    with pytest.raises(SourceNotFound, match="5 GGUF quantizations.*org/s:QUANT.*IQ2_XS, Q4_K_M, Q6_K"):
        select_files(GGUF_REPO, repo="org/s")
    with pytest.raises(SourceNotFound, match="Q3_K_S.*its GGUF quantizations: F16, IQ2_XS"):
        select_files(GGUF_REPO, "Q3_K_S")
    assert [gguf_quant(n) for n in ("a.Q4_1.gguf", "ggml-model-f16.gguf", "m-IQ3_XXS.gguf", "x.gguf")] == [
        "Q4_1",
        "F16",
        "IQ3_XXS",
        None,
    ]


class _Hub:
    """A recording stand-in for the hub: ``model_info`` lists the repository; ``snapshot_download``
    writes, into a real HF cache layout, only the files its ``allow_patterns`` let through."""

    def __init__(self, cache: Path, files: dict[str, Path]) -> None:
        self.cache, self.files, self.downloads = cache, files, []

    def model_info(self, repo_id, revision=None, timeout=None, **kw):  # noqa: ANN001
        return huggingface_hub.hf_api.ModelInfo(
            id=repo_id, sha="c0ffee", siblings=[{"rfilename": n} for n in self.files]
        )

    def snapshot_download(self, repo_id, revision=None, cache_dir=None, allow_patterns=None, **kw):  # noqa: ANN001
        self.downloads.append({"repo_id": repo_id, "revision": revision, "allow_patterns": allow_patterns})
        snap = Path(cache_dir) / ("models--" + repo_id.replace("/", "--")) / "snapshots" / "c0ffee"
        for name, src in self.files.items():
            if allow_patterns is None or any(fnmatch.fnmatch(name, p) for p in allow_patterns):
                (snap / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, snap / name)
        refs = snap.parent.parent / "refs"
        refs.mkdir(exist_ok=True)
        (refs / (revision or "main")).write_text("c0ffee")
        return str(snap)


@pytest.fixture
def hub(monkeypatch, tmp_path: Path):
    q8 = Path(zoo_path("a-gguf-q8_0"))
    q4 = Path(zoo_path("a-gguf-q4_0"))
    files = {"README.md": q8.parent / "README.md", "tiny-Q8_0.gguf": q8, "tiny-Q4_0.gguf": q4}  # .gguf paths
    fake = _Hub(tmp_path / "hf", files)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", fake.model_info)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake.snapshot_download)
    return fake


def _inspect(capsys, *argv: str) -> tuple[int, dict | None, str]:
    code = main(["inspect", *argv, "-f", "json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_a_gguf_hub_id_downloads_one_quantization(capsys, hub) -> None:
    code, doc, err = _inspect(capsys, "org/tiny:Q4_0")
    assert code == 0, err
    assert hub.downloads == [
        {"repo_id": "org/tiny", "revision": None, "allow_patterns": ["README.md", "tiny-Q4_0.gguf"]}
    ]
    assert [f["path"] for f in doc["files"] if f["format"] == "gguf"] == ["tiny-Q4_0.gguf"]
    # the other quantization, asked for later, is fetched on its own; the cached one is not refetched
    code, doc, err = _inspect(capsys, "org/tiny", "--include", "q8_0")
    assert code == 0, err
    assert hub.downloads[-1]["allow_patterns"] == ["README.md", "tiny-Q8_0.gguf"]
    assert [f["path"] for f in doc["files"] if f["format"] == "gguf"] == ["tiny-Q8_0.gguf"]
    n = len(hub.downloads)
    code, doc, err = _inspect(capsys, "org/tiny:Q4_0")
    assert code == 0 and len(hub.downloads) == n  # from the cache
    assert [f["path"] for f in doc["files"] if f["format"] == "gguf"] == ["tiny-Q4_0.gguf"]
    # no quantization named: one line listing them, nothing downloaded
    code, doc, err = _inspect(capsys, "org/tiny")
    assert code == 2 and doc is None and err.count("\n") == 1 and "Q4_0, Q8_0" in err
    assert len(hub.downloads) == n


def test_a_safetensors_hub_id_skips_the_other_copies(capsys, monkeypatch, tmp_path: Path, hub) -> None:
    base = Path(zoo_path("base-a"))
    hub.files = {n: base / n for n in ("config.json", "model.safetensors", "tokenizer.json", "README.md")}
    hub.files["pytorch_model.bin"] = base / "model.safetensors"  # a second copy taoke must not fetch
    hub.files["original/consolidated.00.pth"] = base / "model.safetensors"
    code, doc, err = _inspect(capsys, "org/base", "--revision", "v1.0")
    assert code == 0, err
    assert hub.downloads[-1]["revision"] == "v1.0"
    assert sorted(hub.downloads[-1]["allow_patterns"]) == [
        "README.md",
        "config.json",
        "model.safetensors",
        "tokenizer.json",
    ]
    assert doc["family"]["family"] == "llama"


def test_revision_and_include_are_usage_errors_on_a_local_path(capsys) -> None:
    a = zoo_path("base-a")
    assert main(["inspect", a, "--revision", "main"]) == 2
    assert "hub id" in capsys.readouterr().err
    assert main(["inspect", "org/name@v1", "--revision", "v2"]) == 2
    assert "already names revision" in capsys.readouterr().err
    assert main(["fingerprint", "org/name", "--include", "a;b", "-o", "x.npz"]) == 2
    capsys.readouterr()
