"""``taoke inspect SOURCE``: say exactly what a release is (files, size, family, roles, findings)."""

from __future__ import annotations

from pathlib import Path

import typer

from taoke.cli.common import (
    Format,
    emit,
    format_option,
    hub_spec,
    include_option,
    output_option,
    revision_option,
)


def register(app: typer.Typer) -> None:
    """Add the ``inspect`` command to the taoke app."""

    @app.command("inspect")
    def inspect_cmd(
        source: str = typer.Argument(
            ...,
            help="Folder, weight file (.safetensors/.gguf/.bin), HF cache entry or hub id org/name[@rev].",
        ),
        fmt: Format = format_option(),
        verify: bool = typer.Option(
            False,
            "--verify",
            help="Also read (dequantize) every tensor and check that all values are finite.",
        ),
        metadata: bool = typer.Option(
            False,
            "--metadata",
            help="Also list every GGUF key/value, safetensors metadata, config.json and model-card field "
            "(long arrays and strings summarised), and every tensor's shape with its axis order.",
        ),
        output: Path | None = output_option(),
        revision: str | None = revision_option(),
        include: str | None = include_option(),
    ) -> None:
        """Files, formats, parameter count, architecture family, the role of every tensor, tokenizer,
        licence, custom code, and every finding of the architecture and claims analyzers."""
        source = hub_spec(source, revision, include)
        from taoke.jobs import inspect
        from taoke.render.inspect import WIDTH, render_inspect

        result = inspect(source, verify=verify, metadata=metadata)
        emit(render_inspect(result, fmt.value), fmt, output, width=WIDTH)
