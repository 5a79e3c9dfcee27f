"""Tokenizer lineage: load any tokenizer container, compare vocabularies, align ids, identify known ones.

Stable public API (used by the weight-lineage and audit code)::

    from taoke.tokenizers import load_tokenizer, compare_tokenizers, align_vocab, identify

- ``load_tokenizer(source, limits=None) -> TokenizerView``: a Release, folder, hub id or tokenizer file.
- ``compare_tokenizers(a, b, behaviour=True) -> TokenizerComparison``: relation of B to A with numbers.
- ``align_vocab(a, b) -> VocabAlignment``: A id -> B id by canonical token (``ref_ids``/``sus_ids``).
- ``identify(view, top=5) -> IdentifyResult``: nearest tokenizers of the shipped + user library.
"""

from taoke.tokenizers.compare import TokenizerComparison, VocabAlignment, align_vocab, compare_tokenizers
from taoke.tokenizers.library import IdentifyResult, identify
from taoke.tokenizers.loaders import find_tokenizer_files, load_file, load_tokenizer
from taoke.tokenizers.view import TokenizerView

__all__ = [
    "IdentifyResult",
    "TokenizerComparison",
    "TokenizerView",
    "VocabAlignment",
    "align_vocab",
    "compare_tokenizers",
    "find_tokenizer_files",
    "identify",
    "load_file",
    "load_tokenizer",
]
