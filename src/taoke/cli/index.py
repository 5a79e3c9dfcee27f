"""``taoke index SOURCE... [--db URL]``: fingerprint models into a registry (see :mod:`taoke.registry`)."""

from __future__ import annotations

from pathlib import Path

import typer

from taoke.cli.common import (
    DB_HELP,
    Format,
    SomeInputsFailed,
    emit,
    fingerprint_cache,
    format_option,
    no_cache_option,
    output_option,
    quiet_option,
)
from taoke.errors import TaokeError


def register(app: typer.Typer) -> None:
    """Add the ``index`` command to the taoke app."""

    @app.command("index")
    def index_cmd(
        sources: list[str] = typer.Argument(..., help="Models: folders, weight files, hub ids."),
        db: str = typer.Option(None, "--db", help=DB_HELP),
        fmt: Format = format_option(),
        output: Path | None = output_option(),
        quiet: bool = quiet_option(),
        no_cache: bool = no_cache_option(),
    ) -> None:
        """Fingerprint SOURCEs into the registry with their identity (name, revision, sha256 of each
        weight file, family, size, declared base model, licence). Known content is skipped; each model
        is committed on its own, so an interrupted run keeps what it finished."""
        from taoke.jobs.scan import one_line
        from taoke.registry import Registry, index_source
        from taoke.render.progress import reporter
        from taoke.render.registry import render_index

        rows = []
        failed = 0
        with reporter(quiet) as progress, Registry(db, progress=progress) as reg:
            reg.fingerprint_cache = fingerprint_cache(no_cache)
            for i, src in enumerate(sources, 1):
                try:
                    rec, created = index_source(reg, src)
                except TaokeError as exc:
                    if len(sources) == 1:
                        raise
                    failed += 1
                    reg.record_failure(src, one_line(exc))
                    rows.append({"source": src, "status": "failed", "error": one_line(exc)})
                    progress("index", i, len(sources), item=f"{src} failed")
                    continue
                row = rec.to_dict()
                row.update(source=src, status="indexed" if created else "already indexed")
                rows.append(row)
                progress("index", i, len(sources), item=src)
            out = render_index(rows, fmt.value, reg.display_url)
        emit(out, fmt, output)
        if failed == len(sources):
            raise TaokeError("no source could be indexed")
        if failed:
            raise SomeInputsFailed(
                f"{failed} of {len(sources)} sources could not be indexed (see the report)"
            )
