"""Shared helpers for the compare tests: zoo models fingerprinted once per session."""

from __future__ import annotations

from functools import cache

from tests.helpers.need import unavailable


@cache
def zoo_path(model_id: str) -> str:
    from taoke import zoo
    from taoke.errors import TaokeError

    try:
        return str(zoo.materialize(model_id))
    except (TaokeError, FileNotFoundError) as exc:
        # a real model not downloaded, a fine-tune not trained: a skip locally, a failure in CI (an
        # unknown id, KeyError, is a broken test and always fails)
        unavailable(f"zoo model {model_id!r} unavailable: {exc}")
        raise  # unreachable


@cache
def zoo_fp(model_id: str):
    from taoke.weights import fingerprint

    return fingerprint(zoo_path(model_id))


def without_tokenizer(model_id: str, out, card: str | None = None):
    """A copy of zoo model ``model_id`` in folder ``out`` without its tokenizer files (what llamafy
    writes); ``card`` replaces its README.md."""
    import shutil
    from pathlib import Path

    out = Path(out)
    shutil.copytree(zoo_path(model_id), out)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (out / name).unlink(missing_ok=True)
    if card is not None:
        (out / "README.md").write_text(card, encoding="utf-8")
    return out
