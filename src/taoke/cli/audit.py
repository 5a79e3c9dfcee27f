"""``taoke audit SOURCE [--against REF ...] [--benchmark FILE ...] [--evidence FILE]
[--code-reference DIR|VERSION] [--format text|json|html] [--lang en|zh] [-o FILE]``."""

from __future__ import annotations

import enum
from pathlib import Path

import typer

from taoke.cli.common import (
    Format,
    GateTripped,
    Lang,
    emit,
    fingerprint_cache,
    format_option,
    hub_spec,
    include_option,
    lang_option,
    no_cache_option,
    output_option,
    quiet_option,
    revision_option,
)


class FailOn(str, enum.Enum):
    """``--fail-on``: the severity from which a headline finding fails the run."""

    HIGH = "high"
    MEDIUM = "medium"


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
        evidence: Path | None = typer.Option(
            None,
            "--evidence",
            help="JSON/YAML file of links and statements for the openness dimensions that need evidence "
            "from outside the release (training data, training code, paper...): {dimension: {class, link, "
            "statement}}.",
        ),
        code_reference: str | None = typer.Option(
            None,
            "--code-reference",
            metavar="DIR|VERSION",
            help="Trace the release's .py files against this transformers instead of the installed one: "
            "a source tree (pip install --no-deps --target DIR transformers==4.36.2) or a release such as "
            "4.36.2, fetched from PyPI into taoke's cache. For code written against an older transformers "
            "(the audit says so when config.json names one).",
        ),
        fmt: Format = format_option(),
        lang: Lang = lang_option(),
        output: Path | None = output_option(),
        fail_on: FailOn = typer.Option(
            None,
            "--fail-on",
            case_sensitive=False,
            help="Exit with code 1 when a headline finding is this severe or worse (a CI gate).",
        ),
        revision: str | None = revision_option(),
        include: str | None = include_option(),
        no_cache: bool = no_cache_option(),
        quiet: bool = quiet_option(),
    ) -> None:
        """One report on a release: declared vs measured lineage, code lineage, claims, licence
        obligations and openness, each with its evidence."""
        source = hub_spec(source, revision, include)
        from taoke.jobs import audit
        from taoke.render.audit import render
        from taoke.render.progress import reporter

        with reporter(quiet) as progress:
            report = audit(
                source,
                against=against,
                lang=lang.value,
                benchmarks=benchmark,
                cache=fingerprint_cache(no_cache),
                evidence=evidence,
                code_reference=code_reference,
                progress=progress,
            )
        emit(render(report, fmt.value, lang.value), fmt, output)
        if fail_on is not None:
            worst = {"high": 0, "medium": 1}
            hit = [e for e in report.headline_findings if worst.get(e.severity, 9) <= worst[fail_on.value]]
            if hit:
                raise GateTripped(
                    f"{len(hit)} headline finding(s) at {fail_on.value} or worse (e.g. {hit[0].message}); "
                    "failing as asked by --fail-on"
                )
