"""Model cards (README.md with YAML front matter) and licence files of a release.

The front matter is untrusted YAML: it is loaded with a :class:`yaml.SafeLoader` subclass (never
``yaml.load`` with a full loader, so no Python objects) that also caps alias references — a "billion
laughs" document is tiny on disk but expands exponentially as soon as anything walks it (rendering to
JSON, for instance) — and nesting depth. The card text is read with a byte bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from taoke.errors import CorruptFile, LimitExceeded
from taoke.limits import Limits, current_limits
from taoke.release.bounded import read_text
from taoke.release.source import Release

MAX_YAML_ALIASES = 100
# Model card file names, in order of preference. The last two are where a card is kept when the
# release was repackaged with its own README in front (README.upstream.md) or ships it as plain text.
CARD_NAMES = ("readme.md", "readme", "model_card.md", "readme.upstream.md", "readme.txt")
_TEXT_SUFFIXES = ("", ".txt", ".md", ".html", ".htm", ".rst", ".pdf")
MAX_YAML_NODES = 1_000_000  # nodes after expanding aliases
_FRONT = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*\r?$\n?", re.S | re.M)
_LICENSE_NAME = re.compile(
    r"^(licen[cs]e|copying|notice|use[_-]?policy|acceptable[_-]use)|terms|licen[cs]e", re.I
)


class _BoundedSafeLoader(yaml.SafeLoader):
    """SafeLoader that refuses documents with many aliases or deep nesting before constructing them."""

    def __init__(self, stream: str, max_depth: int) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0
        self._max_depth = max_depth

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise yaml.YAMLError(f"more than {MAX_YAML_ALIASES} YAML aliases (alias bomb?)")
        self._depth += 1
        try:
            if self._depth > self._max_depth:
                raise yaml.YAMLError(f"YAML nested deeper than {self._max_depth} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Nodes the document has once every alias is expanded, in time linear in the composed graph.

    A node met again while its own children are being counted is a recursive document (``&a [*a]``),
    which nothing downstream (JSON rendering) can handle: refused.
    """
    key = id(node)
    if key in memo:
        if memo[key] < 0:
            raise yaml.YAMLError("recursive YAML (an alias inside its own anchor)")
        return memo[key]
    memo[key] = -1
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    memo[key] = min(size, MAX_YAML_NODES + 1)
    return memo[key]


def safe_yaml(text: str, path: str | Path, limits: Limits | None = None) -> Any:
    """Load one untrusted YAML document: safe types only, bounded aliases and depth; one-line errors."""
    limits = limits or current_limits()
    try:
        # the reader checks the characters as it is built: a control character raises here already
        loader = _BoundedSafeLoader(text, limits.max_json_depth)
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CorruptFile(f"invalid YAML front matter: {first}", path) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > MAX_YAML_NODES:
            raise LimitExceeded(f"YAML expands to more than {MAX_YAML_NODES} nodes through aliases", path)
        return loader.construct_document(node)
    except RecursionError:
        raise LimitExceeded("YAML is nested too deeply", path) from None
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CorruptFile(f"invalid YAML front matter: {first}", path) from None
    except (ValueError, TypeError, OverflowError) as exc:
        # SafeConstructor builds dates with datetime(): "2020-99-99" matches its timestamp pattern and
        # then fails as a ValueError, not a YAMLError
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise CorruptFile(f"invalid YAML front matter value: {reason}", path) from None
    finally:
        loader.dispose()


@dataclass
class ModelCard:
    """A model card: its YAML metadata (``{}`` if none) and Markdown body."""

    path: Path | None
    metadata: dict[str, Any] = field(default_factory=dict)
    text: str = ""

    @property
    def license(self) -> str | None:
        """The card's ``license`` id (e.g. ``apache-2.0``, ``llama3``, ``other``), lower-cased."""
        value = self.metadata.get("license")
        if isinstance(value, list) and value:
            value = value[0]
        return str(value).strip().lower() if value not in (None, "") else None

    @property
    def license_name(self) -> str | None:
        value = self.metadata.get("license_name")
        return str(value) if value not in (None, "") else None

    @property
    def license_link(self) -> str | None:
        value = self.metadata.get("license_link")
        return str(value) if value not in (None, "") else None

    @property
    def base_model(self) -> list[str]:
        """Declared parent model(s): ``base_model`` may be a string or a list in HF cards."""
        value = self.metadata.get("base_model")
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        return [str(v) for v in items if v not in (None, "")]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path) if self.path else None,
            "license": self.license,
            "base_model": self.base_model,
            "metadata": self.metadata,
            "text_chars": len(self.text),
        }


def parse_card(text: str, path: str | Path | None = None, limits: Limits | None = None) -> ModelCard:
    """Split ``text`` into YAML front matter (safely loaded) and body."""
    match = _FRONT.match(text)
    if not match:
        return ModelCard(Path(path) if path else None, {}, text)
    where = path or "<model card>"
    meta = safe_yaml(match.group(1), where, limits)
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise CorruptFile(f"model card front matter is a {type(meta).__name__}, not a mapping", where)
    return ModelCard(Path(path) if path else None, {str(k): v for k, v in meta.items()}, text[match.end() :])


def find_card(release: Release) -> Path | None:
    """The release's model card file: the first of :data:`CARD_NAMES` at its top level, or ``None``.

    Names are compared case-insensitively (``README.md``, ``Readme.md``...); of two spellings of one
    name, the first in sort order wins. One rule for every reader of the card (the Model view, audit).
    """
    top: dict[str, Path] = {}
    for path in release.files:  # sorted by resolve()
        if path.parent == release.root:
            top.setdefault(path.name.lower(), path)
    return next((top[name] for name in CARD_NAMES if name in top), None)


def load_card(release: Release, limits: Limits | None = None) -> ModelCard | None:
    """The release's model card (see :func:`find_card`), or ``None`` when it has none."""
    path = find_card(release)
    if path is None:
        return None
    limits = limits or release.limits
    return parse_card(read_text(path, limits), path, limits)


def find_license_files(release: Release) -> list[Path]:
    """Licence-like files at the release's top level: LICENSE*, LICENCE*, COPYING*, NOTICE*, *TERMS*,
    USE_POLICY*. (GGUF's ``general.license`` is in the GGUF metadata, not a file.)"""
    out = []
    for p in release.files:
        if p.parent != release.root:
            continue
        stem = p.name.rsplit(".", 1)[0] if "." in p.name else p.name
        if _LICENSE_NAME.search(stem) and p.suffix.lower() in _TEXT_SUFFIXES:
            out.append(p)
    return sorted(out)
