"""A representative subset of the end-to-end hostile-release harness (``fuzz/e2e.py``): at least one
case of every class, each through every command that reads its kind of input. The full run
(``python fuzz/e2e.py``, ~2,500 runs) is what SECURITY.md's table measures.

Each run must exit 0 or 2 (3 for compare/search: untestable), print at most one stderr line, stay
under 1 GB and 30 s of CPU (wall time on a shared test machine measures its load), open nothing
outside the case, the output and the cache (an audit hook on ``open``), and send no raw control
character to the terminal.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from fuzz.e2e import ALL_COMMANDS, Harness  # noqa: E402
from fuzz.e2e_cases import CLASSES, Case  # noqa: E402

SUBSET = (
    "markup-tensor-close-tag",
    "markup-card-ansi",
    "markup-gguf-bidi",
    "cfg-num_hidden_layers-inf",
    "cfg-hidden_size-digits4000",
    "block-number-unicode",
    "gguf-blocks-1e9",
    "gguf-rope-nan",
    "pickle-dag-2e60",
    "pickle-build-poison",
    "pickle-zero-stride-64g",
    "bad-tokenizer-cwd-fallback",
    "hfcache-blobs-link",
    "link-tokenizer-single-file",
    "deep-tokenizer-json",
    "fp-npy-shape-lie",
    "fp-layers-1e12",
    "reg-trigger",
    "reg-json-columns",
    "bench-deep-jsonl",
    "bench-markup",
    "bench-answer-unicode-digits",
)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Harness:
    from taoke import zoo

    zoo.materialize("base-a")  # the base of every case; it ships with taoke, so no skip
    h = Harness(tmp_path_factory.mktemp("e2e"), jobs=2, time_basis="cpu")
    yield h
    h.close(remove_cases=True)


@pytest.fixture(scope="module")
def cases(harness: Harness) -> dict[str, Case]:
    return {c.name: c for c in harness.cases()}


def test_generator_covers_every_class(cases: dict[str, Case]) -> None:
    assert len(cases) >= 150
    assert {c.cls for c in cases.values()} == set(CLASSES)
    assert {cases[n].cls for n in SUBSET} == set(CLASSES), "the subset must keep one case of every class"


def test_subset_passes_every_command(harness: Harness, cases: dict[str, Case]) -> None:
    runs = harness.run_all([cases[n] for n in SUBSET])
    assert {r.command for r in runs} == set(ALL_COMMANDS)
    failed = [
        f"{r.case} {r.command}: {','.join(r.failures)} rc={r.rc} {r.first_error[:150]!r} {r.outside[:2]}"
        for r in runs
        if r.failures
    ]
    assert failed == []


def test_the_audit_hook_sees_a_read_outside(harness: Harness, tmp_path: Path) -> None:
    """The containment check can fail: a 'case' that owns only an empty folder, given a release that
    lies elsewhere in the work folder, must be reported as reading outside."""
    empty = harness.work / "cases" / "owns-nothing"
    empty.mkdir(parents=True, exist_ok=True)
    elsewhere = harness.work / "outside" / "release-elsewhere"
    if not elsewhere.exists():
        shutil.copytree(harness.base.release, elsewhere)
    fake = Case("owns-nothing", "containment", "release", "reads a release it does not own", elsewhere, empty)
    run = harness.run(fake, "inspect")
    assert "outside" in run.failures and run.outside
