"""``taoke demo``: compare on the zoo's own trained models, side by side (the README's first command).

Four suspects built from the committed checkpoints, against ``base-a``: a Yi-style renamed copy, a
disguised (permuted + rotated + rescaled) copy, a fine-tune and an independently trained twin. Each row
holds the truth next to what :func:`taoke.weights.compare` says; the renderer draws the table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from taoke.progress import Progress, no_progress
from taoke.weights import Relationship, compare, fingerprint
from taoke.zoo.build import materialize

REFERENCE = "base-a"
DEMO: tuple[tuple[str, Relationship, str], ...] = (
    ("a-yi", Relationship.RENAMED_COPY, "Yi-style renamed copy (ln1/ln2, YiForCausalLM)"),
    ("a-obf-all", Relationship.OBFUSCATED_COPY, "permuted + rotated + rescaled copy"),
    ("a-ft-man", Relationship.FINE_TUNED, "fine-tuned 150 steps on man pages"),
    ("base-a2", Relationship.INDEPENDENT_SAME_ARCHITECTURE, "independently trained twin, same data"),
)


@dataclass
class DemoRow:
    """One suspect: what it really is, what taoke says, and the numbers behind it."""

    suspect: str
    what: str
    truth: Relationship
    relationship: Relationship
    derived: bool
    p_value: float | None  # None when untestable
    log10_p_value: float | None
    similarity: float | None  # mean similarity of the mapped layers (the best layer's when none is)
    seconds: float
    reasons: list[str] = field(default_factory=list)

    @property
    def correct(self) -> bool:
        return self.relationship == self.truth

    def to_dict(self) -> dict[str, Any]:
        return {
            "suspect": self.suspect,
            "what": self.what,
            "truth": self.truth,
            "relationship": self.relationship,
            "derived": self.derived,
            "p_value": self.p_value,
            "log10_p_value": self.log10_p_value,
            "similarity": self.similarity,
            "seconds": self.seconds,
            "reasons": self.reasons,
        }


@dataclass
class DemoResult:
    """The demo table: every row, and the seconds it all took (fingerprinting included)."""

    reference: str
    rows: list[DemoRow]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "rows": [r.to_dict() for r in self.rows],
            "seconds": self.seconds,
        }


def demo(progress: Progress = no_progress) -> DemoResult:
    """Fingerprint ``base-a`` once and compare each demo suspect with it."""
    t0 = time.perf_counter()
    progress("demo", 0, len(DEMO), item=f"fingerprinting {REFERENCE}")
    ref = fingerprint(str(materialize(REFERENCE)))
    rows = []
    for i, (suspect, truth, what) in enumerate(DEMO, 1):
        t = time.perf_counter()
        res = compare(ref, fingerprint(str(materialize(suspect))))
        sims = [m.similarity for m in res.layers if m.similarity is not None]
        mapped = [
            m.similarity for m in res.layers if m.reference_layer is not None and m.similarity is not None
        ]
        sim = (sum(mapped) / len(mapped)) if mapped else (max(sims) if sims else None)
        rows.append(
            DemoRow(
                suspect,
                what,
                truth,
                res.relationship,
                res.derived,
                res.p_value,
                res.log10_p_value,
                sim,
                time.perf_counter() - t,
                res.reasons,
            )
        )
        progress("demo", i, len(DEMO), item=f"compared {REFERENCE} with {suspect} ({what})")
    return DemoResult(REFERENCE, rows, time.perf_counter() - t0)
