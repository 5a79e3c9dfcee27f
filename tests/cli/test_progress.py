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
from tests.helpers.need import require


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


def _steps(err: str, task: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith(task + " ")]


def test_compare_and_search_report_each_block_fingerprinted(capsys, tmp_path: Path) -> None:
    """Issue 17: a compare of two 7B checkpoints streamed for minutes without a word."""
    a, yi = str(zoo.materialize("base-a")), str(zoo.materialize("a-yi"))
    assert main(["compare", a, yi, "-f", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["relationship"]  # stdout stays the report
    n_layers = json.loads(out)["layers"] and len(json.loads(out)["layers"])
    steps = _steps(err, "fingerprint")
    assert len(steps) == 2 * n_layers and steps[-1].startswith(f"fingerprint {n_layers}/{n_layers}")
    assert main(["compare", a, yi, "-f", "json", "-q"]) == 0
    assert capsys.readouterr().err == ""
    db = str(tmp_path / "r.sqlite")
    assert main(["index", a, "--db", db, "-f", "json"]) == 0
    err = capsys.readouterr().err
    assert _steps(err, "fingerprint") and err.index("fingerprint ") < err.index("index 1/1")
    assert main(["search", yi, "--db", db, "-f", "json"]) == 0
    assert _steps(capsys.readouterr().err, "fingerprint")  # the query is fingerprinted too


def test_contamination_reports_its_scoring_passes(capsys, tmp_path: Path) -> None:
    """Issue 17: contamination was silent for two minutes."""
    require("torch")
    from taoke.zoo import twins

    twin = twins.materialize("twin-clean-s0", tmp_path)
    bench = twins.write_split("unseen", tmp_path / "unseen.jsonl")
    argv = ["contamination", str(twin), "--benchmark", str(bench), "--shuffles", "4", "--max-items", "12"]
    assert main([*argv, "-f", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["verdict"]
    assert _steps(err, "load model")
    items = _steps(err, "score items and variants")
    orders = _steps(err, "score item orders")
    assert items and orders and err.index(items[0]) < err.index(orders[0])
    done, total = items[-1].split()[-1].split("/")  # the last line says every sequence is scored
    assert done == total


def test_probe_reports_each_request(capsys) -> None:
    """Issue 17: probe and probe-compare were silent for a minute of requests."""
    require("transformers")
    from taoke.probe.launch import model_server

    a = model_server(zoo.materialize("base-a"), "zoo-base-a")
    try:
        assert main(["probe", a.url, "--max-requests", "30", "--no-identity", "-f", "json"]) == 0
        out, err = capsys.readouterr()
        spent = json.loads(out)["spent"]["requests"]
        steps = [line for line in err.splitlines() if line.startswith("requests to ")]
        assert len(steps) == spent and steps[-1].split()[3] == f"{spent}/30:"
        assert main(["probe", a.url, "--max-requests", "30", "--no-identity", "-f", "json", "-q"]) == 0
        assert capsys.readouterr().err == ""
        main(["probe-compare", a.url, a.url, "--control", a.url, "--max-requests", "30", "-f", "json"])
        err = capsys.readouterr().err
        assert sum(line.startswith("requests to ") for line in err.splitlines()) >= 3
    finally:
        a.stop()
