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
        calibrate: Path | None = typer.Option(
            None,
            "--calibrate",
            metavar="OUT.json",
            help="Also refit the lineage nulls on the calibration pairs and write them to this file.",
        ),
        nulls: Path | None = typer.Option(
            None,
            "--nulls",
            metavar="FILE",
            help="Compare the labelled pairs with these nulls (a --calibrate file) instead of the refit.",
        ),
        oracle_parents: bool = typer.Option(
            False,
            "--oracle-parents",
            help="Give compare each merge pair's true parents (the old protocol); by default merge "
            "parents are found in the zoo's trained checkpoints, as a user without the answer would.",
        ),
        quiet: bool = quiet_option(),
    ) -> None:
        """Compare every zoo pair and report how often taoke is right, with the FPR on the calibration set."""
        from taoke.errors import TaokeError
        from taoke.render.common import json_report
        from taoke.render.compare import eval_renderables
        from taoke.render.progress import reporter
        from taoke.weights import load_nulls
        from taoke.zoo.evaluation import evaluate, load_manifest

        if calibrate is not None and calibrate.is_dir():
            raise TaokeError(f"--calibrate {calibrate}: a directory; name the JSON file to write")
        pairs = load_manifest(manifest) if manifest else None
        given = load_nulls(nulls) if nulls else None
        with reporter(quiet) as progress:
            report = evaluate(
                pairs,
                include_real=real,
                nulls=given,
                calibrate_to=calibrate,
                progress=progress,
                sweep=pairs is None,
                widths=pairs is None,  # the per-width FPR belongs to the built-in zoo's evaluation
                oracle_parents=oracle_parents,
            )
        if fmt is Format.JSON:
            emit(json_report("eval", report, None), fmt, output)
        else:
            emit(eval_renderables(report), fmt, output, width=130)
