"""Bounded JSON reading for release files (config.json, shard indexes, tokenizer_config.json...).

``json.load`` on an untrusted file has two failure modes worth guarding: a huge file read whole into
memory, and deep nesting that ends in ``RecursionError`` (a traceback, not a message). Both become
one-line :class:`~taoke.errors.TaokeError`\\ s naming the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taoke.errors import CorruptFile, LimitExceeded, SourceNotFound
from taoke.limits import Limits, current_limits

if TYPE_CHECKING:
    from taoke.sources import Release


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a decoded JSON value, computed iteratively (no recursion to blow up)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            items = item.values()
        elif isinstance(item, list):
            items = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        stack.extend((child, level + 1) for child in items if isinstance(child, (dict, list)))
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two readers that disagree on which duplicate wins is a known way to smuggle a different header
    # past a validator; refuse duplicates outright.
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def parse_json_bytes(data: bytes, path: str | Path, limits: Limits | None = None, what: str = "JSON") -> Any:
    """Decode an untrusted JSON document already bounded in size; depth-limited, duplicates refused."""
    limits = limits or current_limits()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptFile(f"{what} is not valid UTF-8 (byte {exc.start})", path) from None
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise LimitExceeded(f"{what} is nested deeper than {limits.max_json_depth} levels", path) from None
    except ValueError as exc:  # JSONDecodeError is a ValueError, as is our duplicate-key refusal
        raise CorruptFile(f"invalid {what}: {str(exc).splitlines()[0]}", path) from None
    if _depth(value, limits.max_json_depth) > limits.max_json_depth:
        raise LimitExceeded(
            f"{what} is nested deeper than {limits.max_json_depth} levels (TAOKE_MAX_JSON_DEPTH)", path
        )
    return value


def read_json(path: str | Path, limits: Limits | None = None) -> Any:
    """Read and decode a JSON file of at most ``limits.max_string_bytes`` bytes and bounded depth."""
    limits = limits or current_limits()
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > limits.max_string_bytes:
                raise LimitExceeded(
                    f"JSON file is {size} bytes, more than the {limits.max_string_bytes} "
                    "allowed (TAOKE_MAX_STRING_BYTES)",
                    path,
                )
            data = fh.read(limits.max_string_bytes + 1)
    except FileNotFoundError:
        raise SourceNotFound("file not found", path) from None
    except IsADirectoryError:
        raise CorruptFile("expected a JSON file, found a directory", path) from None
    except OSError as exc:
        raise CorruptFile(f"cannot read: {exc.strerror or exc}", path) from None
    if len(data) > limits.max_string_bytes:  # the file grew while we read it
        raise LimitExceeded(f"JSON file is larger than {limits.max_string_bytes} bytes", path)
    return parse_json_bytes(data, path, limits, what="JSON")


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
