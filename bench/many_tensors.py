"""Cost of a legal release with very many tensors through ``taoke inspect`` (issue 16).

A safetensors file of N one-element tensors (default 850,000; llama names, 8 roles per block, so
106,250 blocks) is written, then ``taoke inspect`` runs in a child process. Printed: tensors, header
MB, exit code, wall and CPU seconds of the child, its peak RSS. On a shared machine wall time measures
the load: CPU seconds are the cost. Before the fix (per-name role look-ups for every family and every
gguf architecture, a regex compiled per block number) the 850,000-tensor case was killed at 900 s.

    python bench/many_tensors.py                 # 850,000 tensors
    python bench/many_tensors.py --tensors 100000 --json bench/results/many_tensors.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
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


def build(folder: Path, n: int) -> Path:
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    one = np.zeros((1,), np.float16)
    state = {f"model.layers.{i // len(ROLES)}.{ROLES[i % len(ROLES)]}.weight": one for i in range(n)}
    save_file(state, str(folder / "model.safetensors"))
    return folder


def run(folder: Path, timeout: float) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "taoke.cli.main", "inspect", str(folder), "--format", "json"],
            capture_output=True,
            timeout=timeout,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        code, err = proc.returncode, proc.stderr.decode("utf-8", "replace").strip()
    except subprocess.TimeoutExpired:
        code, err = None, f"killed after {timeout} s"
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "exit": code,
        "wall_s": round(wall, 1),
        "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
        "peak_rss_mb": after.ru_maxrss // 1024,
        "stderr": err.splitlines()[-1][:200] if err else "",
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tensors", type=int, default=850_000)
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--json", type=Path, help="also write the result here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="taoke-many-") as tmp:
        folder = build(Path(tmp) / "release", args.tensors)
        header = (folder / "model.safetensors").stat().st_size / 1e6
        result = {"tensors": args.tensors, "file_mb": round(header, 1), **run(folder, args.timeout)}
    load = os.getloadavg()
    result["load_average"] = [round(x, 1) for x in load]
    print("| tensors | file MB | exit | wall s | CPU s | peak RSS MB | load |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    print(
        f"| {result['tensors']:,} | {result['file_mb']} | {result['exit']} | {result['wall_s']} | "
        f"{result['cpu_s']} | {result['peak_rss_mb']} | {result['load_average'][0]} |"
    )
    if result["stderr"]:
        print("stderr:", result["stderr"])
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0 if result["exit"] in (0, 2) else 1


if __name__ == "__main__":
    sys.exit(main())
