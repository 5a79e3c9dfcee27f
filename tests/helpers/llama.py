"""Small LLaMA-layout checkpoints for layout tests: a real LlamaForCausalLM (transformers, random init)
saved with safetensors, then rewritten the way real releases did (Yi's ln1/ln2, Baichuan's W_pack) or
converted to GGUF the way llama.cpp does (q/k rope permutation). Used by test_model, test_architecture,
test_llamafy and test_cli_inspect; needs torch + transformers (callers skip without them).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

TINY = dict(
    vocab_size=96,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=128,
    rms_norm_eps=1e-5,
    rope_theta=10000.0,
    tie_word_embeddings=False,
)


def tiny_llama_state(seed: int = 0, **overrides: object) -> tuple[dict[str, np.ndarray], dict]:
    """(state dict as float32 numpy, config dict) of a randomly initialised LlamaForCausalLM."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(**{**TINY, **overrides})
    model = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():  # norms are initialised to 1: perturb them so a swapped norm is visible
        for name, p in model.named_parameters():
            if "norm" in name:
                p.add_(torch.randn_like(p) * 0.1)
    state = {k: v.detach().float().numpy().copy() for k, v in model.state_dict().items()}
    config = cfg.to_dict()
    config["architectures"] = ["LlamaForCausalLM"]
    return state, config


def write_release(
    folder: Path,
    state: dict[str, np.ndarray],
    config: dict,
    card: str | None = None,
    extra_files: dict[str, str] | None = None,
) -> Path:
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    if card is not None:
        (folder / "README.md").write_text(card)
    for name, text in (extra_files or {}).items():
        (folder / name).write_text(text)
    return folder


def llama_release(folder: Path, seed: int = 0, **overrides: object) -> tuple[Path, dict[str, np.ndarray]]:
    state, config = tiny_llama_state(seed, **overrides)
    return write_release(folder, state, config), state


def yi_release(folder: Path, seed: int = 0, card: str | None = None) -> tuple[Path, dict[str, np.ndarray]]:
    """The Yi-34B shape of a release: LLaMA weights, ln1/ln2 names, class YiForCausalLM, model_type Yi."""
    state, config = tiny_llama_state(seed)
    renamed = {
        k.replace("input_layernorm", "ln1").replace("post_attention_layernorm", "ln2"): v
        for k, v in state.items()
    }
    config["architectures"] = ["YiForCausalLM"]
    config["model_type"] = "Yi"
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_yi.YiForCausalLM"}
    code = {
        "modeling_yi.py": "raise SystemExit('release code must never run')\n",
        "tokenizer.model": "not a real sentencepiece model",
    }
    return write_release(folder, renamed, config, card, code), state


def baichuan_release(folder: Path, seed: int = 0) -> tuple[Path, dict[str, np.ndarray]]:
    """Baichuan's layout: q/k/v fused row-wise into W_pack (MHA: as many kv heads as heads)."""
    state, config = tiny_llama_state(seed, num_key_value_heads=TINY["num_attention_heads"])
    fused: dict[str, np.ndarray] = {}
    for k, v in state.items():
        if ".self_attn.q_proj." in k:
            base = k.replace(".q_proj.", ".W_pack.")
            fused[base] = np.concatenate(
                [v, state[k.replace("q_proj", "k_proj")], state[k.replace("q_proj", "v_proj")]], axis=0
            )
        elif ".self_attn.k_proj." in k or ".self_attn.v_proj." in k:
            continue
        else:
            fused[k] = v
    cfg = {
        k: config[k]
        for k in (
            "vocab_size",
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "max_position_embeddings",
            "rms_norm_eps",
            "tie_word_embeddings",
        )
    }
    cfg.update(architectures=["BaichuanForCausalLM"], model_type="baichuan", hidden_act="silu")
    return write_release(folder, fused, cfg), state


def llama_gguf(path: Path, state: dict[str, np.ndarray], config: dict, qtype: str = "F32") -> Path:
    """Write a llama GGUF the way convert_hf_to_gguf.py does (q/k rows permuted), optionally quantized."""
    import gguf
    from gguf import MODEL_TENSOR, TENSOR_NAMES

    from taoke.model import permute_rope

    n_head, n_kv = config["num_attention_heads"], config["num_key_value_heads"]
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(config["num_hidden_layers"])
    w.add_context_length(config["max_position_embeddings"])
    w.add_embedding_length(config["hidden_size"])
    w.add_feed_forward_length(config["intermediate_size"])
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_rope_freq_base(float(config.get("rope_theta") or config["rope_parameters"]["rope_theta"]))
    w.add_layer_norm_rms_eps(config["rms_norm_eps"])
    w.add_license("apache-2.0")
    names = {
        "model.embed_tokens.weight": MODEL_TENSOR.TOKEN_EMBD,
        "model.norm.weight": MODEL_TENSOR.OUTPUT_NORM,
        "lm_head.weight": MODEL_TENSOR.OUTPUT,
    }
    block = {
        "input_layernorm": MODEL_TENSOR.ATTN_NORM,
        "self_attn.q_proj": MODEL_TENSOR.ATTN_Q,
        "self_attn.k_proj": MODEL_TENSOR.ATTN_K,
        "self_attn.v_proj": MODEL_TENSOR.ATTN_V,
        "self_attn.o_proj": MODEL_TENSOR.ATTN_OUT,
        "post_attention_layernorm": MODEL_TENSOR.FFN_NORM,
        "mlp.gate_proj": MODEL_TENSOR.FFN_GATE,
        "mlp.up_proj": MODEL_TENSOR.FFN_UP,
        "mlp.down_proj": MODEL_TENSOR.FFN_DOWN,
    }
    for k, v in state.items():
        if k in names:
            gname = TENSOR_NAMES[names[k]] + ".weight"
        else:
            parts = k.split(".")
            bid = int(parts[2])
            mod = ".".join(parts[3:-1])
            gname = TENSOR_NAMES[block[mod]].format(bid=bid) + ".weight"
            if mod == "self_attn.q_proj":
                v = permute_rope(v, n_head)
            elif mod == "self_attn.k_proj":
                v = permute_rope(v, n_kv)
        v = np.ascontiguousarray(v, dtype=np.float32)
        if qtype != "F32" and v.ndim == 2:
            q = gguf.GGMLQuantizationType[qtype]
            w.add_tensor(gname, gguf.quants.quantize(v, q), raw_dtype=q)
        else:
            w.add_tensor(gname, v)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
