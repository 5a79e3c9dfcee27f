"""``taoke scan LIST_OR_DIR``: index and search many models in parallel (see :mod:`taoke.jobs.scan`)."""

from __future__ import annotations

import enum
from pathlib import Path

import typer

from taoke.cli.common import (
    DB_HELP,
    Format,
    GateTripped,
    Lang,
    alpha_option,
    emit,
    fingerprint_cache,
    format_option,
    lang_option,
    no_cache_option,
    output_option,
    quiet_option,
    write_text_atomic,
)
from taoke.defaults import DEFAULT_ALPHA
from taoke.errors import TaokeError


class Executor(str, enum.Enum):
    """Where scan's tasks run: local processes or a Ray cluster (see :mod:`taoke.jobs.scan`)."""

    LOCAL = "local"
    RAY = "ray"


def register(app: typer.Typer) -> None:
    """Add the ``scan`` command to the taoke app."""

    @app.command("scan")
    def scan_cmd(
        list_or_dir: str = typer.Argument(
            ..., help="A file listing sources (one a line) or a folder of models."
        ),
        executor: Executor = typer.Option(
            Executor.LOCAL, "--executor", "-e", help="local (processes) or ray.", case_sensitive=False
        ),
        ray_address: str = typer.Option(
            None, "--ray-address", help="Ray cluster address (default: local Ray)."
        ),
        workers: int = typer.Option(
            None, "--workers", "-w", min=1, help="Parallel workers (default: CPU count)."
        ),
        db: str = typer.Option(None, "--db", help=DB_HELP),
        top: int = typer.Option(
            None,
            "--top",
            "-k",
            min=1,
            help="Candidates compared in full per model (default: the registry search's).",
        ),
        alpha: float = alpha_option(DEFAULT_ALPHA, "Family-wise significance level (Holm)."),
        fmt: Format = format_option(),
        output: Path | None = output_option(),
        quiet: bool = quiet_option(),
        no_cache: bool = no_cache_option(),
        exact: bool = typer.Option(
            False, "--exact", help="Shortlist by scanning every registered vector (see taoke search --exact)."
        ),
        html_dir: Path | None = typer.Option(
            None,
            "--html",
            help="Also write an HTML report to DIR: index.html (every model, its nearest relative, the "
            "verdict, declared or not) linking to one page per model.",
            file_okay=False,
        ),
        lang: Lang = lang_option(),
        fail_if_derived: bool = typer.Option(
            False,
            "--fail-if-derived",
            help="Exit with code 1 when a model has an undeclared or mismatched parent (a CI gate).",
        ),
    ) -> None:
        """Fingerprint, index and search every model of LIST_OR_DIR; resumable (known content hashes are
        skipped); failures are recorded with their one-line error. Prints the findings, undeclared
        parents first."""
        from taoke.jobs.scan import collect_sources, scan
        from taoke.render.progress import reporter
        from taoke.render.registry import render_scan

        if ray_address and executor is not Executor.RAY:
            raise typer.BadParameter("needs --executor ray", param_hint="--ray-address")
        if html_dir is not None and html_dir.exists() and not html_dir.is_dir():
            raise TaokeError("--html needs a folder, and this is a file", html_dir)
        sources = collect_sources(list_or_dir)
        if not sources:
            raise TaokeError(f"{list_or_dir}: no models to scan")
        with reporter(quiet) as progress:
            result = scan(
                sources,
                db,
                executor=executor.value,
                workers=workers,
                ray_address=ray_address,
                alpha=alpha,
                progress=progress,
                exact=exact,
                cache=fingerprint_cache(no_cache),
                **({"top": top} if top is not None else {}),  # the library's shortlist size by default
            )
        emit(render_scan(result, fmt.value, lang.value), fmt, output)
        if html_dir is not None:
            write_site(html_dir, result, lang.value)
        flagged = [
            f for f in result.findings if f.finding in ("undeclared-parent", "declared-parent-mismatch")
        ]
        if fail_if_derived and flagged:
            raise GateTripped(
                f"{len(flagged)} model(s) derive from a parent they do not declare (e.g. {flagged[0].source} "
                f"from {flagged[0].relative}); failing as asked by --fail-if-derived"
            )


def write_site(folder: Path, result: object, lang: str) -> None:
    """Write the scan's HTML pages under ``folder``: each file whole (temporary name, then renamed),
    the model pages first and the index last, so an index never links to a page not yet written."""
    from taoke.render.scan_html import render_site

    pages = render_site(result, lang)
    try:
        (folder / "models").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TaokeError(f"cannot create the report folder: {exc.strerror or exc}", folder) from None
    for rel, text in sorted(pages.items(), key=lambda kv: kv[0] == "index.html"):
        write_text_atomic(folder / rel, text)
    typer.echo(f"wrote {folder / 'index.html'} and {len(pages) - 1} model pages", err=True)
