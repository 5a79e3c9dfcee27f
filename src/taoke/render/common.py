"""Helpers shared by all renderers."""

from __future__ import annotations

import html
import json
import math
from typing import Any

from rich.console import Console

FORMATS = ("text", "json", "html")


def to_jsonable(obj: Any) -> Any:
    """Convert result objects (with to_dict), numpy scalars/arrays, paths and sets to JSON types."""
    if hasattr(obj, "to_dict"):
        return to_jsonable(obj.to_dict())
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return to_jsonable(obj.item())
        if isinstance(obj, np.ndarray):
            return to_jsonable(obj.tolist())
    except ImportError:  # pragma: no cover
        pass
    return str(obj)


def dumps(obj: Any) -> str:
    return json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False)


def fmt_p(p: float | None) -> str:
    """Format a p-value for humans: 3.2e-12, 0.041, '<1e-300'."""
    if p is None:
        return "-"
    if p <= 0:
        return "<1e-300"
    if p < 1e-3:
        return f"{p:.1e}"
    return f"{p:.3f}"


def fmt_count(n: int | float) -> str:
    """Human count: 134.5M, 6.1B."""
    n = float(n)
    for unit, div in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.1f}{unit}"
    return f"{n:.0f}"


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def stdout_console() -> Console:
    return Console(highlight=False, soft_wrap=False)
