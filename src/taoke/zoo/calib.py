"""Calibration sets at other widths: independent models of one config, kept only as fingerprints.

WHY: the weight-lineage nulls were fitted on the zoo's d = 64 calibration bases, and a false positive
turned up at d = 256 (issue 15.1): independent models of the same config, tokenizer and data *order*
came out "partial, derived" from the raw-basis statistic S2. A null that holds at one width says nothing
about another, so the false-positive rate has to be measured per width, on models built the way the
zoo's are (:mod:`taoke.zoo.train`: same corpus, same tokenizer, same trainer), differing only in seed.

Two variants per width:

- default: the seed sets both the initialisation and the data order (``calib-w{W}-{i}``);
- ``--same-order``: one fixed data-order seed for all, so only the initialisation differs
  (``calib-w{W}-so-{i}``) -- the case that failed.

``--tied`` ties the input and output embeddings (``calib-w{W}-tied-...``, other init seeds): the tied S1
null was fitted on d = 64 twins only (issue 15.5), so its false-positive rate is measured at other widths
on these, in a row of their own.

Only what ``taoke compare`` needs is stored: each model's fingerprint (:meth:`Fingerprint.save`), never a
checkpoint, under ``TAOKE_CALIB_DIR`` (default ``calib`` in taoke's cache home, :mod:`taoke.paths`), next
to ``calib_log.json`` (config, seeds, steps, losses, seconds per model). ``--commit`` also copies the
fingerprints (compacted; ``--width`` to choose) into ``src/taoke/zoo/data/calib`` (the small committed
set the tests read: d = 256, 16 models).

    python -m taoke.zoo calib build --width 256 --count 10 --same-order [--steps 120] [--threads 1]
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import replace
from itertools import combinations
from pathlib import Path

import numpy as np

from taoke.paths import cache_dir
from taoke.weights.fingerprint import Fingerprint

#: Training length of a calibration model. Short on purpose ("lightly trained on CPU", as in the
#: failure report): a d = 256 model trains in about a minute on one thread at this length, so a set of
#: ten per width is minutes, not hours. Overridable with ``--steps``; the log records what was used.
STEPS = 120
LR = 3e-3
LAYERS = 4
#: The data-order seed shared by every ``--same-order`` model (its init seeds differ).
SAME_ORDER_SEED = 7
#: Init seeds start here so that no calibration model shares a seed with a zoo base (0..3, 100..109).
SEED0 = 1000
#: Own-order models take init seeds from here on, so that none shares an initialisation with a
#: same-order model of its index (the first d = 256 own-order models did: they share an ancestor with
#: their same-order namesake and are kept out of the FPR, see :mod:`taoke.zoo.widthfpr`).
OWN_ORDER_OFFSET = 500
#: Tied-embedding models take init seeds from here on (no tied model shares an init with an untied one).
TIED_OFFSET = 2000

COMMITTED = Path(__file__).resolve().parent / "data" / "calib"


def calib_dir() -> Path:
    """``TAOKE_CALIB_DIR``, else ``calib`` in taoke's cache home."""
    return cache_dir("calib", "TAOKE_CALIB_DIR")


def shape(width: int) -> dict[str, int]:
    """The calibration config at ``width``: the zoo's small shape (4 layers, 4 query heads over 2 key/value
    heads, SwiGLU width 3 d) with d_model = ``width``."""
    return {
        "hidden_size": width,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "intermediate_size": 3 * width,
    }


def model_id(width: int, index: int, same_order: bool, tied: bool = False) -> str:
    return f"calib-w{width}-{'tied-' if tied else ''}{'so-' if same_order else ''}{index:02d}"


def is_tied(model: str) -> bool:
    """Whether a calibration model id names a tied-embedding model."""
    return "-tied-" in model


def build(
    width: int,
    count: int,
    same_order: bool,
    out: Path | None = None,
    steps: int = STEPS,
    threads: int = 1,
    start: int = 0,
    tied: bool = False,
) -> list[Path]:
    """Train ``count`` independent models at ``width`` and write their fingerprints to ``out``.

    Models already present are skipped, so an interrupted build resumes. Returns the fingerprint paths.
    """
    from taoke.weights.fingerprint import fingerprint
    from taoke.zoo.hf import llama_config, model_card, write_folder
    from taoke.zoo.train import (
        VOCAB,
        Workspace,
        build_model,
        require_torch,
        stored_weights,
        train_loop,
        weights_of,
    )

    torch = require_torch()
    torch.set_num_threads(threads)
    out = (out or calib_dir()).expanduser()
    folder = out / f"w{width}"
    folder.mkdir(parents=True, exist_ok=True)
    log_path = out / "calib_log.json"
    log: dict = json.loads(log_path.read_text()) if log_path.exists() else {}
    # The committed tokenizers (corpora are read from this machine as the zoo's are). The zoo's data
    # folder is named here, not imported from zoo.build: build imports the family trainer, which
    # imports this module (a cycle).
    ws = Workspace(Path(__file__).resolve().parent / "data")
    tok_json = ws.tokenizer_json("tok-code")
    tokens, val = ws.stream("tok-code", "code"), ws.stream("tok-code", "code", "held_out")
    config = llama_config("small", VOCAB, **shape(width))
    if tied:
        config["tie_word_embeddings"] = True
    paths = []
    for i in range(start, start + count):
        mid = model_id(width, i, same_order, tied)
        target = folder / f"{mid}.taoke.npz"
        paths.append(target)
        if target.exists() and mid in log:
            continue
        init_seed = SEED0 + width + i + (0 if same_order else OWN_ORDER_OFFSET) + (TIED_OFFSET if tied else 0)
        data_seed = SAME_ORDER_SEED if same_order else init_seed
        t0 = time.time()
        model = build_model(config, init_seed)
        rec = train_loop(model, tokens, steps, LR, data_seed, val_tokens=val)
        with tempfile.TemporaryDirectory() as tmp:
            card = model_card(mid, f"Calibration model {mid} (independent, d={width}).")
            # a tied head is stored once, as a tied release stores it
            w = stored_weights(model) if tied else weights_of(model)
            hf = write_folder(Path(tmp) / mid, config, w, tok_json, card)
            fp = fingerprint(hf)
        fp.name = mid
        fp.save(target)
        # two builds (two widths) may share one folder: merge into the log as it is on disk now
        log = json.loads(log_path.read_text()) if log_path.exists() else {}
        log[mid] = {
            "width": width,
            "config": config,
            "tokenizer": "tok-code",
            "corpus": "code",
            "init_seed": init_seed,
            "data_order_seed": data_seed,
            "same_order": same_order,
            "tied": tied,
            "training": rec,
            "seconds_total": round(time.time() - t0, 1),
            "threads": threads,
        }
        log_path.write_text(json.dumps(log, indent=1, sort_keys=True) + "\n")
        print(f"{mid}: loss {rec['loss_initial']} -> {rec['loss_final']}, {rec['seconds']} s", flush=True)
    return paths


def fingerprints(root: Path | None = None) -> dict[int, dict[str, Path]]:
    """Calibration fingerprints found under ``root`` (default: ``TAOKE_CALIB_DIR``), by width then id."""
    root = (root or calib_dir()).expanduser()
    found: dict[int, dict[str, Path]] = {}
    for path in sorted(root.glob("w*/calib-w*.taoke.npz")):
        width = int(path.parent.name[1:])
        found.setdefault(width, {})[path.name.removesuffix(".taoke.npz")] = path
    return found


def pairs(ids: list[str]) -> list[tuple[str, str]]:
    """Every unordered pair of independent models (one direction: the statistics are symmetric enough
    that both would double-count one draw)."""
    return list(combinations(sorted(ids), 2))


def compact(fp: Fingerprint) -> Fingerprint:
    """``fp`` with only what the lineage test reads (anchor keys, the three invariant sets, layers,
    shape metadata): no embedding rows, neuron loadings, raw or quantization samples. A d = 256 file
    shrinks from about 1 MB to about 0.1 MB, small enough to commit a calibration set; ``taoke compare``
    on two compact fingerprints gives the same lineage p-value (its explainers have less to say)."""
    return replace(
        fp,
        embed=np.zeros((0, fp.d_model), dtype=np.float32),
        neurons=None,
        raw={},
        rms={},
        quant={},
    )


def commit_copy(
    root: Path | None = None,
    dest: Path = COMMITTED,
    same_order_only: bool = False,
    widths: list[int] | None = None,
) -> list[Path]:
    """Write compact copies (:func:`compact`) of the fingerprints, and their training log, into the
    package data (the committed set). ``same_order_only``: only the ``--same-order`` sets; ``widths``: only
    these widths (the committed set is d = 256, all 16 models: 2.2 MB, under the 3 MB budget)."""
    from taoke.weights import load_fingerprint

    root = (root or calib_dir()).expanduser()
    copied = []
    for width, models in fingerprints(root).items():
        if widths and width not in widths:
            continue
        (dest / f"w{width}").mkdir(parents=True, exist_ok=True)
        for mid, path in models.items():
            if same_order_only and "-so-" not in mid:
                continue
            copied.append(compact(load_fingerprint(path)).save(dest / f"w{width}" / path.name))
    if (root / "calib_log.json").exists():  # the training record of the models copied, no others
        log = json.loads((root / "calib_log.json").read_text())
        kept = {p.name.removesuffix(".taoke.npz") for p in copied}
        # the committed log keeps the records of the models already committed (other widths, other
        # builds) as long as their fingerprints are still there
        dest_log = dest / "calib_log.json"
        out_log = json.loads(dest_log.read_text()) if dest_log.exists() else {}
        present = {p.name.removesuffix(".taoke.npz") for p in dest.glob("w*/calib-w*.taoke.npz")}
        out_log = {k: v for k, v in out_log.items() if k in present}
        out_log.update({k: v for k, v in log.items() if k in kept})
        text = json.dumps(out_log, indent=1, sort_keys=True) + "\n"
        dest_log.write_text(text)
    return copied


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m taoke.zoo calib", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="train a calibration set at one width and store its fingerprints")
    b.add_argument("--width", type=int, required=True)
    b.add_argument("--count", type=int, default=10)
    b.add_argument("--start", type=int, default=0, help="first model index (to extend a set)")
    b.add_argument("--same-order", action="store_true", help="one data-order seed for all; only init differs")
    b.add_argument("--steps", type=int, default=STEPS)
    b.add_argument("--threads", type=int, default=1)
    b.add_argument("--tied", action="store_true", help="tie the input and output embeddings")
    b.add_argument("--out", help="default: TAOKE_CALIB_DIR or <taoke home>/calib")
    c = sub.add_parser("commit", help="copy compact fingerprints into src/taoke/zoo/data/calib")
    c.add_argument("--out", help="where they were built (default as for build)")
    c.add_argument("--same-order-only", action="store_true", help="only the --same-order sets")
    c.add_argument("--width", type=int, action="append", help="only these widths (repeatable)")
    sub.add_parser("list", help="list the calibration fingerprints found")
    args = parser.parse_args(argv)
    root = Path(args.out) if getattr(args, "out", None) else None
    if args.cmd == "build":
        build(args.width, args.count, args.same_order, root, args.steps, args.threads, args.start, args.tied)
    elif args.cmd == "commit":
        copied = commit_copy(root, same_order_only=args.same_order_only, widths=args.width)
        print(f"copied {len(copied)} fingerprints to {COMMITTED}")
    else:
        for width, models in sorted(fingerprints(root).items()):
            print(f"d={width}: {len(models)} models, {len(pairs(list(models)))} pairs")
    return 0
