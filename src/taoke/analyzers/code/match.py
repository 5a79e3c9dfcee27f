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
from taoke.analyzers.code.index import Block, CodeIndex, RefFile, block_of_lines

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


# Class/function alignment (`align_blocks`). A suspect block is aligned to the reference blocks whose
# fingerprints it shares: similarity = Dice of the two blocks' fingerprint sets; reference blocks within
# BLOCK_TIE of the best are its holders when the best reaches BLOCK_SIM; blocks under BLOCK_MIN_FPS
# fingerprints are boilerplate too short to say anything. The block is credited to its oldest holders
# (the transformers release that first shipped the file, when every holder's is known,
# `CodeIndex.release_order`; then the earliest copyright year, then latest: a copy keeps its parent's
# header and adds its own line; a file whose header has no year is dated by its model folder's other
# headers, `index.file_years`): code flows
# from older files to newer ones, so a sibling that took the same class later is not credited. A reference's
# origin share is the idf-weighted fraction of the suspect's blocks credited to it (each block weighs its idf
# over holder files, whatever its length); the top-1 parent is the
# reference with the largest share when it reaches MIN_ORIGIN. Dice, BLOCK_SIM, BLOCK_TIE and MIN_ORIGIN
# were chosen on the FIT split only (model files already in transformers 4.47.1; bench/code_lineage.py),
# never on the TEST files it reports.
BLOCK_SIM = 0.5
BLOCK_TIE = 0.9
BLOCK_MIN_FPS = 3
# MIN_ORIGIN was 0.10 under the copyright-year order, 0.075 with the release order, and the bench refits
# 0.065 on FIT with classes credited method by method (best top-1 F1); the library follows the fitted value
MIN_ORIGIN = 0.065


@dataclass
class BlockMatch:
    """One top-level class/function of the suspect (or one method of a class), aligned to the
    reference blocks holding it."""

    name: str
    kind: str  # "class" | "function" | "method"
    lines: tuple[int, int]
    fingerprints: int
    similarity: float = 0.0  # Dice of fingerprint sets with the best reference block (a class: whole)
    holders: int = 0  # reference files holding it within BLOCK_TIE of the best (a class: 0, see members)
    origins: list[str] = field(default_factory=list)  # the oldest holders, credited with it
    weight: float = 0.0  # idf over holder files (how specific it is; not its length); a class: its
    # methods' mean
    members: list[BlockMatch] = field(default_factory=list)  # a class's methods, each aligned

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["lines"] = list(self.lines)
        d["members"] = [m.to_dict() for m in self.members]
        return d


def _distinct(a: np.ndarray) -> np.ndarray:
    """The distinct values of ``a``, sorted (sorts ``a`` in place)."""
    a.sort()
    return a[np.r_[True, a[1:] != a[:-1]]] if len(a) else a


JOIN_CHUNK_ROWS = 1_000_000  # index rows joined at once by `_unit_pairs` (its memory, ~40 MB)


@dataclass
class Alignment:
    """What :func:`align_blocks` found: each suspect block aligned, each reference file's origin share
    (file id -> share), the index rows joined and the suspect's most common fingerprints left out of
    the join to keep it under its bound (0 for every real file measured)."""

    blocks: list[BlockMatch]
    shares: dict[int, float]
    rows: int = 0
    left_out: int = 0


def _unit_pairs(
    fp: Fingerprints,
    units: list[Block],
    table: tuple[np.ndarray, np.ndarray, np.ndarray],
    index: CodeIndex,
    exclude: set[int] | None,
    year: int | None,
    max_rows: int,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray], int, int]:
    """Which reference units (blocks or members, ``table``) share fingerprints with each suspect unit:
    (distinct fingerprints per suspect unit; then, per (suspect unit, reference unit) pair sharing
    any that could hold it (Dice >= BLOCK_TIE x BLOCK_SIM) or is its best: the suspect unit, the reference
    unit, the distinct fingerprints shared; the index rows joined;
    the distinct fingerprints left out).

    The join is sized before it is made: past ``max_rows`` index rows the most common fingerprints
    (those held by the most reference rows, boilerplate) are left out of it until it fits, so a file
    repeating a boilerplate class thousands of times costs a bounded time; its similarities are then
    lower than the truth (fewer shared fingerprints counted), never higher."""
    row_gb, gb_file, gb_nfps = table
    j, ok = block_of_lines(units, fp.line_start.astype(np.int64))
    uh, inv = np.unique(fp.hashes[ok], return_inverse=True)
    n_h = max(len(uh), 1)
    pk = np.unique(j[ok] * n_h + inv.reshape(-1))
    p_sb, p_h = pk // n_h, pk % n_h
    sb_n = np.bincount(p_sb, minlength=len(units))
    lo, hi = index.lookup(uh)
    cnt = (hi - lo)[p_h]
    total = int(cnt.sum())
    dropped = 0
    if total > max_rows:
        per_hash = np.bincount(p_h, weights=cnt, minlength=len(uh))  # rows each hash adds to the join
        by_rows = np.argsort(-(hi - lo), kind="stable")  # most common first
        left = total - np.cumsum(per_hash[by_rows])
        dropped = min(int(np.searchsorted(-left, -max_rows)) + 1, len(uh))  # drop until what is left fits
        keep_h = np.ones(len(uh), bool)
        keep_h[by_rows[:dropped]] = False
        sel = keep_h[p_h]
        p_sb, p_h, cnt = p_sb[sel], p_h[sel], cnt[sel]
        total = int(cnt.sum())
    n_gb = max(len(gb_file), 1)
    if not total:
        z = np.zeros(0, np.int64)
        return sb_n, (z, z, z), 0, dropped
    excl = np.fromiter(exclude, dtype=np.int64) if exclude else None
    yrs = np.array([f.year for f in index.files], dtype=np.int64) if year is not None else None
    # joined in chunks of whole suspect units, JOIN_CHUNK_ROWS rows each: the memory is the chunk's
    # (~40 bytes a row), not the file's; units never straddle two chunks, so the chunks' results are
    # disjoint and already in unit order
    unit_end = np.flatnonzero(np.r_[p_sb[1:] != p_sb[:-1], True]) + 1  # each unit's pairs end here
    through = np.cumsum(cnt)[unit_end - 1]  # rows joined up to the end of each unit
    bounds, k = [0], 0
    while k < len(unit_end):
        done = int(through[k - 1]) if k else 0
        k = max(int(np.searchsorted(through, done + JOIN_CHUNK_ROWS, "right")), k + 1)
        bounds.append(int(unit_end[k - 1]))
    us, shs = [], []
    for c0, c1 in zip(bounds[:-1], bounds[1:], strict=True):
        c_cnt = cnt[c0:c1]
        n = int(c_cnt.sum())
        if not n:
            continue
        pair = np.repeat(np.arange(c0, c1), c_cnt)
        rows = np.repeat(lo[p_h[c0:c1]], c_cnt) + (np.arange(n) - np.repeat(np.cumsum(c_cnt) - c_cnt, c_cnt))
        g = row_gb[rows]
        keep = g >= 0
        if excl is not None:
            keep[keep] &= ~np.isin(gb_file[g[keep]], excl)
        if yrs is not None:
            fy = yrs[gb_file[np.clip(g, 0, None)]]
            keep &= (fy == 9999) | (fy <= year)  # date precedence, as in match_fingerprints
        # sort-based distinct values (np.unique's hash path was 1.4 s per call on 11M rows)
        key = _distinct(pair[keep].astype(np.int64) * n_gb + g[keep])  # a hash once per ref unit
        v = np.sort(p_sb[key // n_gb] * n_gb + key % n_gb)
        if not len(v):
            continue
        starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
        uc, sh = v[starts], np.diff(np.r_[starts, len(v)])
        # kept: the pairs that can hold a unit (Dice >= BLOCK_TIE x BLOCK_SIM) and each unit's best
        # (its reported similarity); the rest cannot change a credit, and a repetitive file has
        # millions of them
        sb = uc // n_gb
        sim = sh / ((sb_n[sb] + gb_nfps[uc % n_gb]) / 2.0)
        first = np.flatnonzero(np.r_[True, sb[1:] != sb[:-1]])
        best = np.maximum.reduceat(sim, first)
        sel = (sim >= BLOCK_TIE * BLOCK_SIM) | (sim == np.repeat(best, np.diff(np.r_[first, len(sb)])))
        us.append(uc[sel])
        shs.append(sh[sel])
    u = np.concatenate(us) if us else np.zeros(0, np.int64)
    shared = np.concatenate(shs) if shs else np.zeros(0, np.int64)
    return sb_n, (u // n_gb, u % n_gb, shared), total, dropped  # sorted by suspect unit


def align_blocks(
    fp: Fingerprints,
    blocks: list[Block],
    index: CodeIndex,
    exclude: set[int] | None = None,
    year: int | None = None,
    members: list[Block] | None = None,
    max_rows: int = 12_000_000,
) -> Alignment:
    """Align the suspect's top-level classes/functions with the reference's, and credit each to its
    origin: the alignments and each reference file's origin share (file id -> share). ``max_rows``
    bounds the index rows joined, both passes together (`_unit_pairs`; ``Limits.max_align_rows``).

    WHY blocks, not files: a model file is assembled from classes of several parents (the attention of
    one, the decoder layer of another), and "copied then renamed" (Yi's ``LlamaAttention`` ->
    ``YiAttention``) renames whole classes; normalised tokens make a renamed class identical, and the
    alignment says which file each class came from. A block weighs its idf over holder files (Spärck
    Jones 1972), not its length: an ``RMSNorm`` held by 300 files weighs ~0, an attention held by three
    a lot, and a long ``ForSequenceClassification`` head copied into dozens of files does not outweigh
    the short classes that only the parent holds (weighing by fingerprints x idf: FIT top-1 0.613 /
    0.571, LOFO 0.714 / 0.619; by idf alone 0.643 / 0.576, 0.732 / 0.631). Crediting the oldest holder
    tells a common parent from a sibling that copied it later.

    WHY a class by its methods (``members``, from :func:`index.parse_blocks`): a class that a child
    subclasses and overrides in one method is generated (modular files) or copied with the other
    methods verbatim, but as a whole it no longer matches its parent's class; and a sibling that changed
    other methods holds the class as closely as the parent does. Each method of the class (with at
    least BLOCK_MIN_FPS fingerprints) is aligned against the methods of the reference classes and
    credits its own oldest holders with an equal part of the class's unit. Chosen on the FIT split
    against three other forms (the class whole, then methods only for a class under BLOCK_SIM, split
    equally or by fingerprints; methods always, split by fingerprints): FIT top-1 0.664 / 0.649 ->
    0.686 / 0.683, LOFO 0.739 / 0.684 -> 0.761 / 0.695 (bench/code_lineage.py). Without ``members``
    (or a class without methods) nothing is credited for the class: it still counts in the total."""
    out: list[BlockMatch] = []
    shares: dict[int, float] = defaultdict(float)
    if not blocks or not len(fp.hashes):
        return Alignment(out, {})
    n_files = len(index.files) - len(exclude or ())
    full_idf = float(np.log(1.0 + n_files))
    order = index.release_order()

    def credit(
        bm: BlockMatch,
        i: int,
        pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
        table: tuple[np.ndarray, np.ndarray, np.ndarray],
        part: float,
    ) -> None:
        """Align suspect unit ``i`` (``pairs`` from `_unit_pairs`, sorted by suspect unit: a slice, so
        a file of many thousand units costs no scan per unit) and credit ``part`` of a unit."""
        u_sb, u_g, shared = pairs
        _, gb_file, gb_nfps = table
        lo, hi = np.searchsorted(u_sb, [i, i + 1])
        if lo == hi:
            return
        gs = u_g[lo:hi]
        sim = shared[lo:hi] / ((bm.fingerprints + gb_nfps[gs]) / 2.0)
        best = float(sim.max())
        bm.similarity = round(best, 4)
        if best < BLOCK_SIM:
            return
        holders: dict[int, float] = {}
        near = sim >= BLOCK_TIE * best
        for f, s_ in zip(gb_file[gs[near]].tolist(), sim[near].tolist(), strict=True):
            holders[f] = max(holders.get(f, 0.0), s_)
        bm.holders = len(holders)
        bm.weight = float(np.log((1.0 + n_files) / (1.0 + len(holders))))
        if part <= 0:
            return
        # by first release when every holder's is known (`CodeIndex.release_order`), then by copyright years
        known = all(order[f] >= 0 for f in holders)
        age = {f: (order[f] if known else 0, index.files[f].year, index.files[f].latest) for f in holders}
        oldest = min(age.values())
        for f in sorted(f for f in holders if age[f] == oldest):
            bm.origins.append(index.files[f].rel)
            shares[f] += part * bm.weight * holders[f]

    b_table = index.block_table()
    sb_n, b_pairs, rows, left_out = _unit_pairs(fp, blocks, b_table, index, exclude, year, max_rows)
    if members:
        m_table = index.member_table()
        m_n, m_pairs, m_rows, m_left = _unit_pairs(
            fp, members, m_table, index, exclude, year, max(max_rows - rows, 0)
        )
        rows, left_out = rows + m_rows, max(left_out, m_left)
    weight_total = 0.0
    k = 0  # members are sorted by line, as the blocks are: one pass assigns them to their class
    for bi, b in enumerate(blocks):
        n_b = int(sb_n[bi])
        bm = BlockMatch(b.name, b.kind, (b.start, b.end), n_b)
        out.append(bm)
        inner: list[int] = []
        while members and k < len(members) and members[k].start <= b.end:
            if members[k].start >= b.start and int(m_n[k]) >= BLOCK_MIN_FPS:
                inner.append(k)
            k += 1
        if n_b < BLOCK_MIN_FPS:
            continue
        weight_total += full_idf  # every block counts once: a class, not its length, is the unit
        if b.kind != "class":
            credit(bm, bi, b_pairs, b_table, 1.0)
            continue
        credit(bm, bi, b_pairs, b_table, 0.0)  # the whole class: reported, not credited
        bm.holders, bm.weight = 0, 0.0
        for mk in inner:
            mb = members[mk]  # type: ignore[index]
            mm = BlockMatch(mb.name, mb.kind, (mb.start, mb.end), int(m_n[mk]))
            bm.members.append(mm)
            credit(mm, mk, m_pairs, m_table, 1.0 / len(inner))
            bm.weight += mm.weight / len(inner) if mm.origins else 0.0
            bm.origins.extend(o for o in mm.origins if o not in bm.origins)
    return Alignment(
        out, {f: v / weight_total for f, v in shares.items()} if weight_total else {}, rows, left_out
    )


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
    score: float = 0.0  # the file-level score, see `lineage_score`
    origin_share: float = 0.0  # share of the suspect's classes/functions credited to it (align_blocks)

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
    keep: set[int] | None = None,
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
    kept = {index.files[f].rel for f in keep or ()}
    cands = [m for m in cands if m.shared >= MIN_SHARED or m.reference in kept][: MAX_CANDIDATES + len(kept)]
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
    years = [index.files[index.file_id(m.reference)].year for m, _ in ranked]
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


def is_parent(m: RefMatch, best: bool = False) -> bool:
    """The lineage decision (bench/code_lineage.py): the reference is credited with at least
    MIN_ORIGIN of the suspect's classes/functions (see :func:`align_blocks`); a reference other than
    the best one must also explain MIN_SHARED fingerprints nobody better-ranked explained (greedy
    attribution, :func:`attribute`). WHY the second condition: without it the reported set held
    every same-year copy of a credited class (set precision on FIT 0.33; with it 0.52, recall 0.83 ->
    0.69; chosen on FIT, the best set F1 of six rules)."""
    return m.origin_share >= MIN_ORIGIN and (best or m.marginal >= MIN_SHARED)


def is_parent_by_file(m: RefMatch) -> bool:
    """The earlier, file-level decision, kept for comparison in the bench: the reference explains
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
