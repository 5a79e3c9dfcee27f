"""Analyzers: one module per layer of analysis, each returning Evidence (see docs/internals.md)."""
