"""Progress of long jobs: a rich bar on a terminal, one line per step otherwise, nothing with --quiet;
library code reports through the callback it is handed (taoke.progress), never through the renderer."""

from __future__ import annotations

import io
import json
from pathlib import Path

from taoke import zoo
from taoke.cli.main import main
from taoke.progress import no_progress
from taoke.render.progress import Mode, reporter


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_reporter_modes() -> None:
    lines = io.StringIO()
    with reporter(stream=lines) as progress:  # a StringIO is not a terminal: one line per step
        assert progress.mode is Mode.LINES
        progress("index", 1, 2, item="a")
        progress("index", 2, 2)
        progress("eval", 3)
    assert lines.getvalue().splitlines() == ["index 1/2: a", "index 2/2", "eval 3"]

    quiet = io.StringIO()
    with reporter(quiet=True, stream=quiet) as progress:
        progress("index", 1, 2, item="a")
    assert quiet.getvalue() == ""

    tty = _Terminal()
    with reporter(stream=tty) as progress:
        assert progress.mode is Mode.BAR
        progress("index", 1, 2, item="[not markup]")
        progress("index", 2, 2, item="b")
    assert tty.getvalue()  # the bar was drawn (and is removed on exit: transient)
    no_progress("anything", 1, 2, item="x")  # the library default accepts the same call


def _index_argv(tmp_path: Path) -> list[str]:
    return ["index", str(zoo.materialize("base-a")), str(zoo.materialize("calib-00")), "--db"]


def test_index_reports_each_model_unless_quiet(capsys, tmp_path: Path) -> None:
    db = str(tmp_path / "r.sqlite")
    assert main([*_index_argv(tmp_path), db, "-f", "json"]) == 0
    out, err = capsys.readouterr()
    assert len(json.loads(out)["models"]) == 2  # stdout stays parseable JSON
    steps = [line for line in err.splitlines() if line.startswith("index ")]
    assert [s.split(":")[0] for s in steps] == ["index 1/2", "index 2/2"]
    assert main([*_index_argv(tmp_path), db, "-f", "json", "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_scan_reports_both_phases(capsys, tmp_path: Path) -> None:
    listing = tmp_path / "models.txt"
    listing.write_text("\n".join(str(zoo.materialize(m)) for m in ("base-a", "a-ft-man")) + "\n")
    db = str(tmp_path / "scan.sqlite")
    assert main(["scan", str(listing), "--db", db, "--workers", "1", "-f", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["findings"]
    heads = [line.split(":")[0] for line in err.splitlines()]
    assert heads == ["fingerprint + index 1/2", "fingerprint + index 2/2", "search relatives 1/2",
                     "search relatives 2/2"]  # fmt: skip


def test_ann_rebuild_reports_through_the_registry_callback(tmp_path: Path, monkeypatch) -> None:
    import taoke.registry.store as store
    from taoke.registry import Registry, index_source

    db = str(tmp_path / "r.sqlite")
    with Registry(db) as reg:
        index_source(reg, zoo.materialize("base-a"))
        index_source(reg, zoo.materialize("calib-00"))
    store.Registry(db).ann_path().unlink(missing_ok=True)  # force a rebuild from the rows
    monkeypatch.setattr(store, "REBUILD_PROGRESS_FROM", 1)
    monkeypatch.setattr(store, "REBUILD_CHUNK", 1)
    calls = []
    reg = Registry(db, progress=lambda task, done, total=None, item=None: calls.append((task, done, total)))
    reg.ann()
    assert calls == [("rebuilding the ANN index", 1, 2), ("rebuilding the ANN index", 2, 2)]
