"""Helpers shared by all renderers: the output formats, JSON conversion, and drawing rich renderables
as text or as a self-contained HTML page."""

from __future__ import annotations

import enum
import html
import io
import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.segment import Segment


class Format(str, enum.Enum):
    """The output formats of every command. ``text`` is for people, ``json`` for programs, ``html`` a
    self-contained page (no script, nothing fetched) for a report to send on.

    Commands with a report of their own in HTML (audit, compare, contamination, probe) render it; the
    others draw their text rendering as HTML through rich (:func:`renderables_html`).
    """

    TEXT = "text"
    JSON = "json"
    HTML = "html"


class _LazyList(list):  # json's encoder takes list subclasses as arrays, any other sequence not
    """A sequence whose items are made on demand, seen by ``json`` as a list: it converts and encodes
    them one at a time instead of holding them all (850,000 tensor rows: issue 16)."""

    def __init__(self, items: Sequence[Any]) -> None:
        super().__init__()
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Any:
        return (to_jsonable(v) for v in self._items)

    def __getitem__(self, i: Any) -> Any:
        return to_jsonable(self._items[i])


def to_jsonable(obj: Any) -> Any:
    """Convert result objects (with to_dict), numpy scalars/arrays, paths and sets to JSON types."""
    if hasattr(obj, "to_dict"):
        return to_jsonable(obj.to_dict())
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Sequence) and not isinstance(obj, (str, bytes, bytearray)):
        return _LazyList(obj)  # rows made on demand (inspect's TensorRows): converted as encoded
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return to_jsonable(obj.item())
        if isinstance(obj, np.ndarray):
            return to_jsonable(obj.tolist())
    except ImportError:  # pragma: no cover
        pass
    return str(obj)


def dumps(obj: Any) -> str:
    return json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False)


SCHEMA_VERSION = 1
"""The version of every command's JSON schema (docs/schemas/COMMAND.schema.json); raised when a key is
removed or changes meaning, not when one is added."""

ENVELOPE = ("taoke_version", "schema", "command", "verdict")


def schema_id(command: str) -> str:
    """``taoke/compare/1``: the ``schema`` value of a command's JSON and the ``$id`` of its schema file
    ``docs/schemas/compare.schema.json`` (spaces in sub-commands become dashes)."""
    return f"taoke/{command.replace(' ', '-')}/{SCHEMA_VERSION}"


def json_report(command: str, body: Any, verdict: str | None) -> str:
    """The JSON of one command: the envelope every command shares, then the command's own fields.

    WHY one envelope: a program reading taoke's output should find the version, the schema to validate
    against, the command and its answer under the same keys whatever the command (the answer used to be
    ``relationship``, ``relation``, ``verdict``, ``conclusion`` or ``headline``). ``verdict`` is one
    short string (its vocabulary is each schema's; a result with a ``verdict`` of its own keeps it), or
    null for a command that answers no question (``fingerprint``, ``registry info``); the domain fields
    stay as they were.
    """
    from taoke._version import __version__

    data = to_jsonable(body)
    if not isinstance(data, dict):
        data = {"result": data}
    out: dict[str, Any] = {
        "taoke_version": __version__,
        "schema": schema_id(command),
        "command": command,
        "verdict": data.get("verdict", verdict),  # a result that words its own verdict keeps it
    }
    out.update({k: v for k, v in data.items() if k not in ENVELOPE})
    return json.dumps(out, indent=2, ensure_ascii=False)


class JsonChunks:
    """A command's JSON (the same text as :func:`json_report`) as chunks to write one after another.

    WHY: ``json.dumps`` keeps every piece of the encoding in a list and joins them; for 850,000 tensor
    rows that was gigabytes (issue 16). Iterating encodes as it goes, a few hundred KB at a time, and
    rows made on demand (:class:`_LazyList`) are converted one by one. ``str()`` gives the whole text.
    """

    CHUNK = 1 << 18  # characters joined before a chunk is handed on

    def __init__(self, command: str, body: Any, verdict: str | None) -> None:
        self.command, self.body, self.verdict = command, body, verdict

    def __iter__(self) -> Iterator[str]:
        from taoke._version import __version__

        data = to_jsonable(self.body)
        if not isinstance(data, dict):
            data = {"result": data}
        out: dict[str, Any] = {
            "taoke_version": __version__,
            "schema": schema_id(self.command),
            "command": self.command,
            "verdict": data.get("verdict", self.verdict),
        }
        out.update({k: v for k, v in data.items() if k not in ENVELOPE})
        buf: list[str] = []
        size = 0
        for piece in json.JSONEncoder(indent=2, ensure_ascii=False).iterencode(out):
            buf.append(piece)
            size += len(piece)
            if size >= self.CHUNK:
                yield "".join(buf)
                buf.clear()
                size = 0
        if buf:
            yield "".join(buf)

    def __str__(self) -> str:
        return "".join(self)


Rendered = str | RenderableType | Sequence[RenderableType] | JsonChunks
"""What a renderer returns: finished text (JSON, HTML or plain text), JSON to stream, or rich
renderables to draw."""


def fmt_p(p: float | None) -> str:
    """Format a p-value for humans: 3.2e-12, 0.041, '<1e-300'."""
    if p is None:
        return "-"
    if p <= 0:
        return "<1e-300"
    if p < 1e-3:
        return f"{p:.1e}"
    return f"{p:.3f}"


def fmt_count(n: int | float) -> str:
    """Human count: 134.5M, 6.1B."""
    n = float(n)
    for unit, div in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.1f}{unit}"
    return f"{n:.0f}"


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_CONTROL_ALL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def clean(text: object, lines: bool = False) -> str:
    """``str(text)`` with control and bidi-override characters shown as visible escapes (``\\x1b``,
    ``\\u202e``); ``lines=True`` keeps newlines and tabs (code, multi-line answers)."""
    return (_CONTROL if lines else _CONTROL_ALL).sub(_visible, str(text))


def _visible(m: re.Match[str]) -> str:
    o = ord(m.group())
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"


class SafeConsole(Console):
    """A rich console that never lets a release string drive the terminal or rich.

    WHY one console class rather than an ``escape`` at every call site: release strings (tensor, file,
    model and card names, GGUF values, error messages naming them) reach the screen through hundreds
    of table cells, titles and messages, and one forgotten ``escape`` made a ``[/]`` in a tensor name
    crash the CLI. Here every ``str`` that rich turns into text passes :func:`clean` first (control
    and bidi characters shown as ``\\x1b``, never sent), and markup is off unless the caller asks
    for it, in which case the caller's strings are taoke's own with every outside part escaped
    (``rich.markup.escape``), as the audit and contamination renderers do.
    """

    def render_str(self, text: str, **kwargs: Any) -> Any:  # every str -> Text conversion of rich
        return super().render_str(clean(text, lines=True), **kwargs)

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        # the last step before the terminal: text that reached rich as a ``Text`` (not a ``str``) is
        # cleaned here; rich's own control segments (cursor moves of a progress bar) pass untouched,
        # and the colour codes rich adds are made after this, from each segment's style
        return super()._render_buffer(
            s if s.control else Segment(clean(s.text, lines=True), s.style, s.control) for s in buffer
        )


def console(*, markup: bool = False, **kwargs: Any) -> Console:
    """The one way taoke makes a rich console (see :class:`SafeConsole`); ``highlight`` is off."""
    kwargs.setdefault("highlight", False)
    return SafeConsole(markup=markup, **kwargs)


def stdout_console() -> Console:
    return console(soft_wrap=False)


def as_group(items: RenderableType | Sequence[RenderableType]) -> RenderableType:
    """One renderable from one or many."""
    if isinstance(items, (list, tuple)):
        return Group(*items)
    return items


def renderables_text(items: RenderableType | Sequence[RenderableType], width: int = 120) -> str:
    """Rich renderables as plain text (no colour codes), ``width`` columns: for files and pipes."""
    buf = io.StringIO()
    console(file=buf, width=width, force_terminal=False, color_system=None).print(as_group(items))
    return buf.getvalue()


def renderables_html(items: RenderableType | Sequence[RenderableType], width: int = 120) -> str:
    """Rich renderables as one self-contained HTML page (inline styles, nothing fetched)."""
    con = console(file=io.StringIO(), width=width, record=True, force_terminal=True)
    con.print(as_group(items))
    return con.export_html(inline_styles=True)
