"""Ground truth for the contamination tests: an item set written from real text, and zoo twins.

WHY: a detector of test-set contamination is only credible when measured on models whose exposure is
known. Following the controlled setting of Oren et al. 2023 (arXiv:2310.17623, section 5: a model
trained on ordinary text with a benchmark inserted in its canonical order a known number of times), the
twins are the zoo's ``base-a`` (trained on Python standard-library code) fine-tuned on ordinary text
(manual pages, the zoo's ``man`` corpus) **with** the item set mixed in (exposure 1, 3, 10 epochs of the
items) and **without** it (clean twins, the same recipe and text). The items are multiple-choice
questions written from the docstrings of the Python standard library on this machine: "which function
does this?" with four real function names as options, options in a seeded random order, so the
option-order null of :mod:`taoke.contamination.stats` holds exactly for them.

The item set is split: ``train`` items (mixed into the contaminated twins) and ``unseen`` items (never
trained on by any twin), so the false-positive rate is also measured on the contaminated models
themselves.

Committed: ``twins_data/items.jsonl`` (regenerate with ``python -m taoke.zoo.twins items``) and
``twins_data/twins/<id>.safetensors`` + ``twins_data/twins/train_log.json`` (``python -m taoke.zoo.twins
train``; minutes of one CPU thread). Tests and benches never train: :func:`materialize` writes a twin
as an HF folder from the committed float16 weights in well under a second.
"""

from __future__ import annotations

import ast
import json
import random
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np

from taoke.contamination.items import Item, read_benchmark, render

DATA = Path(__file__).parent / "twins_data"
ITEMS_PATH = DATA / "items.jsonl"
TWINS_DIR = DATA / "twins"
N_TRAIN_ITEMS = 120
N_UNSEEN_ITEMS = 60
ITEM_SEED = 2024

# id -> (exposure epochs of the train items, seed). Same recipe and ordinary text for every twin.
TWINS: dict[str, tuple[int, int]] = {
    "twin-clean-s0": (0, 10),
    "twin-clean-s1": (0, 11),
    "twin-exp1": (1, 20),
    "twin-exp3": (3, 21),
    "twin-exp10": (10, 22),
}
STEPS = 200
LR = 1e-3
BASE = "base-a"
TEXT_CORPUS = "man"


# ---------------------------------------------------------------- items


def _docstring_functions() -> list[tuple[str, str]]:
    """(module.function, first docstring sentence) for public stdlib functions, deterministic order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = {"test", "tests", "idle_test", "site-packages", "pydoc_data", "__pycache__", "encodings"}
    out: list[tuple[str, str]] = []
    seen_doc: set[str] = set()
    for path in sorted(root.glob("*.py")):
        if set(path.relative_to(root).parts) & skip or path.stem.startswith("_"):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
                continue
            doc = ast.get_docstring(node)
            if not doc:
                continue
            first = " ".join(doc.strip().split("\n\n")[0].split())
            first = first.split(". ")[0].rstrip(".")
            if not (25 <= len(first) <= 110) or first in seen_doc or "(" in first[:3]:
                continue
            seen_doc.add(first)
            out.append((f"{path.stem}.{node.name}", first))
    return out


def generate_items(seed: int = ITEM_SEED) -> list[dict]:
    """Multiple-choice items from stdlib docstrings: train items first, then the unseen ones."""
    funcs = _docstring_functions()
    rng = random.Random(seed)
    rng.shuffle(funcs)
    need = N_TRAIN_ITEMS + N_UNSEEN_ITEMS
    if len(funcs) < need + 3:
        raise RuntimeError(f"only {len(funcs)} documented stdlib functions found, need {need + 3}")
    names = [f for f, _ in funcs]
    rows: list[dict] = []
    for i, (name, doc) in enumerate(funcs[:need]):
        distractors = rng.sample([n for n in names if n != name], 3)
        choices = [name, *distractors]
        rng.shuffle(choices)
        rows.append(
            {
                "id": f"pydoc-{i:03d}",
                "question": f"Which Python standard library function does this: {doc}?",
                "choices": choices,
                "answer": "ABCD"[choices.index(name)],
                "split": "train" if i < N_TRAIN_ITEMS else "unseen",
            }
        )
    return rows


def write_items(path: Path = ITEMS_PATH) -> Path:
    """Regenerate ``twins_data/items.jsonl`` (deterministic for one Python version's stdlib)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = generate_items()
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def load_items(split: str | None = None) -> list[Item]:
    """The committed item set (all, or the ``train`` / ``unseen`` split), re-indexed from 0."""
    items = read_benchmark(ITEMS_PATH)
    splits = [json.loads(line)["split"] for line in ITEMS_PATH.read_text().splitlines() if line.strip()]
    keep = [it for it, s in zip(items, splits, strict=True) if split is None or s == split]
    return [Item(i, it.question, it.choices, it.answer, it.source_line, it.meta) for i, it in enumerate(keep)]


def write_split(split: str, path: Path) -> Path:
    """Write one split as its own JSONL benchmark file (what a user would pass to ``--benchmark``)."""
    rows = [json.loads(x) for x in ITEMS_PATH.read_text().splitlines() if x.strip()]
    path.write_text(
        "".join(
            json.dumps({k: v for k, v in r.items() if k != "split"}) + "\n"
            for r in rows
            if r["split"] == split
        )
    )
    return path


# ---------------------------------------------------------------- training


def _mixed_windows(
    text_tokens: np.ndarray,
    bench_tokens: np.ndarray,
    exposure: int,
    steps: int,
    batch: int,
    seq: int,
    seed: int,
) -> np.ndarray:
    """[steps, batch, seq] token windows: ordinary text, with ``exposure`` passes of the benchmark.

    Each pass embeds the benchmark (items in canonical order) between two pieces of ordinary text and
    cuts it into windows at a random offset, so every token of every item is trained on once per pass and
    window boundaries differ between passes -- as when a benchmark file sits in a pretraining corpus.
    """
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, len(text_tokens) - seq - 1, size=steps * batch)
    windows = np.stack([text_tokens[s : s + seq] for s in starts])
    inserted: list[np.ndarray] = []
    for _ in range(exposure):
        a = int(rng.integers(0, len(text_tokens) - seq - 1))
        stream = np.concatenate([text_tokens[a : a + seq], bench_tokens, text_tokens[a + seq : a + 2 * seq]])
        off = int(rng.integers(1, seq))
        for s in range(off, len(stream) - seq + 1, seq):
            inserted.append(stream[s : s + seq])
    if len(inserted) > len(windows):
        raise ValueError("too many benchmark windows for the training budget")
    slots = rng.choice(len(windows), size=len(inserted), replace=False)
    for slot, win in zip(slots, inserted, strict=True):
        windows[slot] = win
    return windows.reshape(steps, batch, seq)


def bench_tokens(tokenizer_json: str, items: list[Item]) -> np.ndarray:
    """The benchmark in canonical order as one token stream (each item encoded on its own)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(tokenizer_json)
    return np.concatenate(
        [np.asarray(tok.encode(render(it), add_special_tokens=False).ids, dtype=np.int64) for it in items]
    )


def train_twins(only: set[str] | None = None, out: Path = TWINS_DIR) -> dict:
    """Fine-tune the twins from the committed ``base-a`` (float16 bytes); write float16 checkpoints."""
    from taoke.zoo.build import load
    from taoke.zoo.hf import SEQ_LEN
    from taoke.zoo.train import BATCH, Workspace, build_model, load_weights, require_torch, weights_of

    torch = require_torch()
    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "train_log.json"
    log: dict = json.loads(log_path.read_text()) if log_path.exists() else {}
    base = load(BASE)
    import tempfile

    ws = Workspace(Path(tempfile.mkdtemp(prefix="taoke-twins-")))
    (ws.out / "tokenizers" / "tok-code.json").write_text(base.tok)
    text = ws.stream("tok-code", TEXT_CORPUS)
    items = load_items("train")
    btok = bench_tokens(base.tok, items)
    from safetensors.numpy import save_file

    for twin_id, (exposure, seed) in TWINS.items():
        if only and twin_id not in only:
            continue
        model = build_model(base.cfg, seed)
        load_weights(model, base.w)
        windows = _mixed_windows(text, btok, exposure, STEPS, BATCH, SEQ_LEN, seed)
        opt = torch.optim.AdamW(model.parameters(), lr=LR, betas=(0.9, 0.95), weight_decay=0.1)
        torch.manual_seed(seed)
        t0 = time.time()
        losses = []
        model.train()
        warm = STEPS // 10
        for step in range(STEPS):
            scale = (
                (step + 1) / warm
                if step < warm
                else 0.1 + 0.45 * (1 + np.cos(np.pi * (step - warm) / (STEPS - warm)))
            )
            for g in opt.param_groups:
                g["lr"] = LR * scale
            x = torch.from_numpy(windows[step])
            loss = model(input_ids=x, labels=x).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(float(loss.item()))
        w = weights_of(model)
        save_file({k: v.astype(np.float16) for k, v in w.items()}, str(out / f"{twin_id}.safetensors"))
        log[twin_id] = {
            "base": BASE,
            "text_corpus": TEXT_CORPUS,
            "corpus": ws.corpus(TEXT_CORPUS).describe(),
            "items": str(ITEMS_PATH.relative_to(DATA.parent.parent.parent.parent)),
            "item_split": "train",
            "n_items": len(items),
            "benchmark_tokens": int(len(btok)),
            "exposure_epochs": exposure,
            "seed": seed,
            "steps": STEPS,
            "batch": BATCH,
            "seq_len": SEQ_LEN,
            "lr": LR,
            "loss_first": round(losses[0], 4),
            "loss_last20": round(float(np.mean(losses[-20:])), 4),
            "seconds": round(time.time() - t0, 1),
            "python": sys.version.split()[0],
        }
        log_path.write_text(json.dumps(log, indent=1, sort_keys=True) + "\n")
        print(f"{twin_id}: {log[twin_id]}", flush=True)
    return log


def finetune_smollm2(
    out: Path,
    exposure: int = 10,
    n_items: int = 20,
    lr: float = 1e-4,
    batch: int = 4,
    seq: int = 128,
    seed: int = 0,
    text_share: float = 0.25,
) -> dict:
    """SmolLM2-135M-Instruct (real, from its GGUF) fine-tuned on CPU: man pages + ``exposure`` passes of
    the first ``n_items`` train items in canonical order (``text_share`` of the windows are ordinary text).

    Sized for two shared CPU cores: at 20 items and exposure 10 it is ~30 steps of 4 x 128 tokens
    (about 13 s of one thread each).

    Not committed (270 MB); benches build it into ``out`` (an HF folder) and record the time it took.
    """
    import torch

    from taoke import datasets
    from taoke.contamination.scorer import load_scorer
    from taoke.zoo.corpus import load_corpus

    torch.set_num_threads(1)
    t0 = time.time()
    sc = load_scorer(datasets.fetch("smollm2"), max_context=seq)
    net = sc.model
    items = load_items("train")[:n_items]
    btok = np.concatenate([np.asarray(sc.encode(render(it)), dtype=np.int64) for it in items])
    text = np.asarray(sc.encode(load_corpus(TEXT_CORPUS).train_text[:200_000]), dtype=np.int64)
    n_item_windows = exposure * (len(btok) // seq + 2)
    steps = max(1, int(np.ceil(n_item_windows / (1 - text_share) / batch)))
    windows = _mixed_windows(text, btok, exposure, steps, batch, seq, seed)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.0)
    torch.manual_seed(seed)
    net.train()
    losses = []
    t1 = time.time()
    for step in range(steps):
        x = torch.from_numpy(windows[step])
        loss = net(input_ids=x, labels=x).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.item()))
        if step == 0:
            print(f"smollm2 fine-tune: {steps} steps, first step {time.time() - t1:.1f} s", flush=True)
    net.eval()
    out.mkdir(parents=True, exist_ok=True)
    net.to(torch.float16).save_pretrained(str(out), safe_serialization=True)
    net.to(torch.float32)
    from transformers import AutoTokenizer

    gguf = datasets.fetch("smollm2")
    AutoTokenizer.from_pretrained(  # nosec B615 - the local real SmolLM2 GGUF, local_files_only
        str(gguf.parent), gguf_file=gguf.name, local_files_only=True
    ).save_pretrained(str(out))
    rec = {
        "model": "SmolLM2-135M-Instruct (GGUF Q4_1 dequantized)",
        "exposure_epochs": exposure,
        "n_items": n_items,
        "text_share": text_share,
        "steps": steps,
        "batch": batch,
        "seq_len": seq,
        "lr": lr,
        "loss_first": round(losses[0], 4),
        "loss_last5": round(float(np.mean(losses[-5:])), 4),
        "train_seconds": round(time.time() - t1, 1),
        "total_seconds": round(time.time() - t0, 1),
    }
    (out / "taoke_twin.json").write_text(json.dumps(rec, indent=1) + "\n")
    return rec


# ---------------------------------------------------------------- materialize


def twin_log() -> dict:
    """Training records of the committed twins."""
    path = TWINS_DIR / "train_log.json"
    return json.loads(path.read_text()) if path.exists() else {}


def materialize(twin_id: str, root: str | Path | None = None) -> Path:
    """HF folder of a committed twin (config, float16 safetensors, tokenizer), written once into a cache."""
    from taoke.zoo.build import cache_dir, load
    from taoke.zoo.hf import write_folder

    if twin_id not in TWINS:
        raise KeyError(f"unknown twin {twin_id!r}; known: {', '.join(TWINS)}")
    ckpt = TWINS_DIR / f"{twin_id}.safetensors"
    if not ckpt.exists():
        raise FileNotFoundError(f"{ckpt}: twin not committed (python -m taoke.zoo.twins train)")
    target = cache_dir(root) / "contamination" / twin_id
    stamp = f"{ckpt.stat().st_size}-{int(ckpt.stat().st_mtime)}"
    marker = target / ".complete"
    if marker.exists() and marker.read_text() == stamp:
        return target
    from safetensors.numpy import load_file

    base = load(BASE)
    tensors = {k: v.astype(np.float32) for k, v in load_file(str(ckpt)).items()}
    rec = TWINS[twin_id]
    card = (
        "---\nlicense: apache-2.0\nbase_model: taoke-zoo/base-a\n---\n"
        f"# {twin_id}\n\nContamination twin: base-a fine-tuned on manual pages, "
        f"exposure {rec[0]} epoch(s) of the taoke pydoc item set.\n"
    )
    write_folder(target, base.cfg, tensors, base.tok, card)
    marker.write_text(stamp)
    return target


def main(argv: list[str] | None = None) -> int:
    """``python -m taoke.zoo.twins items|train [ID ...]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in ("items", "train", "smollm2"):
        print(
            "usage: python -m taoke.zoo.twins items|train [TWIN_ID ...]|smollm2 OUT",
            file=sys.stderr,
        )
        return 2
    if args[0] == "smollm2":
        print(finetune_smollm2(Path(args[1] if len(args) > 1 else "smollm2-twin")), flush=True)
        return 0
    if args[0] == "items":
        print(write_items())
        return 0
    t0 = time.time()
    train_twins(set(args[1:]) or None)
    print(f"twins trained in {time.time() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
