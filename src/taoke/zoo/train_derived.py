"""Derivatives of base A that need training: fine-tunes, LoRA, continued pretraining, healed surgery.

Each starts from the committed (float16) parent weights, applies its numpy surgery from
:mod:`taoke.zoo.transforms` where there is one, trains, and is saved with the record of what was done,
so the manifest's ground truth (which layers were kept, duplicated or transplanted; which tokens were
added) is exact.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from taoke.weights.relationship import Relationship as R
from taoke.zoo import transforms as T
from taoke.zoo.train import (
    Workspace,
    build_model,
    load_weights,
    require_torch,
    train_bases,
    train_loop,
    weights_of,
)

PRUNE_LAYERS = [0, 1, 3]
PRUNE_WIDTH = 128
UPSCALE_MAP = [0, 1, 2, 1, 2, 3]
PARTIAL_LAYERS = [0, 1]
# Width pruning (Minitron / Sheared-LLaMA style): (residual width, key/value groups, SwiGLU width).
WIDTH_PRUNE = {"a-wpruned": ("base-a", (48, 1, 128), 20), "c-wpruned": ("base-c", (96, 1, 256), 21)}


def _lora_wrap(model, rank: int, alpha: float):
    """Attach LoRA adapters to every linear layer in the blocks; return (adapters, merge function)."""
    torch = require_torch()
    nn = torch.nn

    class LoRALinear(nn.Module):
        def __init__(self, base: nn.Linear):
            super().__init__()
            self.base = base
            self.a = nn.Parameter(torch.randn(rank, base.in_features) / base.in_features**0.5)
            self.b = nn.Parameter(torch.zeros(base.out_features, rank))
            self.scale = alpha / rank

        def forward(self, x):
            return self.base(x) + (x @ self.a.T @ self.b.T) * self.scale

    wrapped = []
    for layer in model.model.layers:
        for parent in (layer.self_attn, layer.mlp):
            for name, child in list(parent.named_children()):
                if isinstance(child, nn.Linear):
                    lora = LoRALinear(child)
                    setattr(parent, name, lora)
                    wrapped.append((parent, name, lora))
    for p in model.parameters():
        p.requires_grad_(False)
    params = []
    for _, _, lora in wrapped:
        lora.a.requires_grad_(True)
        lora.b.requires_grad_(True)
        params += [lora.a, lora.b]

    def merge() -> None:
        with torch.no_grad():
            for parent, name, lora in wrapped:
                lora.base.weight += (lora.b @ lora.a) * lora.scale
                setattr(parent, name, lora.base)

    return params, merge


def _from(ws: Workspace, parent: str) -> tuple[dict, dict]:
    return ws.load(parent), dict(ws.log[parent]["config"])


def train_derivatives(ws: Workspace, only: set[str] | None = None) -> None:
    """Train every derivative that is missing from the workspace."""
    code = ws.stream("tok-code", "code")
    code_val = ws.stream("tok-code", "code", "held_out")
    man = ws.stream("tok-code", "man")
    man_val = ws.stream("tok-code", "man", "held_out")
    doc = ws.stream("tok-code", "doc")
    doc_val = ws.stream("tok-code", "doc", "held_out")

    def want(model_id: str) -> bool:
        return not ws.has(model_id) and (not only or model_id in only)

    def finish(model_id: str, model, cfg: dict, rec: dict, **info) -> None:
        ws.save(
            model_id,
            weights_of(model),
            {"kind": "derived", "config": cfg, "tokenizer": "tok-code", "training": rec, **info},
        )
        print(f"{model_id}: {rec}", flush=True)

    def plain(model_id: str, corpus: str, stream, val, steps: int, lr: float, seed: int, relationship: R):
        if not want(model_id):
            return
        w, cfg = _from(ws, "base-a")
        model = build_model(cfg, seed)
        load_weights(model, w)
        rec = train_loop(model, stream, steps, lr, seed, val_tokens=val, weight_decay=0.0)
        finish(model_id, model, cfg, rec, parent="base-a", corpus=corpus, relationship=relationship)

    plain("a-ft-man", "man", man, man_val, 150, 3e-4, 11, R.FINE_TUNED)
    plain("a-ft-doc", "doc", doc, doc_val, 150, 3e-4, 12, R.FINE_TUNED)
    plain("a-cpt-man", "man", man, man_val, 800, 2e-3, 13, R.CONTINUED_PRETRAINING)

    if want("a-lora-man"):
        w, cfg = _from(ws, "base-a")
        model = build_model(cfg, 14)
        load_weights(model, w)
        params, merge = _lora_wrap(model, rank=8, alpha=16.0)
        rec = train_loop(model, man, 200, 2e-3, 14, params=params, val_tokens=man_val, weight_decay=0.0)
        merge()
        rec["lora"] = {
            "rank": 8,
            "alpha": 16.0,
            "targets": "q,k,v,o,gate,up,down of every block",
            "merged": True,
        }
        finish("a-lora-man", model, cfg, rec, parent="base-a", corpus="man", relationship=R.FINE_TUNED)

    if want("a-pruned"):
        w, cfg = _from(ws, "base-a")
        w, cfg = T.select_layers(w, cfg, PRUNE_LAYERS)
        w, cfg, kept = T.prune_ffn(w, cfg, PRUNE_WIDTH)
        model = build_model(cfg, 15)
        load_weights(model, w)
        rec = train_loop(model, code, 200, 5e-4, 15, val_tokens=code_val, weight_decay=0.0)
        finish(
            "a-pruned",
            model,
            cfg,
            rec,
            parent="base-a",
            corpus="code",
            relationship=R.PRUNED,
            layer_map=PRUNE_LAYERS,
            ffn_kept=kept,
        )

    if want("a-upscaled"):
        w, cfg = _from(ws, "base-a")
        w, cfg = T.select_layers(w, cfg, UPSCALE_MAP)
        model = build_model(cfg, 16)
        load_weights(model, w)
        rec = train_loop(model, code, 200, 3e-4, 16, val_tokens=code_val, weight_decay=0.0)
        finish(
            "a-upscaled",
            model,
            cfg,
            rec,
            parent="base-a",
            corpus="code",
            relationship=R.DEPTH_UPSCALED,
            layer_map=UPSCALE_MAP,
        )

    if want("a-vocabext"):
        w, cfg = _from(ws, "base-a")
        old_json, new_json = ws.tokenizer_json("tok-code"), ws.tokenizer_json("tok-code-ext")
        w, cfg, added = T.extend_vocab(w, cfg, old_json, new_json)
        model = build_model(cfg, 17)
        load_weights(model, w)
        mix = np.concatenate([ws.stream("tok-code-ext", "code"), ws.stream("tok-code-ext", "man")])
        rec = train_loop(
            model,
            mix,
            200,
            5e-4,
            17,
            val_tokens=ws.stream("tok-code-ext", "man", "held_out"),
            weight_decay=0.0,
        )
        ws.save(
            "a-vocabext",
            weights_of(model),
            {
                "kind": "derived",
                "config": cfg,
                "tokenizer": "tok-code-ext",
                "training": rec,
                "parent": "base-a",
                "corpus": "code+man",
                "relationship": R.VOCAB_EXTENDED,
                "added_tokens": len(added),
                "old_vocab_size": int(w[T.EMBED].shape[0] - len(added)),
            },
        )
        print(f"a-vocabext: {rec}", flush=True)

    if want("a2-partial-a"):
        w2, cfg = _from(ws, "base-a2")
        wa, _ = _from(ws, "base-a")
        w = T.transplant(w2, wa, PARTIAL_LAYERS)
        model = build_model(cfg, 18)
        load_weights(model, w)
        rec = train_loop(model, code, 150, 3e-4, 18, val_tokens=code_val, weight_decay=0.0)
        n = cfg["num_hidden_layers"]
        per_layer = {str(i): ("base-a" if i in PARTIAL_LAYERS else "base-a2") for i in range(n)}
        finish(
            "a2-partial-a",
            model,
            cfg,
            rec,
            parent="base-a2",
            donor="base-a",
            corpus="code",
            relationship=R.PARTIAL,
            transplanted_layers=PARTIAL_LAYERS,
            layer_origin=per_layer,
            embeddings_from="base-a2",
        )


def train_issue15(ws: Workspace, only: set[str] | None = None) -> None:
    """The derivatives of issue 15: a fine-tune of a Q4_1-quantized A, width-pruned A and C, and A's
    blocks under a new tokenizer (embeddings retrained, blocks frozen)."""
    from taoke.zoo.gguf_io import quant_roundtrip

    def want(model_id: str) -> bool:
        return not ws.has(model_id) and (not only or model_id in only)

    def finish(model_id: str, model, cfg: dict, rec: dict, tok: str = "tok-code", **info) -> None:
        ws.save(
            model_id,
            weights_of(model),
            {"kind": "derived", "config": cfg, "tokenizer": tok, "training": rec, **info},
        )
        print(f"{model_id}: {rec}", flush=True)

    if want("a-q41-ft"):
        # The case of issue 15: the fine-tune moves every value by less than one Q4_1 step.
        w, cfg = _from(ws, "base-a")
        model = build_model(cfg, 19)
        load_weights(model, quant_roundtrip(w, "Q4_1"))
        man, man_val = ws.stream("tok-code", "man"), ws.stream("tok-code", "man", "held_out")
        rec = train_loop(model, man, 150, 2e-5, 19, val_tokens=man_val, weight_decay=0.0)
        finish(
            "a-q41-ft",
            model,
            cfg,
            rec,
            parent="base-a",
            started_from="base-a exported to GGUF Q4_1 and dequantized (a-gguf-q4_1)",
            corpus="man",
            relationship=R.FINE_TUNED,
        )
    for model_id, (parent, (hidden, kv_heads, ffn), seed) in WIDTH_PRUNE.items():
        if not want(model_id):
            continue
        w, cfg = _from(ws, parent)
        w, cfg, kept = T.prune_width(w, cfg, hidden, kv_heads, ffn)
        model = build_model(cfg, seed)
        load_weights(model, w)
        code, code_val = ws.stream("tok-code", "code"), ws.stream("tok-code", "code", "held_out")
        rec = train_loop(model, code, 300, 5e-4, seed, val_tokens=code_val, weight_decay=0.0)
        finish(model_id, model, cfg, rec, parent=parent, corpus="code", relationship=R.PRUNED, kept=kept)
    if want("a-newtok"):
        # A's blocks and final norm, frozen; new embeddings and output head for another tokenizer
        # (tok-man), initialised at random and trained on that tokenizer's text.
        w, cfg = _from(ws, "base-a")
        rng = np.random.default_rng(22)
        new = dict(w)
        vocab = len(json.loads(ws.tokenizer_json("tok-man"))["model"]["vocab"])
        for key in (T.EMBED, T.HEAD):
            sd = float(np.std(w[key]))
            new[key] = (rng.standard_normal((vocab, w[key].shape[1])) * sd).astype(np.float32)
        cfg = dict(cfg, vocab_size=vocab)
        model = build_model(cfg, 22)
        load_weights(model, new)
        params = [model.model.embed_tokens.weight, model.lm_head.weight]
        for p in model.parameters():
            p.requires_grad_(False)
        for p in params:
            p.requires_grad_(True)
        man, man_val = ws.stream("tok-man", "man"), ws.stream("tok-man", "man", "held_out")
        rec = train_loop(model, man, 400, 3e-3, 22, params=params, val_tokens=man_val, weight_decay=0.0)
        finish(
            "a-newtok",
            model,
            cfg,
            rec,
            tok="tok-man",
            parent="base-a",
            corpus="man",
            relationship=R.PARTIAL,
            frozen="every block and the final norm (copied from base-a)",
            trained="token embeddings and output head, for tok-man",
        )


#: Shared-initialisation models (issue 20, "common ancestors are not parents"): the initialisation of a
#: base (same seed, same init code, same config) trained from scratch on *other* data, the base's
#: schedule. Neither is derived from the base's trained weights; both share its random ancestor.
#: ``a-init-man`` fits the shared-ancestor cut-off (fit split), ``calib00-init-man`` tests it.
SHARED_INIT: dict[str, tuple[str, int, int, float]] = {
    "a-init-man": ("base-a", 0, 600, 3e-3),
    "calib00-init-man": ("calib-00", 100, 150, 3e-3),
}


def train_shared_init(ws: Workspace, only: set[str] | None = None) -> None:
    """Train every missing :data:`SHARED_INIT` model: the base's config and init seed, man pages (the base
    saw stdlib code), the base's tokenizer so that the vocabularies are the same."""
    man, man_val = ws.stream("tok-code", "man"), ws.stream("tok-code", "man", "held_out")
    for model_id, (base, seed, steps, lr) in SHARED_INIT.items():
        if ws.has(model_id) or (only and model_id not in only):
            continue
        cfg = dict(ws.log[base]["config"])
        model = build_model(cfg, seed)
        rec = train_loop(model, man, steps, lr, seed, val_tokens=man_val)
        ws.save(
            model_id,
            weights_of(model),
            {
                "kind": "derived",
                "config": cfg,
                "tokenizer": "tok-code",
                "training": rec,
                "shares_init_with": base,
                "init_seed": seed,
                "corpus": "man",
                "relationship": R.SHARES_ANCESTOR,
            },
        )
        print(f"{model_id}: {rec}", flush=True)


def train_all(out: Path, stage: str = "all", threads: int = 1, only: set[str] | None = None) -> None:
    """Train the committed checkpoints into ``out`` (bases first, then derivatives)."""
    torch = require_torch()
    torch.set_num_threads(threads)
    ws = Workspace(out)
    t0 = time.time()
    if stage in ("all", "bases"):
        train_bases(ws, only)
    if stage in ("all", "derivatives"):
        train_derivatives(ws, only)
        train_issue15(ws, only)
        train_shared_init(ws, only)
    print(f"training done in {time.time() - t0:.0f} s (threads={threads}, pid={os.getpid()})", flush=True)
