"""Benchmark files -> items, the canonical text of an item, and paraphrase-free perturbations of it.

WHY: every contamination test compares the model's likelihood of the benchmark *as published* with its
likelihood of versions that a model which never saw the benchmark cannot tell apart from it. The text an
item is rendered to must therefore be one fixed function (:func:`render`), used both by the scorer and by
the twins that are fine-tuned on the items, and every perturbation must keep the content while changing
only what publication fixed: the order of the options (with the answer letter relabelled to follow the
right option, the "answer-moving" perturbation of Zheng et al. 2023, arXiv:2309.03882, used for leakage
detection by Hidayat et al. 2025, arXiv:2505.24263), and the surface identity of numbers and names
(the number/name substitution used to tell memorisation from knowledge, e.g. "None of the Others",
openreview 9V4yxMJMuk). No second model and no paraphraser is needed.

Readers accept what benchmark files look like in the wild:
- MMLU-style CSV without a header (``question, A, B, C, D, answer``), C-Eval / CMMLU CSV with a header
  (``id,question,A,B,C,D,answer[,explanation]`` / ``,Question,A,B,C,D,Answer``);
- JSONL, one object per line with ``question``, ``choices`` (or ``options``) and ``answer`` (an index,
  a letter, or the text of the right choice);
- plain text: one item per line, or items separated by blank lines when the file has any.
"""

from __future__ import annotations

import csv
import io
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from taoke.errors import AnalysisError, CorruptFile, LimitExceeded
from taoke.release.bounded import parse_json

LETTERS = "ABCDEFGHIJ"
MAX_BENCHMARK_BYTES = 64 * 1024 * 1024
MAX_ITEMS = 100_000
# One item (question plus choices) longer than this is refused: real benchmark items are at most a few
# thousand characters (long-context reading passages ~20k), and every scorer tokenizes and runs the model
# on each item many times (shuffles, substitutions), so a 20 MB "question" cost 5.9 GB before this bound.
MAX_ITEM_CHARS = 131_072


@dataclass(frozen=True)
class Item:
    """One benchmark item: a multiple-choice question (choices + answer index) or a plain text item."""

    index: int
    question: str
    choices: tuple[str, ...] = ()
    answer: int | None = None
    source_line: int = 0
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_choice(self) -> bool:
        """True for multiple-choice items (option-order tests apply)."""
        return len(self.choices) >= 2 and self.answer is not None


def render(item: Item, order: tuple[int, ...] | None = None) -> str:
    """The canonical text of ``item`` (options in ``order``; the answer letter follows the right option).

    Ends with a blank line, the document separator the zoo's models were trained with, so that items
    concatenated in benchmark order read like one document.
    """
    if not item.is_choice:
        return item.question.strip() + "\n\n"
    order = tuple(range(len(item.choices))) if order is None else order
    lines = [f"Question: {item.question.strip()}"]
    for pos, src in enumerate(order):
        lines.append(f"{LETTERS[pos]}. {item.choices[src].strip()}")
    assert item.answer is not None
    lines.append(f"Answer: {LETTERS[order.index(item.answer)]}")
    return "\n".join(lines) + "\n\n"


# ---------------------------------------------------------------- readers


def _answer_index(raw: object, choices: tuple[str, ...], where: str, path: Path) -> int:
    if isinstance(raw, bool):
        raw = None
    if isinstance(raw, int):
        if 0 <= raw < len(choices):
            return raw
        raise CorruptFile(f"{where}: answer index {raw} is outside 0..{len(choices) - 1}", path)
    text = str(raw if raw is not None else "").strip()
    if not text:
        raise CorruptFile(f"{where}: the answer is missing", path)
    letter = text.upper().rstrip(".)")
    if len(letter) == 1 and letter in LETTERS[: len(choices)]:
        return LETTERS.index(letter)
    if text.isascii() and text.isdigit() and len(text) <= 18 and int(text) < len(choices):  # not '²'
        return int(text)
    for i, c in enumerate(choices):
        if c.strip() == text:
            return i
    raise CorruptFile(
        f"{where}: answer {text[:40]!r} is not a letter A-{LETTERS[len(choices) - 1]}, an index or a choice",
        path,
    )


def _read_csv(text: str, path: Path) -> list[Item]:
    try:
        rows = [r for r in csv.reader(io.StringIO(text))]
    except csv.Error as exc:
        raise CorruptFile(f"not valid CSV ({exc})", path) from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise AnalysisError("the benchmark is empty (no rows)", path)
    head = [c.strip().lower() for c in rows[0]]
    if "question" in head and "a" in head and "b" in head:
        q_col = head.index("question")
        opt_cols = [head.index(x) for x in "abcdefghij" if x in head]
        a_col = head.index("answer") if "answer" in head else None
        if a_col is None:
            raise CorruptFile("the CSV header has no 'answer' column", path)
        body, first = rows[1:], 2
    else:
        width = len(rows[0])
        if width < 4:
            raise CorruptFile(f"line 1: {width} column(s); expected question, 2+ options and an answer", path)
        q_col, opt_cols, a_col, body, first = 0, list(range(1, width - 1)), width - 1, rows, 1
    need = max([q_col, a_col, *opt_cols]) + 1
    items: list[Item] = []
    for n, row in enumerate(body):
        where = f"line {first + n}"
        if len(row) < need:
            raise CorruptFile(f"{where}: {len(row)} column(s), expected {need}", path)
        choices = tuple(row[c] for c in opt_cols)
        question = row[q_col].strip()
        if not question:
            raise CorruptFile(f"{where}: the question is empty", path)
        ans = _answer_index(row[a_col], choices, where, path)
        items.append(Item(len(items), question, choices, ans, first + n))
    return items


def _read_jsonl(text: str, path: Path) -> list[Item]:
    items: list[Item] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        # depth-bounded, duplicate keys refused
        obj = parse_json(line.encode("utf-8", "surrogatepass"), path, what=f"JSON on line {n}")
        if not isinstance(obj, dict):
            raise CorruptFile(f"line {n}: expected a JSON object", path)
        question = obj.get("question", obj.get("text"))
        if not isinstance(question, str) or not question.strip():
            raise CorruptFile(f"line {n}: no 'question' (or 'text') string", path)
        raw_choices = obj.get("choices", obj.get("options"))
        if raw_choices is None:
            items.append(Item(len(items), question, (), None, n, {"id": obj.get("id")}))
            continue
        if isinstance(raw_choices, dict):  # {"A": "...", "B": "..."}
            raw_choices = [raw_choices[k] for k in sorted(raw_choices)]
        if not isinstance(raw_choices, list) or len(raw_choices) < 2 or len(raw_choices) > len(LETTERS):
            raise CorruptFile(f"line {n}: 'choices' must be a list of 2-{len(LETTERS)} strings", path)
        choices = tuple(str(c) for c in raw_choices)
        if "answer" not in obj:
            raise CorruptFile(f"line {n}: the answer is missing", path)
        ans = _answer_index(obj["answer"], choices, f"line {n}", path)
        items.append(Item(len(items), question, choices, ans, n, {"id": obj.get("id")}))
    return items


def _read_text(text: str) -> list[Item]:
    if re.search(r"\n[ \t]*\n", text.strip()):
        blocks = [b.strip() for b in re.split(r"\n[ \t]*\n", text) if b.strip()]
    else:
        blocks = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return [Item(i, b) for i, b in enumerate(blocks)]


def read_benchmark(path: str | Path) -> list[Item]:
    """Items of a benchmark file in its canonical (published) order; one-line errors on bad input.

    Example::

        >>> items = read_benchmark("mmlu/test/anatomy_test.csv")   # doctest: +SKIP
        >>> items[0].choices, items[0].answer
    """
    path = Path(path)
    if not path.is_file():
        raise AnalysisError("benchmark file not found", path)
    size = path.stat().st_size
    if size > MAX_BENCHMARK_BYTES:
        raise LimitExceeded(f"benchmark is {size} bytes, over the {MAX_BENCHMARK_BYTES} byte limit", path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorruptFile(f"not UTF-8 text (byte {exc.start})", path) from None
    if not text.strip():
        raise AnalysisError("the benchmark is empty", path)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        items = _read_jsonl(text, path)
    elif suffix in (".csv", ".tsv"):
        items = _read_csv(text if suffix == ".csv" else text.replace("\t", ","), path)
    else:
        items = _read_text(text)
    if not items:
        raise AnalysisError("the benchmark has no items", path)
    if len(items) > MAX_ITEMS:
        raise LimitExceeded(f"{len(items)} items, over the {MAX_ITEMS} item limit", path)
    for item in items:
        chars = len(item.question) + sum(len(c) for c in item.choices)
        if chars > MAX_ITEM_CHARS:
            where = f"line {item.source_line}" if item.source_line else f"item {item.index + 1}"
            raise LimitExceeded(
                f"{where}: the item is {chars} characters, over the {MAX_ITEM_CHARS} character limit", path
            )
    return items


# ---------------------------------------------------------------- perturbations


def option_orders(item: Item, k: int, rng: random.Random) -> list[tuple[int, ...]]:
    """Up to ``k`` distinct non-canonical option orders, drawn uniformly without replacement.

    WHY exact: when the published option order is itself a uniformly random arrangement (true of
    benchmarks that shuffle options, and of our generated items), a model that never saw the item gives
    the published order the same distribution of scores as any other order, so the rank of the
    published order among (published + k random) is uniform: an exact null with no model of text.
    """
    n = len(item.choices)
    canonical = tuple(range(n))
    import math

    total = math.factorial(n) - 1
    k = min(k, total)
    seen: set[tuple[int, ...]] = {canonical}
    out: list[tuple[int, ...]] = []
    while len(out) < k:
        perm = list(range(n))
        rng.shuffle(perm)
        t = tuple(perm)
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


_NUMBER = re.compile(r"(?<![\w.])\d+(?![\w])")
_NAME = re.compile(r"\b(?:[A-Za-z_]\w*\.)+[A-Za-z_]\w*\b|\b[a-z]+_\w+\b|\b[A-Z][a-z]+[A-Z]\w*\b")


def names_in(text: str) -> list[str]:
    """Identifier-like names (dotted names, snake_case, CamelCase) that name substitution may replace."""
    return _NAME.findall(text)


def substitute(text: str, rng: random.Random, pool: list[str]) -> str:
    """Replace every number by another of the same length and every name by another name from ``pool``.

    The same original maps to the same replacement within one text, so the text stays consistent.
    """
    mapping: dict[str, str] = {}

    def num(m: re.Match[str]) -> str:
        s = m.group(0)
        if s not in mapping:
            lo = 10 ** (len(s) - 1) if len(s) > 1 else 0
            new = s
            for _ in range(20):
                new = str(rng.randint(lo, 10 ** len(s) - 1))
                if new != s:
                    break
            mapping[s] = new
        return mapping[s]

    def name(m: re.Match[str]) -> str:
        s = m.group(0)
        if s not in mapping:
            others = [p for p in pool if p != s]
            mapping[s] = rng.choice(others) if others else s
        return mapping[s]

    return _NUMBER.sub(num, _NAME.sub(name, text))


def substituted(item: Item, rng: random.Random, pool: list[str]) -> str | None:
    """Rendered text of ``item`` with numbers and names substituted; None when it has neither."""
    text = render(item)
    if not (_NUMBER.search(text) or _NAME.search(text)):
        return None
    new = substitute(text, rng, pool)
    return new if new != text else None
