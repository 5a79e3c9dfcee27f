"""Every report kind end to end on real inputs (zoo models, real fixture releases, a contamination twin, a
scan): one HTML design, well-formed and self-contained, no release string unescaped, complete in
Chinese, and looked at by headless Chromium (the screenshots in docs/img/ are these; regenerate them
with TAOKE_UPDATE_SCREENSHOTS=1).

The probe pages are checked in tests/probe/test_probe_live.py, beside the servers they need.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import pytest

from taoke import i18n, zoo
from taoke.analyzers import code
from taoke.cli.main import main
from taoke.jobs import compare
from taoke.jobs.audit import audit
from taoke.render.audit import render as render_audit
from taoke.render.common import renderables_text
from taoke.render.compare import render_compare
from taoke.render.contamination import render as render_contamination
from taoke.render.scan_html import page_name, render_site
from taoke.zoo.refactor import yi_style_refactor
from tests.helpers.need import unavailable
from tests.helpers.png import read_png
from tests.helpers.reports import (
    HOSTILE,
    check_hostile,
    check_html,
    english_left,
    non_white_fraction,
    publish,
    screenshot,
    variance,
    viridis_region,
)

PAIRS = {"identical": "a-copy", "obfuscated": "a-obf-all", "pruned": "a-pruned", "upscaled": "a-upscaled"}
HOSTILE_NAME = "".join(HOSTILE[:7])  # one name: markup, rich markup, template syntax, ESC, bidi override
# the same without "/" (a folder name)
FS_NAME = "<script>alert(1)[bold]x{{ 7*7 }}{% raw %}\x1b[31mred\x1b[0m\u202egnp"


def assert_chinese(page: str) -> None:
    """Nothing English on a zh page but names, values and quotes (marked translate="no"), and nothing
    the catalogue lacked."""
    left = english_left(page)
    assert not left, f"English left on the zh page: {left[:8]}"


def assert_published(png: Path, name: str) -> None:
    """The screenshot is committed under docs/img/ (TAOKE_UPDATE_SCREENSHOTS=1 rewrites it)."""
    target = publish(png, name)
    assert target.exists(), f"{target} missing: run the tests once with TAOKE_UPDATE_SCREENSHOTS=1"
    img = read_png(target)
    assert img.width >= 800 and img.height >= 400


@pytest.fixture(scope="module")
def compared() -> dict[str, dict]:
    ref = zoo.materialize("base-a")
    return {k: compare(ref, zoo.materialize(m)).to_dict() for k, m in PAIRS.items()}


# ------------------------------------------------------------------------------------------ compare


@pytest.mark.parametrize("kind", list(PAIRS))
def test_compare_page(kind: str, compared: dict[str, dict], tmp_path: Path) -> None:
    d = compared[kind]
    i18n.missing.clear()
    en, zh = render_compare(d, "html", "en"), render_compare(d, "html", "zh")
    for page in (en, zh):
        check_html(page)
        assert 'class="chart heatmap"' in page and 'class="chart strip"' in page and 'class="flow"' in page
    assert_chinese(zh)
    text = renderables_text(render_compare(d, "text", "zh"))
    assert "关系" in text and "已还原的变换" in text
    assert not i18n.missing, sorted(i18n.missing)[:8]
    assert "Verdict" in en and "结论" in zh and "Null hypothesis" in en
    # the picture says what happened
    expect = {
        "identical": ["Nothing to undo"],
        "obfuscated": ["Hidden space rotated", "FFN neurons permuted", "Scales moved between tensors"],
        "pruned": ['class="dropped"', "Pruned"],
        "upscaled": ['class="repeat"', "Layers repeated"],
    }[kind]
    assert all(x in en for x in expect), [x for x in expect if x not in en]
    html = tmp_path / f"compare-{kind}.html"
    html.write_text(en, encoding="utf-8")
    img = screenshot(html, tmp_path / f"compare-{kind}.png")
    box = viridis_region(img)
    assert box is not None, "no heatmap on the screenshot"
    assert box[2] - box[0] >= 100 and box[3] - box[1] >= 100, box
    assert variance(img, box) > 500, "the heatmap region is flat"
    assert_published(tmp_path / f"compare-{kind}.png", f"compare-{kind}.png")


def _hostile_compare(d: dict) -> dict:
    d = json.loads(json.dumps(d))
    d["reference"], d["suspect"] = HOSTILE_NAME, HOSTILE[6] + HOSTILE[7]
    d["reference_info"]["name"], d["reference_info"]["format"] = HOSTILE_NAME, HOSTILE[3]
    tr = d["transformations"]
    tr["renames"] = {
        "reference_class": HOSTILE[0],
        "suspect_class": HOSTILE[4],
        "fused_tensors": [HOSTILE[1]],
    }
    if "rescaled_tensors" in tr:
        tr["rescaled_tensors"]["roles"] = list(HOSTILE)
    tr["raw_values"]["differing"] = list(HOSTILE)
    d["parents"] = [{"name": HOSTILE_NAME, "p_value": 0.5, "median_similarity": 0.1}]
    d["evidence"].append(
        {
            "analyzer": "weights",
            "kind": HOSTILE[0],
            "message": f"parent {HOSTILE_NAME}: p=0.5",
            "null": HOSTILE[3],
        }
    )
    d["reasons"].append(HOSTILE_NAME)
    return d


def test_compare_escapes_every_release_string(compared: dict[str, dict]) -> None:
    d = _hostile_compare(compared["obfuscated"])
    for lang in ("en", "zh"):
        page = render_compare(d, "html", lang)
        check_html(page)
        check_hostile(page)
    text = renderables_text(render_compare(d, "text", "zh"))
    assert "\x1b" not in text and "\\x1b[31m" in text and "[/]" in text and "<script>" in text


def test_compare_page_without_a_p_value_or_with_an_unknown_relationship(compared: dict[str, dict]) -> None:
    """Relationships added later (UNTESTABLE with p None, a shared-ancestor label...) and dicts with
    keys missing render: the label as it is, 'could not be tested', no crash."""
    d = json.loads(json.dumps(compared["identical"]))
    d.update(relationship="untestable", derived=False, p_value=None, log10_p_value=None, confidence=None)
    for lang in ("en", "zh"):
        page = render_compare(d, "html", lang)
        check_html(page)
        assert "tone-caution" in page
    assert "Could not be tested" in render_compare(d, "html", "en")
    assert "无法检验" in render_compare(d, "html", "zh")
    renderables_text(render_compare(d, "text", "zh"))
    i18n.missing.clear()
    d.update(relationship="shared-ancestor-2099", derived=True, p_value=1e-9)
    page = render_compare(d, "html", "zh")
    check_html(page)
    assert "shared-ancestor-2099" in page and "relationships: shared-ancestor-2099" in i18n.missing
    i18n.missing.clear()
    bare = {"relationship": "fine-tuned", "derived": True, "p_value": 1e-40, "layers": [{"suspect_layer": 0}]}
    check_html(render_compare(bare, "html", "zh"))


# -------------------------------------------------------------------------------------------- audit


def _yi_release(root: Path, fixtures_dir: Path, name: str = "Yi-6B") -> Path:
    found = code.transformers_models_dir()
    if found is None:
        unavailable("transformers is not installed: no reference implementations")
    rel = root / name
    rel.mkdir()
    shutil.copy(fixtures_dir / "configs" / "yi" / "Yi-1.5-6B" / "config.json", rel / "config.json")
    shutil.copy(
        fixtures_dir / "licenses" / "yi-community-license-2.1-2023-11-23.txt", rel / "MODEL_AGREEMENT.txt"
    )
    (rel / "README.md").write_text(
        "---\nlicense: other\n---\n# Yi-6B\n\nYi is a model trained from scratch by our team, with a 200K "
        "context window.\n\n| Model | MMLU | C-Eval |\n|---|---|---|\n| Yi-6B | 64.1 | 72.0 |\n",
        encoding="utf-8",
    )
    llama = (found[0] / "llama" / "modeling_llama.py").read_text(encoding="utf-8")
    (rel / "modeling_yi.py").write_text(yi_style_refactor(llama), encoding="utf-8")
    return rel


@pytest.fixture(scope="module")
def audits(tmp_path_factory: pytest.TempPathFactory, fixtures_dir: Path) -> dict:
    yi = _yi_release(tmp_path_factory.mktemp("yi"), fixtures_dir)
    return {
        "yi": audit(yi),
        "against": audit(zoo.materialize("a-yi"), against=[zoo.materialize("base-a")]),
    }


@pytest.mark.parametrize("which", ["yi", "against"])
def test_audit_pages_in_english_and_complete_chinese(which: str, audits: dict) -> None:
    report = audits[which]
    i18n.missing.clear()
    en, zh = render_audit(report, "html", "en"), render_audit(report, "html", "zh")
    for page in (en, zh):
        check_html(page)
    assert_chinese(zh)
    assert not i18n.missing, sorted(i18n.missing)[:8]
    text_zh = render_audit(report, "text", "zh")
    assert not i18n.missing, sorted(i18n.missing)[:8]
    assert "主要结论" in text_zh and "许可证与义务" in text_zh
    if which == "against":
        assert 'class="chart heatmap"' in en and "Tensors renamed" in en and "张量被重命名" in zh
        assert "套壳（重命名复制）" in zh
    else:
        assert "class=diff" in en and "删去了原文件的版权与许可证声明" in zh


def test_audit_screenshots(audits: dict, tmp_path: Path) -> None:
    for lang in ("en", "zh"):
        html = tmp_path / f"audit-{lang}.html"
        html.write_text(render_audit(audits["against"], "html", lang), encoding="utf-8")
        img = screenshot(html, tmp_path / f"audit-{lang}.png", height=3600)
        box = viridis_region(img)
        assert box is not None and variance(img, box) > 500, "no heatmap on the audit page"
        assert non_white_fraction(img) > 0.03
        assert_published(tmp_path / f"audit-{lang}.png", f"audit-{lang}.png")


def test_audit_of_a_release_with_hostile_names(tmp_path: Path, fixtures_dir: Path) -> None:
    """A release whose folder, files and card carry markup, template syntax and terminal escapes."""
    rel = tmp_path / FS_NAME
    shutil.copytree(zoo.materialize("a-yi"), rel)
    (rel / "README.md").write_text(
        f"---\nlicense: {json.dumps(HOSTILE[1])}\nbase_model: {json.dumps(HOSTILE_NAME)}\n---\n"
        f"# {HOSTILE_NAME}\n\n"
        f"| Model | MMLU |\n|---|---|\n| {HOSTILE[0]} | {HOSTILE[3]} |\n",
        encoding="utf-8",
    )
    (rel / f"modeling_{HOSTILE[2][:6]}.py").write_text(f"# {HOSTILE_NAME}\nx = 1\n", encoding="utf-8")
    report = audit(rel, against=[zoo.materialize("base-a")])
    for lang in ("en", "zh"):
        page = render_audit(report, "html", lang)
        check_html(page)
        check_hostile(page)
        text = render_audit(report, "text", lang)
        assert "\x1b" not in text and "\\x1b[31m" in text


# ------------------------------------------------------------------------------------ contamination


@pytest.fixture(scope="module")
def contaminated(tmp_path_factory: pytest.TempPathFactory):
    from taoke.contamination import Settings
    from taoke.jobs import check_contamination
    from taoke.zoo import twins

    root = tmp_path_factory.mktemp("twins")
    model = twins.materialize("twin-exp10", root)
    bench = twins.write_split("train", root / "mmlu-style-train.jsonl")
    settings = Settings(shuffles=19, option_orders_k=3, substitutions=1, max_items=40, draws=1999)
    return check_contamination(model, bench, settings)


def test_contamination_page(contaminated, tmp_path: Path) -> None:
    r = contaminated
    assert r.order.null_histogram and sum(r.order.null_histogram["counts"]) == r.order.draws
    assert r.option.null_histogram and sum(r.option.null_histogram["counts"]) == r.option.draws
    i18n.missing.clear()
    en, zh = render_contamination(r, "html", lang="en"), render_contamination(r, "html", lang="zh")
    for page in (en, zh):
        check_html(page)
        assert page.count('class="chart histogram"') == 2 and 'class="marker"' in page
        assert 'class="chart bars"' in page  # the memorisation ranking
    assert_chinese(zh)
    render_contamination(r, "text", lang="zh")
    assert not i18n.missing, sorted(i18n.missing)[:8]
    html = tmp_path / "contamination.html"
    html.write_text(en, encoding="utf-8")
    img = screenshot(html, tmp_path / "contamination.png")
    assert non_white_fraction(img) > 0.03
    hist = _colour_box(img, (0x84, 0xAD, 0xEA))
    assert hist is not None and hist[3] - hist[1] > 60, "no histogram on the screenshot"
    assert_published(tmp_path / "contamination.png", "contamination.png")
    hostile = dataclasses.replace(
        r,
        model=HOSTILE_NAME,
        benchmark=HOSTILE[6] + HOSTILE[7],
        items=[dataclasses.replace(i, preview=HOSTILE_NAME) for i in r.items],
        how=HOSTILE_NAME,
    )
    for lang in ("en", "zh"):
        page = render_contamination(hostile, "html", lang=lang)
        check_html(page)
        check_hostile(page)


def _colour_box(img, rgb: tuple[int, int, int], tol: int = 6):
    xs, ys = [], []
    for y in range(0, img.height, 2):
        for x in range(0, img.width, 2):
            p = img.pixel(x, y)
            if all(abs(p[k] - rgb[k]) <= tol for k in range(3)):
                xs.append(x)
                ys.append(y)
    return (min(xs), min(ys), max(xs) + 1, max(ys) + 1) if len(xs) > 20 else None


# --------------------------------------------------------------------------------------------- scan


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("scan")
    lines = [str(zoo.materialize(m)) for m in ("base-a", "a-obf-all", "a-ft-man", "calib-00")]
    (d / "models.txt").write_text("\n".join(lines + [str(d / "missing")]) + "\n")
    return d / "models.txt", d / "scan.sqlite"


def test_scan_writes_an_index_linking_to_a_page_per_model(scanned, tmp_path: Path, capsys) -> None:
    listing, db = scanned
    out = tmp_path / "report"
    code_ = main(
        ["scan", str(listing), "--db", str(db), "--workers", "2", "-q", "--html", str(out), "--lang", "zh"]
    )
    assert code_ == 0, capsys.readouterr().err
    index = (out / "index.html").read_text(encoding="utf-8")
    check_html(index)
    links = re.findall(r'href="(models/[^"]+)"', index)
    assert len(links) == 5 and all((out / link).exists() for link in links)
    i18n.missing.clear()
    for link in links:
        page = (out / link).read_text(encoding="utf-8")
        check_html(page)
        assert_chinese(page)
        assert 'href="../index.html"' in page
    assert_chinese(index)
    assert "未声明的父模型" in index and "a-obf-all" in index and "套壳（混淆后复制）" in index
    obf = next(p for p in links if "a-obf-all" in p)
    assert 'class="chart strip"' in (out / obf).read_text(encoding="utf-8")  # its layers against base-a
    # --format html on stdout: the index page alone (no links to pages that are not written)
    capsys.readouterr()
    assert main(["scan", str(listing), "--db", str(db), "-q", "-f", "html"]) == 0
    page = capsys.readouterr().out
    check_html(page)
    assert 'href="models/' not in page
    # --html on a file: exit 2, one line, nothing scanned
    (tmp_path / "f").write_text("x")
    assert main(["scan", str(listing), "--db", str(db), "-q", "--html", str(tmp_path / "f")]) == 2


def test_scan_index_screenshot_and_hostile_names(scanned, tmp_path: Path) -> None:
    from taoke.jobs.scan import collect_sources, scan

    listing, db = scanned
    res = scan(collect_sources(listing), str(db), workers=2)
    site = render_site(res, "en")
    (tmp_path / "models").mkdir()
    for rel, text in site.items():
        (tmp_path / rel).write_text(text, encoding="utf-8")
    img = screenshot(tmp_path / "index.html", tmp_path / "scan-index.png", height=1400)
    assert non_white_fraction(img) > 0.03
    assert_published(tmp_path / "scan-index.png", "scan-index.png")
    for f in res.findings:
        f.name, f.declared_base = HOSTILE_NAME, [HOSTILE[3]]
        f.relative = f.relative and HOSTILE[6] + HOSTILE[7]
    for lang in ("en", "zh"):
        pages = render_site(res, lang)
        for rel, page in pages.items():
            assert re.fullmatch(r"index\.html|models/\d{3}-[A-Za-z0-9._-]+\.html", rel), rel
            check_html(page)
        check_hostile(pages["index.html"])
    assert page_name(1, res.findings[0]).startswith("models/001-")


# ------------------------------------------------------------------------------------ inspect --metadata


def test_inspect_metadata_lists_every_gguf_key_bounded_and_escaped(tmp_path: Path, capsys) -> None:
    import gguf
    import numpy as np

    path = tmp_path / "hostile.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_string("general.name", HOSTILE_NAME)
    w.add_string(f"x.{HOSTILE[1]}.key", "v")
    w.add_array("x.long", list(range(1000)))
    w.add_array("x.strings", [HOSTILE[0]] * 100)
    w.add_string("x.template", "{{ 7*7 }}" + "y" * 1000)
    w.add_tensor("token_embd.weight", np.zeros((32, 16), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    assert main(["inspect", str(path), "--metadata"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b[31m" in out and "[/]" in out and "{{ 7*7 }}" in out
    assert "x.long" in out and "(1000 items)" in out and "ARRAY[INT32]" in out
    assert "(1009 characters)" in out and "y" * 300 not in out  # long strings cut
    assert "GGML ne" in out and "[32, 16]" in out and "[16, 32]" in out  # both axis orders, labelled
    assert main(["inspect", str(path), "--metadata", "-f", "json"]) == 0
    meta = json.loads(capsys.readouterr().out)["metadata"]
    entry = {e["key"]: e for e in meta["gguf"][0]["entries"]}
    assert entry["x.long"]["count"] == 1000 and entry["x.long"]["value"] == list(range(8))
    assert entry["general.name"]["value"] == HOSTILE_NAME  # JSON keeps the exact value
    assert meta["tensors"][0] == {
        "file": "hostile.gguf",
        "name": "token_embd.weight",
        "dtype": "F32",
        "shape": [32, 16],
        "ggml_ne": [16, 32],
    }


def test_inspect_metadata_of_a_real_release(smollm2_gguf: Path, capsys) -> None:
    assert main(["inspect", str(smollm2_gguf), "--metadata"]) == 0
    out = capsys.readouterr().out
    assert "tokenizer.ggml.tokens" in out and "(49152 items)" in out and "tokenizer.chat_template" in out
    assert "general.architecture" in out and "'llama'" in out
