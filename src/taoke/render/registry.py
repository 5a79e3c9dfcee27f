"""Renderers for the registry commands (index, search, scan): rich text and JSON; they never compute.

Styles are given as ``Text`` styles, never as markup: the strings here (model names, errors, licences)
come from releases and registry files, and the console draws every ``str`` literally
(:class:`taoke.render.common.SafeConsole`)."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from taoke.render.common import json_report


def _p(p: float | None) -> str:
    if p is None:
        return "-"
    return "<1e-300" if p == 0 else f"{p:.2g}"


def render_index(rows: list[dict[str, Any]], fmt: str, registry: str) -> str | Table:
    """``rows``: {source, name, status (indexed|already indexed|failed), id, error}."""
    if fmt == "json":
        failed = sum(1 for r in rows if r.get("status") == "failed")
        verdict = "indexed" if not failed else ("failed" if failed == len(rows) else "partly-failed")
        return json_report("index", {"registry": registry, "models": rows}, verdict)
    table = Table(title=f"taoke index -> {registry}", title_justify="left")
    for col in ("model", "status", "id", "family", "params", "declared base", "licence"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r.get("name") or r["source"]),
            r["status"]
            if r["status"] != "failed"
            else Text.assemble(("failed", "red"), f": {r.get('error')}"),
            str(r.get("id") or "-"),
            str(r.get("family") or "-"),
            f"{r['n_params']:,}" if r.get("n_params") else "-",
            ", ".join(map(str, r.get("declared_base") or [])) or "-",
            str(r.get("license") or "-"),
        )
    return table


def render_search(result: Any, fmt: str) -> str | list[Any]:
    """A :class:`taoke.registry.SearchResult` as JSON text or a list of rich renderables."""
    if fmt == "json":
        return json_report("search", result, search_verdict(result))
    d = result.to_dict()
    head: list[Any] = [
        Text.assemble(
            (str(d["query"]), "bold"),
            ": ",
            (str(d["verdict"]), "bold red") if result.best else ("no significant relative", "green"),
            f"  (registry of {d['registry_size']} models, shortlist by {d['shortlist_method']}; "
            f"{d['correction']}; alpha={d['alpha']:g})",
        )
    ]
    merge = d.get("merge")
    if merge and merge.get("merged"):
        parents = " and ".join(f"{q['name']} ({q['share']:.2f})" for q in merge["parents"])
        head.append(Text(f"merge of {parents}: {merge['why']}", "bold red"))
    if result.already_indexed is not None:
        head.append(
            Text(f"its bytes are already in the registry as {result.already_indexed.name} (excluded)", "dim")
        )
    table = Table(title_justify="left")
    for col in ("rank", "candidate", "ANN cos", "relationship", "p (Holm)", "significant", "evidence"):
        table.add_column(col)
    for i, h in enumerate(result.hits, 1):
        ev = next((e for e in h.evidence if e.get("kind", "").startswith("lineage")), None)
        z = (ev.get("detail") or {}).get("z") if ev else None
        brief = f"{ev['kind'].removeprefix('lineage-')} z={z:.1f}" if ev and z is not None else "-"
        table.add_row(
            str(i),
            str(h.record.name),
            f"{h.ann_similarity:.3f}",
            f"{h.relationship} (through {h.relative})" if getattr(h, "relative", None) else h.relationship,
            _p(h.p_adjusted),
            Text("yes", "bold red") if h.significant else "no",
            brief,
        )
    notes = [Text(f"{h.record.name}: {h.note}", "dim") for h in result.hits if getattr(h, "note", None)]
    return [*head, table, *notes]


def render_scan(result: Any, fmt: str, lang: str = "en") -> str | list[Any]:
    """A :class:`taoke.jobs.scan.ScanResult`: undeclared parents first, failures with their one line.
    ``html``: the index page of :mod:`taoke.render.scan_html` (``--html DIR`` writes every page)."""
    if fmt == "json":
        return json_report("scan", result, scan_verdict(result))
    if fmt == "html":
        from taoke.render.scan_html import render_index

        return render_index(result, lang, links=False)
    from taoke import i18n

    def term(v: str | None, group: str) -> str:
        return i18n.term(v, lang, group) if v else "-"

    table = Table(
        title=f"taoke scan ({result.executor}, {i18n.tr('Shortlist', lang)}: {result.shortlist}, "
        f"{result.seconds['total']:.1f} s) -> {result.registry}",
        title_justify="left",
    )
    for col in ("finding", "model", "declared base", "nearest relative", "relationship", "p (Holm)"):
        table.add_column(i18n.tr(col, lang))
    style = {"undeclared-parent": "bold red", "declared-parent-mismatch": "red", "failed": "yellow"}
    for f in result.findings:
        s = style.get(f.finding)
        label = term(f.finding, "scan_findings")
        finding = Text(label, s) if s else label
        table.add_row(
            finding,
            str(f.name or f.source),
            ", ".join(map(str, f.declared_base)) or "-",
            str(f.relative or (f.error or "-")),
            term(f.relationship, "relationships"),
            _p(f.p_value_holm),
        )
    counts = ", ".join(
        f"{v} {i18n.term(k, lang, 'scan_findings')}" for k, v in result.counts["finding"].items()
    )
    return [table, Text(counts, "dim")]


def render_info(info: dict[str, Any], fmt: str) -> str | Table:
    """``taoke registry info``: where the registry is, its schema, size, models and recorded failures."""
    if fmt == "json":
        return json_report("registry info", info, None)
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for k, v in info.items():
        table.add_row(k, str(len(v) if k == "failures" else v))
    return table


def search_verdict(result: Any) -> str:
    """The relationship of the best significant hit, or ``no-significant-relative``."""
    best = [h for h in result.hits if h.significant]
    return str(best[0].relationship) if best else "no-significant-relative"


def scan_verdict(result: Any) -> str:
    """The most pressing finding of the scan (``undeclared-parent`` first, ``no-relative`` last)."""
    from taoke.jobs.scan import FINDING_ORDER

    found = [f.finding for f in result.findings]
    return min(found, key=lambda f: FINDING_ORDER.get(f, 9)) if found else "no-relative"
