"""Real text found offline on any Debian-like machine with Python, for training the zoo's models.

Lineage signals in trained weights differ from those in random weights, so the zoo trains on real text.
No network is needed: three corpora are read from the machine itself, selected deterministically (sorted
paths, a seeded shuffle, a byte budget) so that the same machine always yields the same text:

- ``code``: the Python standard library's ``.py`` sources (code and docstrings), tests excluded;
- ``man``:  English manual pages (sections 1, 5, 7, 8), with roff markup stripped;
- ``doc``:  Debian package documentation in ``/usr/share/doc`` (changelogs, READMEs, NEWS).

Each corpus records its source, number of files and bytes, so the manifest can say what a model saw.
"""

from __future__ import annotations

import gzip
import hashlib
import random
import re
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

CORPUS_BYTES = {"code": 4_000_000, "man": 3_000_000, "doc": 2_000_000}
HELD_OUT_FRACTION = 0.05

_ROFF_ESCAPE = re.compile(r"\\f(\[[^\]]*\]|\(..|.)|\\[&/,|^]|\\\*(\(..|.)")
_ROFF_SPECIAL = {r"\-": "-", r"\(em": "--", r"\(en": "-", r"\(aq": "'", r"\(dq": '"', r"\e": "\\", r"\ ": " "}


@dataclass
class Corpus:
    """A named text corpus: training text, held-out text and where it came from."""

    name: str
    source: str
    files: int
    train_text: str
    held_out_text: str
    paths: list[str] = field(default_factory=list)

    def describe(self) -> dict:
        """Summary recorded in the manifest (no text)."""
        digest = hashlib.sha256((self.train_text + self.held_out_text).encode()).hexdigest()[:16]
        return {
            "name": self.name,
            "source": self.source,
            "files": self.files,
            "train_bytes": len(self.train_text.encode()),
            "held_out_bytes": len(self.held_out_text.encode()),
            "sha256_16": digest,
        }


def _strip_roff(text: str) -> str:
    """Turn roff source into plain text: drop comments and request names, keep their arguments."""
    out: list[str] = []
    for line in text.splitlines():
        if line.startswith(('.\\"', "'\\\"", '.\\\\"')):
            continue
        if line.startswith((".", "'")):
            parts = line.split(None, 1)
            line = parts[1] if len(parts) > 1 else ""
            line = line.replace('"', "")
        for code, repl in _ROFF_SPECIAL.items():
            line = line.replace(code, repl)
        line = _ROFF_ESCAPE.sub("", line)
        if line.strip():
            out.append(line)
    return "\n".join(out)


def _read_text(path: Path) -> str:
    raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    if b"\x00" in raw[:4096]:
        return ""
    return raw.decode("utf-8", errors="replace")


def _take(paths: list[Path], budget: int, seed: int, transform=None) -> tuple[list[str], list[str]]:
    """Seeded shuffle of sorted paths, then read until the byte budget is met."""
    paths = sorted(paths)
    random.Random(seed).shuffle(paths)
    docs: list[str] = []
    used: list[str] = []
    total = 0
    for path in paths:
        try:
            text = _read_text(path)
        except (OSError, EOFError, gzip.BadGzipFile):
            continue
        if transform is not None:
            text = transform(text)
        text = text.strip()
        if len(text) < 200:
            continue
        docs.append(text)
        used.append(str(path))
        total += len(text.encode())
        if total >= budget:
            break
    return docs, used


def _split(name: str, source: str, docs: list[str], used: list[str]) -> Corpus:
    if not docs:
        raise FileNotFoundError(f"{source}: no text found for corpus {name!r}")
    n_held = max(1, int(len(docs) * HELD_OUT_FRACTION))
    sep = "\n\n"
    return Corpus(name, source, len(docs), sep.join(docs[n_held:]), sep.join(docs[:n_held]), used)


def load_corpus(name: str) -> Corpus:
    """Collect one corpus (``code``, ``man`` or ``doc``) deterministically from this machine."""
    budget = CORPUS_BYTES[name]
    if name == "code":
        root = Path(sysconfig.get_paths()["stdlib"])
        skip = {"test", "tests", "idle_test", "site-packages", "pydoc_data", "__pycache__", "encodings"}
        paths = [p for p in root.rglob("*.py") if not (set(p.relative_to(root).parts) & skip)]
        docs, used = _take(paths, budget, seed=1)
        return _split(name, f"Python {sysconfig.get_python_version()} standard library ({root})", docs, used)
    if name == "man":
        root = Path("/usr/share/man")
        paths = [
            p
            for sec in ("man1", "man5", "man7", "man8")
            for p in (root / sec).glob("*.gz")
            if not p.name.startswith(("gcloud", "bq", "gsutil"))  # thousands of near-identical CLI pages
        ]
        docs, used = _take(paths, budget, seed=2, transform=_strip_roff)
        return _split(name, "English manual pages, sections 1/5/7/8 (/usr/share/man)", docs, used)
    if name == "doc":
        root = Path("/usr/share/doc")
        pats = ("changelog*.gz", "NEWS*", "README*")
        paths = sorted({p for pat in pats for p in root.glob(f"*/{pat}") if p.is_file()})
        docs, used = _take(paths, budget, seed=3)
        return _split(
            name, "Debian package documentation (/usr/share/doc changelogs, NEWS, READMEs)", docs, used
        )
    raise KeyError(f"unknown corpus {name!r}; known: {', '.join(CORPUS_BYTES)}")
