"""``taoke demo``: compare on the zoo's own trained models, side by side (the README's first command).

The table is computed by :func:`taoke.zoo.demo.demo`; this command only prints it.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to the taoke app."""

    @app.command("demo")
    def demo_cmd(
        fmt: str = typer.Option("text", "--format", "-f", help="Output format: text or json."),
    ) -> None:
        """Run ``taoke compare`` on four suspects built from the zoo's committed checkpoints: a Yi-style
        renamed copy, a disguised (permuted + rotated) copy, a fine-tune and an independent twin."""
        from rich.console import Console

        from taoke.errors import TaokeError
        from taoke.render.common import dumps
        from taoke.render.compare import demo_table
        from taoke.zoo.demo import demo

        if fmt not in ("text", "json"):
            raise TaokeError(f"unknown --format {fmt!r} (use text or json)")
        con = Console(highlight=False, stderr=True)
        result = demo(progress=(lambda msg: con.print(f"[dim]{msg}[/]")) if fmt == "text" else None)
        if fmt == "json":
            typer.echo(dumps(result))
            return
        out = Console(highlight=False)
        if not out.is_terminal:
            out = Console(highlight=False, width=130)
        out.print(demo_table(result))
        out.print(
            f"[dim]{result.seconds:.1f}s in total. Run `taoke compare A B` on your own models; "
            "`taoke eval` for the full zoo accuracy table.[/]"
        )
