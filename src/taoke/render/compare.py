"""Renderers for ``taoke compare`` (text via rich, JSON, self-contained HTML with a per-layer heatmap)
and for the side-by-side tables of ``taoke demo`` and ``taoke eval``. They never compute."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from taoke.render.common import dumps, esc, fmt_p
from taoke.weights.relationship import Relationship

_SEV = {"high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}


def _verdict_style(derived: bool, relationship: str = "") -> str:
    if relationship == Relationship.UNTESTABLE:
        return "bold yellow"
    return "bold red" if derived else "bold green"


def _num(v: float | None, spec: str) -> str:
    """A number for humans, "-" where there is none (untestable: no p-value, no confidence)."""
    return "-" if v is None else format(v, spec)


def compare_renderables(result: Any) -> list[Any]:
    """The rich renderables of a CompareResult, top to bottom."""
    d = result.to_dict()
    head = Text.assemble(
        (d["suspect"], "bold"),
        " vs reference ",
        (d["reference"], "bold"),
        "\n",
        ("relationship: ", ""),
        (d["relationship"], _verdict_style(d["derived"], d["relationship"])),
        f"   derived: {_derived_word(d)}   p-value: {fmt_p(d['p_value'])}"
        f" (log10 {_num(d['log10_p_value'], '.1f')})   confidence: {_num(d['confidence'], '.2f')}",
    )
    out: list[Any] = [Panel(head, expand=False)]
    if d["reasons"]:
        out.append(Text("why: " + "; ".join(d["reasons"])))
    layers = Table(title="suspect layers", show_edge=False)
    for col in ("suspect", "from reference", "similarity", "p-value", "raw-basis sim."):
        layers.add_column(col, justify="right")
    for m in d["layers"]:
        ref = "-" if m["reference_layer"] is None else str(m["reference_layer"])
        rb = m.get("raw_basis_similarity")
        layers.add_row(
            str(m["suspect_layer"]),
            ref,
            _num(m["similarity"], ".3f"),
            fmt_p(m["p_value"]),
            "-" if rb is None else f"{rb:.3f}",
        )
    out.append(layers)
    ev = Table(title="evidence", show_edge=False)
    ev.add_column("kind")
    ev.add_column("finding")
    ev.add_column("p-value", justify="right")
    for e in d["evidence"]:
        ev.add_row(
            Text(e["kind"], style=_SEV.get(e.get("severity", "info"), "")),
            e["message"],
            fmt_p(e.get("p_value")),
        )
    out.append(ev)
    nulls = [e for e in d["evidence"] if e.get("null")]
    for e in nulls:
        out.append(Text(f"null ({e['kind']}): {e['null']}", style="dim"))
    tr = d["transformations"]
    bits = []
    rs = tr.get("residual_stream")
    if rs:
        bits.append(f"residual stream: {rs['kind']}")
    if tr.get("ffn_neurons"):
        bits.append(f"ffn neurons: {tr['ffn_neurons'].get('moved', 0)} moved")
    v = tr.get("vocabulary", {})
    if v:
        bits.append(
            f"vocabulary: {v.get('relation')} ({v.get('shared_tokens')} shared, aligned by "
            f"{v.get('aligned_by')})"
        )
    for key in ("renames", "dequantization", "obfuscation", "pruning", "merge", "copied_layers", "drift"):
        if key in tr:
            bits.append(f"{key}: {tr[key]}")
    if bits:
        out.append(Text("transformations: " + " | ".join(bits)))
    return out


def _derived_word(d: dict[str, Any]) -> str:
    if d["relationship"] == Relationship.UNTESTABLE:
        return "cannot tell"
    return "yes" if d["derived"] else "no"


def _heatmap_svg(sim: list[list[float]], layer_map: dict[str, Any], cell: int = 18) -> str:
    arr = np.asarray(sim, dtype=float)
    if arr.size == 0:
        return "<p>no layer similarities</p>"
    n_ref, n_sus = arr.shape
    pad = 40
    w, h = pad + n_sus * cell + 10, pad + n_ref * cell + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" '
        f'aria-label="layer similarity heatmap">'
    ]
    parts.append(f'<text x="{pad}" y="12" font-size="11">suspect layer &#8594;</text>')
    parts.append(
        f'<text x="2" y="{pad + 10}" font-size="11" transform="rotate(90 8,{pad})">reference layer</text>'
    )
    for i in range(n_ref):
        for j in range(n_sus):
            v = float(np.clip(arr[i, j], 0.0, 1.0))
            r, g, b = int(255 - 200 * v), int(255 - 120 * v), int(255 - 40 * v)
            mapped = layer_map.get(str(j)) == i
            stroke = ' stroke="#d00" stroke-width="2"' if mapped else ""
            title = f"<title>ref {i} / suspect {j}: {arr[i, j]:.3f}</title>"
            parts.append(
                f'<rect x="{pad + j * cell}" y="{pad + i * cell}" width="{cell - 1}" height="{cell - 1}" '
                f'fill="rgb({r},{g},{b})"{stroke}>{title}</rect>'
            )
    parts.append("</svg>")
    return "".join(parts)


def render_compare_html(result: Any) -> str:
    """A self-contained HTML page: verdict, per-layer heatmap (matched cells outlined), layers, evidence."""
    d = result.to_dict()
    colour = "#b80" if d["relationship"] == Relationship.UNTESTABLE else ("#b00" if d["derived"] else "#070")
    rows = "".join(
        f"<tr><td>{m['suspect_layer']}</td>"
        f"<td>{'-' if m['reference_layer'] is None else m['reference_layer']}</td>"
        f"<td>{_num(m['similarity'], '.3f')}</td><td>{esc(fmt_p(m['p_value']))}</td></tr>"
        for m in d["layers"]
    )
    ev = "".join(
        f"<tr><td>{esc(e['kind'])}</td><td>{esc(e['message'])}</td><td>{esc(fmt_p(e.get('p_value')))}</td>"
        f"<td>{esc(e.get('null', ''))}</td></tr>"
        for e in d["evidence"]
    )
    heat = _heatmap_svg(d["similarity_matrix"], d["transformations"].get("layer_map", {}))
    derived = _derived_word(d)
    stat = esc(str(d["transformations"].get("similarity_statistic") or "none"))
    layer_head = "<tr><th>suspect</th><th>from reference</th><th>similarity</th><th>p-value</th></tr>"
    ev_head = "<tr><th>kind</th><th>finding</th><th>p-value</th><th>null</th></tr>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>taoke compare: {esc(d["suspect"])}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;font-size:13px;vertical-align:top}}h1{{font-size:20px}}
.v{{color:{colour};font-weight:bold}}pre{{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}}</style>
</head><body>
<h1>{esc(d["suspect"])} vs reference {esc(d["reference"])}</h1>
<p>relationship: <span class="v">{esc(d["relationship"])}</span> &middot; derived: {derived}
&middot; p-value: {esc(fmt_p(d["p_value"]))} &middot; confidence {_num(d["confidence"], ".2f")}</p>
<p>{esc("; ".join(d["reasons"]))}</p>
<h2>Layer similarity ({stat}; outlined: layer map)</h2>{heat}
<h2>Suspect layers</h2><table>{layer_head}{rows}</table>
<h2>Evidence</h2><table>{ev_head}{ev}</table>
<h2>Transformations</h2><pre>{esc(dumps(d["transformations"]))}</pre>
</body></html>
"""


def render_compare(result: Any, fmt: str) -> str | list[Any]:
    """A CompareResult as ``json`` or ``html`` text, or (``text``) the rich renderables to draw."""
    if fmt == "json":
        return dumps(result)
    if fmt == "html":
        return render_compare_html(result)
    return compare_renderables(result)


def demo_table(result: Any) -> Table:
    """Side-by-side verdicts of ``taoke demo`` (a :class:`taoke.zoo.demo.DemoResult`)."""
    t = Table(
        title=f"taoke compare on the zoo's own trained models (reference: {result.reference})",
        show_lines=False,
    )
    for col in ("suspect", "what it really is", "taoke says", "derived", "p-value", "layer sim.", "time"):
        t.add_column(
            col, justify="left" if col in ("suspect", "what it really is", "taoke says") else "right"
        )
    for r in result.rows:
        t.add_row(
            r.suspect,
            str(r.truth),
            Text(str(r.relationship), style="bold green" if r.correct else "bold red"),
            "yes" if r.derived else "no",
            fmt_p(r.p_value),
            _num(r.similarity, ".3f"),
            f"{r.seconds:.1f}s",
        )
    return t


SHORT: dict[str, str] = {
    Relationship.IDENTICAL: "ident",
    Relationship.RENAMED_COPY: "renam",
    Relationship.OBFUSCATED_COPY: "obfus",
    Relationship.FINE_TUNED: "fine",
    Relationship.CONTINUED_PRETRAINING: "cpt",
    Relationship.PRUNED: "prune",
    Relationship.DEPTH_UPSCALED: "upsc",
    Relationship.VOCAB_EXTENDED: "vocab",
    Relationship.MERGED: "merge",
    Relationship.PARTIAL: "part",
    Relationship.INDEPENDENT_SAME_ARCHITECTURE: "ind-sa",
    Relationship.INDEPENDENT: "indep",
    Relationship.UNTESTABLE: "untst",
    "error": "error",
}


def eval_renderables(report: dict[str, Any]) -> list[Any]:
    """Confusion table and summary of ``taoke eval``."""
    labels = report["labels"]
    conf = report["confusion"]
    t = Table(title="relationship confusion (rows: truth, columns: taoke)", show_lines=False)
    t.add_column("truth \\ taoke")
    cols = labels + (["error"] if any(row.get("error") for row in conf.values()) else [])
    for lab in cols:
        t.add_column(SHORT.get(lab, lab[:6]), justify="right")
    for truth in labels:
        row = conf.get(truth, {})
        if not any(row.values()):
            continue
        t.add_row(truth, *[str(row.get(p, 0) or "") for p in cols])
    s = report["summary"]
    lines = [
        f"pairs: {s['pairs']} ({s['labelled_pairs']} labelled + {s['calibration_pairs']} calibration)   "
        f"derived-vs-not accuracy: {s['derived_accuracy']:.3f}   relationship accuracy: "
        f"{s['relationship_accuracy']:.3f}",
        f"FPR on the calibration pairs (leave-one-out null): alpha 0.01 -> {s['fpr_at_0.01']:.3f}, "
        f"alpha 1e-3 -> {s['fpr_at_0.001']:.3f}",
        f"margin: weakest derived ({(s.get('weakest_derived') or {}).get('id')}) vs strongest independent "
        f"({(s.get('strongest_independent') or {}).get('id')}) = {s['margin_null_sd']:.1f} null SDs",
    ]
    wm = report.get("weak_merges")
    if wm:
        lines.append(
            f"weak merges (linear merge of A with an independent model, no parent named): smallest share "
            f"of A detected at alpha {wm['alpha']:g} -> {_num(wm['smallest_share_detected'], 'g')}"
        )
    if s.get("untestable"):
        lines.append(f"untestable (no statistic applies): {', '.join(s['untestable'])}")
    pt = Table(title="p-values per class", show_lines=False)
    for col in ("class", "n", "correct", "min p", "max p"):
        pt.add_column(col, justify="right" if col != "class" else "left")
    for cls, v in sorted(report["per_class"].items()):
        pt.add_row(cls, str(v["n"]), str(v["correct"]), fmt_p(v["min_p"]), fmt_p(v["max_p"]))
    return [t, pt, Text("\n".join(lines))]


def split_markdown(report: dict[str, Any]) -> str:
    """The pairs that carry a fit/test split (issue 15's new pairs) as a Markdown table: which thresholds
    were fitted on which pairs, and how every pair came out."""
    rows = [r for r in report.get("pairs", []) if r.get("split")]
    if not rows:
        return ""
    out = ["| split | reference | suspect | truth | taoke | p |", "|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda x: (x["split"], x["id"])):
        mark = "" if r["relationship"] == r["truth"] else " (wrong)"
        out.append(
            f"| {r['split']} | {r.get('reference')} | {r.get('suspect')} | {r['truth']} | "
            f"{r['relationship']}{mark} | {fmt_p(r.get('p_value'))} |"
        )
    return "\n".join(out)


def weak_merge_markdown(report: dict[str, Any]) -> str:
    """The weak-merge sweep of ``taoke eval`` as a Markdown table (docs/compare.md)."""
    wm = report.get("weak_merges") or {}
    rows = wm.get("rows") or []
    if not rows:
        return ""
    partners = sorted({r["suspect"].rsplit("-", 1)[0] for r in rows})
    shares = sorted({r["share"] for r in rows})
    out = ["| share of A | " + " | ".join(partners) + " |", "|---" * (len(partners) + 1) + "|"]
    for sh in shares:
        cells = []
        for pa in partners:
            r = next((x for x in rows if x["share"] == sh and x["suspect"].startswith(pa)), None)
            cells.append(
                "-" if r is None else f"{fmt_p(r['p_value'])}{' **detected**' if r['detected'] else ''}"
            )
        out.append(f"| {sh:g} | " + " | ".join(cells) + " |")
    out.append("")
    out.append(
        f"- smallest share of A detected in every sweep pair at alpha {wm['alpha']:g}: "
        f"**{_num(wm.get('smallest_share_detected'), 'g')}**"
    )
    return "\n".join(out)


def eval_markdown(report: dict[str, Any]) -> str:
    """The accuracy report as Markdown (the table in docs/compare.md is generated with this)."""
    labels = [lab for lab in report["labels"] if any(report["confusion"].get(lab, {}).values())]
    cols = [lab for lab in report["labels"] if any(report["confusion"].get(t, {}).get(lab) for t in labels)]
    head = "| truth \\ taoke | " + " | ".join(SHORT.get(c, c) for c in cols) + " | n | min p | max p |"
    sep = "|---" * (len(cols) + 4) + "|"
    rows = [head, sep]
    for truth in labels:
        row = report["confusion"][truth]
        pc = report["per_class"].get(truth, {})
        cells = [str(row.get(c, 0) or "") for c in cols]
        rows.append(
            f"| {truth} | " + " | ".join(cells) + f" | {pc.get('n', 0)} | {fmt_p(pc.get('min_p'))} | "
            f"{fmt_p(pc.get('max_p'))} |"
        )
    s = report["summary"]
    weak, strong = s.get("weakest_derived") or {}, s.get("strongest_independent") or {}
    rows += [
        "",
        f"- pairs: {s['pairs']} ({s['labelled_pairs']} labelled zoo pairs + {s['calibration_pairs']} "
        f"calibration pairs); derived-vs-not accuracy **{s['derived_accuracy']:.3f}**, relationship accuracy "
        f"**{s['relationship_accuracy']:.3f}**",
        f"- false-positive rate on the {s['calibration_pairs']} independent calibration pairs, leave-one-out "
        f"null: **{s['fpr_at_0.01']:.3f}** at alpha 0.01, {s['fpr_at_0.001']:.3f} at alpha 1e-3",
        f"- margin: weakest derived pair ({weak.get('id')}, {weak.get('z', float('nan')):.1f} null SDs) vs "
        f"strongest independent pair ({strong.get('id')}, {strong.get('z', float('nan')):.1f} null SDs): "
        f"**{s['margin_null_sd']:.1f} null SDs**",
    ]
    return "\n".join(rows)
