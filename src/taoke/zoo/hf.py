"""Hugging Face layout for zoo models: LLaMA configs, safetensors, tokenizer files and model cards.

Every zoo model is written the way a real release is (config.json, model.safetensors, tokenizer.json,
tokenizer_config.json, README.md with YAML front matter naming a licence), so that every loader path of
taoke is exercised by the zoo, and so that the cards can declare -- or hide -- their ``base_model``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

SHAPES: dict[str, dict[str, int]] = {
    # d_model 64, 4 layers, 4 query heads sharing 2 key/value heads (GQA), SwiGLU width 192.
    "small": {
        "hidden_size": 64,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "intermediate_size": 192,
    },
    "large": {
        "hidden_size": 128,
        "num_hidden_layers": 6,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "intermediate_size": 352,
    },
}
CONTEXT = 512
SEQ_LEN = 128


def llama_config(shape: str, vocab_size: int, **overrides: int) -> dict:
    """A complete LlamaForCausalLM config.json for one of the zoo's shapes."""
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": vocab_size,
        **SHAPES[shape],
        "hidden_act": "silu",
        "max_position_embeddings": CONTEXT,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "rope_scaling": None,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "tie_word_embeddings": False,
        "initializer_range": 0.02,
        "bos_token_id": 0,
        "eos_token_id": 0,
        "torch_dtype": "float16",
    }
    cfg.update(overrides)
    cfg["head_dim"] = cfg["hidden_size"] // cfg["num_attention_heads"]
    return cfg


def llama_tensor_names(n_layers: int) -> list[str]:
    """Hugging Face LlamaForCausalLM tensor names, in file order."""
    names = ["model.embed_tokens.weight"]
    for i in range(n_layers):
        p = f"model.layers.{i}."
        names += [
            p + "input_layernorm.weight",
            p + "self_attn.q_proj.weight",
            p + "self_attn.k_proj.weight",
            p + "self_attn.v_proj.weight",
            p + "self_attn.o_proj.weight",
            p + "post_attention_layernorm.weight",
            p + "mlp.gate_proj.weight",
            p + "mlp.up_proj.weight",
            p + "mlp.down_proj.weight",
        ]
    return names + ["model.norm.weight", "lm_head.weight"]


_DTYPES = {"float16": np.float16, "float32": np.float32}


def bf16_round(arr: np.ndarray) -> np.ndarray:
    """Round float32 values to the nearest bfloat16 (ties to even), returned as float32."""
    bits = np.ascontiguousarray(arr, dtype=np.float32).view(np.uint32)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return rounded.astype(np.uint32).view(np.float32)


def save_tensors(
    path: Path, tensors: dict[str, np.ndarray], dtype: str, metadata: dict | None = None
) -> None:
    """Write safetensors in the given dtype; bfloat16 is written through torch when present, else raw bits."""
    meta = {"format": "pt", **(metadata or {})}
    if dtype == "bfloat16":
        try:
            import torch
            from safetensors.torch import save_file as save_torch
        except ImportError:  # no torch: write the bf16 bit pattern with a hand-made header
            _save_bf16_raw(path, tensors, meta)
            return
        out = {
            k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)).to(torch.bfloat16)
            for k, v in tensors.items()
        }
        save_torch(out, str(path), metadata=meta)
        return
    save_file(
        {k: np.ascontiguousarray(v.astype(_DTYPES[dtype])) for k, v in tensors.items()},
        str(path),
        metadata=meta,
    )


def _save_bf16_raw(path: Path, tensors: dict[str, np.ndarray], meta: dict) -> None:
    header: dict = {"__metadata__": meta}
    blobs = []
    offset = 0
    for name, arr in tensors.items():
        bits = (bf16_round(arr).view(np.uint32) >> 16).astype(np.uint16).tobytes()
        header[name] = {
            "dtype": "BF16",
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(bits)],
        }
        blobs.append(bits)
        offset += len(bits)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as f:
        f.write(len(raw).to_bytes(8, "little"))
        f.write(raw)
        for b in blobs:
            f.write(b)


def model_card(
    name: str,
    summary: str,
    license_id: str = "apache-2.0",
    base_model: str | list[str] | None = None,
    extra: dict | None = None,
) -> str:
    """A README.md model card with YAML front matter (licence always, ``base_model`` only if declared)."""
    lines = ["---", f"license: {license_id}", "library_name: transformers", "pipeline_tag: text-generation"]
    if base_model:
        if isinstance(base_model, str):
            lines.append(f"base_model: {base_model}")
        else:
            lines.append("base_model:")
            lines += [f"  - {b}" for b in base_model]
    for k, v in (extra or {}).items():
        lines.append(f"{k}: {json.dumps(v)}")
    lines += [
        "---",
        "",
        f"# {name}",
        "",
        summary,
        "",
        "Part of the taoke test zoo: a small model trained on real text, released under the licence above.",
        "",
    ]
    return "\n".join(lines)


def tokenizer_config(max_len: int = CONTEXT) -> dict:
    """tokenizer_config.json matching the zoo's byte-level BPE tokenizers."""
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": None,
        "model_max_length": max_len,
        "add_prefix_space": False,
    }


def write_folder(
    folder: Path,
    config: dict,
    tensors: dict[str, np.ndarray],
    tokenizer_json: str | None,
    card: str,
    dtype: str = "float16",
    metadata: dict | None = None,
) -> Path:
    """Write a complete Hugging Face model folder."""
    folder.mkdir(parents=True, exist_ok=True)
    config = dict(config)
    config["torch_dtype"] = dtype
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    save_tensors(folder / "model.safetensors", tensors, dtype, metadata)
    if tokenizer_json is not None:
        (folder / "tokenizer.json").write_text(tokenizer_json)
        (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config(), indent=2) + "\n")
    (folder / "README.md").write_text(card)
    return folder
