"""Defaults that the library and the CLI share, in a module light enough for the CLI to import at start-up.

WHY here and not in :mod:`taoke.weights.verdict`: ``--alpha``'s help must show the library's value, and
importing the weights package (scipy) costs seconds on every ``taoke --help``.
"""

from __future__ import annotations

# Significance level for "derived": a false "derived" accuses someone, so the default is strict.
DEFAULT_ALPHA = 1e-3

__all__ = ["DEFAULT_ALPHA"]
