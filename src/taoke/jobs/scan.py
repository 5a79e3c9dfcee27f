"""``taoke scan``: fingerprint, index and search many models in parallel, locally or on Ray.

Two phases, each a map of one plain task function over the models, run by an *executor*:

1. :func:`index_task` hashes a release's weight files, skips it when the registry already holds that
   content (resumable: a re-run only does what is missing), and otherwise fingerprints it. The driver
   commits each result as it arrives, one transaction per model, so an interrupted scan keeps its work.
2. :func:`search_task` searches the registry for each scanned model's nearest relatives (ANN shortlist
   + full compare, Holm-corrected) and reports declared vs found parents.

WHY the workers do not write to the database: the heavy part (reading and reducing weights) is
embarrassingly parallel, while a single writer keeps SQLite simple (no lock contention) and the ANN
index consistent. Executors: ``local`` is :class:`concurrent.futures.ProcessPoolExecutor`; ``ray`` runs
the *same* functions as Ray tasks (``ray.init()`` locally, or ``address=`` a cluster). A model that
fails is recorded with its one-line error and never stops the scan.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taoke.defaults import DEFAULT_ALPHA
from taoke.errors import MissingDependency, SourceNotFound, TaokeError
from taoke.progress import Progress, no_progress
from taoke.registry.ann import describe_plan
from taoke.registry.search import DEFAULT_TOP, prepare, search
from taoke.registry.store import Registry, fingerprint_bytes, fingerprint_from_bytes
from taoke.release import WEIGHT_SUFFIXES
from taoke.weights.cache import FingerprintCache

EXECUTORS = ("local", "ray")


def one_line(exc: BaseException) -> str:
    """An exception as the one line the scan table shows (TaokeErrors are already one line)."""
    text = str(exc) if isinstance(exc, TaokeError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:400]


def collect_sources(list_or_dir: str | Path) -> list[str]:
    """The sources of a scan: the lines of a list file (``#`` comments allowed), or a folder's entries.

    A folder that is itself a release (config.json or non-GGUF weights at its top) is one source;
    otherwise each sub-folder and each top-level weight file (e.g. one .gguf per model) is a source,
    sorted by name.
    """
    p = Path(list_or_dir).expanduser()
    if p.is_file():
        if p.suffix in WEIGHT_SUFFIXES:
            return [str(p)]
        base = p.parent
        out = []
        for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                cand = Path(line).expanduser()
                out.append(str(cand if cand.is_absolute() or not (base / cand).exists() else base / cand))
        return out
    if not p.is_dir():
        raise SourceNotFound("no such list file or folder", p)
    # a release folder: a config or non-GGUF weights at the top (a folder of .gguf files is many models)
    if (p / "config.json").exists() or any(
        c.suffix in WEIGHT_SUFFIXES and c.suffix != ".gguf" for c in p.iterdir() if c.is_file()
    ):
        return [str(p)]
    return [
        str(c)
        for c in sorted(p.iterdir())
        if not c.name.startswith(".") and (c.is_dir() or c.suffix in WEIGHT_SUFFIXES)
    ]


# ------------------------------------------------------------------------------------ task functions

_KNOWN: frozenset[str] = frozenset()


def _set_known(known: frozenset[str]) -> None:
    """Process-pool initializer: the content ids already indexed (sent once per worker, not per task)."""
    global _KNOWN
    _KNOWN = known


def index_task(
    source: str, cache: FingerprintCache | None = None, known: frozenset[str] | None = None
) -> dict[str, Any]:
    """Hash and fingerprint one source; never raises (a failure is a result with its one-line error).
    ``cache``: fingerprints kept by content, in the worker's file system (:mod:`taoke.weights.cache`)."""
    t = time.perf_counter()
    try:
        got = prepare(source, known if known is not None else _KNOWN, cache=cache)
        if isinstance(got, str):
            return {"source": source, "status": "skipped", "content_id": got}
        if got.identity is None:
            raise TaokeError(f"{source}: a fingerprint file cannot be indexed (no weights to hash)")
        return {
            "source": source,
            "status": "fingerprinted",
            "identity": got.identity,
            "fingerprint": fingerprint_bytes(got.fingerprint),
            "seconds": got.seconds,
            "pid": os.getpid(),
        }
    except Exception as exc:  # one model's failure is that model's finding, never the scan's end
        return {
            "source": source,
            "status": "failed",
            "error": one_line(exc),
            "seconds": time.perf_counter() - t,
        }


_REGISTRIES: dict[str, Registry] = {}


def _registry(url: str) -> Registry:
    """One open registry (and loaded ANN index) per worker process, reused across tasks."""
    reg = _REGISTRIES.get(url)
    if reg is None:
        reg = _REGISTRIES[url] = Registry(url)
    return reg


def search_task(
    url: str, model_id: int, top: int = DEFAULT_TOP, alpha: float = DEFAULT_ALPHA, exact: bool = False
) -> dict[str, Any]:
    """Search the registry for the relatives of one indexed model (excluding itself)."""
    try:
        reg = _registry(url)
        fp = reg.fingerprint(model_id)
        res = search(reg, fp, top=top, alpha=alpha, exclude_ids={model_id}, exact=exact)
        return {"model_id": model_id, "status": "ok", "result": res.to_dict()}
    except Exception as exc:  # reported in the table like an indexing failure
        return {"model_id": model_id, "status": "failed", "error": one_line(exc)}


# ------------------------------------------------------------------------------------ executors


class LocalExecutor:
    """A pool of worker processes (concurrent.futures); ``workers=1`` still isolates the work."""

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, int(workers or os.cpu_count() or 1))

    def map(self, fn: Callable[..., dict], items: list[tuple], known: frozenset[str]) -> Iterator[dict]:
        """Yield ``fn(*item)`` results as they complete (at most 2x workers in flight)."""
        with ProcessPoolExecutor(self.workers, initializer=_set_known, initargs=(known,)) as pool:
            pending: set = set()
            it = iter(items)
            for item in it:
                pending.add(pool.submit(fn, *item))
                if len(pending) >= 2 * self.workers:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    yield from (f.result() for f in done)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (f.result() for f in done)

    def close(self) -> None:
        return None


class RayExecutor:
    """The same task functions as Ray tasks: a local Ray by default, a cluster with ``address``."""

    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise MissingDependency("--executor ray needs Ray: pip install 'taoke[ray]'") from None
        self.ray = ray
        self.started = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address:
                kwargs["address"] = address
            else:
                kwargs["num_cpus"] = max(1, int(workers or os.cpu_count() or 1))
            try:
                ray.init(**kwargs)
            except Exception as exc:  # cannot reach the cluster: one line
                raise TaokeError(
                    f"cannot start or reach Ray ({address or 'local'}): {one_line(exc)}"
                ) from None
            self.started = True
        self.workers = workers

    def map(self, fn: Callable[..., dict], items: list[tuple], known: frozenset[str]) -> Iterator[dict]:
        ray = self.ray
        remote = ray.remote(num_cpus=1, max_retries=0)(fn)
        known_ref = ray.put(known) if fn is index_task else None
        limit = 2 * max(1, int(self.workers or ray.available_resources().get("CPU", 1) or 1))
        pending: list = []
        it = iter(items)
        for item in it:
            args = (*item, known_ref) if known_ref is not None else item
            pending.append(remote.remote(*args))
            if len(pending) >= limit:
                done, pending = ray.wait(pending, num_returns=1)
                yield from ray.get(done)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield from ray.get(done)

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()


def make_executor(kind: str, workers: int | None = None, ray_address: str | None = None) -> Any:
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "ray":
        return RayExecutor(workers, ray_address)
    raise TaokeError(f"unknown executor {kind!r} (choose one of {', '.join(EXECUTORS)})")


# ------------------------------------------------------------------------------------ the scan


FINDING_ORDER = {
    "undeclared-parent": 0,
    "declared-parent-mismatch": 1,
    "failed": 2,
    "declared-parent-confirmed": 3,
    "has-derivative": 4,
    "declared-parent-not-found": 5,
    "no-relative": 6,
}


def _norm(name: str) -> str:
    return str(name).strip().rstrip("/").lower().split("/")[-1].split("@")[0]


def _names(rec: dict[str, Any]) -> set[str]:
    return {_norm(rec.get("name") or ""), _norm(rec.get("source") or "")} - {""}


@dataclass
class Finding:
    """One scanned model: what it declares, what the registry says it is related to."""

    source: str
    status: str  # indexed | skipped | failed
    finding: str
    name: str | None = None
    model_id: int | None = None
    declared_base: list[str] = field(default_factory=list)
    relative: str | None = None
    relationship: str | None = None
    p_value_holm: float | None = None
    ann_similarity: float | None = None
    error: str | None = None
    same_content_as: str | None = None  # the registry already held these bytes under another name
    # every shortlisted candidate compared in full, best first (what the per-model HTML page lists)
    candidates: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _candidate(hit: dict[str, Any]) -> dict[str, Any]:
    """A search hit as the scan keeps it: who, what relationship, how significant, per-layer matches."""
    return {
        "name": hit["model"].get("name"),
        "relationship": hit.get("relationship"),
        "derived": hit.get("derived"),
        "p_value_holm": hit.get("p_value_holm"),
        "ann_similarity": hit.get("ann_similarity"),
        "significant": hit.get("significant"),
        "confidence": hit.get("confidence"),
        "layers": hit.get("layers") or [],
    }


@dataclass
class ScanResult:
    registry: str
    executor: str
    workers: int | None
    findings: list[Finding]
    counts: dict[str, dict[str, int]]
    seconds: dict[str, float]
    shortlist: str = "exact"  # how the searches shortlisted: "exact" or "hnsw ef=N"

    def to_dict(self) -> dict[str, Any]:
        return {
            "registry": self.registry,
            "executor": self.executor,
            "workers": self.workers,
            "shortlist": self.shortlist,
            "counts": self.counts,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "findings": [f.to_dict() for f in self.findings],
        }


def classify(record: dict[str, Any], result: dict[str, Any] | None) -> tuple[str, dict[str, Any] | None]:
    """The finding for one model from its record and search result; returns (finding, best hit)."""
    declared = [_norm(d) for d in record.get("declared_base") or []]
    hits = [h for h in (result or {}).get("hits", []) if h.get("significant")]
    if not hits:
        return ("declared-parent-not-found" if declared else "no-relative"), None
    me = _names(record)
    for h in hits:  # a declared parent among the significant relatives confirms the declaration
        if _names(h["model"]) & set(declared):
            return "declared-parent-confirmed", h
    best = hits[0]
    other_declares = {_norm(d) for d in best["model"].get("declared_base") or []}
    if other_declares & me:
        return "has-derivative", best
    return ("declared-parent-mismatch" if declared else "undeclared-parent"), best


def scan(
    sources: list[str],
    db: str | None = None,
    *,
    executor: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    top: int = DEFAULT_TOP,
    alpha: float = DEFAULT_ALPHA,
    progress: Progress = no_progress,
    search_phase: bool = True,
    exact: bool = False,
    cache: FingerprintCache | None = None,
) -> ScanResult:
    """Index every source into the registry at ``db`` and search each; see the module docstring.

    ``exact`` shortlists by scanning every registered vector (see :func:`taoke.registry.search`);
    ``progress`` hears of each model indexed and searched (see :mod:`taoke.progress`); ``cache``:
    fingerprints kept by content (:mod:`taoke.weights.cache`), so a rescan reads nothing twice.
    """
    reg = Registry(db, progress=progress)
    known = frozenset(reg.content_ids())
    ex = make_executor(executor, workers, ray_address)
    findings: dict[str, Finding] = {}
    ids: dict[str, int] = {}
    t0 = time.perf_counter()
    try:
        for n_done, res in enumerate(ex.map(index_task, [(s, cache) for s in sources], known), 1):
            src = res["source"]
            if res["status"] == "failed":
                reg.record_failure(src, res["error"])
                findings[src] = Finding(src, "failed", "failed", error=res["error"])
            elif res["status"] == "skipped":
                rec = reg.find_content(res["content_id"])
                if rec is not None:
                    ids[src] = rec.id
                    findings[src] = Finding(
                        src, "skipped", "no-relative", rec.name, rec.id, rec.declared_base
                    )
            else:
                fp = fingerprint_from_bytes(res["fingerprint"], src)
                ident = res["identity"]
                mid, created = reg.add(ident, fp, res.get("seconds"))
                reg.clear_failure(src)
                rec = reg.get(mid)
                ids[src] = mid
                status = "indexed" if created else "skipped"
                findings[src] = Finding(src, status, "no-relative", ident.name, mid, ident.declared_base)
                if rec.name != ident.name:
                    findings[src].same_content_as = rec.name
            progress("fingerprint + index", n_done, len(sources), item=src)
        reg.ann()  # build + persist the index once, so search workers load it instead of rebuilding
        reg.close()
        t1 = time.perf_counter()
        if search_phase and ids:
            by_id: dict[int, list[str]] = {}
            for src, mid in ids.items():
                by_id.setdefault(mid, []).append(src)
            url = reg.url
            searches = ex.map(search_task, [(url, mid, top, alpha, exact) for mid in by_id], known)
            for n_done, res in enumerate(searches, 1):
                for src in by_id[res["model_id"]]:
                    f = findings[src]
                    if res["status"] != "ok":
                        f.finding, f.error = "failed", res["error"]
                        continue
                    me = {"name": f.name, "source": src, "declared_base": f.declared_base}
                    if f.same_content_as:  # byte-identical to an indexed model: that is its relative
                        same = {
                            "name": f.same_content_as,
                            "source": f.same_content_as,
                            "declared_base": [],
                        }
                        confirmed = _names(same) & {_norm(d) for d in f.declared_base}
                        f.finding = "declared-parent-confirmed" if confirmed else "undeclared-parent"
                        f.relative, f.relationship, f.p_value_holm = f.same_content_as, "identical", 0.0
                        continue
                    finding, hit = classify(me, res["result"])
                    f.finding = finding
                    f.candidates = [_candidate(h) for h in res["result"].get("hits", [])]
                    if hit is not None:
                        f.relative = hit["model"]["name"]
                        f.relationship = hit["relationship"]
                        f.p_value_holm = hit["p_value_holm"]
                        f.ann_similarity = hit["ann_similarity"]
                progress("search relatives", n_done, len(by_id), item=", ".join(by_id[res["model_id"]]))
    finally:
        ex.close()
        reg.engine.dispose()
    t2 = time.perf_counter()
    ordered = sorted(
        (findings[s] for s in sources if s in findings),
        key=lambda f: (FINDING_ORDER.get(f.finding, 9), f.name or f.source),
    )
    counts: dict[str, dict[str, int]] = {"status": {}, "finding": {}}
    for f in ordered:
        counts["status"][f.status] = counts["status"].get(f.status, 0) + 1
        counts["finding"][f.finding] = counts["finding"].get(f.finding, 0) + 1
    return ScanResult(
        reg.display_url,
        ex.name,
        getattr(ex, "workers", None),
        ordered,
        counts,
        {"index": t1 - t0, "search": t2 - t1, "total": t2 - t0},
        describe_plan(reg.ann().plan(top + 1, None, exact)),
    )
