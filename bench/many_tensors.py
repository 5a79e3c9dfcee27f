"""Cost of a legal release with very many tensors through ``taoke inspect`` (issue 16).

A safetensors file of N one-element tensors (default 850,000; llama names, 8 roles per block, so
106,250 blocks) is written, then ``taoke inspect`` runs in a child process. Printed: tensors, header
MB, exit code, wall and CPU seconds of the child, its peak RSS. On a shared machine wall time measures
the load: CPU seconds are the cost. Before the fix (per-name role look-ups for every family and every
gguf architecture, a regex compiled per block number) the 850,000-tensor case was killed at 900 s.

    python bench/many_tensors.py                 # 850,000 tensors
    python bench/many_tensors.py --tensors 100000 --json bench/results/many_tensors.json
    python bench/many_tensors.py --names unmapped --tensors 100000 --commands inspect,inspect-json,audit \
        --old-tree /tmp/taoke-main               # before (an older checkout) and after, in one run

``--names unmapped`` writes the e2e case ``many-tensor-names``: ``model.layers.{i}.extra.w{i}``, names
no family or architecture maps, each with its own shape (one block number each, and a distinct
suffix), so grouping by shape shares nothing. ``--beside-base`` puts them in a second file beside the
zoo's ``base-a`` release, exactly as the e2e case does (then ``fingerprint``, ``index`` and friends
have a model to read). ``--old-tree`` runs every command first with that checkout's ``src`` on
``PYTHONPATH`` (the code before a change), then with this one's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROLES = (
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
    "input_layernorm",
)


COMMANDS = {
    "inspect": ["inspect", "{p}"],
    "inspect-json": ["inspect", "{p}", "--format", "json"],
    "audit": ["audit", "{p}"],
    "audit-json": ["audit", "-f", "json", "{p}"],
    "audit-html": ["audit", "-f", "html", "-o", "{o}/audit.html", "{p}"],
    "fingerprint": ["fingerprint", "-o", "{o}/fp.npz", "{p}"],
    "index": ["index", "-q", "--db", "{o}/index.db", "{p}"],
}


def build(folder: Path, n: int, names: str = "llama", beside_base: bool = False) -> Path:
    from safetensors.numpy import save_file

    if beside_base:  # the e2e case: the zoo's base-a release with the tensors in a second file
        from taoke import zoo

        shutil.copytree(zoo.materialize("base-a"), folder, ignore=shutil.ignore_patterns(".zoo-complete"))
    folder.mkdir(parents=True, exist_ok=True)
    one = np.zeros((1,), np.float16)
    if names == "unmapped":
        state = {f"model.layers.{i}.extra.w{i}": one for i in range(n)}
    else:
        state = {f"model.layers.{i // len(ROLES)}.{ROLES[i % len(ROLES)]}.weight": one for i in range(n)}
    save_file(state, str(folder / ("extra.safetensors" if beside_base else "model.safetensors")))
    return folder


def run(folder: Path, timeout: float, command: str = "inspect-json", tree: Path | None = None) -> dict:
    """One command in a child process: exit, wall and CPU seconds, peak RSS (``ru_maxrss`` of the
    child; measured in a fresh helper process per command so one command's peak does not hide the
    next one's)."""
    out = Path(tempfile.mkdtemp(prefix="taoke-many-out-"))
    args = [a.format(p=folder, o=out) for a in COMMANDS[command]]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    if tree is not None:
        env["PYTHONPATH"] = str(tree / "src")
    # a helper process runs the command and reports its child's rusage: ru_maxrss of
    # RUSAGE_CHILDREN is a maximum over all children waited for, so it is taken per helper
    helper = (
        "import resource, subprocess, sys, json, time\n"
        "t0 = time.monotonic()\n"
        "try:\n"
        "    p = subprocess.run(sys.argv[2:], capture_output=True, timeout=float(sys.argv[1]))\n"
        "    code, err = p.returncode, p.stderr.decode('utf-8', 'replace').strip()\n"
        "except subprocess.TimeoutExpired:\n"
        "    code, err = None, 'killed after ' + sys.argv[1] + ' s'\n"
        "r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(json.dumps({'exit': code, 'wall': time.monotonic() - t0, 'cpu': r.ru_utime + r.ru_stime,"
        " 'rss': r.ru_maxrss, 'err': err}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", helper, str(timeout), sys.executable, "-m", "taoke.cli.main", *args],
        capture_output=True,
        env=env,
        text=True,
    )
    shutil.rmtree(out, ignore_errors=True)
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    err = r["err"]
    return {
        "command": command,
        "code": "before" if tree is not None else "after",
        "exit": r["exit"],
        "wall_s": round(r["wall"], 1),
        "cpu_s": round(r["cpu"], 1),
        "peak_rss_mb": r["rss"] // 1024,
        "stderr": err.splitlines()[-1][:200] if err else "",
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tensors", type=int, default=850_000)
    ap.add_argument("--names", choices=("llama", "unmapped"), default="llama")
    ap.add_argument("--commands", default="inspect-json", help=f"comma-separated, of {', '.join(COMMANDS)}")
    ap.add_argument(
        "--beside-base", action="store_true", help="the tensors in a second file beside the zoo's base-a"
    )
    ap.add_argument("--old-tree", type=Path, help="a checkout of the code before: run it first")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--json", type=Path, help="also write the result here")
    args = ap.parse_args()
    commands = [c for c in args.commands.split(",") if c]
    unknown = [c for c in commands if c not in COMMANDS]
    if unknown:
        ap.error(f"unknown command(s): {', '.join(unknown)}")
    trees = ([args.old_tree] if args.old_tree else []) + [None]
    rows = []
    with tempfile.TemporaryDirectory(prefix="taoke-many-") as tmp:
        folder = build(Path(tmp) / "release", args.tensors, args.names, args.beside_base)
        header = sum(f.stat().st_size for f in folder.glob("*.safetensors")) / 1e6
        for tree in trees:
            for command in commands:
                rows.append(run(folder, args.timeout, command, tree))
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    result = {
        "tensors": args.tensors,
        "names": args.names,
        "beside_base": args.beside_base,
        "file_mb": round(header, 1),
        "old_tree": str(args.old_tree) if args.old_tree else None,
        "runs": rows,
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }
    print(
        f"{args.tensors:,} tensors ({args.names} names), {result['file_mb']} MB; "
        f"load {result['load_average']}"
    )
    print("| command | code | exit | wall s | CPU s | peak RSS MB |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['command']} | {r['code']} | {r['exit']} | {r['wall_s']} | {r['cpu_s']} | "
            f"{r['peak_rss_mb']} |"
        )
        if r["stderr"] and r["exit"] not in (0,):
            print(f"  stderr: {r['stderr']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0 if all(r["exit"] in (0, 2) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
