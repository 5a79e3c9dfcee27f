"""End-to-end hostile-release harness: every case of ``fuzz/e2e_cases.py`` through every command that
reads a release, a fingerprint file, a registry file or a benchmark.

    python fuzz/e2e.py                      # full run: JSON in bench/results/e2e.json + a table
    python fuzz/e2e.py --cases markup- --commands inspect,audit   # a subset (name prefixes)

A run passes when the command exits 0 or 2 (3 for ``compare``/``search``: "untestable" is their
documented answer), prints at most one line on stderr (for exit 2: naming the input it is about, not
a scratch file), stays under 1 GB peak RSS and 30 s, opens no
file outside the case, the output folder and the cache, and writes no raw control character (ESC,
BEL, backspace, carriage return, bidi override) to the terminal. Commands run in forked children of a
server that has imported taoke once (``fuzz/e2e_server.py`` says why and what is measured).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from fuzz.e2e_cases import CLASSES, Base, Case, build_base, build_cases  # noqa: E402

RSS_LIMIT_MB = 1024
TIME_LIMIT_S = 30.0
# raw terminal controls that must never reach a terminal from a release (rich, not writing to a
# terminal here, emits none of its own)
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def _release_cmds() -> dict[str, list[str]]:
    return {
        "inspect": ["inspect", "{p}"],
        "inspect-verify": ["inspect", "--verify", "{p}"],
        "inspect-json": ["inspect", "-f", "json", "--metadata", "{p}"],
        "audit": ["audit", "{p}"],
        "audit-json": ["audit", "-f", "json", "{p}"],
        "audit-html": ["audit", "-f", "html", "-o", "{o}/audit.html", "{p}"],
        "compare": ["compare", "-q", "{fp}", "{p}"],
        "fingerprint": ["fingerprint", "-o", "{o}/fp.npz", "{p}"],
        "llamafy": ["llamafy", "-q", "--no-logits", "{p}", "{o}/llama"],
        "tokenizer-compare": ["tokenizer", "compare", "{rel}", "{p}"],
        "tokenizer-identify": ["tokenizer", "identify", "{p}"],
        "index": ["index", "-q", "--db", "{o}/index.db", "{p}"],
        "search": ["search", "-q", "--db", "{o}/search.db", "{p}"],
        "scan": ["scan", "-q", "-w", "1", "--db", "{o}/scan.db", "{o}/list.txt"],
        "contamination": [
            "contamination",
            "-q",
            "-b",
            "{bench}",
            "--max-items",
            "2",
            "-n",
            "9",
            "--option-orders",
            "1",
            "{p}",
        ],
    }


COMMANDS: dict[str, dict[str, list[str]]] = {
    "release": _release_cmds(),
    "fpfile": {
        "compare": ["compare", "-q", "{fp}", "{p}"],
        "compare-ref": ["compare", "-q", "{p}", "{fp}"],
        "search": ["search", "-q", "--db", "{o}/search.db", "{p}"],
    },
    "registry": {
        "registry-import": ["registry", "import", "--db", "{o}/new.db", "{p}"],
        "registry-export": ["registry", "export", "--db", "{o}/copy.db", "{o}/export.db"],
        "search": ["search", "-q", "--db", "{o}/copy.db", "{fp}"],
    },
    "benchmark": {
        "contamination": [
            "contamination",
            "-q",
            "-b",
            "{p}",
            "--max-items",
            "2",
            "-n",
            "9",
            "--option-orders",
            "1",
            "{rel}",
        ],
        "audit-benchmark": ["audit", "-b", "{p}", "{rel}"],
    },
}
ALL_COMMANDS = sorted({c for cmds in COMMANDS.values() for c in cmds})
UNTESTABLE_OK = {"compare", "compare-ref", "search"}


@dataclass
class Run:
    case: str
    cls: str
    command: str
    rc: int
    stderr_lines: int
    first_error: str
    rss_mb: float
    seconds: float
    cpu_seconds: float
    outside: list[str]
    control_chars: bool
    failures: list[str]


class Server:
    """One fork server (``fuzz/e2e_server.py``) and the pipe to it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "fuzz" / "e2e_server.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=str(ROOT),
        )
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline()
        if not ready.strip():
            raise RuntimeError("e2e fork server did not start")
        self.lock = threading.Lock()

    def run(self, req: dict) -> dict:
        with self.lock:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
            return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a server still reaping a child: results are in already
            self.proc.kill()
            self.proc.wait()


class Harness:
    """Builds the base and the cases in ``work`` and runs (case, command) pairs on ``jobs`` servers."""

    def __init__(self, work: Path, jobs: int = 2, time_basis: str = "wall") -> None:
        """``time_basis="cpu"``: the 30 s bound applies to the run's CPU seconds, and a run is killed only
        after 4x that in wall time: for tests on a shared machine, where wall time measures the load."""
        self.time_basis = time_basis
        self.work = work.resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.cache = self.work / "cache"
        self.cache.mkdir(exist_ok=True)
        self.cwd = self.work / "cwd"  # the commands' working folder: holds a tokenizer.json decoy
        self.cwd.mkdir(exist_ok=True)
        (self.work / "out").mkdir(exist_ok=True)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
            "HF_HUB_OFFLINE": "1",
            "TAOKE_HOME": str(self.cache),
            "HF_HOME": str(self.cache / "hf"),
            "TAOKE_E2E_PRELOAD_TORCH": "1",
        }
        env.pop("TAOKE_REGISTRY", None)
        self.env = env
        self.base: Base = build_base(self.work)
        shutil.copy(self.base.release / "tokenizer.json", self.cwd / "tokenizer.json")
        shutil.copy(self.base.release / "config.json", self.cwd / "config.json")
        # warm the caches a first run builds (tokenizer library, code-lineage index: a minute on a
        # loaded machine), so that no case is charged for them
        warm = self.work / "base" / "warm"
        if not warm.exists():
            shutil.copytree(self.base.release, warm)
            (warm / "modeling_warm.py").write_text("import torch\n\n\nclass M(torch.nn.Module):\n    pass\n")
        for args in (["audit", str(warm)], ["tokenizer", "identify", str(self.base.release)]):
            subprocess.run(
                [sys.executable, "-m", "taoke.cli.main", *args],
                env=env,
                cwd=self.cwd,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
        self.servers = [Server(env) for _ in range(max(1, jobs))]
        self._free: list[Server] = list(self.servers)
        self._cv = threading.Condition()
        self._n = 0

    def cases(self) -> list[Case]:
        return build_cases(self.work, self.base)

    def close(self, remove_cases: bool = False) -> None:
        """Stop the servers; ``remove_cases``: also delete the built cases (with ``rm -rf``: the
        1,100-deep case tree exceeds the recursion of ``shutil.rmtree``, pytest's cleanup included)."""
        for s in self.servers:
            s.close()
        if remove_cases:
            subprocess.run(["rm", "-rf", str(self.work / "cases"), str(self.work / "out")], check=False)  # noqa: S603, S607

    def _server(self) -> Server:
        with self._cv:
            while not self._free:
                self._cv.wait()
            return self._free.pop()

    def _release_server(self, s: Server) -> None:
        with self._cv:
            self._free.append(s)
            self._cv.notify()

    def run(self, case: Case, command: str) -> Run:
        template = COMMANDS[case.kind][command]
        with self._cv:
            self._n += 1
            n = self._n
        out = Path(tempfile.mkdtemp(prefix=f"run{n}-", dir=self.work / "out"))
        if "{o}/search.db" in template:
            shutil.copy(self.base.registry, out / "search.db")
        if "{o}/copy.db" in template:
            shutil.copy(case.path, out / "copy.db")
        (out / "list.txt").write_text(f"{case.path}\n")
        fields = {
            "p": str(case.path),
            "o": str(out),
            "fp": str(self.base.fingerprint),
            "rel": str(self.base.release),
            "bench": str(self.base.benchmark),
        }
        args = [a.format(**fields) for a in template]
        req = {
            "args": args,
            "cwd": str(self.cwd),
            "env": {"TAOKE_HOME": str(self.cache)},
            "watch": str(self.work),
            "allowed": [str(case.root), str(out), str(self.cache), str(self.base.release.parent)],
            "timeout": TIME_LIMIT_S + 1 if self.time_basis == "wall" else 4 * TIME_LIMIT_S,
            "stdout": str(out / ".stdout"),
            "stderr": str(out / ".stderr"),
            "result": str(out / ".result"),
        }
        server = self._server()
        try:
            res = server.run(req)
        finally:
            self._release_server(server)
        stdout = Path(req["stdout"]).read_text("utf-8", "replace")
        stderr = Path(req["stderr"]).read_text("utf-8", "replace")
        lines = [ln for ln in stderr.splitlines() if ln.strip()]
        # JSON output escapes control characters itself; only what reaches a terminal is checked
        control = bool(CONTROL.search(stderr) or ("json" not in command and CONTROL.search(stdout)))
        failures = []
        ok_codes = {0, 2, 3} if command in UNTESTABLE_OK else {0, 2}
        if res["timed_out"]:
            failures.append("time")
        elif res["rc"] not in ok_codes:
            failures.append("exit")
        if len(lines) > 1:
            failures.append("stderr")
        if res["rss_mb"] >= RSS_LIMIT_MB:
            failures.append("rss")
        spent = res["seconds"] if self.time_basis == "wall" else res.get("cpu_seconds", res["seconds"])
        if spent >= TIME_LIMIT_S and "time" not in failures:
            failures.append("time")
        if res["outside"]:
            failures.append("outside")
        if control:
            failures.append("control")
        # exit 2's one line must name the input it is about (a path given on the command line, or a
        # file under one), never a scratch file of taoke's own
        named = [str(case.root), str(out), *(a for a in args if "/" in a)]
        err = next((ln for ln in lines if ln.startswith("error:")), lines[-1] if lines else "")
        if res["rc"] == 2 and (not any(n in err for n in named) or "taoke-fp-" in err):
            failures.append("unnamed")
        first = ""
        for ln in lines:
            if "error" in ln.lower() or "Error" in ln:
                first = ln.strip()[:300]
                break
        if not first and lines:
            first = lines[-1].strip()[:300]
        shutil.rmtree(out, ignore_errors=True)
        return Run(
            case.name,
            case.cls,
            command,
            res["rc"],
            len(lines),
            first,
            res["rss_mb"],
            res["seconds"],
            res.get("cpu_seconds", 0.0),
            res["outside"],
            control,
            failures,
        )

    def run_all(
        self,
        cases: list[Case],
        commands: list[str] | None = None,
        progress: bool = False,
        record: Path | None = None,
    ) -> list[Run]:
        """Every (case, command) pair; ``record``: a JSON-lines file each run is appended to as it ends."""
        (self.work / "out").mkdir(exist_ok=True)
        pairs = [(c, cmd) for c in cases for cmd in COMMANDS[c.kind] if commands is None or cmd in commands]
        runs: list[Run] = []
        done = 0
        start = time.monotonic()
        with ThreadPoolExecutor(len(self.servers)) as pool:
            for r in pool.map(lambda p: self.run(*p), pairs):
                runs.append(r)
                done += 1
                if record is not None:
                    with open(record, "a") as fh:
                        fh.write(json.dumps(asdict(r)) + "\n")
                if progress and (r.failures or done % 50 == 0):
                    mark = ",".join(r.failures) or "ok"
                    print(
                        f"[{done}/{len(pairs)} {time.monotonic() - start:.0f}s] {r.case} {r.command}: "
                        f"rc={r.rc} {mark} {r.first_error[:120]!r}",
                        flush=True,
                    )
        return runs


def summarise(cases: list[Case], runs: list[Run]) -> dict:
    by_class: dict[str, Counter] = defaultdict(Counter)
    for r in runs:
        c = by_class[r.cls]
        c["runs"] += 1
        if r.failures:
            c["failed"] += 1
        for f in r.failures:
            c[f] += 1
    ncases = Counter(c.cls for c in cases)
    return {
        "cases": len(cases),
        "runs": len(runs),
        "failed": sum(1 for r in runs if r.failures),
        "max_rss_mb": max((r.rss_mb for r in runs), default=0),
        "max_seconds": max((r.seconds for r in runs), default=0),
        "max_cpu_seconds": max((r.cpu_seconds for r in runs), default=0),
        "time_failures_under_30s_cpu": sum(
            1 for r in runs if "time" in r.failures and r.cpu_seconds < TIME_LIMIT_S
        ),
        "over_30s_wall": sum(1 for r in runs if r.seconds >= TIME_LIMIT_S),
        "over_30s_cpu": sum(1 for r in runs if r.cpu_seconds >= TIME_LIMIT_S),
        "classes": {k: {"cases": ncases[k], **dict(by_class[k])} for k in CLASSES if ncases[k]},
        "commands": sorted({r.command for r in runs}),
    }


def table(summary: dict) -> str:
    kinds = ("exit", "stderr", "unnamed", "rss", "time", "outside", "control")
    rows = [
        "| class | cases | runs | failed | " + " | ".join(kinds) + " |",
        "|---|---:|---:|---:|" + "---:|" * len(kinds),
    ]
    for cls, c in summary["classes"].items():
        rows.append(
            f"| {cls} | {c['cases']} | {c.get('runs', 0)} | {c.get('failed', 0)} | "
            + " | ".join(str(c.get(k, 0)) for k in kinds)
            + " |"
        )
    rows.append(
        f"| **all** | {summary['cases']} | {summary['runs']} | {summary['failed']} | "
        + " | ".join(str(sum(c.get(k, 0) for c in summary["classes"].values())) for k in kinds)
        + " |"
    )
    return "\n".join(rows)


def command_table(runs: list[dict]) -> str:
    """Runs and failures per command, from the ``runs`` of a result JSON."""
    per: dict[str, Counter] = defaultdict(Counter)
    for r in runs:
        per[r["command"]]["runs"] += 1
        per[r["command"]]["failed"] += bool(r["failures"])
        per[r["command"]]["rss"] = max(per[r["command"]]["rss"], int(r["rss_mb"]))
        per[r["command"]]["seconds"] = max(per[r["command"]]["seconds"], int(r["seconds"] + 0.999))
    rows = ["| command | runs | failed | max RSS MB | max s |", "|---|---:|---:|---:|---:|"]
    for cmd in sorted(per):
        c = per[cmd]
        rows.append(f"| {cmd} | {c['runs']} | {c['failed']} | {c['rss']} | {c['seconds']} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "taoke-e2e")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cases", default="", help="comma-separated case-name prefixes (default: all)")
    ap.add_argument("--commands", default="", help="comma-separated commands (default: all)")
    ap.add_argument("--sample", type=int, default=1, help="every Nth case of each class (default: all)")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "e2e.json")
    ap.add_argument(
        "--time-basis",
        choices=("wall", "cpu"),
        default="wall",
        help="what the 30 s bound applies to: wall time (a quiet machine) or CPU seconds, the command's "
        "and its workers' (a shared one; wall over 30 s is still counted in the summary)",
    )
    a = ap.parse_args(argv)
    start = time.monotonic()
    h = Harness(a.work, a.jobs, a.time_basis)
    try:
        cases = h.cases()
        if a.cases:
            cases = [c for c in cases if c.name.startswith(tuple(a.cases.split(",")))]
        if a.sample > 1:
            seen: Counter = Counter()
            kept = []
            for c in cases:
                if seen[c.cls] % a.sample == 0:
                    kept.append(c)
                seen[c.cls] += 1
            cases = kept
        cmds = a.commands.split(",") if a.commands else None
        record = a.json.with_suffix(".jsonl")
        record.parent.mkdir(parents=True, exist_ok=True)
        record.unlink(missing_ok=True)
        runs = h.run_all(cases, cmds, progress=True, record=record)
    finally:
        h.close()
    summary = summarise(cases, runs)
    summary.update(
        when=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        machine=f"{platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}",
        wall_seconds=round(time.monotonic() - start, 1),
        load_average=[round(x, 1) for x in os.getloadavg()],
        time_basis=a.time_basis,
    )
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps({"summary": summary, "runs": [asdict(r) for r in runs]}, indent=1))
    print(table(summary))
    print(
        f"{summary['runs']} runs of {summary['cases']} cases in {summary['wall_seconds']} s; "
        f"max RSS {summary['max_rss_mb']} MB, max time {summary['max_seconds']} s wall, "
        f"{summary['max_cpu_seconds']} s CPU (with workers); over 30 s: {summary['over_30s_wall']} wall, "
        f"{summary['over_30s_cpu']} CPU"
    )
    for r in runs:
        if r.failures:
            print(
                f"FAIL {r.case} {r.command}: {','.join(r.failures)} rc={r.rc} {r.first_error[:160]!r}"
                + (f" outside={r.outside[:2]}" if r.outside else "")
            )
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
