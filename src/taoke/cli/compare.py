"""``taoke compare REFERENCE SUSPECT``: calibrated weight lineage (the job :mod:`taoke.jobs.compare`)."""

from __future__ import annotations

import typer

from taoke.errors import TaokeError


class DerivedWeights(TaokeError):
    """``--fail-if-derived`` and the suspect's weights derive from the reference: exit code 1.

    Raised (after the report is printed) rather than ``typer.Exit(1)`` because the CLI entry point maps
    TaokeError subclasses to their ``exit_code`` and prints the one-line reason on stderr.
    """

    exit_code = 1


def register(app: typer.Typer) -> None:
    """Add the ``compare`` command to the taoke app."""

    @app.command("compare")
    def compare_cmd(
        reference: str = typer.Argument(
            ..., help="Reference model: folder, weight file, hub id or fingerprint."
        ),
        suspect: str = typer.Argument(..., help="Suspect model: folder, weight file, hub id or fingerprint."),
        fmt: str = typer.Option("text", "--format", "-f", help="Output format: text, json or html."),
        fail_if_derived: bool = typer.Option(
            False, "--fail-if-derived", help="Exit with code 1 when SUSPECT's weights derive from REFERENCE."
        ),
        parent: list[str] = typer.Option(
            [], "--parent", "-p", help="A candidate merge parent (repeat for each); shares are estimated."
        ),
        alpha: float = typer.Option(1e-3, "--alpha", help="Significance level for 'derived'."),
        output: str = typer.Option(
            None, "--output", "-o", help="Write the report to this file instead of stdout."
        ),
    ) -> None:
        """Did SUSPECT's weights come from REFERENCE (copied, renamed, disguised, fine-tuned, pruned,
        merged...) or did it train its own? Prints the relationship, a p-value with its null, per-layer
        matches and what was undone to align the two."""
        from taoke.jobs import compare
        from taoke.render.compare import print_compare, render_compare

        if fmt not in ("text", "json", "html"):
            raise TaokeError(f"unknown --format {fmt!r} (use text, json or html)")
        if not 0 < alpha < 1:
            raise TaokeError(f"--alpha must be in (0, 1), got {alpha}")
        result = compare(reference, suspect, parents=parent or None, alpha=alpha)
        if output:
            from pathlib import Path

            Path(output).write_text(render_compare(result, fmt) + "\n", encoding="utf-8")
        elif fmt == "text":
            print_compare(result)
        else:
            typer.echo(render_compare(result, fmt))
        if fail_if_derived and result.derived:
            raise DerivedWeights(
                f"{result.suspect} derives from {result.reference} ({result.relationship}, "
                f"log10 p = {result.log10_p_value:.1f}); failing as asked by --fail-if-derived"
            )
