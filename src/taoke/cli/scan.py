"""``taoke scan LIST_OR_DIR``: index and search many models in parallel (see :mod:`taoke.jobs.scan`)."""

from __future__ import annotations

import sys

import typer

from taoke.cli.index import DB_HELP
from taoke.errors import TaokeError


def register(app: typer.Typer) -> None:
    """Add the ``scan`` command to the taoke app."""

    @app.command("scan")
    def scan_cmd(
        list_or_dir: str = typer.Argument(
            ..., help="A file listing sources (one a line) or a folder of models."
        ),
        executor: str = typer.Option("local", "--executor", "-e", help="local (processes) or ray."),
        ray_address: str = typer.Option(
            None, "--ray-address", help="Ray cluster address (default: local Ray)."
        ),
        workers: int = typer.Option(None, "--workers", "-w", help="Parallel workers (default: CPU count)."),
        db: str = typer.Option(None, "--db", help=DB_HELP),
        top: int = typer.Option(5, "--top", "-k", help="Candidates compared in full per model."),
        alpha: float = typer.Option(1e-3, "--alpha", help="Family-wise significance level (Holm)."),
        fmt: str = typer.Option("text", "--format", "-f", help="Output format: text or json."),
        exact: bool = typer.Option(
            False, "--exact", help="Shortlist by scanning every registered vector (see taoke search --exact)."
        ),
    ) -> None:
        """Fingerprint, index and search every model of LIST_OR_DIR; resumable (known content hashes are
        skipped); failures are recorded with their one-line error. Prints the findings, undeclared
        parents first."""
        from taoke.jobs.scan import EXECUTORS, collect_sources, scan
        from taoke.render.registry import print_renderables, render_scan

        if fmt not in ("text", "json"):
            raise TaokeError(f"unknown --format {fmt!r} (use text or json)")
        if executor not in EXECUTORS:
            raise TaokeError(f"unknown --executor {executor!r} (use {' or '.join(EXECUTORS)})")
        if ray_address and executor != "ray":
            raise TaokeError("--ray-address needs --executor ray")
        if workers is not None and workers < 1:
            raise TaokeError(f"--workers must be at least 1, got {workers}")
        sources = collect_sources(list_or_dir)
        if not sources:
            raise TaokeError(f"{list_or_dir}: no models to scan")
        result = scan(
            sources,
            db,
            executor=executor,
            workers=workers,
            ray_address=ray_address,
            top=top,
            alpha=alpha,
            progress=sys.stderr.isatty(),
            exact=exact,
        )
        out = render_scan(result, fmt)
        if fmt == "json":
            typer.echo(out)
        else:
            print_renderables(out)
