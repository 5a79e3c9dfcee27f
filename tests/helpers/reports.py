"""Checks shared by the report tests: well-formed self-contained HTML, nothing of a release left
unescaped, every visible word of a Chinese page Chinese, and screenshots by headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

from tests.helpers.need import unavailable
from tests.helpers.png import Image, content_bottom, read_png, write_png

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
SVG_VOID_OK = {"rect", "line", "circle", "path", "polyline", "stop"}  # self-closed inside SVG

# Release strings that break careless renderers: markup, rich markup, template syntax, terminal escapes,
# bidi overrides, quotes. Every report test puts them into model, file and tensor names.
HOSTILE = [
    "<script>alert(1)</script>",
    "[/]",
    "[bold]x[/bold]",
    "{{ 7*7 }}",
    "{% raw %}",
    "\x1b[31mred\x1b[0m",
    "\u202egnp.exe",
    "\"quoted\" & 'single'",
]


class _Check(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.svg_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.errors.append("a <script> element")
        for k, v in attrs:
            if k.startswith("on"):
                self.errors.append(f"event handler attribute {k}")
            if k in ("src", "href") and v and re.match(r"\s*(https?:)?//", v):
                self.errors.append(f"network reference {k}={v}")
        if tag == "svg":
            self.svg_depth += 1
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID and not (self.svg_depth and tag in SVG_VOID_OK):
            self.errors.append(f"self-closed <{tag}/> outside SVG")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()
        if tag == "svg":
            self.svg_depth -= 1


def check_html(page: str) -> None:
    """Self-contained and well-formed: balanced tags, no script, no network reference, every inline
    SVG well-formed XML, no raw control or bidi-override character."""
    assert page.startswith("<!DOCTYPE html>"), page[:40]
    assert "<style>" in page and "@import" not in page and "url(http" not in page
    p = _Check()
    p.feed(page)
    p.close()
    assert not p.errors, p.errors[:5]
    assert p.stack == [], f"unclosed: {p.stack}"
    for svg in re.findall(r"<svg\b.*?</svg>", page, flags=re.S):
        ET.fromstring(svg)  # raises on malformed SVG
    bad = re.findall("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]", page)
    assert not bad, f"raw control characters: {bad[:5]!r}"


def check_hostile(page: str) -> None:
    """None of :data:`HOSTILE` reached the page as markup or as a live escape; the template syntax is
    shown literally (never evaluated)."""
    assert "<script>alert" not in page and "alert(1)" in page.replace("&lt;", "<").replace("&gt;", ">")
    assert "{{ 7*7 }}" in page and ">49<" not in page
    assert "\x1b" not in page and "\\x1b[31m" in page
    assert "\u202e" not in page and "\\u202e" in page


class _Visible(HTMLParser):
    """The text a reader sees, less what is marked not to be translated (names, values, quotes)."""

    SKIP = {"style", "title", "code", "pre"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skip: list[str] = []
        self.text: list[str] = []
        self.untranslated: list[str] = []
        self._mark: list[bool] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in VOID:
            return
        skip = tag in self.SKIP or a.get("translate") == "no"
        self.skip.append(tag if skip else "")
        self._mark.append("untranslated" in (a.get("class") or ""))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID or not self.skip:
            return
        self.skip.pop()
        self._mark.pop()

    def handle_data(self, data: str) -> None:
        if any(self._mark):
            self.untranslated.append(data)
        if any(self.skip):
            return
        self.text.append(data)


# Proper names and technical words that stay in Latin script in Chinese text.
LATIN_OK = {
    "Meta LLaMA",
    "Apache License",
    "Built with Meta Llama",
    "Built with Llama",
    "Built with Qwen",
    "Improved using Qwen",
    "Falcon LLM",
    "is built using Falcon LLM technology from the Technology Innovation Institute",
    "LF AI",
    "AI Index",
    "Open Source",
    "Min-K",
    "Holm-Bonferroni",
}
_COMMAND = re.compile(r"`?taoke [a-z-]+(?: [A-Z_]+)*(?: --[a-z-]+(?: [A-Z_]+)?)*`?")
_WORDS = re.compile(r"[A-Za-z][A-Za-z'’\-]+(?:[ \t]+[A-Za-z][A-Za-z'’\-]+)+")


def english_left(page: str) -> list[str]:
    """English phrases (two or more words) on a Chinese page outside names, values and quotes, plus
    anything the renderer marked untranslated."""
    v = _Visible()
    v.feed(page)
    text = "\n".join(v.text)
    for ok in sorted(LATIN_OK, key=len, reverse=True):
        text = text.replace(ok, " ")
    text = _COMMAND.sub(" ", text)  # a command line quoted in a sentence: `taoke probe URL --record NAME`
    return [m.group(0) for m in _WORDS.finditer(text)] + [f"[marked] {u}" for u in v.untranslated]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        unavailable("headless Chromium not installed (apt-get install chromium) — cannot check rendering")
    return path


def screenshot(page: Path, png: Path, width: int = 1180, height: int = 2600) -> Image:
    """Screenshot ``page`` with headless Chromium; the image cropped below its last non-white row."""
    proc = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--screenshot={png}",
            f"--window-size={width},{height}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=180,
    )
    assert png.exists(), proc.stderr.decode(errors="replace")[-800:]
    img = read_png(png)
    bottom = min(img.height, content_bottom(img) + 24)
    img = img.crop_rows(0, bottom)
    write_png(png, img)
    return img


VIRIDIS_ENDS = [(68, 1, 84), (253, 231, 37), (33, 144, 141)]


def viridis_region(img: Image, tol: int = 12) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1) of the pixels close to the heatmap colour scale's dark, middle
    and bright ends (nothing else on a report page uses them)."""
    xs, ys = [], []
    for y in range(0, img.height, 2):
        for x in range(0, img.width, 2):
            r, g, b = img.pixel(x, y)
            if any(
                abs(r - c[0]) <= tol and abs(g - c[1]) <= tol and abs(b - c[2]) <= tol for c in VIRIDIS_ENDS
            ):
                xs.append(x)
                ys.append(y)
    if len(xs) < 20:
        return None
    return min(xs), min(ys), max(xs) + 1, max(ys) + 1


def variance(img: Image, box: tuple[int, int, int, int]) -> float:
    x0, y0, x1, y1 = box
    vals = [sum(img.pixel(x, y)) / 3 for y in range(y0, y1, 2) for x in range(x0, x1, 2)]
    mean = sum(vals) / len(vals)
    return sum((v - mean) ** 2 for v in vals) / len(vals)


def non_white_fraction(img: Image, box: tuple[int, int, int, int] | None = None) -> float:
    x0, y0, x1, y1 = box or (0, 0, img.width, img.height)
    n = hit = 0
    for y in range(y0, y1, 3):
        for x in range(x0, x1, 3):
            n += 1
            hit += img.pixel(x, y) != (255, 255, 255)
    return hit / max(1, n)


def publish(png: Path, name: str) -> Path:
    """Copy a screenshot to docs/img/ when TAOKE_UPDATE_SCREENSHOTS=1; the committed one otherwise."""
    import os

    target = Path(__file__).resolve().parents[2] / "docs" / "img" / name
    if os.environ.get("TAOKE_UPDATE_SCREENSHOTS") == "1":
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, target)
    return target
