"""``taoke probe URL`` and ``taoke probe-compare URL_A URL_B``: black-box endpoint probes.

Thin shells over :mod:`taoke.probe`. Every request is bounded by ``--max-requests``, ``--timeout``,
``--max-seconds`` and ``--max-bytes`` and goes only to the URLs given; errors (refused, 500s, non-JSON,
endless or huge answers, slow) are one line and exit code 2.
"""

from __future__ import annotations

from pathlib import Path

import typer

from taoke.cli.common import (
    Format,
    Lang,
    emit,
    format_option,
    lang_option,
    library_defaults,
    output_option,
    quiet_option,
)
from taoke.jobs.probe import probe_compare
from taoke.probe import run_probe

_PROBE = library_defaults(run_probe)
_COMPARE = library_defaults(probe_compare)


def register(app: typer.Typer) -> None:
    """Add ``probe`` and ``probe-compare`` to the taoke app."""

    @app.command("probe")
    def probe_cmd(
        url: str = typer.Argument(..., help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1"),
        model: str = typer.Option(
            None, "--model", help="Model name to request (default: first of /v1/models)."
        ),
        api_key_env: str = typer.Option(
            None, "--api-key-env", help="Environment variable holding the API key."
        ),
        max_requests: int = typer.Option(
            _PROBE["max_requests"], "--max-requests", min=1, help="Most requests to send."
        ),
        timeout: float = typer.Option(_PROBE["timeout_s"], "--timeout", min=0.1, help="Seconds per request."),
        max_seconds: float = typer.Option(
            _PROBE["max_seconds"], "--max-seconds", min=1, help="Seconds for the whole probe."
        ),
        max_bytes: int = typer.Option(
            _PROBE["max_bytes"], "--max-bytes", min=1024, help="Largest response body."
        ),
        record: str = typer.Option(None, "--record", help="Save this endpoint's fingerprint under NAME."),
        no_identity: bool = typer.Option(False, "--no-identity", help="Skip the identity questions."),
        fmt: Format = format_option(),
        lang: Lang = lang_option(),
        output: Path | None = output_option(),
        quiet: bool = quiet_option(),
    ) -> None:
        """Who is behind this chat endpoint: identity, tokenizer and behaviour fingerprints."""
        from taoke.render.probe import render_probe
        from taoke.render.progress import reporter

        with reporter(quiet) as progress:
            report = run_probe(
                url,
                model=model,
                api_key_env=api_key_env,
                max_requests=max_requests,
                timeout_s=timeout,
                max_seconds=max_seconds,
                max_bytes=max_bytes,
                identity=not no_identity,
                record=record,
                progress=progress,
            )
        emit(render_probe(report, fmt.value, lang.value), fmt, output)

    @app.command("probe-compare")
    def compare_cmd(
        url_a: str = typer.Argument(..., help="Candidate parent endpoint A."),
        url_b: str = typer.Argument(..., help="Suspect endpoint B."),
        also: list[str] = typer.Option([], "--also", help="More candidate parents (Holm-Bonferroni)."),
        control: list[str] = typer.Option([], "--control", help="Control endpoint (unrelated model)."),
        control_record: list[str] = typer.Option(
            [], "--control-record", help="Recorded model to use as control (default: every recorded one)."
        ),
        api_key_env: str = typer.Option(
            None, "--api-key-env", help="Environment variable holding the API key."
        ),
        max_requests: int = typer.Option(
            _COMPARE["max_requests"], "--max-requests", min=1, help="Most requests per endpoint."
        ),
        timeout: float = typer.Option(
            _COMPARE["timeout_s"], "--timeout", min=0.1, help="Seconds per request."
        ),
        alpha: float = typer.Option(
            _COMPARE["alpha"], "--alpha", min=1e-9, max=0.5, help="Family-wise error level."
        ),
        fmt: Format = format_option(),
        lang: Lang = lang_option(),
        output: Path | None = output_option(),
        quiet: bool = quiet_option(),
    ) -> None:
        """Is B a passthrough or derivative of A? A permutation test against control models (exit code
        3, untestable, when there is no control model)."""
        from taoke.render.probe import render_compare
        from taoke.render.progress import reporter

        with reporter(quiet) as progress:
            res = probe_compare(
                url_a,
                url_b,
                also=list(also),
                controls=list(control),
                control_records=list(control_record),
                api_key_env=api_key_env,
                max_requests=max_requests,
                timeout_s=timeout,
                alpha=alpha,
                progress=progress,
            )
        emit(render_compare(res, fmt.value, lang.value), fmt, output)
        if res.untestable:
            from taoke.errors import Untestable

            raise Untestable(
                f"{res.suspect}: untestable, {res.notes[0] if res.notes else 'no control model'}"
            )
