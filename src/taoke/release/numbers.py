"""The one check every number read from a release passes before an analyzer sees it.

WHY one place: ``config.json`` and GGUF metadata are attacker-controlled, and a value that *parses* can
still lie — ``Infinity``, ``NaN``, ``0``, ``-3``, a 4000-digit integer, a layer count of 10^9, ``"64"``
as a string. Each reader used to convert with ``int()``/``float()`` where it needed the value, so the
lie surfaced far away as an ``OverflowError``, a ``ZeroDivisionError``, a SQLite integer overflow or a
loop over 10^9 layers. Here every hyper-parameter is checked once for type, finiteness and range, and
a lie is a one-line :class:`~taoke.errors.CorruptFile` naming the file and the key.

The bounds are far above any real model (the largest public configs have ~200 layers, d_model 32k,
vocabularies of 1M and contexts of 10M) and low enough that the work they size stays bounded:
a layer count cannot exceed the tensor limit (a model has at least one tensor per layer), a
vocabulary the vocabulary limit, and every integer fits SQLite's signed 64 bits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from taoke.errors import CorruptFile
from taoke.limits import Limits

INT_BOUNDS: dict[str, int | str] = {
    "n_layers": "max_tensors",  # a limit field's name: the bound follows the setting
    "d_model": 1 << 20,
    "n_heads": 1 << 16,
    "n_kv_heads": 1 << 16,
    "head_dim": 1 << 16,
    "ffn_dim": 1 << 24,
    "vocab_size": "max_vocab",
    "context_length": 1 << 40,
}
FLOAT_FIELDS = ("rope_theta", "norm_eps")
FLOAT_MAX = 1e30


def _bound(name: str, limits: Limits) -> int:
    b = INT_BOUNDS[name]
    return int(getattr(limits, b)) if isinstance(b, str) else b


def check_int(name: str, key: str, value: Any, where: str | Path | None, limits: Limits) -> int | None:
    """``value`` of hyper-parameter ``name`` (read under ``key``) as an int in ``[1, bound]``; None stays
    None (absent). A bool, a string, a non-integral or non-finite number, or one out of range is a
    :class:`CorruptFile`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CorruptFile(f"{key} must be an integer, found {type(value).__name__}", where)
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise CorruptFile(f"{key} must be an integer, found {value!r}", where)
        value = int(value)
    bound = _bound(name, limits)
    if not 1 <= value <= bound:
        shown = str(value) if len(str(value)) <= 24 else f"a {len(str(abs(value)))}-digit number"
        raise CorruptFile(f"{key} = {shown} is outside 1..{bound}", where)
    return value


def check_float(key: str, value: Any, where: str | Path | None) -> float | None:
    """``value`` as a finite float in ``(0, 1e30]``; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CorruptFile(f"{key} must be a number, found {type(value).__name__}", where)
    try:
        f = float(value)
    except OverflowError:  # an int too large for a float
        raise CorruptFile(f"{key} is too large", where) from None
    if not math.isfinite(f) or not 0 < f <= FLOAT_MAX:
        raise CorruptFile(f"{key} = {f!r} is not a positive finite number", where)
    return f


def check_config(
    config: dict[str, Any], where: str | Path | None, limits: Limits, hparam_keys: Mapping[str, list[str]]
) -> None:
    """Check every hyper-parameter key of a ``config.json`` (top level and ``text_config``) and the
    rope scaling factors, in place of the many readers that use them raw. ``hparam_keys``: the names
    each hyper-parameter goes by (the families table's ``hparam_keys``)."""
    for c, prefix in ((config, ""), (config.get("text_config"), "text_config.")):
        if not isinstance(c, dict):
            continue
        for name, keys in hparam_keys.items():
            for key in keys:
                if key not in c:
                    continue
                if name in INT_BOUNDS:
                    check_int(name, prefix + key, c[key], where, limits)
                else:
                    check_float(prefix + key, c[key], where)
        for block in ("rope_scaling", "rope_parameters"):
            scaling = c.get(block)
            if not isinstance(scaling, dict):
                continue
            for key in ("factor", "rope_theta"):
                if key in scaling:
                    check_float(f"{prefix}{block}.{key}", scaling[key], where)
            if "original_max_position_embeddings" in scaling:
                check_int(
                    "context_length",
                    f"{prefix}{block}.original_max_position_embeddings",
                    scaling["original_max_position_embeddings"],
                    where,
                    limits,
                )
