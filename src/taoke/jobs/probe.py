"""``taoke probe-compare``: is endpoint B a passthrough or derivative of endpoint A?

The job collects greedy answers from every endpoint (suspect, candidates, control endpoints) and the
recorded controls of the probe library, then runs :func:`taoke.probe.compare.compare_answers` on them.
"""

from __future__ import annotations

from typing import Any

from taoke.errors import TaokeError
from taoke.probe.behaviour import BEHAVIOUR_PROMPTS, collect, load_library, similarity
from taoke.probe.client import Budget, ProbeClient
from taoke.probe.compare import CompareResult, compare_answers, untestable_result
from taoke.progress import Progress, no_progress

__all__ = ["probe_compare"]

SAME_MODEL = 0.95  # a recorded "control" this close to candidate A is A itself, not a control


def _answers(
    url: str, api_key_env: str | None, budget: Budget, progress: Progress = no_progress
) -> tuple[str, list[str]]:
    client = ProbeClient.from_env(url, None, api_key_env, budget)
    client.progress = progress
    names = client.list_models()
    client.model = names[0] if names else "default"
    return f"{client.model} @ {client.base}", collect(client, BEHAVIOUR_PROMPTS)


def probe_compare(
    url_a: str,
    url_b: str,
    also: list[str] | None = None,
    controls: list[str] | None = None,
    control_records: list[str] | None = None,
    api_key_env: str | None = None,
    max_requests: int = 60,
    timeout_s: float = 60.0,
    alpha: float = 0.01,
    library: dict[str, dict[str, Any]] | None = None,
    progress: Progress = no_progress,
) -> CompareResult:
    """B against A (and ``also``), with control endpoints and/or recorded models as the null baseline.

    Recorded models whose answers are near-identical to a candidate's (mean similarity >= 0.95) are
    dropped from the controls and the report says so: a copy of A cannot serve as A's control.
    ``progress`` hears of each request sent to each endpoint.
    """
    lib = load_library() if library is None else library
    if not controls and not (control_records or lib):
        # Nothing can serve as a control: untestable now, not after a minute of requests (issue 17).
        return untestable_result(
            url_b,
            [url_a, *(also or [])],
            alpha,
            "no control model: no --control endpoint and no recorded model in the probe library "
            "(record some with taoke probe URL --record NAME); nothing was requested",
        )
    budget = lambda: Budget(max_requests=max_requests, timeout_s=timeout_s)  # noqa: E731 - one per endpoint
    b_name, b = _answers(url_b, api_key_env, budget(), progress)
    cands: dict[str, list[str]] = {}
    for url in [url_a, *(also or [])]:
        name, ans = _answers(url, api_key_env, budget(), progress)
        cands[name] = ans
    ctrl: dict[str, list[str]] = {}
    for url in controls or []:
        name, ans = _answers(url, api_key_env, budget(), progress)
        ctrl[name] = ans
    wanted = control_records if control_records else ([] if controls else list(lib))
    notes = []
    for name in wanted:
        if name not in lib:
            raise TaokeError(
                f"--control-record {name!r}: not in the probe library (record it with taoke probe --record)"
            )
        ans = lib[name]["answers"]
        near = [c for c, ca in cands.items() if _mean_sim(ans, ca) >= SAME_MODEL]
        if near:
            notes.append(f"recorded {name!r} left out of the controls: it answers like candidate {near[0]}")
            continue
        ctrl[f"recorded:{name}"] = ans
    res = compare_answers((b_name, b), cands, ctrl, alpha)
    res.notes = notes + res.notes
    return res


def _mean_sim(a: list[str], b: list[str]) -> float:
    sims = [similarity(x, y) for x, y in zip(a, b, strict=False)]
    return sum(sims) / len(sims) if sims else 0.0
