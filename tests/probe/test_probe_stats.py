"""The statistics and tables behind probes: exact sign-flip p-values, Holm, vendor extraction, counts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from taoke.probe.compare import (
    CLOSER,
    NOT_CLOSER,
    compare_answers,
    holm,
    min_attainable_p,
    sign_flip_p,
    untestable_result,
)
from taoke.probe.identity import IdentityAnswer, assess, vendor_of_name, vendors_in
from taoke.probe.tokfp import PROBE_TEXTS, load_known, match


def test_sign_flip_exact_against_enumeration():
    d = [0.5, -0.1, 0.3, 0.0, 0.2, 0.4, -0.2]
    obs = sum(d)
    flips = [
        sum(s * abs(x) for s, x in zip(signs, d, strict=True))
        for signs in itertools.product((1, -1), repeat=len(d))
    ]
    assert sign_flip_p(d) == pytest.approx(np.mean([f >= obs - 1e-12 for f in flips]))


def test_sign_flip_is_calibrated_under_the_null():
    rng = np.random.default_rng(1)
    ps = [sign_flip_p(list(rng.normal(size=10))) for _ in range(400)]
    assert 0.02 < np.mean(np.array(ps) <= 0.05) < 0.09  # about 5% rejections at alpha 0.05


def test_sign_flip_monte_carlo_p_is_never_zero():
    """Above 20 prompts the p-value is Monte Carlo: (1 + #{T* >= T}) / (1 + N) (Phipson & Smyth 2010),
    never 0 -- 25 prompts all favouring A are as extreme as only one in 2^25 sign vectors."""
    p = sign_flip_p([1.0] * 25, n_random=999)
    assert p == pytest.approx(1 / 1000)
    assert sign_flip_p([1.0] * 25) == pytest.approx(1 / 20_001)
    # the draws that are as extreme as the observed sum are counted, plus the observed one itself
    d = [0.3, -0.2, 0.1] * 8
    rng = np.random.default_rng(0)
    signs = rng.choice((1.0, -1.0), size=(999, len(d)))
    ge = int(np.sum(signs @ np.abs(d) >= sum(d) - 1e-12))
    assert sign_flip_p(d, n_random=999, seed=0) == pytest.approx((1 + ge) / 1000)


def test_sign_flip_monte_carlo_is_valid_under_the_null():
    """P(p <= alpha) <= alpha for the Monte Carlo p too (25 prompts, symmetric differences)."""
    rng = np.random.default_rng(2)
    ps = np.array([sign_flip_p(list(rng.normal(size=25)), n_random=199, seed=s) for s in range(300)])
    assert np.mean(ps <= 0.05) < 0.09 and ps.min() >= 1 / 200


def test_sign_flip_edges():
    """Where exact enumeration stops (20 prompts), ties counted as extreme, no prompts, one prompt; the
    default seed is the documented one (killing the surviving mutants of bench/mutation.py)."""
    assert sign_flip_p([]) == 1.0
    assert sign_flip_p([1.0]) == 0.5
    assert sign_flip_p([1.0, -1.0]) == 0.75  # sums 2, 0, 0, -2: three of four >= 0
    assert sign_flip_p([1.0] * 20) == 2.0**-20  # still exact
    assert sign_flip_p([1.0] * 21, n_random=999) == pytest.approx(1 / 1000)  # Monte Carlo from 21
    assert sign_flip_p([0.0] * 25, n_random=999) == 1.0  # every draw ties the observed sum
    d = [0.3, -0.2, 0.1] * 8
    assert sign_flip_p(d, n_random=999) == sign_flip_p(d, n_random=999, seed=0)
    assert [min_attainable_p(n) for n in (12, 20)] == [2.0**-12, 2.0**-20]
    assert min_attainable_p(21) == pytest.approx(1 / 20_001)


def test_holm_caps_at_one():
    assert holm({"a": 0.6, "b": 0.7}) == {"a": 1.0, "b": 1.0}
    assert holm({"a": 0.001}) == {"a": 0.001}


def test_compare_answers_numbers():
    """Every number of a comparison on answers whose similarities are known (difflib's ratio 2M/T over
    words): a passthrough, a candidate no closer than the control, a candidate farther than it."""
    b = [f"w{i} x{i} y{i}" for i in range(12)]
    unrelated = [f"u{i} v{i} z{i}" for i in range(12)]
    third = [f"w{i} q{i} r{i}" for i in range(12)]  # one word of three shared: ratio 1/3
    res = compare_answers(
        ("b", b), {"same": list(b), "twin-of-control": list(third), "far": unrelated}, {"c": third}
    )
    by = {c.candidate: c for c in res.candidates}
    same, twin, far = by["same"], by["twin-of-control"], by["far"]
    assert res.alpha == 0.01 and res.n_prompts == 12 and res.min_p == 2.0**-12
    assert (same.mean_sim, same.identical, same.controls[0].mean_sim_control) == (1.0, 12, 0.3333)
    assert same.p_value == 2.0**-12 and same.p_holm == 3 * 2.0**-12
    assert same.verdict == "passthrough (every answer identical)" and res.relationship == same.verdict
    assert (twin.mean_sim, twin.identical, twin.p_value, twin.verdict) == (0.3333, 0, 1.0, NOT_CLOSER)
    assert (far.mean_sim, far.p_value, far.verdict) == (0.0, 1.0, NOT_CLOSER)  # d = 0 - 1/3 < 0
    assert [c.candidate for c in res.candidates][0] == "same"
    # closer but not identical, at alpha exactly its p-value: significant (p <= alpha)
    near = [f"w{i} x{i} q{i}" for i in range(12)]
    c = compare_answers(("b", b), {"near": near}, {"c": unrelated}, alpha=2.0**-12).candidates[0]
    assert c.p_value == 2.0**-12 and c.verdict == CLOSER
    # one prompt: a passthrough is possible at alpha 0.5 (n > 0, not n > 1)
    one = compare_answers(("b", ["x y"]), {"a": ["x y"]}, {"c": ["u v"]}, alpha=0.5).candidates[0]
    assert one.p_value == 0.5 and one.verdict == "passthrough (every answer identical)"


def test_untestable_results_carry_no_numbers():
    res = untestable_result("b", ["a1", "a2"], 0.01, "no control can exist")
    assert res.min_p == 1.0 and res.notes == ["no control can exist"] and res.relationship == "untestable"
    assert [(c.candidate, c.identical, c.p_value) for c in res.candidates] == [
        ("a1", 0, None),
        ("a2", 0, None),
    ]
    assert res.n_prompts == 0
    none = compare_answers(("b", ["x y z", "p q", "s"]), {"a": ["x y z", "p r", "s"]}, {})
    c = none.candidates[0]
    assert (c.mean_sim, c.identical, c.p_value) == (0.8333, 2, None)  # (1 + 1/2 + 1) / 3
    assert compare_answers(("b", []), {}, {"c": []}).relationship == "untestable"  # nothing to compare


def test_holm_matches_definition():
    adj = holm({"a": 0.001, "b": 0.02, "c": 0.04, "d": 0.5})
    assert adj == {"a": 0.004, "b": 0.06, "c": 0.08, "d": 0.5}


def test_compare_needs_controls_and_reports_null():
    """Without controls nothing can be tested (issue 17): untestable, no p-value -- never p = 1."""
    res = compare_answers(("b", ["x y"] * 4), {"a": ["x y"] * 4}, {})
    assert res.untestable and res.notes and "no closer" in res.null
    c = res.candidates[0]
    assert c.p_value is None and c.p_holm is None and c.verdict.startswith("untestable")
    assert res.to_dict()["relationship"] == "untestable" and res.to_dict()["candidates"][0]["p_value"] is None
    with_control = compare_answers(("b", ["x y"] * 4), {"a": ["x y"] * 4}, {"c": ["u v"] * 4})
    assert not with_control.untestable and with_control.candidates[0].p_value is not None


def test_compare_says_closer_not_derived():
    """Rejecting "B no closer to A than to the controls" shows that B answers more like A: B derived from
    A, A from B, or both from one source -- not which (issue 20)."""
    b = [f"answer {i} from the parent" for i in range(25)]
    res = compare_answers(("b", b), {"a": list(b[:24]) + ["other"]}, {"c": ["u v w"] * 25})
    c = res.candidates[0]
    assert 0 < c.p_value < 1e-4 and c.p_holm <= 0.01
    assert c.verdict.startswith("closer to A than to every control")
    assert "derivative" not in c.verdict and "common source" in c.verdict
    assert res.min_p == pytest.approx(1 / 20_001)


@pytest.mark.parametrize(
    ("text", "vendor"),
    [
        ("I am ChatGPT, a large language model trained by OpenAI.", "openai"),
        ("我是通义千问，由阿里云开发。", "alibaba"),
        ("我是文心一言。", "baidu"),
        ("I'm Claude, made by Anthropic.", "anthropic"),
        ("I am SmolLM, created by Hugging Face.", "huggingface"),
        ("我是 Kimi，由月之暗面开发。", "moonshot"),
    ],
)
def test_vendor_table(text, vendor):
    assert vendor in vendors_in(text)


def test_served_name_vendor_and_confusion():
    assert vendor_of_name("ernie-4.0-turbo") == "baidu"
    assert vendor_of_name("gemma-3-270m") == "google"
    assert vendor_of_name("nova-pro") is None
    ans = [IdentityAnswer("en", "q", "I am ChatGPT by OpenAI", vendors_in("I am ChatGPT by OpenAI"))] * 3
    res = assess("ernie-4.0-turbo", ans)
    assert res.confusion and "OpenAI" in res.message
    assert not assess("gpt-4o", ans).confusion


def test_every_known_tokenizer_matches_itself_and_only_its_lineage():
    known = load_known()
    assert {"smollm2", "gemma3", "zoo-tok-code", "llama3", "qwen2"} <= set(known)
    for name, entry in known.items():
        assert len(entry["deltas"]) == len(PROBE_TEXTS)
        fp = match(entry["deltas"], known)
        assert fp.best.distance == 0.0
        assert name in {m.name for m in fp.ranking if m.distance == 0.0}
    # a constant template offset is absorbed; a distorted vector is not matched
    shifted = [x + 2 for x in known["gemma3"]["deltas"]]
    assert match(shifted, known).best.name == "gemma3"
    assert "no known tokenizer" in match([x * 2 for x in known["gemma3"]["deltas"]], known).message
