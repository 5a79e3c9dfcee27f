"""Rewrite a renamed or fused LLaMA-family release into the canonical Hugging Face Llama layout.

Why: "is Yi a LLaMA?" was argued for weeks over tensor names. If a release loads, unchanged, as
``LlamaForCausalLM`` after nothing but renaming (Yi's ``ln1``/``ln2``) or un-fusing (Baichuan's
``W_pack``) and gives the same logits, the architecture question is settled by construction, and every
LLaMA tool can be used on it without running the release's own modeling code.

How (this module is the rewriting library; :mod:`taoke.jobs.llamafy` runs it on a release and owns the
output folder): tensor by tensor through the Model view (one tensor in memory), written into
safetensors shards this module lays out itself (header first: shapes are known from the headers).
Verification re-reads every written tensor and compares it bit for bit with its source slice; with the
``torch`` extra it also loads the output with ``transformers.LlamaForCausalLM`` and compares its logits
with a reference forward pass computed here, in numpy, from the *source* tensors (never from the
release's code).
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from taoke.errors import AnalysisError, UnsupportedFormat
from taoke.families import family, is_ignored
from taoke.limits import Limits
from taoke.model import Model, load
from taoke.progress import Progress, no_progress

__all__ = [
    "COPY_FILES",
    "DEFAULT_SHARD_BYTES",
    "check_convertible",
    "compare_logits",
    "llama_config",
    "llama_plan",
    "reference_logits",
    "round_to",
    "OUT_DTYPES",
    "gguf_tokenizer_files",
    "verify_bitwise",
    "write_shards",
]

DEFAULT_SHARD_BYTES = 2 * 1024**3
PROBE_MAX_PARAMS = 1_500_000_000  # above this the logits probe is skipped: transformers holds the whole model
COPY_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "generation_config.json",
)
_KEEP_CONFIG = ("bos_token_id", "eos_token_id", "pad_token_id", "initializer_range")
_NP_DTYPE = {"F32": np.float32, "F16": np.float16}
OUT_DTYPES = {"float32": "F32", "float16": "F16", "bfloat16": "BF16"}
"""``--dtype`` names -> safetensors dtypes; ``auto`` keeps each stored float type, quantized -> F32."""


def _out_dtype(stored_dtype: str, want: str | None = None) -> str:
    """The written dtype: ``want`` (a safetensors dtype) when given, else the stored float type; a
    quantized tensor is written as F32, the only type that holds its dequantized values exactly."""
    if want is not None:
        return want
    return stored_dtype if stored_dtype in ("F32", "F16", "BF16") else "F32"


def round_to(arr: np.ndarray, dtype: str | None) -> np.ndarray:
    """``arr`` (float32) as ``dtype`` would store it, back in float32: what a reader of the output sees."""
    if dtype is None or dtype == "F32":
        return arr
    if dtype == "BF16":
        bits = np.ascontiguousarray(arr, dtype=np.float32).view(np.uint32)
        return ((bits >> 16) << 16).astype(np.uint32).view(np.float32)
    return np.asarray(arr, dtype=_NP_DTYPE[dtype]).astype(np.float32)


def _to_bytes(arr: np.ndarray, dtype: str) -> bytes:
    """float32 values -> little-endian bytes of ``dtype``; exact for values that came from that dtype."""
    if dtype == "BF16":
        bits = np.ascontiguousarray(arr, dtype=np.float32).view(np.uint32)
        return (bits >> 16).astype("<u2").tobytes()
    return (
        np.ascontiguousarray(arr, dtype=_NP_DTYPE[dtype])
        .astype(np.dtype(_NP_DTYPE[dtype]).newbyteorder("<"), copy=False)
        .tobytes()
    )


def llama_plan(model: Model, dtype: str | None = None) -> list[dict[str, Any]]:
    """Output name, source key, dtype and shape of every tensor of the Llama layout.

    ``dtype``: one safetensors dtype for every tensor (F32, F16, BF16), or None to keep each stored one.
    """
    llama = family("llama")
    out: list[dict[str, Any]] = []
    for key in model.canonical_keys():
        ttype, block, suffix = model.canonical_info(key)
        name = llama.hf_name(ttype, block, suffix)
        if name is None or suffix != ".weight":
            raise UnsupportedFormat(
                f"tensor {model.canonical_source(key)!r} ({ttype}{suffix}) has no place in the Llama layout",
                model.release.path,
            )
        stored = model.canonical_source(key)
        role = model.roles[stored]
        out.append(
            {
                "name": name,
                "key": key,
                "source": stored,
                "part": key if role.parts else None,
                "dtype": _out_dtype(model.tensor_infos[stored].dtype, dtype),
                "shape": list(model.canonical_shape(key)),
            }
        )
    # the output must be a complete Llama of the declared depth, or transformers would fill the gaps
    # with random weights and the config would lie about the model
    want = set(llama.expected_names(model.hparams.n_layers or 0, tied=bool(model.hparams.tied_embeddings)))
    have = {item["name"] for item in out}
    if want != have:
        gap = sorted(want - have) or sorted(have - want)
        raise AnalysisError(
            f"the tensors do not make a complete {model.hparams.n_layers}-layer Llama "
            f"({len(want - have)} missing, {len(have - want)} unexpected, e.g. {gap[0]!r})",
            model.release.path,
        )
    return out


def check_convertible(model: Model) -> list[str]:
    """Refuse what the Llama layout cannot hold; return notes on what changes."""
    notes: list[str] = []
    fam = model.family_info
    if fam is None:
        raise AnalysisError(
            "not a known model family; llamafy rewrites LLaMA-family releases only", model.release.path
        )
    if not fam.llama_compatible:
        raise AnalysisError(
            f"{model.family.label} is not a LLaMA-layout family (llamafy handles "
            "llama, mistral, baichuan and their renamed copies)",
            model.release.path,
        )
    if fam.name == "mistral" and model.config.get("sliding_window"):
        notes.append(
            f"Mistral sliding_window={model.config['sliding_window']} is not part of the Llama config"
        )
    ignored = [n for n in model.tensor_infos if n not in model.roles]
    lost = [n for n in ignored if not is_ignored(n)]
    if lost:
        raise AnalysisError(
            f"{len(lost)} tensor(s) have no LLaMA role and would be lost (e.g. {lost[0]!r})",
            model.release.path,
        )
    biased = [n for n, r in model.roles.items() if n.endswith(".bias")]
    if biased:
        raise AnalysisError(
            f"{len(biased)} bias tensor(s) (e.g. {biased[0]!r}) have no place in the plain Llama layout",
            model.release.path,
        )
    hp = model.hparams
    for need in ("n_layers", "d_model", "n_heads", "ffn_dim", "vocab_size"):
        if getattr(hp, need) is None:
            raise AnalysisError(
                f"hyper-parameter {need} is unknown (no config, metadata or shape gives it)",
                model.release.path,
            )
    if model.is_gguf:
        quant = sorted({t.dtype for t in model.tensor_infos.values()} - {"F32", "F16", "BF16"})
        if quant:
            notes.append(f"GGUF tensors in {', '.join(quant)} are dequantized")
        notes.append("GGUF q/k rows were un-permuted back to Hugging Face's rotate_half layout")
    if model.family.renamed or fam.name != "llama":
        notes.append(f"source layout: {model.family.label}; class {model.family.hf_class or '-'}")
    return notes


def llama_config(model: Model, dtype: str) -> dict[str, Any]:
    hp = model.hparams
    emb = next(k for k in model.canonical_keys() if k.startswith("token_embd."))
    vocab = model.canonical_shape(emb)[0]
    cfg: dict[str, Any] = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": hp.d_model,
        "intermediate_size": hp.ffn_dim,
        "num_hidden_layers": hp.n_layers,
        "num_attention_heads": hp.n_heads,
        "num_key_value_heads": hp.n_kv_heads or hp.n_heads,
        "head_dim": hp.head_dim,
        "vocab_size": vocab,
        "max_position_embeddings": hp.context_length or 2048,
        "rms_norm_eps": hp.norm_eps if hp.norm_eps is not None else 1e-6,
        "rope_theta": hp.rope_theta if hp.rope_theta is not None else 10000.0,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": bool(hp.tied_embeddings),
        "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}.get(dtype, "float32"),
    }
    if hp.rope_scaling:
        cfg["rope_scaling"] = hp.rope_scaling
    for k in _KEEP_CONFIG:
        if k in model.config:
            cfg[k] = model.config[k]
    cfg["taoke_llamafy"] = {
        "source": str(model.release.spec),
        "source_family": model.family.label,
        "source_class": model.family.hf_class,
    }
    return cfg


def write_shards(
    model: Model,
    plan: list[dict[str, Any]],
    folder: Path,
    shard_bytes: int,
    progress: Progress = no_progress,
) -> list[str]:
    """Write the planned tensors into safetensors shard(s); one tensor in memory at a time."""
    shards: list[list[dict[str, Any]]] = [[]]
    size = 0
    for item in plan:
        nbytes = int(np.prod(item["shape"], dtype=np.int64)) * (4 if item["dtype"] == "F32" else 2)
        item["nbytes"] = nbytes
        if shards[-1] and size + nbytes > shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(item)
        size += nbytes
    names = (
        ["model.safetensors"]
        if len(shards) == 1
        else [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
    )
    weight_map: dict[str, str] = {}
    written = 0
    for fname, items in zip(names, shards, strict=True):
        header: dict[str, Any] = {"__metadata__": {"format": "pt", "producer": "taoke llamafy"}}
        offset = 0
        for item in items:
            header[item["name"]] = {
                "dtype": item["dtype"],
                "shape": item["shape"],
                "data_offsets": [offset, offset + item["nbytes"]],
            }
            offset += item["nbytes"]
            weight_map[item["name"]] = fname
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 8)
        with open(folder / fname, "wb") as fh:
            fh.write(struct.pack("<Q", len(raw)))
            fh.write(raw)
            for item in items:
                arr = model.canonical(item["key"])
                if list(arr.shape) != item["shape"]:
                    raise AnalysisError(
                        f"{item['key']}: read shape {list(arr.shape)} != planned {item['shape']}",
                        model.release.path,
                    )
                data = _to_bytes(arr, item["dtype"])
                if len(data) != item["nbytes"]:
                    raise AnalysisError(
                        f"{item['key']}: {len(data)} bytes != planned {item['nbytes']}", model.release.path
                    )
                fh.write(data)
                del arr, data
                written += 1
                progress("write tensors", written, len(plan), item=item["name"])
            fh.flush()
            os.fsync(fh.fileno())
    if len(shards) > 1:
        total = sum(item["nbytes"] for item in plan)
        (folder / "model.safetensors.index.json").write_text(
            json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=1)
        )
    return names


def verify_bitwise(
    model: Model,
    plan: list[dict[str, Any]],
    folder: Path,
    limits: Limits,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    """Re-read every written tensor and compare its bits with the source slice it came from (rounded to
    the written dtype when that is narrower than float32)."""
    out = load(folder, limits)
    mismatched: list[str] = []
    try:
        for n, item in enumerate(plan, 1):
            progress("verify tensors", n, len(plan), item=item["name"])
            written = out.read(item["name"])
            source = model.canonical(item["key"])
            if item["dtype"] != "F32":  # the stored type is narrower: compare in it
                same = _to_bytes(written, item["dtype"]) == _to_bytes(source, item["dtype"])
            else:
                same = written.shape == source.shape and np.array_equal(
                    np.ascontiguousarray(written).view(np.uint32),
                    np.ascontiguousarray(source).view(np.uint32),
                )
            if not same:
                mismatched.append(item["name"])
        layout_ok = out.family.family == "llama" and not out.family.renamed
    finally:
        out.close()
    return {
        "checked": len(plan),
        "equal": len(plan) - len(mismatched),
        "mismatched": mismatched,
        "output_family": "llama" if layout_ok else "not canonical llama",
    }


# ------------------------------------------------------------------------------------------------
# Reference forward (numpy, from the source tensors through the Model view)
# ------------------------------------------------------------------------------------------------


def _rms(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def _rope(x: np.ndarray, theta: float, head_dim: int) -> np.ndarray:
    """HF rotate_half rotary embedding on x [batch, heads, seq, head_dim]."""
    seq = x.shape[2]
    inv = 1.0 / (theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim))
    ang = np.outer(np.arange(seq, dtype=np.float64), inv)
    emb = np.concatenate([ang, ang], axis=-1)
    cos, sin = np.cos(emb), np.sin(emb)
    half = head_dim // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rotated * sin


def reference_logits(model: Model, tokens: np.ndarray, dtype: str | None = None) -> np.ndarray:
    """Logits of a LLaMA forward pass written here in numpy (float64) from ``model``'s canonical tensors.

    Independent of transformers and of any release code: it reads the source through the Model view
    (so Yi's ``ln1`` or Baichuan's ``W_pack`` are whatever the view maps them to) one layer at a time.
    ``dtype``: the safetensors dtype the output was written in; each weight is rounded to it first, so
    that the check compares the same numbers transformers reads (F32 and None: no rounding).
    """
    hp = model.hparams
    n_heads, n_kv = hp.n_heads, hp.n_kv_heads or hp.n_heads
    assert n_heads and hp.n_layers is not None
    hd = hp.head_dim or (hp.d_model // n_heads)  # type: ignore[operator]
    eps = hp.norm_eps if hp.norm_eps is not None else 1e-6
    theta = hp.rope_theta if hp.rope_theta is not None else 10000.0

    def w(key: str) -> np.ndarray:
        return round_to(model.canonical(key), dtype).astype(np.float64)

    b, t = tokens.shape
    x = round_to(model.canonical("token_embd.weight")[tokens], dtype).astype(
        np.float64
    )  # gather in float32: vocab x d is big
    mask = np.triu(np.full((t, t), -np.inf), k=1)
    for i in range(hp.n_layers):
        h = _rms(x, w(f"blk.{i}.attn_norm.weight"), eps)
        q = (h @ w(f"blk.{i}.attn_q.weight").T).reshape(b, t, n_heads, hd).transpose(0, 2, 1, 3)
        k = (h @ w(f"blk.{i}.attn_k.weight").T).reshape(b, t, n_kv, hd).transpose(0, 2, 1, 3)
        v = (h @ w(f"blk.{i}.attn_v.weight").T).reshape(b, t, n_kv, hd).transpose(0, 2, 1, 3)
        q, k = _rope(q, theta, hd), _rope(k, theta, hd)
        rep = n_heads // n_kv
        k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hd) + mask
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        att = (scores / scores.sum(-1, keepdims=True)) @ v
        x = x + att.transpose(0, 2, 1, 3).reshape(b, t, n_heads * hd) @ w(f"blk.{i}.attn_output.weight").T
        h = _rms(x, w(f"blk.{i}.ffn_norm.weight"), eps)
        gate = h @ w(f"blk.{i}.ffn_gate.weight").T
        up = h @ w(f"blk.{i}.ffn_up.weight").T
        x = x + (gate / (1.0 + np.exp(-gate)) * up) @ w(f"blk.{i}.ffn_down.weight").T
    x = _rms(x, w("output_norm.weight"), eps)
    head = "output.weight" if "output.weight" in model.canonical_keys() else "token_embd.weight"
    return x @ round_to(model.canonical(head), dtype).T  # float32 head, float64 result


def compare_logits(model: Model, folder: Path, dtype: str | None = None) -> dict[str, Any]:
    """transformers' LlamaForCausalLM from ``folder`` vs :func:`reference_logits` of the source."""
    try:
        import torch
        from transformers import LlamaForCausalLM
    except ImportError:
        return {"skipped": "torch/transformers not installed (pip install 'taoke[torch]')"}
    if model.n_params > PROBE_MAX_PARAMS:
        return {"skipped": f"{model.n_params:,} parameters: too large for the in-memory probe"}
    scaling = model.hparams.rope_scaling
    if scaling and (scaling.get("rope_type") or scaling.get("type")) not in (None, "default"):
        return {"skipped": f"rope scaling {scaling} is not modelled by the reference forward"}
    vocab = model.canonical_shape("token_embd.weight")[0]
    rng = np.random.default_rng(0)
    batch, seq = 2, min(16, model.hparams.context_length or 16)
    tokens = rng.integers(0, vocab, size=(batch, seq))
    ref = reference_logits(model, tokens, dtype)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - older transformers
        pass
    # a local folder taoke just wrote, never a hub id: local_files_only, nothing downloaded, no remote code
    hf = LlamaForCausalLM.from_pretrained(  # nosec B615 - local folder, local_files_only
        str(folder), dtype=torch.float32, local_files_only=True
    ).eval()
    with torch.no_grad():
        got = hf(torch.from_numpy(tokens)).logits.double().numpy()
    del hf
    diff = float(np.abs(got - ref).max())
    scale = float(np.abs(ref).max())
    agree = float((got.argmax(-1) == ref.argmax(-1)).mean())
    tol = 1e-3 * max(1.0, scale)
    return {
        "batch": batch,
        "seq_len": seq,
        "max_abs_diff": diff,
        "max_abs_logit": scale,
        "argmax_agreement": agree,
        "tolerance": tol,
        "passed": bool(diff <= tol and agree == 1.0),
    }


# ------------------------------------------------------------------------------------------------
# The tokenizer of a GGUF, as files transformers reads
# ------------------------------------------------------------------------------------------------


def gguf_tokenizer_files(model: Model, folder: Path) -> list[str]:
    """Write the GGUF's embedded tokenizer into ``folder`` as Hugging Face files; return their names.

    A byte-level BPE vocabulary (``tokenizer.ggml.model`` gpt2) becomes a ``tokenizer.json`` assembled
    with the ``tokenizers`` library from the GGUF tokens and merges, split by llama.cpp's rule for the
    GGUF's pre-tokenizer; a SentencePiece one (llama) becomes a ``tokenizer.model`` assembled from the
    pieces, scores and types. Both encoders are the ones :mod:`taoke.tokenizers.encode` checks against
    llama.cpp's own test vectors. Raises ``EncoderUnavailable`` (with the reason) when neither fits.
    """
    from taoke.tokenizers.encode import EncoderUnavailable, gguf_bpe_tokenizer, gguf_spm_proto
    from taoke.tokenizers.gguf_vocab import read_tokenizer_kv

    ggufs = [f for f in model.release.weight_files() if f.suffix == ".gguf"]
    if not ggufs:
        raise EncoderUnavailable("not a GGUF release")
    path = ggufs[0]
    kv = read_tokenizer_kv(path, model.limits)

    def text(value: Any) -> str | None:
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else value

    kind = text(kv.get("tokenizer.ggml.model"))
    tokens = kv.get("tokenizer.ggml.tokens") or []

    def token(key: str) -> str | None:
        i = kv.get(f"tokenizer.ggml.{key}_token_id")
        if i is None or not 0 <= int(i) < len(tokens):
            return None
        return tokens[int(i)].decode("utf-8", "replace")

    config: dict[str, Any] = {
        "bos_token": token("bos"),
        "eos_token": token("eos"),
        "unk_token": token("unknown"),
        "pad_token": token("padding"),
        "model_max_length": model.hparams.context_length or 2048,
        "taoke_llamafy": {"tokenizer": f"converted from the GGUF metadata of {path.name}"},
    }
    if "tokenizer.ggml.add_bos_token" in kv:
        config["add_bos_token"] = bool(kv["tokenizer.ggml.add_bos_token"])
    if kind == "gpt2":
        pre = str(text(kv.get("tokenizer.ggml.pre")) or "default")
        tok = gguf_bpe_tokenizer(path, "gpt-2" if pre == "default" else pre)
        tok.save(str(folder / "tokenizer.json"))
        config["tokenizer_class"] = "PreTrainedTokenizerFast"
        written = ["tokenizer.json"]
    elif kind == "llama":
        (folder / "tokenizer.model").write_bytes(gguf_spm_proto(path).SerializeToString())
        config["tokenizer_class"] = "LlamaTokenizer"
        config["add_bos_token"] = config.get("add_bos_token", True)
        written = ["tokenizer.model"]
    else:
        raise EncoderUnavailable(f"GGUF tokenizer model {kind!r} is not converted")
    config = {k: v for k, v in config.items() if v is not None}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=1, ensure_ascii=False))
    return written + ["tokenizer_config.json"]
