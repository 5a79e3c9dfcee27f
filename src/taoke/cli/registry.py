"""``taoke registry export|import|info``: share a registry as one file."""

from __future__ import annotations

from pathlib import Path

import typer

from taoke.cli.common import DB_HELP, Format, emit, format_option, output_option


def register(app: typer.Typer) -> None:
    """Add the ``registry`` command group to the taoke app."""
    group = typer.Typer(help="Export, import and describe a registry.", no_args_is_help=True)

    @group.command("export")
    def export_cmd(
        file: str = typer.Argument(..., help="The single file to write (a SQLite database)."),
        db: str = typer.Option(None, "--db", help=DB_HELP),
        force: bool = typer.Option(False, "--force", help="Overwrite FILE if it exists."),
        fmt: Format = format_option(),
        output: Path | None = output_option(),
    ) -> None:
        """Write every model of the registry (fingerprints, identities, file hashes) to FILE."""
        from taoke.registry import Registry, export_registry

        with Registry(db, create=False) as reg:
            n = export_registry(reg, file, overwrite=force)
            done = {"registry": reg.display_url, "file": str(file), "models": n}
        _emit("registry export", done, f"exported {n} models from {done['registry']} to {file}", fmt, output)

    @group.command("import")
    def import_cmd(
        file: str = typer.Argument(..., help="A file written by `taoke registry export`."),
        db: str = typer.Option(None, "--db", help=DB_HELP),
        fmt: Format = format_option(),
        output: Path | None = output_option(),
    ) -> None:
        """Add the models of FILE that the registry lacks (by content hash); safe to repeat."""
        from taoke.registry import Registry, import_registry

        with Registry(db) as reg:
            n = import_registry(reg, file)
            done = {"registry": reg.display_url, "file": str(file), "imported": n, "models": reg.count()}
        line = f"imported {n} new models into {done['registry']} ({done['models']} in all)"
        _emit("registry import", done, line, fmt, output)

    @group.command("info")
    def info_cmd(
        db: str = typer.Option(None, "--db", help=DB_HELP),
        fmt: Format = format_option(),
        output: Path | None = output_option(),
    ) -> None:
        """Where the registry is, its schema version, size, models and recorded failures."""
        from taoke.registry import Registry
        from taoke.render.registry import render_info

        with Registry(db) as reg:
            info = {
                "registry": reg.display_url,
                "schema_version": reg.schema_version,
                "models": reg.count(),
                "size_bytes": reg.size_bytes(),
                "ann_index": str(reg.ann_path()),
                "failures": reg.failures(),
            }
        emit(render_info(info, fmt.value), fmt, output)

    app.add_typer(group, name="registry")


def _emit(command: str, done: dict, line: str, fmt: Format, output: Path | None) -> None:
    """A one-line confirmation as text (HTML: the same line), or the envelope JSON of ``command``."""
    from rich.text import Text

    from taoke.render.common import json_report

    if fmt is Format.JSON:
        emit(json_report(command, done, "done"), fmt, output)
    else:
        emit(Text(line) if fmt is Format.HTML else line, fmt, output)
