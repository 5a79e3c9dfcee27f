"""Small charts as inline SVG for the HTML reports: a heatmap with a colour scale and a layer map drawn
on it, a p-value strip, a histogram with one value marked, and horizontal bars.

WHY our own: a report must open offline, mail as one file and print to PDF, so no JavaScript library
and nothing fetched; the few chart kinds the reports need are a hundred lines each. Every function
takes numbers and already-translated labels and returns ``Markup`` (every label escaped, control
characters shown), never computes a statistic, and draws at a size chosen from the data so that a
4-layer and an 80-layer model are both readable.

The colour scale is viridis (van der Walt & Smith, matplotlib 2015): perceptually uniform, readable in
grey and by the colour-blind.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from taoke.render.common import clean

# viridis at 0, 0.125, ..., 1 (matplotlib's _viridis_data sampled at nine points)
_VIRIDIS = [
    (68, 1, 84),
    (71, 44, 122),
    (59, 81, 139),
    (44, 113, 142),
    (33, 144, 141),
    (39, 173, 129),
    (92, 200, 99),
    (170, 220, 50),
    (253, 231, 37),
]

FONT = "font-family=\"'Noto Sans','Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif\""
INK, MUTED, GRID = "#1d2330", "#667085", "#d0d5dd"
ALERT, GOOD, WARN, MAP = "#b42318", "#027a48", "#b54708", "#e31a1c"


def _fill(template: str, **fields: object) -> str:
    """``template`` with ``{name}`` replaced by each field (no other brace is special: a label is text)."""
    for k, v in fields.items():
        template = template.replace("{" + k + "}", str(v))
    return template


def _svg(parts: list[str]) -> Markup:
    """The one place an SVG string becomes Markup. Every part that carries outside text (a model or
    tensor name, a translated label) went through :func:`_e` (escaped, controls shown) when it was
    appended; everything else is taoke's own markup and numbers it formatted. The hostile-name report
    tests check that a name like ``<script>`` arrives escaped."""
    return Markup("".join(parts))  # nosec B704 - parts are taoke's markup; outside text escaped by _e()


def _e(text: object) -> Markup:
    return escape(clean(text))


def viridis(v: float) -> str:
    """The colour of ``v`` in [0, 1] (clipped; NaN is grey) as ``#rrggbb``."""
    if v is None or not math.isfinite(v):
        return "#e4e7ec"
    v = min(1.0, max(0.0, v)) * (len(_VIRIDIS) - 1)
    i = min(int(v), len(_VIRIDIS) - 2)
    f = v - i
    a, b = _VIRIDIS[i], _VIRIDIS[i + 1]
    r, g, bl = (round(a[k] + (b[k] - a[k]) * f) for k in range(3))
    return f"#{r:02x}{g:02x}{bl:02x}"


def tick_step(n: int, most: int = 10) -> int:
    """The step between tick labels on an axis of ``n`` layers: 1, 2, 5, 10, 20, 50... so that at most
    ``most`` labels are drawn."""
    for base in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
        if math.ceil(n / base) <= most:
            return base
    return max(1, math.ceil(n / most))


def ticks(n: int, most: int = 10) -> list[int]:
    """Indices labelled on an axis of ``n`` layers (always the first)."""
    step = tick_step(n, most)
    return list(range(0, n, step))


def cell_size(n: int, target: int = 480) -> int:
    """Pixels per layer: about ``target`` pixels for the longer side, between 5 and 40 per cell."""
    return max(5, min(40, target // max(1, n)))


@dataclass(frozen=True)
class HeatmapLabels:
    """The words a heatmap shows (translated by the caller)."""

    x: str  # suspect layer
    y: str  # reference layer
    scale: str  # similarity
    mapped: str  # "layer map"
    repeat: str  # "repeated (up-scaling)"
    dropped: str  # "dropped (pruning)"
    unmatched: str  # "unmatched (not copied)"
    cell: str = "reference {i} / suspect {j}: {v}"  # hover text


def heatmap(
    matrix: Sequence[Sequence[float | None]],
    layer_map: Sequence[int | None] | None,
    labels: HeatmapLabels,
    *,
    vmin: float = 0.0,
    vmax: float = 1.0,
    uid: str = "hm",
    target: int = 480,
) -> Markup:
    """Rows: reference layers, columns: suspect layers; ``layer_map[j]`` the reference layer suspect
    layer ``j`` was matched to (None: unmatched).

    Drawn on the cells: the layer map as a line through the matched cells with a dot on each, dots of
    repeated reference layers (up-scaling) in another colour, hatched rows for reference layers no
    suspect layer comes from (pruning) and hatched columns for unmatched suspect layers (a partial
    copy). A colour bar with ticks and a legend of the marks sits to the right.
    """
    n_ref = len(matrix)
    n_sus = max((len(r) for r in matrix), default=0)
    if n_ref == 0 or n_sus == 0:
        return Markup("")
    cell = cell_size(max(n_ref, n_sus), target)
    left, top = 62, 12
    w, h = n_sus * cell, n_ref * cell
    bar_x = left + w + 22
    legend_x = bar_x + 64
    width = legend_x + 190
    height = top + max(h, 150) + 50
    lmap = list(layer_map or [])
    used = [i for i in lmap if i is not None]
    repeated = {i for i in used if used.count(i) > 1}
    dropped = [i for i in range(n_ref) if i not in used] if lmap else []
    unmatched = [j for j, i in enumerate(lmap) if i is None]
    titles = n_ref * n_sus <= 48 * 48
    o: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart heatmap" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" {FONT} font-size="11">',
        f'<defs><pattern id="{uid}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff" fill-opacity="0.35"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#ffffff" stroke-width="2.2"/></pattern></defs>',
        f"<title>{_e(labels.y)} × {_e(labels.x)}</title>",
    ]
    for i, row in enumerate(matrix):
        for j in range(n_sus):
            v = row[j] if j < len(row) else None
            val = None if v is None or not math.isfinite(v) else float(v)
            colour = viridis(None if val is None else (val - vmin) / (vmax - vmin or 1.0))
            rect = (
                f'<rect x="{left + j * cell}" y="{top + i * cell}" width="{cell}" height="{cell}" '
                f'fill="{colour}"'
            )
            if titles:
                tip = _fill(labels.cell, i=i, j=j, v="-" if val is None else f"{val:.3f}")
                o.append(f"{rect}><title>{_e(tip)}</title></rect>")
            else:
                o.append(rect + "/>")
    for i in dropped:
        o.append(
            f'<rect class="dropped" x="{left}" y="{top + i * cell}" width="{w}" height="{cell}" '
            f'fill="url(#{uid}-hatch)" stroke="{ALERT}" stroke-width="1.2"/>'
        )
    for j in unmatched:
        o.append(
            f'<rect class="unmatched" x="{left + j * cell}" y="{top}" width="{cell}" height="{h}" '
            f'fill="url(#{uid}-hatch)" stroke="{WARN}" stroke-width="1.2"/>'
        )
    o.append(
        f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="{INK}" stroke-width="1"/>'
    )
    # the layer map: a line through the matched cells, a dot on each
    pts = [(left + (j + 0.5) * cell, top + (i + 0.5) * cell, i) for j, i in enumerate(lmap) if i is not None]
    if len(pts) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in pts)
        o.append(
            f'<polyline class="layer-map" points="{path}" fill="none" stroke="{MAP}" stroke-width="'
            f'{1.5 if cell >= 8 else 1}" stroke-opacity="0.85"/>'
        )
    r = max(1.6, min(6.0, cell * 0.22))
    for x, y, i in pts:
        fill = "#ff7f00" if i in repeated else "#ffffff"
        o.append(
            f'<circle class="{"repeat" if i in repeated else "mapped"}" cx="{x:.1f}" cy="{y:.1f}" '
            f'r="{r:.1f}" '
            f'fill="{fill}" stroke="{MAP}" stroke-width="1"/>'
        )
    # axes: ticks, tick labels, axis titles
    for j in ticks(n_sus):
        x = left + (j + 0.5) * cell
        o.append(f'<line x1="{x:.1f}" y1="{top + h}" x2="{x:.1f}" y2="{top + h + 4}" stroke="{INK}"/>')
        o.append(f'<text x="{x:.1f}" y="{top + h + 15}" text-anchor="middle" fill="{INK}">{j}</text>')
    for i in ticks(n_ref):
        y = top + (i + 0.5) * cell
        colour = ALERT if i in dropped else ("#ff7f00" if i in repeated else INK)
        o.append(f'<line x1="{left - 4}" y1="{y:.1f}" x2="{left}" y2="{y:.1f}" stroke="{INK}"/>')
        o.append(f'<text x="{left - 7}" y="{y + 4:.1f}" text-anchor="end" fill="{colour}">{i}</text>')
    o.append(
        f'<text x="{left + w / 2:.1f}" y="{top + h + 32}" text-anchor="middle" fill="{INK}" '
        f'font-size="12">{_e(labels.x)} →</text>'
    )
    cy = top + h / 2
    o.append(
        f'<text x="14" y="{cy:.1f}" text-anchor="middle" fill="{INK}" font-size="12" '
        f'transform="rotate(-90 14 {cy:.1f})">← {_e(labels.y)}</text>'
    )
    # colour bar
    bar_h = max(h, 120)
    steps = 40
    for k in range(steps):
        frac = 1 - (k + 0.5) / steps
        o.append(
            f'<rect x="{bar_x}" y="{top + k * bar_h / steps:.2f}" width="14" '
            f'height="{bar_h / steps + 0.6:.2f}" '
            f'fill="{viridis(frac)}"/>'
        )
    o.append(f'<rect x="{bar_x}" y="{top}" width="14" height="{bar_h}" fill="none" stroke="{INK}"/>')
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = top + (1 - frac) * bar_h
        val = vmin + frac * (vmax - vmin)
        o.append(f'<line x1="{bar_x + 14}" y1="{y:.1f}" x2="{bar_x + 18}" y2="{y:.1f}" stroke="{INK}"/>')
        o.append(f'<text x="{bar_x + 21}" y="{y + 4:.1f}" fill="{INK}">{val:g}</text>')
    o.append(
        f'<text x="{bar_x + 7}" y="{top + bar_h + 16}" text-anchor="middle" fill="{MUTED}">'
        f"{_e(labels.scale)}</text>"
    )
    # legend of the marks that are drawn
    ly = top + 6
    items: list[tuple[str, str]] = []
    if pts:
        items.append(
            (
                f'<line x1="0" y1="0" x2="18" y2="0" stroke="{MAP}" stroke-width="1.5"/>'
                f'<circle cx="9" cy="0" r="3.5" fill="#fff" stroke="{MAP}"/>',
                labels.mapped,
            )
        )
    if repeated:
        items.append((f'<circle cx="9" cy="0" r="3.5" fill="#ff7f00" stroke="{MAP}"/>', labels.repeat))
    if dropped:
        items.append(
            (
                f'<rect x="0" y="-6" width="18" height="12" fill="#777" stroke="{ALERT}"/>'
                f'<rect x="0" y="-6" width="18" height="12" fill="url(#{uid}-hatch)"/>',
                labels.dropped,
            )
        )
    if unmatched:
        items.append(
            (
                f'<rect x="0" y="-6" width="18" height="12" fill="#777" stroke="{WARN}"/>'
                f'<rect x="0" y="-6" width="18" height="12" fill="url(#{uid}-hatch)"/>',
                labels.unmatched,
            )
        )
    for k, (icon, text) in enumerate(items):
        y = ly + k * 22
        o.append(
            f'<g class="legend" transform="translate({legend_x},{y})">{icon}'
            f'<text x="24" y="4" fill="{INK}">{_e(text)}</text></g>'
        )
    o.append("</svg>")
    return _svg(o)


@dataclass(frozen=True)
class StripLabels:
    x: str  # suspect layer
    y: str  # -log10 p
    alpha: str  # "α = {alpha}"
    beyond: str  # "p below 1e-{cap}"
    untested: str  # "not tested"


def pvalue_strip(
    p_values: Sequence[float | None],
    alpha: float,
    labels: StripLabels,
    *,
    cap: float = 20.0,
    target: int = 480,
    n_rows_hint: int | None = None,
) -> Markup:
    """Per-layer p-values as bars of -log10 p (capped at ``cap``; a triangle marks a bar that goes
    beyond), the level ``alpha`` as a dashed line, untested layers hatched. Columns line up with a
    :func:`heatmap` of the same layers drawn with the same ``target`` (pass its longer side as
    ``n_rows_hint``)."""
    n = len(p_values)
    if n == 0:
        return Markup("")
    cell = cell_size(max(n, n_rows_hint or 0), target)
    left, top, ph = 62, 10, 90
    w = n * cell
    width, height = left + w + 220, top + ph + 40

    def y_of(v: float) -> float:
        return top + ph - min(v, cap) / cap * ph

    o = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart strip" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" {FONT} font-size="11">',
        f"<title>{_e(labels.y)}</title>",
        '<defs><pattern id="strip-hatch" width="5" height="5" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="5" stroke="#98a2b3" '
        'stroke-width="1.5"/></pattern></defs>',
    ]
    for v in (0, 5, 10, 15, 20):
        if v > cap:
            continue
        y = y_of(v)
        o.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + w}" y2="{y:.1f}" stroke="{GRID}"/>')
        label = "1" if v == 0 else f"1e-{v}"
        o.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{MUTED}">{label}</text>')
    gap = 1 if cell >= 6 else 0
    for j, p in enumerate(p_values):
        x = left + j * cell
        if p is None or (isinstance(p, float) and math.isnan(p)):
            o.append(
                f'<rect class="untested" x="{x + gap / 2}" y="{top}" width="{cell - gap}" height="{ph}" '
                f'fill="url(#strip-hatch)"><title>{j}: {_e(labels.untested)}</title></rect>'
            )
            continue
        v = cap * 2 if p <= 0 else -math.log10(p)
        colour = ALERT if p < alpha else "#98a2b3"
        y = y_of(v)
        o.append(
            f'<rect class="bar" x="{x + gap / 2}" y="{y:.1f}" width="{cell - gap}" '
            f'height="{top + ph - y:.1f}" '
            f'fill="{colour}"><title>{j}: p = {_e(_p(p))}</title></rect>'
        )
        if v > cap:
            cx = x + cell / 2
            s = max(2.5, min(5, cell / 3))
            o.append(
                f'<path class="beyond" d="M{cx - s:.1f},{top - 1:.1f} L{cx + s:.1f},{top - 1:.1f} '
                f'L{cx:.1f},{top - 1 - s:.1f} Z" fill="{ALERT}"/>'
            )
    ya = y_of(-math.log10(alpha)) if 0 < alpha < 1 else None
    if ya is not None:
        o.append(
            f'<line class="alpha" x1="{left}" y1="{ya:.1f}" x2="{left + w}" y2="{ya:.1f}" stroke="{INK}" '
            'stroke-dasharray="4 3"/>'
        )
        o.append(
            f'<text x="{left + w + 6}" y="{ya + 4:.1f}" fill="{INK}">'
            f"{_e(_fill(labels.alpha, alpha=format(alpha, 'g')))}</text>"
        )
    o.append(
        f'<text x="{left + w + 6}" y="{top + 6}" fill="{ALERT}">'
        f"▲ {_e(_fill(labels.beyond, cap=format(cap, 'g')))}</text>"
    )
    o.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + w}" y2="{top + ph}" stroke="{INK}"/>')
    for j in ticks(n):
        x = left + (j + 0.5) * cell
        o.append(f'<text x="{x:.1f}" y="{top + ph + 14}" text-anchor="middle" fill="{INK}">{j}</text>')
    o.append(
        f'<text x="{left + w / 2:.1f}" y="{top + ph + 30}" text-anchor="middle" fill="{INK}" '
        f'font-size="12">{_e(labels.x)} →</text>'
    )
    cy = top + ph / 2
    o.append(
        f'<text x="14" y="{cy:.1f}" text-anchor="middle" fill="{INK}" font-size="11" '
        f'transform="rotate(-90 14 {cy:.1f})">p</text>'
    )
    o.append("</svg>")
    return _svg(o)


def _p(p: float) -> str:
    if p <= 0:
        return "<1e-300"
    if p < 1e-3:
        return f"{p:.1e}"
    return f"{p:.3f}"


def _nice(lo: float, hi: float, most: int = 6) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / most
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    out = []
    v = start
    while v <= hi + step * 1e-9:
        out.append(round(v, 10))
        v += step
    return out


@dataclass(frozen=True)
class HistogramLabels:
    x: str
    y: str
    marker: str  # "published order: {value}"
    null: str  # "shuffled orders"


def histogram(
    edges: Sequence[float], counts: Sequence[int], marker: float | None, labels: HistogramLabels
) -> Markup:
    """A histogram of a null distribution (``edges``: bin edges, one more than ``counts``) with the
    observed value ``marker`` as a red line (an arrow at the edge when it lies outside the bins)."""
    if not counts or len(edges) != len(counts) + 1:
        return Markup("")
    lo, hi = float(edges[0]), float(edges[-1])
    span_lo, span_hi = lo, hi
    if marker is not None and math.isfinite(marker):
        pad = (hi - lo) * 0.04 or 1.0
        span_lo, span_hi = min(lo, marker - pad), max(hi, marker + pad)
    left, top, pw, ph = 56, 16, 520, 170
    width, height = left + pw + 30, top + ph + 46
    top_count = max(counts) or 1

    def x_of(v: float) -> float:
        return left + (v - span_lo) / ((span_hi - span_lo) or 1.0) * pw

    o = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart histogram" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" {FONT} font-size="11">',
        f"<title>{_e(labels.null)}</title>",
    ]
    for c in _nice(0, top_count, 4):
        y = top + ph - c / top_count * ph
        o.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="{GRID}"/>')
        o.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{MUTED}">{c:g}</text>')
    for k, c in enumerate(counts):
        x0, x1 = x_of(float(edges[k])), x_of(float(edges[k + 1]))
        bh = c / top_count * ph
        o.append(
            f'<rect class="bin" x="{x0:.1f}" y="{top + ph - bh:.1f}" width="{max(0.5, x1 - x0 - 0.5):.1f}" '
            f'height="{bh:.1f}" fill="#84adea"><title>{edges[k]:.4g} … {edges[k + 1]:.4g}: {c}</title></rect>'
        )
    o.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="{INK}"/>')
    for v in _nice(span_lo, span_hi, 6):
        x = x_of(v)
        o.append(f'<line x1="{x:.1f}" y1="{top + ph}" x2="{x:.1f}" y2="{top + ph + 4}" stroke="{INK}"/>')
        o.append(f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="middle" fill="{INK}">{v:g}</text>')
    o.append(
        f'<text x="{left + pw / 2}" y="{top + ph + 36}" text-anchor="middle" fill="{INK}" font-size="12">'
        f"{_e(labels.x)}</text>"
    )
    cy = top + ph / 2
    o.append(
        f'<text x="14" y="{cy:.1f}" text-anchor="middle" fill="{INK}" font-size="12" '
        f'transform="rotate(-90 14 {cy:.1f})">{_e(labels.y)}</text>'
    )
    if marker is not None and math.isfinite(marker):
        x = x_of(marker)
        o.append(
            f'<line class="marker" x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{top + ph}" stroke="{ALERT}" '
            'stroke-width="2.5"/>'
        )
        anchor = "end" if x > left + pw * 0.7 else "start"
        dx = -5 if anchor == "end" else 5
        o.append(
            f'<text x="{x + dx:.1f}" y="{top + 10}" text-anchor="{anchor}" fill="{ALERT}" font-weight="600">'
            f"{_e(_fill(labels.marker, value=format(marker, '.4g')))}</text>"
        )
    o.append("</svg>")
    return _svg(o)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    note: str = ""  # drawn after the bar
    highlight: bool = False


def hbars(
    bars: Sequence[Bar],
    *,
    vmin: float,
    vmax: float,
    axis: str,
    threshold: tuple[float, str] | None = None,
    label_width: int = 170,
) -> Markup:
    """Horizontal bars, one a row, labelled on the left (long labels are cut, the whole in the hover
    text), a note on the right, an optional dashed threshold line."""
    if not bars:
        return Markup("")
    row, top, pw = 24, 10, 300
    left = label_width + 10
    width = left + pw + 200
    height = top + len(bars) * row + 40

    def x_of(v: float) -> float:
        return left + (min(max(v, vmin), vmax) - vmin) / ((vmax - vmin) or 1.0) * pw

    o = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart bars" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" {FONT} font-size="12">',
        f"<title>{_e(axis)}</title>",
    ]
    for v in _nice(vmin, vmax, 5):
        x = x_of(v)
        o.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + len(bars) * row}" stroke="{GRID}"/>')
        o.append(
            f'<text x="{x:.1f}" y="{top + len(bars) * row + 14}" text-anchor="middle" fill="{MUTED}" '
            f'font-size="11">{v:g}</text>'
        )
    max_chars = max(4, label_width // 7)
    for k, b in enumerate(bars):
        y = top + k * row
        label = clean(b.label)
        short = label if len(label) <= max_chars else label[: max_chars - 1] + "…"
        weight = ' font-weight="600"' if b.highlight else ""
        o.append(
            f'<text x="{left - 8}" y="{y + row / 2 + 4:.1f}" text-anchor="end" fill="{INK}"{weight}>'
            f"<title>{escape(label)}</title>{escape(short)}</text>"
        )
        if b.value is None or not math.isfinite(b.value):
            o.append(
                f'<text x="{left + 4}" y="{y + row / 2 + 4:.1f}" fill="{MUTED}">{_e(b.note or "-")}</text>'
            )
            continue
        if b.highlight and x_of(b.value) - x_of(vmin) < 4:  # a best match at ~0: mark it, a bar is invisible
            cx, cy = x_of(b.value), y + row / 2
            o.append(
                f'<path class="mark" d="M{cx:.1f},{cy - 6:.1f} L{cx + 6:.1f},{cy:.1f} L{cx:.1f},{cy + 6:.1f} '
                f'L{cx - 6:.1f},{cy:.1f} Z" fill="{ALERT}"/>'
            )
        x0, x1 = x_of(max(vmin, 0.0) if vmin < 0 < vmax else vmin), x_of(b.value)
        lo, hi = min(x0, x1), max(x0, x1)
        colour = ALERT if b.highlight else "#5b8def"
        o.append(
            f'<rect class="bar" x="{lo:.1f}" y="{y + 4}" width="{max(1.0, hi - lo):.1f}" height="{row - 8}" '
            f'fill="{colour}"><title>{escape(label)}: {b.value:.4g}</title></rect>'
        )
        if b.note:
            o.append(
                f'<text x="{left + pw + 8}" y="{y + row / 2 + 4:.1f}" fill="{INK}" font-size="11">'
                f"{_e(b.note)}</text>"
            )
    if threshold is not None:
        x = x_of(threshold[0])
        o.append(
            f'<line class="threshold" x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{top + len(bars) * row}" '
            f'stroke="{INK}" stroke-dasharray="4 3"/>'
        )
        o.append(
            f'<text x="{x:.1f}" y="{top + len(bars) * row + 28}" text-anchor="middle" fill="{INK}" '
            f'font-size="11">{_e(threshold[1])}</text>'
        )
    o.append(
        f'<text x="{left + pw / 2:.1f}" y="{height - 2}" text-anchor="middle" fill="{INK}" font-size="11">'
        f"{_e(axis)}</text>"
        if threshold is None
        else ""
    )
    o.append("</svg>")
    return _svg(o)


def meter(value: float | None, vmax: float = 1.0, width: int = 90, colour: str = "#5b8def") -> Markup:
    """A small inline bar for a table cell (0..vmax)."""
    if value is None or not math.isfinite(value):
        return Markup("")
    w = max(0.0, min(1.0, value / (vmax or 1.0))) * width
    return _svg(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="meter" width="{width}" height="10" role="img">'
            f'<rect width="{width}" height="10" fill="#eef2f6"/>'
            f'<rect width="{w:.1f}" height="10" fill="{colour}"/>'
            "</svg>"
        ]
    )


def grid(
    matrix: Sequence[Sequence[float | None]],
    rows: Sequence[str],
    cols: Sequence[str],
    *,
    x: str,
    y: str,
    scale: str,
    vmin: float = 0.0,
    vmax: float = 1.0,
) -> Markup:
    """A small labelled heatmap (rows and columns named, a value printed in each cell when there is
    room) with a colour bar: e.g. suspect layers x weight components."""
    n_r, n_c = len(rows), len(cols)
    if not n_r or not n_c:
        return Markup("")
    cell = max(14, min(44, 360 // max(n_r, n_c)))
    col_w = max(cell, 8 + 7 * max(len(clean(c)) for c in cols)) if cell >= 30 else cell
    left = 24 + 7 * max(len(clean(r)) for r in rows) + 10
    top = 10
    w, h = n_c * col_w, n_r * cell
    bar_x = left + w + 20
    width, height = bar_x + 70, top + max(h, 100) + 56
    o = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart heatmap grid" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" {FONT} font-size="11">',
        f"<title>{_e(y)} × {_e(x)}</title>",
    ]
    for i in range(n_r):
        for j in range(n_c):
            v = matrix[i][j] if j < len(matrix[i]) else None
            val = None if v is None or not math.isfinite(v) else float(v)
            frac = None if val is None else (val - vmin) / (vmax - vmin or 1.0)
            o.append(
                f'<rect x="{left + j * col_w}" y="{top + i * cell}" width="{col_w}" height="{cell}" '
                f'fill="{viridis(frac)}" stroke="#fff" stroke-width="1">'
                f"<title>{_e(rows[i])} / {_e(cols[j])}: "
                f"{'-' if val is None else f'{val:.3f}'}</title></rect>"
            )
            if val is not None and cell >= 18 and col_w >= 34:
                ink = "#fff" if (frac or 0) < 0.55 else INK
                o.append(
                    f'<text x="{left + (j + 0.5) * col_w:.1f}" y="{top + (i + 0.5) * cell + 4:.1f}" '
                    f'text-anchor="middle" fill="{ink}" font-size="10">{val:.2f}</text>'
                )
    for i, r in enumerate(rows):
        o.append(
            f'<text x="{left - 6}" y="{top + (i + 0.5) * cell + 4:.1f}" text-anchor="end" fill="{INK}">'
            f"{_e(r)}</text>"
        )
    for j, c in enumerate(cols):
        o.append(
            f'<text x="{left + (j + 0.5) * col_w:.1f}" y="{top + h + 14}" text-anchor="middle" fill="{INK}">'
            f"{_e(c)}</text>"
        )
    o.append(
        f'<text x="{left + w / 2:.1f}" y="{top + h + 32}" text-anchor="middle" fill="{INK}" font-size="12">'
        f"{_e(x)}</text>"
    )
    cy = top + h / 2
    o.append(
        f'<text x="12" y="{cy:.1f}" text-anchor="middle" fill="{INK}" font-size="12" '
        f'transform="rotate(-90 12 {cy:.1f})">{_e(y)}</text>'
    )
    bar_h = max(h, 100)
    for k in range(20):
        o.append(
            f'<rect x="{bar_x}" y="{top + k * bar_h / 20:.2f}" width="12" height="{bar_h / 20 + 0.6:.2f}" '
            f'fill="{viridis(1 - (k + 0.5) / 20)}"/>'
        )
    for frac in (0.0, 0.5, 1.0):
        yy = top + (1 - frac) * bar_h
        o.append(
            f'<text x="{bar_x + 16}" y="{yy + 4:.1f}" fill="{INK}">{vmin + frac * (vmax - vmin):g}</text>'
        )
    o.append(
        f'<text x="{bar_x + 6}" y="{top + bar_h + 16}" text-anchor="middle" fill="{MUTED}">{_e(scale)}</text>'
    )
    o.append("</svg>")
    return _svg(o)
