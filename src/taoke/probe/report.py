"""The probe report, and the conclusion drawn from its evidence: which backend, and is it a shell?"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from taoke.probe.behaviour import BehaviourFingerprint
from taoke.probe.identity import IdentityResult
from taoke.probe.tokfp import TokenizerFingerprint, distance

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
