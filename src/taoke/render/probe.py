"""Render probe reports and probe-compare results as text (en/zh), JSON or HTML. Never computes.

The HTML pages use the design of every taoke report: the shared header, then the tokenizer-count
matches and the behaviour similarities to recorded models as bar charts (with the thresholds the
conclusion uses), the identity answers quoted, and what the probe cost. A probe ranks recorded models
by distance and tests no null, so its header says there is no p-value; probe-compare is a test and
shows its Holm-adjusted p-values, controls and null.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from taoke import i18n
from taoke.probe.report import BEHAVIOUR_MIN, TOKENIZER_CONSISTENT
from taoke.render import svg
from taoke.render.common import fmt_p, json_report
from taoke.render.html import Header, Words, name, page, value
from taoke.render.svg import clean


def _m(text: Any, lang: str) -> str:
    return clean(i18n.text(i18n.message(None, str(text), None, lang))) if text else ""


def _f(template: str, lang: str, **fields: Any) -> str:
    return clean(i18n.text(i18n.fill(template, lang, **fields)))


# ------------------------------------------------------------------------------------------ probe


def render_probe(report: Any, fmt: str = "text", lang: str = "en") -> str:
    """One probe report in ``fmt`` (text | json | html)."""
    if fmt == "json":
        return json_report("probe", report, probe_verdict(report))
    if fmt == "html":
        return probe_html(report, lang)
    return probe_text(report, lang)


def probe_text(r: Any, lang: str) -> str:
    T = lambda s: i18n.tr(s, lang)  # noqa: E731
    out = [f"{T('Endpoint probe')}: {clean(r.url)}", f"{T('served as')}: {clean(r.served_name or '-')}", ""]
    out.append(f"{T('Conclusion')}: " + _verdict_text(r, lang))
    out.append(_m(r.conclusion, lang))
    if r.tokenizer is not None:
        out += ["", T("Tokenizer (prompt-token counts)"), _m(r.tokenizer.message, lang)]
        if r.tokenizer.observed is not None:
            out.append(f"{T('observed count differences')}: {r.tokenizer.observed}")
            for m in r.tokenizer.ranking[:5]:
                out.append(
                    "  "
                    + _f(
                        "{name}: distance {distance}, {exact} exact, offset {offset}",
                        lang,
                        name=clean(m.name),
                        distance=f"{m.distance:.3f}",
                        exact=m.exact,
                        offset=f"{m.offset:+d}",
                    )
                )
    if r.identity is not None:
        out += ["", T("Identity (what the model says it is)")]
        if r.identity.confusion:
            out.append(T("IDENTITY CONFUSION"))
        out.append(_m(r.identity.message, lang))
        for a in r.identity.answers:
            mark = f" [{', '.join(clean(v) for v in a.vendors)}]" if a.vendors else ""
            out.append(f"  [{clean(a.lang)}] {clean(a.question)} -> {clean(a.answer.strip()[:120])!r}{mark}")
    if r.behaviour is not None:
        out += ["", T("Behaviour (answers compared with recorded models)"), _m(r.behaviour.message, lang)]
        for m in r.behaviour.ranking[:5]:
            out.append(
                "  "
                + _f(
                    "{name}: similarity {score}, {exact} identical answers",
                    lang,
                    name=clean(m.name),
                    score=f"{m.score:.3f}",
                    exact=m.exact,
                )
            )
    if r.recorded_as:
        out.append(_f("Recorded into the library as {name}", lang, name=clean(r.recorded_as)))
    s = r.spent
    out += ["", _spent(s, lang)]
    return "\n".join(out)


def _spent(s: dict[str, Any], lang: str) -> str:
    return _f(
        "Spent: {requests} requests (at most {max}), {bytes} bytes, {seconds} s",
        lang,
        requests=s.get("requests"),
        max=s.get("max_requests"),
        bytes=s.get("bytes"),
        seconds=s.get("seconds"),
    )


def _verdict_text(r: Any, lang: str) -> str:
    if r.shell:
        return i18n.tr("Shell: another model sits behind this name", lang)
    if r.backend:
        return _f("Backend: {backend}", lang, backend=clean(r.backend))
    return i18n.tr("Backend not identified", lang)


def _tokenizer_chart(r: Any, L: Words) -> Markup:
    tok = r.tokenizer
    if tok is None or not tok.ranking or tok.observed is None:
        return Markup("")
    n = len(tok.observed)
    bars = [
        svg.Bar(
            m.name,
            m.distance,
            i18n.text(
                i18n.fill(
                    "{exact}/{n} exact, offset {offset}", L.lang, exact=m.exact, n=n, offset=f"{m.offset:+d}"
                )
            ),
            highlight=m.distance <= TOKENIZER_CONSISTENT,
        )
        for m in tok.ranking[:6]
    ]
    top = max(0.1, max(m.distance for m in tok.ranking[:6]))
    return svg.hbars(
        bars,
        vmin=0.0,
        vmax=min(1.0, top),
        axis=L("relative distance of the token counts (0 = every count reproduced)"),
        threshold=(TOKENIZER_CONSISTENT, i18n.text(i18n.fill("fits: ≤ {t}", L.lang, t=TOKENIZER_CONSISTENT))),
    )


def _behaviour_chart(r: Any, L: Words) -> Markup:
    beh = r.behaviour
    if beh is None or not beh.ranking:
        return Markup("")
    n = len(beh.answers)
    bars = [
        svg.Bar(
            m.name,
            m.score,
            i18n.text(i18n.fill("{exact}/{n} identical", L.lang, exact=m.exact, n=n)),
            highlight=m.name == r.backend,
        )
        for m in beh.ranking[:6]
    ]
    return svg.hbars(
        bars,
        vmin=0.0,
        vmax=1.0,
        axis=L("mean answer similarity (1 = the same answers)"),
        threshold=(BEHAVIOUR_MIN, i18n.text(i18n.fill("named from {t}", L.lang, t=BEHAVIOUR_MIN))),
    )


def probe_header(r: Any, L: Words) -> Header:
    if r.shell:
        verdict, tone = escape(L("Shell: another model sits behind this name")), "alert"
    elif r.backend:
        verdict, tone = L.f("Backend: {backend}", backend=name(r.backend)), "ok"
    else:
        verdict, tone = escape(L("Backend not identified")), "caution"
    verdict += Markup('<div class="small">') + L.msg(None, r.conclusion) + Markup("</div>")
    return Header(
        kind="Endpoint probe",
        title=name(r.url),
        verdict=verdict,
        tone=tone,
        p_value=None,
        p_note=L.f(
            "no p-value: a probe ranks recorded models by distance and tests no null hypothesis "
            "({command} tests one)",
            command="taoke probe-compare",
        ),
        null=Markup(""),
        confidence=None,
        compared=[
            ("Endpoint", name(r.url)),
            ("Served as", name(r.served_name)),
            ("Cost", escape(clean(_spent(r.spent, L.lang)))),
        ],
    )


def probe_html(r: Any, lang: str = "en") -> str:
    L = Words(lang)
    return page(
        "probe.html.j2",
        lang,
        probe_header(r, L),
        r=r,
        tok_chart=_tokenizer_chart(r, L),
        beh_chart=_behaviour_chart(r, L),
    )


# ---------------------------------------------------------------------------------- probe-compare


def render_compare(res: Any, fmt: str = "text", lang: str = "en") -> str:
    """A probe-compare result in ``fmt``."""
    if fmt == "json":
        return json_report("probe-compare", res, probe_compare_verdict(res))
    if fmt == "html":
        return compare_html(res, lang)
    T = lambda s: i18n.tr(s, lang)  # noqa: E731
    out = [
        f"{T('Endpoint comparison')}: B = {clean(res.suspect)}",
        f"{T('Null hypothesis')}: {_m(res.null, lang)}",
    ]
    out.append(
        _f(
            "{n} prompts; smallest attainable p = {min_p}; alpha = {alpha}",
            lang,
            n=res.n_prompts,
            min_p=fmt_p(res.min_p),
            alpha=res.alpha,
        )
    )
    out += [_m(n, lang) for n in res.notes]
    for c in res.candidates:
        out += ["", f"{T('candidate')} A = {clean(c.candidate)}"]
        out.append(
            f"{_m(c.verdict, lang)}: p = {fmt_p(c.p_value)} (Holm {fmt_p(c.p_holm)}); "
            + _f(
                "mean similarity B~A {sim}, identical answers {identical}/{n}",
                lang,
                sim="-" if c.mean_sim is None else f"{c.mean_sim:.3f}",
                identical=c.identical,
                n=res.n_prompts,
            )
        )
        for x in c.controls:
            out.append(
                f"  {T('control')} {clean(x.control)}: B~C {x.mean_sim_control:.3f}  p {fmt_p(x.p_value)}"
            )
    return "\n".join(out)


def _compare_chart(res: Any, L: Words) -> Markup:
    bars: list[svg.Bar] = []
    for c in res.candidates:
        bars.append(
            svg.Bar(
                f"A: {c.candidate}",
                c.mean_sim,
                f"p (Holm) {fmt_p(c.p_holm)}",
                highlight=c.p_holm is not None and c.p_holm <= res.alpha,
            )
        )
    seen: set[str] = set()
    for c in res.candidates:
        for x in c.controls:
            if x.control not in seen:
                seen.add(x.control)
                bars.append(svg.Bar(f"C: {x.control}", x.mean_sim_control, L("control")))
    return svg.hbars(bars, vmin=0.0, vmax=1.0, axis=L("mean answer similarity with B (1 = the same answers)"))


def compare_html(res: Any, lang: str = "en") -> str:
    L = Words(lang)
    best = res.candidates[0] if res.candidates else None
    if best is None:
        verdict, tone = escape(L("No candidate to test")), "caution"
    elif best.p_holm is None:  # untestable: no control, nothing was requested
        verdict, tone = (
            L.f(
                "B {verdict}: A = {candidate}",
                verdict=L.msg(None, best.verdict),
                candidate=name(best.candidate),
            ),
            "caution",
        )
    elif best.p_holm <= res.alpha:
        verdict, tone = (
            L.f(
                "B {verdict}: A = {candidate}",
                verdict=L.msg(None, best.verdict),
                candidate=name(best.candidate),
            ),
            "alert",
        )
    else:
        verdict, tone = escape(L("B is not shown closer to any candidate than to the controls")), "ok"
    header = Header(
        kind="Endpoint comparison",
        title=L.f("Is {suspect} closer to a candidate than to other models?", suspect=name(res.suspect)),
        verdict=verdict,
        tone=tone,
        p_value=best.p_holm if best else None,
        p_note=L.f(
            "Holm-adjusted over {n} candidates; smallest attainable p {min_p}",
            n=len(res.candidates),
            min_p=fmt_p(res.min_p),
        ),
        null=L.msg(None, res.null),
        confidence=None,
        compared=[
            ("Suspect", name(res.suspect)),
            ("Candidates", Markup(", ").join(name(c.candidate) for c in res.candidates) or Markup("-")),
            (
                "Controls",
                Markup(", ").join(
                    name(x) for x in dict.fromkeys(x.control for c in res.candidates for x in c.controls)
                )
                or Markup("-"),
            ),
            ("Prompts", value(res.n_prompts)),
            ("Significance level", escape(f"α = {res.alpha:g}")),
        ],
    )
    return page("probe_compare.html.j2", lang, header, res=res, chart=_compare_chart(res, L))


def probe_verdict(report: Any) -> str:
    """``shell`` (another model behind the name), ``as-served``, or ``unidentified``."""
    if report.backend is None:
        return "unidentified"
    return "shell" if report.shell else "as-served"


def probe_compare_verdict(res: Any) -> str:
    """The verdict of the best candidate (its test's own word), or ``no-candidate``."""
    cands = sorted(res.candidates, key=lambda c: float("inf") if c.p_holm is None else c.p_holm)
    return str(cands[0].verdict) if cands else "no-candidate"
