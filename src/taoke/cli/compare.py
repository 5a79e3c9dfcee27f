"""``taoke compare REFERENCE SUSPECT``: calibrated weight lineage (see :mod:`taoke.weights`)."""

from __future__ import annotations

from pathlib import Path

import typer

from taoke.cli.common import (
    Format,
    Lang,
    alpha_option,
    device_option,
    emit,
    fingerprint_cache,
    format_option,
    lang_option,
    no_cache_option,
    output_option,
    quiet_option,
)
from taoke.defaults import DEFAULT_ALPHA
from taoke.errors import TaokeError, Untestable


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
        fmt: Format = format_option(),
        fail_if_derived: bool = typer.Option(
            False, "--fail-if-derived", help="Exit with code 1 when SUSPECT's weights derive from REFERENCE."
        ),
        parent: list[str] = typer.Option(
            [], "--parent", "-p", help="A candidate merge parent (repeat for each); shares are estimated."
        ),
        relative: list[str] = typer.Option(
            [],
            "--relative",
            "-r",
            help="A model that may sit between the two, e.g. the base two fine-tunes came from (repeat "
            "for each): a fine-tune read through it is shares-ancestor, not a parent.",
        ),
        alpha: float = alpha_option(DEFAULT_ALPHA, "Significance level for 'derived'."),
        output: Path | None = output_option(),
        lang: Lang = lang_option(),
        quiet: bool = quiet_option(),
        no_cache: bool = no_cache_option(),
        device: str = device_option(),
    ) -> None:
        """Did SUSPECT's weights come from REFERENCE (copied, renamed, disguised, fine-tuned, pruned,
        merged...) or did it train its own? Prints the relationship, a p-value with its null, per-layer
        matches and what was undone to align the two. Exit code 3 when the pair is untestable."""
        from taoke.jobs import compare
        from taoke.render.compare import render_compare
        from taoke.render.progress import reporter

        with reporter(quiet) as progress:
            result = compare(
                reference,
                suspect,
                parents=parent or None,
                relatives=relative or None,
                alpha=alpha,
                progress=progress,
                cache=fingerprint_cache(no_cache),
                device=device,
            )
        emit(render_compare(result, fmt.value, lang.value), fmt, output)
        if not result.relationship.tested:
            raise Untestable(
                f"{result.suspect} vs {result.reference}: untestable, no lineage statistic applies "
                f"({'; '.join(result.reasons[:1])})"
            )
        if fail_if_derived and result.derived:
            raise DerivedWeights(
                f"{result.suspect} derives from {result.reference} ({result.relationship}, "
                f"log10 p = {result.log10_p_value:.1f}); failing as asked by --fail-if-derived"
            )
