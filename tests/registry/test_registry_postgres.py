"""The registry against a real PostgreSQL server (Debian's postgresql package), started by this module.

A throwaway cluster is created with ``initdb`` in a temporary folder and started with ``pg_ctl`` on a
free local port (as the ``postgres`` system user when running as root: PostgreSQL refuses to run as
root), then stopped and removed at the end. Without the binaries or psycopg the tests skip with the
reason locally; under CI=true they fail, because .ci/run installs them.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from taoke import zoo
from taoke.cli.main import main
from taoke.registry import Registry, export_registry, import_registry, index_source, schema, search
from tests.helpers.need import unavailable


def _unavailable(reason: str) -> None:
    unavailable(f"PostgreSQL tests: {reason}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    """A running PostgreSQL cluster; yields its base URL (without a database name)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [
        p for p in [shutil.which("initdb")] if p
    ]
    if not found:
        _unavailable("PostgreSQL binaries not found (apt-get install postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install 'taoke[postgres]')")
    bindir = Path(found[-1]).parent
    tmp = Path(tempfile.mkdtemp(prefix="taoke-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = tmp / "data", _free_port()

    def run(*cmd: str) -> None:
        proc = subprocess.run([*as_user, *cmd], capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            pytest.fail(f"{cmd[0]} failed: {proc.stderr.strip()[-500:]}")

    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "taoke", "--no-sync", "-E", "UTF8")
    opts = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(tmp / "log"), "-o", opts, "-w", "start")
    try:
        yield f"postgresql://taoke@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture()
def pg_url(pg_server: str) -> str:
    """A fresh, empty database on the server for each test."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{pg_server}/{name}"


@pytest.fixture(scope="module")
def paths() -> dict[str, Path]:
    return {m: zoo.materialize(m) for m in ("base-a", "base-b", "a-rotate", "a-ft-doc")}


def test_postgres_schema_index_search(pg_url: str, paths: dict[str, Path]) -> None:
    with Registry(pg_url) as reg:
        assert reg.url.startswith("postgresql+psycopg://") and reg.schema_version == schema.SCHEMA_VERSION
        rec, created = index_source(reg, paths["base-a"])
        assert created and rec.family == "llama"
        assert index_source(reg, paths["base-a"])[1] is False  # content hash: a no-op
        index_source(reg, paths["base-b"])
        res = search(reg, paths["a-rotate"], top=2)
        assert res.best is not None and res.best.record.name == "base-a"
        assert res.best.relationship == "obfuscated-copy"
        assert reg.size_bytes() and reg.size_bytes() > 0
        # the ANN cache of a server registry lives in the user cache dir, keyed by the URL (no password)
        assert reg.ann_path().suffix == ".usearch"
    with Registry(pg_url) as again:  # reopening migrates nothing and sees both rows
        assert again.count() == 2 and again.schema_version == schema.SCHEMA_VERSION


def test_sqlite_export_imports_into_postgres(pg_url: str, paths: dict[str, Path], tmp_path: Path) -> None:
    with Registry(str(tmp_path / "local.sqlite")) as local:
        for m in ("base-a", "base-b", "a-ft-doc"):
            index_source(local, paths[m])
        export_registry(local, tmp_path / "team.sqlite")
    with Registry(pg_url) as reg:
        index_source(reg, paths["base-b"])
        assert import_registry(reg, tmp_path / "team.sqlite") == 2
        assert sorted(r.name for r in reg.records()) == ["a-ft-doc", "base-a", "base-b"]
        files = reg.files(reg.find_content(reg.records()[0].content_id).id)
        assert files and len(files[0]["sha256"]) == 64
        # and back out of PostgreSQL into a file
        assert export_registry(reg, tmp_path / "back.sqlite") == 3


def test_cli_against_postgres(pg_url: str, paths: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    assert main(["index", str(paths["base-a"]), str(paths["base-b"]), "--db", pg_url]) == 0
    assert main(["search", str(paths["a-ft-doc"]), "--db", pg_url, "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert '"verdict": "fine-tuned of base-a"' in out
