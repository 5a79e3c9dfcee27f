"""``taoke eval``: run compare on every labelled zoo pair; confusion table, accuracy, FPR, margin."""

from __future__ import annotations

from pathlib import Path

import typer

from taoke.cli.common import Format, emit, format_option, output_option, quiet_option


def register(app: typer.Typer) -> None:
    """Add the ``eval`` command to the taoke app."""

    @app.command("eval")
    def eval_cmd(
        manifest: str = typer.Argument(
            None, help="A manifest JSON (list of pairs); default: the built-in zoo."
        ),
        output: Path | None = output_option(),
        fmt: Format = format_option(),
        real: bool = typer.Option(
            True, "--real/--no-real", help="Include pairs that need the real PyPI models."
        ),
        calibrate: bool = typer.Option(
            False, "--calibrate", help="Refit the basis-free null on the calibration pairs and save it."
        ),
        quiet: bool = quiet_option(),
    ) -> None:
        """Compare every zoo pair and report how often taoke is right, with the FPR on the calibration set."""
        import itertools

        from taoke.analyzers.weights.evaluation import evaluate, load_manifest
        from taoke.render.common import dumps
        from taoke.render.compare import eval_renderables
        from taoke.render.progress import reporter

        pairs = load_manifest(manifest) if manifest else None
        with reporter(quiet) as progress:
            steps = itertools.count(1)  # evaluate() tells each step, not how many there are
            report = evaluate(
                pairs,
                include_real=real,
                calibrate=calibrate,
                progress=lambda msg: progress("zoo evaluation", next(steps), None, item=msg),
            )
        if fmt is Format.JSON:
            emit(dumps(report), fmt, output)
        else:
            emit(eval_renderables(report), fmt, output, width=130)
