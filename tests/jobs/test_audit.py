"""``taoke audit`` end to end: folders assembled from real fixture files, zoo releases, bad input."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from taoke.analyzers import code
from taoke.errors import TaokeError
from taoke.jobs.audit import audit, benchmark_claims
from taoke.render.audit import render
from taoke.zoo.refactor import yi_style_refactor
from tests.helpers.calls import count_calls
from tests.helpers.llama import TINY, write_release
from tests.helpers.need import unavailable

AUDIT_JOB = sys.modules["taoke.jobs.audit"]  # the module: ``taoke.jobs.audit`` names the job function

CARD = """---
license: other
---
# Yi-6B

Yi is a model trained from scratch by our team, with a 200K context window.
See https://arxiv.org/abs/2403.04652 .

| Model | MMLU | C-Eval | CMMLU |
|---|---|---|---|
| Yi-6B | 64.1 | 72.0 | 75.5 |
"""


def _transformers_models() -> Path:
    found = code.transformers_models_dir()
    if found is None:
        unavailable("transformers is not installed: no reference implementations")
    return found[0]


@pytest.fixture()
def yi_release(tmp_path: Path, fixtures_dir: Path) -> Path:
    """A Yi-style release from real files: Yi config, the Yi community licence under another name,
    a card with benchmark claims, and a Yi-style refactor of transformers' modeling_llama.py."""
    rel = tmp_path / "Yi-6B"
    rel.mkdir()
    shutil.copy(fixtures_dir / "configs" / "yi" / "Yi-1.5-6B" / "config.json", rel / "config.json")
    shutil.copy(
        fixtures_dir / "licenses" / "yi-community-license-2.1-2023-11-23.txt", rel / "MODEL_AGREEMENT.txt"
    )
    (rel / "README.md").write_text(CARD, encoding="utf-8")
    llama = (_transformers_models() / "llama" / "modeling_llama.py").read_text(encoding="utf-8")
    (rel / "modeling_yi.py").write_text(yi_style_refactor(llama), encoding="utf-8")
    return rel


def test_yi_style_release(yi_release: Path):
    r = audit(yi_release)
    assert r.code is not None
    f = next(x for x in r.code.files if x.path == "modeling_yi.py")
    assert f.best.reference == "llama/modeling_llama.py" and f.notice_kept == "missing"
    assert r.licence.licence == "yi-community-2.1"  # identified by text despite the file name
    kinds = [e.kind for e in r.headline_findings]
    assert "code-notice-missing" in kinds and "obligations-not-met" in kinds
    apache = {o.id: o.status for o in r.obligations if o.licence == "apache-2.0"}
    assert apache["retain-notices"] == "not-met" and apache["copy-of-licence"] == "not-met"
    ctx = [e for e in r.claims if e.kind == "context-claim"]
    assert ctx and ctx[0].severity == "high" and "200K" in ctx[0].message  # the Yi case: 200K vs 4096
    assert r.benchmarks and r.benchmarks[0]["cells"][1] == "64.1"
    assert any(x.kind == "borrowed-code" for x in r.reconciliation.findings)
    assert r.openness.ratings and r.openness.mof.label
    d = json.loads(render(r, "json"))
    assert d["code"]["files"] and d["headline"]


def test_renderers_text_zh_and_self_contained_html(yi_release: Path):
    r = audit(yi_release, lang="zh")
    text = render(r, "text")
    assert "代码来源" in text and "许可证与义务" in text and "删去了原文件的版权与许可证声明" in text
    en = render(r, "text", lang="en")
    assert "Code lineage" in en and "missing" in en
    html = render(r, "html")
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # nothing fetched from the network
    assert "<script" not in html and "@import" not in html
    assert "class=diff" in html and "LlamaDecoderLayer" in html  # side-by-side code spans


def test_cli_audit_writes_report(yi_release: Path, tmp_path: Path):
    from taoke.cli.audit import register

    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """test root"""

    out = tmp_path / "report.html"
    res = CliRunner().invoke(
        app, ["audit", str(yi_release), "--format", "html", "--lang", "zh", "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "taoke 审计报告" in out.read_text(encoding="utf-8")
    res = CliRunner().invoke(app, ["audit", str(yi_release), "--format", "json"])
    assert res.exit_code == 0 and json.loads(res.output)["name"]
    res = CliRunner().invoke(app, ["audit", str(yi_release), "--format", "pdf"])
    # typer validates --format itself now: a usage error (exit 2) naming the bad value, not a TaokeError
    assert res.exit_code == 2 and "pdf" in res.output


def test_missing_source_is_one_line_error(tmp_path: Path):
    with pytest.raises(TaokeError) as exc:
        audit(tmp_path / "nope")
    assert "\n" not in str(exc.value)


def test_bad_inputs_become_findings(tmp_path: Path):
    rel = tmp_path / "bad"
    rel.mkdir()
    (rel / "modeling_x.py").write_bytes(b"\x00\x01binary" * 100)
    (rel / "weird.py").write_bytes(b"x = '\xff\xfe'\n")
    (rel / "README.md").write_text("---\nlicense: [unclosed\n---\n# x\n", encoding="utf-8")
    (rel / "LICENSE").write_bytes(b"\xff\xfe\x00garbage")
    r = audit(rel)
    lines = [e.message for e in r.all_evidence()]
    assert any("NUL bytes" in m for m in lines)
    assert any("not decodable" in m for m in lines)
    assert any(e.kind == "card-unreadable" for e in r.evidence)
    assert all("\n" not in m for m in lines)
    assert render(r, "text") and render(r, "html")


def _tiny_llama(folder: Path, seed: int) -> Path:
    """A 2-layer LLaMA-layout release the Model view loads: random numpy weights in safetensors and an
    HF Llama config (no torch needed)."""
    rng = np.random.default_rng(seed)
    d, ffn, vocab = TINY["hidden_size"], TINY["intermediate_size"], TINY["vocab_size"]
    kv = d // TINY["num_attention_heads"] * TINY["num_key_value_heads"]
    shapes = {
        "model.embed_tokens.weight": (vocab, d),
        "model.norm.weight": (d,),
        "lm_head.weight": (vocab, d),
    }
    for i in range(TINY["num_hidden_layers"]):
        p = f"model.layers.{i}."
        shapes |= {
            p + "self_attn.q_proj.weight": (d, d),
            p + "self_attn.k_proj.weight": (kv, d),
            p + "self_attn.v_proj.weight": (kv, d),
            p + "self_attn.o_proj.weight": (d, d),
            p + "mlp.gate_proj.weight": (ffn, d),
            p + "mlp.up_proj.weight": (ffn, d),
            p + "mlp.down_proj.weight": (d, ffn),
            p + "input_layernorm.weight": (d,),
            p + "post_attention_layernorm.weight": (d,),
        }
    state = {k: rng.standard_normal(shape).astype(np.float32) for k, shape in shapes.items()}
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", **TINY}
    return write_release(folder, state, config)


def test_compare_adapter_undeclared_parent(tmp_path: Path, monkeypatch, fixtures_dir: Path):
    """--against: the compare result is integrated; an undeclared parent becomes the headline and the
    reference licence's obligations are checked."""
    ref = _tiny_llama(tmp_path / "Meta-Llama-3.1-8B", seed=0)
    shutil.copy(fixtures_dir / "licenses" / "llama-3.1.txt", ref / "LICENSE")
    (ref / "README.md").write_text("---\nlicense: llama3.1\n---\n# Llama 3.1\n", encoding="utf-8")
    sus = _tiny_llama(tmp_path / "SuperChat-8B", seed=1)
    (sus / "README.md").write_text(
        "---\nlicense: apache-2.0\n---\n# SuperChat, trained from scratch\n", encoding="utf-8"
    )
    shutil.copy(fixtures_dir / "licenses" / "apache-2.0.txt", sus / "LICENSE")

    class Fake:
        def to_dict(self):
            return {
                "relationship": "fine-tuned",
                "derived": True,
                "p_value": 1e-40,
                "layers": [
                    {"suspect_layer": i, "components": {"attn_q": 0.9, "ffn_up": 0.8}} for i in range(4)
                ],
            }

    monkeypatch.setattr(AUDIT_JOB, "compare", lambda reference, suspect, **_: Fake())
    r = audit(sus, against=[ref])
    assert (
        r.headline[0]
        == "weights derive from Meta-Llama-3.1-8B (fine-tuned); the release declares no base model"
    )
    st = {o.id: o.status for o in r.obligations if o.licence == "llama-3.1"}
    assert (
        st["name-prefix"] == "not-met"
        and st["built-with"] == "not-met"
        and st["copy-of-licence"] == "not-met"
    )
    html = render(r, "html")
    # per-layer heatmap (suspect layer x component): an SVG chart of coloured cells
    assert 'class="chart heatmap grid"' in html and html.count("<rect") >= 4 * 2


def test_compare_failure_is_stated(tmp_path: Path):
    """A release without weights cannot be compared: the comparison says why in one line, the rest of
    the report stands. (Replaces the check of an 'unavailable' compare module: compare is part of
    taoke, so the import guard behind that status was dead code and is gone.)"""
    rel = tmp_path / "r"
    rel.mkdir()
    (rel / "README.md").write_text("# r\n", encoding="utf-8")
    r = audit(rel, against=[rel])
    assert r.comparisons[0].status == "error"
    assert "no weight files" in r.comparisons[0].message and "\n" not in r.comparisons[0].message
    assert any(e.kind == "compare-error" for e in r.evidence)
    assert r.openness is not None and r.licence is not None


def test_audit_resolves_each_release_once(tmp_path: Path, monkeypatch):
    """One audit with a reference: each release is resolved once and its card read once (the Model
    view's), however many layers (claims, compare, tokenizer) use it. Before the jobs layer, the same
    audit resolved 4 times and parsed cards 5 times."""
    ref = _tiny_llama(tmp_path / "base", seed=0)
    (ref / "README.md").write_text("---\nlicense: mit\n---\n# base\n", encoding="utf-8")
    sus = _tiny_llama(tmp_path / "derived", seed=1)
    (sus / "README.md").write_text("---\nlicense: mit\nbase_model: base\n---\n# derived\n", encoding="utf-8")
    resolves = count_calls(monkeypatch, "taoke.release.source", "resolve")
    cards = count_calls(monkeypatch, "taoke.release.card", "parse_card")
    r = audit(sus, against=[ref])
    assert r.comparisons[0].status == "ok", r.comparisons[0].message
    assert (
        r.comparisons[0].compare["reference"] == "base" and r.comparisons[0].compare["suspect"] == "derived"
    )
    assert resolves == Counter({str(sus): 1, str(ref): 1})
    assert sorted(cards.values()) == [1, 1] and sum(cards.values()) == 2


def test_real_gguf_audit_reads_the_release_once(smollm2_gguf: Path, monkeypatch):
    """A GGUF release: resolved once, and its general.* metadata taken from the Model view, not from
    a second parse of the GGUF header by the audit."""
    resolves = count_calls(monkeypatch, "taoke.release.source", "resolve")
    opened: list[str] = []
    gguf_file = AUDIT_JOB.GGUFFile

    def counted(path, *args, **kwargs):
        opened.append(str(path))
        return gguf_file(path, *args, **kwargs)

    monkeypatch.setattr(AUDIT_JOB, "GGUFFile", counted)
    r = audit(smollm2_gguf)
    assert sum(resolves.values()) == 1
    assert opened == []
    assert r.licence.tag_source == "gguf:general.license"  # the metadata did arrive


def test_zoo_renamed_copy_end_to_end():
    from taoke import zoo

    # the zoo's checkpoints are committed: failing to build them is a product failure, never a skip
    sus, ref = zoo.materialize("a-yi"), zoo.materialize("base-a")
    r = audit(sus, against=[ref])
    assert r.comparisons[0].status == "ok", r.comparisons[0].message
    assert r.comparisons[0].compare["derived"] is True
    assert (
        r.headline[0].startswith("weights derive from base-a") and "declares no base model" in r.headline[0]
    )
    # a derivative that declares its base: confirmed, no lineage headline
    ft = audit(zoo.materialize("a-ft-man"), against=[ref])
    assert [e.kind for e in ft.reconciliation.findings] == ["declared-parent-confirmed"]
    assert not any(e.kind == "undeclared-parent" for e in ft.headline_findings)


def test_benchmark_claims_table_parsing():
    card = "| Benchmark | Ours | GPT-4 |\n|---|---|---|\n| MMLU | 70.1 | 86.4 |\n| Cooking | 1 | 2 |\n"
    rows = benchmark_claims(card)
    assert [r["cells"][0] for r in rows] == ["MMLU", "Cooking"] or [r["cells"][0] for r in rows] == ["MMLU"]
    assert benchmark_claims("no tables here") == []


def test_html_renders_in_headless_chromium(yi_release: Path, tmp_path: Path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        unavailable("headless Chromium not installed (apt-get install chromium) — cannot check rendering")
    page = tmp_path / "report.html"
    page.write_text(render(audit(yi_release, lang="zh"), "html"), encoding="utf-8")
    png = tmp_path / "shot.png"
    proc = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--screenshot={png}",
            "--window-size=1280,1600",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
    )
    assert png.exists(), proc.stderr.decode(errors="replace")[-500:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def test_real_gguf_single_file_release(smollm2_gguf: Path):
    """A real release (SmolLM2-135M-Instruct GGUF, Apache-2.0): licence from GGUF metadata, claims from
    the architecture analyzer, openness 'open weights; open source needs external evidence'."""
    r = audit(smollm2_gguf)
    assert r.licence.licence == "apache-2.0" and r.licence.tag_source == "gguf:general.license"
    assert not any(e.kind == "licence-unknown" for e in r.licence.evidence)
    assert any(e.analyzer in ("architecture", "claims") for e in r.claims)
    assert r.openness.conclusion == "open-weights-needs-evidence"
    assert r.code.files == []


def test_tokenizer_lineage_without_against(tmp_path: Path, fixtures_dir: Path):
    """A release shipping Llama 2's real tokenizer files but declaring nothing: the tokenizer library
    finds an identical known vocabulary and the reconciliation says the release does not say so."""
    rel = tmp_path / "MyModel-7B"
    rel.mkdir()
    for f in (fixtures_dir / "tokenizers" / "llama" / "llama2").iterdir():
        shutil.copy(f, rel / f.name)
    (rel / "README.md").write_text("# MyModel-7B\n\nTrained from scratch.\n", encoding="utf-8")
    r = audit(rel)
    ident = [e for e in r.evidence if e.kind == "tokenizer-identified"]
    assert ident and ident[0].detail["relation"] == "identical"
    assert any(e.kind == "undeclared-tokenizer" for e in r.reconciliation.findings)
