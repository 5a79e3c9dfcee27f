"""Black-box probes of an OpenAI-compatible chat endpoint: who is really behind it?

The cheapest "shell" (套壳) has no weights at all: an app forwards to someone else's API behind its own
name and system prompt. Only the endpoint is visible, so taoke asks it three kinds of question:

- identity (:mod:`taoke.probe.identity`): who made you, what are you called -- English and Chinese;
- tokenizer (:mod:`taoke.probe.tokfp`): ``usage.prompt_tokens`` of crafted texts, matched against known
  tokenizers -- robust to system prompts because deltas cancel the template overhead;
- behaviour (:mod:`taoke.probe.behaviour`): greedy answers to discriminative prompts (after LLMmap,
  Pasquini et al., USENIX Security 2025), nearest recorded model.

``probe-compare`` (:mod:`taoke.probe.compare`) tests whether B derives from A against control models
(after model provenance testing, Nikolić et al., NeurIPS 2025). Every request goes through
:class:`taoke.probe.client.ProbeClient`: bounded, polite, never redirected.

>>> from taoke.probe import run_probe  # doctest: +SKIP
>>> report = run_probe("http://127.0.0.1:8000/v1", max_requests=40)  # doctest: +SKIP
>>> report.backend  # doctest: +SKIP
'smollm2'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from taoke.probe.behaviour import (
    BEHAVIOUR_PROMPTS,
    BehaviourFingerprint,
    collect,
    fingerprint,
    load_library,
    make_record,
    save_record,
)
from taoke.probe.client import Budget, BudgetExhausted, EndpointError, ProbeClient
from taoke.probe.identity import IdentityResult, probe_identity
from taoke.probe.tokfp import TokenizerFingerprint, distance, probe_tokenizer

__all__ = [
    "Budget",
    "BudgetExhausted",
    "EndpointError",
    "ProbeClient",
    "ProbeReport",
    "run_probe",
    "conclude",
]

TOKENIZER_CONSISTENT = 0.02  # relative count distance under which a record's tokenizer fits
# Mean answer similarity needed to name a recorded model (open set: an unrecorded model with a known
# tokenizer must not be named as a recorded one). bench/probe.py: shells over SmolLM2/Gemma 3 score
# 0.37-0.71 against their true backend's record, every wrong recorded model <= 0.21.
BEHAVIOUR_MIN = 0.35


@dataclass
class ProbeReport:
    """Everything one probe found, plus the conclusion and what it cost."""

    url: str
    served_name: str | None
    identity: IdentityResult | None
    tokenizer: TokenizerFingerprint | None
    behaviour: BehaviourFingerprint | None
    backend: str | None = None
    backend_basis: str = ""
    shell: bool = False
    conclusion: str = ""
    spent: dict[str, Any] = field(default_factory=dict)
    recorded_as: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "served_name": self.served_name,
            "backend": self.backend,
            "backend_basis": self.backend_basis,
            "shell": self.shell,
            "conclusion": self.conclusion,
            "identity": self.identity.to_dict() if self.identity else None,
            "tokenizer": self.tokenizer.to_dict() if self.tokenizer else None,
            "behaviour": self.behaviour.to_dict() if self.behaviour else None,
            "spent": self.spent,
            "recorded_as": self.recorded_as,
        }


def conclude(report: ProbeReport, library: dict[str, dict[str, Any]]) -> None:
    """Name the backend from the tokenizer and behaviour evidence, and say whether it is a shell.

    WHY this order: the token counts survive any system prompt, so they restrict the candidates to
    recorded models whose tokenizer reproduces them; behaviour then picks among those (models sharing
    a tokenizer, like the zoo's, are told apart only by their answers). With no recorded model the
    tokenizer match alone is reported, at tokenizer (family) granularity.
    """
    tok, beh = report.tokenizer, report.behaviour
    consistent: set[str] | None = None
    if tok is not None and tok.observed is not None:
        consistent = {
            n
            for n, r in library.items()
            if r.get("tokenizer_deltas")
            and distance(tok.observed, r["tokenizer_deltas"])[0] <= TOKENIZER_CONSISTENT
        }
    if beh is not None and beh.ranking:
        pool = [m for m in beh.ranking if consistent is None or m.name in consistent]
        if pool and pool[0].score >= BEHAVIOUR_MIN:
            report.backend = pool[0].name
            report.backend_basis = f"behaviour nearest {pool[0].name} ({pool[0].score:.2f})" + (
                " among recorded models whose tokenizer fits the counts" if consistent is not None else ""
            )
    served = (report.served_name or "").lower()
    if report.backend is not None:
        backend_served = str(library.get(report.backend, {}).get("served_name") or report.backend).lower()
        report.shell = bool(served) and served not in (report.backend.lower(), backend_served)
        if report.shell:
            report.conclusion = (
                f"served as {report.served_name!r} but the backend is {report.backend} "
                f"({report.backend_basis})"
            )
        else:
            report.conclusion = f"the backend is {report.backend}, as served ({report.backend_basis})"
        return
    if tok is not None and tok.best is not None and tok.best.distance <= TOKENIZER_CONSISTENT:
        fam = tok.best.family.lower()
        named = _families_named(served, tok)
        report.backend_basis = f"tokenizer counts only ({tok.best.exact}/{len(tok.observed or [])} exact)"
        report.shell = bool(named) and fam not in named
        report.conclusion = (
            f"the tokenizer is {tok.best.name} (family {tok.best.family})"
            + (f", not the {'/'.join(sorted(named))} family the served name suggests" if report.shell else "")
            + "; record known models (--record) to name the exact backend"
        )
        report.backend = tok.best.name
        return
    report.conclusion = "backend not identified (no recorded model or known tokenizer fits)"


def _families_named(served: str, tok: TokenizerFingerprint) -> set[str]:
    """Tokenizer families whose name appears in the served model name (``llama-3-8b`` -> llama3)."""
    squashed = "".join(ch for ch in served if ch.isalnum())
    fams = {m.family.lower() for m in tok.ranking if m.family}
    return {f for f in fams if len(f) >= 3 and "".join(ch for ch in f if ch.isalnum()) in squashed}


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
) -> ProbeReport:
    """Probe ``url`` (only that address) within the budget; optionally record it into the library."""
    budget = Budget(max_requests=max_requests, timeout_s=timeout_s, total_s=max_seconds, max_bytes=max_bytes)
    client = ProbeClient.from_env(url, model, api_key_env, budget)
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


def collect_answers(client: ProbeClient) -> list[str]:
    """Greedy answers to the behaviour prompts (what probe-compare compares)."""
    return collect(client, BEHAVIOUR_PROMPTS)
