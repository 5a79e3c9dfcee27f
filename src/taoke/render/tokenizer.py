"""Renderers for ``taoke tokenizer compare|identify|add``: rich text and JSON. They never compute."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from taoke.render.common import json_report

_RELATION_STYLE = {
    "identical": "bold red",
    "reordered": "bold red",
    "extends": "bold yellow",
    "subset": "bold yellow",
    "partial-overlap": "yellow",
    "unrelated": "green",
}


WIDTH = 160  # columns in a pipe or a file


def _row(table: Table, *cells: Any) -> None:
    """Add a row whose strings are shown literally (token text like ``[INST]`` is not rich markup)."""
    table.add_row(*(c if isinstance(c, Text) else Text(str(c)) for c in cells))


def _quoted(token: str) -> str:
    """A token between quotes with whitespace controls visible (display strings are already escaped)."""
    return "'" + token.translate({10: "\\n", 9: "\\t", 13: "\\r"}) + "'"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def compare_renderables(comp: Any, evidence: list[Any]) -> list[Any]:
    """Rich renderables of a TokenizerComparison and its evidence, top to bottom."""
    d = comp.to_dict()
    a, b = d["a"], d["b"]
    out: list[Any] = [
        Text.assemble(
            ("tokenizer compare  ", "bold"),
            f"{a['name']} (A) vs {b['name']} (B): ",
            (d["relation"], _RELATION_STYLE.get(d["relation"], "bold")),
        )
    ]
    t = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
    t.add_column("")
    t.add_column("A")
    t.add_column("B")
    _row(t, "kind", a["kind"], b["kind"])
    _row(t, "container", a["container"], b["container"])
    _row(t, "ids", str(a["size"]), str(b["size"]))
    _row(t, "tokens (no padding)", str(a["n_tokens"]), str(b["n_tokens"]))
    out.append(t)
    al = d["alignment"]
    g = Table.grid(padding=(0, 2))
    g.add_column(style="bold")
    g.add_column()
    _row(g, "shared tokens", f"{al['n_shared']}  (Jaccard {d['jaccard']:.4f})")
    _row(g, "A in B / B in A", f"{_pct(d['containment_a_in_b'])} / {_pct(d['containment_b_in_a'])}")
    _row(
        g,
        "ids",
        f"{_pct(al['in_place_fraction'])} in place; most common shift {al['offset']:+d} "
        f"({_pct(al['offset_fraction'])})",
    )
    if d["added"]:
        ad = d["added"]
        scripts = ", ".join(f"{k} {v}" for k, v in ad["scripts"].items())
        _row(g, "only in B", f"{ad['count']} ids {ad['id_range'][0]}..{ad['id_range'][1]}: {scripts}")
        _row(g, "", "e.g. " + " ".join(_quoted(s) for s in ad["sample"][:6]))
    if d["removed"]:
        rm = d["removed"]
        _row(g, "only in A", f"{rm['count']}: " + ", ".join(f"{k} {v}" for k, v in rm["scripts"].items()))
    m = d["merges"]
    if m:
        rho = "-" if m["rank_spearman"] is None else f"{m['rank_spearman']:.3f}"
        _row(
            g,
            "merges",
            f"{m['n_shared']} shared ({_pct(m['shared_fraction'])}), common prefix {m['common_prefix']}, "
            f"rank Spearman {rho}",
        )
    else:
        _row(g, "merges", "not stored in one of the containers")
    same = {True: "same", False: "differs", None: "not comparable (different containers)"}
    _row(g, "normalizer / pre-tokenizer", f"{same[d['same_normalizer']]} / {same[d['same_pre_tokenizer']]}")
    beh = d["behaviour"]
    if beh is not None:
        if beh["available"]:
            _row(
                g,
                "behaviour",
                f"{beh['same_pieces']}/{beh['texts']} texts same pieces, "
                f"{beh['same_ids']}/{beh['texts']} same ids",
            )
            _row(g, "", f"A {beh['a']['piece_hash']} via {beh['a']['how']}")
            _row(g, "", f"B {beh['b']['piece_hash']} via {beh['b']['how']}")
        else:
            _row(g, "behaviour", beh["reason"])
    for note in d["notes"]:
        _row(g, "note", note)
    out.append(g)
    out.extend(_evidence_table(evidence))
    return out


def _evidence_table(evidence: list[Any]) -> list[Any]:
    if not evidence:
        return []
    t = Table(
        show_header=True,
        header_style="bold",
        box=None,
        padding=(0, 2),
        title="evidence",
        title_justify="left",
    )
    t.add_column("severity")
    t.add_column("kind")
    t.add_column("finding")
    for e in evidence:
        _row(t, e.severity, e.kind, e.message)
    return [t]


def render_compare(comp: Any, evidence: list[Any], fmt: str = "text") -> str | list[Any]:
    """A TokenizerComparison with its evidence as JSON text, or the rich renderables to draw."""
    if fmt == "json":
        return json_report(
            "tokenizer compare", {"comparison": comp, "evidence": evidence}, str(comp.relation)
        )
    return compare_renderables(comp, evidence)


def identify_renderables(res: Any, evidence: list[Any]) -> list[Any]:
    """Rich renderables of an IdentifyResult."""
    q = res.query
    out: list[Any] = [
        Text.assemble(
            ("tokenizer identify  ", "bold"),
            f"{q['name']}  {q['kind']}, {q['size']} ids  (library of {res.library_size})",
        )
    ]
    t = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
    for col in (
        "known",
        "family",
        "relation",
        "Jaccard",
        "known in query",
        "query in known",
        "id shift",
        "merges ρ",
    ):
        t.add_column(col)
    for m in res.matches:
        rho = "-" if m.merge_rho is None else f"{m.merge_rho:.3f}"
        shift = f"{m.offset:+d} ({m.offset_fraction:.0%})" if m.containment > 0 else "-"
        _row(
            t,
            m.name + (" (user)" if m.origin == "user" else ""),
            m.family,
            Text(m.relation + (" [exact]" if m.exact else ""), style=_RELATION_STYLE.get(m.relation, "")),
            f"{m.jaccard:.3f}",
            f"{m.containment:.1%} ±{m.stderr:.1%}",
            f"{m.query_in_known:.1%}",
            shift,
            rho,
        )
    out.append(t)
    out.extend(_evidence_table(evidence))
    return out


def render_identify(res: Any, evidence: list[Any], fmt: str = "text") -> str | list[Any]:
    """An IdentifyResult with its evidence as JSON text, or the rich renderables to draw."""
    if fmt == "json":
        return json_report(
            "tokenizer identify",
            {"identify": res, "evidence": evidence},
            res.best.name if res.best else "unknown",
        )
    return identify_renderables(res, evidence)


def render_added(entry: Any, path: Any, fmt: str = "text") -> str | Text:
    """Confirm a tokenizer added to the user library."""
    d = {
        "name": entry.name,
        "family": entry.family,
        "kind": entry.kind,
        "size": entry.size,
        "library": str(path),
    }
    if fmt == "json":
        return json_report("tokenizer add", d, "added")
    return Text.assemble(("added ", "bold green"), f"{entry.name} ({entry.kind}, {entry.size} ids) to {path}")
