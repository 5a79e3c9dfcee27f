"""Contamination tests: readers, perturbations, the exact statistics, and end to end on committed twins.

No training here: the twins are committed float16 checkpoints (src/taoke/zoo/twins_data/twins, made by
:mod:`taoke.zoo.twins`, whose own records are tested in tests/zoo/test_twins.py).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from taoke.contamination import stats
from taoke.contamination.items import (
    MAX_ITEM_CHARS,
    Item,
    names_in,
    option_orders,
    read_benchmark,
    render,
    substitute,
)
from taoke.errors import AnalysisError, CorruptFile, LimitExceeded, TaokeError
from tests.helpers.need import require


def _torch() -> None:
    """The end-to-end tests run the twins (the torch extra); the readers and statistics above need none."""
    require("torch").set_num_threads(1)


# ---------------------------------------------------------------- readers


def test_mmlu_csv_without_header(tmp_path: Path) -> None:
    f = tmp_path / "anatomy_test.csv"
    f.write_text('What is 2+2?,3,4,5,"6, or more",B\nWhich organ pumps blood?,lung,liver,heart,skin,C\n')
    items = read_benchmark(f)
    assert [it.answer for it in items] == [1, 2]
    assert items[0].choices[3] == "6, or more"
    assert render(items[0]).strip().splitlines()[-1] == "Answer: B"


def test_item_longer_than_the_bound_is_refused_one_line(tmp_path: Path) -> None:
    """A 20 MB question cost 5.9 GB downstream (issue 16): items over MAX_ITEM_CHARS are refused on read,
    counting the question and the choices; an item exactly at the bound is read."""
    ok = "q" * (MAX_ITEM_CHARS - 2)
    f = tmp_path / "bench.jsonl"
    f.write_text(
        json.dumps({"question": "short", "choices": ["a", "b"], "answer": 0})
        + "\n"
        + json.dumps({"question": ok, "choices": ["a", "b"], "answer": 1})
        + "\n"
    )
    assert len(read_benchmark(f)[1].question) == MAX_ITEM_CHARS - 2
    f.write_text(
        json.dumps({"question": "short", "choices": ["a", "b"], "answer": 0})
        + "\n"
        + json.dumps({"question": ok, "choices": ["a", "bc"], "answer": 1})
        + "\n"
    )
    with pytest.raises(LimitExceeded) as exc:
        read_benchmark(f)
    msg = str(exc.value)
    assert "\n" not in msg and "bench.jsonl" in msg and "line 2" in msg and str(MAX_ITEM_CHARS + 1) in msg
    text = tmp_path / "items.txt"
    text.write_text("first item\n" + "x" * (MAX_ITEM_CHARS + 1) + "\n")
    with pytest.raises(LimitExceeded, match="item 2"):
        read_benchmark(text)


def test_answers_that_look_like_numbers_but_int_refuses(tmp_path: Path) -> None:
    """'²' is a str.isdigit() digit that int() refuses, and int() refuses 5,000 digits: both were a
    ValueError traceback (issue 16); now one line naming the file, and a plain '1' still works."""
    f = tmp_path / "bench.jsonl"
    for answer in ("\u00b2", "9" * 5000):
        f.write_text(json.dumps({"question": "q", "choices": ["a", "b"], "answer": answer}) + "\n")
        with pytest.raises(CorruptFile) as exc:
            read_benchmark(f)
        assert "bench.jsonl" in str(exc.value) and "\n" not in str(exc.value)
    f.write_text(json.dumps({"question": "q", "choices": ["a", "b"], "answer": "1"}) + "\n")
    assert read_benchmark(f)[0].answer == 1


def test_ceval_and_cmmlu_csv_with_header(tmp_path: Path) -> None:
    ceval = tmp_path / "ceval.csv"
    ceval.write_text("id,question,A,B,C,D,answer,explanation\n0,一加一等于几？,1,2,3,4,B,因为\n")
    cmmlu = tmp_path / "cmmlu.csv"
    cmmlu.write_text(",Question,A,B,C,D,Answer\n0,天空是什么颜色？,红,蓝,绿,黄,B\n")
    for f in (ceval, cmmlu):
        (it,) = read_benchmark(f)
        assert it.answer == 1 and len(it.choices) == 4


def test_jsonl_answers_as_index_letter_or_text(tmp_path: Path) -> None:
    f = tmp_path / "b.jsonl"
    rows = [
        {"question": "q1", "choices": ["a", "b", "c"], "answer": 2},
        {"question": "q2", "choices": ["a", "b", "c"], "answer": "b"},
        {"question": "q3", "options": ["x", "y"], "answer": "y"},
    ]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert [it.answer for it in read_benchmark(f)] == [2, 1, 1]


def test_plain_text_lines_and_blocks(tmp_path: Path) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text("first item\nsecond item\n")
    blocks = tmp_path / "blocks.txt"
    blocks.write_text("item one\ncontinues\n\nitem two\n")
    assert [it.question for it in read_benchmark(lines)] == ["first item", "second item"]
    assert [it.question for it in read_benchmark(blocks)] == ["item one\ncontinues", "item two"]
    assert not read_benchmark(blocks)[0].is_choice


@pytest.mark.parametrize(
    ("name", "content", "error", "words"),
    [
        ("ragged.csv", "q,a,b,c,d,A\nq2,a,b\n", CorruptFile, "line 2"),
        ("noans.csv", "q,a,b,c,d,\n", CorruptFile, "answer is missing"),
        ("badletter.csv", "q,a,b,c,d,Z\n", CorruptFile, "not a letter"),
        ("empty.csv", "\n\n", AnalysisError, "empty"),
        ("empty.txt", "", AnalysisError, "empty"),
        ("bad.jsonl", '{"question": "q", "choices": ["a","b"]}\n', CorruptFile, "answer is missing"),
        ("broken.jsonl", '{"question": \n', CorruptFile, "invalid JSON on line 1"),
        ("header.csv", "question,A,B,C,D\nq,a,b,c,d\n", CorruptFile, "no 'answer' column"),
    ],
)
def test_bad_benchmarks_give_one_line(
    tmp_path: Path, name: str, content: str, error: type, words: str
) -> None:
    f = tmp_path / name
    f.write_text(content)
    with pytest.raises(error) as exc:
        read_benchmark(f)
    assert words in str(exc.value) and "\n" not in str(exc.value)


# ---------------------------------------------------------------- perturbations


def test_option_reordering_relabels_the_answer() -> None:
    it = Item(0, "Which is even?", ("one", "two", "three", "five"), 1)
    for perm in option_orders(it, 23, random.Random(0)):
        text = render(it, perm)
        letter = text.strip().splitlines()[-1].split(": ")[1]
        assert f"{letter}. two" in text  # the answer letter follows the right option
    assert len(set(option_orders(it, 100, random.Random(1)))) == 23  # all non-canonical orders, no repeats


def test_substitution_changes_numbers_and_names_consistently() -> None:
    text = "Call os.path.join with 42 parts; os.path.join returns 42 or snake_case_name."
    assert names_in(text) == ["os.path.join", "os.path.join", "snake_case_name"]
    new = substitute(text, random.Random(3), ["json.dumps", "re.compile", "other_name"])
    assert "os.path.join" not in new and "42" not in new
    words = new.split()
    assert words[1] == words[5]  # the same name maps to the same replacement


# ---------------------------------------------------------------- statistics


def test_permutation_p_is_exact_under_the_null() -> None:
    rng = np.random.default_rng(0)
    ps = [stats.permutation_p(x[0], x[1:]) for x in rng.normal(size=(4000, 20))]
    # P(p <= 0.05) = floor(0.05 * 20) / 20 = 0.05 exactly for continuous exchangeable scores
    assert abs(np.mean(np.asarray(ps) <= 0.05) - 0.05) < 0.012
    assert min(ps) == pytest.approx(1 / 20)


def test_option_test_calibrated_and_powerful() -> None:
    rng = np.random.default_rng(1)
    null_ps = [stats.option_test(list(rng.normal(size=(30, 6))), 999, seed=s).p_value for s in range(200)]
    assert 0.02 < np.mean(np.asarray(null_ps) <= 0.05) < 0.1
    signal = rng.normal(size=(30, 6))
    signal[:, 0] += 1.5
    assert stats.option_test(list(signal), 999).p_value <= 0.002


def _published(items: list[Item]) -> list[tuple[tuple[str, ...], int]]:
    return [(it.choices, it.answer) for it in items if it.answer is not None]


def _reorder(it: Item, key) -> Item:
    order = sorted(range(len(it.choices)), key=lambda i: key(it.choices[i]))
    assert it.answer is not None
    return Item(it.index, it.question, tuple(it.choices[i] for i in order), order.index(it.answer))


def test_published_order_check_finds_sorted_options_and_answer_skew() -> None:
    """The exchangeability the option-order test needs is checked on the benchmark itself (issue 20):
    the zoo's items (options in a seeded random order) pass; the same items with options sorted
    alphabetically, by length, or with the right answer always first, are found, with the reason."""
    from taoke.zoo.twins import load_items

    items = load_items("unseen")[:40]
    ok = stats.published_order_check(_published(items))
    assert ok.random and ok.reason == "" and {c.check for c in ok.checks} >= {"alphabetical", "position"}
    alpha = stats.published_order_check(_published([_reorder(it, str.casefold) for it in items]))
    assert not alpha.random and "alphabetical order in 40 of 40 items" in alpha.reason
    by_len = stats.published_order_check(_published([_reorder(it, lambda c: (len(c), c)) for it in items]))
    assert not by_len.random and "sorted by length" in by_len.reason
    first = [
        Item(
            it.index,
            it.question,
            (it.choices[it.answer], *[c for j, c in enumerate(it.choices) if j != it.answer]),
            0,
        )
        for it in items
        if it.answer is not None
    ]
    skew = stats.published_order_check(_published(first))
    assert not skew.random and "the right answer is option A in 40 of 40 items" in skew.reason
    numeric = [
        (tuple(str(v) for v in sorted(random.Random(i).sample(range(100), 4))), i % 4) for i in range(40)
    ]
    num = stats.published_order_check(numeric)
    assert not num.random and "numeric value" in num.reason
    assert num.to_dict()["random"] is False and num.to_dict()["checks"][0]["p_value"] < 1e-6


def test_published_order_check_rarely_refuses_random_orders() -> None:
    """Random option orders are refused at most at the check's level (1%, Bonferroni over its checks;
    999 draws, so that the position check can reach 0.01/4)."""
    rng = random.Random(7)
    refused = 0
    for _ in range(1000):
        bench = []
        for _ in range(30):
            opts = [
                str(rng.randint(0, 60)) if rng.random() < 0.5 else "x" * rng.randint(1, 6) for _ in range(4)
            ]
            bench.append((tuple(opts), rng.randrange(4)))
        refused += not stats.published_order_check(bench, draws=999).random
    assert refused <= 20  # 3 of 1000 measured


def test_shuffles_needed_to_reach_a_level() -> None:
    """Smallest N with 1/(N+1) <= level: 19 for 0.05, 39 for 0.025, 99 for 0.01."""
    assert [stats.draws_needed(x) for x in (0.05, 0.025, 0.01, 0.5)] == [19, 39, 99, 1]


def test_tarone_level_counts_only_tests_that_can_reach_it() -> None:
    """Tarone 1990: K is the smallest k with at most k tests able to reach alpha/k."""
    assert stats.tarone_level([0.05, 1e-4], 0.05) == 0.025  # 19 shuffles + option test
    assert stats.tarone_level([0.1, 1e-4], 0.05) == 0.05  # 9 shuffles can never reach 0.05
    assert stats.tarone_level([0.01, 0.01, 0.01], 0.05) == pytest.approx(0.05 / 3)
    assert stats.tarone_level([0.02, 0.02, 0.5], 0.05) == 0.025
    assert stats.tarone_level([], 0.05) == 0.05


def test_permutation_p_counts_ties_and_order_windows_cut_the_stream() -> None:
    """Exact values (the surviving mutants of bench/mutation.py): a tie counts as extreme, within a
    relative 1e-9; windows are non-overlapping and a final one-token window is dropped."""
    assert stats.permutation_p(1.0, np.array([1.0, 0.5])) == pytest.approx(2 / 3)
    assert stats.permutation_p(1.0, np.array([1.0 - 1e-12, 0.5])) == pytest.approx(2 / 3)
    assert stats.permutation_p(1.0, np.array([0.999, 0.5])) == pytest.approx(1 / 3)
    assert stats.permutation_p(-2e9, np.array([-2e9 - 1.0])) == 1.0  # relative tolerance at scale
    toks = [[1, 2], [3], [4, 5, 6]]
    assert stats.order_windows(toks, [2, 0, 1], 2) == [[4, 5], [6, 1], [2, 3]]
    assert stats.order_windows(toks, [2, 0, 1], 5) == [[4, 5, 6, 1, 2]]  # [3] alone is dropped
    t = stats.order_test(0.5, [0.1, 0.9, 0.3])
    assert (t.p_value, t.draws, t.min_p) == (0.5, 3, 0.25)
    assert t.null_mean == pytest.approx(1.3 / 3) and t.null_std == pytest.approx(np.std([0.1, 0.9, 0.3]))
    assert sum(t.null_histogram["counts"]) == 3
    empty = stats.order_test(1.0, [])
    assert (empty.p_value, empty.draws, empty.min_p, empty.null_mean, empty.null_std) == (
        1.0,
        0,
        1.0,
        0.0,
        0.0,
    )
    d = stats.PermutationTest("x", 1.23456, 0.5, 3, 0.123456, 2.0, 0.25, "null").to_dict()
    assert (d["statistic"], d["null_mean"], d["min_achievable_p"], d["level"]) == (1.2346, 0.1235, 0.25, None)


def test_histogram_bins() -> None:
    h = stats.histogram(np.array([1.0, 2.0, 2.0, 3.0, np.inf]))
    assert h == {"edges": [1.0, 1.4, 1.8, 2.2, 2.6, 3.0], "counts": [1, 0, 2, 0, 1]}  # 5 bins at least
    assert stats.histogram(np.array([2.0, 2.0]))["edges"][0] == 1.5  # a constant widened by 0.5
    assert stats.histogram(np.array([np.nan])) is None
    assert len(stats.histogram(np.arange(2000.0))["counts"]) == 40  # sqrt(2000) = 45, capped at 40
    assert len(stats.histogram(np.arange(100.0))["counts"]) == 10


def test_option_test_exact_small_cases() -> None:
    """One item with scores (3, 1, 2): centred (1, -1, 0), T = 1, P(T* >= 1) = 1/3, smallest p 1/3."""
    t = stats.option_test([np.array([3.0, 1.0, 2.0])], 9999)
    assert t.statistic == 1.0 and t.min_p == pytest.approx(1 / 3) and t.draws == 9999
    assert t.p_value * 10_000 == pytest.approx(round(t.p_value * 10_000))  # (1 + #) / (N + 1)
    assert abs(t.p_value - 1 / 3) < 0.02 and abs(t.null_mean) < 0.03
    assert t.null_std == pytest.approx(np.sqrt(2 / 3), abs=0.02)
    two = stats.option_test([np.array([3.0, 1.0, 2.0]), np.array([0.0, 2.0])], 99)
    assert two.statistic == 0.0 and two.min_p == pytest.approx(1 / 6)  # 1 + (-1); 1/(3*2)
    six = [np.array([3.0, 1.0])] * 6  # 2^-6 below 1/20: the draws bind
    assert stats.option_test(six, 19).min_p == pytest.approx(1 / 20)
    assert (
        two.p_value
        == stats.option_test([np.array([3.0, 1.0, 2.0]), np.array([0.0, 2.0])], 99, seed=0).p_value
    )
    none = stats.option_test([np.array([1.0])], 99)  # a single order tells nothing
    assert (none.statistic, none.p_value, none.draws, none.min_p) == (0.0, 1.0, 0, 1.0)
    assert stats.item_rank_p(np.array([2.0, 1.0, 3.0, 2.0])) == 0.75
    assert stats.item_rank_p(np.array([1.0, 1.0 - 1e-12])) == 1.0
    assert stats.item_rank_p(np.array([1.0, 0.5])) == 0.5


def test_wilson_matches_scipy() -> None:
    """The Wilson score interval (Wilson 1927) against scipy's binomtest(...).proportion_ci('wilson')."""
    from scipy.stats import binomtest

    for k, n in ((10, 60), (0, 12), (12, 12), (40, 60)):
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        lo, hi = stats.wilson(k, n)
        assert lo == pytest.approx(ci.low, abs=2e-4) and hi == pytest.approx(ci.high, abs=2e-4), (k, n)
    assert stats.wilson(0, 0) == (0.0, 1.0)
    ci = binomtest(10, 60).proportion_ci(method="wilson")
    est = stats.seen_fraction(10, 60, 6.0)  # the chance rate exactly: nothing memorised
    assert est == {"estimate": 0.0, "low": 0.0, "high": round((ci.high - 1 / 6) / (5 / 6), 3)}
    ci = binomtest(40, 60).proportion_ci(method="wilson")
    est = stats.seen_fraction(40, 60, 4.0)  # rate 2/3 against 1/4: f = (2/3 - 1/4) / (3/4)
    assert est["estimate"] == 0.556 and est["low"] == round((ci.low - 0.25) / 0.75, 3)
    assert stats.seen_fraction(0, 0, 6.0)["estimate"] is None
    assert stats.seen_fraction(5, 10, 1.0)["estimate"] is None  # K + 1 <= 1: no orders to rank
    assert stats.seen_fraction(5, 10, 1.5)["estimate"] is not None


def test_order_check_numbers() -> None:
    """The chance a random order is sorted (2 prod m_j! / k!), the Poisson-binomial tail, and the
    position check's counts."""
    import dataclasses

    assert stats._sorted_probability([1, 2, 3, 4]) == pytest.approx(2 / 24)
    assert stats._sorted_probability([1, 1, 2]) == pytest.approx(2 * 2 / 6)
    assert stats._sorted_probability([5, 5]) is None
    assert stats._is_sorted([3, 2, 2, 1]) and stats._is_sorted([1, 2, 2]) and not stats._is_sorted([1, 3, 2])
    assert stats.poisson_binomial_sf([0.5, 0.5], 1) == pytest.approx(0.75)
    assert stats.poisson_binomial_sf([0.5, 0.5], 2) == pytest.approx(0.25)
    assert stats.poisson_binomial_sf([0.2, 0.3, 0.5], 3) == pytest.approx(0.03)
    assert stats.poisson_binomial_sf([0.2, 0.3, 0.5], 0) == 1.0
    assert stats._number(" 1,000 ") == 1000.0 and stats._number("inf") is None and stats._number("x") is None
    first = [(("a", "bb", "c", "dddd"), 0)] * 40  # options random-looking, answer always A
    chk = stats.published_order_check(first, draws=999)
    pos = next(c for c in chk.checks if c.check == "position")
    assert (pos.count, pos.n, pos.expected, pos.p_value) == (40, 40, 10.0, 1 / 1000)
    assert "option A in 40 of 40 items (10.0 expected" in pos.reason
    mixed = [(("a", "b", "c"), i % 3) for i in range(30)] + [(("a", "b", "c", "d"), i % 4) for i in range(40)]
    pos = next(c for c in stats.published_order_check(mixed, draws=999).checks if c.check == "position")
    assert pos.p_value == 1.0 and pos.n == 70  # perfectly balanced: chi-square 0, every draw >= it
    num = [(tuple(str(v) for v in (1, 2, 3, 4)), i % 4) for i in range(12)]
    f = next(c for c in stats.published_order_check(num).checks if c.check == "numeric")
    assert (f.count, f.n, f.expected) == (12, 12, pytest.approx(1.0))
    assert f.p_value == pytest.approx((2 / 24) ** 12) and f.to_dict()["expected"] == 1.0
    # the level is family-wise: a check at exactly level / number of checks is flagged
    at = stats.OrderCheck(
        [dataclasses.replace(f, p_value=0.01 / 2), dataclasses.replace(f, p_value=0.5)], 0.01
    )
    assert at.flagged == [at.checks[0]] and not at.random and at.reason == f.reason
    assert stats.OrderCheck([f], 0.01).level == 0.01 and stats.published_order_check([]).checks == []
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.count = 0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        at.level = 0.5  # type: ignore[misc]


def test_seen_fraction_estimate() -> None:
    est = stats.seen_fraction(100, 100, 6.0)
    assert est["estimate"] == 1.0 and est["low"] > 0.9
    chance = stats.seen_fraction(10, 60, 6.0)
    assert chance["estimate"] == 0.0 and chance["high"] > 0.0


# ---------------------------------------------------------------- end to end on the committed twins

FAST = {"shuffles": 19, "option_orders_k": 3, "substitutions": 1, "max_items": 40, "draws": 1999}


@pytest.fixture(scope="module")
def twin_paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from taoke.zoo import twins

    _torch()
    root = tmp_path_factory.mktemp("twins")
    out = {t: twins.materialize(t, root) for t in ("twin-exp10", "twin-clean-s0")}
    out["train"] = twins.write_split("train", root / "train.jsonl")
    out["unseen"] = twins.write_split("unseen", root / "unseen.jsonl")
    return out


def test_contaminated_twin_is_detected(twin_paths: dict[str, Path]) -> None:
    from taoke.contamination import Settings
    from taoke.jobs import check_contamination

    r = check_contamination(twin_paths["twin-exp10"], twin_paths["train"], Settings(**FAST))
    assert r.verdict == "contaminated", r.conclusion
    assert r.option is not None and r.option.p_value <= 0.025
    assert r.seen_fraction["estimate"] > 0.3
    d = r.to_dict()
    assert d["tests"]["item_order"]["draws"] == 19 and len(d["items"]) == 40


def test_unseen_items_and_clean_twin_are_not_flagged(twin_paths: dict[str, Path]) -> None:
    """39 shuffles, so that both tests can reach their level 0.025 and "no evidence" means something.

    On the unseen items the contaminated twin is checked through the option-order test, the one with
    power on these models: its item-order p on these 40 items is 0.025 with seed 0 (0.075 with seed 1,
    0.61 on the reversed file), a draw in the 2.5% tail that a level-0.025 test is allowed; with 19
    shuffles, as this test ran before issue 20, the item-order test could never reject at all."""
    from taoke.contamination import Settings
    from taoke.jobs import check_contamination

    r = check_contamination(
        twin_paths["twin-clean-s0"], twin_paths["train"], Settings(**{**FAST, "shuffles": 39})
    )
    assert r.verdict == "no-evidence", r.conclusion
    assert r.order is not None and r.order.cannot_tell is None and r.order.level == 0.025
    r = check_contamination(
        twin_paths["twin-exp10"], twin_paths["unseen"], Settings(**{**FAST, "shuffles": 39})
    )
    assert r.option is not None and r.option.cannot_tell is None and r.option.p_value > 0.025, r.conclusion
    assert r.seen_fraction["estimate"] <= 0.2


def test_sorted_published_options_cannot_tell(twin_paths: dict[str, Path], tmp_path: Path) -> None:
    """A clean model on 40 unseen items whose published options are in alphabetical order: the
    option-order test's assumption fails, so the answer is "cannot tell", with the reason (issue 20)."""
    from taoke.contamination import Settings
    from taoke.jobs import check_contamination
    from taoke.zoo.twins import load_items

    f = tmp_path / "sorted.jsonl"
    rows = [_reorder(it, str.casefold) for it in load_items("unseen")[:40]]
    f.write_text(
        "".join(
            json.dumps({"question": r.question, "choices": r.choices, "answer": r.answer}) + "\n"
            for r in rows
        )
    )
    r = check_contamination(twin_paths["twin-clean-s0"], f, Settings(**{**FAST, "shuffles": 39}))
    assert r.verdict == "cannot-tell", r.conclusion
    assert "published option order is not random (options sorted by alphabetical order" in r.conclusion
    assert r.option is not None and r.option.cannot_tell and r.seen_fraction["estimate"] is None
    d = r.to_dict()
    assert d["published_order"]["random"] is False and "exchangeab" in d["assumption"]


def test_too_few_items_and_uniform_model_have_no_power(twin_paths: dict[str, Path], tmp_path: Path) -> None:
    from taoke.contamination import Settings
    from taoke.jobs import check_contamination
    from taoke.zoo.build import load
    from taoke.zoo.hf import write_folder

    few = tmp_path / "few.jsonl"
    few.write_text("".join(twin_paths["train"].read_text().splitlines(keepends=True)[:4]))
    r = check_contamination(
        twin_paths["twin-clean-s0"], few, Settings(shuffles=5, option_orders_k=2, draws=199)
    )
    assert r.verdict == "no-power" and "only 4 items" in r.conclusion
    base = load("base-a")
    zeros = {k: np.zeros_like(v) for k, v in base.w.items()}
    flat = write_folder(tmp_path / "uniform", base.cfg, zeros, base.tok, "---\nlicense: mit\n---\n")
    r = check_contamination(flat, twin_paths["train"], Settings(**{**FAST, "max_items": 12}))
    assert r.verdict == "no-power" and "too weak" in r.conclusion


def test_cli_json_and_bad_input(
    twin_paths: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from taoke.cli.main import main

    small = tmp_path / "small.jsonl"
    small.write_text("".join(twin_paths["train"].read_text().splitlines(keepends=True)[:12]))
    args = [
        "contamination",
        str(twin_paths["twin-exp10"]),
        "--benchmark",
        str(small),
        "--shuffles",
        "9",
        "--option-orders",
        "2",
        "--format",
        "json",
    ]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_items"] == 12 and out["tests"]["item_order"]["draws"] == 9
    assert main(args[:-1] + ["html"]) == 0 and '<html lang="en">' in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("q,a,b,c,d,\n")
    assert main(["contamination", str(twin_paths["twin-exp10"]), "--benchmark", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "answer is missing" in err and len(err.strip().splitlines()) == 1


def test_architecture_taoke_cannot_run(minilm_dir: Path, twin_paths: dict[str, Path]) -> None:
    from taoke.contamination import load_scorer

    with pytest.raises(TaokeError) as exc:
        load_scorer(minilm_dir)
    assert "cannot run" in str(exc.value) and "\n" not in str(exc.value)


def test_plain_text_benchmark_runs_item_order_test_only(twin_paths: dict[str, Path], tmp_path: Path) -> None:
    from taoke.contamination import Settings
    from taoke.jobs import check_contamination
    from taoke.zoo.twins import load_items

    f = tmp_path / "items.txt"
    f.write_text("\n\n".join(it.question for it in load_items("unseen")[:12]) + "\n")
    r = check_contamination(twin_paths["twin-clean-s0"], f, Settings(shuffles=9, substitutions=1))
    assert r.option is None and r.order is not None and r.order.draws == 9
    # 9 shuffles: the smallest p is 0.1 > alpha, so "cannot tell", never "no evidence" (issue 20)
    assert r.n_choice_items == 0 and r.verdict == "cannot-tell", r.conclusion
    assert "at least 19 shuffles are needed" in r.conclusion
    r = check_contamination(twin_paths["twin-clean-s0"], f, Settings(shuffles=19, substitutions=1))
    assert r.verdict == "no-evidence" and r.order.cannot_tell is None, r.conclusion
    assert all(i.option_rank_p is None for i in r.items)


def test_item_order_test_that_cannot_reach_its_level_cannot_tell(twin_paths: dict[str, Path]) -> None:
    """Two tests at alpha/2 = 0.025 each: 19 shuffles (smallest p 0.05) cannot reach it (issue 20)."""
    from taoke.contamination import Settings
    from taoke.jobs import check_contamination

    r = check_contamination(twin_paths["twin-clean-s0"], twin_paths["train"], Settings(**FAST))
    assert r.verdict == "cannot-tell", r.conclusion
    assert "item-order exchangeability test cannot reach level 0.025 with 19 shuffles" in r.conclusion
    assert "at least 39 shuffles are needed" in r.conclusion
    assert r.option is not None and r.option.cannot_tell is None
