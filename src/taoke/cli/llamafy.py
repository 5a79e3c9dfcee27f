"""``taoke llamafy SOURCE OUT``: rewrite a renamed/fused LLaMA-family release as canonical HF Llama."""

from __future__ import annotations

import typer

from taoke.errors import TaokeError


def register(app: typer.Typer) -> None:
    """Add the ``llamafy`` command to the taoke app."""

    @app.command("llamafy")
    def llamafy_cmd(
        source: str = typer.Argument(
            ..., help="A LLaMA-family release (Yi-style renamed, Baichuan W_pack, GGUF)."
        ),
        out: str = typer.Argument(..., help="Output folder (must not exist unless --force)."),
        force: bool = typer.Option(False, "--force", help="Replace OUT if it exists."),
        logits: bool = typer.Option(
            True,
            "--logits/--no-logits",
            help="Compare transformers' logits with a reference forward (torch extra).",
        ),
        shard_gb: float = typer.Option(2.0, "--shard-gb", help="Maximum safetensors shard size in GiB."),
        fmt: str = typer.Option("text", "--format", "-f", help="Output format: text or json."),
    ) -> None:
        """Write OUT as LlamaForCausalLM safetensors + config.json (+ tokenizer and licence files), then
        verify every tensor bit for bit against its source slice and, with torch installed, the logits."""
        from taoke.jobs import llamafy
        from taoke.render.inspect import render_llamafy

        if fmt not in ("text", "json"):
            raise TaokeError(f"unknown --format {fmt!r} (use text or json)")
        if shard_gb <= 0:
            raise TaokeError("--shard-gb must be positive")
        result = llamafy(
            source,
            out,
            force=force,
            verify_logits=None if logits else False,
            shard_bytes=int(shard_gb * 1024**3),
        )
        text = render_llamafy(result, fmt)
        if text is not None:
            typer.echo(text)
