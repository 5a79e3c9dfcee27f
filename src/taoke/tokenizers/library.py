"""The known-tokenizer library and ``identify``: whose vocabulary is this?

Each known tokenizer is stored compactly (a few KB) as a **bottom-k sketch**: the k smallest 64-bit
hashes of its match keys (canonical token bytes), each with the token's id, plus a bottom-k sketch of
its BPE merges with their ranks, and SHA-256 hashes of the whole vocabulary as a set and in id order.
Because a bottom-k sample is a uniform random sample of the known vocabulary (the hash decides), the
fraction of sampled tokens found in a query estimates how much of the known vocabulary the query
contains — the extension signal — with standard error sqrt(c(1-c)/k); the ids of the found tokens
estimate the id offset, and the sampled merges' ranks the merge-order agreement. Exact identity and
reordering are decided by the full-vocabulary hashes, not estimated.

The shipped library (``taoke/data/tokenizers/library.json``) is built from the real tokenizers in the
fixtures by ``python -m taoke.tokenizers.build_library FIXTURES_DIR``; users add their own with
``taoke tokenizer add`` into ``tokenizers/library.json`` in taoke's cache home (:mod:`taoke.paths`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from taoke.errors import CorruptFile, TaokeError
from taoke.limits import Limits, current_limits
from taoke.paths import home
from taoke.release.bounded import read_json
from taoke.tokenizers.compare import derived_signals, relation_of
from taoke.tokenizers.view import TokenizerView

SKETCH_K = 512
MERGE_K = 256
LIBRARY_VERSION = 1
_RELATION_RANK = {
    "identical": 0,
    "reordered": 1,
    "extends": 2,
    "subset": 2,
    "partial-overlap": 3,
    "unrelated": 4,
}


def key_hashes(keys: list[bytes]) -> np.ndarray:
    """64-bit BLAKE2b hashes of match keys (stable across platforms and Python versions)."""
    out = np.empty(len(keys), dtype=np.uint64)
    for i, k in enumerate(keys):
        out[i] = int.from_bytes(hashlib.blake2b(k, digest_size=8).digest(), "little")
    return out


def _merge_key(pair: tuple[bytes, bytes]) -> bytes:
    return len(pair[0]).to_bytes(4, "little") + pair[0] + pair[1]


@dataclass
class QueryIndex:
    """A query vocabulary prepared once for matching against every library entry (hash -> id)."""

    view: TokenizerView
    hash_to_id: dict[int, int]
    merge_hash_to_rank: dict[int, int]
    n_tokens: int

    @classmethod
    def of(cls, view: TokenizerView) -> QueryIndex:
        keys = list(view.key_to_id)
        hashes = key_hashes(keys)
        ids = [view.key_to_id[k] for k in keys]
        mh: dict[int, int] = {}
        if view.merges:
            for rank, h in enumerate(key_hashes([_merge_key(m) for m in view.merges]).tolist()):
                mh.setdefault(h, rank)
        return cls(view, dict(zip(hashes.tolist(), ids, strict=False)), mh, len(keys))


@dataclass
class LibraryEntry:
    """One known tokenizer: identity, provenance and its sketches."""

    name: str
    family: str
    kind: str
    size: int
    n_tokens: int
    set_hash: str
    order_hash: str
    sketch_hashes: np.ndarray  # uint64, ascending: the SKETCH_K smallest key hashes
    sketch_ids: np.ndarray  # int32, the id of each sampled token
    merge_hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    merge_ranks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    n_merges: int = 0
    model: str = ""
    head: list[str] = field(default_factory=list)  # first tokens, for humans
    tail: list[str] = field(default_factory=list)  # last tokens
    sources: list[dict[str, Any]] = field(default_factory=list)
    notes: str = ""
    origin: str = "shipped"  # "shipped" | "user"

    @classmethod
    def from_view(cls, view: TokenizerView, name: str, family: str, **kw: Any) -> LibraryEntry:
        keys = list(view.key_to_id)
        hashes = key_hashes(keys)
        order = np.argsort(hashes, kind="stable")[:SKETCH_K]
        ids = np.array([view.key_to_id[keys[i]] for i in order], dtype=np.int32)
        mh = np.zeros(0, dtype=np.uint64)
        mr = np.zeros(0, dtype=np.int32)
        if view.merges:
            all_mh = key_hashes([_merge_key(m) for m in view.merges])
            morder = np.argsort(all_mh, kind="stable")[:MERGE_K]
            mh, mr = all_mh[morder], morder.astype(np.int32)
        shown = [i for i in range(view.size) if view.keys[i] is not None]
        return cls(
            name=name,
            family=family,
            kind=view.kind,
            size=view.size,
            n_tokens=len(keys),
            set_hash=view.set_hash,
            order_hash=view.order_hash,
            sketch_hashes=hashes[order],
            sketch_ids=ids,
            merge_hashes=mh,
            merge_ranks=mr,
            n_merges=len(view.merges),
            head=[view.display(i) for i in shown[:5]],
            tail=[view.display(i) for i in shown[-5:]],
            **kw,
        )

    def to_json(self) -> dict[str, Any]:
        def b64(a: np.ndarray, dt: str) -> str:
            return base64.b64encode(a.astype(dt).tobytes()).decode("ascii")

        return {
            "name": self.name,
            "family": self.family,
            "model": self.model,
            "kind": self.kind,
            "size": self.size,
            "n_tokens": self.n_tokens,
            "n_merges": self.n_merges,
            "set_hash": self.set_hash,
            "order_hash": self.order_hash,
            "head": self.head,
            "tail": self.tail,
            "sources": self.sources,
            "notes": self.notes,
            "sketch": {"hashes": b64(self.sketch_hashes, "<u8"), "ids": b64(self.sketch_ids, "<i4")},
            "merges": {"hashes": b64(self.merge_hashes, "<u8"), "ranks": b64(self.merge_ranks, "<i4")},
        }

    @classmethod
    def from_json(cls, d: dict[str, Any], where: str, origin: str = "shipped") -> LibraryEntry:
        try:

            def arr(s: str, dt: str) -> np.ndarray:
                return np.frombuffer(base64.b64decode(s, validate=True), dtype=dt).copy()

            entry = cls(
                name=str(d["name"]),
                family=str(d["family"]),
                model=str(d.get("model", "")),
                kind=str(d["kind"]),
                size=int(d["size"]),
                n_tokens=int(d["n_tokens"]),
                n_merges=int(d.get("n_merges", 0)),
                set_hash=str(d["set_hash"]),
                order_hash=str(d["order_hash"]),
                head=list(d.get("head", [])),
                tail=list(d.get("tail", [])),
                sources=list(d.get("sources", [])),
                notes=str(d.get("notes", "")),
                sketch_hashes=arr(d["sketch"]["hashes"], "<u8").astype(np.uint64),
                sketch_ids=arr(d["sketch"]["ids"], "<i4").astype(np.int32),
                merge_hashes=arr(d["merges"]["hashes"], "<u8").astype(np.uint64),
                merge_ranks=arr(d["merges"]["ranks"], "<i4").astype(np.int32),
                origin=origin,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptFile(
                f"tokenizer library entry {d.get('name', '?') if isinstance(d, dict) else '?'!r} "
                f"is malformed ({type(exc).__name__}: {exc})",
                where,
            ) from None
        if len(entry.sketch_hashes) != len(entry.sketch_ids) or len(entry.merge_hashes) != len(
            entry.merge_ranks
        ):
            raise CorruptFile(
                f"tokenizer library entry {entry.name!r}: sketch arrays differ in length", where
            )
        return entry


@dataclass
class IdentifyMatch:
    """How a query relates to one known tokenizer (known = reference A, query = suspect B)."""

    name: str
    family: str
    relation: str
    jaccard: float  # estimated |A ∩ Q| / |A ∪ Q|
    containment: float  # estimated share of the known vocabulary inside the query (extension signal)
    query_in_known: float  # estimated share of the query inside the known vocabulary
    stderr: float  # standard error of ``containment`` (bottom-k sample)
    sample: int  # sampled known tokens
    offset: int  # most common query_id - known_id among sampled shared tokens
    offset_fraction: float
    merge_rho: float | None
    exact: str | None  # "order" / "set" when the full-vocabulary hashes are equal
    derived: list[str]
    known_size: int
    origin: str
    sources: list[str]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class IdentifyResult:
    """Top-K nearest known tokenizers for one query."""

    query: dict[str, Any]
    matches: list[IdentifyMatch]
    library_size: int

    @property
    def best(self) -> IdentifyMatch | None:
        return self.matches[0] if self.matches else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "library_size": self.library_size,
            "matches": [m.to_dict() for m in self.matches],
        }


def _spearman(x: list[int], y: list[int]) -> float | None:
    if len(x) < 8:
        return None
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def match_entry(q: QueryIndex, e: LibraryEntry) -> IdentifyMatch:
    """Estimate the relation of query ``q`` to known entry ``e`` from ``e``'s sketches."""
    exact = "order" if q.view.order_hash == e.order_hash else "set" if q.view.set_hash == e.set_hash else None
    found_known: list[int] = []
    found_query: list[int] = []
    for h, kid in zip(e.sketch_hashes.tolist(), e.sketch_ids.tolist(), strict=False):
        qid = q.hash_to_id.get(h)
        if qid is not None:
            found_known.append(kid)
            found_query.append(qid)
    k = len(e.sketch_hashes)
    c = len(found_known) / k if k else 0.0
    shared = c * e.n_tokens
    union = e.n_tokens + q.n_tokens - shared
    jac = shared / union if union else 0.0
    q_in_k = min(1.0, shared / q.n_tokens) if q.n_tokens else 0.0
    offset, off_frac = 0, 0.0
    if found_known:
        diffs = np.asarray(found_query) - np.asarray(found_known)
        vals, counts = np.unique(diffs, return_counts=True)
        j = int(np.argmax(counts))
        offset, off_frac = int(vals[j]), float(counts[j] / len(diffs))
    rho = None
    merge_info = None
    if len(e.merge_hashes) and q.merge_hash_to_rank:
        kr, qr = [], []
        for h, r in zip(e.merge_hashes.tolist(), e.merge_ranks.tolist(), strict=False):
            rq = q.merge_hash_to_rank.get(h)
            if rq is not None:
                kr.append(r)
                qr.append(rq)
        rho = _spearman(kr, qr)
        frac = len(kr) / len(e.merge_hashes)
        if rho is not None:  # shared fraction relative to the shorter list, estimated from the sample
            shorter = min(e.n_merges, len(q.view.merges)) or 1
            merge_info = {"rank_spearman": rho, "shared_fraction": min(1.0, frac * e.n_merges / shorter)}
    if exact == "order":
        relation = "identical"
    elif exact == "set":
        relation = "reordered"
    else:
        # sampled estimates never prove equality (the hashes do): pass "something differs" to the rule
        relation = relation_of(
            1, 1, e.n_tokens, q.n_tokens, c, q_in_k, False, derived_signals(jac, off_frac, merge_info)
        )
    derived = derived_signals(jac, off_frac, merge_info) if exact is None else []
    stderr = float(np.sqrt(max(c * (1 - c), 1.0 / k) / k)) if k else 1.0
    return IdentifyMatch(
        e.name,
        e.family,
        relation,
        jac,
        c,
        q_in_k,
        stderr,
        k,
        offset,
        off_frac,
        rho,
        exact,
        derived,
        e.size,
        e.origin,
        [s.get("path", "") for s in e.sources],
    )


# ---------------------------------------------------------------------------------------------- library files
def shipped_library_path() -> Path:
    return Path(str(resources.files("taoke") / "data" / "tokenizers" / "library.json"))


def user_library_path() -> Path:
    """Where ``taoke tokenizer add`` stores user tokenizers: ``tokenizers/library.json`` in taoke's cache
    home (:func:`taoke.paths.home`: ``TAOKE_HOME``, ``$XDG_CACHE_HOME/taoke`` or ``~/.cache/taoke``)."""
    return home() / "tokenizers" / "library.json"


def read_library(path: Path, origin: str, limits: Limits | None = None) -> list[LibraryEntry]:
    """Entries of one library file (bounded JSON read; malformed -> CorruptFile naming the file)."""
    doc = read_json(path, limits or current_limits())
    if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
        raise CorruptFile('not a taoke tokenizer library (no "entries" list)', path)
    return [LibraryEntry.from_json(d, str(path), origin) for d in doc["entries"]]


def write_library(path: Path, entries: list[LibraryEntry], meta: dict[str, Any] | None = None) -> None:
    """Write entries (sorted by name) as compact, deterministic JSON."""
    doc = {
        "version": LIBRARY_VERSION,
        "sketch_k": SKETCH_K,
        "merge_k": MERGE_K,
        **(meta or {}),
        "entries": [e.to_json() for e in sorted(entries, key=lambda e: e.name)],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def load_library(include_user: bool = True, extra: list[Path] | None = None) -> list[LibraryEntry]:
    """The shipped library plus the user's additions (user entries shadow shipped ones of the same name)."""
    entries = {e.name: e for e in read_library(shipped_library_path(), "shipped")}
    paths = [user_library_path()] if include_user else []
    paths += list(extra or [])
    for p in paths:
        if p.is_file():
            for e in read_library(p, "user"):
                entries[e.name] = e
    return list(entries.values())


def add_to_user_library(
    view: TokenizerView, name: str, family: str | None = None, path: Path | None = None
) -> LibraryEntry:
    """Sketch ``view`` and store it as ``name`` in the user library (replacing an entry of that name)."""
    if not name or len(name) > 200 or any(c in name for c in "\n\r\t"):
        raise TaokeError("tokenizer name must be 1-200 characters on one line")
    path = path or user_library_path()
    existing = read_library(path, "user") if path.is_file() else []
    entry = LibraryEntry.from_view(
        view,
        name=name,
        family=family or name,
        origin="user",
        sources=[{"path": str(p)} for p in view.source_files],
    )
    write_library(path, [e for e in existing if e.name != name] + [entry])
    return entry


def _rank_key(m: IdentifyMatch) -> tuple[int, float, str]:
    """Exact > reordered > extends/subset > derived overlap > unrelated; then the closest figure."""
    score = (
        m.containment
        if m.relation == "extends"
        else m.query_in_known
        if m.relation == "subset"
        else m.jaccard
    )
    return (_RELATION_RANK[m.relation], -score, m.name)


def identify(view: TokenizerView, top: int = 5, library: list[LibraryEntry] | None = None) -> IdentifyResult:
    """The ``top`` nearest known tokenizers to ``view``: exact matches first, then extensions, then overlap.

    Example::

        >>> res = identify(load_tokenizer("tokenizers/mpt/ggml-vocab-mpt.gguf"))   # doctest: +SKIP
        >>> res.best.name, res.best.relation
        ('gpt-neox-20b', 'identical')
    """
    lib = library if library is not None else load_library()
    q = QueryIndex.of(view)
    matches = [match_entry(q, e) for e in lib]
    matches.sort(key=_rank_key)
    query = {
        "name": view.name,
        "kind": view.kind,
        "size": view.size,
        "n_tokens": len(view.key_to_id),
        "files": [str(p) for p in view.source_files],
    }
    return IdentifyResult(query, matches[: max(1, top)], len(lib))
