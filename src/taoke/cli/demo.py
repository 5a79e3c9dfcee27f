"""``taoke demo``: compare on the zoo's own trained models, side by side (the README's first command)."""

from __future__ import annotations

from pathlib import Path

import typer

from taoke.cli.common import Format, emit, format_option, output_option, quiet_option

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
        fmt: Format = format_option(),
        output: Path | None = output_option(),
        quiet: bool = quiet_option(),
    ) -> None:
        """Run ``taoke compare`` on four suspects built from the zoo's committed checkpoints: a Yi-style
        renamed copy, a disguised (permuted + rotated) copy, a fine-tune and an independent twin."""
        import time

        from rich.text import Text

        from taoke import zoo
        from taoke.compare import compare
        from taoke.fingerprint import fingerprint
        from taoke.render.common import dumps
        from taoke.render.compare import demo_table
        from taoke.render.progress import reporter

        t0 = time.perf_counter()
        rows = []
        with reporter(quiet) as progress:
            progress("demo", 0, len(DEMO), item="fingerprinting base-a")
            ref = fingerprint(str(zoo.materialize("base-a")))
            for i, (suspect, truth, what) in enumerate(DEMO, 1):
                t = time.perf_counter()
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
                progress("demo", i, len(DEMO), item=f"compared base-a with {suspect} ({what})")
        seconds = time.perf_counter() - t0
        if fmt is Format.JSON:
            emit(dumps({"reference": "base-a", "rows": rows, "seconds": seconds}), fmt, output)
            return
        note = Text(
            f"{seconds:.1f}s in total. Run `taoke compare A B` on your own models; "
            "`taoke eval` for the full zoo accuracy table.",
            style="dim",
        )
        emit([demo_table(rows), note], fmt, output, width=130)
