"""Code lineage: does a release's custom modeling code copy a reference implementation?

A release's ``*.py`` files are read as TEXT (never imported: a release is untrusted input) and compared
with every ``transformers/models/*/modeling_*.py`` of the installed ``transformers`` by normalised token
winnowing (Schleimer, Wilkerson & Aiken 2003, the algorithm behind MOSS). One module per job:

- :mod:`~taoke.analyzers.code.engine`: normalised token streams and winnowed fingerprints;
- :mod:`~taoke.analyzers.code.notices`: licence headers, and whether a copy kept its parent's;
- :mod:`~taoke.analyzers.code.index`: the reference index (built per transformers version, cached);
- :mod:`~taoke.analyzers.code.match`: class/function alignment (the parent decision), file ranking
  and greedy attribution;
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
    block_of_lines,
    build_index,
    cache_dir,
    fetch_transformers,
    file_years,
    load_index,
    parse_blocks,
    reference_index,
    release_version,
    save_index,
    top_level_blocks,
    transformers_models_dir,
    transformers_tree,
    version_key,
)
from taoke.analyzers.code.match import (
    BLOCK_MIN_FPS,
    BLOCK_SIM,
    BLOCK_TIE,
    MAX_CANDIDATES,
    MIN_BLOCK_COVER,
    MIN_BLOCK_FPS,
    MIN_CONTAINMENT,
    MIN_ORIGIN,
    MIN_SCORE,
    MIN_SHARED,
    TIE,
    Alignment,
    BlockMatch,
    RefMatch,
    Span,
    align_blocks,
    attribute,
    block_cover,
    is_parent,
    is_parent_by_file,
    lineage_score,
    match_fingerprints,
)
from taoke.analyzers.code.notices import header_notice, notice_status

__all__ = [
    "BLOCK_MIN_FPS",
    "BLOCK_SIM",
    "BLOCK_TIE",
    "INDEX_VERSION",
    "K",
    "MAX_CANDIDATES",
    "MIN_BLOCK_COVER",
    "MIN_BLOCK_FPS",
    "MIN_CONTAINMENT",
    "MIN_ORIGIN",
    "MIN_SCORE",
    "MIN_SHARED",
    "TIE",
    "W",
    "Block",
    "BlockMatch",
    "CodeIndex",
    "CodeLineageResult",
    "FileLineage",
    "Fingerprints",
    "RefFile",
    "RefMatch",
    "Span",
    "Tokens",
    "Alignment",
    "align_blocks",
    "analyze_files",
    "analyze_text",
    "attribute",
    "block_cover",
    "block_of_lines",
    "build_index",
    "cache_dir",
    "file_years",
    "fingerprint",
    "header_notice",
    "is_parent",
    "is_parent_by_file",
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
    "fetch_transformers",
    "release_version",
    "version_key",
    "save_index",
    "parse_blocks",
    "top_level_blocks",
    "transformers_models_dir",
    "transformers_tree",
    "winnow",
]
