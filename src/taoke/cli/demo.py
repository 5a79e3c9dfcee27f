"""``taoke demo``: compare on the zoo's own trained models, side by side (the README's first command).

The table is computed by :func:`taoke.zoo.demo.demo`; this command only prints it.
"""

from __future__ import annotations

from pathlib import Path

import typer

from taoke.cli.common import Format, emit, format_option, output_option, quiet_option


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to the taoke app."""

    @app.command("demo")
    def demo_cmd(
        fmt: Format = format_option(),
        output: Path | None = output_option(),
        quiet: bool = quiet_option(),
    ) -> None:
        """Run ``taoke compare`` on four suspects built from the zoo's committed checkpoints: a Yi-style
        renamed copy, a disguised (permuted + rotated) copy, a fine-tune and an independent twin."""
        from rich.text import Text

        from taoke.render.common import json_report
        from taoke.render.compare import demo_table
        from taoke.render.progress import reporter
        from taoke.zoo.demo import demo

        with reporter(quiet) as progress:
            result = demo(progress=progress)
        if fmt is Format.JSON:
            right = sum(1 for row in result.rows if row.correct)
            emit(json_report("demo", result, f"{right}/{len(result.rows)} right"), fmt, output)
            return
        note = Text(
            f"{result.seconds:.1f}s in total. Run `taoke compare A B` on your own models; "
            "`taoke eval` for the full zoo accuracy table.",
            style="dim",
        )
        emit([demo_table(result), note], fmt, output, width=130)
