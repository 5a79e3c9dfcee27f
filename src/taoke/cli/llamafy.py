"""``taoke llamafy SOURCE OUT``: rewrite a renamed/fused LLaMA-family release as canonical HF Llama."""

from __future__ import annotations

from pathlib import Path

import typer

from taoke.cli.common import Format, emit, format_option, output_option


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
        shard_gb: float = typer.Option(
            None,
            "--shard-gb",
            min=1e-6,
            help="Largest safetensors shard in GiB (default: llamafy's DEFAULT_SHARD_BYTES).",
        ),
        fmt: Format = format_option(),
        output: Path | None = output_option(),
    ) -> None:
        """Write OUT as LlamaForCausalLM safetensors + config.json (+ tokenizer and licence files), then
        verify every tensor bit for bit against its source slice and, with torch installed, the logits."""
        from taoke.jobs import llamafy
        from taoke.render.inspect import WIDTH, render_llamafy

        result = llamafy(
            source,
            out,
            force=force,
            verify_logits=None if logits else False,
            shard_bytes=None if shard_gb is None else int(shard_gb * 1024**3),  # None: the library's
        )
        emit(render_llamafy(result, fmt.value), fmt, output, width=WIDTH)
