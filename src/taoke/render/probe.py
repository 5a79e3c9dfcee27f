"""Render probe reports and probe-compare results as text (en/zh), JSON or HTML. Never computes."""

from __future__ import annotations

from typing import Any

from taoke.render.common import dumps, esc, fmt_p

L: dict[str, dict[str, str]] = {
    "title": {"en": "taoke probe", "zh": "taoke 端点探测"},
    "endpoint": {"en": "Endpoint", "zh": "端点"},
    "served": {"en": "Served as", "zh": "对外名称"},
    "conclusion": {"en": "Conclusion", "zh": "结论"},
    "shell": {"en": "SHELL: another model sits behind this name", "zh": "套壳：该名称背后是另一个模型"},
    "tokenizer": {"en": "Tokenizer (usage.prompt_tokens deltas)", "zh": "分词器（usage.prompt_tokens 差值）"},
    "identity": {"en": "Identity (what the model says it is)", "zh": "身份自述"},
    "confusion": {"en": "IDENTITY CONFUSION", "zh": "身份混淆"},
    "behaviour": {"en": "Behaviour (nearest recorded model)", "zh": "行为指纹（最接近的已记录模型）"},
    "spent": {"en": "Spent", "zh": "开销"},
    "requests": {"en": "requests", "zh": "次请求"},
    "recorded": {"en": "Recorded into the library as", "zh": "已记录到本地指纹库，名称"},
    "compare": {"en": "taoke probe-compare", "zh": "taoke 端点比对"},
    "null": {"en": "Null hypothesis", "zh": "原假设"},
    "candidate": {"en": "candidate", "zh": "候选来源"},
    "control": {"en": "control", "zh": "对照模型"},
}


def _t(key: str, lang: str) -> str:
    return L[key].get(lang, L[key]["en"])


def render_probe(report: Any, fmt: str = "text", lang: str = "en") -> str:
    """One probe report in ``fmt`` (text | json | html)."""
    if fmt == "json":
        return dumps(report)
    lines = _probe_lines(report, lang)
    if fmt == "html":
        return _html(_t("title", lang), lines)
    return "\n".join(text for _, text in lines)


def _probe_lines(r: Any, lang: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = [("h1", f"{_t('title', lang)}: {r.url}")]
    out.append(("p", f"{_t('served', lang)}: {r.served_name}"))
    out.append(("h2", _t("conclusion", lang)))
    if r.shell:
        out.append(("warn", _t("shell", lang)))
    out.append(("p", r.conclusion))
    if r.tokenizer is not None:
        out.append(("h2", _t("tokenizer", lang)))
        out.append(("p", r.tokenizer.message))
        if r.tokenizer.observed is not None:
            out.append(("p", f"observed deltas {r.tokenizer.observed}"))
            for m in r.tokenizer.ranking[:3]:
                out.append(
                    ("li", f"{m.name:<18} distance {m.distance:.3f}  exact {m.exact}  offset {m.offset:+d}")
                )
    if r.identity is not None:
        out.append(("h2", _t("identity", lang)))
        if r.identity.confusion:
            out.append(("warn", _t("confusion", lang)))
        out.append(("p", r.identity.message))
        for a in r.identity.answers:
            mark = f" [{', '.join(a.vendors)}]" if a.vendors else ""
            out.append(("li", f"[{a.lang}] {a.question} -> {a.answer.strip()[:120]!r}{mark}"))
    if r.behaviour is not None:
        out.append(("h2", _t("behaviour", lang)))
        out.append(("p", r.behaviour.message))
        for m in r.behaviour.ranking[:3]:
            out.append(("li", f"{m.name:<18} similarity {m.score:.3f}  identical {m.exact}"))
    if r.recorded_as:
        out.append(("p", f"{_t('recorded', lang)} {r.recorded_as!r}"))
    s = r.spent
    out.append(
        (
            "p",
            f"{_t('spent', lang)}: {s.get('requests')} {_t('requests', lang)} "
            f"(max {s.get('max_requests')}), {s.get('bytes')} bytes, {s.get('seconds')} s",
        )
    )
    return out


def render_compare(res: Any, fmt: str = "text", lang: str = "en") -> str:
    """A probe-compare result in ``fmt``."""
    if fmt == "json":
        return dumps(res)
    out: list[tuple[str, str]] = [("h1", f"{_t('compare', lang)}: B = {res.suspect}")]
    out.append(("p", f"{_t('null', lang)}: {res.null}"))
    out.append(
        ("p", f"{res.n_prompts} prompts; smallest attainable p = {fmt_p(res.min_p)}; alpha = {res.alpha}")
    )
    for note in res.notes:
        out.append(("warn", note))
    for c in res.candidates:
        out.append(("h2", f"{_t('candidate', lang)} A = {c.candidate}"))
        out.append(
            (
                "p",
                f"{c.verdict}: p = {fmt_p(c.p_value)} (Holm {fmt_p(c.p_holm)}); "
                f"mean similarity B~A {'-' if c.mean_sim is None else format(c.mean_sim, '.3f')}, "
                f"identical answers {c.identical}/{res.n_prompts}",
            )
        )
        for x in c.controls:
            out.append(
                (
                    "li",
                    f"{_t('control', lang)} {x.control:<20} B~C {x.mean_sim_control:.3f}"
                    f"  p {fmt_p(x.p_value)}",
                )
            )
    if fmt == "html":
        return _html(_t("compare", lang), out)
    return "\n".join(text for _, text in out)


def _html(title: str, lines: list[tuple[str, str]]) -> str:
    body = []
    for kind, text in lines:
        if kind == "h1":
            body.append(f"<h1>{esc(text)}</h1>")
        elif kind == "h2":
            body.append(f"<h2>{esc(text)}</h2>")
        elif kind == "warn":
            body.append(f'<p class="warn"><strong>{esc(text)}</strong></p>')
        elif kind == "li":
            body.append(f"<li><code>{esc(text)}</code></li>")
        else:
            body.append(f"<p>{esc(text)}</p>")
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>'
        + esc(title)
        + "</title><style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        ".warn{color:#b00}li{list-style:none}</style></head><body>" + "\n".join(body) + "</body></html>"
    )
