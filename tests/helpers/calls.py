"""Counting the calls of a library function across every taoke module that imported it."""

from __future__ import annotations

import sys
from collections import Counter

import pytest


def count_calls(monkeypatch: pytest.MonkeyPatch, module: str, name: str) -> Counter:
    """Wrap ``module.name`` wherever a loaded taoke module holds it; the Counter maps the first argument
    of each call (as a string) to how often it was passed."""
    func = getattr(sys.modules[module], name)
    calls: Counter = Counter()

    def counted(*args, **kwargs):
        calls[str(args[0]) if args else ""] += 1
        return func(*args, **kwargs)

    for mod_name, mod in list(sys.modules.items()):
        if mod_name.startswith("taoke") and vars(mod).get(name) is func:
            monkeypatch.setattr(mod, name, counted)
    return calls
