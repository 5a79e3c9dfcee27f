"""The CLI under a 1 GB address-space limit against files whose headers lie about their size.

Each lying file claims terabytes, a billion tensors or entries, a 2 GB pickle string, or inflates like
a bomb; the process may not even *reserve* more than 1 GB (``RLIMIT_AS``), so a single allocation sized
from the header would fail there. What must come out: exit code 2, exactly one line on stderr naming
the file, no traceback, and a small peak RSS (measured with ``wait4``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.helpers.need import IN_CI, LINUX

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from fuzz.hostile import GB, Case, lying_files, run_cli  # noqa: E402

pytestmark = pytest.mark.skipif(not LINUX and not IN_CI, reason="RLIMIT_AS and wait4: Linux")


def _cases(tmp: Path) -> dict[str, Case]:
    return {c.name: c for c in lying_files(tmp / "lying")}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Case]]:
    root = tmp_path_factory.mktemp("lying")
    return root, _cases(root)


NAMES = [
    "st-header-1e12",
    "st-tensor-4e12",
    "gguf-1e9-tensors",
    "gguf-1e9-kv",
    "gguf-string-1e12",
    "gguf-array-1e9",
    "gguf-array-3.9e6",
    "gguf-vocab-1e9",
    "gguf-tensor-dims",
    "tokjson-id-1e9",
    "vocabjson-id-1e9",
    "tiktoken-rank-1e9",
    "pickle-binbytes-2g",
    "pickle-long4-huge",
    "pickle-memo-3e8",
    "zip-bomb-100MB",
    "zip-bomb-lying-size",
    "json-depth-1e6",
    "tokjson-depth-1e6",
]


STREAMED = ["st-sparse-16GiB"]  # honest files bigger than the memory limit: read in blocks (issue 21)


def test_every_lying_file_is_covered(built: tuple[Path, dict[str, Case]]) -> None:
    assert sorted(built[1]) == sorted(NAMES + STREAMED)


@pytest.mark.slow
@pytest.mark.parametrize("name", STREAMED)
def test_honest_tensor_bigger_than_memory_is_streamed(built: tuple[Path, dict[str, Case]], name: str) -> None:
    """A real 16 GiB tensor under a 1 GiB address-space limit: the fingerprint reads it ~2 MiB of rows
    at a time (issue 21), so it is fingerprinted, not refused; the peak stays far below the tensor
    (most of it is the million id-keyed vocabulary entries, not tensor data)."""
    root, cases = built
    case = cases[name]
    cwd = root / f"cwd-{name}"
    cwd.mkdir()
    result = run_cli(case.args, cwd, mem_bytes=GB)
    assert result.returncode == 0, (case.what, result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr
    assert Path(case.args[2]).is_file()  # the fingerprint was written
    assert result.peak_rss_mb < 512, (name, result.peak_rss_mb)


@pytest.mark.parametrize("name", NAMES)
def test_lying_file_refused_under_1gb(built: tuple[Path, dict[str, Case]], name: str) -> None:
    root, cases = built
    case = cases[name]
    cwd = root / f"cwd-{name}"
    cwd.mkdir()
    result = run_cli(case.args, cwd, mem_bytes=GB)
    lines = result.stderr_lines
    assert result.returncode == 2, (case.what, result.returncode, result.stderr[-2000:])
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr
    target = Path(case.args[-1])
    assert target.name in lines[0], lines[0]
    # the header was refused before anything of its claimed size was allocated
    assert result.peak_rss_mb < 300, (name, result.peak_rss_mb)


def test_limit_settings_are_honoured(tmp_path: Path) -> None:
    """A tighter TAOKE_MAX_* setting refuses what the default accepts (the settings really bound)."""
    from fuzz.hostile import write_safetensors

    path = write_safetensors(tmp_path / "model.safetensors")
    ok = run_cli(["inspect", str(path)], tmp_path)
    assert ok.returncode == 0, ok.stderr
    tight = run_cli(["inspect", str(path)], tmp_path, env={"TAOKE_MAX_HEADER_BYTES": "64"})
    assert tight.returncode == 2 and "TAOKE_MAX_HEADER_BYTES" in tight.stderr, tight.stderr
    assert len(tight.stderr_lines) == 1


def test_pickle_memo_index_allocates_nothing(built: tuple[Path, dict[str, Case]]) -> None:
    """Under a roomier 4 GB cap the memo bomb would *succeed* in allocating 2.4 GB (found by the
    fuzzer: 2.6 GB RSS from 5.5 KB); the opcode walk must refuse it before the unpickler runs."""
    root, cases = built
    case = cases["pickle-memo-3e8"]
    result = run_cli(case.args, root, mem_bytes=4 * GB)
    assert result.returncode == 2 and "memo slot" in result.stderr, result.stderr[-2000:]
    assert result.peak_rss_mb < 300, result.peak_rss_mb
