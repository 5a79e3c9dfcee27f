"""Run one fuzz target: ``python fuzz/run.py TARGET --runs N [--seed S]``.

Exit status 0 when no crash was found, 1 when one was (its minimised input and traceback are saved
under ``--crash-dir``). ``--json`` prints the statistics as one JSON object (the campaign reads it).
``--engine atheris`` runs the same harness under libFuzzer's coverage-guided loop where atheris is
installed; the default engine is taoke's own mutation fuzzer (``fuzz/mutate.py``), which needs nothing.
The process runs under an address-space limit (``--mem-mb`` above what is mapped at start), so an
allocation sized from a lying header shows up as a ``MemoryError`` crash instead of swapping the machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(1, str(REPO / "src"))

from fuzz.engine import fuzz, run_one  # noqa: E402
from fuzz.seeds import load_seeds  # noqa: E402
from fuzz.targets import TARGETS  # noqa: E402


def _mapped_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()


def limit_address_space(extra_mb: int) -> None:
    """Cap virtual memory at what is mapped now (interpreter, numpy, seeds) plus ``extra_mb``."""
    if extra_mb <= 0 or not Path("/proc/self/statm").exists():
        return
    cap = _mapped_bytes() + extra_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def _atheris(target_name: str, runs: int, seed: int) -> int:
    import tempfile

    import atheris

    from taoke.errors import TaokeError

    target = TARGETS[target_name]
    seeds_dir = Path(tempfile.mkdtemp(prefix=f"taoke-atheris-{target_name}-"))
    for i, s in enumerate(load_seeds(target_name)):
        (seeds_dir / f"{i}").write_bytes(s)
    work = Path(tempfile.mkdtemp(prefix="taoke-atheris-work-"))

    def one(data: bytes) -> None:
        try:
            target.harness(data, work)
        except TaokeError:
            pass  # a clean refusal; any other exception propagates and atheris records the crash

    atheris.instrument_all()
    atheris.Setup([sys.argv[0], f"-runs={runs}", f"-seed={seed}", "-max_len=1048576", str(seeds_dir)], one)
    atheris.Fuzz()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("target", choices=sorted(TARGETS) + ["all"])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--crash-dir", type=Path, default=REPO / "fuzz" / "crashes")
    ap.add_argument(
        "--timeout", type=float, default=10.0, help="seconds per input before it counts as a hang"
    )
    ap.add_argument("--max-seconds", type=float, default=None, help="stop a target after this long")
    ap.add_argument("--mem-mb", type=int, default=1024, help="address space allowed above start-up (0: none)")
    ap.add_argument("--engine", choices=("mutate", "atheris"), default="mutate")
    ap.add_argument("--replay", type=Path, default=None, help="run one saved input and show the outcome")
    ap.add_argument("--json", action="store_true", help="print the statistics as JSON")
    args = ap.parse_args(argv)

    if args.engine == "atheris":
        return _atheris(args.target, args.runs, args.seed)
    names = sorted(TARGETS) if args.target == "all" else [args.target]
    if args.replay is not None:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            outcome, exc = run_one(TARGETS[names[0]], args.replay.read_bytes(), Path(tmp), args.timeout)
        print(outcome, repr(exc))
        return 1 if outcome == "crash" else 0
    seeds = {n: load_seeds(n) for n in names}
    limit_address_space(args.mem_mb)
    results = []
    for name in names:
        stats = fuzz(
            TARGETS[name],
            seeds[name],
            args.runs,
            args.seed,
            args.crash_dir,
            args.timeout,
            args.max_seconds,
            progress=not args.json,
        )
        results.append(stats.to_dict())
        if not args.json:
            d = results[-1]
            print(
                f"{name}: {d['executions']} execs in {d['seconds']} s ({d['exec_per_s']}/s), "
                f"parsed {d['parsed']}, refused {d['refused']} ({d['refusal_kinds']} kinds), "
                f"unique crashes {d['unique_crashes']}, peak RSS {d['peak_rss_mb']} MB"
            )
            for c in d["crashes"]:
                print(f"  {c['signature']}: {c['message'][:150]}  -> {c['input_path']}")
    if args.json:
        print(json.dumps(results if len(results) > 1 else results[0]))
    return 1 if any(r["unique_crashes"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
