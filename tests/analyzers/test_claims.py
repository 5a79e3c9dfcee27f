"""Claims check: context length, parameter count and architecture class against config and weights."""

from __future__ import annotations

import pytest

from taoke.analyzers.claims import analyze, context_claims, size_claims
from taoke.model import load
from tests.helpers.llama import tiny_llama_state, write_release, yi_release
from tests.helpers.need import require


def _torch() -> None:
    """The tiny releases are built with transformers; the claim parsers and real GGUFs need neither."""
    require("torch")
    require("transformers")


YI_CARD = """---
license: apache-2.0
---
# Yi-34B
The Yi series models are large language models trained from scratch on 3T tokens.
Yi-34B-200K supports a context window of 200K tokens.
"""


@pytest.mark.parametrize(
    "text,value",
    [
        ("supports a 200K context window", 200_000),
        ("trained with 32K context", 32_000),
        ("a context window of 4096 tokens", 4096),
        ("context length: 32,768", 32_768),
        ("up to 128k tokens context", 128_000),
    ],
)
def test_context_claims_are_extracted(text, value):
    claims = context_claims(text, "card")
    assert [c.value for c in claims] == [value]


@pytest.mark.parametrize(
    "text", ["trained on 3T tokens", "released in 2023", "a context of 3 documents", "Llama 2 7B"]
)
def test_non_claims_are_not_context_claims(text):
    assert context_claims(text, "card") == []


@pytest.mark.parametrize(
    "name,value",
    [
        ("Yi-34B", 34e9),
        ("SmolLM2-135M-Instruct", 135e6),
        ("TinyLlama-1.1B-Chat", 1.1e9),
        ("Mixtral-8x7B", 56e9),
        ("gemma-3-270m", 270e6),
    ],
)
def test_size_claims(name, value):
    assert [c.value for c in size_claims(name, "name")] == [pytest.approx(value)]


def test_200k_claim_against_4096_config_without_rope_scaling_is_high(tmp_path):
    _torch()
    state, config = tiny_llama_state(max_position_embeddings=4096)
    folder = tmp_path / "Yi-34B"
    write_release(folder, state, config | {"architectures": ["YiForCausalLM"], "model_type": "Yi"}, YI_CARD)
    with load(folder) as m:
        r = analyze(m)
    ctx = next(e for e in r.evidence if e.kind == "context-claim")
    assert ctx.severity == "high"
    assert ctx.detail["configured"] == 4096 and ctx.detail["claimed"] == 200_000
    assert "no rope scaling" in ctx.message
    size = next(e for e in r.evidence if e.kind == "param-claim")
    assert (
        size.severity == "high" and size.detail["computed"] == m.n_params and size.detail["claimed"] == 34e9
    )
    arch = next(e for e in r.evidence if e.kind == "architecture-claim")
    assert "YiForCausalLM" in arch.message and arch.severity == "medium"


def test_rope_scaling_makes_a_long_context_claim_consistent(tmp_path):
    _torch()
    state, config = tiny_llama_state(max_position_embeddings=4096)
    config["rope_scaling"] = {"rope_type": "linear", "factor": 8.0}
    config.pop("rope_parameters", None)
    card = "This model has a 32K context window."
    with load(write_release(tmp_path / "long", state, config, card)) as m:
        r = analyze(m)
    assert r.effective_context == 32768
    ctx = next(e for e in r.evidence if e.kind == "context-claim")
    assert ctx.severity == "info" and "consistent" in ctx.message


def test_partial_overclaim_with_scaling_is_medium(tmp_path):
    _torch()
    state, config = tiny_llama_state(max_position_embeddings=4096)
    config["rope_scaling"] = {"rope_type": "linear", "factor": 2.0}
    config.pop("rope_parameters", None)
    with load(write_release(tmp_path / "x", state, config, "Supports 200K context.")) as m:
        r = analyze(m)
    ctx = next(e for e in r.evidence if e.kind == "context-claim")
    assert ctx.severity == "medium"


def test_yi_release_name_and_class(tmp_path):
    _torch()
    folder, _ = yi_release(tmp_path / "Yi-6B-200K")
    with load(folder) as m:
        r = analyze(m)
    kinds = {e.kind: e for e in r.evidence}
    assert kinds["context-claim"].detail["claimed"] == 200_000  # "200K" in the release name
    assert kinds["param-claim"].severity == "high"
    assert "architecture-claim" in kinds


def test_real_smollm2_claims_hold(smollm2_gguf):
    with load(smollm2_gguf) as m:
        r = analyze(m)
    sizes = [e for e in r.evidence if e.kind == "param-claim"]
    assert sizes and all(e.severity == "info" for e in sizes)
    assert all(abs(e.value) < 0.15 for e in sizes)
    ctx = [e for e in r.evidence if e.kind in ("context-claim", "context-length")]
    assert ctx and all(e.severity == "info" for e in ctx)
    assert not any(e.kind == "architecture-claim" for e in r.evidence)


def test_real_gemma3_size_claim(gemma3_gguf):
    with load(gemma3_gguf.parent) as m:  # the folder: GGUF + Gemma terms + NOTICE + README
        r = analyze(m)
        assert "GEMMA_TERMS.html" in m.license_files and "NOTICE.md" in m.license_files
    size = next(e for e in r.evidence if e.kind == "param-claim")
    assert size.severity == "info" and size.detail["computed"] == 268_098_176


def test_hostile_card_text_is_scanned_in_linear_time():
    import time

    start = time.perf_counter()
    assert context_claims("context" + " " * 1_000_000 + "x", "card") == []
    assert context_claims(("1k" + " " * 60) * 20_000, "card") == []
    assert time.perf_counter() - start < 10  # quadratic backtracking would take hours here
