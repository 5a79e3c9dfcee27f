"""Reference forward pass (transformers' LlamaForCausalLM) to check that obfuscations preserve function.

Only the tests and the builder's self-check use it; it needs the torch extra.
"""

from __future__ import annotations

import numpy as np

from taoke.zoo.transforms import EMBED, HEAD, Weights


def llama_logits(cfg: dict, w: Weights, ids: np.ndarray) -> np.ndarray:
    """Logits [batch, seq, vocab] of an HF-named LLaMA checkpoint (or the zoo's Mixtral MoEs, whose
    config says ``mixtral``), in float32 on the CPU."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, MixtralConfig, MixtralForCausalLM

    keep = {
        k: v for k, v in cfg.items() if k not in ("architectures", "model_type", "torch_dtype", "auto_map")
    }
    tied = HEAD not in w
    keep["tie_word_embeddings"] = tied
    moe = cfg.get("model_type") == "mixtral"
    config = (MixtralConfig if moe else LlamaConfig)(**keep)
    model = (MixtralForCausalLM if moe else LlamaForCausalLM)(config)
    state = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in w.items()}
    if tied:
        state[HEAD] = state[EMBED]
    model.load_state_dict(state, strict=True, assign=True)
    if tied:
        model.tie_weights()
    model.eval()
    with torch.no_grad():
        x = torch.from_numpy(np.asarray(ids, dtype=np.int64))
        return model(input_ids=x).logits.float().numpy()
