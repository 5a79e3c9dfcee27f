"""``taoke scan LIST --html DIR``: an index page of every scanned model (its nearest relative, the
relationship, whether the release declares it) linking to one page per model.

The pages use the design of every taoke report (:mod:`taoke.render.html`). File names of the model
pages are made from a running number and the model's name reduced to ``[A-Za-z0-9._-]`` (a release
name can hold anything, ``../`` included); links are relative, so the folder can be moved or zipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from taoke.render import svg
from taoke.render.html import Header, Words, name, page, value

_TONE = {
    "undeclared-parent": "alert",
    "declared-parent-mismatch": "alert",
    "failed": "caution",
    "declared-parent-not-found": "caution",
    "declared-parent-confirmed": "ok",
    "has-derivative": "ok",
    "no-relative": "neutral",
}


@dataclass
class Row:
    f: Any
    href: str
    declared: str  # declared | undeclared | none (no relative)
    tone: str


def page_name(k: int, f: Any) -> str:
    """The file name of a model's page: ``007-a-obf-all.html`` (safe on every file system)."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", str(f.name or f.source).split("/")[-1]).strip("._") or "model"
    return f"models/{k:03d}-{base[:60]}.html"


def _norm(s: str) -> str:
    return str(s).strip().rstrip("/").lower().split("/")[-1].split("@")[0]


def _declared(f: Any) -> str:
    if not f.relative:
        return "none"
    return "declared" if _norm(f.relative) in {_norm(d) for d in f.declared_base} else "undeclared"


def _rows(result: Any) -> list[Row]:
    return [
        Row(f, page_name(k, f), _declared(f), _TONE.get(f.finding, "neutral"))
        for k, f in enumerate(result.findings, 1)
    ]


def _null(L: Words) -> Markup:
    return escape(
        L(
            "If a model had been trained independently of a registered one, a match at least this strong "
            "would turn up with probability p (per model, Holm-adjusted over the candidates it was "
            "compared with)."
        )
    )


def index_header(result: Any, L: Words) -> Header:
    c = result.counts.get("finding", {})
    alerts = c.get("undeclared-parent", 0) + c.get("declared-parent-mismatch", 0)
    verdict = L.f(
        "{undeclared} models with an undeclared parent, {mismatch} with a declaration the weights "
        "contradict, "
        "{confirmed} confirmed, {failed} failed",
        undeclared=c.get("undeclared-parent", 0),
        mismatch=c.get("declared-parent-mismatch", 0),
        confirmed=c.get("declared-parent-confirmed", 0),
        failed=c.get("failed", 0),
    )
    return Header(
        kind="Registry scan",
        title=L.f("{n} models scanned", n=len(result.findings)),
        verdict=verdict,
        tone="alert" if alerts else "ok",
        p_value=None,
        p_note=escape(L("one per model, in the table")),
        null=_null(L),
        confidence=None,
        compared=[
            ("Registry", name(result.registry)),
            ("Executor", value(f"{result.executor} ({result.workers or '-'})")),
            ("Shortlist", value(result.shortlist)),
        ],
    )


def model_header(f: Any, L: Words) -> Header:
    best = f.candidates[0] if f.candidates else None
    if f.relative:
        verdict = L.f(
            "{finding}: {relationship} of {relative}",
            finding=L.term(f.finding, "scan_findings"),
            relationship=L.rel(f.relationship),
            relative=name(f.relative),
        )
    elif f.error:
        verdict = L.f("{finding}: {error}", finding=L.term(f.finding, "scan_findings"), error=L.err(f.error))
    else:
        verdict = escape(L.term(f.finding, "scan_findings"))
    declared = Markup(", ").join(name(d) for d in f.declared_base) if f.declared_base else escape(L("none"))
    return Header(
        kind="Registry scan",
        title=name(f.name or f.source),
        verdict=verdict,
        tone=_TONE.get(f.finding, "neutral"),
        p_value=f.p_value_holm,
        p_note=escape(L("Holm-adjusted over the candidates"))
        if f.p_value_holm is not None
        else escape(L("no relative tested")),
        null=_null(L),
        confidence=best.get("confidence") if best and f.relative else None,
        compared=[("Source", name(f.source)), ("Declared base", declared)],
    )


def _strip(c: dict[str, Any], L: Words) -> Markup:
    layers = [m for m in c.get("layers") or [] if isinstance(m, dict) and "p_value" in m]
    if not layers:
        return Markup("")
    return svg.pvalue_strip(
        [m.get("p_value") for m in layers],
        1e-3,
        svg.StripLabels(
            x=L("suspect layer"),
            y=L("per-layer p-value"),
            alpha=L("α = {alpha}"),
            beyond=L("p below 1e-{cap}"),
            untested=L("not tested"),
        ),
    )


def render_index(result: Any, lang: str = "en", links: bool = True) -> str:
    """The index page alone (``links=False``: without links to model pages, for ``--format html``)."""
    L = Words(lang)
    return page(
        "scan_index.html.j2", lang, index_header(result, L), result=result, rows=_rows(result), links=links
    )


def render_site(result: Any, lang: str = "en") -> dict[str, str]:
    """Every page of the scan report: ``{"index.html": ..., "models/001-x.html": ...}``."""
    L = Words(lang)
    rows = _rows(result)
    out = {"index.html": render_index(result, lang)}
    for row in rows:
        best = row.f.candidates[0] if row.f.candidates else None
        out[row.href] = page(
            "scan_model.html.j2",
            lang,
            model_header(row.f, L),
            row=row,
            f=row.f,
            strip=_strip(best, L) if best and row.f.relative else Markup(""),
        )
    return out
