"""``taoke eval``: run compare on every labelled zoo pair; confusion table, accuracy, FPR, margin."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the ``eval`` command to the taoke app."""

    @app.command("eval")
    def eval_cmd(
        manifest: str = typer.Argument(
            None, help="A manifest JSON (list of pairs); default: the built-in zoo."
        ),
        output: str = typer.Option(
            "bench/results/accuracy.json", "--output", "-o", help="Where to write JSON."
        ),
        fmt: str = typer.Option("text", "--format", "-f", help="Output format: text or json."),
        real: bool = typer.Option(
            True, "--real/--no-real", help="Include pairs that need the real PyPI models."
        ),
        calibrate: str = typer.Option(
            None,
            "--calibrate",
            metavar="OUT.json",
            help="Also refit the lineage nulls on the calibration pairs and write them to this file.",
        ),
        nulls: str = typer.Option(
            None,
            "--nulls",
            metavar="FILE",
            help="Compare the labelled pairs with these nulls (a --calibrate file) instead of the refit.",
        ),
    ) -> None:
        """Compare every zoo pair and report how often taoke is right, with the FPR on the calibration set."""
        from pathlib import Path

        from rich.console import Console

        from taoke.errors import TaokeError
        from taoke.render.common import dumps
        from taoke.render.compare import eval_renderables
        from taoke.weights import load_nulls
        from taoke.zoo.evaluation import evaluate, load_manifest

        if fmt not in ("text", "json"):
            raise TaokeError(f"unknown --format {fmt!r} (use text or json)")
        if calibrate is not None and Path(calibrate).is_dir():
            raise TaokeError(f"--calibrate {calibrate}: a directory; name the JSON file to write")
        con = Console(highlight=False, stderr=True)
        pairs = load_manifest(manifest) if manifest else None
        given = load_nulls(nulls) if nulls else None
        report = evaluate(
            pairs,
            include_real=real,
            nulls=given,
            calibrate_to=calibrate,
            progress=(lambda msg: con.print(f"[dim]{msg}[/]")) if fmt == "text" else None,
        )
        if output:
            Path(output).parent.mkdir(parents=True, exist_ok=True)
            Path(output).write_text(dumps(report) + "\n", encoding="utf-8")
        if fmt == "json":
            typer.echo(dumps(report))
            return
        out = Console(highlight=False)
        if not out.is_terminal:
            out = Console(highlight=False, width=130)
        for r in eval_renderables(report):
            out.print(r)
        if output:
            out.print(f"[dim]written {output}[/]")
        if calibrate:
            out.print(f"[dim]nulls written to {calibrate}[/]")
