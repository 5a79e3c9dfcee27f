"""Draw a :class:`~taoke.contamination.ContaminationResult`: terminal text, JSON, or self-contained HTML.

The HTML page (the design of every taoke report) shows each exact test as the distribution of its null
draws (shuffled item orders, random option orders) with the published order marked, and the items most
likely memorised as a ranking. Renderers never compute: every number drawn is in the result.
"""

from __future__ import annotations

import io
from typing import Any

from markupsafe import Markup
from markupsafe import escape as html_escape
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from taoke import i18n
from taoke.render import svg
from taoke.render.common import console, fmt_p, json_report
from taoke.render.html import Header, Words, name, page
from taoke.render.svg import clean

_VERDICT_STYLE = {
    "contaminated": "bold red",
    "no-evidence": "green",
    "no-power": "yellow",
    "cannot-tell": "yellow",
}
_TONE = {"contaminated": "alert", "no-evidence": "ok", "no-power": "caution", "cannot-tell": "caution"}


def verdict_tone(verdict: str) -> str:
    return _TONE.get(verdict, "neutral")


def render(result: Any, fmt: str = "text", width: int = 110, lang: str = "en") -> str:
    """The result as ``text``, ``json`` or ``html``."""
    if fmt == "json":
        return json_report("contamination", result, str(result.verdict))
    if fmt == "html":
        return render_html(result, lang)
    return render_text(result, width, lang)


def _tests(result: Any) -> list[Any]:
    return [t for t in (result.order, result.option) if t is not None]


def _m(text: Any, lang: str) -> str:
    return clean(i18n.text(i18n.message(None, str(text), None, lang))) if text else ""


def render_text(result: Any, width: int = 110, lang: str = "en") -> str:
    """Terminal report."""
    buf = io.StringIO()
    con = console(markup=True, file=buf, width=width, force_terminal=False, color_system=None)
    T = lambda s: escape(i18n.tr(s, lang))  # noqa: E731
    F = lambda s, **kw: escape(clean(i18n.text(i18n.fill(s, lang, **kw))))  # noqa: E731
    con.rule(F("Benchmark contamination: {model}", model=clean(result.model)))
    con.print(
        F(
            "benchmark: {benchmark} ({n} items scored, {k} multiple-choice)",
            benchmark=clean(result.benchmark),
            n=result.n_items,
            k=result.n_choice_items,
        )
    )
    style = _VERDICT_STYLE.get(result.verdict, "")
    con.print(
        f"\n[{style}]{T('Verdict')}: {escape(i18n.term(result.verdict, lang, 'contamination_verdicts'))}[/]"
    )
    con.print(escape(_m(result.conclusion, lang)))
    tab = Table(title=i18n.tr("exact tests", lang), show_lines=False)
    for col in ("test", "p-value", "null draws", "published order vs null"):
        tab.add_column(i18n.tr(col, lang))
    for t in _tests(result):
        tab.add_row(
            i18n.term(t.name, lang, "contamination_tests"),
            fmt_p(t.p_value),
            f"{t.draws}",
            f"{t.statistic - t.null_mean:+.2f} (sd {t.null_std:.2f})",
        )
    con.print(tab)
    for t in _tests(result):
        if getattr(t, "cannot_tell", None):
            con.print(f"{T('cannot tell')}: {escape(_m(t.cannot_tell, lang))}")
    con.print(f"{T('Assumption')}: {escape(_m(result.assumption, lang))}")
    con.print(
        F(
            "model loss on the items: {loss} nats/token (a uniform guess: {uniform})",
            loss=f"{result.mean_loss:.2f}",
            uniform=f"{result.uniform_loss:.2f}",
        )
    )
    for reason in result.power["reasons"]:
        con.print(f"{T('no power')}: {escape(_m(reason, lang))}")
    items = Table(title=i18n.tr("items most likely seen", lang))
    for col in ("item", "rank p", "margin (nats)", "Min-K%++", "gap vs controls", "question"):
        items.add_column(i18n.tr(col, lang), overflow="fold")
    by = {r.index: r for r in result.items}
    for idx in result.likely_seen[:10]:
        r = by[idx]
        items.add_row(
            str(r.index),
            "-" if r.option_rank_p is None else f"{r.option_rank_p:.2f}",
            "-" if r.option_margin is None else f"{r.option_margin:+.1f}",
            f"{r.min_k_pp:+.2f}",
            "-" if r.substitution_gap_min_k_pp is None else f"{r.substitution_gap_min_k_pp:+.2f}",
            Text(clean(r.preview)),
        )
    con.print(items)
    for note in result.notes:
        con.print(f"{T('note')}: {escape(_m(note, lang))}")
    con.print(f"{T('how')}: {escape(clean(result.how))}; {result.seconds:.1f} s")
    return buf.getvalue()


def null_chart(result: Any, L: Words, test: Any = None) -> Markup:
    """The null distribution of one exact test (default: item order, else option order) with the
    published order's score marked."""
    tests = [test] if test is not None else _tests(result)
    for t in tests:
        h = getattr(t, "null_histogram", None)
        if not h or not h.get("counts"):
            continue
        item = "item" in t.name
        return svg.histogram(
            h["edges"],
            h["counts"],
            t.statistic,
            svg.HistogramLabels(
                x=L("log-likelihood of the whole benchmark (nats)")
                if item
                else L("published-order advantage summed over items (nats)"),
                y=L("shuffled orders") if item else L("random option orders"),
                marker=L("published order: {value}"),
                null=L(t.name),
            ),
        )
    return Markup("")


def _ranking(result: Any, L: Words) -> Markup:
    by = {r.index: r for r in result.items}
    bars = []
    for idx in result.likely_seen[:10]:
        r = by[idx]
        val = r.option_margin if r.option_margin is not None else r.substitution_gap_min_k_pp
        note = (
            f"rank p {r.option_rank_p:.2f}" if r.option_rank_p is not None else f"Min-K%++ {r.min_k_pp:+.2f}"
        )
        bars.append(svg.Bar(f"#{r.index}", val, note))
    vals = [b.value for b in bars if b.value is not None]
    if not vals:
        return Markup("")
    lo, hi = min(0.0, *vals), max(0.0, *vals)
    return svg.hbars(
        bars,
        vmin=lo,
        vmax=hi if hi > lo else lo + 1.0,
        axis=L("published order's margin over the best other option order (nats)"),
        label_width=60,
    )


def header(result: Any, L: Words) -> Header:
    tests = [t for t in _tests(result) if getattr(t, "cannot_tell", None) is None]
    best = min(tests, key=lambda t: t.p_value) if tests else None
    level = getattr(best, "level", None) or result.settings.get("alpha", 0.05) / max(1, len(tests))
    return Header(
        kind="Benchmark contamination",
        title=L.f("{model} on {benchmark}", model=name(result.model), benchmark=name(result.benchmark)),
        verdict=Markup("<b>")
        + L.term(result.verdict, "contamination_verdicts")
        + Markup("</b><div class='small'>")
        + L.msg(None, result.conclusion)
        + Markup("</div>"),
        tone=verdict_tone(result.verdict),
        p_value=best.p_value if best else None,
        p_note=L.f(
            "the smallest of the {n} exact tests that can tell, each at level {level} "
            "(Bonferroni over the tests that can reach it, Tarone 1990)",
            n=len(tests),
            level=f"{level:.3g}",
        )
        if best
        else html_escape(L("no test could run")),
        null=L.f(
            "If {model} never saw {benchmark}, its items in their published order would be no likelier to "
            "the model than in a shuffled order.",
            model=name(result.model),
            benchmark=name(result.benchmark),
        ),
        confidence=None,
        compared=[
            (
                "Model",
                name(result.model)
                + Markup(' <span class="small muted">')
                + L.msg(None, result.how)
                + Markup("</span>"),
            ),
            (
                "Benchmark",
                name(result.benchmark)
                + Markup(" ")
                + L.f(
                    "({n} of {total} items scored, {k} multiple-choice)",
                    n=result.n_items,
                    total=result.n_items_total,
                    k=result.n_choice_items,
                ),
            ),
        ],
    )


def render_html(result: Any, lang: str = "en") -> str:
    """One self-contained HTML page."""
    L = Words(lang)
    by = {r.index: r for r in result.items}
    return page(
        "contamination.html.j2",
        lang,
        header(result, L),
        r=result,
        tests=[(t, null_chart(result, L, t)) for t in _tests(result)],
        ranking=_ranking(result, L),
        seen=[by[i] for i in result.likely_seen[:10] if i in by],
    )
