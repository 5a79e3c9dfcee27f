"""One probe of one endpoint: ask the three kinds of question within a budget, then conclude."""

from __future__ import annotations

from typing import Any

from taoke.probe.behaviour import collect, fingerprint, load_library, make_record, save_record
from taoke.probe.client import Budget, EndpointError, ProbeClient
from taoke.probe.identity import probe_identity
from taoke.probe.report import ProbeReport, conclude
from taoke.probe.tokfp import probe_tokenizer
from taoke.progress import Progress, no_progress


def run_probe(
    url: str,
    model: str | None = None,
    api_key_env: str | None = None,
    max_requests: int = 60,
    timeout_s: float = 60.0,
    max_seconds: float = 900.0,
    max_bytes: int = 1_000_000,
    identity: bool = True,
    langs: tuple[str, ...] = ("en", "zh"),
    record: str | None = None,
    library: dict[str, dict[str, Any]] | None = None,
    progress: Progress = no_progress,
) -> ProbeReport:
    """Probe ``url`` (only that address) within the budget; optionally record it into the library.
    ``progress`` hears of each request sent (out of the ``max_requests`` budget)."""
    budget = Budget(max_requests=max_requests, timeout_s=timeout_s, total_s=max_seconds, max_bytes=max_bytes)
    client = ProbeClient.from_env(url, model, api_key_env, budget)
    client.progress = progress
    if client.model is None:
        names = client.list_models()
        if not names:
            raise EndpointError(f"{client.base}/models: lists no model; pass --model NAME")
        client.model = names[0]
    library = load_library() if library is None else library
    tok = probe_tokenizer(client)
    ident = probe_identity(client, langs) if identity else None
    beh = fingerprint(collect(client), {k: v for k, v in library.items() if k != record})
    report = ProbeReport(client.base, client.model, ident, tok, beh)
    conclude(report, {k: v for k, v in library.items() if k != record})
    if record:
        save_record(record, make_record(beh.answers, client.model, tok.observed))
        report.recorded_as = record
    report.spent = client.spent()
    return report
