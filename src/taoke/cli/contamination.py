"""``taoke contamination MODEL --benchmark FILE [--shuffles N] [--format text|json|html] [-o FILE]``."""

from __future__ import annotations

from pathlib import Path

import typer

from taoke.cli.common import (
    Format,
    Lang,
    emit,
    format_option,
    hub_spec,
    include_option,
    lang_option,
    output_option,
    quiet_option,
    revision_option,
)
from taoke.contamination import Settings

_DEFAULT = Settings()  # the library's defaults are the CLI's


def register(app: typer.Typer) -> None:
    """Add the ``contamination`` command to the taoke app."""

    @app.command("contamination")
    def contamination_cmd(
        model: str = typer.Argument(..., help="Release to test: folder, file (incl. GGUF), HF cache entry."),
        benchmark: Path = typer.Option(
            ..., "--benchmark", "-b", help="Benchmark file: MMLU/C-Eval/CMMLU CSV, JSONL, or plain text."
        ),
        shuffles: int = typer.Option(
            _DEFAULT.shuffles, "--shuffles", "-n", min=1, help="Shuffled item orders (min p = 1/(N+1))."
        ),
        option_orders: int = typer.Option(
            _DEFAULT.option_orders_k, "--option-orders", min=1, help="Random option orders per item."
        ),
        max_items: int = typer.Option(
            _DEFAULT.max_items, "--max-items", min=1, help="Score the first N items of the benchmark."
        ),
        seed: int = typer.Option(_DEFAULT.seed, "--seed", help="Seed of the shuffles and perturbations."),
        fmt: Format = format_option(),
        output: Path | None = output_option(),
        lang: Lang = lang_option(),
        quiet: bool = quiet_option(),
        revision: str | None = revision_option(),
        include: str | None = include_option(),
    ) -> None:
        """Was MODEL trained on this benchmark? Exact item-order and option-order permutation tests
        (Oren et al. 2023), Min-K%/Min-K%++ item scores against perturbed controls, and a conclusion."""
        model = hub_spec(model, revision, include)
        from taoke.jobs import check_contamination
        from taoke.render.contamination import render
        from taoke.render.progress import reporter

        settings = Settings(shuffles=shuffles, option_orders_k=option_orders, max_items=max_items, seed=seed)
        with reporter(quiet) as progress:
            result = check_contamination(model, benchmark, settings, progress=progress)
        emit(render(result, fmt.value, lang=lang.value), fmt, output)
