"""``-o FILE`` and ``--format`` through the one output helper: the whole report or nothing, on real files."""

from __future__ import annotations

import json
import re
from pathlib import Path

from taoke.cli.main import main
from tests.helpers.compare import zoo_path


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_text_report_to_a_file_is_plain_and_whole(capsys, tmp_path: Path, smollm2_gguf: Path) -> None:
    out_file = tmp_path / "inspect.txt"
    code, out, err = _run(capsys, "inspect", str(smollm2_gguf), "-o", str(out_file))
    assert code == 0, err
    assert out == "" and f"wrote {out_file}" in err  # the report went to the file, not stdout
    text = out_file.read_text(encoding="utf-8")
    assert "\x1b[" not in text  # no colour codes in a file
    assert "llama" in text and text.endswith("\n")
    code, out, _ = _run(capsys, "inspect", str(smollm2_gguf))
    assert code == 0 and "llama" in out  # the same report on stdout without -o
    assert [f.name for f in tmp_path.iterdir()] == ["inspect.txt"]  # no temporary file left behind


def test_json_and_html_to_files(capsys, tmp_path: Path, smollm2_gguf: Path) -> None:
    code, _, err = _run(capsys, "inspect", str(smollm2_gguf), "-f", "json", "-o", str(tmp_path / "i.json"))
    assert code == 0, err
    assert json.loads((tmp_path / "i.json").read_text())["n_params"] == 134_515_008
    code, _, err = _run(capsys, "inspect", str(smollm2_gguf), "-f", "HTML", "-o", str(tmp_path / "i.html"))
    assert code == 0, err  # choices are case-insensitive
    page = (tmp_path / "i.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "llama" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing fetched
    assert "<script" not in page


def test_failed_run_leaves_the_old_report_alone(capsys, tmp_path: Path) -> None:
    old = tmp_path / "report.txt"
    old.write_text("yesterday's report\n")
    code, out, err = _run(capsys, "inspect", str(tmp_path / "missing-model"), "-o", str(old))
    assert code == 2 and out == "" and err.count("\n") == 1 and "missing-model" in err
    assert old.read_text() == "yesterday's report\n"


def test_unwritable_output_is_one_line_naming_the_file(capsys, tmp_path: Path, smollm2_gguf: Path) -> None:
    target = tmp_path / "no-such-folder" / "report.txt"
    code, out, err = _run(capsys, "inspect", str(smollm2_gguf), "-o", str(target))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and str(target) in err and "cannot write the report" in err
    assert not (tmp_path / "no-such-folder").exists()  # no folder made on the user's behalf
    code, out, err = _run(capsys, "inspect", str(smollm2_gguf), "-o", str(tmp_path))
    assert code == 2 and "Usage" in err  # a folder is not a file: typer says so


def test_gate_still_trips_after_writing_the_report(capsys, tmp_path: Path) -> None:
    report = tmp_path / "cmp.json"
    a, obf = zoo_path("base-a"), zoo_path("a-obf-all")
    code, out, err = _run(capsys, "compare", a, obf, "-f", "json", "-o", str(report), "--fail-if-derived")
    assert code == 1 and out == "" and "--fail-if-derived" in err
    assert json.loads(report.read_text())["relationship"] == "obfuscated-copy"


def test_registry_info_in_every_format(capsys, tmp_path: Path) -> None:
    db = str(tmp_path / "r.sqlite")
    code, out, _ = _run(capsys, "registry", "info", "--db", db, "-f", "json")
    assert code == 0 and json.loads(out)["models"] == 0
    code, out, _ = _run(capsys, "registry", "info", "--db", db)
    assert code == 0 and re.search(r"models\s+0", out)
    code, out, _ = _run(capsys, "registry", "info", "--db", db, "-f", "html")
    assert code == 0 and out.startswith("<!DOCTYPE html>") and "schema_version" in out
