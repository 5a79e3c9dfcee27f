"""What every command shares: the option types and their spelling, the library's defaults, writing the
report to ``-o FILE`` or stdout, and the progress reporter handed to library code.

WHY here: each of these was written out once per command (a hand-made ``--format`` check, the ``-o``
branch, ``alpha=1e-3``), and each copy drifted a little. Typer validates the choice types itself, so a bad
``--format`` is a usage error (exit 2) like any other, listed in ``--help``.
"""

from __future__ import annotations

import enum
import inspect
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from taoke import i18n
from taoke.errors import TaokeError
from taoke.render.common import (
    Format,
    JsonChunks,
    Rendered,
    as_group,
    renderables_html,
    renderables_text,
)

Lang = enum.Enum("Lang", {code.upper(): code for code in i18n.LANGS}, type=str)  # type: ignore[misc]
"""The report languages, as :mod:`taoke.i18n` has them."""

DB_HELP = (
    "Registry: a SQLite path or sqlite:///..., or postgresql://user@host/db "
    "(default: $TAOKE_REGISTRY, else registry.sqlite in $TAOKE_HOME, i.e. ~/.cache/taoke)."
)


class GateTripped(TaokeError):
    """A CI gate the user asked for (``--fail-if-derived``, ``--fail-on``) tripped: exit code 1, after the
    report was written; the one-line reason goes to stderr."""

    exit_code = 1


class SomeInputsFailed(TaokeError):
    """Some of several inputs could not be processed (each one is in the report with its error): exit
    code 2, after the report was written, so that CI never takes a half-done run for a clean one."""


def fail_if_derived_option() -> Any:
    """``--fail-if-derived``: exit 1 when a significant relative was found."""
    return typer.Option(
        False, "--fail-if-derived", help="Exit with code 1 when a significant relative is found (a CI gate)."
    )


def library_defaults(func: Callable[..., Any]) -> dict[str, Any]:
    """The default of each keyword parameter of a library function: the CLI's defaults are the library's,
    written once, there."""
    return {
        name: p.default
        for name, p in inspect.signature(func).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def alpha_option(default: float, help: str) -> Any:
    """``--alpha``: a significance level, strictly between 0 and 1 (else a usage error)."""
    return typer.Option(default, "--alpha", help=help, callback=_open_unit_interval)


def _open_unit_interval(value: float | None) -> float | None:
    if value is not None and not 0 < value < 1:
        raise typer.BadParameter(f"must be between 0 and 1 (exclusive), not {value:g}")
    return value


def format_option(help: str = "Output format.") -> Any:
    """``--format/-f text|json|html``, validated by typer."""
    return typer.Option(Format.TEXT, "--format", "-f", help=help, case_sensitive=False)


def output_option(help: str = "Write the report to FILE instead of stdout.") -> Any:
    """``--output/-o FILE``: where :func:`emit` writes the report."""
    return typer.Option(None, "--output", "-o", help=help, dir_okay=False)


def lang_option() -> Any:
    """``--lang en|zh``: the report language."""
    return typer.Option(Lang.EN, "--lang", help="Report language.", case_sensitive=False)  # type: ignore[attr-defined]


def no_cache_option() -> Any:
    """``--no-cache``: fingerprint every release afresh (no lookup, nothing stored)."""
    return typer.Option(
        False,
        "--no-cache",
        help="Fingerprint afresh: neither read nor write the fingerprint cache (taoke.weights.cache; "
        "also TAOKE_NO_CACHE=1).",
    )


def device_option() -> Any:
    """``--device cpu|cuda``: where the fingerprint's products run (torch for anything but cpu)."""
    return typer.Option(
        "cpu",
        "--device",
        help="Where the fingerprint's matrix products run: cpu (numpy, the default) or a torch device "
        "(cuda, cuda:1); the same fingerprint within float32 rounding. cpu-bf16 (needs torch and a CPU "
        "with AMX or AVX512-BF16): bf16-stored matrices multiplied in bf16, several times faster, "
        "invariants within a few float16 steps (not cached).",
    )


def fingerprint_cache(no_cache: bool) -> Any:
    """The user's fingerprint cache, or None with ``--no-cache`` (or ``TAOKE_NO_CACHE``)."""
    if no_cache:
        return None
    from taoke.weights.cache import default_cache

    return default_cache()


def quiet_option() -> Any:
    """``--quiet/-q``: no progress on stderr."""
    return typer.Option(
        False,
        "--quiet",
        "-q",
        help="No progress on stderr (by default: a bar on a terminal, else one line per step).",
    )


def emit(rendered: Rendered, fmt: Format, output: Path | None = None, *, width: int = 120) -> None:
    """Print a rendered report on stdout, or write it whole to ``output`` and say so on stderr.

    ``rendered`` is finished text (JSON, HTML or plain text) or rich renderables; renderables are drawn
    in colour on a terminal, as plain text of ``width`` columns in a file or a pipe, and as a
    self-contained HTML page when ``fmt`` is ``html``. The file is written to a temporary name beside it
    and renamed, so that a failure leaves no half-written report and never clobbers the old one.
    """
    if isinstance(rendered, JsonChunks):  # written as it is encoded, never held whole (issue 16)
        if output is None:
            echo = typer.get_text_stream("stdout")
            for chunk in rendered:
                echo.write(chunk)
            echo.write("\n")
            echo.flush()
            return
        write_text_atomic(output, rendered)
        typer.echo(f"wrote {output}", err=True)
        return
    if isinstance(rendered, str):
        text = rendered
    elif fmt is Format.HTML:
        text = renderables_html(rendered, width)
    elif output is not None:
        text = renderables_text(rendered, width)
    else:
        _print_renderables(rendered, width)
        return
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    write_text_atomic(output, text if text.endswith("\n") else text + "\n")
    typer.echo(f"wrote {output}", err=True)


def _print_renderables(rendered: Any, width: int) -> None:
    from taoke.render.common import console

    con = console()
    if not con.is_terminal:  # a pipe or a file: a fixed width instead of 80 columns that cut names
        con = console(width=width)
    con.print(as_group(rendered))


def write_text_atomic(path: Path, text: str | JsonChunks) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder, then rename it.

    A path that exists and is not a regular file (``/dev/stdout``, a named pipe) is written directly.
    JSON chunks are written one after another and end with a newline, as the text would.
    """
    path = Path(path)
    if isinstance(text, JsonChunks):
        chunks = text

        def write(f: Any) -> None:
            for chunk in chunks:
                f.write(chunk)
            f.write("\n")
    else:
        whole = text

        def write(f: Any) -> None:
            f.write(whole)

    if path.exists() and not path.is_file() and not path.is_dir():
        try:
            with path.open("w", encoding="utf-8") as f:
                write(f)
        except OSError as exc:
            raise TaokeError(f"cannot write the report: {exc.strerror or exc}", path) from None
        return
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise TaokeError(f"cannot write the report: {exc.strerror or exc}", path) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            if hasattr(os, "fchmod"):  # what open() would have given, not mkstemp's 0600
                umask = os.umask(0)
                os.umask(umask)
                os.fchmod(f.fileno(), 0o666 & ~umask)
            write(f)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise TaokeError(f"cannot write the report: {exc.strerror or exc}", path) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def revision_option() -> Any:
    """``--revision REV``: the hub revision (branch, tag or commit) of a hub-id SOURCE."""
    return typer.Option(
        None,
        "--revision",
        help="Hub revision (branch, tag, commit) of a hub-id SOURCE; same as org/name@REV.",
    )


def include_option() -> Any:
    """``--include QUANT|GLOB``: which weight files of a hub-id SOURCE to fetch and read."""
    return typer.Option(
        None,
        "--include",
        help="Weights to fetch from a hub-id SOURCE: a GGUF quantization (Q4_K_M) or a glob "
        "(*Q4_K_M*.gguf); same as org/name:Q4_K_M. By default one format, and a GGUF repo's only quant.",
    )


def hub_spec(source: str, revision: str | None = None, include: str | None = None) -> str:
    """SOURCE with ``--revision``/``--include`` written into it (``org/name@REV:QUANT``), so the library
    sees one spec; a usage error when SOURCE is not a hub id or already names what the option names."""
    if not revision and not include:
        return source
    from taoke.release.source import parse_hub_id

    parsed = None if Path(source).expanduser().exists() else parse_hub_id(source)
    hint = "--revision" if revision else "--include"
    if parsed is None:
        raise typer.BadParameter(f"applies to a hub id (org/name), not {source!r}", param_hint=hint)
    repo, rev, inc = parsed
    if revision and rev:
        raise typer.BadParameter(f"{source!r} already names revision {rev!r}", param_hint="--revision")
    if include and inc:
        raise typer.BadParameter(f"{source!r} already names {inc!r}", param_hint="--include")
    rev, inc = revision or rev, include or inc
    if inc is not None and parse_hub_id(f"{repo}:{inc}") is None:
        raise typer.BadParameter(f"{inc!r} is not a quantization name or a file glob", param_hint="--include")
    return repo + (f"@{rev}" if rev else "") + (f":{inc}" if inc else "")
