"""``python -m taoke.zoo``: build the zoo, retrain its checkpoints, or print its manifest.

    python -m taoke.zoo build DIR [--retrain] [--with-training] [--only ID ...]
    python -m taoke.zoo train [--out DIR] [--stage bases|derivatives|all|families] [--threads N]
    python -m taoke.zoo manifest [--calibration] [--markdown]
    python -m taoke.zoo calib build --width W [--count N] [--same-order]   (taoke.zoo.calib)

``build`` materializes every model into DIR (numpy steps over the committed checkpoints; seconds) and
writes DIR/manifest.json. ``--retrain`` first retrains every checkpoint from the corpora (needs torch;
see docs/zoo.md for the time) into DIR/_checkpoints and builds from those. ``--with-training`` also builds
derivatives marked ``requires_training`` (the SmolLM2 CPU fine-tune).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def _build(args: argparse.Namespace) -> int:
    out = Path(args.dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if args.retrain:
        from taoke.zoo.train_derived import train_all as train_main

        ckpt = out / "_checkpoints"
        train_main(ckpt, "all", args.threads)
        os.environ["TAOKE_ZOO_CHECKPOINTS"] = str(ckpt)
    from taoke import zoo
    from taoke.errors import TaokeError
    from taoke.zoo.catalog import MODELS

    ids = args.only or list(MODELS)
    requires = {p["suspect"] for p in zoo.manifest() if p["requires_training"]}
    built, skipped = {}, {}
    t_all = time.time()
    for mid in ids:
        if mid in requires and not args.with_training:
            skipped[mid] = "requires training (use --with-training)"
            continue
        t0 = time.time()
        try:
            built[mid] = str(zoo.materialize(mid, out))
        except (TaokeError, OSError, ImportError) as exc:
            skipped[mid] = f"{type(exc).__name__}: {exc}".splitlines()[0]
            print(f"skip {mid}: {skipped[mid]}", file=sys.stderr)
            continue
        print(f"{mid:24s} {time.time() - t0:6.1f} s  {built[mid]}")
    doc = {
        "models": zoo.models(),
        "paths": built,
        "skipped": skipped,
        "corpora": zoo.corpora(),
        "pairs": zoo.manifest(),
        "calibration_pairs": zoo.calibration_pairs(),
    }
    (out / "manifest.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    print(
        f"built {len(built)} models in {time.time() - t_all:.0f} s; skipped {len(skipped)}; "
        f"manifest: {out / 'manifest.json'}"
    )
    return 0


def _train(args: argparse.Namespace) -> int:
    from taoke.zoo.train_derived import train_all as train_main

    if args.stage == "families":  # issue 15.5: Gemma/Qwen2/Phi-3/GPT-NeoX/BERT and the tied null's twins
        from taoke.zoo.train_families import main as train_families_main

        train_families_main(["--only", *args.only] if args.only else [])
        return train_families_main(["--tied"])  # trains the missing twins, refits the tied null

    train_main(Path(args.out), args.stage, args.threads, set(args.only) if args.only else None)
    return 0


def markdown_table(pairs: list[dict]) -> str:
    """The manifest as a Markdown table (used to write docs/zoo.md)."""
    rows = [
        "| reference | suspect | relationship | derived | base_model declared | suspect format |",
        "|---|---|---|---|---|---|",
    ]
    for p in pairs:
        derived = "yes" if p["derived"] else "no"
        declared = "yes" if p["base_model_declared"] else "no"
        rows.append(
            f"| {p['reference']} | {p['suspect']} | {p['relationship']} | {derived} | {declared} "
            f"| {p['suspect_format']} |"
        )
    return "\n".join(rows)


def _manifest(args: argparse.Namespace) -> int:
    from taoke import zoo

    pairs = zoo.manifest(include_calibration=args.calibration)
    print(markdown_table(pairs) if args.markdown else json.dumps(pairs, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    from taoke.zoo.build import DATA

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["calib"]:  # its own sub-commands (build / commit / list): see taoke.zoo.calib
        from taoke.zoo.calib import main as calib_main

        return calib_main(argv[1:])

    parser = argparse.ArgumentParser(prog="python -m taoke.zoo", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="materialize every zoo model into DIR")
    b.add_argument("dir")
    b.add_argument("--retrain", action="store_true", help="retrain the checkpoints from the corpora first")
    b.add_argument("--with-training", action="store_true", help="also build requires_training derivatives")
    b.add_argument("--only", nargs="*", help="model ids to build")
    b.add_argument("--threads", type=int, default=1)
    t = sub.add_parser("train", help="(re)train the committed checkpoints")
    t.add_argument("--out", default=str(DATA))
    t.add_argument("--stage", choices=["bases", "derivatives", "all", "families"], default="all")
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--only", nargs="*")
    m = sub.add_parser("manifest", help="print the labelled pairs as JSON")
    m.add_argument("--calibration", action="store_true")
    m.add_argument("--markdown", action="store_true", help="print a Markdown table instead of JSON")
    args = parser.parse_args(argv)
    return {"build": _build, "train": _train, "manifest": _manifest}[args.cmd](args)


if __name__ == "__main__":
    raise SystemExit(main())
