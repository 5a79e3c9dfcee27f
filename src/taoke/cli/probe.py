"""``taoke probe URL`` and ``taoke probe-compare URL_A URL_B``: black-box endpoint probes.

Thin shells over :mod:`taoke.probe`. Every request is bounded by ``--max-requests``, ``--timeout``,
``--max-seconds`` and ``--max-bytes`` and goes only to the URLs given; errors (refused, 500s, non-JSON,
endless or huge answers, slow) are one line and exit code 2.
"""

from __future__ import annotations

import typer

from taoke.errors import TaokeError

_FORMATS = ("text", "json", "html")


def _check(fmt: str, lang: str) -> None:
    if fmt not in _FORMATS:
        raise TaokeError(f"unknown --format {fmt!r} (use text, json or html)")
    if lang not in ("en", "zh"):
        raise TaokeError(f"unknown --lang {lang!r} (use en or zh)")


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
        max_requests: int = typer.Option(60, "--max-requests", min=1, help="Most requests to send."),
        timeout: float = typer.Option(60.0, "--timeout", min=0.1, help="Seconds per request."),
        max_seconds: float = typer.Option(900.0, "--max-seconds", min=1, help="Seconds for the whole probe."),
        max_bytes: int = typer.Option(1_000_000, "--max-bytes", min=1024, help="Largest response body."),
        record: str = typer.Option(None, "--record", help="Save this endpoint's fingerprint under NAME."),
        no_identity: bool = typer.Option(False, "--no-identity", help="Skip the identity questions."),
        fmt: str = typer.Option("text", "--format", "-f", help="text, json or html."),
        lang: str = typer.Option("en", "--lang", help="Report language: en or zh."),
    ) -> None:
        """Who is behind this chat endpoint: identity, tokenizer and behaviour fingerprints."""
        from taoke.probe import run_probe
        from taoke.render.probe import render_probe

        _check(fmt, lang)
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
        )
        typer.echo(render_probe(report, fmt, lang))

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
        max_requests: int = typer.Option(60, "--max-requests", min=1, help="Most requests per endpoint."),
        timeout: float = typer.Option(60.0, "--timeout", min=0.1, help="Seconds per request."),
        alpha: float = typer.Option(0.01, "--alpha", min=1e-9, max=0.5, help="Family-wise error level."),
        fmt: str = typer.Option("text", "--format", "-f", help="text, json or html."),
        lang: str = typer.Option("en", "--lang", help="Report language: en or zh."),
    ) -> None:
        """Is B a passthrough or derivative of A? A permutation test against control models."""
        from taoke.jobs import probe_compare
        from taoke.render.probe import render_compare

        _check(fmt, lang)
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
        )
        typer.echo(render_compare(res, fmt, lang))
