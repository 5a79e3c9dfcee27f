"""Several processes creating the same new SQLite registry at once: each must succeed, and every model
indexed by any of them must be there (issue 16: the second ``taoke index`` used to fail with "table
schema_version already exists" and lose its models)."""

from __future__ import annotations

import multiprocessing as mp
import subprocess
import sys
from pathlib import Path

import pytest

from taoke.registry import Registry
from tests.helpers.compare import zoo_path

N_PROCESSES = 4


def _open(path: str, barrier: mp.synchronize.Barrier, out: mp.Queue) -> None:
    barrier.wait()  # all processes reach the empty file together
    try:
        reg = Registry(path)
        out.put(("ok", reg.schema_version))
        reg.close()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails the test
        out.put(("error", f"{type(exc).__name__}: {exc}"))


@pytest.mark.parametrize("attempt", range(5))
def test_processes_creating_one_registry_all_succeed(tmp_path: Path, attempt: int) -> None:
    ctx = mp.get_context("fork")
    path = str(tmp_path / f"new-{attempt}.db")
    barrier, out = ctx.Barrier(N_PROCESSES), ctx.Queue()
    procs = [ctx.Process(target=_open, args=(path, barrier, out)) for _ in range(N_PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    results = [out.get(timeout=5) for _ in procs]
    assert [r for r in results if r[0] != "ok"] == []
    assert len({r[1] for r in results}) == 1


def test_two_index_commands_on_a_new_registry(tmp_path: Path) -> None:
    """The CLI end to end: two ``taoke index`` runs started together on one new registry."""
    db = tmp_path / "reg.db"
    models = [zoo_path("base-a"), zoo_path("base-b")]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "taoke.cli.main", "index", "-q", "--db", str(db), m],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for m in models
    ]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    with Registry(str(db)) as reg:
        assert reg.count() == 2
