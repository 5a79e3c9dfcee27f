"""``taoke inspect SOURCE``: say exactly what a release is (files, size, family, roles, findings)."""

from __future__ import annotations

import typer

from taoke.errors import TaokeError


def register(app: typer.Typer) -> None:
    """Add the ``inspect`` command to the taoke app."""

    @app.command("inspect")
    def inspect_cmd(
        source: str = typer.Argument(
            ...,
            help="Folder, weight file (.safetensors/.gguf/.bin), HF cache entry or hub id org/name[@rev].",
        ),
        fmt: str = typer.Option("text", "--format", "-f", help="Output format: text or json."),
        verify: bool = typer.Option(
            False,
            "--verify",
            help="Also read (dequantize) every tensor and check that all values are finite.",
        ),
    ) -> None:
        """Files, formats, parameter count, architecture family, the role of every tensor, tokenizer,
        licence, custom code, and every finding of the architecture and claims analyzers."""
        from taoke.jobs import inspect
        from taoke.render.inspect import render_inspect

        if fmt not in ("text", "json"):
            raise TaokeError(f"unknown --format {fmt!r} (use text or json)")
        result = inspect(source, verify=verify)
        text = render_inspect(result, fmt)
        if text is not None:
            typer.echo(text)
