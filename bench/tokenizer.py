"""Speed and accuracy of tokenizer lineage on the real fixture tokenizers, on this CPU.

For every tokenizer file of the fixtures (23 files, 21 distinct vocabularies) it times, separately:

1. loading the file into a canonical TokenizerView (tokenizer.json / SentencePiece / tiktoken / GGUF);
2. one ``identify`` query against the whole shipped library, and its two parts: hashing the query's
   tokens and merges once (``QueryIndex``), then matching every library entry's sketches;
3. ``compare_tokenizers`` against the query's nearest other library member's file, without and with
   the behavioural check (encoding the sample texts with both data-only encoders);

and reports identify accuracy as leave-one-out (the query's own entry removed) against the
expectations in tests/tokenizers/test_tokenizer_identify.py; self-identification (the query's own entry
found, top-1) is reported too, as a check of the lookup, not an accuracy: the answer is in the library.
Prints a table and writes ``bench/results/tokenizer.json`` with the machine description.

    python bench/tokenizer.py [FIXTURES_DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests is a package


def _best_time(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def machine() -> dict[str, object]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores_visible": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_avg_1m": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "fixtures",
        nargs="?",
        type=Path,
        default=Path(os.environ.get("TAOKE_FIXTURES", REPO.parent / "shared" / "fixtures")),
    )
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "tokenizer.json")
    args = ap.parse_args(argv)

    from taoke.tokenizers import compare_tokenizers, identify, load_file
    from taoke.tokenizers.build_library import CURATED, TOKENIZER_KINDS
    from taoke.tokenizers.library import QueryIndex, load_library, match_entry, shipped_library_path

    # the leave-one-out ground truth lives with the tests
    from tests.tokenizers.test_tokenizer_identify import LOO

    index = json.loads((args.fixtures / "index.json").read_text(encoding="utf-8"))
    items = sorted((it for it in index if it["kind"] in TOKENIZER_KINDS), key=lambda it: it["path"])
    library = load_library(include_user=False)
    path_of = {e.name: args.fixtures / e.sources[0]["path"] for e in library}
    rows = []
    self_ok = loo_ok = 0
    for it in items:
        rel = it["path"].split("/", 1)[1]
        path = args.fixtures / it["path"]
        t_load, view = _best_time(lambda p=path: load_file(p), args.repeat)
        t_id, res = _best_time(lambda v=view: identify(v, top=3, library=library), args.repeat)
        t_index, q = _best_time(lambda v=view: QueryIndex.of(v), args.repeat)
        t_match, _ = _best_time(lambda q=q: [match_entry(q, e) for e in library], args.repeat)
        name, family, _ = CURATED[rel]
        best = res.best
        self_ok += bool(best and best.name == name and best.exact == "order")
        rest = [e for e in library if not (len(e.sources) == 1 and e.sources[0]["path"] == it["path"])]
        loo = identify(view, top=1, library=rest).best
        expected = LOO[rel]
        got = (loo.name, loo.relation) if loo else None
        ok = got == expected if expected else (got is None or got[1] == "unrelated")
        loo_ok += ok
        other = next((m for m in res.matches if m.name != name), None)
        t_cmp = t_beh = None
        if other is not None:
            ref = load_file(path_of[other.name])
            t_cmp, _ = _best_time(
                lambda r=ref, v=view: compare_tokenizers(r, v, behaviour=False), args.repeat
            )
            t_beh, _ = _best_time(lambda r=ref, v=view: compare_tokenizers(r, v, behaviour=True), 1)
        rows.append(
            {
                "file": rel,
                "kind": view.kind,
                "ids": view.size,
                "load_s": t_load,
                "identify_s": t_id,
                "query_index_s": t_index,
                "match_all_entries_s": t_match,
                "best": best.name if best else None,
                "loo": got,
                "loo_ok": ok,
                "compare_with": other.name if other else None,
                "compare_s": t_cmp,
                "compare_behaviour_s": t_beh,
            }
        )
    id_times = [r["identify_s"] for r in rows]
    summary = {
        "files": len(rows),
        "library_entries": len(library),
        "library_bytes": shipped_library_path().stat().st_size,
        "self_identification_top1": f"{self_ok}/{len(rows)}",
        "leave_one_out_correct": f"{loo_ok}/{len(rows)}",
        "identify_median_s": statistics.median(id_times),
        "identify_max_s": max(id_times),
        "query_hashing_median_s": statistics.median(r["query_index_s"] for r in rows),
        "match_per_entry_ms_median": 1000
        * statistics.median(r["match_all_entries_s"] for r in rows)
        / len(library),
        "compare_median_s": statistics.median(r["compare_s"] for r in rows if r["compare_s"] is not None),
        "compare_behaviour_median_s": statistics.median(
            r["compare_behaviour_s"] for r in rows if r["compare_behaviour_s"] is not None
        ),
    }
    hdr = f"{'file':52s} {'kind':14s} {'ids':>7s} {'load':>7s} {'ident':>7s} {'cmp':>7s} {'cmp+enc':>8s}  LOO"
    print(hdr)
    print("-" * len(hdr))
    for r in rows:

        def s(x: float | None) -> str:
            return "-" if x is None else f"{x:.3f}"

        print(
            f"{r['file'][:52]:52s} {r['kind']:14s} {r['ids']:7d} {s(r['load_s']):>7s} "
            f"{s(r['identify_s']):>7s} "
            f"{s(r['compare_s']):>7s} {s(r['compare_behaviour_s']):>8s}  {'ok' if r['loo_ok'] else 'WRONG'} "
            f"{r['loo']}"
        )
    print()
    for k, v in summary.items():
        print(f"{k:32s} {v:.4f}" if isinstance(v, float) else f"{k:32s} {v}")
    m = machine()
    print(f"machine: {m}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"machine": m, "repeat": args.repeat, "summary": summary, "rows": rows}, indent=2) + "\n",
        encoding="utf-8",
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
