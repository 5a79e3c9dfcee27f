"""Shared helpers for the compare tests: zoo models fingerprinted once per session."""

from __future__ import annotations

from functools import cache

import pytest


@cache
def zoo_path(model_id: str) -> str:
    from taoke import zoo
    from taoke.errors import TaokeError

    try:
        return str(zoo.materialize(model_id))
    except (TaokeError, FileNotFoundError, KeyError) as exc:
        pytest.skip(f"zoo model {model_id!r} unavailable: {exc}")
        raise  # unreachable


@cache
def zoo_fp(model_id: str):
    from taoke.weights import fingerprint

    return fingerprint(zoo_path(model_id))
