"""Compare two vocabularies: the relation between them, the id alignment, and how they split text.

Relations (A = reference, B = suspect), decided on the sets of match keys (canonical token bytes,
padding rows excluded, see :mod:`taoke.tokenizers.view`):

- ``identical``: same tokens at the same ids;
- ``reordered``: same set of tokens, ids permuted (the permutation is in the alignment);
- ``extends``: B holds (almost) all of A plus new tokens — how many, in which scripts, and whether A's ids
  are kept in place or shifted (Mistral v1 -> v3: +768);
- ``subset``: B holds only part of A and nothing else (a pruned vocabulary);
- ``partial-overlap``: overlap with a trace of derivation (near-equal sets, a block of ids at one offset,
  or the shared merges in the same order); normalizer/pre-tokenizer identity is reported beside it;
- ``unrelated``: only the overlap independently trained vocabularies of similar languages share.

:func:`align_vocab` is the stable entry point for weight lineage: it maps A ids to B ids by token so the
embedding and output rows of a vocabulary-extended or reordered model can be compared row by row.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from taoke.tokenizers.view import BYTE, TokenizerView

# Containment of A in B at or above which a missing token or two do not stop "extends"/"subset":
# converters drop or rename a handful of control tokens (<pad>, <mask>) while keeping the vocabulary.
CONTAINMENT_NEAR = 0.995
# Independent vocabularies of similar languages share a lot: on the fixtures, unrelated families share
# Jaccard 0.36-0.61 of their tokens (Llama-2 vs Mistral 0.61, GPT-2 vs GPT-NeoX 0.58). Overlap alone is
# therefore not lineage. Derived vocabularies leave other traces, and "partial-overlap" needs one of them:
JACCARD_DERIVED = 0.9  # almost the same token set (StarCoder vs Refact: 0.996)
OFFSET_DERIVED = 0.5  # half the shared tokens at one constant id offset (unrelated pairs: <= 0.02)
MERGE_RHO_DERIVED = 0.98  # shared merges in the same order (unrelated pairs: Spearman 0.47-0.87)
MERGE_SHARED_MIN = 0.5  # ... over at least half of the shorter merge list


@dataclass
class VocabAlignment:
    """A id -> B id by token string, for aligning embedding/output rows across vocabularies.

    ref_ids[k] and sus_ids[k] hold the same token (sorted by ref id); tokens only in A or only in B are
    counted. ``offset`` is the most common ``sus_id - ref_id`` and ``offset_fraction`` the share of shared
    tokens that have it (1.0 with offset 0: ids kept in place).
    """

    ref_ids: np.ndarray
    sus_ids: np.ndarray
    n_shared: int
    n_ref: int
    n_sus: int
    n_ref_only: int
    n_sus_only: int
    offset: int
    offset_fraction: float
    in_place_fraction: float

    @property
    def is_identity(self) -> bool:
        """Every shared token at the same id (rows can be compared without re-indexing)."""
        return self.n_shared > 0 and self.in_place_fraction == 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_shared": self.n_shared,
            "n_ref": self.n_ref,
            "n_sus": self.n_sus,
            "n_ref_only": self.n_ref_only,
            "n_sus_only": self.n_sus_only,
            "offset": self.offset,
            "offset_fraction": self.offset_fraction,
            "in_place_fraction": self.in_place_fraction,
        }


def align_vocab(ref: TokenizerView, sus: TokenizerView) -> VocabAlignment:
    """Map ``ref`` ids to ``sus`` ids by canonical token (a dict join, O(n)).

    Example: align the embedding rows of a vocabulary-extended model with its base::

        >>> al = align_vocab(base_view, extended_view)          # doctest: +SKIP
        >>> base_emb[al.ref_ids] ~ extended_emb[al.sus_ids]     # same tokens, row by row
    """
    sus_map = sus.key_to_id
    ref_map = ref.key_to_id
    pairs = [(rid, sus_map[k]) for k, rid in ref_map.items() if k in sus_map]
    pairs.sort()
    ref_ids = np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs))
    sus_ids = np.fromiter((p[1] for p in pairs), dtype=np.int64, count=len(pairs))
    n = len(pairs)
    if n:
        diffs = sus_ids - ref_ids
        values, counts = np.unique(diffs, return_counts=True)
        best = int(np.argmax(counts))
        offset, offset_fraction = int(values[best]), float(counts[best] / n)
        in_place = float(np.count_nonzero(diffs == 0) / n)
    else:
        offset, offset_fraction, in_place = 0, 0.0, 0.0
    return VocabAlignment(
        ref_ids,
        sus_ids,
        n,
        len(ref_map),
        len(sus_map),
        len(ref_map) - n,
        len(sus_map) - n,
        offset,
        offset_fraction,
        in_place,
    )


def script_of(token: bytes) -> str:
    """The dominant Unicode script-like group of a token ("CJK", "LATIN", "CYRILLIC", "digit", "byte"...).

    Uses the first word of each letter's Unicode name (no script property in the standard library);
    that is precise enough to say "the 20 000 added tokens are CJK".
    """
    try:
        text = token.decode("utf-8")
    except UnicodeDecodeError:
        return "partial-utf8"
    groups: Counter[str] = Counter()
    for ch in text:
        cat = unicodedata.category(ch)
        if cat.startswith("L"):
            name = unicodedata.name(ch, "")
            word = name.split(" ")[0] if name else "OTHER"
            groups["CJK" if word in ("CJK", "HIRAGANA", "KATAKANA", "IDEOGRAPHIC") else word] += 1
        elif cat.startswith("N"):
            groups["digit"] += 1
        elif cat.startswith("S") and ord(ch) > 0x2000:
            groups["symbol/emoji"] += 1
    if not groups:
        return "whitespace" if text.isspace() or not text else "punctuation"
    return groups.most_common(1)[0][0]


def _scripts(view: TokenizerView, ids: list[int] | np.ndarray, top: int = 6) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for i in ids:
        counts["byte" if view.token_class[i] == BYTE else script_of(view.tokens[i])] += 1
    return dict(counts.most_common(top))


def merge_agreement(a: TokenizerView, b: TokenizerView) -> dict[str, Any] | None:
    """How much of the BPE merge list two vocabularies share, and whether in the same order.

    Returns shared fraction (of the shorter list), the common prefix length (an extension trained
    further keeps the base's merges as a prefix) and Spearman correlation of the shared merges' ranks.
    ``None`` when either side has no merges (SentencePiece .model, GGUF llama, tiktoken).
    """
    if not a.merges or not b.merges:
        return None
    rank_b = {m: i for i, m in enumerate(b.merges)}
    shared_a: list[int] = []
    shared_b: list[int] = []
    for i, m in enumerate(a.merges):
        j = rank_b.get(m)
        if j is not None:
            shared_a.append(i)
            shared_b.append(j)
    prefix = 0
    for x, y in zip(a.merges, b.merges, strict=False):
        if x != y:
            break
        prefix += 1
    rho = None
    if len(shared_a) >= 3:
        from scipy.stats import spearmanr

        rho = float(spearmanr(shared_a, shared_b).statistic)
    return {
        "n_a": len(a.merges),
        "n_b": len(b.merges),
        "n_shared": len(shared_a),
        "shared_fraction": len(shared_a) / min(len(a.merges), len(b.merges)),
        "common_prefix": prefix,
        "rank_spearman": rho,
    }


@dataclass
class BehaviourCheck:
    """The behavioural comparison on :data:`taoke.tokenizers.encode.SAMPLE_TEXTS`."""

    available: bool
    reason: str = ""
    texts: int = 0
    same_pieces: int = 0  # texts split into the same pieces (canonical bytes)
    same_ids: int = 0  # texts encoded to the same ids
    a: dict[str, Any] = field(default_factory=dict)
    b: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"available": self.available}
        if not self.available:
            out["reason"] = self.reason
            return out
        out.update(texts=self.texts, same_pieces=self.same_pieces, same_ids=self.same_ids, a=self.a, b=self.b)
        return out


def behaviour_check(a: TokenizerView, b: TokenizerView) -> BehaviourCheck:
    """Encode the fixed multilingual texts with both tokenizers (data-only encoders) and compare."""
    from taoke.tokenizers.encode import SAMPLE_TEXTS, EncoderUnavailable, segment

    reasons = []
    segs = []
    for label, view in (("A", a), ("B", b)):
        try:
            segs.append(segment(view))
        except EncoderUnavailable as exc:
            reasons.append(f"{label}: {exc}")
    if reasons:
        return BehaviourCheck(False, "not available (" + "; ".join(reasons) + ")")
    sa, sb = segs
    same_pieces = sum(x == y for x, y in zip(sa.pieces, sb.pieces, strict=False))
    same_ids = sum(x == y for x, y in zip(sa.ids, sb.ids, strict=False))
    return BehaviourCheck(True, "", len(SAMPLE_TEXTS), same_pieces, same_ids, sa.to_dict(), sb.to_dict())


@dataclass
class TokenizerComparison:
    """Everything :func:`compare_tokenizers` found; ``relation`` is the one-word answer."""

    relation: str
    a: dict[str, Any]
    b: dict[str, Any]
    alignment: VocabAlignment
    jaccard: float
    containment_a_in_b: float
    containment_b_in_a: float
    added: dict[str, Any] = field(default_factory=dict)
    removed: dict[str, Any] = field(default_factory=dict)
    merges: dict[str, Any] | None = None
    same_normalizer: bool | None = None
    same_pre_tokenizer: bool | None = None
    behaviour: BehaviourCheck | None = None
    notes: list[str] = field(default_factory=list)
    derived: list[str] = field(default_factory=list)  # traces of derivation found (see derived_signals)

    def to_dict(self) -> dict[str, Any]:
        return {
            "relation": self.relation,
            "a": self.a,
            "b": self.b,
            "jaccard": self.jaccard,
            "containment_a_in_b": self.containment_a_in_b,
            "containment_b_in_a": self.containment_b_in_a,
            "alignment": self.alignment.to_dict(),
            "added": self.added,
            "removed": self.removed,
            "merges": self.merges,
            "same_normalizer": self.same_normalizer,
            "same_pre_tokenizer": self.same_pre_tokenizer,
            "behaviour": self.behaviour.to_dict() if self.behaviour else None,
            "notes": self.notes,
            "derived": self.derived,
        }


def _descr_equal(x: Any, y: Any) -> bool | None:
    """Whether two normalizer/pre-tokenizer descriptors are the same; None when the containers differ."""
    if x is None and y is None:
        return True
    tx = x.get("type") if isinstance(x, dict) else None
    ty = y.get("type") if isinstance(y, dict) else None
    if tx in ("gguf", "SentencePiece", "tiktoken") or ty in ("gguf", "SentencePiece", "tiktoken"):
        return x == y if tx == ty else None
    return x == y


def _sample(view: TokenizerView, ids: np.ndarray | list[int], k: int = 8) -> list[str]:
    return [view.display(int(i)) for i in list(ids)[:k]]


def derived_signals(jaccard: float, offset_fraction: float, merges: dict[str, Any] | None) -> list[str]:
    """The traces of derivation present in a partial overlap (empty: looks independently trained)."""
    out = []
    if jaccard >= JACCARD_DERIVED:
        out.append(f"Jaccard {jaccard:.3f} >= {JACCARD_DERIVED}")
    if offset_fraction >= OFFSET_DERIVED:
        out.append(f"{offset_fraction:.1%} of shared tokens at one id offset")
    if (
        merges
        and merges.get("rank_spearman") is not None
        and merges["shared_fraction"] >= MERGE_SHARED_MIN
        and merges["rank_spearman"] >= MERGE_RHO_DERIVED
    ):
        out.append(
            f"shared merges in the same order (Spearman {merges['rank_spearman']:.3f} over "
            f"{merges['shared_fraction']:.0%})"
        )
    return out


def relation_of(
    n_ref_only: int,
    n_sus_only: int,
    n_ref: int,
    n_sus: int,
    c_ab: float,
    c_ba: float,
    same_order: bool,
    derived: list[str],
) -> str:
    """The relation word from overlap figures (shared by compare and identify, which estimates them)."""
    if n_ref_only == 0 and n_sus_only == 0:
        return "identical" if same_order else "reordered"
    if c_ab >= CONTAINMENT_NEAR and n_sus > n_ref:
        return "extends"
    if c_ba >= CONTAINMENT_NEAR and n_ref > n_sus:
        return "subset"
    return "partial-overlap" if derived else "unrelated"


def compare_tokenizers(a: TokenizerView, b: TokenizerView, behaviour: bool = True) -> TokenizerComparison:
    """Relation of ``b`` (suspect) to ``a`` (reference) with the numbers behind it.

    ``behaviour=False`` skips encoding the sample texts (faster; for bulk scans).
    """
    al = align_vocab(a, b)
    union = al.n_ref + al.n_sus - al.n_shared
    jaccard = al.n_shared / union if union else 1.0
    c_ab = al.n_shared / al.n_ref if al.n_ref else 0.0
    c_ba = al.n_shared / al.n_sus if al.n_sus else 0.0
    same_order = al.in_place_fraction == 1.0
    merges = merge_agreement(a, b)
    derived = derived_signals(jaccard, al.offset_fraction, merges)
    relation = relation_of(al.n_ref_only, al.n_sus_only, al.n_ref, al.n_sus, c_ab, c_ba, same_order, derived)
    notes: list[str] = []
    added: dict[str, Any] = {}
    removed: dict[str, Any] = {}
    a_map = a.key_to_id
    b_map = b.key_to_id
    if al.n_sus_only:
        new_ids = sorted(i for k, i in b_map.items() if k not in a_map)
        classes = Counter(int(b.token_class[i]) for i in new_ids)
        from taoke.tokenizers.view import CLASS_NAMES

        added = {
            "count": len(new_ids),
            "scripts": _scripts(b, new_ids),
            "classes": {CLASS_NAMES[c]: n for c, n in classes.items()},
            "id_range": [new_ids[0], new_ids[-1]],
            "sample": _sample(b, new_ids),
        }
    if al.n_ref_only:
        gone = sorted(i for k, i in a_map.items() if k not in b_map)
        removed = {"count": len(gone), "scripts": _scripts(a, gone), "sample": _sample(a, gone)}
    if relation == "partial-overlap":
        notes.append("derived: " + "; ".join(derived))
    elif relation == "unrelated":
        notes.append(
            f"shared tokens (Jaccard {jaccard:.2f}) are what independently trained vocabularies share; "
            "no trace of derivation (id offsets, merge order)"
        )
    if b.n_padding or a.n_padding:
        notes.append(f"padding rows (converter placeholders, not tokens): A {a.n_padding}, B {b.n_padding}")
    if relation in ("extends", "subset") and al.n_shared:
        if al.in_place_fraction == 1.0:
            notes.append("all shared tokens keep their ids")
        else:
            notes.append(
                f"{al.in_place_fraction:.1%} of shared tokens keep their ids; "
                f"{al.offset_fraction:.1%} are shifted by {al.offset:+d}"
            )
    if a.size != b.size and relation == "identical":
        notes.append(f"same tokens but {a.size} vs {b.size} rows (padding)")
    comp = TokenizerComparison(
        relation=relation,
        a=_brief(a),
        b=_brief(b),
        alignment=al,
        jaccard=jaccard,
        containment_a_in_b=c_ab,
        containment_b_in_a=c_ba,
        added=added,
        removed=removed,
        merges=merges,
        same_normalizer=_descr_equal(a.normalizer, b.normalizer),
        same_pre_tokenizer=_descr_equal(a.pre_tokenizer, b.pre_tokenizer),
        notes=notes,
        derived=derived,
    )
    if behaviour:
        comp.behaviour = behaviour_check(a, b)
    return comp


def _brief(view: TokenizerView) -> dict[str, Any]:
    return {
        "name": view.name,
        "kind": view.kind,
        "container": view.container,
        "size": view.size,
        "n_tokens": len(view.key_to_id),
        "files": [str(p) for p in view.source_files],
    }
