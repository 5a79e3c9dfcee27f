"""A release's ``config.json``, read as bounded JSON (see :mod:`taoke.release.bounded`)."""

from __future__ import annotations

from typing import Any

from taoke.errors import CorruptFile
from taoke.limits import Limits
from taoke.release.bounded import read_json
from taoke.release.source import Release


def load_config(release: Release, limits: Limits | None = None) -> dict[str, Any]:
    """The release's ``config.json`` as a dict, ``{}`` when it has none.

    A config that exists but is not a JSON object is a :class:`CorruptFile`: callers rely on
    ``config.get(...)`` and a list or a number there is a broken release, not an empty one.
    """
    path = release.find("config.json")
    if path is None:
        return {}
    value = read_json(path, limits or release.limits)
    if not isinstance(value, dict):
        raise CorruptFile(f"config.json must be a JSON object, found {type(value).__name__}", path)
    return value
