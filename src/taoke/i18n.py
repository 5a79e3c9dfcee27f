"""Report strings in English and Chinese: one message catalogue, looked up by the English text.

WHY Chinese: the community that argued the Yi-34B case (套壳, "shelling") reads Chinese; an audit it
cannot read settles nothing, and one that says more in Chinese than in English misleads it.

How it works (gettext's model, with the catalogue as data in ``taoke/data/i18n/zh.json``):

- **strings**: every label, heading and status word of the reports, keyed by its English text
  (``tr("Per-layer similarity", "zh")``). A missing entry falls back to English, and the report tests
  render every report in Chinese and fail on any English sentence left, so a new string cannot ship
  untranslated.
- **terms**: closed vocabularies shown as words: relationship names (one agreed Chinese term each,
  e.g. ``renamed-copy`` -> 套壳（重命名复制）), verdicts, severities, statuses.
- **messages**: any other analyzer sentence is matched against English templates (``"{same} of
  {compared} tensors hold ..."``) and re-filled in Chinese; the filled-in fields (names, numbers) are
  returned as *values* so that renderers can mark them as not to be translated, and a field that is
  itself a known term or sentence is translated too.

:func:`message` returns :class:`Piece` lists rather than one string so that a renderer can tell what
it translated from what it quotes (HTML marks values ``translate="no"``; the completeness test checks
that nothing else is English).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

LANGS = ("en", "zh")

_FIELD = re.compile(r"\{(\w+)\}")
# fields that quote the release or another text verbatim: never translated, never taken for prose
_QUOTED = frozenset({"held", "phrase", "phrases", "text", "quote", "answer", "question", "error_text"})
_MAX_DEPTH = 3


@dataclass(frozen=True)
class Piece:
    """A run of a translated sentence: ``value`` runs are quoted data (a name, a number), the rest is
    text in the report's language; ``translated`` is False for English kept because no translation
    was found (a renderer may mark it, a test fails on it)."""

    text: str
    value: bool = False
    translated: bool = True


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Any]:
    """The Chinese catalogue (``strings``, ``terms``, ``messages``), read once."""
    text = resources.files("taoke").joinpath("data", "i18n", "zh.json").read_text(encoding="utf-8")
    data = json.loads(text)
    strings: dict[str, str] = {}
    for group in data["strings"].values():
        strings.update(group)
    terms: dict[str, str] = {}
    for group in data["terms"].values():
        terms.update(group)
    return {
        "strings": strings,
        "terms": terms,
        # the most specific template first: "residual {kind}" must not swallow "residual stream ..."
        "messages": [
            (_compile(en), zh)
            for en, zh in sorted(
                ((en, zh) for group in data["messages"].values() for en, zh in group.items()),
                key=lambda ez: -len(_FIELD.sub("", ez[0])),
            )
        ],
        "term_groups": data["terms"],
    }


def _compile(template: str) -> re.Pattern[str]:
    """An English template with ``{field}`` holes as an anchored regex with named groups."""
    out, pos = [], 0
    for m in _FIELD.finditer(template):
        out.append(re.escape(template[pos : m.start()]))
        out.append(f"(?P<{m.group(1)}>.*?)")
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out), re.DOTALL)


missing: set[str] = set()
"""English strings looked up in another language and not found (what the completeness test reads)."""


def tr(english: str, lang: str) -> str:
    """A report string in ``lang``, looked up by its English text (English when missing or ``en``)."""
    if lang == "en":
        return english
    cat = catalogue()
    got = cat["strings"].get(english) or cat["terms"].get(english)
    if got is None:
        if _letters(english):
            missing.add(english)
        return english
    return got


def has(english: str) -> bool:
    """True when the catalogue holds a Chinese string or term for ``english``."""
    cat = catalogue()
    return english in cat["strings"] or english in cat["terms"]


def term(value: Any, lang: str, group: str | None = None) -> str:
    """A word of a closed vocabulary (a relationship, verdict, status...) in ``lang``; an unknown one
    (a value added by a later version) is shown as it is."""
    text = str(value)
    if lang == "en":
        return text
    cat = catalogue()
    table = cat["term_groups"].get(group, {}) if group else cat["terms"]
    got = table.get(text) or cat["terms"].get(text)
    if got is None:
        if _letters(text):
            missing.add(f"{group or 'term'}: {text}")
        return text
    return got


def relationship(value: Any, lang: str) -> str:
    """The agreed term for a :class:`~taoke.weights.relationship.Relationship` value."""
    return term(value, lang, "relationships")


def has_term(value: Any, group: str) -> bool:
    return str(value) in catalogue()["term_groups"].get(group, {})


def message(kind: str | None, english: str, detail: dict[str, Any] | None, lang: str) -> list[Piece]:
    """One analyzer sentence in ``lang`` as pieces (see the module docstring)."""
    if lang == "en":
        return [Piece(english)]
    if kind == "openness-conclusion" and detail and detail.get("slug"):
        return [Piece(conclusion(str(detail["slug"]), english, lang))]
    if not re.search(r"\s", english.strip()) or not _letters(english):
        return [Piece(english, value=True)]  # a file name, a URL, a number: quoted, not a sentence
    pieces = _translate(english, lang, 0)
    if pieces is None:
        pieces = _split(english.strip(), lang, 0) or [Piece(english, translated=False)]
    for p in pieces:
        if not p.translated and _letters(p.text):
            missing.add(p.text)
    return pieces


def text(pieces: list[Piece]) -> str:
    """Pieces as one plain string."""
    return "".join(p.text for p in pieces)


def fill(english_template: str, lang: str, **fields: Any) -> list[Piece]:
    """A renderer's own sentence with fields: the catalogue's Chinese for ``english_template`` (a
    ``strings`` entry with the same ``{field}`` holes) filled with ``fields`` as values."""
    template = tr(english_template, lang)
    translated = lang == "en" or has(english_template) or not _letters(english_template)
    return _fill_template(template, {k: _as_pieces(v, lang) for k, v in fields.items()}, translated)


# ----------------------------------------------------------------------------------------- internals


def _letters(s: str) -> bool:
    return bool(re.search("[A-Za-z]{2,}", _FIELD.sub("", s)))


def _as_pieces(v: Any, lang: str) -> list[Piece]:
    if isinstance(v, list) and all(isinstance(p, Piece) for p in v):
        return v
    return [Piece(_fmt(v), value=True)]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt(x) for x in v)
    return str(v)


def _fill_template(template: str, fields: dict[str, list[Piece]], translated: bool = True) -> list[Piece]:
    out: list[Piece] = []
    pos = 0
    for m in _FIELD.finditer(template):
        if m.start() > pos:
            out.append(Piece(template[pos : m.start()], translated=translated))
        out.extend(fields.get(m.group(1), [Piece(m.group(0), value=True)]))
        pos = m.end()
    if pos < len(template):
        out.append(Piece(template[pos:], translated=translated))
    return out


def _clean(pieces: list[Piece]) -> bool:
    return all(p.translated for p in pieces)


def _translate(english: str, lang: str, depth: int) -> list[Piece] | None:
    """``english`` as a known term, string or template sentence; None if none fits. A template whose
    fields all translate (or are plain values) wins over one that leaves English in a field: a loose
    template ("{where} under {licence}") must not swallow a sentence another template reads whole."""
    cat = catalogue()
    s = english.strip()
    if s in cat["terms"]:
        return [Piece(cat["terms"][s])]
    if s in cat["strings"]:
        return [Piece(cat["strings"][s])]
    if depth >= _MAX_DEPTH:
        return None
    fallback: list[Piece] | None = None
    for pattern, zh in cat["messages"]:
        m = pattern.fullmatch(s)
        if m is None:
            continue
        fields = {k: _value(v, lang, depth + 1, k in _QUOTED) for k, v in m.groupdict().items()}
        pieces = _fill_template(zh, fields)
        if _clean(pieces):
            return pieces
        fallback = fallback or pieces
    if fallback is not None:
        split = _split(s, lang, depth)
        return split if split is not None else fallback
    return None


def _split(v: str, lang: str, depth: int) -> list[Piece] | None:
    """A list of sentences ("a; b", "a, b") translated part by part, when every part translates."""
    for sep, zh_sep in (("; ", "；"), (", ", "、")):
        parts = v.split(sep)
        if len(parts) > 1:
            # a part without words (a number ending the previous field's match) is a value
            done = [_translate(p, lang, depth) if _letters(p) else [Piece(p, value=True)] for p in parts]
            if all(d is not None and _clean(d) for d in done):
                out: list[Piece] = []
                for i, d in enumerate(done):
                    if i:
                        out.append(Piece(zh_sep))
                    out.extend(d or [])
                return out
    return None


def _value(v: str, lang: str, depth: int, quoted: bool = False) -> list[Piece]:
    """A field of a matched sentence: translated when it is itself a term, string, sentence or a list
    of those; otherwise quoted as a value (a name, a number, a quotation)."""
    if quoted or not _letters(v):
        return [Piece(v, value=True)]
    got = _translate(v, lang, depth)
    if got is not None and _clean(got):
        return got
    split = _split(v, lang, depth)
    if split is not None:
        return split
    if got is not None:
        return got
    if _prose(v):  # an English clause the catalogue lacks, not a name: say so rather than quote it
        return [Piece(v, translated=False)]
    return [Piece(v, value=True)]


_PROSE = re.compile(r"\b[A-Za-z][a-z]+\s+[a-z]{2,}\s+[a-z]{2,}\b")


def _prose(s: str) -> bool:
    """True when ``s`` reads as an English clause (three words in a row, the last two lower-case)
    rather than a name or a number."""
    return bool(_PROSE.search(s))


def conclusion(slug: str, english: str, lang: str) -> str:
    """The openness conclusion in ``lang`` (its English text is the analyzer's own)."""
    if lang == "en":
        return english
    return term(slug, lang, "openness_conclusions")
