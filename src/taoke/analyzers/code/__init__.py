"""Code lineage: does a release's custom modeling code copy a reference implementation?

A release's ``*.py`` files are read as TEXT (never imported: a release is untrusted input) and compared
with every ``transformers/models/*/modeling_*.py`` of the installed ``transformers`` by normalised token
winnowing (Schleimer, Wilkerson & Aiken 2003, the algorithm behind MOSS). One module per job:

- :mod:`~taoke.analyzers.code.engine`: normalised token streams and winnowed fingerprints;
- :mod:`~taoke.analyzers.code.notices`: licence headers, and whether a copy kept its parent's;
- :mod:`~taoke.analyzers.code.index`: the reference index (built per transformers version, cached);
- :mod:`~taoke.analyzers.code.match`: ranking, greedy attribution and the parent decision;
- :mod:`~taoke.analyzers.code.analyze`: the entry points (:func:`analyze_files`, :func:`analyze_text`);

The matching reads the index only through :class:`CodeIndex`'s interface, so another matching method
or another reference corpus replaces one module, not the package.
"""

from taoke.analyzers.code.analyze import (
    CodeLineageResult,
    FileLineage,
    analyze_files,
    analyze_text,
    read_code_text,
)
from taoke.analyzers.code.engine import (
    Fingerprints,
    K,
    Tokens,
    W,
    fingerprint,
    kgram_hashes,
    model_stem,
    name_bag,
    normalise,
    winnow,
)
from taoke.analyzers.code.index import (
    INDEX_VERSION,
    Block,
    CodeIndex,
    RefFile,
    build_index,
    cache_dir,
    load_index,
    reference_index,
    save_index,
    transformers_models_dir,
    transformers_tree,
)
from taoke.analyzers.code.match import (
    MAX_CANDIDATES,
    MIN_BLOCK_COVER,
    MIN_BLOCK_FPS,
    MIN_CONTAINMENT,
    MIN_SCORE,
    MIN_SHARED,
    TIE,
    RefMatch,
    Span,
    attribute,
    block_cover,
    is_parent,
    lineage_score,
    match_fingerprints,
)
from taoke.analyzers.code.notices import header_notice, notice_status

__all__ = [
    "INDEX_VERSION",
    "K",
    "MAX_CANDIDATES",
    "MIN_BLOCK_COVER",
    "MIN_BLOCK_FPS",
    "MIN_CONTAINMENT",
    "MIN_SCORE",
    "MIN_SHARED",
    "TIE",
    "W",
    "Block",
    "CodeIndex",
    "CodeLineageResult",
    "FileLineage",
    "Fingerprints",
    "RefFile",
    "RefMatch",
    "Span",
    "Tokens",
    "analyze_files",
    "analyze_text",
    "attribute",
    "block_cover",
    "build_index",
    "cache_dir",
    "fingerprint",
    "header_notice",
    "is_parent",
    "kgram_hashes",
    "load_index",
    "lineage_score",
    "match_fingerprints",
    "model_stem",
    "name_bag",
    "normalise",
    "notice_status",
    "read_code_text",
    "reference_index",
    "save_index",
    "transformers_models_dir",
    "transformers_tree",
    "winnow",
]
