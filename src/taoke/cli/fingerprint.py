"""``taoke fingerprint MODEL -o FILE``: stream a model once and store what ``compare`` needs (a few MB)."""

from __future__ import annotations

import typer

from taoke.cli.common import (
    Format,
    device_option,
    emit,
    format_option,
    hub_spec,
    include_option,
    revision_option,
)


def register(app: typer.Typer) -> None:
    """Add the ``fingerprint`` command to the taoke app."""

    @app.command("fingerprint")
    def fingerprint_cmd(
        model: str = typer.Argument(..., help="Folder, weight file (.safetensors/.gguf/.bin) or hub id."),
        output: str = typer.Option(..., "--output", "-o", help="Fingerprint file to write (.npz)."),
        fmt: Format = format_option("Format of the summary printed on stdout."),
        revision: str | None = revision_option(),
        include: str | None = include_option(),
        device: str = device_option(),
    ) -> None:
        """Compute a model's lineage fingerprint; ``taoke compare`` accepts it in place of the model."""
        model = hub_spec(model, revision, include)
        import time
        from pathlib import Path

        from rich.text import Text

        from taoke.render.common import json_report
        from taoke.weights import fingerprint

        t0 = time.perf_counter()
        fp = fingerprint(model, device=device)
        path = fp.save(output)
        summary = {
            "name": fp.name,
            "n_layers": fp.n_layers,
            "d_model": fp.d_model,
            "anchors": len(fp.anchors),
            "path": str(path),
            "bytes": Path(path).stat().st_size,
            "seconds": time.perf_counter() - t0,
        }
        if fmt is Format.JSON:
            emit(json_report("fingerprint", summary, None), fmt)
            return
        line = Text(
            f"{fp.name}: {fp.n_layers} layers, d={fp.d_model}, {len(fp.anchors)} anchor tokens -> "
            f"{path} ({summary['bytes'] / 1e6:.2f} MB) in {summary['seconds']:.1f}s"
        )
        emit(line if fmt is Format.HTML else line.plain, fmt)  # plain: one unwrapped line
