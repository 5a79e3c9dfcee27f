"""Training of the zoo's checkpoints (bases, calibration set, and derivatives that need training).

Needs the torch extra; imported lazily so that the rest of the zoo (and of taoke) runs without torch.
Models are transformers' ``LlamaForCausalLM`` so that tensor names, RoPE layout and config semantics are
exactly those of real LLaMA-family releases. Everything is seeded; on one CPU thread results repeat.

Checkpoints are written as float16 safetensors with Hugging Face names to
``<out>/checkpoints/<id>.safetensors`` and described in ``<out>/train_log.json`` (shape, tokenizer,
corpus, steps, learning rate, seed, parent, initial/final training loss, held-out loss before/after,
seconds). Derivatives start from the float16-rounded parent, i.e. from exactly the committed bytes, so
their lineage to the committed parent is exact.
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from taoke.zoo.corpus import Corpus, load_corpus
from taoke.zoo.hf import SEQ_LEN, llama_config

VOCAB = 2048
BATCH = 16


def require_torch():
    """Import torch or stop with one clear line (torch is an optional extra of taoke)."""
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError:
        raise SystemExit("taoke.zoo: training needs the torch extra: pip install 'taoke[torch]'") from None
    return torch


# Bases: (id, shape, corpus, tokenizer, seed, steps, peak lr). Calibration bases share one shape.
BASES: list[tuple[str, str, str, str, int, int, float]] = (
    [
        ("base-a", "small", "code", "tok-code", 0, 600, 3e-3),
        ("base-a2", "small", "code", "tok-code", 1, 600, 3e-3),
        ("base-b", "small", "man", "tok-man", 2, 600, 3e-3),
    ]
    + [(f"calib-{i:02d}", "small", "code", "tok-code", 100 + i, 150, 3e-3) for i in range(10)]
    + [
        ("base-c", "large", "code", "tok-code", 3, 300, 2e-3),
    ]
)


TOKENIZER_ORIGIN = {
    "tok-code": {"trained_on": "code", "kind": "byte-level BPE"},
    "tok-man": {"trained_on": "man", "kind": "byte-level BPE"},
    "tok-code-ext": {
        "base": "tok-code",
        "donor": "tok-man",
        "kind": "tok-code + 256 merges appended from tok-man",
    },
}


class Workspace:
    """Where checkpoints, tokenizers and the training log are written, plus cached corpora/token streams."""

    def __init__(self, out: Path):
        self.out = out
        (out / "checkpoints").mkdir(parents=True, exist_ok=True)
        (out / "tokenizers").mkdir(parents=True, exist_ok=True)
        self.log_path = out / "train_log.json"
        self.log: dict = json.loads(self.log_path.read_text()) if self.log_path.exists() else {}
        self._corpora: dict[str, Corpus] = {}
        self._streams: dict[tuple[str, str, str], np.ndarray] = {}

    def corpus(self, name: str) -> Corpus:
        if name not in self._corpora:
            self._corpora[name] = load_corpus(name)
        return self._corpora[name]

    def tokenizer_json(self, tok_id: str) -> str:
        path = self.out / "tokenizers" / f"{tok_id}.json"
        if not path.exists():
            from taoke.zoo.tok import extend_tokenizer, train_tokenizer

            if tok_id == "tok-code-ext":
                text, _ = extend_tokenizer(
                    self.tokenizer_json("tok-code"), self.tokenizer_json("tok-man"), 256
                )
                path.write_text(text)
            else:
                corpus = self.corpus(tok_id.split("-", 1)[1])
                tok = train_tokenizer(corpus.train_text.split("\n\n"), VOCAB)
                path.write_text(tok.to_str())
        return path.read_text()

    def stream(self, tok_id: str, corpus: str, split: str = "train") -> np.ndarray:
        key = (tok_id, corpus, split)
        if key not in self._streams:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_str(self.tokenizer_json(tok_id))
            c = self.corpus(corpus)
            text = c.train_text if split == "train" else c.held_out_text
            chunks = [text[i : i + 65536] for i in range(0, len(text), 65536)]
            ids = [np.asarray(e.ids, dtype=np.int64) for e in tok.encode_batch(chunks)]
            self._streams[key] = np.concatenate(ids)
        return self._streams[key]

    def save(self, model_id: str, tensors: dict[str, np.ndarray], info: dict) -> None:
        # man/doc text depends on the installed Debian packages: record the digest of what this model saw.
        names = str(info.get("corpus", "")).split("+")
        info = {
            **info,
            "corpus_sha256_16": {
                n: self._corpora[n].describe()["sha256_16"] for n in names if n in self._corpora
            },
        }
        save_file(
            {k: np.ascontiguousarray(v.astype(np.float16)) for k, v in tensors.items()},
            str(self.out / "checkpoints" / f"{model_id}.safetensors"),
        )
        import fcntl

        # Bases and derivatives may train in two processes: merge into the log on disk under a lock.
        key = hashlib.sha1(str(self.out.resolve()).encode(), usedforsecurity=False).hexdigest()[:12]
        lock_path = Path(tempfile.gettempdir()) / f"taoke-zoo-{key}.lock"
        with lock_path.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            disk = json.loads(self.log_path.read_text()) if self.log_path.exists() else {}
            corpora = {n: c.describe() for n, c in self._corpora.items()}
            tokenizers = {}
            for path in sorted((self.out / "tokenizers").glob("*.json")):
                vocab = json.loads(path.read_text())["model"]["vocab"]
                tokenizers[path.stem] = {"vocab_size": len(vocab), **TOKENIZER_ORIGIN.get(path.stem, {})}
            disk.update({k: v for k, v in self.log.items() if not k.startswith("_")})
            disk[model_id] = info
            disk["_corpora"] = disk.get("_corpora", {}) | corpora
            disk["_tokenizers"] = disk.get("_tokenizers", {}) | tokenizers
            self.log_path.write_text(json.dumps(disk, indent=1, sort_keys=True) + "\n")
            self.log = disk

    def load(self, model_id: str) -> dict[str, np.ndarray]:
        return {
            k: v.astype(np.float32)
            for k, v in load_file(str(self.out / "checkpoints" / f"{model_id}.safetensors")).items()
        }

    def has(self, model_id: str) -> bool:
        return model_id in self.log and (self.out / "checkpoints" / f"{model_id}.safetensors").exists()


def build_model(config: dict, seed: int):
    """A freshly initialised LlamaForCausalLM (float32) from a zoo config dict."""
    torch = require_torch()
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = {k: v for k, v in config.items() if k not in ("architectures", "model_type", "torch_dtype")}
    model = LlamaForCausalLM(LlamaConfig(**cfg))
    return model.float()


def load_weights(model, tensors: dict[str, np.ndarray]) -> None:
    torch = require_torch()
    state = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in tensors.items()}
    model.load_state_dict(state, strict=True)


def weights_of(model) -> dict[str, np.ndarray]:
    """float16-rounded float32 copies of a model's weights (what gets committed)."""
    return {
        k: v.detach().float().numpy().astype(np.float16).astype(np.float32)
        for k, v in model.state_dict().items()
    }


def stored_weights(model) -> dict[str, np.ndarray]:
    """float16-rounded weights as a release stores them: a tied output head is not stored twice."""
    out: dict[str, np.ndarray] = {}
    seen: set[int] = set()
    for k, v in model.state_dict().items():
        ptr = v.data_ptr()
        if ptr in seen or k.endswith((".rotary_emb.inv_freq", "position_ids", ".masked_bias")):
            continue
        seen.add(ptr)
        out[k] = v.detach().float().numpy().astype(np.float16).astype(np.float32)
    return out


def _batch(tokens: np.ndarray, rng: np.random.Generator, batch: int):
    torch = require_torch()
    starts = rng.integers(0, len(tokens) - SEQ_LEN - 1, size=batch)
    return torch.from_numpy(np.stack([tokens[s : s + SEQ_LEN] for s in starts]))


def held_out_loss(model, tokens: np.ndarray, n: int = 16) -> float:
    """Mean loss on fixed, evenly spaced held-out windows."""
    torch = require_torch()
    starts = np.linspace(0, len(tokens) - SEQ_LEN - 1, n).astype(int)
    x = torch.from_numpy(np.stack([tokens[s : s + SEQ_LEN] for s in starts]))
    model.eval()
    with torch.no_grad():
        loss = model(input_ids=x, labels=x).loss.item()
    model.train()
    return float(loss)


def train_loop(
    model,
    tokens: np.ndarray,
    steps: int,
    lr: float,
    seed: int,
    params=None,
    val_tokens: np.ndarray | None = None,
    weight_decay: float = 0.1,
) -> dict:
    """AdamW with linear warm-up and cosine decay to 10%; returns the loss record for the manifest."""
    torch = require_torch()
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    params = [p for p in (params if params is not None else model.parameters()) if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), weight_decay=weight_decay)
    warmup = max(1, min(50, steps // 10))
    val_before = held_out_loss(model, val_tokens) if val_tokens is not None else None
    losses: list[float] = []
    t0 = time.time()
    model.train()
    for step in range(steps):
        scale = (
            (step + 1) / warmup
            if step < warmup
            else 0.1 + 0.45 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))
        )
        for group in opt.param_groups:
            group["lr"] = lr * scale
        x = _batch(tokens, rng, BATCH)
        loss = model(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.item()))
    record = {
        "steps": steps,
        "lr": lr,
        "batch": BATCH,
        "seq_len": SEQ_LEN,
        "seed": seed,
        "loss_initial": round(losses[0], 4),
        "loss_final": round(float(np.mean(losses[-20:])), 4),
        "seconds": round(time.time() - t0, 1),
    }
    if val_tokens is not None:
        record["held_out_loss_before"] = round(val_before, 4)
        record["held_out_loss_after"] = round(held_out_loss(model, val_tokens), 4)
    return record


def train_bases(ws: Workspace, only: set[str] | None = None) -> None:
    """Train every base (and calibration base) that is missing from the workspace."""
    for model_id, shape, corpus, tok_id, seed, steps, lr in BASES:
        if ws.has(model_id) or (only and model_id not in only):
            continue
        config = llama_config(shape, VOCAB)
        model = build_model(config, seed)
        rec = train_loop(
            model,
            ws.stream(tok_id, corpus),
            steps,
            lr,
            seed,
            val_tokens=ws.stream(tok_id, corpus, "held_out"),
        )
        info = {
            "kind": "base",
            "shape": shape,
            "config": config,
            "tokenizer": tok_id,
            "corpus": corpus,
            "training": rec,
            "calibration": model_id.startswith("calib-"),
        }
        ws.save(model_id, weights_of(model), info)
        print(f"{model_id}: {rec}", flush=True)
