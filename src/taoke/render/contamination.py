"""Draw a :class:`~taoke.contamination.ContaminationResult`: terminal text, JSON, or self-contained HTML.

Renderers never compute: every number drawn is in the result. The HTML has no external references.
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from rich.table import Table

from taoke.render.common import dumps, esc, fmt_p

_VERDICT_STYLE = {"contaminated": "bold red", "no-evidence": "green", "no-power": "yellow"}


def render(result: Any, fmt: str = "text", width: int = 110) -> str:
    """The result as ``text``, ``json`` or ``html``."""
    if fmt == "json":
        return dumps(result)
    if fmt == "html":
        return render_html(result)
    return render_text(result, width)


def _test_rows(result: Any) -> list[tuple[str, str, str, str]]:
    rows = []
    for t in (result.order, result.option):
        if t is None:
            continue
        rows.append(
            (
                t.name,
                fmt_p(t.p_value),
                f"{t.draws} {'shuffles' if 'item' in t.name else 'draws'}, min p {fmt_p(t.min_p)}",
                f"{t.statistic - t.null_mean:+.2f} nats vs null (sd {t.null_std:.2f})"
                if "item" in t.name
                else f"{t.statistic:+.2f} nats summed over items (null sd {t.null_std:.2f})",
            )
        )
    return rows


def _item_rows(result: Any, n: int = 10) -> list[tuple[str, ...]]:
    by = {r.index: r for r in result.items}
    rows = []
    for idx in result.likely_seen[:n]:
        r = by[idx]
        rows.append(
            (
                str(r.index),
                "-" if r.option_rank_p is None else f"{r.option_rank_p:.2f}",
                "-" if r.option_margin is None else f"{r.option_margin:+.1f}",
                f"{r.min_k_pp:+.2f}",
                "-" if r.substitution_gap_min_k_pp is None else f"{r.substitution_gap_min_k_pp:+.2f}",
                r.preview,
            )
        )
    return rows


def render_text(result: Any, width: int = 110) -> str:
    """Terminal report."""
    buf = io.StringIO()
    con = Console(file=buf, width=width, highlight=False, force_terminal=False, color_system=None)
    con.rule(f"benchmark contamination: {result.model}")
    con.print(
        f"benchmark: {result.benchmark} ({result.n_items} items scored, "
        f"{result.n_choice_items} multiple-choice)"
    )
    style = _VERDICT_STYLE.get(result.verdict, "")
    con.print(f"\n[{style}]verdict: {result.verdict}[/]")
    con.print(result.conclusion)
    tab = Table(title="exact tests", show_lines=False)
    for col in ("test", "p-value", "null draws", "published order vs null"):
        tab.add_column(col)
    for row in _test_rows(result):
        tab.add_row(*row)
    con.print(tab)
    con.print(
        f"model loss on the items: {result.mean_loss:.2f} nats/token "
        f"(uniform guess {result.uniform_loss:.2f})"
    )
    if result.power["reasons"]:
        con.print("no power: " + "; ".join(result.power["reasons"]))
    items = Table(
        title="items most likely seen (option-rank p, Min-K%++ and its gap vs substituted controls)"
    )
    for col in ("item", "rank p", "margin", "Min-K%++", "gap", "question"):
        items.add_column(col, overflow="fold")
    for row in _item_rows(result):
        items.add_row(*row)
    con.print(items)
    for note in result.notes:
        con.print(f"note: {note}")
    con.print(f"how: {result.how}; {result.seconds:.1f} s")
    return buf.getvalue()


def render_html(result: Any) -> str:
    """One self-contained HTML page."""
    color = {"contaminated": "#b00020", "no-evidence": "#1b7f3b", "no-power": "#a66a00"}.get(
        result.verdict, "#333"
    )
    tests = "".join(
        "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in _test_rows(result)
    )
    items = "".join(
        "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in _item_rows(result)
    )
    notes = "".join(f"<li>{esc(n)}</li>" for n in result.notes + result.power["reasons"])
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>taoke contamination: {esc(result.model)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:left}}.v{{color:{color};font-weight:bold}}</style>
</head><body>
<h1>Benchmark contamination: {esc(result.model)}</h1>
<p>benchmark: {esc(result.benchmark)} ({result.n_items} items, {result.n_choice_items} multiple-choice)</p>
<p class="v">verdict: {esc(result.verdict)}</p><p>{esc(result.conclusion)}</p>
<h2>Exact tests</h2><table><tr><th>test</th><th>p-value</th><th>null draws</th><th>published vs null</th></tr>
{tests}</table>
<p>model loss on the items: {result.mean_loss:.2f} nats/token (uniform {result.uniform_loss:.2f})</p>
<h2>Items most likely seen</h2><table><tr><th>item</th><th>rank p</th><th>margin</th>
<th>Min-K%++</th><th>gap</th><th>question</th></tr>{items}</table>
<ul>{notes}</ul><p><small>{esc(result.how)}</small></p>
</body></html>
"""
