"""``taoke llamafy SOURCE OUT``: rewrite a renamed/fused LLaMA-family release as canonical HF Llama."""

from __future__ import annotations

import enum
from pathlib import Path

import typer

from taoke.cli.common import (
    Format,
    emit,
    format_option,
    hub_spec,
    include_option,
    output_option,
    quiet_option,
    revision_option,
)


class OutDtype(str, enum.Enum):
    """``--dtype`` of llamafy (see :data:`taoke.jobs.llamafy.DTYPES`)."""

    AUTO = "auto"
    FLOAT32 = "float32"
    FLOAT16 = "float16"
    BFLOAT16 = "bfloat16"


def register(app: typer.Typer) -> None:
    """Add the ``llamafy`` command to the taoke app."""

    @app.command("llamafy")
    def llamafy_cmd(
        source: str = typer.Argument(
            ..., help="A LLaMA-family release (Yi-style renamed, Baichuan W_pack, GGUF)."
        ),
        out: str = typer.Argument(..., help="Output folder (must not exist unless --force)."),
        force: bool = typer.Option(
            False,
            "--force",
            help="Replace OUT when it is an earlier llamafy output (anything else is refused).",
        ),
        dtype: OutDtype = typer.Option(
            OutDtype.AUTO,
            "--dtype",
            case_sensitive=False,
            help="Weights dtype: auto (each stored float type; quantized GGUF -> float32, exact), float32, "
            "float16 or bfloat16 (verified against the source rounded to it).",
        ),
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
        quiet: bool = quiet_option(),
        revision: str | None = revision_option(),
        include: str | None = include_option(),
    ) -> None:
        """Write OUT as LlamaForCausalLM safetensors + config.json (+ tokenizer and licence files), then
        verify every tensor bit for bit against its source slice and, with torch installed, the logits."""
        source = hub_spec(source, revision, include)
        from taoke.jobs import llamafy
        from taoke.render.inspect import WIDTH, render_llamafy
        from taoke.render.progress import reporter

        with reporter(quiet) as progress:
            result = llamafy(
                source,
                out,
                force=force,
                verify_logits=None if logits else False,
                shard_bytes=None if shard_gb is None else int(shard_gb * 1024**3),  # None: the library's
                dtype=dtype.value,
                progress=progress,
            )
        emit(render_llamafy(result, fmt.value), fmt, output, width=WIDTH)
