"""Index a model and search the registry for its nearest relatives.

Search is two stages. (1) The ANN index over compact vectors (:mod:`taoke.registry.vector`) gives a
shortlist of K candidates in sub-linear time. (2) Each candidate's stored fingerprint is compared with
the query by the full :func:`taoke.weights.compare` (well under a second each), which gives the
relationship, a p-value under a stated null and the evidence. Because K hypotheses are tested, the
p-values are adjusted by Holm's step-down procedure (valid under any dependence, uniformly more
powerful than Bonferroni); a candidate is reported as a relative only when its adjusted p-value is at
most ``alpha`` and compare calls it derived. When none is, the answer is "no significant relative".

Selective inference (issue 20): the shortlist is *chosen* by vectors hashed from the same invariants the
test reads, so Holm over the 5 shortlisted candidates alone does not control the family-wise error over
the registry (the selection already picked the smallest p-values). By default the family is the whole
registry (:attr:`Correction.REGISTRY`): every eligible model is a hypothesis, and those that were not
compared enter Holm with p = 1 -- valid because an unobserved p-value is at most 1, and exact when they
are not relatives. ``correction=Correction.SELECTION`` keeps the old family (the models compared) and
says so: it controls the error only conditional on the selection being independent of the p-values,
which it is not. The output names the family in ``correction`` and ``correction_family``.
"""

from __future__ import annotations

import time
from collections.abc import Container
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from taoke.progress import Progress, no_progress
from taoke.registry.ann import describe_plan
from taoke.registry.identity import Identity, describe, weight_hashes
from taoke.registry.store import ModelRecord, Registry
from taoke.registry.vector import compact_vector, raw_vector
from taoke.weights import (
    DEFAULT_ALPHA,
    Fingerprint,
    compare,
    fingerprint,
    is_fingerprint_file,
    load_fingerprint,
)
from taoke.weights.cache import FingerprintCache, content_key
from taoke.weights.mergefind import MergeFinding, find_merge
from taoke.weights.relationship import Relationship

DEFAULT_TOP = 5


class Correction(str, Enum):
    """Which family of hypotheses Holm adjusts over (see the module docstring)."""

    REGISTRY = "registry"  # every eligible registry model; those not compared count as p = 1
    SELECTION = "selection"  # only the models compared (shortlist and width scan): conditional on it

    __str__ = str.__str__
    __format__ = str.__format__


WIDTH_SCAN_MAX = 256
"""When no shortlisted candidate is a significant relative, up to this many further registry models of
the query's width are compared as well. The two shortlists key on tokens and on the raw residual basis;
a copy that replaced its tokenizer *and* rotated its residual stream defeats both, and only the full
compare (basis-free, id-aligned or weight-basis statistic) can still see it."""


@dataclass
class Prepared:
    """A model read once: its identity (None for a bare fingerprint file) and fingerprint."""

    identity: Identity | None
    fingerprint: Fingerprint
    seconds: float


class KnownContent:
    """``cid in KnownContent(registry)`` asks the database (one indexed lookup), instead of loading
    every content id of a million-model registry for each source indexed."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def __contains__(self, cid: object) -> bool:
        return isinstance(cid, str) and self.registry.find_content(cid) is not None


def prepare(
    spec: str | Path,
    known: Container[str] | None = None,
    progress: Progress = no_progress,
    cache: FingerprintCache | None = None,
) -> Prepared | str:
    """Hash, load and fingerprint a source; returns the content id instead when it is in ``known``.
    ``progress`` hears of the fingerprint's blocks (see :func:`taoke.weights.fingerprint`).

    Hashing comes first because it is cheap next to fingerprinting: a resumed scan skips known models
    after reading their bytes once, without building the model view. ``cache``: fingerprints kept by
    content (:mod:`taoke.weights.cache`), keyed here by the hash of every weight byte just computed.
    """
    from taoke.model import load
    from taoke.release import resolve

    if is_fingerprint_file(spec):
        t = time.perf_counter()
        fp = load_fingerprint(spec)
        return Prepared(None, fp, time.perf_counter() - t)
    release = resolve(str(spec))
    files, cid = weight_hashes(release)
    if known is not None and cid in known:
        return cid
    t = time.perf_counter()
    key = content_key(release, weights_digest=cid) if cache is not None else None
    model = load(release)
    try:
        fp = cache.get(key) if cache is not None and key is not None else None
        if fp is None:
            fp = fingerprint(model, progress=progress)
            if cache is not None and key is not None:
                cache.put(key, fp)
        else:  # the same bytes may sit under another name
            fp.name = model.name
        ident = describe(model, files, cid)
    finally:
        model.close()
    return Prepared(ident, fp, time.perf_counter() - t)


def index_source(registry: Registry, spec: str | Path) -> tuple[ModelRecord, bool]:
    """Index one source (a no-op for known content); returns its record and whether it was new."""
    prepared = prepare(spec, KnownContent(registry), registry.progress, registry.fingerprint_cache)
    if isinstance(prepared, str):
        rec = registry.find_content(prepared)
        assert rec is not None
        return rec, False
    if prepared.identity is None:
        from taoke.errors import AnalysisError

        raise AnalysisError("a fingerprint file has no weight files to hash: index the model itself", spec)
    mid, created = registry.add(prepared.identity, prepared.fingerprint, prepared.seconds)
    return registry.get(mid), created


@dataclass
class Hit:
    """One shortlisted candidate with its full compare result."""

    record: ModelRecord
    ann_similarity: float
    relationship: str
    derived: bool
    p_value: float | None  # None: this candidate could not be compared (untestable)
    log10_p_value: float | None
    log10_p_adjusted: float | None
    significant: bool
    confidence: float | None
    evidence: list[dict[str, Any]]
    layers: list[dict[str, Any]]
    note: str | None = None  # why the relationship was changed after the search (siblings, issue 20)
    relative: str | None = None  # the registry model the drift runs through (then shares-ancestor)
    shared_ancestor: dict[str, Any] | None = None  # compare's ``shared_ancestor`` transformation
    pair_alone: str | None = None  # the label the pair alone gives (fine-tuned, continued-pretraining)

    @property
    def p_adjusted(self) -> float | None:
        if self.log10_p_adjusted is None:
            return None
        return float(10.0**self.log10_p_adjusted) if self.log10_p_adjusted > -300 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.record.to_dict(),
            "ann_similarity": round(self.ann_similarity, 4),
            "relationship": self.relationship,
            "derived": self.derived,
            "p_value": self.p_value,
            "log10_p_value": _round(self.log10_p_value),
            "p_value_holm": self.p_adjusted,
            "log10_p_value_holm": _round(self.log10_p_adjusted),
            "significant": self.significant,
            "confidence": _round(self.confidence),
            "evidence": self.evidence,
            "layers": self.layers,
            "note": self.note,
            "relative": self.relative,
            "shared_ancestor": self.shared_ancestor,
            "pair_alone": self.pair_alone,
        }


_DRIFT = (Relationship.FINE_TUNED, Relationship.CONTINUED_PRETRAINING)


def through_relatives(registry: Registry, query: Fingerprint, hits: list[Hit]) -> None:
    """Issue 20, "two fine-tunes of one base": compare's sibling rule applied to the hits. A significant
    hit read as the query's fine-tuned (or continued) parent is compared again with the other hits as
    ``relatives`` (:mod:`taoke.weights.ancestry`): when one of them is closer to both than they are to
    each other (by ``BETWEEN_MARGIN``), the drift runs through it and the hit becomes
    ``shares-ancestor``, with the relative, the reason and the evidence ``taoke compare --relative``
    gives for the same pair. The relatives are the models already at hand: every hit kept in the list
    (shortlist and the width scan's best; one not related to both sides is no relative). Relabelled
    hits rank after the other significant hits, so the verdict names a parent, not a sibling."""
    drift = [h for h in hits if h.significant and h.relationship in _DRIFT]
    if not drift or len(hits) < 2:
        return
    fps: dict[int, Fingerprint] = {}
    for h in hits:
        fps[h.record.id] = registry.fingerprint(h.record.id)
        fps[h.record.id].name = h.record.name  # the name the reason prints
    memo: dict[tuple[str, str], float | None] = {}  # closeness to the query is shared by every hit
    for h in drift:
        others = [fps[o.record.id] for o in hits if o is not h]
        res = compare(fps[h.record.id], query, relatives=others, memo=memo)
        ancestor = res.transformations.get("shared_ancestor")
        if res.relationship is not Relationship.SHARES_ANCESTOR or not ancestor:
            continue
        h.pair_alone, h.relationship = h.relationship, res.relationship
        h.relative, h.shared_ancestor = str(ancestor["name"]), ancestor
        h.confidence, h.evidence = res.confidence, [e.to_dict() for e in res.evidence]
        h.note = next((r for r in res.reasons if r.startswith(f"{h.relative} is closer to both")), None)
    hits.sort(key=lambda h: (not h.significant, h.relative is not None))  # stable: p order kept


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


@dataclass
class SearchResult:
    """The answer of ``taoke search``: hits best first, and what was tested."""

    query: str
    query_identity: dict[str, Any] | None
    already_indexed: ModelRecord | None
    hits: list[Hit]
    alpha: float
    shortlist: int
    registry_size: int
    timings: dict[str, float] = field(default_factory=dict)
    shortlist_method: str = ""  # "hnsw ef=N" or "exact": how the candidates were found
    width_scan: int = 0  # models of the query's width compared after the shortlist found nothing
    correction_family: Correction = Correction.REGISTRY
    family_size: int = 0  # hypotheses Holm adjusted over
    merge: MergeFinding | None = None  # merge parents looked for among the significant relatives

    @property
    def relatives(self) -> list[Hit]:
        return [h for h in self.hits if h.significant]

    @property
    def best(self) -> Hit | None:
        rel = self.relatives
        return rel[0] if rel else None

    @property
    def verdict(self) -> str:
        """One line: the best significant hit's relationship and name (and the relative a shared
        ancestry runs through), or "no significant relative"."""
        best = self.best
        if best is None:
            return "no significant relative"
        if best.relative is not None:
            return f"{best.relationship} with {best.record.name} (through {best.relative})"
        return f"{best.relationship} of {best.record.name}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "identity": self.query_identity,
            "already_indexed": self.already_indexed.to_dict() if self.already_indexed else None,
            "registry_size": self.registry_size,
            "shortlist": self.shortlist,
            "shortlist_method": self.shortlist_method,
            "alpha": self.alpha,
            "width_scan": self.width_scan,
            "correction": self.correction_text,
            "correction_family": self.correction_family,
            "family_size": self.family_size,
            "verdict": self.verdict,
            "merge": self.merge.to_dict() if self.merge is not None else None,
            "hits": [h.to_dict() for h in self.hits],
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
        }

    @property
    def correction_text(self) -> str:
        compared = self.shortlist + self.width_scan
        how = f"{compared} compared ({self.shortlist} shortlisted, {self.width_scan} more of the same width)"
        if self.correction_family is Correction.REGISTRY:
            return (
                f"Holm step-down over the whole registry ({self.family_size} models: {how}; "
                f"the {max(0, self.family_size - compared)} not compared count as p = 1)"
            )
        return (
            f"Holm step-down over the selection only ({how}): conditional on the shortlist, which was "
            "chosen from the same invariants, so it does not control the error over the registry"
        )


def holm(log10_p: list[float], m: int | None = None) -> list[float]:
    """Holm step-down adjusted p-values, in log10 (order of the input kept).

    p_(i) sorted ascending is adjusted to max_{j<=i} min(1, (m - j) p_(j)) with j counted from 0.
    ``m`` (default: the number of p-values) is the family size; hypotheses beyond the ones given have
    p = 1 and never change the adjusted values of those given (they sort last).
    """
    m = len(log10_p) if m is None else max(int(m), len(log10_p))
    order = np.argsort(log10_p, kind="stable")
    out = [0.0] * len(log10_p)
    running = -np.inf
    for rank, idx in enumerate(order):
        adj = min(0.0, float(log10_p[idx]) + float(np.log10(m - rank)))
        running = max(running, adj)
        out[int(idx)] = running
    return out


RAW_SHORTLIST_MIN = 0.5
"""Raw-basis cosine from which a model joins the shortlist: independent models sit at ~N(0, 1/256)
(sd 0.06, so 0.5 is 8 sd), a copy that kept its parent's residual basis at 0.9-1.0."""


def raw_shortlist(registry: Registry, fp: Any, exclude: set[int], top: int) -> list[tuple[int, float]]:
    """Models of the same width whose raw-basis vector is within :data:`RAW_SHORTLIST_MIN` of the
    query's, best first, at most ``top``: the copies the token-keyed shortlist cannot see because the
    suspect ships no tokenizer, or another one (see :mod:`taoke.registry.vector`). An exact scan over
    the rows of that width only."""
    query = raw_vector(fp)
    if not np.any(query):
        return []
    ids, vecs = registry.vectors(raw=True, d_model=fp.d_model)
    if len(ids) == 0:
        return []
    sims = vecs @ query
    order = np.argsort(-sims)
    out: list[tuple[int, float]] = []
    for j in order:
        if sims[j] < RAW_SHORTLIST_MIN or len(out) >= top:
            break
        if int(ids[j]) not in exclude:
            out.append((int(ids[j]), float(sims[j])))
    return out


def _present(registry: Registry, ids: set[int]) -> int:
    """How many of ``ids`` are rows of the registry (excluded rows are no hypothesis)."""
    from taoke.errors import TaokeError

    n = 0
    for i in ids:
        try:
            registry.get(i)
            n += 1
        except TaokeError:
            pass
    return n


def _compare_row(registry: Registry, mid: int, sim: float, fp: Any) -> tuple[ModelRecord, float, Any]:
    return registry.get(mid), sim, compare(registry.fingerprint(mid), fp)


def _adjust(results: list[tuple[ModelRecord, float, Any]], family: int | None = None) -> list[float | None]:
    """Holm over the candidates that could be tested (an untestable one, no p-value, is no hypothesis),
    in a family of ``family`` hypotheses (default: the tested candidates only)."""
    tested = [i for i, (_, _, r) in enumerate(results) if r.log10_p_value is not None]
    adjusted: list[float | None] = [None] * len(results)
    untested = len(results) - len(tested)
    m = None if family is None else max(len(tested), family - untested)
    for i, a in zip(tested, holm([results[i][2].log10_p_value for i in tested], m), strict=True):
        adjusted[i] = a
    return adjusted


def _significant(row: tuple[ModelRecord, float, Any], adj: float | None, alpha: float) -> bool:
    return bool(row[2].derived and adj is not None and adj <= np.log10(alpha))


def search(
    registry: Registry,
    query: Any,
    *,
    top: int = DEFAULT_TOP,
    alpha: float = DEFAULT_ALPHA,
    exclude_ids: set[int] | None = None,
    ef: int | None = None,
    exact: bool = False,
    width_scan_max: int = WIDTH_SCAN_MAX,
    correction: Correction = Correction.REGISTRY,
) -> SearchResult:
    """Nearest relatives of ``query`` (a source spec, fingerprint file, Prepared or Fingerprint).

    A query already in the registry under the same name is not matched against its own row (it is
    reported as ``already_indexed``); ``exclude_ids`` leaves out other rows too. The shortlist is an
    exact scan of every vector up to 1M models (or with ``exact``), else the HNSW graph at search
    breadth ``ef`` (default grows with the registry): :meth:`taoke.registry.ann.AnnIndex.plan`.
    When no shortlisted candidate is a significant relative, up to ``width_scan_max`` more models of
    the query's width are compared (:data:`WIDTH_SCAN_MAX`). Holm adjusts over ``correction``'s family:
    every eligible registry model (default) or only the models compared.
    """
    t0 = time.perf_counter()
    if isinstance(query, Fingerprint):
        prepared = Prepared(None, query, 0.0)
    elif isinstance(query, Prepared):
        prepared = query
    else:
        got = prepare(query, progress=registry.progress, cache=registry.fingerprint_cache)
        assert not isinstance(got, str)
        prepared = got
    fp = prepared.fingerprint
    ident = prepared.identity
    exclude = set(exclude_ids or ())
    self_rec = registry.find_content(ident.content_id) if ident is not None else None
    if self_rec is not None and self_rec.name == ident.name:
        # the same release searched again: not its own relative. The same bytes under another name
        # (a re-upload) stay in: that row *is* the answer, and compare will call it identical.
        exclude.add(self_rec.id)
    t1 = time.perf_counter()
    vec = compact_vector(fp)
    index = registry.ann()
    t2 = time.perf_counter()
    cands = [(i, s) for i, s in index.search(vec, top + len(exclude), ef, exact) if i not in exclude][:top]
    cands += raw_shortlist(registry, fp, exclude | {i for i, _ in cands}, top)
    t3 = time.perf_counter()
    results = [_compare_row(registry, mid, sim, fp) for mid, sim in cands]
    eligible = max(len(cands), len(index) - _present(registry, exclude))

    def family() -> int | None:
        return eligible if correction is Correction.REGISTRY else None

    adjusted = _adjust(results, family())
    scanned = 0
    found = any(_significant(r, a, alpha) for r, a in zip(results, adjusted, strict=True))
    if width_scan_max > 0 and fp.d_model and not found:
        seen = exclude | {mid for mid, _ in cands}
        ids, _ = registry.vectors(raw=True, d_model=fp.d_model)
        for mid in [int(i) for i in ids if int(i) not in seen][:width_scan_max]:
            results.append(_compare_row(registry, mid, 0.0, fp))
            scanned += 1
        adjusted = _adjust(results, family())
    t4 = time.perf_counter()
    hits = [
        Hit(
            record=rec,
            ann_similarity=sim,
            relationship=res.relationship,
            derived=res.derived,
            p_value=res.p_value,
            log10_p_value=res.log10_p_value,
            log10_p_adjusted=adj,
            significant=_significant((rec, sim, res), adj, alpha),
            confidence=res.confidence,
            evidence=[e.to_dict() for e in res.evidence],
            layers=[m.to_dict() for m in res.layers],
        )
        for (rec, sim, res), adj in zip(results, adjusted, strict=True)
    ]
    hits.sort(
        key=lambda h: (
            not h.significant,
            np.inf if h.log10_p_adjusted is None else h.log10_p_adjusted,
            -h.ann_similarity,
        )
    )
    del hits[max(len(cands), top) :]  # the width scan's best join the list; the rest only count in Holm
    t5 = time.perf_counter()
    through_relatives(registry, fp, hits)
    t6 = time.perf_counter()
    # issue 20: is the query a merge of relatives? Looked for among the significant relatives (a merge
    # is related to each parent), without any parent named
    rel_ids = [h.record.id for h in hits if h.significant]
    merge = find_merge(fp, [registry.fingerprint(i) for i in rel_ids]) if len(rel_ids) >= 2 else None
    return SearchResult(
        query=ident.name if ident is not None else fp.name,
        query_identity=ident.to_dict() if ident is not None else None,
        already_indexed=self_rec,
        hits=hits,
        alpha=alpha,
        shortlist=len(cands),
        registry_size=len(index),
        shortlist_method=describe_plan(index.plan(top + len(exclude), ef, exact)),
        width_scan=scanned,
        correction_family=Correction(correction),
        merge=merge,
        family_size=eligible if correction is Correction.REGISTRY else len(results),
        timings={
            "fingerprint": prepared.seconds,
            "ann_load": t2 - t1,
            "shortlist": t3 - t2,
            "compare": t4 - t3,
            "relatives": t6 - t5,  # the sibling rule: drift hits compared again, the others as relatives
            "total": time.perf_counter() - t0,
        },
    )
