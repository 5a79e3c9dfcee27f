"""``taoke fingerprint MODEL -o FILE``: stream a model once and store what ``compare`` needs (a few MB)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the ``fingerprint`` command to the taoke app."""

    @app.command("fingerprint")
    def fingerprint_cmd(
        model: str = typer.Argument(..., help="Folder, weight file (.safetensors/.gguf/.bin) or hub id."),
        output: str = typer.Option(..., "--output", "-o", help="Fingerprint file to write (.npz)."),
    ) -> None:
        """Compute a model's lineage fingerprint; ``taoke compare`` accepts it in place of the model."""
        import time
        from pathlib import Path

        from taoke.weights import fingerprint

        t0 = time.perf_counter()
        fp = fingerprint(model)
        path = fp.save(output)
        size = Path(path).stat().st_size
        typer.echo(
            f"{fp.name}: {fp.n_layers} layers, d={fp.d_model}, {len(fp.anchors)} anchor tokens -> "
            f"{path} ({size / 1e6:.2f} MB) in {time.perf_counter() - t0:.1f}s"
        )
