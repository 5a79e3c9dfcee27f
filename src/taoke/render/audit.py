"""Draw an :class:`~taoke.jobs.audit.AuditReport`: terminal text (rich), JSON, or one self-contained HTML.

The HTML page uses the design of every taoke report (:mod:`taoke.render.html`): the shared header,
then the headline findings, declared vs measured lineage, each ``--against`` comparison drawn as the
compare page draws it (heatmap with the layer map, p-value strip, transformation diagram), code
lineage with the matched spans side by side, claims with any contamination test, licence
obligations and openness. Every sentence goes through the message catalogue (:mod:`taoke.i18n`).
Renderers never compute: everything drawn is in the report.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from markupsafe import escape as html_escape
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from taoke import i18n
from taoke.render import compare_page
from taoke.render.common import console, fmt_p, json_report
from taoke.render.html import Header, Words, name, page
from taoke.render.svg import clean

_STATUS_STYLE = {"met": "green", "not-met": "bold red", "unknown": "yellow"}
_CLASS_STYLE = {"open": "green", "partial": "yellow", "closed": "red"}
_NO_PARENT_BOUNDED = (
    "no parent found: the alignment was bounded (TAOKE_MAX_ALIGN_ROWS), its most common fingerprints left out"
)
_SEV_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}


def render(report: Any, fmt: str = "text", lang: str | None = None, width: int = 120) -> str:
    lang = lang or getattr(report, "lang", "en")
    if fmt == "json":
        return json_report("audit", report, audit_verdict(report))
    if fmt == "html":
        return render_html(report, lang)
    return render_text(report, lang, width)


def _tr(e: Any, lang: str) -> str:
    if e.kind == "openness-conclusion" and e.detail.get("slug"):
        return i18n.conclusion(str(e.detail["slug"]), e.message, lang)
    return i18n.text(i18n.message(e.kind, e.message, e.detail, lang))


def _m(text: Any, lang: str) -> str:
    """An analyzer's sentence (no kind) in ``lang`` as plain text."""
    if text is None:
        return ""
    return i18n.text(i18n.message(None, str(text), None, lang))


# --------------------------------------------------------------------------- text


def render_text(report: Any, lang: str = "en", width: int = 120) -> str:
    """The report for a terminal or a file. Release strings are escaped for rich and have control
    characters shown; sentences are in ``lang``."""
    buf = io.StringIO()
    con = console(markup=True, file=buf, width=width, force_terminal=False, color_system=None)
    T = lambda s: escape(i18n.tr(s, lang))  # noqa: E731
    M = lambda s: escape(clean(s))  # noqa: E731 - any value from the release
    sev = lambda s: f"[{_SEV_STYLE.get(s, '')}]{escape(i18n.term(s, lang, 'severities'))}[/]"  # noqa: E731
    F = lambda s, **kw: escape(clean(i18n.text(i18n.fill(s, lang, **kw))))  # noqa: E731
    con.rule(f"{T('Audit')}: {M(report.name)}")
    con.print(f"{T('Release')}: {M(report.source)} ({F('{n} files', n=len(report.files))})")
    con.print(f"\n[bold]{T('Headline findings')}[/]")
    for e in report.headline_findings:
        con.print(f"  [{_SEV_STYLE.get(e.severity, '')}]•[/] {M(_tr(e, lang))}")

    con.print(f"\n[bold]{T('Declared vs measured lineage')}[/]")
    if report.declared and report.declared.parents:
        for p in report.declared.parents:
            rel = i18n.term(p.relation, lang, "declared_relations") if p.relation else "-"
            con.print(f"  {T('declared parent')}: {M(p.name)} ({M(rel)}; {M(p.source)})")
    else:
        con.print(f"  {T('The release declares no base model.')}")
    for e in report.reconciliation.findings if report.reconciliation else []:
        con.print(f"  {sev(e.severity)} {M(_tr(e, lang))}")

    if report.comparisons:
        con.print(f"\n[bold]{T('Weights and tokenizer, against each reference (--against)')}[/]")
        for c in report.comparisons:
            if c.compare:
                rel = i18n.relationship(c.compare.get("relationship"), lang)
                con.print(
                    f"  {M(c.reference_name)}: {T('relationship')} {M(rel)} "
                    f"(p={fmt_p(c.compare.get('p_value'))})"
                )
            else:
                con.print(
                    f"  {M(c.reference_name)}: {T('The weights could not be compared')}: "
                    f"{M(_m(c.message, lang))}"
                )
            if c.tokenizer:
                rel = i18n.term(c.tokenizer.get("relation"), lang, "tokenizer_relations")
                con.print(f"  {T('tokenizer')}: {M(rel)}")

    con.print(
        f"\n[bold]{T('Code lineage')}[/]"
        + (f" ({M(report.code.reference)})" if report.code and report.code.reference else "")
    )
    if report.code and report.code.files:
        tab = Table(show_header=True, header_style="bold")
        for col in (
            "file",
            "derives from",
            "of the file",
            "of the reference",
            "classes and functions",
            "licence header",
        ):
            tab.add_column(i18n.tr(col, lang))
        for f in report.code.files:
            if f.status == "skipped":
                tab.add_row(
                    Text(clean(f.path)), i18n.tr("skipped", lang), "-", "-", Text(_m(f.reason, lang)), "-"
                )
            elif f.best is None:
                tab.add_row(
                    Text(clean(f.path)),
                    # a bounded alignment that found nothing did not show there is nothing to find
                    i18n.tr(
                        _NO_PARENT_BOUNDED if f.align_left_out else "no reference implementation matches",
                        lang,
                    ),
                    "-",
                    "-",
                    "",
                    "-",
                )
            else:
                b = f.best
                tab.add_row(
                    Text(clean(f.path)),
                    Text(clean(b.reference)),
                    f"{b.containment_suspect:.0%}",
                    f"{b.containment_reference:.0%}",
                    Text(clean(", ".join(x["name"] for x in b.blocks[:5]))),
                    i18n.term(f.notice_kept or "unknown", lang, "notice"),
                )
        con.print(tab)
        for f in report.code.files:
            for s in sorted(f.spans, key=lambda s: -s.fingerprints)[:3]:
                con.print(
                    f"  {M(f.path)}:{s.suspect_start}-{s.suspect_end}  <->  "
                    f"{M(f.best.reference if f.best else '')}:{s.reference_start}-{s.reference_end} "
                    f"({escape(i18n.text(i18n.fill('{n} fingerprints', lang, n=s.fingerprints)))})"
                )
    else:
        for e in report.code.evidence if report.code else []:
            con.print(f"  {M(_tr(e, lang))}")

    con.print(f"\n[bold]{T('Claims')}[/]")
    for e in report.claims:
        if e.kind != "benchmark-claims":
            con.print(f"  {sev(e.severity)} {M(_tr(e, lang))}")
    if report.benchmarks:
        con.print(f"  {T('Benchmark scores the card reports (listed, not verified)')}:")
        for row in report.benchmarks[:12]:
            con.print(
                "    " + M(" | ".join(f"{h}: {c}" for h, c in zip(row["header"], row["cells"], strict=False)))
            )
    for c in getattr(report, "contamination", []):
        verdict = i18n.term(c.verdict, lang, "contamination_verdicts")
        con.print(
            "  "
            + F(
                "contamination ({benchmark}, {n} items): {verdict}",
                benchmark=clean(c.benchmark),
                n=c.n_items,
                verdict=verdict,
            )
        )
        for t in (c.order, c.option):
            if t is not None:
                con.print(
                    f"    {M(i18n.term(t.name, lang, 'contamination_tests'))}: "
                    f"p = {fmt_p(t.p_value)} ({t.draws})"
                )

    con.print(f"\n[bold]{T('Licence and obligations')}[/]")
    if report.licence:
        con.print(
            f"  {T('Release licence')}: {M(report.licence.licence or '?')} "
            f"({T('licence tag')}: {M(report.licence.card_tag or '-')}"
            f"{M(' [' + report.licence.tag_source + ']') if report.licence.tag_source else ''})"
        )
        for e in report.licence.evidence:
            con.print(f"  {sev(e.severity)} {M(_tr(e, lang))}")
    if report.obligations:
        tab = Table(show_header=True, header_style="bold")
        for col in ("licence", "obligation", "status", "evidence", "applies because"):
            tab.add_column(i18n.tr(col, lang))
        for o in report.obligations:
            tab.add_row(
                Text(clean(o.licence)),
                Text(clean(f"{o.clause} {_m(o.summary, lang)}")),
                Text(i18n.term(o.status, lang, "statuses"), style=_STATUS_STYLE.get(o.status, "")),
                Text(clean(_m(o.evidence, lang))),
                Text(clean(_m(o.because, lang))),
            )
        con.print(tab)

    if report.openness:
        op = report.openness
        con.print(f"\n[bold]{T('Openness')}[/] — {T('European Open Source AI Index: the twelve dimensions')}")
        tab = Table(show_header=True, header_style="bold")
        for col in ("dimension", "rating", "what it rests on"):
            tab.add_column(i18n.tr(col, lang))
        for r in op.ratings:
            tab.add_row(
                i18n.term(r.name, lang, "osai_dimensions"),
                Text(i18n.term(r.klass, lang, "openness_classes"), style=_CLASS_STYLE.get(r.klass, "")),
                Text(clean(_m(r.evidence, lang))),
            )
        con.print(tab)
        prog = ", ".join(
            f"{i18n.term('Class ' + 'I' * int(k), lang, 'mof_classes')} {v:.0f}%"
            for k, v in sorted(op.mof.progress.items())
        )
        con.print(
            f"  {T('Model Openness Framework')}: "
            f"{M(i18n.term(op.mof.label, lang, 'mof_classes'))} ({M(prog)})"
        )
        con.print(
            f"  [bold]{T('Conclusion')}:[/] {M(i18n.conclusion(op.conclusion, op.conclusion_text, lang))}"
        )

    if report.evidence:
        con.print(f"\n[bold]{T('Other findings')}[/]")
        for e in report.evidence:
            con.print(f"  {sev(e.severity)} {M(_tr(e, lang))}")
    return buf.getvalue()


# --------------------------------------------------------------------------- html


@dataclass
class _Comparison:
    name: Markup
    d: dict[str, Any] | None
    message: str
    tokenizer: dict[str, Any] | None
    steps: list[compare_page.Step]
    heatmap: Markup
    strip: Markup
    grid: Markup


@dataclass
class _Contamination:
    r: Any
    benchmark: Markup
    tone: str
    chart: Markup


def _comparisons(report: Any, L: Words) -> list[_Comparison]:
    out = []
    for k, c in enumerate(report.comparisons):
        d = c.compare if isinstance(c.compare, dict) else None
        out.append(
            _Comparison(
                name=name(c.reference_name),
                d=d,
                message=c.message,
                tokenizer=c.tokenizer,
                steps=compare_page.steps(d, L) if d else [],
                heatmap=compare_page.heatmap(d, L, uid=f"hm{k}") if d else Markup(""),
                strip=compare_page.strip(d, L) if d else Markup(""),
                grid=compare_page.component_grid(d, L) if d else Markup(""),
            )
        )
    return out


def _contamination(report: Any, L: Words) -> list[_Contamination]:
    from taoke.render.contamination import null_chart, verdict_tone

    return [
        _Contamination(c, name(c.benchmark), verdict_tone(c.verdict), null_chart(c, L))
        for c in getattr(report, "contamination", [])
    ]


def _statistical(report: Any) -> tuple[Any, dict[str, Any] | None]:
    """The weights finding whose p-value the header shows (an undeclared or confirmed parent first),
    and the comparison it comes from."""
    for e in [*report.headline_findings, *(report.reconciliation.findings if report.reconciliation else [])]:
        if e.p_value is not None and e.analyzer == "declared":
            ref = (e.detail or {}).get("reference")
            comp = next(
                (c.compare for c in report.comparisons if c.reference_name == ref and c.compare), None
            )
            return e, comp
    comp = next((c.compare for c in report.comparisons if c.compare), None)
    return None, comp


def header(report: Any, L: Words) -> Header:
    lines = [Markup("<div>") + L.ev(e) + Markup("</div>") for e in report.headline_findings[:3]]
    high = any(e.severity == "high" for e in report.headline_findings)
    verdict = Markup("").join(lines) if lines else html_escape(L("No headline findings."))
    _, comp = _statistical(report)
    compared: list[tuple[str, Markup]] = [
        ("Release", name(report.name) + Markup(" ") + L.f("({n} files)", n=len(report.files)))
    ]
    if report.comparisons:
        compared.append(("Against", Markup(", ").join(name(c.reference_name) for c in report.comparisons)))
    for c in getattr(report, "contamination", []):
        compared.append(("Benchmark", name(c.benchmark)))
    if comp is not None:
        p = comp.get("p_value")
        null = L.f(
            "If the weights of {suspect} had been trained independently of {reference}, layers matching at "
            "least this well would turn up with probability p.",
            suspect=name(report.name),
            reference=name(comp.get("reference")),
        )
        return Header(
            kind="Audit",
            title=name(report.name),
            verdict=verdict,
            tone="alert" if high else "ok",
            p_value=p,
            p_note=html_escape(L("weights lineage"))
            if p is not None
            else html_escape(L("the weights could not be tested")),
            null=null,
            confidence=comp.get("confidence"),
            compared=compared,
        )
    return Header(
        kind="Audit",
        title=name(report.name),
        verdict=verdict,
        tone="alert" if high else ("ok" if report.headline_findings else "neutral"),
        p_value=None,
        p_note=html_escape(L("no statistical test: no reference was compared (--against)")),
        null=Markup(""),
        confidence=None,
        compared=compared,
    )


def render_html(report: Any, lang: str = "en") -> str:
    """The audit report page."""
    L = Words(lang)
    return page(
        "audit.html.j2",
        lang,
        header(report, L),
        r=report,
        comparisons=_comparisons(report, L),
        contamination=_contamination(report, L),
        conclusion=(
            i18n.conclusion(report.openness.conclusion, report.openness.conclusion_text, lang)
            if report.openness
            else ""
        ),
    )


SEVERITY_ORDER = ("high", "medium", "low", "info")


def audit_verdict(report: Any) -> str:
    """The most severe headline finding (``high``, ``medium``, ``low``, ``info``), or ``clean``: the value
    ``taoke audit --fail-on`` gates on."""
    found = {e.severity for e in report.headline_findings}
    return next((s for s in SEVERITY_ORDER if s in found), "clean")
