"""Detection rate vs exposure and false-positive rate of ``taoke contamination``, on known ground truth.

Models (no training here except the optional SmolLM2 fine-tune):
- committed zoo twins (src/taoke/zoo/twins_data/twins): base-a fine-tuned on man pages with the
  120 train items mixed in 0 (two clean twins), 1, 3 or 10 times;
- untouched zoo models that never saw the items (base-a, base-a2, calib-00, a-ft-man, a-ft-doc,
  a-cpt-man): false positives on models of other training histories;
- the real SmolLM2-135M-Instruct on the first 20 train items (and 20 unseen): untouched (false positives
  on a real model) and, with ``--smollm2-twin
  DIR`` (built by ``python -m taoke.zoo.twins smollm2 DIR``), fine-tuned with 10 exposures.

Trials: the train items are tested as three disjoint benchmarks of 40 items (a detector must find a
seen benchmark of 40 items); the 60 never-trained items as one benchmark of 40 (false positives on the
contaminated models themselves). A trial is "detected" when the verdict is ``contaminated`` (both exact
tests, Bonferroni-combined at overall level 0.05). Prints a table and writes
``bench/results/contamination.json`` with the machine and the run time.

    nice -n 10 python bench/contamination.py [--smollm2-twin DIR] [--no-real]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SUBSET = 40
SMOL_ITEMS = 20  # the SmolLM2 twin's benchmark (see twins.finetune_smollm2)


def _machine() -> dict:
    import torch

    cpu = ""
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


def _subsets(tmp: Path, size: int = SUBSET, prefix: str = "", into: dict | None = None) -> dict[str, Path]:
    """Disjoint benchmarks of ``size`` train items, and the first ``size`` unseen items, as JSONL files."""
    from taoke.zoo import twins

    rows = [json.loads(x) for x in twins.ITEMS_PATH.read_text().splitlines() if x.strip()]
    train = [r for r in rows if r["split"] == "train"]
    unseen = [r for r in rows if r["split"] == "unseen"]
    out: dict[str, Path] = {} if into is None else into
    parts = {f"train-{i}": train[i * size : (i + 1) * size] for i in range(len(train) // size)}
    parts["unseen-0"] = unseen[:size]
    for name, part in parts.items():
        path = tmp / f"{prefix}{name}.jsonl"
        path.write_text(
            "".join(json.dumps({k: v for k, v in r.items() if k != "split"}) + "\n" for r in part)
        )
        out[prefix + name] = path
    return out


def _run(
    label: str, exposure: int, path: Path, subsets: dict[str, Path], names: list[str], kw: dict
) -> list[dict]:
    from taoke.contamination import Settings, analyze, load_scorer, read_benchmark

    t0 = time.time()
    sc = load_scorer(path)
    rows = []
    for name in names:
        r = analyze(sc, read_benchmark(subsets[name]), subsets[name], Settings(**kw))
        seen = exposure > 0 and "train" in name
        rows.append(
            {
                "model": label,
                "exposure": exposure,
                "benchmark": name,
                "seen": seen,
                "verdict": r.verdict,
                "item_order_p": r.order.p_value if r.order else None,
                "option_order_p": r.option.p_value if r.option else None,
                "seen_fraction": r.seen_fraction,
                "mean_loss": round(r.mean_loss, 3),
                "seconds": round(r.seconds, 1),
            }
        )
        print(
            f"{label:22s} exp {exposure:>2} {name:9s} {r.verdict:13s} order p {rows[-1]['item_order_p']:.3f}"
            f"  option p {rows[-1]['option_order_p']:.4f}  loss {r.mean_loss:.2f}  {r.seconds:.0f}s",
            flush=True,
        )
    rows[0]["load_seconds"] = round(time.time() - t0 - sum(x["seconds"] for x in rows), 1)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the bench; see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smollm2-twin", type=Path, default=None, help="folder of the fine-tuned SmolLM2 twin")
    ap.add_argument("--no-real", action="store_true", help="skip SmolLM2")
    ap.add_argument(
        "--real-only",
        action="store_true",
        help="run only SmolLM2 and keep the zoo trials of an earlier run found in --output",
    )
    ap.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "contamination.json")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from taoke import zoo
    from taoke.zoo import twins

    t0 = time.time()
    machine = _machine()
    tmp = Path(tempfile.mkdtemp(prefix="taoke-contam-bench-"))
    subsets = _subsets(tmp)
    train_names = [n for n in subsets if n.startswith("train")]
    kw = {"shuffles": 19, "option_orders_k": 5, "substitutions": 1, "draws": 9999, "max_items": SUBSET}
    rows: list[dict] = []
    earlier_seconds = 0.0
    if args.real_only:
        earlier = json.loads(args.output.read_text())
        # keep the zoo trials and an earlier untouched-SmolLM2 trial; the SmolLM2 twin is (re)run
        rows = [r for r in earlier["trials"] if r["model"] != "smollm2-exp10"]
        earlier_seconds = float(earlier.get("zoo_seconds", earlier["seconds"]))
        machine["zoo_part_machine"] = earlier["machine"]
    else:
        for twin_id, (exposure, _seed) in twins.TWINS.items():
            path = twins.materialize(twin_id, tmp)
            rows += _run(twin_id, exposure, path, subsets, [*train_names, "unseen-0"], kw)
        for zoo_id in ("base-a", "base-a2", "calib-00", "a-ft-man", "a-ft-doc", "a-cpt-man"):
            rows += _run(f"zoo:{zoo_id}", 0, zoo.materialize(zoo_id), subsets, train_names, kw)
    zoo_seconds = earlier_seconds or time.time() - t0
    real_kw = {**kw, "shuffles": 9, "option_orders_k": 3, "substitutions": 0}
    if not args.no_real:
        from taoke import datasets

        rec = (
            json.loads((args.smollm2_twin / "taoke_twin.json").read_text())
            if args.smollm2_twin is not None
            else {"n_items": SMOL_ITEMS}
        )
        n = int(rec["n_items"])
        real_kw["max_items"] = n
        _subsets(tmp, n, prefix="smol-", into=subsets)
        if not any(r["model"] == "smollm2 (untouched)" for r in rows):
            rows += _run(
                "smollm2 (untouched)", 0, datasets.fetch("smollm2"), subsets, ["smol-train-0"], real_kw
            )
        if args.smollm2_twin is not None:
            rows += _run(
                "smollm2-exp10",
                rec["exposure_epochs"],
                args.smollm2_twin,
                subsets,
                ["smol-train-0", "smol-unseen-0"],
                real_kw,
            )
            machine["smollm2_twin"] = rec

    def rate(sel: list[dict]) -> dict:
        hits = sum(r["verdict"] == "contaminated" for r in sel)
        return {"flagged": hits, "trials": len(sel), "rate": round(hits / len(sel), 3) if sel else None}

    table: dict[str, dict] = {}
    for exp in sorted({r["exposure"] for r in rows if r["seen"]}):
        zoo_rows = [
            r for r in rows if r["seen"] and r["exposure"] == exp and not r["model"].startswith("smollm2")
        ]
        if zoo_rows:
            table[f"detection, zoo twin, exposure {exp}"] = rate(zoo_rows)
    real_seen = [r for r in rows if r["seen"] and r["model"].startswith("smollm2")]
    if real_seen:
        table["detection, smollm2, exposure 10"] = rate(real_seen)
    table["false positives, clean twins"] = rate([r for r in rows if r["model"].startswith("twin-clean")])
    table["false positives, unseen items on contaminated twins"] = rate(
        [r for r in rows if r["model"].startswith("twin-exp") and not r["seen"]]
    )
    table["false positives, untouched zoo models"] = rate([r for r in rows if r["model"].startswith("zoo:")])
    real_clean = [r for r in rows if r["model"].startswith("smollm2") and not r["seen"]]
    if real_clean:
        table["false positives, smollm2 (untouched + unseen items)"] = rate(real_clean)
    order_only = [r for r in rows if r["seen"] and r["item_order_p"] is not None]
    table["item-order test alone p<=0.05 on seen benchmarks"] = {
        "flagged": sum(r["item_order_p"] <= 0.05 for r in order_only),
        "trials": len(order_only),
    }
    elapsed = time.time() - t0
    print("\n| measure | flagged / trials | rate |\n|---|---|---|")
    for k, v in table.items():
        print(f"| {k} | {v['flagged']} / {v['trials']} | {v.get('rate', '-')} |")
    print(
        f"\nrun time {elapsed + earlier_seconds:.0f} s on {machine['cpu']} "
        f"({machine['cores']} cores shared, 1 torch thread)"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "machine": machine,
                "settings": {"zoo": kw, "smollm2": real_kw, "items_per_benchmark": SUBSET},
                "summary": table,
                "trials": rows,
                "seconds": round(elapsed + earlier_seconds, 1),
                "zoo_seconds": round(zoo_seconds, 1),
            },
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
