"""``taoke audit SOURCE [--against REF ...] [--benchmark FILE ...] [--format text|json|html] [--lang en|zh]
[-o FILE]``."""

from __future__ import annotations

from pathlib import Path

import typer

from taoke.cli.common import Format, Lang, emit, format_option, lang_option, output_option


def register(app: typer.Typer) -> None:
    """Add the ``audit`` command to the taoke app."""

    @app.command("audit")
    def audit_cmd(
        source: str = typer.Argument(..., help="Release: folder, file, HF cache entry or hub id."),
        against: list[str] = typer.Option(
            [],
            "--against",
            "-a",
            help="Reference release to compare weights and tokenizer with (repeatable).",
        ),
        benchmark: list[Path] = typer.Option(
            [],
            "--benchmark",
            "-b",
            help="Benchmark file (CSV/JSONL/text) to test the card's scores for contamination (repeatable).",
        ),
        fmt: Format = format_option(),
        lang: Lang = lang_option(),
        output: Path | None = output_option(),
    ) -> None:
        """One report on a release: declared vs measured lineage, code lineage, claims, licence
        obligations and openness, each with its evidence."""
        from taoke.jobs import audit
        from taoke.render.audit import render

        report = audit(source, against=against, lang=lang.value, benchmarks=benchmark)
        emit(render(report, fmt.value, lang.value), fmt, output)
