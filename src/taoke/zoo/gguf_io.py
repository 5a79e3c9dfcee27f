"""GGUF export of zoo models and import of the real SmolLM2 GGUF, through the ``gguf`` package.

Export mirrors llama.cpp's ``convert_hf_to_gguf.py`` for the llama architecture: HF names are mapped to
GGUF names, q/k rows are permuted from HF's rotate-half RoPE layout to GGML's interleaved layout
(``LlamaModel.permute``), the tokenizer is stored as ``gpt2`` BPE tokens/merges, norms stay F32 and
matrices are quantized with ``gguf.quants.quantize`` (Q8_0 / Q4_0) or stored as F16.
Import (for SmolLM2, which is only shipped as GGUF) dequantizes and undoes the permutation.
"""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import numpy as np

from taoke.zoo.transforms import EMBED, HEAD, NORM, Weights, dims

_LAYER_MAP = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
_TOP_MAP = {EMBED: "token_embd.weight", NORM: "output_norm.weight", HEAD: "output.weight"}


def permute_qk(w: np.ndarray, n_head: int) -> np.ndarray:
    """HF rotate-half rows -> GGML interleaved rows (llama.cpp ``LlamaModel.permute``)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute_qk(w: np.ndarray, n_head: int) -> np.ndarray:
    """Inverse of :func:`permute_qk`."""
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def hf_to_gguf_name(name: str) -> str:
    if name in _TOP_MAP:
        return _TOP_MAP[name]
    parts = name.split(".", 3)  # model, layers, i, rest
    return f"blk.{parts[2]}.{_LAYER_MAP[parts[3]]}"


def gguf_to_hf_name(name: str) -> str:
    for hf, gg in _TOP_MAP.items():
        if name == gg:
            return hf
    _, i, rest = name.split(".", 2)
    inv = {v: k for k, v in _LAYER_MAP.items()}
    return f"model.layers.{i}.{inv[rest]}"


def _tokenizer_fields(tokenizer_json: str) -> tuple[list[str], list[int], list[str], int]:
    tj = json.loads(tokenizer_json)
    vocab: dict[str, int] = dict(tj["model"]["vocab"])
    for added in tj.get("added_tokens", []):
        vocab.setdefault(added["content"], added["id"])
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    special = {a["content"] for a in tj.get("added_tokens", []) if a.get("special")}
    types = [gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL for t in tokens]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
    eos = vocab.get("<|endoftext|>", 0)
    return tokens, [int(t) for t in types], merges, eos


def tensor_qtype(gguf_name: str, qtype: str) -> gguf.GGMLQuantizationType:
    """The storage type of one matrix in a ``qtype`` file: llama.cpp keeps the output head at higher
    precision in 4/5-bit files (Q8_0 here); every other matrix takes ``qtype``."""
    if qtype == "Q8_0" or gguf_name == "output.weight":
        return gguf.GGMLQuantizationType.Q8_0
    return gguf.GGMLQuantizationType[qtype]


def quant_roundtrip(w: Weights, qtype: str) -> Weights:
    """The float32 weights a ``qtype`` GGUF export of ``w`` dequantizes to (what a copy made from that
    file holds): every matrix quantized and dequantized with ``gguf.quants`` exactly as
    :func:`write_gguf` stores it (rows are whole blocks, so llama.cpp's q/k row permutation does not
    change any value); norms stay float32."""
    out: Weights = {}
    for hf_name, arr in w.items():
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if arr.ndim == 1 or qtype == "F16":
            out[hf_name] = arr if arr.ndim == 1 else arr.astype(np.float16).astype(np.float32)
            continue
        q = tensor_qtype(hf_to_gguf_name(hf_name), qtype)
        out[hf_name] = gguf.quants.dequantize(gguf.quants.quantize(arr, q), q).astype(np.float32)
    return out


def write_gguf(
    path: Path,
    cfg: dict,
    w: Weights,
    tokenizer_json: str,
    qtype: str,
    name: str,
    license_id: str = "apache-2.0",
) -> Path:
    """Write a llama-architecture GGUF with ``F16``, ``Q8_0``, ``Q4_0``, ``Q4_1``, ``Q5_0`` or ``Q5_1``
    matrices."""
    n_layers, d, h, kv, hd = dims(cfg)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_license(license_id)
    writer.add_context_length(cfg["max_position_embeddings"])
    writer.add_embedding_length(d)
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(cfg["intermediate_size"])
    writer.add_rope_dimension_count(hd)
    writer.add_head_count(h)
    writer.add_head_count_kv(kv)
    writer.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    writer.add_rope_freq_base(cfg["rope_theta"])
    writer.add_vocab_size(w[EMBED].shape[0])
    ftype = {
        "F16": gguf.LlamaFileType.MOSTLY_F16,
        "Q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
        "Q4_0": gguf.LlamaFileType.MOSTLY_Q4_0,
        "Q4_1": gguf.LlamaFileType.MOSTLY_Q4_1,
        "Q5_0": gguf.LlamaFileType.MOSTLY_Q5_0,
        "Q5_1": gguf.LlamaFileType.MOSTLY_Q5_1,
    }[qtype]
    writer.add_file_type(ftype)
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
        if hf_name.endswith("q_proj.weight"):
            arr = permute_qk(arr, h)
        elif hf_name.endswith("k_proj.weight"):
            arr = permute_qk(arr, kv)
        gname = hf_to_gguf_name(hf_name)
        if arr.ndim == 1:
            writer.add_tensor(gname, arr)
        elif qtype == "F16":
            writer.add_tensor(gname, arr.astype(np.float16))
        else:
            q = tensor_qtype(gname, qtype)
            writer.add_tensor(gname, gguf.quants.quantize(arr, q), raw_dtype=q)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _field(reader: gguf.GGUFReader, key: str):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


def read_llama_gguf(path: Path) -> tuple[dict, Weights, str]:
    """Dequantize a llama-architecture GGUF into (HF config, HF-named float32 weights, tokenizer.json)."""
    reader = gguf.GGUFReader(str(path))
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise ValueError(f"{path}: expected a llama GGUF, got {arch!r}")
    h = int(_field(reader, "llama.attention.head_count"))
    kv = int(_field(reader, "llama.attention.head_count_kv") or h)
    w: Weights = {}
    for t in reader.tensors:
        arr = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        arr = arr.reshape([int(x) for x in reversed(t.shape)]) if arr.ndim != len(t.shape) else arr
        if t.name.endswith("attn_q.weight"):
            arr = unpermute_qk(arr, h)
        elif t.name.endswith("attn_k.weight"):
            arr = unpermute_qk(arr, kv)
        w[gguf_to_hf_name(t.name)] = arr
    d = int(_field(reader, "llama.embedding_length"))
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": int(w[EMBED].shape[0]),
        "hidden_size": d,
        "intermediate_size": int(_field(reader, "llama.feed_forward_length")),
        "num_hidden_layers": int(_field(reader, "llama.block_count")),
        "num_attention_heads": h,
        "num_key_value_heads": kv,
        "head_dim": int(_field(reader, "llama.rope.dimension_count") or d // h),
        "hidden_act": "silu",
        "max_position_embeddings": int(_field(reader, "llama.context_length")),
        "rms_norm_eps": float(_field(reader, "llama.attention.layer_norm_rms_epsilon")),
        "rope_theta": float(_field(reader, "llama.rope.freq_base") or 10000.0),
        "rope_scaling": None,
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": HEAD not in w,
        "bos_token_id": int(_field(reader, "tokenizer.ggml.bos_token_id") or 0),
        "eos_token_id": int(_field(reader, "tokenizer.ggml.eos_token_id") or 0),
    }
    return cfg, w, _tokenizer_from_gguf(reader)


def _tokenizer_from_gguf(reader: gguf.GGUFReader) -> str:
    """Rebuild a byte-level BPE tokenizer.json from ``tokenizer.ggml.*`` (gpt2 model)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    tokens = list(_field(reader, "tokenizer.ggml.tokens"))
    types = list(_field(reader, "tokenizer.ggml.token_type") or [1] * len(tokens))
    merges = [tuple(m.split(" ", 1)) for m in _field(reader, "tokenizer.ggml.merges")]
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    from tokenizers import AddedToken

    tok.add_special_tokens(
        [
            AddedToken(t, special=True)
            for t, ty in zip(tokens, types, strict=True)
            if ty == int(gguf.TokenType.CONTROL)
        ]
    )
    return tok.to_str()
