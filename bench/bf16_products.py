"""Benchmark: do bf16 products (``--device cpu-bf16``) change any zoo verdict? (issue 21)

``Bf16Backend`` multiplies bf16-stored matrices in bf16 (AMX / AVX512-BF16), rounding the probes and
each product's output to an 8-bit mantissa. This bench measures what that rounding does to the
answers: every labelled zoo pair whose two models are safetensors releases is re-made with both
models cast to bf16 (the weights of a bf16 checkpoint), each model is fingerprinted twice from the
same bf16 files -- exact float32 products (``cpu``) and bf16 products (``cpu-bf16``) -- and the pair is
compared both ways. The difference isolates the product rounding (both fingerprints read the same bf16
values). Reported: verdict (derived) and label agreement, the largest change of log10 p on derived and
on not-derived pairs, the invariants' RMS difference, and the fingerprint time of each path.

Nothing is fitted here: the nulls are the committed ones (fitted on exact fingerprints), so this is a
test of the rounding against fixed thresholds on every zoo pair (fit and test splits both shown).

    python bench/bf16_products.py            # writes bench/results/bf16_products.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _f(x: float | None) -> float:
    return 0.0 if x is None else float(x)  # untestable: no p (both sides are compared as they come)


def bf16_copy(src: Path, dst: Path) -> bool:
    """``src`` with every floating safetensors tensor cast to bf16; False when it holds no safetensors."""
    import torch
    from safetensors.torch import load_file, save_file

    files = sorted(src.glob("*.safetensors"))
    if not files or any(src.glob("*.gguf")):
        return False
    shutil.copytree(src, dst)
    for st in sorted(dst.glob("*.safetensors")):
        t = load_file(str(st))
        save_file({k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in t.items()}, str(st))
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "bf16_products.json")
    ap.add_argument("--limit", type=int, default=0, help="first N pairs only (a quick look)")
    a = ap.parse_args(argv)

    from taoke import zoo
    from taoke.weights import compare
    from taoke.weights.fingerprint import fingerprint
    from tests.helpers.compare import zoo_path

    pairs = [p for p in zoo.manifest() if not p["requires_training"] and not p["requires_real_data"]]
    if a.limit:
        pairs = pairs[: a.limit]
    work = Path(tempfile.mkdtemp(prefix="taoke-bf16-"))
    fps: dict[str, dict[str, object] | None] = {}
    seconds = {"cpu": 0.0, "cpu-bf16": 0.0}
    inv_diff: list[float] = []

    def fp(mid: str) -> dict[str, object] | None:
        if mid not in fps:
            dst = work / mid
            try:
                ok = bf16_copy(Path(zoo_path(mid)), dst)
            except Exception as exc:  # noqa: BLE001 - a model this bench cannot cast is skipped, said
                print(f"skip {mid}: {type(exc).__name__}: {exc}", file=sys.stderr)
                ok = False
            if not ok:
                fps[mid] = None
                return None
            out: dict[str, object] = {}
            for dev in ("cpu", "cpu-bf16"):
                t = time.perf_counter()
                out[dev] = fingerprint(str(dst), device=dev)
                seconds[dev] += time.perf_counter() - t
            e, b = out["cpu"], out["cpu-bf16"]
            for c in e.inv:  # type: ignore[attr-defined]
                x, y = e.inv[c], b.inv[c]  # type: ignore[attr-defined]
                ok_ = np.isfinite(x) & np.isfinite(y)
                inv_diff.append(float(np.sqrt(np.mean((x[ok_] - y[ok_]) ** 2))))
            fps[mid] = out
        return fps[mid]

    rows = []
    for i, p in enumerate(pairs):
        r, s = fp(p["reference"]), fp(p["suspect"])
        if r is None or s is None:
            continue
        parents = p["details"].get("parents")
        res = {}
        for dev in ("cpu", "cpu-bf16"):
            pf = None
            if isinstance(parents, dict) and len(parents) >= 2 and all(fp(x) for x in parents):
                pf = [fp(x)[dev] for x in parents]  # type: ignore[index]
            res[dev] = compare(r[dev], s[dev], parents=pf)
        e, b = res["cpu"], res["cpu-bf16"]
        rows.append(
            {
                "id": p["id"],
                "split": p["details"].get("split", p.get("split")),
                "truth_derived": bool(p.get("derived", p["details"].get("derived", True))),
                "derived": [e.derived, b.derived],
                "label": [str(e.relationship.value), str(b.relationship.value)],
                "log10p": [_f(e.log10_p_value), _f(b.log10_p_value)],
            }
        )
        print(f"[{i + 1}/{len(pairs)}] {p['id']}: {rows[-1]['label']} {rows[-1]['log10p']}", flush=True)
    shutil.rmtree(work, ignore_errors=True)

    def dlog(rs: list[dict]) -> float:
        return max((abs(r["log10p"][0] - r["log10p"][1]) for r in rs), default=0.0)

    derived = [r for r in rows if r["derived"][0]]
    indep = [r for r in rows if not r["derived"][0]]
    moderate = [r for r in derived if r["log10p"][0] > -30]  # where p is a number a reader compares
    summary = {
        "pairs": len(rows),
        "pairs_skipped": len(pairs) - len(rows),
        "verdict_agree": sum(r["derived"][0] == r["derived"][1] for r in rows),
        "label_agree": sum(r["label"][0] == r["label"][1] for r in rows),
        "label_changes": [r for r in rows if r["label"][0] != r["label"][1]],
        "max_abs_dlog10p_not_derived": round(dlog(indep), 4),
        "max_abs_dlog10p_derived_log10p_above_-30": round(dlog(moderate), 4),
        "invariant_rms_diff_max": round(max(inv_diff, default=0.0), 5),
        "invariant_rms_diff_median": round(float(np.median(inv_diff)) if inv_diff else 0.0, 5),
        "fingerprint_seconds": {k: round(v, 2) for k, v in seconds.items()},
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }
    a.output.parent.mkdir(parents=True, exist_ok=True)
    a.output.write_text(json.dumps({"summary": summary, "pairs": rows}, indent=1))
    print(
        "| pairs | verdicts same | labels same | max abs d log10 p (not derived) | "
        "max abs d log10 p (derived, log10 p > -30) | invariant RMS diff (median / max) |"
    )
    print("|---:|---:|---:|---:|---:|---|")
    print(
        f"| {summary['pairs']} | {summary['verdict_agree']} | {summary['label_agree']} | "
        f"{summary['max_abs_dlog10p_not_derived']} | {summary['max_abs_dlog10p_derived_log10p_above_-30']} | "
        f"{summary['invariant_rms_diff_median']} / {summary['invariant_rms_diff_max']} |"
    )
    for r in summary["label_changes"]:
        print(f"label change {r['id']}: {r['label'][0]} -> {r['label'][1]} (log10 p {r['log10p']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
