"""``taoke audit SOURCE [--against REF ...] [--benchmark FILE ...] [--format text|json|html] [--lang en|zh]
[-o FILE]``."""

from __future__ import annotations

from pathlib import Path

import typer

from taoke.errors import TaokeError
from taoke.render.common import FORMATS


def register(app: typer.Typer) -> None:
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
        fmt: str = typer.Option("text", "--format", "-f", help="text | json | html"),
        lang: str = typer.Option("en", "--lang", help="en | zh"),
        output: Path | None = typer.Option(None, "--output", "-o", help="Write the report to FILE."),
    ) -> None:
        """One report on a release: declared vs measured lineage, code lineage, claims, licence
        obligations and openness, each with its evidence."""
        from taoke.jobs import audit
        from taoke.render.audit import render

        if fmt not in FORMATS:
            raise TaokeError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        if lang not in ("en", "zh"):
            raise TaokeError(f"--lang must be en or zh, not {lang!r}")
        report = audit(source, against=against, lang=lang, benchmarks=benchmark)
        text = render(report, fmt, lang)
        if output is not None:
            try:
                output.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise TaokeError(f"cannot write report: {exc.strerror or exc}", output) from None
            typer.echo(f"wrote {output}")
        else:
            typer.echo(text, nl=not text.endswith("\n"))
