"""The relationship vocabulary: one enum, whose members are the documented JSON labels."""

from __future__ import annotations

import json

from taoke.weights import Relationship
from taoke.weights.relationship import DERIVED, NEGATIVE

LABELS = [
    "identical",
    "renamed-copy",
    "obfuscated-copy",
    "fine-tuned",
    "continued-pretraining",
    "pruned",
    "depth-upscaled",
    "vocab-extended",
    "merged",
    "shares-ancestor",
    "partial",
    "independent-same-architecture",
    "independent",
    "untestable",
]


def test_members_are_the_documented_labels_in_order():
    assert [r.value for r in Relationship] == LABELS
    assert Relationship("fine-tuned") is Relationship.FINE_TUNED


def test_text_and_json_show_the_label_not_the_member_name():
    r = Relationship.OBFUSCATED_COPY
    assert str(r) == f"{r}" == "obfuscated-copy" and f"{r:>16}" == " obfuscated-copy"
    assert json.dumps({r: [r]}) == '{"obfuscated-copy": ["obfuscated-copy"]}'
    # plain strings (a manifest read from JSON) find the member and back
    assert {"merged": 1}[Relationship.MERGED] == 1 and {Relationship.MERGED: 1}["merged"] == 1


def test_derived_is_everything_but_the_two_independents():
    assert NEGATIVE == {Relationship.INDEPENDENT, Relationship.INDEPENDENT_SAME_ARCHITECTURE}
    assert DERIVED | NEGATIVE | {Relationship.UNTESTABLE} == set(Relationship) and not DERIVED & NEGATIVE
    assert all(r.derived for r in DERIVED) and not any(r.derived for r in NEGATIVE)
    assert "fine-tuned" in DERIVED and "independent" not in DERIVED and "?" not in DERIVED


def test_untestable_is_neither_derived_nor_independent():
    """Issue 17: a comparison that could not be made is its own answer, never "independent"."""
    u = Relationship.UNTESTABLE
    assert u == "untestable" and not u.derived and not u.tested
    assert u not in DERIVED and u not in NEGATIVE
    assert all(r.tested for r in Relationship if r is not u)
