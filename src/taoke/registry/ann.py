"""The approximate-nearest-neighbour index over compact vectors (usearch HNSW).

WHY usearch (over hnswlib and faiss-cpu): one small wheel with no BLAS or OpenMP dependency (faiss-cpu
is ~30 MB and pins its own BLAS), HNSW with float16 or int8 storage (a quarter of hnswlib's float32 memory
at 1M vectors), 64-bit keys (the registry's row ids, so a hit maps straight back to a row), incremental
``add``/``remove``, and ``save``/``view`` of one file (the index can be memory-mapped instead of loaded).
hnswlib would do the search equally well but is float32 only and barely maintained; faiss shines on
GPU and billions of vectors, neither of which a provenance registry needs.

The index is a *cache* of the database: the ``vector`` column is the truth. It is persisted next to a
SQLite file (``registry.sqlite.usearch``) or in the user cache dir for a server database, with a stamp
(row count, highest row id, vector version). A stamp that does not match the database (an interrupted
``index``, an ``import``, another writer) means "rebuild from the rows", never a stale answer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from taoke.errors import TaokeError
from taoke.registry.vector import DIM, VECTOR_VERSION

# Graph degree and build breadth: M=32, ef_add=128 rather than usearch's 16/128 defaults, because
# provenance queries are *weak* neighbours (a derivative sits at cosine 0.4-1.0 from its parent, unrelated
# models at ~N(0, 1/256)), where graph quality decides recall. On 1M random 256-d unit vectors (the
# hardest case: no cluster structure), queries at cosine 0.78 from a stored parent, this machine:
#   M=16, ef_add=64:  build 408 s;  parent found 69% at ef 512 (5 ms), 83% at 1024, 94% at 2048 (20 ms)
#   M=32, ef_add=128: build 1437 s; parent found 97% at ef 512 (10 ms), 100% at 1024 (19 ms)
# Building costs ~1.4 ms per model, nothing next to fingerprinting it; the query is what users wait on.
CONNECTIVITY = 32
EXPANSION_ADD = 128
# ef at query time grows with the index, since HNSW's recall at a fixed ef falls as the graph grows:
# 512 up to 100k models, then x4 per decade (2048 at 1M, where the graph takes over from the exact
# scan), capped at 4096. On 1M random vectors ef 512 found the parent in the top 5 for 97.5% of
# queries (9.5 ms), 1024 and 2048 for 100% (18 and 36 ms). ``TAOKE_ANN_EF``, ``ef=`` or
# ``taoke search --ef`` choose the graph at that ef at any size.
EF_MIN = 512
EF_MAX = 4096
# Up to this many vectors the shortlist is an exact scan by default: usearch's SIMD brute force over
# the int8 rows. In this regime (weak neighbours in 256 dimensions) the graph saves little: measured
# here (bench/registry.py), the scan takes 3.3 ms at 100k and 31 ms at 1M (the graph: 2.1-5 ms at ef
# 512 for 100k, 18 ms at ef 1024 and 36 ms at ef 2048 for 1M) and never misses, where the graph at
# 100k found the parent for 95.5% of hub-like queries against the scan's 99.5%. So the scan serves
# registries up to 1M models within the 50 ms budget; beyond, its cost grows linearly and the graph's
# sub-linearly, so the graph takes over (``--exact`` still forces the scan).
EXACT_UP_TO = 1_000_000
# int8 storage: the vectors are unit-norm and only *shortlist* (derived models sit at cosine 0.4-1.0,
# independent ones at |cos| < 0.2), so 8-bit quantisation error (~1% of a cosine) changes no shortlist,
# while it quarters memory (256 B per vector) and, with VNNI SIMD, builds ~3x faster than float16
# (measured on this 2-core machine: 20k vectors in 5 s vs 15 s).
DTYPE = "i8"


class AnnIndex:
    """HNSW over unit vectors with cosine similarity; keys are registry model ids."""

    def __init__(self, dim: int = DIM, dtype: str = DTYPE, ef: int | None = None) -> None:
        from usearch.index import Index

        self.dim = dim
        self.index = Index(
            ndim=dim,
            metric="cos",
            dtype=dtype,
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EF_MIN,
        )
        self.ef = ef

    def __len__(self) -> int:
        return len(self.index)

    def add(self, ids: np.ndarray, vectors: np.ndarray, threads: int = 0) -> None:
        """Add vectors under their ids; zero vectors (no invariants) are left out: no direction to search."""
        ids = np.asarray(ids, dtype=np.uint64)
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        keep = np.linalg.norm(vectors, axis=1) > 0
        if keep.any():
            self.index.add(ids[keep], vectors[keep], threads=threads)

    def remove(self, model_id: int) -> None:
        if self.index.contains(int(model_id)):
            self.index.remove(int(model_id))

    def plan(self, k: int, ef: int | None = None, exact: bool = False) -> int | None:
        """How a search for ``k`` neighbours runs: ``None`` for an exact scan, else the graph's ef.

        Exact when asked, or when no ef was given (argument, constructor, ``TAOKE_ANN_EF``) and the
        index holds at most :data:`EXACT_UP_TO` vectors; else HNSW at ``ef`` or :func:`ef_for` its size.
        """
        chosen = ef or self.ef or env_ef()
        if exact or (chosen is None and len(self.index) <= EXACT_UP_TO):
            return None
        return max(k, chosen or ef_for(len(self.index)))

    def search(
        self, vector: np.ndarray, k: int, ef: int | None = None, exact: bool = False
    ) -> list[tuple[int, float]]:
        """The ``k`` nearest ids with their cosine similarity (best first), as :meth:`plan` says."""
        if len(self.index) == 0 or k <= 0 or not np.any(vector):
            return []
        breadth = self.plan(k, ef, exact)
        if breadth is not None:
            self.index.expansion_search = breadth
        m = self.index.search(
            np.asarray(vector, dtype=np.float32), min(k, len(self.index)), exact=breadth is None
        )
        return [(int(key), float(1.0 - d)) for key, d in zip(m.keys, m.distances, strict=True)]

    def save(self, path: Path, stamp: dict[str, Any]) -> None:
        """Write the index and its stamp (the stamp last: a crash in between leaves a mismatch)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        self.index.save(str(tmp))
        tmp.replace(path)
        stamp_path(path).write_text(json.dumps(stamp))

    @classmethod
    def load(cls, path: Path, stamp: dict[str, Any]) -> AnnIndex | None:
        """The persisted index if its stamp matches ``stamp`` (else None: the caller rebuilds)."""
        sp = stamp_path(path)
        if not path.exists() or not sp.exists():
            return None
        try:
            if json.loads(sp.read_text()) != stamp:
                return None
            out = cls(int(stamp["dim"]))
            out.index.load(str(path))
        except (OSError, ValueError, RuntimeError, KeyError):
            return None
        return out


def describe_plan(breadth: int | None) -> str:
    """``exact`` or ``hnsw ef=N``: what a search result says of its shortlist."""
    return "exact" if breadth is None else f"hnsw ef={breadth}"


def env_ef() -> int | None:
    """``TAOKE_ANN_EF`` as an int (None when unset); a bad value is a one-line error."""
    env = os.environ.get("TAOKE_ANN_EF", "").strip()
    if not env:
        return None
    try:
        value = int(env)
    except ValueError:
        value = 0
    if value < 1:
        raise TaokeError(f"TAOKE_ANN_EF must be a positive integer, got {env!r}")
    return value


def ef_for(n: int) -> int:
    """The graph's query-time ef for an index of ``n`` vectors (``TAOKE_ANN_EF`` overrides; see EF_MIN)."""
    return env_ef() or int(min(EF_MAX, max(EF_MIN, round(EF_MIN * (max(n, 1) / 100_000) ** np.log10(4)))))


def stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def make_stamp(count: int, max_id: int, dim: int = DIM) -> dict[str, Any]:
    return {
        "count": int(count),
        "max_id": int(max_id),
        "dim": dim,
        "vector_version": VECTOR_VERSION,
        # a change of graph parameters means "rebuild", like a change of vectors
        "graph": f"hnsw-m{CONNECTIVITY}-efa{EXPANSION_ADD}-{DTYPE}",
    }
