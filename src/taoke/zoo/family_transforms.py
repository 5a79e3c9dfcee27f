"""Layout copies of the family zoo models (issue 15.5): the same weights stored another way.

Each transform keeps the function exactly (up to float rounding) while changing what is stored, the way a
copier would disguise a release of that family:

- :func:`phi3_unfused`: Phi-3's fused ``qkv_proj`` and ``gate_up_proj`` split into LLaMA's separate
  q/k/v and gate/up projections, saved as ``LlamaForCausalLM`` (Phi-3 *is* the LLaMA block with fused
  storage): a renamed copy, whose canonical tensors equal the original's value for value.
- :func:`gemma_scale_norms`: every block's RMSNorm gain ``1 + w`` multiplied per channel by a positive
  ``s`` (stored as ``s (1 + w) - 1``) and the projections it feeds divided by ``s``: an obfuscated copy
  that a comparison folding ``w`` instead of ``1 + w`` would misread.
- :func:`permute_ffn`: FFN neurons permuted (rows of up/gate and their biases, columns of down) --
  for Qwen2 with its key/value head groups permuted as well (q/k/v rows and their biases, o columns).
- :func:`write_gemma_gguf`: a Gemma exported to GGUF as llama.cpp's converter does it (every
  ``*norm.weight`` stored as ``1 + w``, q/k rows not permuted, no output head: tied): the same weights,
  another file format and another norm convention.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

Weights = dict[str, np.ndarray]


def phi3_unfused(cfg: dict, w: Weights) -> tuple[dict, Weights]:
    """Phi-3 weights in LLaMA's unfused layout (``qkv_proj`` -> q/k/v, ``gate_up_proj`` -> gate/up)."""
    h, kv = cfg["num_attention_heads"], cfg.get("num_key_value_heads") or cfg["num_attention_heads"]
    hd = cfg["hidden_size"] // h
    ffn = cfg["intermediate_size"]
    out: Weights = {}
    for name, arr in w.items():
        if name.endswith("self_attn.qkv_proj.weight"):
            p = name.removesuffix("qkv_proj.weight")
            q, k, v = np.split(arr, [h * hd, h * hd + kv * hd], axis=0)
            out[p + "q_proj.weight"], out[p + "k_proj.weight"], out[p + "v_proj.weight"] = q, k, v
        elif name.endswith("mlp.gate_up_proj.weight"):
            p = name.removesuffix("gate_up_proj.weight")
            out[p + "gate_proj.weight"], out[p + "up_proj.weight"] = arr[:ffn], arr[ffn:]
        else:
            out[name] = arr
    llama = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        **{
            k: cfg[k]
            for k in (
                "vocab_size",
                "hidden_size",
                "num_hidden_layers",
                "num_attention_heads",
                "num_key_value_heads",
                "intermediate_size",
                "max_position_embeddings",
                "rms_norm_eps",
                "rope_theta",
                "tie_word_embeddings",
                "bos_token_id",
                "eos_token_id",
                "hidden_act",
            )
            if k in cfg
        },
        "head_dim": hd,
        "attention_bias": False,
        "mlp_bias": False,
    }
    return llama, out


def gemma_scale_norms(cfg: dict, w: Weights, seed: int) -> Weights:
    """Move a random positive per-channel scale from each Gemma RMSNorm gain (``1 + w``) into the
    projections that read it; the function is unchanged, the stored norm weights are not."""
    rng = np.random.default_rng(seed)
    out = dict(w)
    d = cfg["hidden_size"]
    for li in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{li}."
        for norm, projs in (
            ("input_layernorm", ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj")),
            ("post_attention_layernorm", ("mlp.gate_proj", "mlp.up_proj")),
        ):
            s = np.exp(rng.normal(0.0, 0.5, d)).astype(np.float32)
            out[p + norm + ".weight"] = (1.0 + w[p + norm + ".weight"]) * s - 1.0
            for proj in projs:
                out[p + proj + ".weight"] = w[p + proj + ".weight"] / s[None, :]
    return out


# (up-like names whose rows are neurons, down names whose columns are neurons) per family
_FFN = {
    "qwen2": (("mlp.gate_proj", "mlp.up_proj"), "mlp.down_proj", "model.layers.{li}."),
    "gptneox": (("mlp.dense_h_to_4h",), "mlp.dense_4h_to_h", "gpt_neox.layers.{li}."),
    "bert": (("intermediate.dense",), "output.dense", "bert.encoder.layer.{li}."),
}


def permute_ffn(fam: str, cfg: dict, w: Weights, seed: int) -> tuple[Weights, dict[str, list[int]]]:
    """Permute every block's FFN neurons (and, for Qwen2, its key/value head groups, biases included).

    Returns the weights and the permutations applied (the ground truth)."""
    rng = np.random.default_rng(seed)
    ups, down, prefix = _FFN[fam]
    out = dict(w)
    truth: dict[str, list[int]] = {}
    for li in range(cfg["num_hidden_layers"]):
        p = prefix.format(li=li)
        perm = rng.permutation(cfg["intermediate_size"])
        truth[f"ffn.{li}"] = perm.tolist()
        for up in ups:
            out[p + up + ".weight"] = w[p + up + ".weight"][perm]
            if p + up + ".bias" in w:
                out[p + up + ".bias"] = w[p + up + ".bias"][perm]
        out[p + down + ".weight"] = w[p + down + ".weight"][:, perm]
        if fam == "qwen2":
            h, kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
            hd = cfg["hidden_size"] // h
            g = rng.permutation(kv)
            truth[f"kv.{li}"] = g.tolist()
            per = h // kv
            q_rows = np.concatenate([np.arange(gi * per * hd, (gi + 1) * per * hd) for gi in g])
            kv_rows = np.concatenate([np.arange(gi * hd, (gi + 1) * hd) for gi in g])
            a = p + "self_attn."
            for name, rows in (("q_proj", q_rows), ("k_proj", kv_rows), ("v_proj", kv_rows)):
                out[a + name + ".weight"] = w[a + name + ".weight"][rows]
                out[a + name + ".bias"] = w[a + name + ".bias"][rows]
            out[a + "o_proj.weight"] = w[a + "o_proj.weight"][:, q_rows]
    return out, truth


def write_gemma_gguf(path: Path, cfg: dict, w: Weights, tokenizer_json: str, qtype: str, name: str) -> Path:
    """Write a Gemma GGUF the way llama.cpp's ``convert_hf_to_gguf.py`` (``GemmaModel``) does: arch
    ``gemma``, norms + 1, no rotary permutation, tied embeddings (no ``output.weight``); matrices F16 or
    block-quantized with ``gguf.quants`` (Q8_0, Q4_0...)."""
    import gguf

    from taoke.zoo.gguf_io import _tokenizer_fields, hf_to_gguf_name

    h, kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or cfg["hidden_size"] // h
    writer = gguf.GGUFWriter(str(path), "gemma")
    writer.add_name(name)
    writer.add_license("apache-2.0")
    writer.add_context_length(cfg["max_position_embeddings"])
    writer.add_embedding_length(cfg["hidden_size"])
    writer.add_block_count(cfg["num_hidden_layers"])
    writer.add_feed_forward_length(cfg["intermediate_size"])
    writer.add_head_count(h)
    writer.add_head_count_kv(kv)
    writer.add_key_length(hd)
    writer.add_value_length(hd)
    writer.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    writer.add_rope_freq_base(cfg["rope_theta"])
    writer.add_vocab_size(w["model.embed_tokens.weight"].shape[0])
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if qtype == "F16" else gguf.LlamaFileType.MOSTLY_Q8_0)
    tokens, types, merges, eos = _tokenizer_fields(tokenizer_json)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(eos)
    writer.add_eos_token_id(eos)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    for hf_name, arr in w.items():
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        gname = hf_to_gguf_name(hf_name)
        if hf_name.endswith("norm.weight"):
            writer.add_tensor(gname, arr + np.float32(1.0))  # llama.cpp stores Gemma's gain 1 + w
        elif qtype == "F16":
            writer.add_tensor(gname, arr.astype(np.float16))
        else:
            q = gguf.GGMLQuantizationType[qtype]
            writer.add_tensor(gname, gguf.quants.quantize(arr, q), raw_dtype=q)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
