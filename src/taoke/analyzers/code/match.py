"""Matching a file's fingerprints against the reference index, and deciding which references are parents.

Similarity is containment both ways: |F(S) ∩ F(R)| / |F(S)| (how much of the suspect is the reference)
and / |F(R)| (how much of the reference was taken). Shared fingerprints are then attributed greedily
(:func:`attribute`) so that a helper copied into hundreds of files does not make them all parents, and
:func:`is_parent` makes the file-level decision. The matched fingerprints are chained into side-by-side
regions (:func:`spans`) for the report.

Reads the index only through :class:`~taoke.analyzers.code.index.CodeIndex`'s interface.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from taoke.analyzers.code.engine import Fingerprints
from taoke.analyzers.code.index import CodeIndex, RefFile
from taoke.analyzers.code.notices import earliest_year

# A reference file is a parent when, after greedy attribution (see `attribute`), it explains at least
# MIN_SHARED fingerprints nobody better-ranked explained AND either its score (`lineage_score`) clears
# MIN_SCORE or it covers MIN_BLOCK_COVER of one of its own top-level classes/functions (>= MIN_BLOCK_FPS
# matched). MIN_SHARED and the block rule are the earlier in-sample sweep's; MIN_SCORE is fitted out of
# sample (see below). MIN_CONTAINMENT is kept for callers of the all-copies view.
MIN_SHARED = 12
MIN_BLOCK_COVER = 0.9
MIN_BLOCK_FPS = 4
MIN_CONTAINMENT = 0.5
MAX_CANDIDATES = 300  # references considered per file (by shared fingerprints)
# Parent threshold on `lineage_score`, fitted on the FIT split only (model files already in
# transformers 4.47.1, the last 2024 release; bench/code_lineage.py), never on the TEST files it reports.
MIN_SCORE = 0.17
TIE = 0.9  # references explaining >= 90% of the best one's fingerprints are tied; the oldest wins


@dataclass
class Span:
    """One matched region, side by side: suspect lines and reference lines (1-based, inclusive)."""

    suspect_start: int
    suspect_end: int
    reference_start: int
    reference_end: int
    fingerprints: int
    suspect_text: str = ""
    reference_text: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RefMatch:
    """One reference file sharing fingerprints with a suspect file."""

    reference: str  # "llama/modeling_llama.py"
    shared: int  # fingerprints shared
    containment_suspect: float  # |S ∩ R| / |S|
    containment_reference: float  # |S ∩ R| / |R|
    name_similarity: float
    blocks: list[dict[str, Any]] = field(default_factory=list)  # reference classes/functions covered
    parent: bool = False
    marginal: int = 0  # fingerprints this reference explains that better-ranked parents did not
    weighted_suspect: float = 0.0  # idf-weighted |S ∩ R| / |S| (rare fragments over boilerplate)
    weighted_reference: float = 0.0  # idf-weighted |S ∩ R| / |R|
    year: int = 9999  # the reference's earliest copyright year
    score: float = 0.0  # the ranking score, see `lineage_score`

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def name_similarity(a: dict[str, int], b: dict[str, int]) -> float:
    """Weighted Jaccard of identifier bags (family prefixes stripped)."""
    if not a or not b:
        return 0.0
    keys = set(a) | set(b)
    num = sum(min(a.get(x, 0), b.get(x, 0)) for x in keys)
    den = sum(max(a.get(x, 0), b.get(x, 0)) for x in keys)
    return num / den if den else 0.0


def match_fingerprints(
    fp: Fingerprints,
    names: dict[str, int],
    index: CodeIndex,
    exclude: set[int] | None = None,
    year: int | None = None,
) -> list[tuple[RefMatch, np.ndarray]]:
    """Reference files sharing fingerprints with ``fp``, best first; with the index rows matched.

    Ranking: containment of the suspect in the reference, then (for near-identical references such as
    the many files generated from modeling_llama.py) similarity of the identifiers."""
    if len(fp.hashes) == 0:
        return []
    uniq = np.unique(fp.hashes)
    lo, hi = index.lookup(uniq)
    has = hi > lo
    if not has.any():
        return []
    rows = np.concatenate([np.arange(a, b) for a, b in zip(lo[has], hi[has], strict=True)])
    fids = index.file_ids[rows]
    # shared = number of distinct suspect hashes present in each reference file. The index was sorted
    # stably by hash from per-file arrays in file order, so equal (hash, file) rows are adjacent: one
    # linear pass drops the repeats, no sort needed.
    hash_idx = np.repeat(np.nonzero(has)[0], (hi - lo)[has])
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (hash_idx[1:] != hash_idx[:-1]) | (fids[1:] != fids[:-1])
    if exclude:
        first &= ~np.isin(fids, np.fromiter(exclude, dtype=np.int64))
    counts = np.bincount(fids[first], minlength=len(index.files))
    # idf of each suspect hash within the index as queried (excluded files do not count); a hash no
    # reference holds is the rarest of all
    n_files = len(index.files) - len(exclude or ())
    df = np.bincount(hash_idx[first], minlength=len(uniq))
    idf = np.log((1.0 + n_files) / (1.0 + df))
    w_s = float(idf.sum()) or 1.0
    w_shared = np.bincount(fids[first], weights=idf[hash_idx[first]], minlength=len(index.files))
    _, ref_totals = index.idf()
    n_s = len(uniq)
    cands = []
    for fid in np.nonzero(counts)[0]:
        ref = index.files[fid]
        if year is not None and ref.year != 9999 and ref.year > year:
            continue  # date precedence: a file cannot copy from one written after it
        shared = int(counts[fid])
        m = RefMatch(ref.rel, shared, shared / n_s, shared / max(ref.n_fps, 1), 0.0)
        m.weighted_suspect = float(w_shared[fid]) / w_s
        m.weighted_reference = float(w_shared[fid]) / max(float(ref_totals[fid]), 1e-9)
        m.year = ref.year
        cands.append(m)
    cands.sort(key=lambda m: m.shared, reverse=True)
    cands = [m for m in cands if m.shared >= MIN_SHARED][:MAX_CANDIDATES]
    for m in cands:
        m.name_similarity = name_similarity(names, index.files[index.file_id(m.reference)].names)
        m.score = lineage_score(m)
    cands.sort(key=lambda m: (m.score, m.name_similarity, m.shared), reverse=True)
    return [(m, rows[fids == index.file_id(m.reference)]) for m in cands]


def lineage_score(m: RefMatch) -> float:
    """Ranking score of one reference for one suspect: idf-weighted containment both ways.

    WHY both ways: a parent holds much of the child's rare code (``weighted_suspect``); a file that
    merely shares a few rare helpers holds little of it. The reference side (``weighted_reference``)
    tells the file the child was built from from a big file it borrowed one class of. The harmonic
    mean needs both: it was the best of eight scores compared on the FIT split (bench/code_lineage.py)."""
    a, b = m.weighted_suspect, m.weighted_reference
    return 2 * a * b / (a + b) if a + b > 0 else 0.0


def block_cover(ref: RefFile, index: CodeIndex, rows: np.ndarray) -> list[dict[str, Any]]:
    """Which top-level classes/functions of the reference the matched fingerprints fall in, and how
    much of each block's fingerprints were matched."""
    if not ref.blocks:
        return []
    if not len(rows):
        return []
    starts = index.line_start[rows]
    hashes = index.hashes[rows]
    all_starts = index.file_starts(int(index.file_ids[rows[0]]))
    out = []
    for b in ref.blocks:
        n_all = int(
            np.searchsorted(all_starts, b.end, "right") - np.searchsorted(all_starts, b.start, "left")
        )
        sel = (starts >= b.start) & (starts <= b.end)
        n_hit = int(len(np.unique(hashes[sel]))) if sel.any() else 0
        if n_hit:
            out.append(
                {
                    "name": b.name,
                    "kind": b.kind,
                    "lines": [b.start, b.end],
                    "matched": n_hit,
                    "fingerprints": n_all,
                    "cover": round(min(n_hit / max(n_all, 1), 1.0), 3),
                }
            )
    out.sort(key=lambda d: (d["cover"], d["matched"]), reverse=True)
    return out


def attribute(ranked: list[tuple[RefMatch, np.ndarray]], index: CodeIndex) -> None:
    """Greedy source attribution (set cover): the reference explaining the most fingerprints takes
    them; each next reference is credited only with fingerprints not yet explained (``marginal``).

    WHY: a helper such as ``rotate_half`` exists verbatim in hundreds of files; crediting every one of
    them as a parent would drown the real source. Among references that explain nearly as much
    (within ``TIE``), the one with the oldest copyright year wins: code flows from older files to
    newer ones (the many generated copies of llama's classes are younger than modeling_llama.py),
    then the ranking order (containment, identifier similarity) decides."""
    if not ranked:
        return
    sets = [set(index.hashes[rows].tolist()) for _, rows in ranked]
    years = [earliest_year(index.files[index.file_id(m.reference)].header) for m, _ in ranked]
    remaining = set().union(*sets)
    order = list(range(len(ranked)))
    while order:
        gains = {i: len(sets[i] & remaining) for i in order}
        top = max(gains.values())
        if top < MIN_SHARED:  # nothing left that could make a parent
            break
        pool = [i for i in order if gains[i] >= TIE * top]
        pick = min(pool, key=lambda i: (years[i], i))
        gain = sets[pick] & remaining
        ranked[pick][0].marginal = len(gain)
        remaining -= gain
        order.remove(pick)
    # the best match is the first parent picked (the rest keep their ranking)
    # the best match: the highest score among the references that explain something on their own
    ranked.sort(key=lambda mr: (mr[0].marginal >= MIN_SHARED, mr[0].score), reverse=True)


def is_parent(m: RefMatch) -> bool:
    """The file-level lineage decision (validated by bench/code_lineage.py): the reference explains
    enough fingerprints that no better-ranked parent explained (greedy attribution, see
    :func:`attribute`), and either much of the suspect or most of one reference class/function."""
    if m.marginal < MIN_SHARED:
        return False
    if m.score >= MIN_SCORE:
        return True
    return any(b["cover"] >= MIN_BLOCK_COVER and b["matched"] >= MIN_BLOCK_FPS for b in m.blocks)


def spans(fp: Fingerprints, index: CodeIndex, rows: np.ndarray, gap: int = 4) -> list[Span]:
    """Chain matched fingerprints into side-by-side regions (suspect lines <-> reference lines)."""
    ref_by_hash: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for r in rows:
        ref_by_hash[int(index.hashes[r])].append((int(index.line_start[r]), int(index.line_end[r])))
    pairs = []
    for h, s0, s1 in zip(fp.hashes.tolist(), fp.line_start.tolist(), fp.line_end.tolist(), strict=True):
        for r0, r1 in ref_by_hash.get(int(h), ()):
            pairs.append((s0, s1, r0, r1))
    pairs.sort()
    out: list[Span] = []
    for s0, s1, r0, r1 in pairs:
        if out:
            cur = out[-1]
            if s0 <= cur.suspect_end + gap and cur.reference_start - gap <= r0 <= cur.reference_end + gap:
                cur.suspect_end = max(cur.suspect_end, s1)
                cur.reference_end = max(cur.reference_end, r1)
                cur.reference_start = min(cur.reference_start, r0)
                cur.fingerprints += 1
                continue
        out.append(Span(s0, s1, r0, r1, 1))
    return [s for s in out if s.fingerprints >= 2]


def excerpt(lines: list[str], start: int, end: int, max_lines: int) -> str:
    """Lines ``start..end`` (1-based, inclusive) of a file, cut at ``max_lines`` with a count of the rest."""
    seg = lines[start - 1 : min(end, start - 1 + max_lines)]
    more = (end - start + 1) - len(seg)
    return "\n".join(seg) + (f"\n... ({more} more lines)" if more > 0 else "")
