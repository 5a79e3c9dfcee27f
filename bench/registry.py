"""Registry benchmarks (issue 7): ANN shortlist latency at scale, index throughput local vs Ray, size.

Measures, in one run on this machine:

1. **shortlist latency and recall** of the usearch HNSW index (the first stage of ``taoke search``)
   with 10k, 100k and 1M compact vectors in it, at the default (size-dependent) ef_search and the
   default top 5: median and p95 over 200 queries, how often the query's true parent is in the
   shortlist (and how often exact search would have it there), build and load times, index file size.
   Vectors at these sizes are synthetic, in two workloads: ``random`` (no cluster structure: the
   hardest case for HNSW) and ``hub`` (Zipf-sized families around random bases, derivatives at the
   cosines measured on the zoo). Target: < 50 ms at 1M.
   Each at a sweep of ef around the default, and as an exact scan (the default up to 100k models).
2. **end-to-end search** on the real zoo registry (fingerprint of the query excluded): shortlist + full
   compare of each shortlisted candidate.
3. **index throughput** of ``scan`` (fingerprint + commit, search phase off) on the same models with the
   local executor (1 and 2 processes) and Ray (1 and 2 workers, a fresh ``ray.init(num_cpus=n)`` each,
   its start-up and the workers' first imports timed apart), as models/s and ratios to the local
   executor, in one run.
4. **registry size per model** (SQLite file bytes / models; fingerprint blob bytes) for the zoo's small
   models and for 135M-parameter SmolLM2.
5. **zoo search accuracy**: every zoo suspect searched against a registry of the zoo's reference models;
   top hit correct for derived suspects, nothing significant for independent ones.

Prints tables and writes ``bench/results/registry.json``.

    nice python bench/registry.py [--sizes 10000,100000,1000000] [--workloads random,hub]
                                  [--skip-ray] [--skip-zoo]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests is a package

OUT = Path(__file__).resolve().parent / "results" / "registry.json"


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    except OSError:
        mem = 0
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "note": "2 cores shared with other jobs; figures are upper bounds",
    }


def synthetic(workload: str, n: int, n_queries: int, rng: np.random.Generator) -> tuple:
    """Stored vectors, queries, each query's true parent row and each row's family, for one workload.

    ``random``: n random unit vectors, queries = stored vectors pushed to cosine ~0.78 from them. No
    cluster structure at all: the worst case for HNSW, and a registry of *unrelated* models.
    ``hub``: what a hub looks like: families of Zipf-distributed size (a few bases with thousands of
    fine-tunes, a long tail of singletons), each derivative at cosine U(0.41, 1.0) to its base (the
    range measured on the zoo, docs/registry.md); queries are new derivatives of bases drawn uniformly
    (so the long tail is tested as often as the big families), at cosine U(0.41, 0.95).
    """
    from taoke.registry.vector import DIM

    def unit(x: np.ndarray) -> np.ndarray:
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    def towards(base: np.ndarray, cos: np.ndarray) -> np.ndarray:
        noise = rng.standard_normal(base.shape, dtype=np.float32)
        noise -= (noise * base).sum(1, keepdims=True) * base  # orthogonal to the base
        return unit(cos[:, None] * base + np.sqrt(1 - cos**2)[:, None] * unit(noise)).astype(np.float32)

    if workload == "random":
        vecs = unit(rng.standard_normal((n, DIM), dtype=np.float32))
        parent = rng.integers(0, n, n_queries)
        queries = towards(vecs[parent], np.full(n_queries, 0.78, dtype=np.float32))
        return vecs, queries, parent, np.arange(n)
    sizes: list[int] = []
    while sum(sizes) < n:  # family sizes ~ Zipf(1.6), capped at 5% of the registry
        sizes.append(int(min(rng.zipf(1.6), max(1, n // 20))))
    sizes[-1] -= sum(sizes) - n
    bases = unit(rng.standard_normal((len(sizes), DIM), dtype=np.float32))
    fam = np.repeat(np.arange(len(sizes)), sizes)
    cos = rng.uniform(0.41, 1.0, n).astype(np.float32)
    vecs = towards(bases[fam], cos)
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    vecs[first] = bases  # each family's first row is its base
    order = rng.permutation(n)  # insertion order unrelated to family
    vecs = vecs[order]
    row_of = np.empty(n, dtype=np.int64)
    row_of[order] = np.arange(n)
    qf = rng.integers(0, len(sizes), n_queries)
    parent = row_of[first[qf]]
    queries = towards(vecs[parent], rng.uniform(0.41, 0.95, n_queries).astype(np.float32))
    return vecs, queries, parent, fam[order]


def shortlist_latency(sizes: list[int], workloads: list[str], k: int = 5, n_queries: int = 200) -> list[dict]:
    """Latency and recall of both shortlists ``taoke search`` can use, top ``k``, on one index per size.

    The HNSW graph at a sweep of ef around the size's default (the default is marked), and the exact
    scan (usearch's SIMD brute force over the index's int8 rows: the default up to EXACT_UP_TO models,
    ``--exact`` above). Recall is measured against numpy float32 brute force.
    """
    from taoke.registry.ann import EF_MAX, EXACT_UP_TO, AnnIndex, ef_for, make_stamp
    from taoke.registry.vector import DIM

    out = []
    for workload in workloads:
        for n in sizes:
            rng = np.random.default_rng(n)
            vecs, queries, parent, family = synthetic(workload, n, n_queries, rng)
            ids = np.arange(1, n + 1)
            index = AnnIndex(DIM)
            t = time.perf_counter()
            for start in range(0, n, 100_000):
                index.add(ids[start : start + 100_000], vecs[start : start + 100_000])
            build = time.perf_counter() - t
            tmp = Path(tempfile.mkdtemp(prefix="taoke-ann-"))
            stamp = make_stamp(n, n)
            index.save(tmp / "i.usearch", stamp)
            size = (tmp / "i.usearch").stat().st_size
            t = time.perf_counter()
            assert AnnIndex.load(tmp / "i.usearch", stamp) is not None
            load = time.perf_counter() - t
            shutil.rmtree(tmp)
            t = time.perf_counter()
            truth = []
            for q in queries:  # numpy brute force in chunks: the ground truth
                sims = np.concatenate([vecs[s : s + 250_000] @ q for s in range(0, n, 250_000)])
                truth.append(set(np.argpartition(-sims, k)[:k].tolist()))
            numpy_ms = 1e3 * (time.perf_counter() - t) / len(queries)
            ceiling = float(np.mean([p in w for p, w in zip(parent, truth, strict=True)]))
            default = ef_for(n)
            efs = sorted({max(k, default // 4), max(k, default // 2), default, min(EF_MAX, 2 * default)})
            for ef in [*efs, None]:  # None: the exact scan
                for q in queries[:10]:  # warm-up
                    index.search(q, k, ef=ef, exact=ef is None)
                lat, found = [], []
                for q in queries:
                    t = time.perf_counter()
                    hits = index.search(q, k, ef=ef, exact=ef is None)
                    lat.append(time.perf_counter() - t)
                    found.append(np.asarray([h[0] - 1 for h in hits], dtype=np.int64))
                in_ann, fam_ann, recall_k = [], [], []
                for p, f, want in zip(parent, found, truth, strict=True):
                    in_ann.append(p in set(f.tolist()))
                    fam_ann.append(family[p] in set(family[f].tolist()))
                    recall_k.append(len(set(f.tolist()) & want) / k)
                row = {
                    "workload": workload,
                    "n": n,
                    "shortlist": "exact" if ef is None else "hnsw",
                    "ef_search": ef,
                    "default": ef == default if n > EXACT_UP_TO else ef is None,
                    "median_ms": 1e3 * float(np.median(lat)),
                    "p95_ms": 1e3 * float(np.percentile(lat, 95)),
                    "parent_in_top_k": float(np.mean(in_ann)),
                    "parent_in_true_top_k": ceiling,
                    "family_in_top_k": float(np.mean(fam_ann)),
                    "recall_at_k": float(np.mean(recall_k)),
                    "numpy_f32_ms": numpy_ms,
                    "build_s": build,
                    "load_s": load,
                    "index_mib": size / 2**20,
                }
                out.append(row)
                print(
                    f"  {workload:6s} n={n:>9,}  {'exact' if ef is None else f'ef {ef}':8s}"
                    f"{'*' if row['default'] else ' '} median {row['median_ms']:6.2f} ms  "
                    f"p95 {row['p95_ms']:6.2f} ms  parent in top {k}: {row['parent_in_top_k']:.3f} "
                    f"(true {row['parent_in_true_top_k']:.3f})  family {row['family_in_top_k']:.3f}  "
                    f"recall@{k} {row['recall_at_k']:.3f}  numpy {numpy_ms:.1f} ms  build {build:.0f} s  "
                    f"{row['index_mib']:.0f} MiB",
                    flush=True,
                )
            del index, vecs
    return out


def zoo_search(workdir: Path) -> dict:
    """Index the zoo's references, search every suspect; accuracy, timings and size per model."""
    import tests.registry.test_registry_zoo as tz  # the same ground truth as the test
    from taoke import zoo
    from taoke.errors import AnalysisError, TaokeError
    from taoke.registry import Registry, index_source, search

    tz.SMOLLM2_SUSPECTS = {m for m in zoo.models() if m.startswith("smollm2")}
    tz.SLOW = set()
    expected = tz._expected()
    reg = Registry(str(workdir / "zoo.sqlite"))
    t = time.perf_counter()
    for m in tz.REFERENCES:
        try:
            index_source(reg, zoo.materialize(m))
        except TaokeError as exc:
            print(f"  reference {m} unavailable: {exc}")
    index_s = time.perf_counter() - t
    indexed = {r.name for r in reg.records()}
    rows, times = [], []
    for suspect, parents in sorted(expected.items()):
        parents &= indexed
        try:
            path = zoo.materialize(suspect)
            res = search(reg, path, top=5)
        except AnalysisError as exc:
            rows.append(
                {
                    "suspect": suspect,
                    "expected": sorted(parents),
                    "top": None,
                    "ok": not parents,
                    "note": str(exc),
                }
            )
            continue
        except TaokeError as exc:
            print(f"  suspect {suspect} unavailable: {exc}")
            continue
        top = res.best.record.name if res.best else None
        ok = (top in parents) if parents else top is None
        times.append(res.timings)
        rows.append(
            {
                "suspect": suspect,
                "expected": sorted(parents),
                "top": top,
                "ok": ok,
                "relationship": res.best.relationship if res.best else None,
                "p_holm": res.best.p_adjusted if res.best else None,
                "top_ann_similarity": res.hits[0].ann_similarity if res.hits else None,
            }
        )
    for m in tz.REFERENCES:  # leave-one-out: each base against the others (all independent of it)
        if m not in indexed:
            continue
        res = search(reg, zoo.materialize(m), top=5)
        top = res.best.record.name if res.best else None
        rows.append({"suspect": m, "expected": [], "top": top, "ok": top is None, "leave_one_out": True})
    records = reg.records()
    small = [r.fingerprint_bytes for r in records if (r.n_params or 0) < 10_000_000]
    big = [r.fingerprint_bytes for r in records if (r.n_params or 0) >= 10_000_000]
    size = reg.size_bytes() or 0
    reg.close()
    derived = [r for r in rows if r["expected"]]
    indep = [r for r in rows if not r["expected"]]
    print(
        f"  zoo: {sum(r['ok'] for r in derived)}/{len(derived)} derived suspects with the right top hit, "
        f"{sum(r['ok'] for r in indep)}/{len(indep)} independent ones with no significant relative"
    )
    for r in rows:
        if not r["ok"]:
            print(f"    WRONG {r}")
    return {
        "registry_models": len(records),
        "index_seconds": index_s,
        "derived_correct": sum(r["ok"] for r in derived),
        "derived_total": len(derived),
        "independent_correct": sum(r["ok"] for r in indep),
        "independent_total": len(indep),
        "search_median_s": {
            k: float(np.median([t[k] for t in times])) for k in ("shortlist", "compare", "total")
        }
        if times
        else {},
        "size_per_model_bytes": size / max(1, len(records)),
        "fingerprint_bytes_small_models": float(np.mean(small)) if small else None,
        "fingerprint_bytes_135m_models": float(np.mean(big)) if big else None,
        "rows": rows,
    }


def throughput(workdir: Path) -> dict:
    """Index throughput of scan (no search phase) local vs Ray, same models, one run."""
    from taoke import zoo

    models = [f"calib-{i:02d}" for i in range(10)] + ["base-a", "base-a2", "base-b", "base-c"]
    models += ["smollm2-hf", "smollm2-yi", "smollm2-obf", "smollm2-pruned"]
    sources = []
    for m in models:
        try:
            sources.append(str(zoo.materialize(m)))
        except Exception as exc:  # real-data models may be absent: measure on what there is
            print(f"  {m} unavailable: {exc}")
    out: dict = {"models": len(sources), "runs": []}
    configs = [("ray", 1), ("ray", 2), ("local", 1), ("local", 2)]
    for kind, n in configs:
        # each configuration in a fresh interpreter: equal conditions, and Ray never shares a process
        # with a forked pool (ray.init after fork aborted in Ray 2.60 here)
        db = workdir / f"tp-{kind}-{n}.sqlite"
        proc = subprocess.run(
            [sys.executable, __file__, "--one-run", f"{kind},{n},{db}", *sources],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
        if proc.returncode != 0 or not lines:
            print(f"  {kind} x{n} failed: {proc.stderr.strip()[-300:]}")
            continue
        run = json.loads(lines[-1])
        out["runs"].append(run)
        print(
            f"  {kind:5s} x{n}: {run['indexed']} models in {run['seconds']:.1f} s = "
            f"{run['models_per_s']:.2f} models/s",
            flush=True,
        )
    base = {r["workers"]: r["models_per_s"] for r in out["runs"] if r["executor"] == "local"}
    for r in out["runs"]:
        if 1 not in base or r["workers"] not in base:
            continue
        r["ratio_to_local_same_workers"] = r["models_per_s"] / base[r["workers"]]
        r["ratio_to_local_1"] = r["models_per_s"] / base[1]
    return out


def _warm_worker() -> int:
    """A Ray task that imports what ``index_task`` needs (run once per worker before timing)."""
    import taoke.jobs.scan
    import taoke.model
    import taoke.weights  # noqa: F401

    time.sleep(0.5)  # hold the worker so that each of the n warm-ups lands on a different one
    return os.getpid()


def one_run(spec: str, sources: list[str]) -> None:
    """Child process of :func:`throughput`: one scan (index phase only), timed, as one JSON line."""
    from taoke.jobs.scan import scan

    kind, n, db = spec.split(",", 2)
    ray = None
    warm = 0.0
    if kind == "ray":
        import ray

        ray.init(num_cpus=int(n), include_dashboard=False, log_to_driver=False)  # start-up not timed
        # Ray workers are fresh interpreters, the local pool's are forks of this one: start them and
        # import what a task needs first, timed apart, so the ratio compares steady-state throughput
        t = time.perf_counter()
        remote = ray.remote(num_cpus=1)(_warm_worker)
        ray.get([remote.remote() for _ in range(int(n))])
        warm = time.perf_counter() - t
    t = time.perf_counter()
    res = scan(sources, db, executor=kind, workers=int(n), search_phase=False)
    dt = time.perf_counter() - t
    if ray is not None:
        ray.shutdown()
    ok = res.counts["status"].get("indexed", 0)
    print(
        json.dumps(
            {
                "executor": kind,
                "workers": int(n),
                "seconds": dt,
                "models_per_s": ok / dt,
                "indexed": ok,
                "worker_warmup_s": warm,
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated, or none")
    ap.add_argument("--workloads", default="random,hub", help="synthetic vector sets: random, hub")
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--skip-zoo", action="store_true")
    ap.add_argument("--one-run", help=argparse.SUPPRESS)
    ap.add_argument("sources", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one_run:
        one_run(args.one_run, args.sources)
        return
    report: dict = {"machine": machine()}
    print(f"machine: {report['machine']}")
    workdir = Path(tempfile.mkdtemp(prefix="taoke-bench-registry-"))
    try:
        if not args.skip_zoo:
            print("zoo registry: index references, search every suspect")
            report["zoo"] = zoo_search(workdir)
        if args.sizes != "none":
            print("shortlist (usearch HNSW i8 M=32 ef_add=128 at an ef sweep, and exact scan; * = default)")
            sizes = [int(s) for s in args.sizes.split(",")]
            report["shortlist"] = shortlist_latency(sizes, args.workloads.split(","))
        if not args.skip_ray:
            print("index throughput (scan without search phase)")
            report["throughput"] = throughput(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    if OUT.exists():  # sections skipped in this run keep their last measured values
        try:
            previous = json.loads(OUT.read_text())
        except ValueError:
            previous = {}
        report = {**previous, **report}
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
