"""``taoke search SOURCE``: nearest relatives in the registry (ANN shortlist + full compare, Holm)."""

from __future__ import annotations

from pathlib import Path

import typer

from taoke.cli.common import (
    DB_HELP,
    Format,
    GateTripped,
    alpha_option,
    emit,
    fail_if_derived_option,
    fingerprint_cache,
    format_option,
    hub_spec,
    include_option,
    no_cache_option,
    output_option,
    quiet_option,
    revision_option,
)
from taoke.defaults import DEFAULT_ALPHA
from taoke.errors import TaokeError


def register(app: typer.Typer) -> None:
    """Add the ``search`` command to the taoke app."""

    @app.command("search")
    def search_cmd(
        source: str = typer.Argument(
            ..., help="Model to look up: folder, weight file, hub id or fingerprint."
        ),
        top: int = typer.Option(
            None,
            "--top",
            "-k",
            min=1,
            help="Candidates shortlisted and compared in full (default: the registry search's).",
        ),
        db: str = typer.Option(None, "--db", help=DB_HELP),
        fmt: Format = format_option(),
        alpha: float = alpha_option(DEFAULT_ALPHA, "Family-wise significance level (Holm)."),
        ef: int = typer.Option(
            None,
            "--ef",
            min=1,
            help="Search the ANN graph with this breadth (higher finds more, costs more). Default: an "
            "exact scan up to 1,000,000 models, then the graph at ef 2048, x4 per decade; "
            "env TAOKE_ANN_EF.",
        ),
        exact: bool = typer.Option(
            False,
            "--exact",
            help="Shortlist by scanning every registered vector, at any registry size: linear "
            "(~31 ms at 1M models on 2 cores) but cannot miss a weakly related candidate.",
        ),
        correction: str = typer.Option(
            "registry",
            "--correction",
            help="Family Holm adjusts over: 'registry' (every registered model; those not compared "
            "count as p = 1: controls the error over the registry) or 'selection' (only the models "
            "compared: conditional on a shortlist chosen from the same invariants).",
        ),
        output: Path | None = output_option(),
        quiet: bool = quiet_option(),
        no_cache: bool = no_cache_option(),
        fail_if_derived: bool = fail_if_derived_option(),
        revision: str | None = revision_option(),
        include: str | None = include_option(),
    ) -> None:
        """Which registered model is SOURCE derived from, if any? Shortlists TOP candidates by an
        approximate-nearest-neighbour index, compares each in full, and reports the relationship,
        p-value (Holm over the whole registry, or the selection with --correction) and evidence;
        'no significant relative' when none passes ALPHA."""
        source = hub_spec(source, revision, include)
        from taoke.registry import Registry, search
        from taoke.registry.search import Correction

        if correction not in {c.value for c in Correction}:
            raise typer.BadParameter("--correction is 'registry' or 'selection'")
        from taoke.render.progress import reporter
        from taoke.render.registry import render_search

        with reporter(quiet) as progress, Registry(db, progress=progress, create=False) as reg:
            reg.fingerprint_cache = fingerprint_cache(no_cache)
            if reg.count() == 0:
                raise TaokeError(f"the registry {reg.display_url} is empty: run `taoke index` first")
            kwargs = {"top": top} if top is not None else {}  # the library's shortlist size by default
            result = search(
                reg, source, alpha=alpha, ef=ef, exact=exact, correction=Correction(correction), **kwargs
            )
        emit(render_search(result, fmt.value), fmt, output)
        found = [h for h in result.hits if h.significant and h.derived]
        if fail_if_derived and found:
            raise GateTripped(
                f"{source} derives from {found[0].record.name} ({found[0].relationship}); "
                "failing as asked by --fail-if-derived"
            )
