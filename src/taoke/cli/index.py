"""``taoke index SOURCE... [--db URL]``: fingerprint models into a registry (see :mod:`taoke.registry`)."""

from __future__ import annotations

import typer

from taoke.errors import TaokeError

DB_HELP = (
    "Registry: a SQLite path or sqlite:///..., or postgresql://user@host/db "
    "(default: $TAOKE_REGISTRY, else ~/.cache/taoke/registry.sqlite)."
)


def register(app: typer.Typer) -> None:
    """Add the ``index`` command to the taoke app."""

    @app.command("index")
    def index_cmd(
        sources: list[str] = typer.Argument(..., help="Models: folders, weight files, hub ids."),
        db: str = typer.Option(None, "--db", help=DB_HELP),
        fmt: str = typer.Option("text", "--format", "-f", help="Output format: text or json."),
    ) -> None:
        """Fingerprint SOURCEs into the registry with their identity (name, revision, sha256 of each
        weight file, family, size, declared base model, licence). Known content is skipped; each model
        is committed on its own, so an interrupted run keeps what it finished."""
        from taoke.jobs.scan import one_line
        from taoke.registry import Registry, index_source
        from taoke.render.registry import print_renderables, render_index

        if fmt not in ("text", "json"):
            raise TaokeError(f"unknown --format {fmt!r} (use text or json)")
        rows = []
        failed = 0
        with Registry(db) as reg:
            for src in sources:
                try:
                    rec, created = index_source(reg, src)
                except TaokeError as exc:
                    if len(sources) == 1:
                        raise
                    failed += 1
                    reg.record_failure(src, one_line(exc))
                    rows.append({"source": src, "status": "failed", "error": one_line(exc)})
                    continue
                row = rec.to_dict()
                row.update(source=src, status="indexed" if created else "already indexed")
                rows.append(row)
            out = render_index(rows, fmt, reg.display_url)
        if fmt == "json":
            typer.echo(out)
        else:
            print_renderables(out)
        if failed == len(sources):
            raise TaokeError("no source could be indexed")
