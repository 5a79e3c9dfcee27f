"""Weight lineage: did one model's weights come from another, and what was done to them?

The whole path of a ``taoke compare`` verdict, bottom to top: :mod:`~taoke.weights.invariants` (per-layer
token-space invariants, blind to every function-preserving disguise) and
:mod:`~taoke.weights.fingerprint` (one streaming pass per model) -> :mod:`~taoke.weights.similarity` and
:mod:`~taoke.weights.lineage` (layer-pair scores, calibrated nulls, p-values) ->
:mod:`~taoke.weights.alignment` (what was done: rotation, permutations, renames, vocabulary, merge
shares) -> :mod:`~taoke.weights.verdict` (one :class:`Relationship`) -> :mod:`~taoke.weights.compare`.
See ``docs/compare.md`` for the method and its calibration.
"""

from taoke.weights.compare import CompareResult, LayerMatch, compare
from taoke.weights.fingerprint import Fingerprint, fingerprint, is_fingerprint_file, load_fingerprint
from taoke.weights.lineage import Nulls, load_nulls, packaged_nulls
from taoke.weights.relationship import Relationship
from taoke.weights.verdict import DEFAULT_ALPHA

__all__ = [
    "DEFAULT_ALPHA",
    "CompareResult",
    "Fingerprint",
    "LayerMatch",
    "Nulls",
    "Relationship",
    "compare",
    "fingerprint",
    "is_fingerprint_file",
    "load_fingerprint",
    "load_nulls",
    "packaged_nulls",
]
