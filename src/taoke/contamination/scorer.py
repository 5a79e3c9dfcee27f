"""Run a release's weights as a LLaMA language model -- without ever importing the release's code.

WHY: every contamination test here needs token log-probabilities from the model (Oren et al. 2023,
arXiv:2310.17623, need the log-likelihood of orderings; Min-K% Prob, Shi et al. 2023, arXiv:2310.16789,
needs per-token log-probabilities; Min-K%++, Zhang et al. 2024, arXiv:2404.02936, also needs the mean and
spread of the log-probabilities over the whole vocabulary at each position). A release is untrusted
input, so the network is transformers' own ``LlamaForCausalLM`` built from taoke's Model view (canonical
tensors in Hugging Face orientation: GGUF dequantized, llama.cpp's q/k permutation undone, fused tensors
split, renamed layouts mapped), never ``trust_remote_code``. Anything that is not LLaMA-layout is refused
with one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from taoke.errors import AnalysisError, MissingDependency, UnsupportedFormat
from taoke.progress import Progress, no_progress


@dataclass
class TokenScores:
    """Per predicted token of one sequence: log p(token), and mean / std of log p over the vocabulary."""

    logp: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray

    @property
    def total(self) -> float:
        """Sum of log-probabilities (the log-likelihood of the sequence after its first token)."""
        return float(self.logp.sum())


def min_k(scores: TokenScores, k: float = 0.2) -> float:
    """Min-K% Prob (Shi et al. 2023): mean log-probability of the k% least likely tokens."""
    x = np.sort(scores.logp)
    n = max(1, int(round(len(x) * k)))
    return float(x[:n].mean()) if len(x) else 0.0


def min_k_plus_plus(scores: TokenScores, k: float = 0.2) -> float:
    """Min-K%++ (Zhang et al. 2024): mean of the k% lowest (log p - mu) / sigma, mu/sigma over the vocab.

    WHY: a raw log-probability is low both for rare-but-trained tokens and for unseen ones; normalising
    by the distribution at that position measures whether the token is a local mode, which training on
    the text makes it.
    """
    z = (scores.logp - scores.mu) / np.maximum(scores.sigma, 1e-6)
    x = np.sort(z)
    n = max(1, int(round(len(x) * k)))
    return float(x[:n].mean()) if len(x) else 0.0


class Scorer:
    """A LLaMA-layout model in torch plus a data-only encoder; scores token sequences in batches."""

    def __init__(self, model: Any, encode: Any, name: str, vocab_size: int, context: int, how: str):
        self.model = model
        self.encode = encode
        self.name = name
        self.vocab_size = vocab_size
        self.context = context
        self.how = how

    def score(
        self,
        seqs: list[list[int]],
        token_budget: int = 4096,
        vocab_stats: bool = True,
        progress: Progress = no_progress,
        task: str = "score",
    ) -> list[TokenScores]:
        """Token scores for each sequence (each scored on its own, from its first token).

        ``progress`` hears after each batch how many of the sequences are scored, as ``task``.

        ``vocab_stats=False`` skips the per-position mean/std over the vocabulary (only Min-K%++ needs
        them), which makes log-likelihood-only scoring of many orderings cheaper.
        """
        import torch

        out: list[TokenScores | None] = [None] * len(seqs)
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        i = 0
        with torch.no_grad():
            while i < len(order):
                longest = len(seqs[order[i]])
                j = i
                while j < len(order) and (j - i + 1) * max(longest, len(seqs[order[j]])) <= token_budget:
                    longest = max(longest, len(seqs[order[j]]))
                    j += 1
                j = max(j, i + 1)
                group = order[i:j]
                width = max(len(seqs[g]) for g in group)
                ids = torch.zeros((len(group), width), dtype=torch.long)
                mask = torch.zeros((len(group), width), dtype=torch.long)
                for r, g in enumerate(group):
                    ids[r, : len(seqs[g])] = torch.tensor(seqs[g], dtype=torch.long)
                    mask[r, : len(seqs[g])] = 1
                logits = self.model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
                logp_all = torch.log_softmax(logits, dim=-1)
                lp = logp_all.gather(-1, ids[:, 1:, None]).squeeze(-1)
                if vocab_stats:
                    p_all = logp_all.exp()
                    mu = (p_all * logp_all).sum(-1)
                    sig = ((p_all * logp_all * logp_all).sum(-1) - mu * mu).clamp_min(0).sqrt()
                else:
                    mu = sig = torch.zeros_like(lp)
                for r, g in enumerate(group):
                    n = len(seqs[g]) - 1
                    out[g] = TokenScores(
                        lp[r, :n].numpy().copy(), mu[r, :n].numpy().copy(), sig[r, :n].numpy().copy()
                    )
                i = j
                progress(task, i, len(order))
        return [o for o in out if o is not None]


def _torch():
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError:
        raise MissingDependency("running a model needs the torch extra: pip install 'taoke[torch]'") from None
    return torch


def _gguf_transformers_encoder(model: Any) -> Any:
    """transformers' GGUF tokenizer (built from the GGUF metadata, no code from the release), or None.

    WHY: taoke's own data-only encoder lacks the pre-tokenizer rules of some GGUF vocabularies (e.g.
    SmolLM2's ``smollm``); transformers rebuilds the tokenizer from the same metadata.
    """
    from taoke.tokenizers.encode import Encoder, guarded, is_library_fault

    files = [f for f in model.release.weight_files() if str(f).endswith(".gguf")]
    if not files:
        return None
    try:
        from transformers import AutoTokenizer

        # the GGUF's header was already parsed and bounded by taoke's reader when the model loaded
        tok = AutoTokenizer.from_pretrained(  # nosec B615 - local validated GGUF, local_files_only
            str(files[0].parent), gguf_file=files[0].name, local_files_only=True
        )
    except BaseException as exc:  # any refusal (a Rust panic too) means: no encoder
        if not is_library_fault(exc):
            raise
        return None
    return guarded(
        Encoder(lambda t: list(tok(t, add_special_tokens=False)["input_ids"]), "transformers GGUF tokenizer"),
        files[0],
    )


def _check_shapes(shapes: dict[str, tuple[int, ...]], hp: Any, vocab: int, root: Any) -> None:
    """The stored tensors have exactly the shapes a LlamaForCausalLM of ``hp`` would allocate (checked
    before one is built: a config claiming d_model 10^6 over 64-wide weights would otherwise make
    transformers allocate terabytes)."""
    d, heads = hp.d_model, hp.n_heads
    kv = hp.n_kv_heads or heads
    hd = hp.head_dim or (d // heads if heads and d % heads == 0 else 0)
    if not hd or heads % kv:
        raise AnalysisError(f"{heads} heads, {kv} kv heads and head size {hd} make no LLaMA attention", root)
    want = {"model.embed_tokens.weight": (vocab, d), "model.norm.weight": (d,), "lm_head.weight": (vocab, d)}
    for i in range(hp.n_layers):
        p = f"model.layers.{i}."
        want |= {
            p + "self_attn.q_proj.weight": (heads * hd, d),
            p + "self_attn.k_proj.weight": (kv * hd, d),
            p + "self_attn.v_proj.weight": (kv * hd, d),
            p + "self_attn.o_proj.weight": (d, heads * hd),
            p + "mlp.gate_proj.weight": (hp.ffn_dim, d),
            p + "mlp.up_proj.weight": (hp.ffn_dim, d),
            p + "mlp.down_proj.weight": (d, hp.ffn_dim),
            p + "input_layernorm.weight": (d,),
            p + "post_attention_layernorm.weight": (d,),
        }
        if len(want) > len(shapes) + 3:  # more layers claimed than stored: stop before looping on
            break
    for name, shape in want.items():
        if name == "lm_head.weight" and name not in shapes:
            continue  # tied embeddings
        if shapes.get(name) != shape:
            raise AnalysisError(
                f"the hyper-parameters say {name} is {shape}, the weights store {shapes.get(name)}; "
                "cannot run this model",
                root,
            )


def load_scorer(spec: Any, max_context: int = 512) -> Scorer:
    """Build a :class:`Scorer` for a release (folder, file, GGUF, hub id in the cache) or a Model view.

    Everything that can refuse the release is checked from its headers before torch is imported or a
    network is built: the shapes the hyper-parameters imply must be the shapes stored, so a config
    that claims a larger model than its weights never makes transformers allocate it."""
    from taoke.families import family
    from taoke.model import Model
    from taoke.model import load as load_model
    from taoke.tokenizers import load_tokenizer
    from taoke.tokenizers.encode import EncoderUnavailable, make_encoder

    model: Model = spec if isinstance(spec, Model) else load_model(spec)
    fam = model.family_info
    root = model.release.path
    if fam is None or not fam.llama_compatible:
        raise AnalysisError(
            f"cannot run a {model.family.label} model: the contamination tests run LLaMA-layout "
            "models only (llama, mistral and renamed copies)",
            root,
        )
    if any(n.endswith(".bias") for n in model.roles):
        raise AnalysisError("bias tensors have no place in the LLaMA layout; cannot run this model", root)
    hp = model.hparams
    for need in ("n_layers", "d_model", "n_heads", "ffn_dim", "vocab_size"):
        if getattr(hp, need) is None:
            raise AnalysisError(f"hyper-parameter {need} is unknown; cannot run this model", root)
    llama = family("llama")
    names: dict[str, str] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    for key in model.canonical_keys():
        ttype, block, suffix = model.canonical_info(key)
        name = llama.hf_name(ttype, block, suffix)
        if name is None or suffix != ".weight":
            raise UnsupportedFormat(f"tensor {key!r} has no place in the LLaMA layout; cannot run it", root)
        names[name] = key
        shapes[name] = tuple(model.canonical_shape(key))
    if "model.embed_tokens.weight" not in shapes or len(shapes["model.embed_tokens.weight"]) != 2:
        raise AnalysisError("no token embedding; cannot run this model", root)
    vocab = int(shapes["model.embed_tokens.weight"][0])
    tied = "lm_head.weight" not in shapes
    _check_shapes(shapes, hp, vocab, root)
    torch = _torch()
    from transformers import LlamaConfig, LlamaForCausalLM

    state: dict[str, Any] = {
        name: torch.from_numpy(np.ascontiguousarray(model.canonical(key), dtype=np.float32))
        for name, key in names.items()
    }
    cfg = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hp.d_model,
        intermediate_size=hp.ffn_dim,
        num_hidden_layers=hp.n_layers,
        num_attention_heads=hp.n_heads,
        num_key_value_heads=hp.n_kv_heads or hp.n_heads,
        head_dim=hp.head_dim or hp.d_model // hp.n_heads,
        max_position_embeddings=hp.context_length or 2048,
        rms_norm_eps=hp.norm_eps if hp.norm_eps is not None else 1e-6,
        rope_theta=hp.rope_theta if hp.rope_theta is not None else 10000.0,
        rope_scaling=hp.rope_scaling or None,
        tie_word_embeddings=tied,
        attention_bias=False,
        mlp_bias=False,
        hidden_act="silu",
    )
    net = LlamaForCausalLM(cfg)
    if tied:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    try:
        missing, unexpected = net.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # a size mismatch the shape check did not foresee
        raise AnalysisError(
            f"the tensors do not fit a LLaMA: {str(exc).splitlines()[-1].strip()}", root
        ) from None
    missing = [m for m in missing if "rotary" not in m]
    if missing or unexpected:
        raise AnalysisError(
            f"the tensors do not make a complete LLaMA "
            f"({len(missing)} missing, {len(unexpected)} unexpected)",
            root,
        )
    if tied:
        net.tie_weights()
    net.eval()
    try:
        encoder = make_encoder(load_tokenizer(model.release))
    except EncoderUnavailable as exc:
        encoder = _gguf_transformers_encoder(model) if model.is_gguf else None
        if encoder is None:
            raise AnalysisError(f"no tokenizer taoke can run for this model ({exc})", root) from None
    except Exception as exc:  # a TaokeError from the loader is already one line
        from taoke.errors import TaokeError

        if isinstance(exc, TaokeError):
            raise
        raise AnalysisError(f"no tokenizer found for this model ({type(exc).__name__})", root) from None
    context = min(int(hp.context_length or 2048), max_context)
    how = (
        f"transformers LlamaForCausalLM from taoke's canonical tensors ({model.family.label}"
        f"{', GGUF dequantized' if model.is_gguf else ''}); tokenizer: {encoder.how}"
    )
    return Scorer(net, encoder.encode, model.name, vocab, context, how)
