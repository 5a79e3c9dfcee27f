"""The long fuzzing campaign, the lying-header and malicious-corpus measurements, and SECURITY.md's figures.

    python fuzz/campaign.py --binary-runs 1000000 --text-runs 100000 --jobs 2 \
        --max-seconds 900 --text-seconds 150

Runs every target of ``fuzz/targets.py`` in its own process (``nice``-d, so other work on the machine
keeps priority; each under the address-space cap of ``fuzz/run.py``), then every lying file and every
malicious release through the real CLI under a 1 GB address-space limit. Prints executions, exec/s,
unique crashes and peak RSS; writes everything to ``bench/results/fuzz.json`` and rewrites the figures
block of ``SECURITY.md`` (between its ``fuzz-figures`` markers) from that JSON, so the document always
shows what the last campaign measured. ``--report-only`` re-renders SECURITY.md from the JSON.

``--top-up`` brings a target that stopped short of its goal (``--max-seconds`` ran out on a shared
machine) up to ``--binary-runs``: it runs only the missing executions, with another seed (so the
mutants are not a replay of the first run), and merges the counts into the target's row. The row keeps
each run under ``"runs"`` and the table says how many runs made the count; refusal kinds cannot be
merged (the first run's kinds are not stored), so the row shows the larger of the runs' counts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(1, str(REPO / "src"))

from fuzz.hostile import GB, lying_files, malicious_releases, run_cli, snapshot  # noqa: E402
from fuzz.targets import TARGETS  # noqa: E402

RESULTS = REPO / "bench" / "results" / "fuzz.json"
SECURITY = REPO / "SECURITY.md"
START, END = "<!-- fuzz-figures:start -->", "<!-- fuzz-figures:end -->"


def run_target(name: str, runs: int, seed: int, max_seconds: float, nice: int) -> dict:
    cmd = [
        "nice",
        "-n",
        str(nice),
        sys.executable,
        str(REPO / "fuzz" / "run.py"),
        name,
        "--runs",
        str(runs),
        "--seed",
        str(seed),
        "--max-seconds",
        str(max_seconds),
        "--json",
        "--crash-dir",
        str(REPO / "fuzz" / "crashes"),
    ]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=max_seconds + 600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {
            "target": name,
            "error": (proc.stderr.strip().splitlines() or ["no output"])[-1],
            "executions": 0,
            "unique_crashes": 0,
            "seconds": round(time.monotonic() - t0, 1),
        }
    out = json.loads(lines[-1])
    print(
        f"{name:15s} {out['executions']:>9,d} execs {out['exec_per_s']:>8.0f}/s  "
        f"crashes {out['unique_crashes']}"
        f"  peak RSS {out['peak_rss_mb']:.0f} MB",
        flush=True,
    )
    return out


def measure_lying(root: Path) -> list[dict]:
    rows = []
    cwd = root / "cwd"
    cwd.mkdir(parents=True, exist_ok=True)
    for case in lying_files(root / "lying"):
        r = run_cli(case.args, cwd, mem_bytes=GB)
        rows.append(
            {
                "case": case.name,
                "what": case.what,
                "command": case.args[0],
                "exit": r.returncode,
                "stderr_lines": len(r.stderr_lines),
                "traceback": "Traceback" in r.stderr,
                "peak_rss_mb": round(r.peak_rss_mb, 1),
                "seconds": round(r.seconds, 2),
                "message": (r.stderr_lines or [""])[-1][:300],
            }
        )
    return rows


def measure_corpus(root: Path) -> list[dict]:
    rows = []
    cases = malicious_releases(root / "releases", root / "markers")
    for case in cases:
        cwd = root / f"cwd-{case.name}"
        cwd.mkdir()
        before = snapshot(root)
        r = run_cli(case.args, cwd, mem_bytes=GB)
        new_files = sorted(snapshot(root) - before)
        fired = [str(m) for m in case.markers if m.exists()]
        if case.allow_finding and r.returncode == 0:
            outcome = "finding" if case.finding in r.stdout else "MISSED"
        elif r.returncode == case.expect_exit:
            outcome = "refused" if case.expect_exit == 2 else "read as text, not run"
        else:
            outcome = f"exit {r.returncode}"
        one_line = r.returncode != 2 or len(r.stderr_lines) == 1
        rows.append(
            {
                "case": case.name,
                "what": case.what,
                "command": case.args[0],
                "exit": r.returncode,
                "outcome": outcome,
                "one_line": one_line,
                "traceback": "Traceback" in r.stderr,
                "markers_created": fired,
                "new_files": new_files[:5],
                "peak_rss_mb": round(r.peak_rss_mb, 1),
                "message": (r.stderr_lines or [""])[-1][:300],
            }
        )
    return rows


def merge_runs(old: dict, new: dict) -> dict:
    """One target row from two runs: counts summed, the rate over the summed time, crashes joined."""
    parts = old.get("runs") or [{k: v for k, v in old.items() if k not in ("runs", "target")}]
    parts = [*parts, {k: v for k, v in new.items() if k not in ("runs", "target")}]
    seconds = sum(p["seconds"] for p in parts)
    execs = sum(p["executions"] for p in parts)
    crashes = [c for p in parts for c in p.get("crashes", [])]
    return {
        "target": old["target"],
        "executions": execs,
        "parsed": sum(p["parsed"] for p in parts),
        "refused": sum(p["refused"] for p in parts),
        "seconds": round(seconds, 1),
        "exec_per_s": round(execs / seconds, 1) if seconds else 0.0,
        "corpus": max(p["corpus"] for p in parts),
        "refusal_kinds": max(p["refusal_kinds"] for p in parts),
        "unique_crashes": len({c["signature"] for c in crashes}),
        "crash_executions": sum(p.get("crash_executions", 0) for p in parts),
        "crashes": crashes,
        "peak_rss_mb": max(p["peak_rss_mb"] for p in parts),
        "runs": parts,
    }


def _first_seed(data: dict) -> int:
    """The ``--seed`` the campaign in ``data`` ran with (argparse's default when it was not given)."""
    words = data.get("args", "").split()
    return int(words[words.index("--seed") + 1]) if "--seed" in words[:-1] else 2026


def top_up(
    data: dict, names: list[str], goal: int, seed: int, max_seconds: float, nice: int, jobs: int
) -> None:
    """Run the executions each target in ``names`` lacks to reach ``goal`` and merge them into ``data``."""
    rows = {r["target"]: r for r in data["targets"]}
    todo = {n: goal - rows[n].get("executions", 0) for n in names if n in rows and "error" not in rows[n]}
    todo = {n: k for n, k in todo.items() if k > 0}
    if not todo:
        print("nothing to top up", flush=True)
        return
    # a seed no earlier run of the target used
    seeds = {n: seed + 1 + len(rows[n].get("runs") or [rows[n]]) for n in todo}
    with ThreadPoolExecutor(jobs) as pool:
        futures = {n: pool.submit(run_target, n, k, seeds[n], max_seconds, nice) for n, k in todo.items()}
        for n, f in futures.items():
            out = f.result()
            if "error" in out or not out.get("executions"):
                print(f"{n}: top-up failed: {out.get('error', 'no executions')}", flush=True)
                continue
            out["seed"] = seeds[n]
            out["date"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            if "runs" not in rows[n]:  # the first run: the campaign's seed and date
                rows[n]["seed"] = _first_seed(data)
                rows[n]["date"] = data["date"]
            merged = merge_runs(rows[n], out)
            data["targets"] = [merged if r["target"] == n else r for r in data["targets"]]


def render(data: dict) -> str:
    """The SECURITY.md figures block, from the campaign JSON."""
    lines = [
        START,
        "",
        f"Campaign of {data['date']} on {data['machine']} "
        f"(`python fuzz/campaign.py {data['args']}`; JSON: `bench/results/fuzz.json`)"
        + (
            f"; lying-file and corpus rows re-measured {data['measured']} with `--measure-only`."
            if data.get("measured")
            else "."
        )
        + (f" Topped up {data['topped_up']}." if data.get("topped_up") else ""),
        "",
    ]
    lines += [
        "### Fuzzing: executions per target",
        "",
        "| target | parser | executions | exec/s | parsed | refused (kinds) | unique crashes | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    total = 0
    for r in data["targets"]:
        total += r.get("executions", 0)
        what = TARGETS[r["target"]].what if r["target"] in TARGETS else ""
        if "error" in r:
            lines.append(f"| {r['target']} | {what} | error: {r['error']} | | | | | |")
            continue
        runs = f" ({len(r['runs'])} runs)" if len(r.get("runs", [])) > 1 else ""
        lines.append(
            f"| {r['target']} | {what} | {r['executions']:,}{runs} | {r['exec_per_s']:,.0f} | "
            f"{r['parsed']:,} | {r['refused']:,} ({r['refusal_kinds']}) | {r['unique_crashes']} | "
            f"{r['peak_rss_mb']:.0f} |"
        )
    lines += [
        "",
        f"Total: {total:,} executions. A crash is any exception other than a `TaokeError`; "
        "peak RSS is the whole fuzzing process (interpreter, numpy, seeds, corpus).",
        "",
    ]
    for r in data["targets"]:
        if len(r.get("runs", [])) > 1:
            parts = ", ".join(
                f"{p['executions']:,} (seed {p.get('seed', '?')}{', ' + p['date'] if p.get('date') else ''})"
                for p in r["runs"]
            )
            lines.append(
                f"- {r['target']}: executions in {len(r['runs'])} runs (`--top-up`), {parts}; "
                "each run starts from the seeds, refusal kinds are the larger run's count."
            )
    if any(len(r.get("runs", [])) > 1 for r in data["targets"]):
        lines.append("")
    lines += ["### Crashes found and fixed", "", "| target | crash | input | fix |", "|---|---|---|---|"]
    for c in data["fixed"]:
        lines.append(f"| {c['file'].split('/')[0]} | {c['signature']} | {c['input']} | {c['fix']} |")
    # a crash of this campaign whose minimised input is now a regression input has been fixed since
    fixed_inputs = {Path(c["file"]).name for c in data["fixed"]}
    found = [(r["target"], c) for r in data["targets"] for c in r.get("crashes", [])]
    open_crashes = [(t, c) for t, c in found if Path(c["input_path"]).name not in fixed_inputs]
    if found:
        lines += [
            "",
            f"This campaign found {len(found)} new crash(es): "
            + "; ".join(f"{t} `{c['signature']}`" for t, c in found)
            + (" — fixed since (listed above, input in `fuzz/regressions/`)." if not open_crashes else "."),
        ]
    lines += [
        "",
        f"Crashes found and **not yet fixed** by this campaign: {len(open_crashes)}"
        + ("." if not open_crashes else ":"),
        "",
    ]
    for target, c in open_crashes:
        lines.append(f"- {target}: `{c['signature']}` {c['message'][:120]} ({c['input_path']})")
    lines += [
        "",
        "### Peak RSS under lying headers (CLI under a 1 GB address-space limit)",
        "",
        "| case | lie | command | exit | stderr lines | peak RSS MB |",
        "|---|---|---|---:|---:|---:|",
    ]
    for r in data["lying"]:
        lines.append(
            f"| {r['case']} | {r['what']} | {r['command']} | {r['exit']} | {r['stderr_lines']} | "
            f"{r['peak_rss_mb']:.0f} |"
        )
    refused = sum(r["exit"] == 2 and r["stderr_lines"] == 1 and not r["traceback"] for r in data["lying"])
    peak = max((r["peak_rss_mb"] for r in data["lying"]), default=0)
    lines += [
        "",
        f"{refused}/{len(data['lying'])} refused with exit 2 and one line; highest peak RSS {peak:.0f} MB.",
        "",
    ]
    lines += [
        "### Malicious-release corpus",
        "",
        "| case | attack | command | exit | outcome | payload ran | new files |",
        "|---|---|---|---:|---|---|---:|",
    ]
    for r in data["corpus"]:
        lines.append(
            f"| {r['case']} | {r['what']} | {r['command']} | {r['exit']} | {r['outcome']} | "
            f"{'YES' if r['markers_created'] else 'no'} | {len(r['new_files'])} |"
        )
    ok = sum(
        r["outcome"] in ("refused", "finding", "read as text, not run")
        and not r["markers_created"]
        and not r["new_files"]
        and r["one_line"]
        and not r["traceback"]
        for r in data["corpus"]
    )
    side = sum(bool(r["markers_created"] or r["new_files"]) for r in data["corpus"])
    lines += [
        "",
        f"{ok}/{len(data['corpus'])} handled as required (refused with one line, or reported as a "
        f"finding, or read as text only); {side} side effects.",
        "",
        END,
    ]
    return "\n".join(lines)


def update_security(data: dict) -> None:
    text = SECURITY.read_text(encoding="utf-8") if SECURITY.exists() else f"# Security\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text = text.rstrip() + f"\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    SECURITY.write_text(head + render(data) + tail, encoding="utf-8")


def _fixed() -> list[dict]:
    return json.loads((REPO / "fuzz" / "regressions" / "index.json").read_text(encoding="utf-8"))["crashes"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary-runs", type=int, default=1_000_000)
    ap.add_argument("--text-runs", type=int, default=100_000)
    ap.add_argument("--max-seconds", type=float, default=1800, help="per binary-parser target")
    ap.add_argument("--text-seconds", type=float, default=300, help="per text-format target")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--nice", type=int, default=15)
    ap.add_argument("--targets", nargs="*", default=None)
    ap.add_argument("--report-only", action="store_true", help="re-render SECURITY.md from the JSON")
    ap.add_argument(
        "--top-up",
        action="store_true",
        help="run only the executions binary targets lack to reach --binary-runs, merge into the JSON",
    )
    ap.add_argument(
        "--measure-only",
        action="store_true",
        help="re-run the lying-file and corpus measurements, keep the fuzzing figures",
    )
    args = ap.parse_args(argv)

    if args.report_only:
        update_security(json.loads(RESULTS.read_text(encoding="utf-8")))
        return 0
    if args.top_up:
        data = json.loads(RESULTS.read_text(encoding="utf-8"))
        from fuzz.seeds import load_seeds

        names = args.targets or [n for n in TARGETS if TARGETS[n].binary_parser]
        for n in names:
            load_seeds(n)
        top_up(data, names, args.binary_runs, args.seed, args.max_seconds, args.nice, args.jobs)
        data["fixed"] = _fixed()
        data["topped_up"] = (
            datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            + f", load average {os.getloadavg()[0]:.1f} at the end"
            + f" (`python fuzz/campaign.py {' '.join(argv if argv is not None else sys.argv[1:])}`)"
        )
        RESULTS.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        update_security(data)
        return 1 if any(r.get("unique_crashes") for r in data["targets"]) else 0
    if args.measure_only:
        data = json.loads(RESULTS.read_text(encoding="utf-8"))
        with tempfile.TemporaryDirectory(prefix="taoke-campaign-") as tmp:
            data["lying"] = measure_lying(Path(tmp) / "lying")
            data["corpus"] = measure_corpus(Path(tmp) / "corpus")
        data["fixed"] = _fixed()
        data["measured"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        RESULTS.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        update_security(data)
        return 0
    from fuzz.seeds import load_seeds

    names = args.targets or list(TARGETS)
    for n in names:
        load_seeds(n)  # build the seed cache once, before the parallel workers start
    # binary parsers first and longest: they get the 1M-execution goal
    names.sort(key=lambda n: not TARGETS[n].binary_parser)
    with ThreadPoolExecutor(args.jobs) as pool:
        jobs = [
            pool.submit(
                run_target,
                n,
                args.binary_runs if TARGETS[n].binary_parser else args.text_runs,
                args.seed,
                args.max_seconds if TARGETS[n].binary_parser else args.text_seconds,
                args.nice,
            )
            for n in names
        ]
        targets = [j.result() for j in jobs]
    with tempfile.TemporaryDirectory(prefix="taoke-campaign-") as tmp:
        lying = measure_lying(Path(tmp) / "lying")
        corpus = measure_corpus(Path(tmp) / "corpus")
    fixed = _fixed()
    data = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f} at the end",
        "args": " ".join(argv if argv is not None else sys.argv[1:]),
        "targets": targets,
        "fixed": fixed,
        "lying": lying,
        "corpus": corpus,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    update_security(data)
    total = sum(t.get("executions", 0) for t in targets)
    crashes = sum(t.get("unique_crashes", 0) for t in targets)
    print(
        f"total {total:,} executions, {crashes} unique crashes; lying files: "
        f"{sum(r['exit'] == 2 for r in lying)}/{len(lying)} refused, max peak RSS "
        f"{max(r['peak_rss_mb'] for r in lying):.0f} MB; corpus: "
        f"{sum(not r['markers_created'] and not r['new_files'] for r in corpus)}/{len(corpus)} "
        "without side "
        f"effects. Wrote {RESULTS} and SECURITY.md."
    )
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
