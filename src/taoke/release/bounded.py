"""Reading untrusted release files within limits: the bottom floor every reader stands on.

A release is untrusted input. Three things go wrong when its files are read naively, and each is
guarded here once for every caller (config, shard indexes, tokenizer files, cards, weight headers):

- a huge file read whole into memory: :func:`read_bytes` and :func:`read_text` check the size first
  and never read more than the limit plus one byte (a file growing while read is caught too);
- JSON nested deeply enough to end in ``RecursionError``, or with duplicate keys that two parsers
  resolve differently (a known way to smuggle a header past a validator): :func:`parse_json` refuses
  both, and :func:`read_json` is the two together;
- a file whose name claims one format and whose bytes are another: :func:`sniff_format` names the
  format from the first bytes, which is what a parser will face.

Every failure is a one-line :class:`~taoke.errors.TaokeError` naming the file. This module imports
nothing of taoke above :mod:`taoke.errors` and :mod:`taoke.limits`.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from taoke.errors import CorruptFile, LimitExceeded, SourceNotFound
from taoke.limits import Limits, current_limits

__all__ = ["parse_json", "read_bytes", "read_json", "read_text", "sniff_format"]

# Legacy (pre-1.6) torch.save files start with a pickled magic number (protocol 2, LONG1 of 10 bytes).
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


def read_bytes(path: str | Path, limit: int, what: str, setting: str = "TAOKE_MAX_STRING_BYTES") -> bytes:
    """A whole file of at most ``limit`` bytes, refused by its size before it is read.

    ``what`` names the file's role in the messages (``"JSON file"``, ``"tokenizer.model"``);
    ``setting`` is the environment variable that raises the limit.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > limit:
                raise LimitExceeded(
                    f"{what} is {size} bytes, more than the {limit} allowed ({setting})", path
                )
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise SourceNotFound("file not found", path) from None
    except IsADirectoryError:
        raise CorruptFile(f"expected a {what}, found a directory", path) from None
    except OSError as exc:
        raise CorruptFile(f"cannot read: {exc.strerror or exc}", path) from None
    if len(data) > limit:  # the file grew while we read it
        raise LimitExceeded(f"{what} is larger than {limit} bytes", path)
    return data


def read_text(path: str | Path, limits: Limits | None = None) -> str:
    """A text file of the release (README, LICENSE, *.py) bounded by ``limits.max_text_bytes``.

    Undecodable bytes are replaced, not refused: a licence with one Latin-1 character is still a licence.
    """
    limits = limits or current_limits()
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(limits.max_text_bytes + 1)
    except FileNotFoundError:
        raise SourceNotFound("file not found", path) from None
    except OSError as exc:
        raise CorruptFile(f"cannot read: {exc.strerror or exc}", path) from None
    if len(data) > limits.max_text_bytes:
        raise LimitExceeded(
            f"text file is larger than {limits.max_text_bytes} bytes (TAOKE_MAX_TEXT_BYTES)", path
        )
    return data.decode("utf-8", "replace")


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


def parse_json(
    data: bytes,
    path: str | Path,
    limits: Limits | None = None,
    what: str = "JSON",
    compact: Callable[[dict[str, Any]], Any] | None = None,
) -> Any:
    """Decode an untrusted JSON document already bounded in size; depth-limited, duplicates refused.

    ``compact``, when given, is called on every object as soon as it is decoded (duplicates already
    refused) and its answer replaces the object: a reader turns its many small records into compact
    values while the document is parsed, instead of holding a dict per record (a safetensors header
    of 850,000 tensors, issue 16). It must return the dict itself for anything it does not compact,
    and compact nothing nested (the depth check does not look inside what it returns).
    """
    limits = limits or current_limits()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptFile(f"{what} is not valid UTF-8 (byte {exc.start})", path) from None
    hook = _no_duplicates if compact is None else (lambda pairs: compact(_no_duplicates(pairs)))
    try:
        value = json.loads(text, object_pairs_hook=hook)
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
    data = read_bytes(path, limits.max_string_bytes, "JSON file")
    return parse_json(data, path, limits, what="JSON")


def sniff_format(path: str | Path) -> str | None:
    """``"safetensors"``, ``"gguf"``, ``"torch-zip"``, ``"torch-legacy"``, ``"torch-tar"`` or ``None``.

    Read from the first 512 bytes, never from the name: an extension is a claim the release makes; the
    magic bytes are what the parser will actually face.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError:
        return None
    if head[:4] == b"GGUF":
        return "gguf"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "torch-zip"
    if head.startswith(_TORCH_LEGACY_MAGIC):
        return "torch-legacy"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "torch-tar"
    if len(head) >= 9:
        (n,) = struct.unpack("<Q", head[:8])
        if n >= 2 and head[8:9] == b"{":
            return "safetensors"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "torch-legacy"  # a bare pickle: the restricted unpickler decides what it may contain
    return None
