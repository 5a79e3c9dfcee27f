"""Draw an :class:`~taoke.jobs.audit.AuditReport`: terminal text (rich), JSON, or one self-contained HTML.

The HTML has no network references (inline CSS, no scripts, no fonts or images fetched), so it can be
mailed, archived or opened offline; it shows a per-layer heatmap when a weights comparison returned
layer scores and the matched code spans side by side. Renderers never compute: everything drawn is in
the report.
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from rich.table import Table

from taoke import i18n
from taoke.render.common import dumps, esc, fmt_p

_STATUS_STYLE = {"met": "green", "not-met": "bold red", "unknown": "yellow"}
_CLASS_STYLE = {"open": "green", "partial": "yellow", "closed": "red"}
_SEV_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}


def render(report: Any, fmt: str = "text", lang: str | None = None, width: int = 120) -> str:
    lang = lang or getattr(report, "lang", "en")
    if fmt == "json":
        return dumps(report)
    if fmt == "html":
        return render_html(report, lang)
    return render_text(report, lang, width)


def _tr(e: Any, lang: str) -> str:
    return i18n.finding(e.kind, e.message, e.detail, lang)


# --------------------------------------------------------------------------- text


def render_text(report: Any, lang: str = "en", width: int = 120) -> str:
    buf = io.StringIO()
    con = Console(file=buf, width=width, highlight=False, force_terminal=False, color_system=None)
    T = lambda k: i18n.t(k, lang)  # noqa: E731
    con.rule(f"{T('title')}: {report.name}")
    con.print(f"{T('release')}: {report.source} ({len(report.files)} files)")
    con.print(f"\n[bold]{T('headline')}[/]")
    for e in report.headline_findings:
        con.print(f"  [{_SEV_STYLE.get(e.severity, '')}]•[/] {_tr(e, lang)}")

    con.print(f"\n[bold]{T('declared')}[/]")
    if report.declared and report.declared.parents:
        for p in report.declared.parents:
            con.print(f"  {T('declared_parents')}: {p.name} ({p.relation or '-'}; {p.source})")
    else:
        con.print(f"  {T('none_declared')}")
    for e in report.reconciliation.findings if report.reconciliation else []:
        con.print(f"  [{_SEV_STYLE.get(e.severity, '')}]{e.severity}[/] {_tr(e, lang)}")

    if report.comparisons:
        con.print(f"\n[bold]{T('comparisons')}[/]")
        for c in report.comparisons:
            if c.compare:
                con.print(
                    f"  {c.reference_name}: {T('relationship')} {c.compare.get('relationship')} "
                    f"(p={fmt_p(c.compare.get('p_value'))})"
                )
            else:
                con.print(f"  {c.reference_name}: {T('compare_unavailable')} — {c.message}")
            if c.tokenizer:
                con.print(f"  {T('tokenizer')}: {c.tokenizer.get('relation')}")

    con.print(
        f"\n[bold]{T('code')}[/]"
        + (f" ({report.code.reference})" if report.code and report.code.reference else "")
    )
    if report.code and report.code.files:
        tab = Table(show_header=True, header_style="bold")
        for col in (
            T("file"),
            T("derives_from"),
            T("containment"),
            T("of_reference"),
            T("classes"),
            T("notice"),
        ):
            tab.add_column(col)
        for f in report.code.files:
            if f.status == "skipped":
                tab.add_row(f.path, T("skipped"), "-", "-", f.reason or "", "-")
            elif f.best is None:
                tab.add_row(f.path, T("no_match"), "-", "-", "", "-")
            else:
                b = f.best
                blocks = ", ".join(x["name"] for x in b.blocks[:5])
                tab.add_row(
                    f.path,
                    b.reference,
                    f"{b.containment_suspect:.0%}",
                    f"{b.containment_reference:.0%}",
                    blocks,
                    T(f.notice_kept or "unknown"),
                )
        con.print(tab)
        for f in report.code.files:
            for s in sorted(f.spans, key=lambda s: -s.fingerprints)[:3]:
                con.print(
                    f"  {f.path}:{s.suspect_start}-{s.suspect_end}  <->  "
                    f"{f.best.reference if f.best else ''}:{s.reference_start}-{s.reference_end} "
                    f"({s.fingerprints} fingerprints)"
                )
    else:
        for e in report.code.evidence if report.code else []:
            con.print(f"  {_tr(e, lang)}")

    con.print(f"\n[bold]{T('claims')}[/]")
    for e in report.claims:
        if e.kind != "benchmark-claims":
            con.print(f"  [{_SEV_STYLE.get(e.severity, '')}]{e.severity}[/] {_tr(e, lang)}")
    if report.benchmarks:
        con.print(f"  {T('benchmarks')}:")
        for row in report.benchmarks[:12]:
            con.print(
                "    " + " | ".join(f"{h}: {c}" for h, c in zip(row["header"], row["cells"], strict=False))
            )
    for c in getattr(report, "contamination", []):
        con.print(f"  contamination ({c.benchmark}, {c.n_items} items): {c.verdict}")
        for t in (c.order, c.option):
            if t is not None:
                con.print(f"    {t.name}: p = {fmt_p(t.p_value)} ({t.draws} draws)")

    con.print(f"\n[bold]{T('licence')}[/]")
    if report.licence:
        con.print(
            f"  {T('release_licence')}: {report.licence.licence or '?'} "
            f"({T('card_tag')}: {report.licence.card_tag or '-'}"
            f"{' [' + report.licence.tag_source + ']' if report.licence.tag_source else ''})"
        )
        for e in report.licence.evidence:
            con.print(f"  [{_SEV_STYLE.get(e.severity, '')}]{e.severity}[/] {_tr(e, lang)}")
    if report.obligations:
        tab = Table(show_header=True, header_style="bold")
        for col in ("licence", T("obligation"), T("status"), T("evidence"), T("because")):
            tab.add_column(col)
        for o in report.obligations:
            tab.add_row(
                o.licence,
                f"{o.clause} {o.summary}",
                f"[{_STATUS_STYLE[o.status]}]{T(o.status)}[/]",
                o.evidence,
                o.because,
            )
        con.print(tab)

    if report.openness:
        op = report.openness
        con.print(f"\n[bold]{T('openness')}[/] — {T('osai')}")
        tab = Table(show_header=True, header_style="bold")
        for col in (T("dimension"), T("rating"), T("evidence")):
            tab.add_column(col)
        for r in op.ratings:
            tab.add_row(r.name, f"[{_CLASS_STYLE[r.klass]}]{T(r.klass)}[/]", r.evidence)
        con.print(tab)
        prog = ", ".join(f"Class {'I' * int(k)} {v:.0f}%" for k, v in sorted(op.mof.progress.items()))
        con.print(f"  {T('mof')}: {op.mof.label} ({T('progress')}: {prog})")
        con.print(f"  [bold]{T('conclusion')}:[/] {i18n.conclusion(op.conclusion, op.conclusion_text, lang)}")

    other = [e for e in report.evidence]
    if other:
        con.print(f"\n[bold]{T('other_findings')}[/]")
        for e in other:
            con.print(f"  [{_SEV_STYLE.get(e.severity, '')}]{e.severity}[/] {_tr(e, lang)}")
    return buf.getvalue()


# --------------------------------------------------------------------------- html

_CSS = """
body{font:14px/1.45 -apple-system,'Segoe UI',Roboto,'Noto Sans','Noto Sans CJK SC','PingFang SC',
'Microsoft YaHei',sans-serif;margin:24px auto;max-width:1200px;color:#1d2330;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:2px solid #e3e7ef;
padding-bottom:4px}.muted{color:#667}table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{border:1px solid #dde2ea;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f5f9}
.high{color:#b3261e;font-weight:600}.medium{color:#9a6700}.low{color:#0b6e99}.info{color:#555}
.met,.open{background:#e6f4ea}.not-met,.closed{background:#fce8e6}.unknown,.partial{background:#fef7e0}
ul.head li{margin:4px 0}
.diff{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:8px;margin:8px 0 16px}
.diff>div{min-width:0}
pre{background:#f7f8fa;border:1px solid #e3e7ef;padding:8px;overflow:auto;font-size:12px;margin:0;
max-height:420px}.cap{font-size:12px;color:#555;margin:2px 0}
table.hm{width:auto}.hm td{width:18px;min-width:18px;height:18px;padding:0;
border:1px solid #fff}.hm th{font-weight:normal;font-size:11px;padding:0 4px;background:none;border:none}
.conclusion{font-size:16px;font-weight:600;padding:8px 12px;background:#eef3fd;border-left:4px solid #3a6fd8}
"""


def _heat_colour(v: float | None) -> str:
    if v is None:
        return "#eee"
    v = max(0.0, min(1.0, float(v)))
    r = int(255 - 200 * v)
    g = int(255 - 120 * v)
    b = int(255 - 40 * v)
    return f"rgb({r},{g},{b})"


def _layer_grid(layers: Any) -> tuple[list[str], list[str], dict[tuple[str, str], float]] | None:
    """Normalise compare's per-layer scores into (rows, columns, values). Accepts a list of dicts
    ({layer|block: i, <component>: score, ...}) or a dict {layer: {component: score}}."""
    vals: dict[tuple[str, str], float] = {}
    rows: list[str] = []
    cols: list[str] = []
    items: list[tuple[str, dict[str, Any]]] = []
    if isinstance(layers, dict):
        items = [(str(k), v) for k, v in layers.items() if isinstance(v, dict)]
    elif isinstance(layers, list):
        for i, d in enumerate(layers):
            if isinstance(d, dict):
                key = d.get("layer", d.get("block", d.get("suspect_layer", i)))
                comps = d.get("components") if isinstance(d.get("components"), dict) else d
                items.append((str(key), comps))
    for key, comps in items:
        rows.append(key)
        for c, v in comps.items():
            if (
                c in ("layer", "block", "suspect_layer", "reference_layer")
                or not isinstance(v, (int, float))
                or isinstance(v, bool)
            ):
                continue
            if c not in cols:
                cols.append(c)
            vals[(key, c)] = float(v)
    return (rows, cols, vals) if vals else None


def _matrix_grid(matrix: Any) -> tuple[list[str], list[str], dict[tuple[str, str], float]] | None:
    """compare's [L_ref, L_sus] layer-similarity matrix as (rows, columns, values)."""
    if not isinstance(matrix, list) or not matrix or not all(isinstance(r, list) for r in matrix):
        return None
    rows = [f"R{i}" for i in range(len(matrix))]
    cols = [f"S{j}" for j in range(max(len(r) for r in matrix))]
    vals = {
        (rows[i], cols[j]): float(v)
        for i, r in enumerate(matrix)
        for j, v in enumerate(r)
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    return (rows, cols, vals) if vals else None


def _heatmap(caption: str, rows: list[str], cols: list[str], vals: dict[tuple[str, str], float]) -> str:
    out = [
        f"<div class=cap>{esc(caption)}</div><table class=hm><tr><th></th>"
        + "".join(f"<th>{esc(c)}</th>" for c in cols)
        + "</tr>"
    ]
    for r in rows:
        out.append(
            f"<tr><th>{esc(r)}</th>"
            + "".join(
                f'<td style="background:{_heat_colour(vals.get((r, c)))}" '
                f'title="{esc(r)} {esc(c)}: {vals.get((r, c), float("nan")):.3f}"></td>'
                for c in cols
            )
            + "</tr>"
        )
    out.append("</table>")
    return "".join(out)


def render_html(report: Any, lang: str = "en") -> str:
    T = lambda k: esc(i18n.t(k, lang))  # noqa: E731
    h: list[str] = [
        f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
        f"<title>{T('title')}: {esc(report.name)}</title><style>{_CSS}</style></head><body>"
    ]
    h.append(
        f"<h1>{T('title')}: {esc(report.name)}</h1><div class=muted>{T('release')}: {esc(report.source)} "
        f"({len(report.files)} files)</div>"
    )
    h.append(f"<h2>{T('headline')}</h2><ul class=head>")
    for e in report.headline_findings:
        h.append(f"<li class={esc(e.severity)}>{esc(_tr(e, lang))}</li>")
    h.append("</ul>")
    if report.openness:
        op = report.openness
        h.append(
            f"<p class=conclusion>{T('conclusion')}: "
            f"{esc(i18n.conclusion(op.conclusion, op.conclusion_text, lang))}</p>"
        )

    h.append(f"<h2>{T('declared')}</h2>")
    if report.declared and report.declared.parents:
        h.append(
            "<table><tr><th>"
            + T("declared_parents")
            + f"</th><th>{T('relation')}</th><th>{T('declared_in')}</th></tr>"
        )
        for p in report.declared.parents:
            h.append(
                f"<tr><td>{esc(p.name)}</td><td>{esc(p.relation or '-')}</td><td>{esc(p.source)}</td></tr>"
            )
        h.append("</table>")
    else:
        h.append(f"<p>{T('none_declared')}</p>")
    for e in report.reconciliation.findings if report.reconciliation else []:
        h.append(f"<p class={esc(e.severity)}>{esc(_tr(e, lang))}</p>")

    if report.comparisons:
        h.append(f"<h2>{T('comparisons')}</h2>")
        for c in report.comparisons:
            if c.compare:
                h.append(
                    f"<p><b>{esc(c.reference_name)}</b>: {T('relationship')} "
                    f"<b>{esc(c.compare.get('relationship'))}</b>, "
                    f"p={esc(fmt_p(c.compare.get('p_value')))}</p>"
                )
                grid = _layer_grid(c.compare.get("layers"))
                if grid:
                    h.append(_heatmap(T("heatmap") + " (suspect layer × component)", *grid))
                matrix = _matrix_grid(c.compare.get("similarity_matrix"))
                if matrix:
                    h.append(_heatmap(T("heatmap") + " (reference layer × suspect layer)", *matrix))
            else:
                h.append(
                    f"<p><b>{esc(c.reference_name)}</b>: {T('compare_unavailable')} — {esc(c.message)}</p>"
                )
            if c.tokenizer:
                h.append(f"<p>{T('tokenizer')}: {esc(c.tokenizer.get('relation'))}</p>")

    h.append(f"<h2>{T('code')}</h2>")
    if report.code and report.code.reference:
        h.append(f"<div class=muted>{T('code_reference')}: {esc(report.code.reference)}</div>")
    if report.code and report.code.files:
        h.append(
            f"<table><tr><th>{T('file')}</th><th>{T('derives_from')}</th><th>{T('containment')}</th>"
            f"<th>{T('of_reference')}</th><th>{T('classes')}</th><th>{T('notice')}</th></tr>"
        )
        for f in report.code.files:
            if f.status == "skipped":
                h.append(f"<tr><td>{esc(f.path)}</td><td colspan=5>{T('skipped')}: {esc(f.reason)}</td></tr>")
            elif f.best is None:
                h.append(f"<tr><td>{esc(f.path)}</td><td colspan=5>{T('no_match')}</td></tr>")
            else:
                b = f.best
                notice = f.notice_kept or "unknown"
                cls = {"kept": "met", "missing": "not-met", "partial": "unknown"}.get(notice, "unknown")
                h.append(
                    f"<tr><td>{esc(f.path)}</td><td>{esc(b.reference)}</td><td>{b.containment_suspect:.0%}</td>"
                    f"<td>{b.containment_reference:.0%}</td>"
                    f"<td>{esc(', '.join(x['name'] for x in b.blocks[:8]))}"
                    f"</td><td class={cls}>{T(notice)}</td></tr>"
                )
        h.append("</table>")
        for f in report.code.files:
            if not f.spans:
                continue
            h.append(
                f"<div class=cap><b>{T('spans')}</b>: {esc(f.path)} ↔ "
                f"{esc(f.best.reference if f.best else '')}</div>"
            )
            for s in sorted(f.spans, key=lambda s: -s.fingerprints)[:6]:
                h.append(
                    f"<div class=diff><div><div class=cap>{esc(f.path)}:"
                    f"{s.suspect_start}-{s.suspect_end}</div>"
                    f"<pre>{esc(s.suspect_text)}</pre></div><div><div class=cap>"
                    f"{esc(f.best.reference if f.best else '')}"
                    f":{s.reference_start}-{s.reference_end}</div><pre>{esc(s.reference_text)}</pre></div></div>"
                )
    h.append(f"<h2>{T('claims')}</h2><ul>")
    for e in report.claims:
        h.append(f"<li class={esc(e.severity)}>{esc(_tr(e, lang))}</li>")
    h.append("</ul>")
    if report.benchmarks:
        h.append(f"<div class=cap>{T('benchmarks')}</div><table>")
        for row in report.benchmarks[:30]:
            h.append(
                "<tr>"
                + "".join(
                    f"<td><span class=muted>{esc(hd)}</span> {esc(c)}</td>"
                    for hd, c in zip(row["header"], row["cells"], strict=False)
                )
                + "</tr>"
            )
        h.append("</table>")
    for c in getattr(report, "contamination", []):
        tests = "; ".join(
            f"{t.name}: p = {fmt_p(t.p_value)} ({t.draws} draws)" for t in (c.order, c.option) if t
        )
        h.append(
            f"<div class=cap>contamination: {esc(c.benchmark)} ({c.n_items} items): "
            f"<b>{esc(c.verdict)}</b></div>"
            f"<p>{esc(c.conclusion)} <span class=muted>{esc(tests)}</span></p>"
        )

    h.append(f"<h2>{T('licence')}</h2>")
    if report.licence:
        h.append(
            f"<p>{T('release_licence')}: <b>{esc(report.licence.licence or '?')}</b> "
            f"({T('card_tag')}: {esc(report.licence.card_tag or '-')})</p><ul>"
        )
        for e in report.licence.evidence:
            h.append(f"<li class={esc(e.severity)}>{esc(_tr(e, lang))}</li>")
        h.append("</ul>")
    if report.obligations:
        h.append(
            f"<table><tr><th>licence</th><th>{T('obligation')}</th><th>{T('status')}</th><th>{T('evidence')}</th>"
            f"<th>{T('because')}</th></tr>"
        )
        for o in report.obligations:
            h.append(
                f"<tr><td>{esc(o.licence)}</td><td>{esc(o.clause)} {esc(o.summary)}</td>"
                f"<td class={esc(o.status)}>{T(o.status)}</td><td>{esc(o.evidence)}</td>"
                f"<td>{esc(o.because)}</td></tr>"
            )
        h.append("</table>")

    if report.openness:
        op = report.openness
        h.append(
            f"<h2>{T('openness')}</h2><div class=cap>{T('osai')}</div><table><tr><th>{T('dimension')}</th>"
            f"<th>{T('rating')}</th><th>{T('evidence')}</th></tr>"
        )
        for r in op.ratings:
            h.append(
                f"<tr><td>{esc(r.name)}</td><td class={esc(r.klass)}>{T(r.klass)}</td>"
                f"<td>{esc(r.evidence)}</td></tr>"
            )
        h.append("</table>")
        prog = ", ".join(f"Class {'I' * int(k)}: {v:.0f}%" for k, v in sorted(op.mof.progress.items()))
        h.append(f"<p>{T('mof')}: <b>{esc(op.mof.label)}</b> ({T('progress')}: {esc(prog)})</p>")
    if report.evidence:
        h.append(f"<h2>{T('other_findings')}</h2><ul>")
        for e in report.evidence:
            h.append(f"<li class={esc(e.severity)}>{esc(_tr(e, lang))}</li>")
        h.append("</ul>")
    h.append(
        "<p class=muted>taoke — code lineage by winnowing (Schleimer, Wilkerson &amp; Aiken, SIGMOD 2003); "
        "openness per the European Open Source AI Index (Liesenfeld &amp; Dingemanse) and the Model Openness "
        "Framework (LF AI &amp; Data).</p></body></html>"
    )
    return "".join(h)
