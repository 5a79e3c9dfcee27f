"""The weight-lineage report page (``taoke compare --format html``) and its parts, which the audit page
reuses for each ``--against`` comparison.

Drawn from the JSON form of a :class:`~taoke.weights.compare.CompareResult` (``to_dict()``), which is
also what an audit keeps of each comparison, so the two pages show a comparison the same way. Every
key is read defensively: an audit's comparison, an older result or a relationship added later must
still render (an unknown relationship is shown by its label; a missing p-value says why).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from taoke.render import svg
from taoke.render.html import Header, Words, name, page, value

_NEGATIVE = {"independent", "independent-same-architecture"}


@dataclass
class Step:
    """One box of the transformation diagram: what was done (and undone), and the numbers behind it."""

    what: str  # English msgid
    detail: Markup
    kind: str = "step"  # step | kept


def layer_map_list(d: dict[str, Any]) -> list[int | None]:
    """The layer map as a list indexed by suspect layer (None: unmatched)."""
    tr = d.get("transformations") or {}
    lm = tr.get("layer_map")
    if isinstance(lm, dict) and lm:
        n = max(int(k) for k in lm) + 1
        return [lm.get(str(j)) for j in range(n)]
    return [m.get("reference_layer") for m in d.get("layers") or [] if isinstance(m, dict)]


def tone(d: dict[str, Any]) -> str:
    if d.get("p_value") is None and d.get("derived") is None:
        return "caution"
    if d.get("derived"):
        return "alert"
    rel = str(d.get("relationship"))
    return "ok" if rel in _NEGATIVE else "caution"


def verdict(d: dict[str, Any], L: Words) -> Markup:
    rel = L.rel(d.get("relationship"))
    if d.get("derived"):
        return L.f("Derived: {relationship}", relationship=Markup("<b>{}</b>").format(rel))
    if d.get("p_value") is None:
        return L.f("Could not be tested: {relationship}", relationship=rel)
    return L.f(
        "Not derived at the level α = {alpha}: {relationship}",
        alpha=f"{d.get('alpha', 0):g}",
        relationship=rel,
    )


def null_words(d: dict[str, Any], L: Words) -> Markup:
    return L.f(
        "If {suspect} had been trained independently of {reference} (its own random start, any data), "
        "layers matching at least this well would turn up with probability p.",
        suspect=name(d.get("suspect")),
        reference=name(d.get("reference")),
    )


def _model_line(info: dict[str, Any] | None, nm: Any, L: Words) -> Markup:
    """A model's name and shape: ``base-a  llama · 4 layers · d=64 · safetensors · F16``."""
    info = info or {}
    shape: list[Markup] = []
    if info.get("arch"):
        shape.append(value(info["arch"]))
    if info.get("n_layers") is not None:
        shape.append(L.f("{n} layers", n=info["n_layers"]))
    if info.get("d_model") is not None:
        shape.append(value(f"d={info['d_model']}"))
    if info.get("format"):
        shape.append(value(info["format"]))
    if info.get("dtypes"):
        shape.append(value("/".join(str(x) for x in info["dtypes"])))
    out = name(nm)
    if shape:
        out += Markup(' <span class="muted small">') + Markup(" · ").join(shape) + Markup("</span>")
    return out


def header(d: dict[str, Any], L: Words) -> Header:
    p = d.get("p_value")
    return Header(
        kind="Weight lineage",
        title=L.f(
            "{suspect} against {reference}",
            suspect=name(d.get("suspect")),
            reference=name(d.get("reference")),
        ),
        verdict=verdict(d, L),
        tone=tone(d),
        p_value=p,
        p_note=Markup("") if p is not None else escape(L("no p-value: the weights could not be tested")),
        null=null_words(d, L),
        confidence=d.get("confidence"),
        compared=[
            ("Reference", _model_line(d.get("reference_info"), d.get("reference"), L)),
            ("Suspect", _model_line(d.get("suspect_info"), d.get("suspect"), L)),
            ("Significance level", escape(f"α = {d.get('alpha', 0):g}")),
        ],
    )


def steps(d: dict[str, Any], L: Words) -> list[Step]:
    """The transformations that were undone to line SUSPECT up with REFERENCE, in the order a copier
    would apply them: names, number format, vocabulary, hidden basis, neurons, scales, layers, training."""
    tr = d.get("transformations") or {}
    out: list[Step] = []
    ren = tr.get("renames")
    if isinstance(ren, dict):
        detail = L.f(
            "class {reference_class} → {suspect_class}",
            reference_class=ren.get("reference_class") or "-",
            suspect_class=ren.get("suspect_class") or "-",
        )
        if ren.get("fused_tensors"):
            detail += Markup("; ") + L.f("fused: {fused}", fused=", ".join(map(str, ren["fused_tensors"])))
        out.append(Step("Tensors renamed", detail))
    deq = tr.get("dequantization")
    if isinstance(deq, dict):
        out.append(
            Step(
                "Number format changed",
                L.f(
                    "{reference} → {suspect}; compared after dequantizing",
                    reference="/".join(map(str, deq.get("reference_dtypes") or [])) or "-",
                    suspect="/".join(map(str, deq.get("suspect_dtypes") or [])) or "-",
                ),
            )
        )
    voc = tr.get("vocabulary")
    if isinstance(voc, dict) and (voc.get("relation") not in (None, "same") or voc.get("anchor_ids_moved")):
        out.append(
            Step(
                "Vocabulary aligned",
                L.f(
                    "{relation}: {shared} shared tokens, {added} added, {moved} ids moved; matched by {by}",
                    relation=L.term(voc.get("relation"), "vocabulary"),
                    shared=voc.get("shared_tokens", "-"),
                    added=voc.get("added_tokens", "-"),
                    moved=voc.get("anchor_ids_moved", "-"),
                    by=L.term(voc.get("aligned_by"), "aligned_by"),
                ),
            )
        )
    res = tr.get("residual_stream")
    if isinstance(res, dict) and res.get("kind") in ("permutation", "signed-permutation", "rotation"):
        what = {
            "permutation": "Hidden dimensions permuted",
            "signed-permutation": "Hidden dimensions permuted and sign-flipped",
            "rotation": "Hidden space rotated",
        }[res["kind"]]
        fit, scale = res.get("fit"), res.get("scale")
        out.append(
            Step(
                what,
                L.f(
                    "recovered from {n} shared-token embeddings (fit R² {fit}, scale {scale})",
                    n=res.get("n_anchors", "-"),
                    fit="-" if fit is None else f"{fit:.4f}",
                    scale="-" if scale is None else f"{scale:.3f}",
                ),
            )
        )
    neu = tr.get("ffn_neurons")
    if isinstance(neu, dict) and neu.get("moved"):
        out.append(
            Step(
                "FFN neurons permuted",
                L.f("{moved} of {n} neurons at another index", moved=neu["moved"], n=neu.get("n_sus", "-")),
            )
        )
    resc = tr.get("rescaled_tensors")
    if isinstance(resc, dict) and resc.get("count") and d.get("relationship") == "obfuscated-copy":
        out.append(
            Step(
                "Scales moved between tensors",
                L.f(
                    "{count} tensors changed size in opposite pairs ({roles})",
                    count=resc["count"],
                    roles=", ".join(map(str, resc.get("roles") or [])),
                ),
            )
        )
    summary = tr.get("layer_map_summary") or {}
    prun = tr.get("pruning")
    if isinstance(prun, dict):
        bits = []
        if prun.get("dropped_reference_layers"):
            bits.append(
                L.f("reference layers {layers} dropped", layers=_layers(prun["dropped_reference_layers"]))
            )
        ffn = prun.get("ffn_dim") or []
        if len(ffn) == 2 and ffn[0] and ffn[1] and ffn[1] < ffn[0]:
            bits.append(L.f("FFN width {a} → {b}", a=ffn[0], b=ffn[1]))
        dm = prun.get("d_model") or []
        if len(dm) == 2 and dm[0] and dm[1] and dm[1] < dm[0]:
            bits.append(L.f("hidden width {a} → {b}", a=dm[0], b=dm[1]))
        out.append(Step("Pruned", Markup("; ").join(bits) if bits else Markup("")))
    if d.get("relationship") == "depth-upscaled" or summary.get("repeated"):
        lm = [i for i in layer_map_list(d) if i is not None]
        out.append(
            Step(
                "Layers repeated",
                L.f(
                    "{n_sus} suspect layers from {n_ref} reference layers: {order}",
                    n_sus=summary.get("suspect_layers", len(lm)),
                    n_ref=len(set(lm)),
                    order=" ".join(map(str, lm)),
                ),
            )
        )
    cop = tr.get("copied_layers")
    if isinstance(cop, dict):
        out.append(
            Step(
                "Only some layers copied",
                L.f(
                    "suspect layers {copied} come from the reference; {unmatched} do not",
                    copied=_layers(sorted(int(k) for k in cop)),
                    unmatched=_layers(summary.get("unmatched_suspect_layers") or []),
                ),
            )
        )
    mer = tr.get("merge")
    if isinstance(mer, dict) and mer:
        shares = ", ".join(f"{k} {v:.2f}" if isinstance(v, (int, float)) else str(k) for k, v in mer.items())
        out.append(Step("Merged", L.f("estimated shares: {shares}", shares=shares)))
    ext = tr.get("vocab_extension")
    if isinstance(ext, dict) and not any(s.what == "Vocabulary aligned" for s in out):
        out.append(Step("Vocabulary extended", L.f("{n} tokens added", n=ext.get("added_tokens", "-"))))
    drift = tr.get("drift")
    if isinstance(drift, dict) and d.get("derived"):
        out.append(
            Step(
                "Trained further",
                L.f(
                    "median layer similarity {median}, lowest {low}",
                    median=_f3(drift.get("median_layer_similarity")),
                    low=_f3(drift.get("min_layer_similarity")),
                ),
            )
        )
    raw = tr.get("raw_values")
    if not out and isinstance(raw, dict) and raw.get("compared") and raw.get("same") == raw.get("compared"):
        out.append(
            Step(
                "Nothing to undo",
                L.f("{same} of {compared} tensors hold the same values in the same places", **raw),
                "kept",
            )
        )
    return out


def _layers(xs: Any) -> str:
    return ", ".join(str(x) for x in xs) if xs else "-"


def _f3(x: Any) -> str:
    return "-" if not isinstance(x, (int, float)) or not math.isfinite(x) else f"{x:.3f}"


def heatmap(d: dict[str, Any], L: Words, uid: str = "hm") -> Markup:
    """The layer-similarity heatmap with the layer map drawn on it (empty when there is no matrix)."""
    matrix = d.get("similarity_matrix")
    if not isinstance(matrix, list) or not matrix or not all(isinstance(r, list) for r in matrix):
        return Markup("")
    return svg.heatmap(
        matrix,
        layer_map_list(d),
        svg.HeatmapLabels(
            x=L("suspect layer"),
            y=L("reference layer"),
            scale=L("similarity"),
            mapped=L("layer map"),
            repeat=L("repeated (up-scaling)"),
            dropped=L("dropped (pruning)"),
            unmatched=L("unmatched (not copied)"),
            cell=L("reference layer {i}, suspect layer {j}: {v}"),
        ),
        uid=uid,
    )


def strip(d: dict[str, Any], L: Words) -> Markup:
    layers = [m for m in d.get("layers") or [] if isinstance(m, dict) and "p_value" in m]
    if not layers:
        return Markup("")
    matrix = d.get("similarity_matrix") or []
    n_ref = len(matrix) if isinstance(matrix, list) else 0
    return svg.pvalue_strip(
        [m.get("p_value") for m in sorted(layers, key=lambda m: m.get("suspect_layer", 0))],
        float(d.get("alpha") or 1e-3),
        svg.StripLabels(
            x=L("suspect layer"),
            y=L("per-layer p-value"),
            alpha=L("α = {alpha}"),
            beyond=L("p below 1e-{cap}"),
            untested=L("not tested"),
        ),
        n_rows_hint=n_ref,
    )


def render_html(result: Any, lang: str = "en") -> str:
    """The compare report page."""
    d = result if isinstance(result, dict) else result.to_dict()
    L = Words(lang)
    return page(
        "compare.html.j2",
        lang,
        header(d, L),
        d=d,
        steps=steps(d, L),
        heatmap=heatmap(d, L),
        strip=strip(d, L),
        grid=component_grid(d, L),
        layer_map=layer_map_list(d),
    )


def component_grid(d: dict[str, Any], L: Words) -> Markup:
    """Suspect layers x weight components (qk, ov, ffn, gate): how alike each part of each matched
    layer is (empty when the comparison kept no per-component scores)."""
    layers = [m for m in d.get("layers") or [] if isinstance(m, dict)]
    comps: list[str] = []
    for m in layers:
        for c, v in (m.get("components") or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and c not in comps:
                comps.append(c)
    if not comps:
        return Markup("")
    rows = [str(m.get("suspect_layer", k)) for k, m in enumerate(layers)]
    matrix = [[(m.get("components") or {}).get(c) for c in comps] for m in layers]
    return svg.grid(matrix, rows, comps, x=L("weight component"), y=L("suspect layer"), scale=L("similarity"))
