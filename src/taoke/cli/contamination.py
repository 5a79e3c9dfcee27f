"""``taoke contamination MODEL --benchmark FILE [--shuffles N] [--format text|json|html] [-o FILE]``."""

from __future__ import annotations

from pathlib import Path

import typer

from taoke.errors import TaokeError
from taoke.render.common import FORMATS


def register(app: typer.Typer) -> None:
    """Add the ``contamination`` command to the taoke app."""

    @app.command("contamination")
    def contamination_cmd(
        model: str = typer.Argument(..., help="Release to test: folder, file (incl. GGUF), HF cache entry."),
        benchmark: Path = typer.Option(
            ..., "--benchmark", "-b", help="Benchmark file: MMLU/C-Eval/CMMLU CSV, JSONL, or plain text."
        ),
        shuffles: int = typer.Option(99, "--shuffles", "-n", help="Shuffled item orders (min p = 1/(N+1))."),
        option_orders: int = typer.Option(5, "--option-orders", help="Random option orders per item."),
        max_items: int = typer.Option(200, "--max-items", help="Score the first N items of the benchmark."),
        seed: int = typer.Option(0, "--seed", help="Seed of the shuffles and perturbations."),
        fmt: str = typer.Option("text", "--format", "-f", help="text | json | html"),
        output: Path | None = typer.Option(None, "--output", "-o", help="Write the report to FILE."),
    ) -> None:
        """Was MODEL trained on this benchmark? Exact item-order and option-order permutation tests
        (Oren et al. 2023), Min-K%/Min-K%++ item scores against perturbed controls, and a conclusion."""
        if fmt not in FORMATS:
            raise TaokeError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        if shuffles < 1 or option_orders < 1 or max_items < 1:
            raise TaokeError("--shuffles, --option-orders and --max-items must be at least 1")
        from taoke.contamination import Settings
        from taoke.jobs import check_contamination
        from taoke.render.contamination import render

        settings = Settings(shuffles=shuffles, option_orders_k=option_orders, max_items=max_items, seed=seed)
        result = check_contamination(model, benchmark, settings)
        text = render(result, fmt)
        if output is not None:
            try:
                output.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise TaokeError(f"cannot write report: {exc.strerror or exc}", output) from None
            typer.echo(f"wrote {output}")
        else:
            typer.echo(text, nl=not text.endswith("\n"))
