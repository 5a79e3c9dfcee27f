"""Black-box probes of an OpenAI-compatible chat endpoint: who is really behind it?

The cheapest "shell" (套壳) has no weights at all: an app forwards to someone else's API behind its own
name and system prompt. Only the endpoint is visible, so taoke asks it three kinds of question:

- identity (:mod:`taoke.probe.identity`): who made you, what are you called -- English and Chinese;
- tokenizer (:mod:`taoke.probe.tokfp`): ``usage.prompt_tokens`` of crafted texts, matched against known
  tokenizers -- robust to system prompts because deltas cancel the template overhead;
- behaviour (:mod:`taoke.probe.behaviour`): greedy answers to discriminative prompts (after LLMmap,
  Pasquini et al., USENIX Security 2025), nearest recorded model.

:func:`run_probe` (:mod:`taoke.probe.run`) asks them within a budget and :func:`conclude`
(:mod:`taoke.probe.report`) names the backend. ``probe-compare`` (:mod:`taoke.probe.compare`,
run by the job :func:`taoke.jobs.probe_compare`) tests whether B answers closer to A than to control models
(after model provenance testing, Nikolić et al., NeurIPS 2025). Every request goes through
:class:`taoke.probe.client.ProbeClient`: bounded, polite, never redirected.

>>> from taoke.probe import run_probe  # doctest: +SKIP
>>> report = run_probe("http://127.0.0.1:8000/v1", max_requests=40)  # doctest: +SKIP
>>> report.backend  # doctest: +SKIP
'smollm2'
"""

from taoke.probe.client import Budget, BudgetExhausted, EndpointError, ProbeClient
from taoke.probe.report import ProbeReport, conclude
from taoke.probe.run import run_probe

__all__ = [
    "Budget",
    "BudgetExhausted",
    "EndpointError",
    "ProbeClient",
    "ProbeReport",
    "conclude",
    "run_probe",
]
