"""The inline SVG charts of the reports: well-formed, readable from 4 to 80 layers, the layer map drawn
(repeats, gaps, unmatched blocks), every label escaped."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from taoke.render import svg
from tests.helpers.reports import HOSTILE

NS = "{http://www.w3.org/2000/svg}"
LABELS = svg.HeatmapLabels("suspect", "reference", "sim", "map", "repeat", "dropped", "unmatched")


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def _cells(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{NS}rect") if r.get("fill", "").startswith("#") and r.get("class") is None]


def _identity(n: int) -> list[list[float]]:
    return [[1.0 if i == j else 0.1 for j in range(n)] for i in range(n)]


def test_viridis_scale_and_ticks() -> None:
    assert svg.viridis(0.0) == "#440154" and svg.viridis(1.0) == "#fde725"
    assert svg.viridis(-3) == svg.viridis(0.0) and svg.viridis(7) == svg.viridis(1.0)
    assert svg.viridis(float("nan")) == "#e4e7ec"
    assert svg.ticks(4) == [0, 1, 2, 3]
    assert svg.ticks(80) == [0, 10, 20, 30, 40, 50, 60, 70]
    assert all(len(svg.ticks(n)) <= 10 for n in range(1, 400))


@pytest.mark.parametrize("n", [4, 12, 32, 80])
def test_heatmap_readable_from_4_to_80_layers(n: int) -> None:
    root = _parse(svg.heatmap(_identity(n), list(range(n)), LABELS))
    cells = _cells(root)
    assert len([c for c in cells if c.get("width") == c.get("height")]) >= n * n
    cell = float(cells[0].get("width"))
    assert cell >= 5, "cells too small to see"
    assert float(root.get("width")) <= 900, "too wide for a page"
    texts = [t.text for t in root.iter(f"{NS}text")]
    tick_labels = [t for t in texts if t and t.isdigit()]
    assert "0" in tick_labels and len(tick_labels) <= 2 * 10 + 2  # both axes, at most ten ticks each
    # a colour bar with its ticks and its name
    assert {"0", "0.5", "1"} <= set(texts) and "sim" in texts
    # the layer map: a line through n matched cells, a dot on each
    assert len(list(root.iter(f"{NS}polyline"))) == 1
    assert len([c for c in root.iter(f"{NS}circle") if c.get("class") == "mapped"]) == n


def test_heatmap_draws_repeats_gaps_and_unmatched_layers() -> None:
    up = svg.heatmap(_identity(4), [0, 1, 2, 1, 2, 3], LABELS)  # up-scaled: 1 and 2 used twice
    root = _parse(up)
    assert len([c for c in root.iter(f"{NS}circle") if c.get("class") == "repeat"]) == 4
    assert "repeat" in [t.text for t in root.iter(f"{NS}text")]
    pruned = _parse(svg.heatmap(_identity(4), [0, 1, 3], LABELS))  # reference layer 2 dropped
    dropped = [r for r in pruned.iter(f"{NS}rect") if r.get("class") == "dropped"]
    assert len(dropped) == 1 and "dropped" in [t.text for t in pruned.iter(f"{NS}text")]
    partial = _parse(svg.heatmap(_identity(4), [0, 1, None, None], LABELS))  # a partial copy
    assert len([r for r in partial.iter(f"{NS}rect") if r.get("class") == "unmatched"]) == 2
    plain = _parse(svg.heatmap(_identity(4), [0, 1, 2, 3], LABELS))
    assert not [r for r in plain.iter(f"{NS}rect") if r.get("class") in ("dropped", "unmatched")]
    assert not [t for t in plain.iter(f"{NS}text") if t.text in ("repeat", "dropped", "unmatched")]


def test_heatmap_handles_gaps_in_the_data() -> None:
    root = _parse(svg.heatmap([[1.0, None], [float("nan"), 0.5]], None, LABELS))
    fills = [c.get("fill") for c in _cells(root)]
    assert fills.count("#e4e7ec") == 2  # missing values grey, not a colour of the scale
    assert svg.heatmap([], None, LABELS) == ""


def test_every_label_is_escaped() -> None:
    for bad in HOSTILE:
        labels = svg.HeatmapLabels(bad, bad, bad, bad, bad, bad, bad, cell=bad + " {i} {j} {v}")
        markup = str(svg.heatmap(_identity(3), [0, 2], labels))
        root = _parse(markup)  # well-formed whatever the label
        assert "<script>" not in markup and "\x1b" not in markup and "\u202e" not in markup
        texts = "".join(t.text or "" for t in root.iter(f"{NS}text"))
        assert svg.clean(bad) in texts
        bars = str(svg.hbars([svg.Bar(bad, 0.5, bad)], vmin=0, vmax=1, axis=bad))
        assert "<script>" not in bars and svg.clean(bad)[:10] in "".join(
            t.text or "" for t in _parse(bars).iter()
        )


def test_pvalue_strip_marks_significance_saturation_and_untested_layers() -> None:
    labels = svg.StripLabels("layer", "p", "α = {alpha}", "p below 1e-{cap}", "not tested")
    root = _parse(svg.pvalue_strip([0.0, 1e-5, 0.5, None], 1e-3, labels))
    bars = [r for r in root.iter(f"{NS}rect") if r.get("class") == "bar"]
    assert [b.get("fill") for b in bars] == [svg.ALERT, svg.ALERT, "#98a2b3"]
    h = [float(b.get("height")) for b in bars]
    assert h[0] > h[1] > h[2]  # -log10 p, capped
    assert len(list(p for p in root.iter(f"{NS}path") if p.get("class") == "beyond")) == 1  # p = 0
    assert len([r for r in root.iter(f"{NS}rect") if r.get("class") == "untested"]) == 1
    alpha = next(line for line in root.iter(f"{NS}line") if line.get("class") == "alpha")
    top, ph, cap = 10, 90, 20.0
    assert math.isclose(float(alpha.get("y1")), top + ph - 3 / cap * ph, abs_tol=0.1)
    assert "α = 0.001" in [t.text for t in root.iter(f"{NS}text")]


def test_histogram_marks_the_observed_value_even_outside_the_null() -> None:
    labels = svg.HistogramLabels("score", "count", "published: {value}", "null")
    root = _parse(svg.histogram([0, 1, 2, 3], [5, 9, 2], 10.0, labels))
    assert len([r for r in root.iter(f"{NS}rect") if r.get("class") == "bin"]) == 3
    marker = next(line for line in root.iter(f"{NS}line") if line.get("class") == "marker")
    bins_right = max(float(r.get("x")) + float(r.get("width")) for r in root.iter(f"{NS}rect"))
    assert float(marker.get("x1")) > bins_right  # the axis was extended to show it
    assert "published: 10" in [t.text for t in root.iter(f"{NS}text")]
    assert svg.histogram([0, 1], [1, 2], None, labels) == ""  # edges must be one more than counts


def test_bars_cut_long_labels_but_keep_them_whole_in_the_hover_text() -> None:
    long = "x" * 200
    root = _parse(
        svg.hbars([svg.Bar(long, 0.3, "n"), svg.Bar("b", None, "no data")], vmin=0, vmax=1, axis="a")
    )
    texts = [t for t in root.iter(f"{NS}text") if t.find(f"{NS}title") is not None]
    assert texts[0].find(f"{NS}title").text == long and len(texts[0].find(f"{NS}title").tail) < 40
    assert len([r for r in root.iter(f"{NS}rect") if r.get("class") == "bar"]) == 1  # None: no bar
