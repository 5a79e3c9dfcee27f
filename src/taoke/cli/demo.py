"""``taoke demo``: compare on the zoo's own trained models, side by side (the README's first command)."""

from __future__ import annotations

import typer

DEMO = (
    ("a-yi", "renamed-copy", "Yi-style renamed copy (ln1/ln2, YiForCausalLM)"),
    ("a-obf-all", "obfuscated-copy", "permuted + rotated + rescaled copy"),
    ("a-ft-man", "fine-tuned", "fine-tuned 150 steps on man pages"),
    ("base-a2", "independent-same-architecture", "independently trained twin, same data"),
)


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to the taoke app."""

    @app.command("demo")
    def demo_cmd(
        fmt: str = typer.Option("text", "--format", "-f", help="Output format: text or json."),
    ) -> None:
        """Run ``taoke compare`` on four suspects built from the zoo's committed checkpoints: a Yi-style
        renamed copy, a disguised (permuted + rotated) copy, a fine-tune and an independent twin."""
        import time

        from rich.console import Console

        from taoke import zoo
        from taoke.compare import compare
        from taoke.errors import TaokeError
        from taoke.fingerprint import fingerprint
        from taoke.render.common import dumps
        from taoke.render.compare import demo_table

        if fmt not in ("text", "json"):
            raise TaokeError(f"unknown --format {fmt!r} (use text or json)")
        con = Console(highlight=False, stderr=True)
        t0 = time.perf_counter()
        ref = fingerprint(str(zoo.materialize("base-a")))
        rows = []
        for suspect, truth, what in DEMO:
            t = time.perf_counter()
            if fmt == "text":
                con.print(f"[dim]comparing base-a with {suspect} ({what})...[/]")
            res = compare(ref, str(zoo.materialize(suspect)))
            mapped = [m.similarity for m in res.layers if m.reference_layer is not None]
            sim = max(m.similarity for m in res.layers) if not mapped else sum(mapped) / len(mapped)
            rows.append(
                {
                    "suspect": suspect,
                    "what": what,
                    "truth": truth,
                    "relationship": res.relationship,
                    "derived": res.derived,
                    "p_value": res.p_value,
                    "log10_p_value": res.log10_p_value,
                    "similarity": sim,
                    "seconds": time.perf_counter() - t,
                    "reasons": res.reasons,
                }
            )
        if fmt == "json":
            typer.echo(dumps({"reference": "base-a", "rows": rows, "seconds": time.perf_counter() - t0}))
            return
        out = Console(highlight=False)
        if not out.is_terminal:
            out = Console(highlight=False, width=130)
        out.print(demo_table(rows))
        out.print(
            f"[dim]{time.perf_counter() - t0:.1f}s in total. Run `taoke compare A B` on your own models; "
            "`taoke eval` for the full zoo accuracy table.[/]"
        )
