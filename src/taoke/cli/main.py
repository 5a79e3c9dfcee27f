"""The ``taoke`` command: a typer app whose commands live one per module in this package.

Errors on input become one line and exit code 2; ``--debug`` (or TAOKE_DEBUG=1) shows the traceback.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer
from rich.console import Console

from taoke import __version__
from taoke.errors import TaokeError

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
err_console = Console(stderr=True)
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
    """Entry point: run the app, turning TaokeError into one line and exit code 2."""
    try:
        rv = app(args=argv, standalone_mode=False)  # click returns typer.Exit codes here
    except TaokeError as exc:
        if _state["debug"]:
            raise
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err_console.print("[bold red]aborted[/]")
        return 130
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return 2
        if _state["debug"]:
            raise
        err_console.print(f"[bold red]internal error:[/] {type(exc).__name__}: {exc} (rerun with --debug)")
        return 3
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    sys.exit(main())
