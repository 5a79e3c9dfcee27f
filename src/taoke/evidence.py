"""The finding type every analyzer returns (bandit's "issue", taoke's "evidence").

Analyzers never print: they return :class:`Evidence` items and renderers (text, json, html) decide
how to show them. A statistic without the null it was calibrated against is not evidence, so
``p_value`` and ``null`` travel together.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["info", "low", "medium", "high"]


@dataclass
class Evidence:
    """One observation of one analyzer.

    analyzer: which layer of analysis produced it ("architecture", "tokenizer", "weights", ...).
    kind:     a stable machine-readable slug ("renamed-tensor", "fused-tensor", "context-claim", ...).
    message:  one human sentence.
    statistic/value/p_value/null: the number behind the finding, when there is one.
    detail:   structured extras for renderers and JSON consumers.
    """

    analyzer: str
    kind: str
    message: str
    severity: Severity = "info"
    statistic: str | None = None
    value: float | None = None
    p_value: float | None = None
    null: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and v != {}}
