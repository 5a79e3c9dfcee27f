"""Renderers for ``taoke compare`` (text via rich, JSON, self-contained HTML with a per-layer heatmap)
and for the side-by-side tables of ``taoke demo`` and ``taoke eval``. They never compute."""

from __future__ import annotations

from typing import Any

from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from taoke import i18n
from taoke.render.common import fmt_p, json_report
from taoke.render.svg import clean
from taoke.weights.relationship import Relationship

_SEV = {"high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}


def _verdict_style(derived: bool, relationship: str = "") -> str:
    if relationship == Relationship.UNTESTABLE:
        return "bold yellow"
    return "bold red" if derived else "bold green"


def _num(v: float | None, spec: str) -> str:
    """A number for humans, "-" where there is none (untestable: no p-value, no confidence)."""
    return "-" if v is None else format(v, spec)


def compare_renderables(result: Any, lang: str = "en") -> list[Any]:
    """The rich renderables of a CompareResult (or its ``to_dict()``), top to bottom, in ``lang``.

    Every string from the releases goes into rich ``Text`` as plain text (never parsed as markup) with
    control characters shown."""
    from taoke.render.compare_page import layer_map_list, steps
    from taoke.render.html import Words

    d = result if isinstance(result, dict) else result.to_dict()
    L = Words(lang)

    def msg(kind: str | None, english: str | None, detail: Any = None) -> str:
        return clean(i18n.text(i18n.message(kind, str(english or ""), detail, lang)))

    p = d.get("p_value")
    log10 = d.get("log10_p_value")
    head = Text.assemble(
        (clean(d.get("suspect")), "bold"),
        f" {L('against')} ",
        (clean(d.get("reference")), "bold"),
        "\n",
        (f"{L('relationship')}: ", ""),
        (L.rel(d.get("relationship")), _verdict_style(bool(d.get("derived")), str(d.get("relationship")))),
        f"   {L('derived')}: {_derived_word(d, L)}   {L('p-value')}: {fmt_p(p)}"
        + (f" (log10 {log10:.1f})" if isinstance(log10, (int, float)) else "")
        + (f"   {L('confidence')}: {d['confidence']:.2f}" if d.get("confidence") is not None else ""),
    )
    out: list[Any] = [Panel(head, expand=False)]
    if d.get("reasons"):
        out.append(Text(f"{L('why')}: " + "; ".join(msg(None, r) for r in d["reasons"])))
    chain = [clean(d.get("reference"))]
    for st in steps(d, L):
        chain.append(f"[{L(st.what)}: {_plain(st.detail)}]")
    chain.append(clean(d.get("suspect")))
    out.append(Text(f"{L('transformations undone')}: " + " -> ".join(chain)))
    lm = layer_map_list(d)
    if lm:
        out.append(
            Text(
                f"{L('layer map')} ({L('suspect layer')} <- {L('reference layer')}): "
                + ", ".join(f"{j}<-{'-' if i is None else i}" for j, i in enumerate(lm))
            )
        )
    layers = Table(title=L("suspect layers"), show_edge=False)
    for col in ("suspect layer", "from reference layer", "similarity", "p-value", "raw-basis similarity"):
        layers.add_column(L(col), justify="right")
    for m in d.get("layers") or []:
        ref = "-" if m.get("reference_layer") is None else str(m["reference_layer"])
        rb = m.get("raw_basis_similarity")
        layers.add_row(
            str(m.get("suspect_layer")),
            ref,
            f"{m['similarity']:.3f}" if m.get("similarity") is not None else "-",
            fmt_p(m.get("p_value")),
            "-" if rb is None else f"{rb:.3f}",
        )
    out.append(layers)
    ev = Table(title=L("evidence"), show_edge=False)
    ev.add_column(L("kind"))
    ev.add_column(L("finding"))
    ev.add_column(L("p-value"), justify="right")
    for e in d.get("evidence") or []:
        ev.add_row(
            Text(clean(e["kind"]), style=_SEV.get(e.get("severity", "info"), "")),
            Text(msg(e.get("kind"), e.get("message"), e.get("detail") or {})),
            fmt_p(e.get("p_value")),
        )
    out.append(ev)
    for e in d.get("evidence") or []:
        if e.get("null"):
            out.append(
                Text(f"{L('null hypothesis')} ({clean(e['kind'])}): {msg(None, e['null'])}", style="dim")
            )
    return out


def _derived_word(d: dict[str, Any], L: Any) -> str:
    """yes / no, or "cannot tell" when the comparison could not be made (no p-value)."""
    if d.get("p_value") is None and not d.get("derived"):
        return L("cannot tell")
    if d.get("relationship") == "shares-ancestor":  # related, derivation from REFERENCE not shown
        return L("related, not shown")
    return L("yes") if d.get("derived") else L("no")


def _plain(markup: Any) -> str:
    """Markup from the HTML helpers as plain text (tags dropped, entities decoded)."""
    import html as _html
    import re

    return clean(_html.unescape(re.sub(r"<[^>]+>", "", str(markup))))


def render_compare_html(result: Any, lang: str = "en") -> str:
    """A self-contained HTML page: the shared report header, the layer-similarity heatmap with the layer
    map drawn on it, per-layer p-values, the transformations undone, layers and evidence."""
    from taoke.render.compare_page import render_html

    return render_html(result, lang)


def render_compare(result: Any, fmt: str, lang: str = "en") -> str | list[Any]:
    """A CompareResult as ``json`` or ``html`` text, or (``text``) the rich renderables to draw."""
    if fmt == "json":
        return json_report("compare", result, str(getattr(result.relationship, "value", result.relationship)))
    if fmt == "html":
        return render_compare_html(result, lang)
    return compare_renderables(result, lang)


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
    Relationship.SHARES_ANCESTOR: "ances",
    Relationship.PARTIAL: "part",
    Relationship.INDEPENDENT_SAME_ARCHITECTURE: "ind-sa",
    Relationship.INDEPENDENT: "indep",
    Relationship.UNTESTABLE: "untst",
    Relationship.UPCYCLED: "upcyc",
    Relationship.EXPERT_LINEAGE: "exprt",
    "error": "error",
}


def eval_renderables(report: dict[str, Any]) -> list[Any]:
    """Confusion table and summary of ``taoke eval``."""
    labels = report["labels"]
    conf = report["confusion"]
    t = Table(title="relationship confusion (rows: truth, columns: taoke)", show_lines=False)
    t.add_column("truth \\ taoke")
    # only the answers taoke gave (rows hold every truth seen): with every relationship as a column the
    # table no longer fits a terminal and rich cuts the headers
    given = [lab for lab in labels if any((conf.get(t) or {}).get(lab) for t in labels)]
    cols = given + (["error"] if any(row.get("error") for row in conf.values()) else [])
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
    for split, acc in sorted((s.get("accuracy_by_split") or {}).items()):
        lines.append(
            f"relationship accuracy, {split} split: {acc['correct']}/{acc['pairs']} ({acc['accuracy']:.3f})"
            + (f"; wrong: {'; '.join(acc['wrong'])}" if acc["wrong"] else "")
        )
    mg = report.get("merges")
    if mg:
        lines.append(
            f"merges ({mg['protocol']}): {mg['labelled_merged']}/{mg['merge_pairs']} labelled merged, "
            f"false merges {len(mg['false_merges'])}"
            + (f" ({', '.join(mg['false_merges'])})" if mg["false_merges"] else "")
            + (
                f"; with the true parents given: {mg['with_oracle_parents']}/{mg['with_oracle_pairs']}"
                if mg.get("with_oracle_pairs")
                else ""
            )
        )
    if wm and "merges_found" in wm:
        lines.append(
            f"merge finder on the weak-merge sweep (test split): {wm['merges_found']}/{len(wm['rows'])} "
            f"found, {wm['merges_found_right_parents']} with both true parents"
        )
    if wm and wm.get("merges_found_by_share"):
        lines.append(merge_limit_line(wm))
    if s.get("untestable"):
        lines.append(f"untestable (no statistic applies): {', '.join(s['untestable'])}")
    pt = Table(title="p-values per class", show_lines=False)
    for col in ("class", "n", "correct", "min p", "max p"):
        pt.add_column(col, justify="right" if col != "class" else "left")
    for cls, v in sorted(report["per_class"].items()):
        pt.add_row(cls, str(v["n"]), str(v["correct"]), fmt_p(v["min_p"]), fmt_p(v["max_p"]))
    out: list[Any] = [t, pt, Text("\n".join(lines))]
    wf = report.get("width_fpr")
    if wf is not None:
        out += width_fpr_renderables(wf)
        out += qq_renderables(wf)
    if (fam := report.get("families")) and fam.get("rows"):
        out += families_renderables(fam)
    if report.get("experts"):
        out += expert_renderables(report["experts"])
    return out


def expert_renderables(ex: dict[str, Any]) -> list[Any]:
    """Issue 15.4's expert table: every MoE pair, its split, truth, answer and the experts carried."""
    t = Table(title="mixture-of-experts pairs (expert matching: max-T permutation test, alpha 1e-3)")
    for col in ("reference", "suspect", "split", "truth", "answer", "ok", "experts carried", "min p"):
        t.add_column(col, justify="right" if col == "min p" else "left")
    for r in ex["rows"]:
        carried = "; ".join(f"b{k}: {','.join(map(str, v))}" for k, v in sorted(r["carried"].items())) or "-"
        if r["reordered"]:
            carried += " (re-ordered)"
        t.add_row(
            r["reference"],
            r["suspect"],
            r["split"],
            r["truth"],
            r["answer"],
            "yes" if r["correct"] else "NO",
            carried,
            fmt_p(r["expert_p_min"]) if r["expert_p_min"] is not None else "-",
        )
    acc = ", ".join(f"{k}: {ok}/{n}" for k, (n, ok) in sorted(ex["accuracy"].items()))
    return [t, Text(f"MoE pairs correct per split: {acc}")]


def families_renderables(fam: dict[str, Any]) -> list[Any]:
    """Issue 15.5's accuracy per model family (pairs split test; the one null fitted for them, the
    tied-embedding S1 null, was fitted on other models)."""
    t = Table(title=f"other families (split {fam.get('split')}): relationship and derived-vs-not per family")
    for col in ("family", "pairs", "correct", "derived ok", "not derived ok", "wrong"):
        t.add_column(col, justify="left" if col in ("family", "wrong") else "right")
    for r in fam["rows"]:
        t.add_row(
            str(r["family"]),
            str(r["pairs"]),
            str(r["correct"]),
            f"{r['derived'][0]}/{r['derived'][1]}",
            f"{r['not_derived'][0]}/{r['not_derived'][1]}",
            ", ".join(r["wrong"]) or "-",
        )
    note = f"{fam['correct']}/{fam['pairs']} family pairs correct; fitted on: {fam.get('fitted_on')}"
    return [t, Text(note)]


def qq_renderables(wf: dict[str, Any]) -> list[Any]:
    """Issue 20: a QQ check of the null p-values per width, as text. Under independence a calibrated
    p-value is uniform, so the count of pairs with p below a level q should be about n * q; a column
    far below says the test is conservative there, far above says anti-conservative. Each cell is
    "observed / expected", with a bar of the observed share against the diagonal."""
    rows = [r for r in wf.get("rows") or [] if (r.get("below") or {}).get("log10_p")]
    if not rows:
        return [Text("null p-value QQ per width: not measured (no calibration pairs)")]
    levels = sorted({float(q) for r in rows for q in r["below"]["log10_p"]})
    t = Table(title="null p-values per width: pairs with p below q, observed / expected (n * q)")
    t.add_column("width")
    t.add_column("split")
    t.add_column("pairs", justify="right")
    for q in levels:
        t.add_column(f"q={q:g}", justify="right")
    t.add_column("QQ (share below q vs q)")
    for r in rows:
        n = r["pairs"]
        below = r["below"]["log10_p"]
        cells = [f"{below.get(f'{q:g}', 0)}/{n * q:.1f}" for q in levels]
        bar = " ".join(f"{q:g}:{(below.get(f'{q:g}', 0) / n if n else 0):.2f}" for q in levels)
        t.add_row(str(r["width"]), str(r["split"]), str(n), *cells, bar)
    return [
        t,
        Text(
            "a calibrated null gives observed ~ expected in every column (uniform p); fewer is "
            "conservative, more is anti-conservative"
        ),
    ]


def width_fpr_renderables(wf: dict[str, Any]) -> list[Any]:
    """Issue 15.1's per-width false-positive table (independent pairs of calibration models per width;
    95 % Clopper-Pearson upper bounds), or one line saying it was not measured -- never a silent 0."""
    rows = wf.get("rows") or []
    notes = []
    if wf.get("missing"):
        notes.append(f"FPR per width: {wf['missing']}")
    if not rows:
        return [Text("\n".join(notes or ["FPR per width: not measured (no calibration fingerprints)"]))]
    t = Table(title="false positives per width (independent pairs; 95% one-sided Clopper-Pearson bound)")
    cols = ("width", "split", "models", "pairs", "FP@0.01", "FPR", "upper")
    cols += ("FP@1e-3", "FPR", "upper", "drivers")
    for col in cols:
        t.add_column(col, justify="left" if col in ("split", "drivers") else "right")
    for r in rows:
        drivers = ", ".join(f"{k} {v}" for k, v in sorted((r.get("drivers@0.01") or {}).items())) or "-"
        t.add_row(
            str(r["width"]),
            str(r["split"]),
            str(r["models"]),
            str(r["pairs"]),
            str(r["fp@0.01"]),
            _num(r["fpr@0.01"], ".3f"),
            _num(r["upper95@0.01"], ".3f"),
            str(r["fp@0.001"]),
            _num(r["fpr@0.001"], ".3f"),
            _num(r["upper95@0.001"], ".3f"),
            drivers,
        )
    notes.append(
        f"calibration fingerprints: {wf.get('source')}; widths not listed: not measured "
        "(the rates say nothing about them)"
    )
    return [t, Text("\n".join(notes))]


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


def families_markdown(report: dict[str, Any]) -> str:
    """Issue 15.5's per-family table of ``taoke eval`` as Markdown (docs/compare.md)."""
    fam = report.get("families") or {}
    rows = fam.get("rows") or []
    if not rows:
        return ""
    out = [
        f"| family (split {fam.get('split')}) | pairs | relationship right | derived right "
        "| not derived right |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['family']} | {r['pairs']} | {r['correct']} | {r['derived'][0]}/{r['derived'][1]} "
            f"| {r['not_derived'][0]}/{r['not_derived'][1]} |"
        )
    out.append(f"| **all** | **{fam['pairs']}** | **{fam['correct']}** | | |")
    return "\n".join(out)


def merge_limit_line(wm: dict[str, Any]) -> str:
    """The merge finder's detection limit on the sweep: found per share of A, and the floor under which
    a parent is not reported (issue 20: the weak merges it misses are stated, not hidden)."""
    found = ", ".join(f"{s} {k}/{n}" for s, (k, n) in wm["merges_found_by_share"].items())
    return (
        f"merge finder's detection limit, merges found by share of A: {found}; a parent below "
        f"MIN_SHARE {wm['min_share']:g} of the mixture is not reported (a design floor: such a model is "
        "read as the other parent's derivative), and at a true share of exactly the floor the estimate "
        "falls on either side"
    )


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
    if wm.get("merges_found_by_share"):
        out.append("- " + merge_limit_line(wm))
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
