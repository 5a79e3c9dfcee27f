"""The ``taoke`` command: a typer app whose commands live one per module in this package.

Exit codes, the same for every command: 0 it ran, 1 a gate tripped (``--fail-if-derived``), 2 bad input
or usage (one line naming the file, or typer's usage message), 3 untestable where a command says so;
:data:`INTERNAL_ERROR` (70, ``EX_SOFTWARE`` of sysexits.h) for a bug, so that CI never mistakes a crash
for a verdict. ``--debug`` (or TAOKE_DEBUG=1) shows the traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings

import typer
from rich.markup import escape

from taoke._version import __version__
from taoke.errors import TaokeError
from taoke.render.common import console

INTERNAL_ERROR = 70  # a bug in taoke, not a property of the input: distinct from every documented code

# Each module exposes register(app). Add one line per command module.
COMMANDS = [
    "audit",
    "inspect",
    "llamafy",
    "compare",
    "fingerprint",
    "demo",
    "eval",
    "tokenizer",
    "probe",
    "index",
    "search",
    "scan",
    "registry",
    "contamination",
]

app = typer.Typer(
    name="taoke",
    help="Audit LLM releases for provenance: borrowed architecture, tokenizer, weights, code, behaviour.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = console(markup=True, stderr=True)  # markup: taoke's own, outside text escaped
_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"taoke {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    _state["debug"] = debug or os.environ.get("TAOKE_DEBUG") == "1"


for _name in COMMANDS:
    importlib.import_module(f"taoke.cli.{_name}").register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ran, 1 a gate tripped, 2 bad input or usage, 3 untestable,
    70 an internal error).

    WHY standalone mode: typer itself turns usage errors (unknown option, missing argument, a typo'd
    command, a value outside the choices) into its usage message and exit code 2, whichever click it
    runs on (recent typers vendor their own copy, so ``click.ClickException`` from the ``click``
    package no longer matches what they raise). Only taoke's own errors and real bugs come out of it.
    """
    args = sys.argv[1:] if argv is None else argv
    if "--debug" not in args and os.environ.get("TAOKE_DEBUG") != "1":
        # library warnings (numpy's "Mean of empty slice", overflow in a cast) are not for the user:
        # they printed before taoke's one-line error and broke the one-line contract
        warnings.simplefilter("ignore")
    try:
        app(args=argv, prog_name="taoke", standalone_mode=True)
    except SystemExit as exc:  # how typer ends every run in standalone mode, usage errors included
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        err_console.print(str(code), highlight=False, markup=False)
        return 1
    except TaokeError as exc:
        if _state["debug"]:
            raise
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except Exception as exc:
        if _state["debug"]:
            raise
        err_console.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))} (rerun with --debug)",
            highlight=False,
            soft_wrap=True,
        )
        return INTERNAL_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
