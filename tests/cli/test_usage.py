"""The CLI contract for usage: bad command lines exit 2 with typer's usage message, ``--help`` works on
every command and subcommand, and the exit codes are the documented ones (issue 17)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer

from taoke.cli.main import app, main


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _flat(text: str) -> str:
    """Text without rich's box-drawing borders and line wrapping (typer boxes its error messages)."""
    return " ".join(text.replace("\u2502", " ").split())


def _command_paths() -> list[tuple[str, ...]]:
    """Every command and subcommand of the app, walked through typer's own click tree (whichever click
    typer uses: the standalone package or the copy typer vendors)."""
    root = typer.main.get_command(app)
    paths: list[tuple[str, ...]] = []

    def walk(cmd, prefix: tuple[str, ...]) -> None:
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            paths.append((*prefix, name))
            walk(sub, (*prefix, name))

    walk(root, ())
    return paths


def test_every_command_is_walked() -> None:
    paths = _command_paths()
    # the tree is what the tests below run --help on: make sure it is the whole tree
    for want in [("inspect",), ("compare",), ("tokenizer", "identify"), ("registry", "info"), ("scan",)]:
        assert want in paths
    assert len(paths) >= 20


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p))
def test_help_on_every_command(capsys, path: tuple[str, ...]) -> None:
    code, out, err = _run(capsys, *path, "--help")
    assert code == 0, err
    assert "Usage" in out and "internal error" not in out + err
    assert "--help" in out


def test_root_help_and_version(capsys) -> None:
    code, out, _ = _run(capsys, "--help")
    assert code == 0 and "Usage" in out and "inspect" in out and "scan" in out
    code, out, _ = _run(capsys, "--version")
    assert code == 0 and out.startswith("taoke ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["inspect", "x", "--bogus"], "No such option"),  # unknown option
        (["fingerprint", "x"], "Missing option"),  # missing required -o
        (["inspec", "x"], "No such command"),  # a typo'd command
        (["compare", "a"], "Missing argument"),  # a missing argument
        (["inspect", "x", "--format", "pdf"], "pdf"),  # a value outside the choices
        (["compare", "a", "b", "--alpha", "x"], "Invalid value for '--alpha'"),  # a value of the wrong type
        (["tokenizer", "bogus"], "No such command"),  # a typo'd subcommand
        (["registry", "info", "--db"], "requires an argument"),  # an option without its value
    ],
)
def test_usage_errors_exit_2_with_usage_message(capsys, argv: list[str], message: str) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 2, (out, err)
    assert "internal error" not in out + err
    assert message in _flat(err)
    # typer prints the usage line whenever it knows the command (not for a value missing at the end)
    assert "Usage: taoke" in err or "requires an argument" in message
    assert out == ""  # nothing on stdout: a pipe reading the report gets nothing half-made


def test_usage_error_through_the_console_script() -> None:
    """The installed entry point (``python -m taoke.cli.main`` runs the same main) exits 2 too."""
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {"PYTHONPATH": src, "PATH": "/usr/bin:/bin", "NO_COLOR": "1"}
    res = subprocess.run(
        [sys.executable, "-m", "taoke.cli.main", "inspect", "x", "--bogus"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert res.returncode == 2, res.stderr
    assert "No such option" in res.stderr and "internal error" not in res.stderr
    res = subprocess.run(
        [sys.executable, "-m", "taoke.cli.main", "inspect", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert res.returncode == 0 and "Usage" in res.stdout


def test_bad_input_is_exit_2_and_an_internal_error_is_70(capsys, tmp_path: Path, monkeypatch) -> None:
    code, out, err = _run(capsys, "inspect", str(tmp_path / "nope"))
    assert code == 2 and out == "" and err.count("\n") == 1 and "nope" in err
    code, out, err = _run(capsys, "inspect", str(tmp_path / "model[bold].gguf"))  # not rich markup
    assert code == 2 and "model[bold].gguf" in err

    import taoke.jobs

    def boom(*a, **k):
        raise RuntimeError("a bug")

    monkeypatch.setattr(taoke.jobs, "inspect", boom)
    code, out, err = _run(capsys, "inspect", str(tmp_path))
    # a crash is not a verdict: not 1 (gate), 2 (bad input) or 3 (untestable), but sysexits' EX_SOFTWARE
    assert code == 70 and "internal error" in err and "a bug" in err and "--debug" in err


def _commands_with(option: str) -> list[tuple[str, ...]]:
    root = typer.main.get_command(app)
    found = []
    for path in _command_paths():
        cmd = root
        for name in path:
            cmd = cmd.commands[name]
        if any(option in getattr(p, "opts", []) for p in cmd.params):
            found.append(path)
    return found


def test_format_and_output_on_every_reporting_command() -> None:
    """One --format choice (text|json|html) and -o on every command that prints a report."""
    with_format = _commands_with("--format")
    groups = {("tokenizer",), ("registry",)}
    # issue 17: registry export/import now report what they wrote (text or the JSON envelope) too
    assert set(with_format) == set(_command_paths()) - groups
    assert set(_commands_with("--output")) >= set(with_format) - {("fingerprint",)}


@pytest.mark.parametrize("path", _commands_with("--format"), ids=lambda p: " ".join(p))
def test_a_bad_format_is_a_usage_error_everywhere(capsys, path: tuple[str, ...]) -> None:
    code, out, err = _run(capsys, *path, "--format", "pdf")
    assert code == 2 and out == ""
    assert "'pdf' is not one of 'text', 'json', 'html'" in _flat(err)


def test_executor_choices_are_the_library_executors() -> None:
    from taoke.cli.scan import Executor
    from taoke.jobs.scan import EXECUTORS

    assert [e.value for e in Executor] == list(EXECUTORS)


def test_alpha_outside_the_unit_interval_is_a_usage_error(capsys) -> None:
    for bad in ("0", "1", "-0.5"):
        code, out, err = _run(capsys, "compare", "a", "b", "--alpha", bad)
        assert code == 2 and "between 0 and 1" in _flat(err)
