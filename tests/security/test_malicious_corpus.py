"""A malicious-release corpus, built here at test time, run through the CLI like an attacker would.

Pickle payloads (os.system / exec / eval / subprocess via ``__reduce__``, ``GLOBAL`` and
``STACK_GLOBAL``, a pickle that unpickles another, a payload inside a state dict), persistent ids and zip
members that point outside the archive, symlinks out of the release, shard-index traversal, a
decompression bomb, YAML alias bombs and ``!!python`` tags in the card, deeply nested JSON, and custom
modeling code that runs on import. Each must be refused with exit 2 and one line on stderr — or, for a
card-only problem under ``taoke audit``, reported as a finding — and leave no side effect: the marker
file its payload would create never exists, and nothing new appears anywhere in the test's folders.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.helpers.need import IN_CI, LINUX

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from fuzz.hostile import Case, malicious_releases, pickle_payloads, prove_live, run_cli, snapshot  # noqa: E402

pytestmark = pytest.mark.skipif(not LINUX and not IN_CI, reason="RLIMIT_AS and wait4: Linux")
ABS_ESCAPE = Path("/tmp/taoke-abs-escape")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Case]]:
    root = tmp_path_factory.mktemp("malicious")
    cases = malicious_releases(root / "releases", root / "markers")
    return root, {c.name: c for c in cases}


@pytest.mark.parametrize("label", list(pickle_payloads(Path("/unused")).keys()))
def test_payloads_are_live(tmp_path: Path, label: str) -> None:
    """Control: plain pickle runs every payload (else refusing it below would prove nothing)."""
    marker = tmp_path / "marker"
    assert prove_live(pickle_payloads(marker)[label], marker), label


def _names() -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return [c.name for c in malicious_releases(Path(tmp) / "r", Path(tmp) / "m")]


NAMES = _names()


def test_corpus_covers_every_attack_class() -> None:
    joined = " ".join(NAMES)
    for needed in (
        "pickle-zip",
        "pickle-legacy",
        "persistent-id",
        "zip-traversal",
        "symlink-weights",
        "symlink-config",
        "symlink-dir",
        "symlink-tokenizer",
        "index-traversal",
        "zip-bomb",
        "yaml-billion-laughs",
        "yaml-python-tag",
        "json-depth",
        "remote-code",
    ):
        assert needed in joined, needed


@pytest.mark.parametrize("name", NAMES)
def test_malicious_release_refused_without_side_effects(
    corpus: tuple[Path, dict[str, Case]], name: str
) -> None:
    root, cases = corpus
    case = cases[name]
    cwd = root / f"cwd-{name}"
    cwd.mkdir()
    before = snapshot(root)
    result = run_cli(case.args, cwd)
    after = snapshot(root)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    if case.allow_finding and result.returncode == 0:
        assert case.finding in result.stdout, result.stdout[-3000:]
    else:
        assert result.returncode == case.expect_exit, (case.what, result.returncode, result.stderr[-2000:])
        if case.expect_exit == 2:
            lines = result.stderr_lines
            assert len(lines) == 1, result.stderr
            assert Path(case.args[-1]).name in lines[0], lines[0]
    for marker in case.markers:
        assert not marker.exists(), f"{case.what}: payload ran, {marker} exists"
    assert not ABS_ESCAPE.exists()
    assert after == before, f"{case.what}: new files appeared: {sorted(after - before)[:5]}"


def test_remote_code_read_as_text_only(corpus: tuple[Path, dict[str, Case]]) -> None:
    """audit lists the release's modeling_evil.py in code lineage (it read it) yet it never ran."""
    root, cases = corpus
    case = cases["remote-code-audit"]
    result = run_cli(case.args, root)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "modeling_evil.py" in result.stdout
    assert not any(m.exists() for m in case.markers)
