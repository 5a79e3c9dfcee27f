"""One HTML design for every report: Jinja2 templates with autoescaping, one stylesheet, one header.

Every report page (compare, audit, contamination, probe, probe-compare, scan) extends
``templates/base.html.j2``, whose header says the same five things in the same places: the verdict, the
p-value with its null in plain words, the confidence, what was compared, and the taoke version and
date. Pages are self-contained (inline CSS and SVG, no script, nothing fetched) so they can be mailed,
archived and printed to PDF.

Escaping: Jinja escapes every value (autoescape); release strings additionally have control and
bidi-override characters shown as visible escapes (:func:`taoke.render.svg.clean`), and names and
numbers quoted inside a translated sentence are marked ``translate="no"`` (the Chinese completeness
test checks that every other word on a ``zh`` page is Chinese).

The date is the time of rendering, or ``SOURCE_DATE_EPOCH`` when set (the reproducible-builds
convention, so that a report regenerated from the same result is byte-identical).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from taoke import i18n
from taoke._version import __version__
from taoke.render import svg
from taoke.render.common import fmt_p


def _piece_html(p: i18n.Piece) -> Markup:
    text = svg.clean(p.text)
    if p.value:
        return Markup('<bdi class="v" translate="no">{}</bdi>').format(text)
    if not p.translated:
        return Markup('<span class="untranslated" lang="en">{}</span>').format(text)
    return escape(text)


def pieces_html(pieces: Iterable[i18n.Piece]) -> Markup:
    """Translated pieces as HTML: values quoted (``translate="no"``), English fallbacks marked."""
    return Markup("").join(_piece_html(p) for p in pieces)


def name(value: Any) -> Markup:
    """A release string (model, file, tensor name...) as HTML: escaped, controls shown, isolated
    (``bdi``: a right-to-left override cannot reorder the sentence around it), never translated."""
    if value is None:
        return Markup("-")
    return Markup('<bdi class="n" translate="no">{}</bdi>').format(svg.clean(value))


def value(v: Any) -> Markup:
    """A quoted datum (a number, a dtype, an architecture label): escaped, never translated."""
    if v is None:
        return Markup("-")
    return Markup('<bdi class="v" translate="no">{}</bdi>').format(svg.clean(v))


def code(value: Any) -> Markup:
    """Quoted release text (a code span, a model's answer): escaped, controls shown, not translated."""
    return Markup('<code translate="no">{}</code>').format(svg.clean(value))


ERROR_KINDS = ("-unreadable", "-error", "-not-run", "compare-unavailable")
"""Evidence kinds whose message is an exception's one line (a file and what is wrong with it)."""


class Words:
    """The translation helpers a template sees, bound to one language (``L`` in the templates)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def __call__(self, english: str) -> str:
        return i18n.tr(english, self.lang)

    def f(self, english_template: str, **fields: Any) -> Markup:
        """A sentence of the renderer with fields: ``L.f("{n} layers", n=4)``. A field given as Markup
        (a name already marked, a bold word) is placed as it is; any other is a quoted value."""
        marked = {k: v for k, v in fields.items() if isinstance(v, Markup)}
        slots = {f"\u27e6{k}\u27e7": v for k, v in marked.items()}
        plain = {k: (f"\u27e6{k}\u27e7" if k in marked else v) for k, v in fields.items()}
        return Markup("").join(
            slots[p.text] if p.value and p.text in slots else _piece_html(p)
            for p in i18n.fill(english_template, self.lang, **plain)
        )

    def msg(self, kind: str | None, english: str | None, detail: dict[str, Any] | None = None) -> Markup:
        """An analyzer's sentence (an Evidence message, a reason, a null) in this language."""
        if not english:
            return Markup("")
        return pieces_html(i18n.message(kind, str(english), detail, self.lang))

    def err(self, text: Any) -> Markup:
        """An error from taoke's error tree ("path: problem"): translated when the catalogue reads it,
        else quoted verbatim as a diagnostic (marked, not passed off as a translation)."""
        if not text:
            return Markup("")
        pieces = i18n.message(None, str(text), None, self.lang)
        if all(p.translated for p in pieces):
            return pieces_html(pieces)
        i18n.missing.discard(str(text))
        for p in pieces:
            i18n.missing.discard(p.text)
        return Markup('<code class="diag" translate="no" lang="en">{}</code>').format(svg.clean(text))

    def ev(self, e: Any) -> Markup:
        """An Evidence (object or dict) message in this language (an error's text as :meth:`err`)."""
        d = e if isinstance(e, dict) else {"kind": e.kind, "message": e.message, "detail": e.detail}
        if str(d.get("kind") or "").endswith(ERROR_KINDS):
            return self.err(d.get("message"))
        return self.msg(d.get("kind"), d.get("message"), d.get("detail") or {})

    def rel(self, value: Any) -> str:
        return i18n.relationship(value, self.lang) if value is not None else "-"

    def term(self, value: Any, group: str | None = None) -> str:
        return i18n.term(value, self.lang, group) if value is not None else "-"


@dataclass
class Header:
    """What every report says first, in the same place on every page."""

    kind: str  # "Weight lineage" (English msgid; translated in the template)
    title: Markup  # what was examined, as HTML (names marked)
    verdict: Markup  # the verdict sentence, as HTML
    tone: str = "neutral"  # alert | ok | caution | neutral: the verdict's colour
    p_value: float | None = None
    p_note: Markup = Markup("")  # when there is no p-value: why
    null: Markup = Markup("")  # the null hypothesis in plain words
    confidence: float | None = None
    compared: list[tuple[str, Markup]] = field(default_factory=list)  # (role msgid, HTML)


def report_date() -> str:
    """Now (or SOURCE_DATE_EPOCH) as 'YYYY-MM-DD HH:MM UTC'."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    try:
        t = float(epoch) if epoch else time.time()
    except ValueError:
        t = time.time()
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t))


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja2 environment of the report templates (autoescape on for every template)."""
    env = Environment(
        loader=PackageLoader("taoke.render", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["p"] = fmt_p
    env.filters["name"] = name
    env.filters["code"] = code
    env.filters["value"] = value
    env.filters["clean"] = svg.clean
    env.filters["clean_lines"] = lambda v: svg.clean(v, lines=True)
    env.globals["zip"] = zip
    env.filters["pct"] = lambda x, d=0: "-" if x is None else f"{x:.{d}%}"
    env.filters["num"] = lambda x, d=3: "-" if x is None else f"{x:.{d}f}"
    env.filters["count"] = lambda x: "-" if x is None else f"{x:,}"
    env.globals["svg"] = svg
    return env


def page(template: str, lang: str, header: Header | None, **context: Any) -> str:
    """Render one report page (``templates/<template>``) in ``lang``."""
    words = Words(lang)
    return (
        environment()
        .get_template(template)
        .render(
            L=words,
            lang=lang,
            html_lang="zh-CN" if lang == "zh" else "en",
            header=header,
            version=__version__,
            date=report_date(),
            **context,
        )
    )
