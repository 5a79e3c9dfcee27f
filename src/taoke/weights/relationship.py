"""The relationship vocabulary of ``taoke compare``: what SUSPECT did with REFERENCE's weights.

One closed vocabulary (DESIGN.md), used by the verdict that picks a label, the zoo that labels its
pairs with the truth, the declared-lineage check, the renderers and the demo. ``untestable`` is the
answer when no lineage statistic could be computed for the pair (nothing comparable: other widths and
too few shared tokens, no invariant that applies across the two families): it is neither derived nor
independent, carries no p-value, and ``taoke compare`` exits with code 3 on it. The members are ``str``
valued so that JSON output and comparisons with plain strings keep the documented labels
(``Relationship.FINE_TUNED == "fine-tuned"``).
"""

from __future__ import annotations

from enum import Enum


class Relationship(str, Enum):
    """One label of the vocabulary; ``derived`` says whether it means "weights come from REFERENCE"."""

    IDENTICAL = "identical"
    RENAMED_COPY = "renamed-copy"
    OBFUSCATED_COPY = "obfuscated-copy"
    FINE_TUNED = "fine-tuned"
    CONTINUED_PRETRAINING = "continued-pretraining"
    PRUNED = "pruned"
    DEPTH_UPSCALED = "depth-upscaled"
    VOCAB_EXTENDED = "vocab-extended"
    MERGED = "merged"
    SHARES_ANCESTOR = "shares-ancestor"
    PARTIAL = "partial"
    INDEPENDENT_SAME_ARCHITECTURE = "independent-same-architecture"
    INDEPENDENT = "independent"
    UNTESTABLE = "untestable"

    # The label itself wherever text is made (f-strings, str(), rich), as a plain str would be.
    __str__ = str.__str__
    __format__ = str.__format__

    @property
    def derived(self) -> bool:
        """True for every label that says the weights come from REFERENCE (not for the two independent
        ones, nor for ``untestable``)."""
        return self in DERIVED

    @property
    def tested(self) -> bool:
        """False for ``untestable``: the comparison could not be made (no p-value, exit code 3)."""
        return self is not Relationship.UNTESTABLE


NEGATIVE = frozenset({Relationship.INDEPENDENT_SAME_ARCHITECTURE, Relationship.INDEPENDENT})
DERIVED = frozenset(r for r in Relationship if r not in NEGATIVE and r is not Relationship.UNTESTABLE)

__all__ = ["DERIVED", "NEGATIVE", "Relationship"]
