"""Analyzers: one module per layer of analysis, each returning its findings as Evidence.

Import the analyzer you need by module; none is loaded until asked for (several read the Model view,
which the lower floors must be able to import without them):

- :mod:`~taoke.analyzers.architecture`: the family of a release and how it differs from it;
- :mod:`~taoke.analyzers.claims`: what a release says about itself against its config and weights;
- :mod:`~taoke.analyzers.code`: does its custom code copy a reference implementation (code lineage);
- :mod:`~taoke.analyzers.declared`: declared lineage against measured lineage;
- :mod:`~taoke.analyzers.license`: licence identification by text, and its obligations;
- :mod:`~taoke.analyzers.openness`: openness ratings (EOSAI Index dimensions, MOF classes);
- :mod:`~taoke.analyzers.tokenizer`: tokenizer evidence for inspect and compare.
"""

__all__ = ["architecture", "claims", "code", "declared", "license", "openness", "tokenizer"]
