"""Numpy transformations that turn one LLaMA-family checkpoint into a derivative with known ground truth.

Weights are a dict of Hugging Face ``LlamaForCausalLM`` names -> float32 arrays ([out, in] orientation),
plus the config dict. Every function returns new arrays (inputs are never modified) so that recipes compose.

Function-preserving transformations (the "obfuscated copies") rely on these symmetries of a LLaMA block,
each exact in real arithmetic:
- the residual stream may be permuted (RMSNorm is permutation-equivariant), or rotated by any orthogonal
  matrix once the norm gains are folded into the projections that read the normalised stream;
- query/key/value heads may be permuted as whole heads (key/value heads with their query group, for GQA);
- SwiGLU neurons may be permuted, and ``up`` rows rescaled against ``down`` columns;
- norm gains may be rescaled against the columns of the projections that read them;
- query and key rotary pairs (dims i and i + head_dim/2, which RoPE rotates together) may be rescaled by
  c and 1/c, and value heads against the output-projection columns they feed.
"""

from __future__ import annotations

import json

import numpy as np

Weights = dict[str, np.ndarray]

EMBED, NORM, HEAD = "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"


def _p(i: int) -> str:
    return f"model.layers.{i}."


def dims(cfg: dict) -> tuple[int, int, int, int, int]:
    """(n_layers, d_model, n_heads, n_kv_heads, head_dim)."""
    d = cfg["hidden_size"]
    h = cfg["num_attention_heads"]
    return cfg["num_hidden_layers"], d, h, cfg["num_key_value_heads"], cfg.get("head_dim") or d // h


def untie(w: Weights) -> Weights:
    """Give a tied model an explicit output head (needed before any change that breaks the tie)."""
    out = dict(w)
    if HEAD not in out:
        out[HEAD] = out[EMBED].copy()
    return out


def _readers(i: int) -> tuple[list[str], list[str]]:
    p = _p(i)
    return (
        [p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight", p + "self_attn.v_proj.weight"],
        [p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"],
    )


# Mixtral's stacked experts (transformers >= 4.57): the router and ``gate_up_proj`` ``[E, 2f, d]`` read the
# residual stream, ``down_proj`` ``[E, d, f]`` writes it; both act on the last / second-to-last axis.
_MOE_READERS = ("mlp.gate.weight", "mlp.experts.gate_up_proj")
_MOE_WRITER = "mlp.experts.down_proj"


def _mlp_io(w: Weights, i: int) -> tuple[list[str], list[str]]:
    """The FFN's readers and writers of the residual stream in block ``i``: a dense SwiGLU or a Mixtral
    MoE (router + stacked experts), whichever the weights hold."""
    p = _p(i)
    if p + _MOE_WRITER in w:
        return [p + n for n in _MOE_READERS], [p + _MOE_WRITER]
    return _readers(i)[1], [p + "mlp.down_proj.weight"]


# --- permutations -------------------------------------------------------------------------------------


def permute_residual(w: Weights, cfg: dict, perm: np.ndarray) -> Weights:
    """Permute the residual dimensions: new dim j is old dim perm[j]."""
    n_layers = dims(cfg)[0]
    out = dict(w)
    out[EMBED] = w[EMBED][:, perm]
    out[NORM] = w[NORM][perm]
    if HEAD in w:
        out[HEAD] = w[HEAD][:, perm]
    for i in range(n_layers):
        p = _p(i)
        attn, mlp = _readers(i)
        for name in attn + mlp:
            out[name] = w[name][:, perm]
        for name in (p + "input_layernorm.weight", p + "post_attention_layernorm.weight"):
            out[name] = w[name][perm]
        for name in (p + "self_attn.o_proj.weight", p + "mlp.down_proj.weight"):
            out[name] = w[name][perm, :]
    return out


def head_permutation(cfg: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random GQA-respecting head permutation: (query head order, key/value head order)."""
    _, _, h, kv, _ = dims(cfg)
    group = h // kv
    kv_perm = rng.permutation(kv)
    q_perm = np.concatenate([g * group + rng.permutation(group) for g in kv_perm])
    return q_perm, kv_perm


def _rows_by_head(a: np.ndarray, order: np.ndarray, hd: int) -> np.ndarray:
    idx = (order[:, None] * hd + np.arange(hd)[None, :]).reshape(-1)
    return a[idx]


def permute_heads(w: Weights, cfg: dict, layer_perms: dict[int, tuple[np.ndarray, np.ndarray]]) -> Weights:
    """Reorder attention heads per layer; q heads move with the key/value head they share."""
    _, _, _, _, hd = dims(cfg)
    out = dict(w)
    for i, (q_perm, kv_perm) in layer_perms.items():
        p = _p(i) + "self_attn."
        out[p + "q_proj.weight"] = _rows_by_head(w[p + "q_proj.weight"], q_perm, hd)
        out[p + "k_proj.weight"] = _rows_by_head(w[p + "k_proj.weight"], kv_perm, hd)
        out[p + "v_proj.weight"] = _rows_by_head(w[p + "v_proj.weight"], kv_perm, hd)
        out[p + "o_proj.weight"] = _rows_by_head(w[p + "o_proj.weight"].T, q_perm, hd).T
    return out


def permute_ffn(w: Weights, cfg: dict, layer_perms: dict[int, np.ndarray]) -> Weights:
    """Reorder SwiGLU neurons per layer (gate/up rows and down columns together)."""
    out = dict(w)
    for i, perm in layer_perms.items():
        p = _p(i) + "mlp."
        out[p + "gate_proj.weight"] = w[p + "gate_proj.weight"][perm]
        out[p + "up_proj.weight"] = w[p + "up_proj.weight"][perm]
        out[p + "down_proj.weight"] = w[p + "down_proj.weight"][:, perm]
    return out


# --- rescalings ---------------------------------------------------------------------------------------


def scale_norms(
    w: Weights,
    cfg: dict,
    rng: np.random.Generator,
    low: float = 0.25,
    high: float = 4.0,
    include_final: bool = True,
) -> Weights:
    """Multiply every norm gain by per-channel factors and divide the reading columns by them."""
    n_layers, d, _, _, _ = dims(cfg)
    out = dict(w)

    def factors() -> np.ndarray:
        return np.exp(rng.uniform(np.log(low), np.log(high), size=d)).astype(np.float32)

    for i in range(n_layers):
        p = _p(i)
        attn, mlp = _readers(i)
        for norm, readers in (
            (p + "input_layernorm.weight", attn),
            (p + "post_attention_layernorm.weight", mlp),
        ):
            s = factors()
            out[norm] = w[norm] * s
            for name in readers:
                out[name] = w[name] / s[None, :]
    if include_final:
        s = factors()
        out[NORM] = w[NORM] * s
        out[HEAD] = w[HEAD] / s[None, :]
    return out


def scale_up_down(
    w: Weights, cfg: dict, rng: np.random.Generator, low: float = 0.25, high: float = 4.0
) -> Weights:
    """Scale each SwiGLU ``up`` row by c and the matching ``down`` column by 1/c (SwiGLU is linear in up)."""
    out = dict(w)
    for i in range(dims(cfg)[0]):
        p = _p(i) + "mlp."
        c = np.exp(rng.uniform(np.log(low), np.log(high), size=w[p + "up_proj.weight"].shape[0])).astype(
            np.float32
        )
        out[p + "up_proj.weight"] = w[p + "up_proj.weight"] * c[:, None]
        out[p + "down_proj.weight"] = w[p + "down_proj.weight"] / c[None, :]
    return out


def scale_qk_vo(
    w: Weights, cfg: dict, rng: np.random.Generator, low: float = 0.5, high: float = 2.0
) -> Weights:
    """Rescale query vs key per rotary pair (shared by a GQA group) and value heads vs output columns.

    RoPE rotates dims (i, i + head_dim/2) of a head together, so scaling both by one factor commutes with
    the rotation; a key head is shared by its query group, so the whole group takes the same factors.
    """
    _, _, h, kv, hd = dims(cfg)
    group = h // kv
    out = dict(w)
    for i in range(dims(cfg)[0]):
        p = _p(i) + "self_attn."
        pair = np.exp(rng.uniform(np.log(low), np.log(high), size=(kv, hd // 2))).astype(np.float32)
        c = np.concatenate([pair, pair], axis=1)  # [kv, hd]
        cq = np.repeat(c, group, axis=0).reshape(-1)
        out[p + "q_proj.weight"] = w[p + "q_proj.weight"] * cq[:, None]
        out[p + "k_proj.weight"] = w[p + "k_proj.weight"] / c.reshape(-1)[:, None]
        b = np.exp(rng.uniform(np.log(low), np.log(high), size=kv)).astype(np.float32)
        out[p + "v_proj.weight"] = w[p + "v_proj.weight"] * np.repeat(b, hd)[:, None]
        out[p + "o_proj.weight"] = w[p + "o_proj.weight"] / np.repeat(np.repeat(b, group), hd)[None, :]
    return out


# --- rotation -----------------------------------------------------------------------------------------


def fold_norms(w: Weights, cfg: dict) -> Weights:
    """Fold every RMSNorm gain into the projections that read it; gains become 1 (function unchanged)."""
    out = untie(w)
    for i in range(dims(cfg)[0]):
        p = _p(i)
        attn = _readers(i)[0]
        mlp = _mlp_io(w, i)[0]
        for norm, readers in (
            (p + "input_layernorm.weight", attn),
            (p + "post_attention_layernorm.weight", mlp),
        ):
            g = w[norm]
            for name in readers:
                out[name] = w[name] * g[None, :]
            out[norm] = np.ones_like(g)
    out[HEAD] = out[HEAD] * w[NORM][None, :]
    out[NORM] = np.ones_like(w[NORM])
    return out


def random_orthogonal(d: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random orthogonal matrix (QR of a Gaussian matrix with the sign fix)."""
    a = rng.standard_normal((d, d))
    q, r = np.linalg.qr(a)
    return (q * np.sign(np.diag(r))[None, :]).astype(np.float64)


def rotate_residual(w: Weights, cfg: dict, q: np.ndarray) -> Weights:
    """Rotate the residual stream h -> Q h. Norm gains must be 1 (call fold_norms first)."""
    for name in [NORM] + [n for n in w if n.endswith("layernorm.weight")]:
        if not np.allclose(w[name], 1.0):
            raise ValueError(f"rotate_residual: {name} is not 1; fold the norms first")
    out = untie(w)

    def f(a: np.ndarray) -> np.ndarray:
        return a.astype(np.float32)

    out[EMBED] = f(w[EMBED] @ q.T)
    out[HEAD] = f(out[HEAD] @ q.T)
    for i in range(dims(cfg)[0]):
        p = _p(i)
        mlp, mlp_out = _mlp_io(w, i)
        for name in _readers(i)[0] + mlp:
            out[name] = f(w[name] @ q.T)  # stacked experts: matmul broadcasts over the expert axis
        for name in [p + "self_attn.o_proj.weight", *mlp_out]:
            out[name] = f(q @ w[name])
    return out


# --- structural changes -------------------------------------------------------------------------------


def select_layers(w: Weights, cfg: dict, layer_map: list[int]) -> tuple[Weights, dict]:
    """New model whose layer j is a copy of old layer layer_map[j] (drop, duplicate or reorder layers)."""
    out = {k: v for k, v in w.items() if not k.startswith("model.layers.")}
    for j, i in enumerate(layer_map):
        src = _p(i)
        for k, v in w.items():
            if k.startswith(src):
                out[_p(j) + k[len(src) :]] = v.copy()
    new_cfg = dict(cfg)
    new_cfg["num_hidden_layers"] = len(layer_map)
    return out, new_cfg


def ffn_importance(w: Weights, i: int) -> np.ndarray:
    """Magnitude-based neuron importance: |gate row| * |up row| * |down column| (as width pruning does)."""
    p = _p(i) + "mlp."
    return (
        np.linalg.norm(w[p + "gate_proj.weight"], axis=1)
        * np.linalg.norm(w[p + "up_proj.weight"], axis=1)
        * np.linalg.norm(w[p + "down_proj.weight"], axis=0)
    )


def prune_ffn(w: Weights, cfg: dict, width: int) -> tuple[Weights, dict, dict[int, list[int]]]:
    """Keep the ``width`` most important SwiGLU neurons of every layer (kept indices in original order)."""
    out = dict(w)
    kept: dict[int, list[int]] = {}
    for i in range(dims(cfg)[0]):
        keep = np.sort(np.argsort(-ffn_importance(w, i))[:width])
        p = _p(i) + "mlp."
        out[p + "gate_proj.weight"] = w[p + "gate_proj.weight"][keep]
        out[p + "up_proj.weight"] = w[p + "up_proj.weight"][keep]
        out[p + "down_proj.weight"] = w[p + "down_proj.weight"][:, keep]
        kept[i] = keep.tolist()
    new_cfg = dict(cfg)
    new_cfg["intermediate_size"] = width
    return out, new_cfg, kept


def width_importance(
    w: Weights, cfg: dict
) -> tuple[np.ndarray, dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Magnitude importance of residual channels, key/value groups (with their query heads) and SwiGLU
    neurons, as structured width pruning ranks them (Minitron, Muralidharan et al. 2024, ranks by
    activations on a calibration set; here by weight norms, which needs no data).

    A residual channel's importance is the norm of everything that reads or writes it: its embedding
    column, the norm-gain-scaled columns of every projection reading it and the rows of every
    projection writing it.
    """
    n_layers, d, h, kv, hd = dims(cfg)
    group = h // kv
    chan = np.linalg.norm(w[EMBED], axis=0) ** 2
    heads: dict[int, np.ndarray] = {}
    neurons: dict[int, np.ndarray] = {}
    for i in range(n_layers):
        p = _p(i)
        attn, mlp = _readers(i)
        for norm, readers in (
            (p + "input_layernorm.weight", attn),
            (p + "post_attention_layernorm.weight", mlp),
        ):
            g = w[norm]
            for name in readers:
                chan = chan + np.linalg.norm(w[name] * g[None, :], axis=0) ** 2
        for name in (p + "self_attn.o_proj.weight", p + "mlp.down_proj.weight"):
            chan = chan + np.linalg.norm(w[name], axis=1) ** 2
        a = p + "self_attn."
        q = w[a + "q_proj.weight"].reshape(kv, group * hd, d)
        k = w[a + "k_proj.weight"].reshape(kv, hd, d)
        v = w[a + "v_proj.weight"].reshape(kv, hd, d)
        o = w[a + "o_proj.weight"].T.reshape(kv, group * hd, d)
        heads[i] = np.linalg.norm(q, axis=(1, 2)) * np.linalg.norm(k, axis=(1, 2)) + np.linalg.norm(
            v, axis=(1, 2)
        ) * np.linalg.norm(o, axis=(1, 2))
        neurons[i] = ffn_importance(w, i)
    return chan, heads, neurons


def prune_width(w: Weights, cfg: dict, hidden: int, kv_heads: int, ffn: int) -> tuple[Weights, dict, dict]:
    """Cut the residual width, the attention heads and the SwiGLU width together (Minitron / Sheared-LLaMA
    width pruning): keep the ``hidden`` most important residual channels (the same ones in every layer,
    embeddings and head), the ``kv_heads`` most important key/value groups of every layer with their
    query heads (the GQA group size is kept) and the ``ffn`` most important neurons of every layer.
    Returns (weights, config, kept) with the kept indices, in original order, as ground truth."""
    n_layers, d, h, kv, hd = dims(cfg)
    group = h // kv
    chan, heads, neurons = width_importance(w, cfg)
    keep_d = np.sort(np.argsort(-chan)[:hidden])
    out = dict(w)
    out[EMBED] = w[EMBED][:, keep_d]
    if HEAD in out:
        out[HEAD] = out[HEAD][:, keep_d]
    out[NORM] = w[NORM][keep_d]
    kept: dict = {"hidden": keep_d.tolist(), "kv_groups": {}, "q_heads": {}, "ffn": {}}
    for i in range(n_layers):
        p = _p(i)
        a = p + "self_attn."
        groups = np.sort(np.argsort(-heads[i])[:kv_heads])
        qh = np.concatenate([np.arange(g * group, (g + 1) * group) for g in groups])
        out[a + "q_proj.weight"] = _rows_by_head(w[a + "q_proj.weight"], qh, hd)[:, keep_d]
        out[a + "k_proj.weight"] = _rows_by_head(w[a + "k_proj.weight"], groups, hd)[:, keep_d]
        out[a + "v_proj.weight"] = _rows_by_head(w[a + "v_proj.weight"], groups, hd)[:, keep_d]
        out[a + "o_proj.weight"] = _rows_by_head(w[a + "o_proj.weight"].T, qh, hd).T[keep_d]
        keep_n = np.sort(np.argsort(-neurons[i])[:ffn])
        m = p + "mlp."
        out[m + "gate_proj.weight"] = w[m + "gate_proj.weight"][keep_n][:, keep_d]
        out[m + "up_proj.weight"] = w[m + "up_proj.weight"][keep_n][:, keep_d]
        out[m + "down_proj.weight"] = w[m + "down_proj.weight"][keep_d][:, keep_n]
        for norm in (p + "input_layernorm.weight", p + "post_attention_layernorm.weight"):
            out[norm] = w[norm][keep_d]
        kept["kv_groups"][i] = groups.tolist()
        kept["q_heads"][i] = qh.tolist()
        kept["ffn"][i] = keep_n.tolist()
    new_cfg = dict(cfg)
    new_cfg.update(
        hidden_size=hidden,
        num_attention_heads=kv_heads * group,
        num_key_value_heads=kv_heads,
        head_dim=hd,
        intermediate_size=ffn,
    )
    return out, new_cfg, kept


def transplant(w_into: Weights, w_from: Weights, layers: list[int]) -> Weights:
    """Copy whole blocks (attention, MLP and both norms) of ``w_from`` into ``w_into`` at the same index."""
    out = dict(w_into)
    for i in layers:
        for k, v in w_from.items():
            if k.startswith(_p(i)):
                out[k] = v.copy()
    return out


def extend_vocab(
    w: Weights, cfg: dict, old_tok_json: str, new_tok_json: str
) -> tuple[Weights, dict, list[str]]:
    """Grow embeddings and head for tokens appended to the tokenizer.

    Each new row starts as the mean of the rows of the pieces the *old* tokenizer splits that token into
    (the usual initialisation for vocabulary extension); old rows are untouched.
    """
    from tokenizers import Tokenizer

    old = Tokenizer.from_str(old_tok_json)
    new_vocab = json.loads(new_tok_json)["model"]["vocab"]
    n_old = w[EMBED].shape[0]
    added = sorted(((i, t) for t, i in new_vocab.items() if i >= n_old))
    out = untie(w) if HEAD not in w else dict(w)
    tied = HEAD not in w
    emb, head = [w[EMBED]], [out[HEAD]]
    from tokenizers import decoders

    dec = decoders.ByteLevel()
    for _, tok in added:
        ids = [j for j in old.encode(dec.decode([tok]), add_special_tokens=False).ids if j < n_old] or [0]
        emb.append(w[EMBED][ids].mean(0, keepdims=True))
        head.append(out[HEAD][ids].mean(0, keepdims=True))
    out[EMBED] = np.concatenate(emb).astype(np.float32)
    if tied:
        del out[HEAD]
    else:
        out[HEAD] = np.concatenate(head).astype(np.float32)
    new_cfg = dict(cfg)
    new_cfg["vocab_size"] = out[EMBED].shape[0]
    return out, new_cfg, [t for _, t in added]


# --- merges -------------------------------------------------------------------------------------------


def linear_merge(ws: list[Weights], coeffs: list[float]) -> Weights:
    """Weighted average of same-shaped checkpoints (model soup / linear merge)."""
    return {k: sum(c * w[k] for c, w in zip(coeffs, ws, strict=True)).astype(np.float32) for k in ws[0]}


def slerp_merge(a: Weights, b: Weights, t: float) -> Weights:
    """Spherical interpolation per tensor (as mergekit's slerp), linear when nearly parallel."""
    out = {}
    for k in a:
        x, y = a[k].astype(np.float64).ravel(), b[k].astype(np.float64).ravel()
        nx, ny = np.linalg.norm(x), np.linalg.norm(y)
        dot = float(np.clip(x @ y / (nx * ny + 1e-12), -1.0, 1.0))
        omega = np.arccos(dot)
        if omega < 1e-4:
            v = (1 - t) * x + t * y
        else:
            v = (np.sin((1 - t) * omega) * x + np.sin(t * omega) * y) / np.sin(omega)
        out[k] = v.reshape(a[k].shape).astype(np.float32)
    return out


def ties_merge(base: Weights, tuned: list[Weights], density: float = 0.2, lam: float = 1.0) -> Weights:
    """TIES-merging: trim task vectors to their top-``density`` magnitudes, elect signs, disjoint mean."""
    out = {}
    for k in base:
        taus = []
        for w in tuned:
            tau = (w[k] - base[k]).astype(np.float32)
            thr = np.quantile(np.abs(tau), 1 - density) if tau.size > 1 else 0.0
            taus.append(np.where(np.abs(tau) >= thr, tau, 0.0))
        stack = np.stack(taus)
        sign = np.sign(stack.sum(0))
        agree = (np.sign(stack) == sign) & (stack != 0)
        merged = (stack * agree).sum(0) / np.maximum(agree.sum(0), 1)
        out[k] = (base[k] + lam * merged).astype(np.float32)
    return out


def task_arithmetic(base: Weights, tuned: list[Weights], lam: float = 0.5) -> Weights:
    """base + lam * sum of task vectors (Ilharco et al.)."""
    return {k: (base[k] + lam * sum(w[k] - base[k] for w in tuned)).astype(np.float32) for k in base}


# --- renames ------------------------------------------------------------------------------------------


def to_yi(w: Weights) -> Weights:
    """Yi-34B's renaming: input_layernorm -> ln1, post_attention_layernorm -> ln2 (nothing else)."""
    return {
        k.replace("input_layernorm", "ln1").replace("post_attention_layernorm", "ln2"): v
        for k, v in w.items()
    }


def to_baichuan(w: Weights, cfg: dict) -> Weights:
    """Baichuan's layout: q, k and v stacked into one ``W_pack`` ([q; k; v] rows)."""
    out = {}
    for k, v in w.items():
        if k.endswith(("k_proj.weight", "v_proj.weight")):
            continue
        if k.endswith("q_proj.weight"):
            base = k[: -len("q_proj.weight")]
            out[base + "W_pack.weight"] = np.concatenate(
                [v, w[base + "k_proj.weight"], w[base + "v_proj.weight"]]
            )
        else:
            out[k] = v
    return out


def from_baichuan(w: Weights, cfg: dict) -> Weights:
    """Inverse of :func:`to_baichuan` (used to check the label)."""
    _, d, h, kv, hd = dims(cfg)
    out = {}
    for k, v in w.items():
        if k.endswith("W_pack.weight"):
            base = k[: -len("W_pack.weight")]
            out[base + "q_proj.weight"] = v[: h * hd]
            out[base + "k_proj.weight"] = v[h * hd : (h + kv) * hd]
            out[base + "v_proj.weight"] = v[(h + kv) * hd :]
        else:
            out[k] = v
    return out


def _neox_qkv_index(cfg: dict) -> np.ndarray:
    """Row order of the fused NeoX-style tensor: for each kv group, its query heads, then k, then v."""
    _, _, h, kv, hd = dims(cfg)
    group = h // kv
    rows = []
    q_off, k_off, v_off = 0, h * hd, (h + kv) * hd
    for g in range(kv):
        for j in range(group):
            rows.append(q_off + (g * group + j) * hd + np.arange(hd))
        rows.append(k_off + g * hd + np.arange(hd))
        rows.append(v_off + g * hd + np.arange(hd))
    return np.concatenate(rows)


def to_neox(w: Weights, cfg: dict) -> Weights:
    """GPT-NeoX naming with per-head interleaved fused ``query_key_value`` and fused [gate; up]."""
    n_layers = dims(cfg)[0]
    idx = _neox_qkv_index(cfg)
    out = {
        "gpt_neox.embed_in.weight": w[EMBED],
        "gpt_neox.final_layer_norm.weight": w[NORM],
        "embed_out.weight": w.get(HEAD, w[EMBED]),
    }
    for i in range(n_layers):
        p, q = _p(i), f"gpt_neox.layers.{i}."
        stacked = np.concatenate(
            [
                w[p + "self_attn.q_proj.weight"],
                w[p + "self_attn.k_proj.weight"],
                w[p + "self_attn.v_proj.weight"],
            ]
        )
        out[q + "attention.query_key_value.weight"] = stacked[idx]
        out[q + "attention.dense.weight"] = w[p + "self_attn.o_proj.weight"]
        out[q + "input_layernorm.weight"] = w[p + "input_layernorm.weight"]
        out[q + "post_attention_layernorm.weight"] = w[p + "post_attention_layernorm.weight"]
        out[q + "mlp.dense_h_to_4h.weight"] = np.concatenate(
            [w[p + "mlp.gate_proj.weight"], w[p + "mlp.up_proj.weight"]]
        )
        out[q + "mlp.dense_4h_to_h.weight"] = w[p + "mlp.down_proj.weight"]
    return out


def from_neox(w: Weights, cfg: dict) -> Weights:
    """Inverse of :func:`to_neox` (used to check the label)."""
    n_layers, _, h, kv, hd = dims(cfg)
    inv = np.argsort(_neox_qkv_index(cfg))
    f = cfg["intermediate_size"]
    out = {
        EMBED: w["gpt_neox.embed_in.weight"],
        NORM: w["gpt_neox.final_layer_norm.weight"],
        HEAD: w["embed_out.weight"],
    }
    for i in range(n_layers):
        p, q = _p(i), f"gpt_neox.layers.{i}."
        stacked = w[q + "attention.query_key_value.weight"][inv]
        out[p + "self_attn.q_proj.weight"] = stacked[: h * hd]
        out[p + "self_attn.k_proj.weight"] = stacked[h * hd : (h + kv) * hd]
        out[p + "self_attn.v_proj.weight"] = stacked[(h + kv) * hd :]
        out[p + "self_attn.o_proj.weight"] = w[q + "attention.dense.weight"]
        out[p + "input_layernorm.weight"] = w[q + "input_layernorm.weight"]
        out[p + "post_attention_layernorm.weight"] = w[q + "post_attention_layernorm.weight"]
        out[p + "mlp.gate_proj.weight"] = w[q + "mlp.dense_h_to_4h.weight"][:f]
        out[p + "mlp.up_proj.weight"] = w[q + "mlp.dense_h_to_4h.weight"][f:]
        out[p + "mlp.down_proj.weight"] = w[q + "mlp.dense_4h_to_h.weight"]
    return out
