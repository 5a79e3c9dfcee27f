"""``taoke tokenizer compare|identify|add``: tokenizer lineage from the command line.

A thin shell over :mod:`taoke.tokenizers` and :mod:`taoke.analyzers.tokenizer`; errors are TaokeErrors
that ``taoke.cli.main`` prints as one line (exit code 2).
"""

from __future__ import annotations

from pathlib import Path

import typer

from taoke.cli.common import Format, emit, format_option, output_option


def register(app: typer.Typer) -> None:
    """Add the ``tokenizer`` sub-app (compare, identify, add) to the taoke app."""
    sub = typer.Typer(
        name="tokenizer",
        help="Tokenizer lineage: compare two vocabularies, identify a known one, add to your library.",
        no_args_is_help=True,
    )

    @sub.command("compare")
    def compare_cmd(
        a: str = typer.Argument(
            ..., help="Reference: tokenizer file, release folder or hub id in the cache."
        ),
        b: str = typer.Argument(..., help="Suspect: tokenizer file, release folder or hub id in the cache."),
        fmt: Format = format_option(),
        output: Path | None = output_option(),
        behaviour: bool = typer.Option(
            True,
            "--behaviour/--no-behaviour",
            help="Also encode sample texts with both (data-only encoders).",
        ),
    ) -> None:
        """Identical, reordered, extends, subset, partial overlap or unrelated, with the numbers behind it."""
        from taoke.analyzers.tokenizer import compare_evidence
        from taoke.render.tokenizer import WIDTH, render_compare
        from taoke.tokenizers import compare_tokenizers, load_tokenizer

        comp = compare_tokenizers(load_tokenizer(a), load_tokenizer(b), behaviour=behaviour)
        emit(render_compare(comp, compare_evidence(comp), fmt.value), fmt, output, width=WIDTH)

    @sub.command("identify")
    def identify_cmd(
        source: str = typer.Argument(..., help="Tokenizer file, release folder or hub id in the cache."),
        top: int = typer.Option(5, "--top", "-k", min=1, max=100, help="How many known tokenizers to list."),
        fmt: Format = format_option(),
        output: Path | None = output_option(),
    ) -> None:
        """The nearest known tokenizers (shipped library + yours), with overlap and extension figures."""
        from taoke.analyzers.tokenizer import identify_evidence
        from taoke.render.tokenizer import WIDTH, render_identify
        from taoke.tokenizers import identify, load_tokenizer

        res = identify(load_tokenizer(source), top=top)
        emit(render_identify(res, identify_evidence(res), fmt.value), fmt, output, width=WIDTH)

    @sub.command("add")
    def add_cmd(
        source: str = typer.Argument(..., help="Tokenizer file, release folder or hub id in the cache."),
        name: str = typer.Option(..., "--name", "-n", help="Name to list it under."),
        family: str = typer.Option(None, "--family", help="Family (defaults to the name)."),
        fmt: Format = format_option(),
        output: Path | None = output_option(),
    ) -> None:
        """Add a tokenizer to your library ($TAOKE_CACHE_DIR/tokenizers/library.json) for identify."""
        from taoke.render.tokenizer import WIDTH, render_added
        from taoke.tokenizers import load_tokenizer
        from taoke.tokenizers.library import add_to_user_library, user_library_path

        entry = add_to_user_library(load_tokenizer(source), name=name, family=family)
        emit(render_added(entry, user_library_path(), fmt.value), fmt, output, width=WIDTH)

    app.add_typer(sub, name="tokenizer")
