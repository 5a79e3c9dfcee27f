"""A short CPU fine-tune of a real LLM (SmolLM2-135M) on real text: trained signals at real scale.

Too slow for CI on two cores (minutes), so it is not committed: it is built on demand into the cache and
its pair is marked ``requires_training`` in the manifest, so local tests can skip it and benches run it.
"""

from __future__ import annotations

import time

import numpy as np

from taoke.zoo.transforms import EMBED, HEAD, Weights


def finetune_real(cfg: dict, w: Weights, tokenizer_json: str, params: dict) -> tuple[dict, Weights]:
    """Fine-tune all weights for ``params['steps']`` AdamW steps; returns (config, float32 weights)."""
    from taoke.zoo.train import require_torch

    torch = require_torch()
    from tokenizers import Tokenizer
    from transformers import LlamaConfig, LlamaForCausalLM

    from taoke.zoo.corpus import load_corpus

    torch.set_num_threads(1)  # the build machines are shared; one thread keeps results repeatable too
    seq, batch, steps = params["seq_len"], params["batch"], params["steps"]
    text = load_corpus(params["corpus"]).train_text[:400_000]
    ids = np.asarray(Tokenizer.from_str(tokenizer_json).encode(text).ids, dtype=np.int64)
    keep = {
        k: v for k, v in cfg.items() if k not in ("architectures", "model_type", "torch_dtype", "auto_map")
    }
    tied = HEAD not in w
    keep["tie_word_embeddings"] = tied
    torch.manual_seed(params["seed"])
    model = LlamaForCausalLM(LlamaConfig(**keep)).float()
    state = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in w.items()}
    if tied:
        state[HEAD] = state[EMBED]
    model.load_state_dict(state, strict=True)
    if tied:
        model.tie_weights()
    opt = torch.optim.AdamW(model.parameters(), lr=params["lr"], weight_decay=0.0)
    rng = np.random.default_rng(params["seed"])
    t0 = time.time()
    losses = []
    model.train()
    for _ in range(steps):
        starts = rng.integers(0, len(ids) - seq - 1, size=batch)
        x = torch.from_numpy(np.stack([ids[s : s + seq] for s in starts]))
        loss = model(input_ids=x, labels=x).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.item()))
    print(
        f"fine-tuned {steps} steps in {time.time() - t0:.0f} s: "
        f"loss {losses[0]:.3f} -> {np.mean(losses[-5:]):.3f}",
        flush=True,
    )
    out = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    if tied:
        out.pop(HEAD, None)
    return dict(cfg), out
