"""Per-layer invariants of a LLaMA-family block, evaluated on a fixed set of anchor tokens.

WHY these quantities. A copier can transform weights without changing the function (DESIGN.md,
"obfuscated-copy"): permute residual dimensions, heads (respecting GQA groups) or FFN neurons; move
per-channel scales between an RMSNorm gain and the next projection, between ``ffn_up`` and
``ffn_down``, or between ``attn_q`` and ``attn_k``; fold norm gains into projections and rotate the
residual stream by any orthogonal matrix. Statistics taken on raw weights (HuRef's products, AWM's CKA
after a linear assignment, model tracing's neuron matching) each break under one of these (HuRef,
Zeng et al. NeurIPS 2024, is broken by a rotation through the norm gains; model tracing, Zhu et al.
ICML 2025, github.com/ahmeda14960/model-tracing, by a rotation of the residual stream; AWM,
github.com/LUMIA-Group/AWM, looks at attention only).

Here every quantity is a *token-by-token* matrix computed from the model's own embedding rows of a set
of anchor tokens (chosen by token string, so two models are compared on the same tokens whatever their
ids), pushed through the block's own weights:

- ``qk``:  X Wq_g^T Wk_g X^T, summed over all query heads (kv heads expanded for GQA);
- ``ov``:  (X Wv_g^T)(X Wo)^T, the value written by token s read out along token t;
- ``ffn``: (X Wup_g^T)(X Wdown)^T, the up/down path summed over neurons;
- ``gate``: (X Wgate_g^T)(X Wgate_g^T)^T, the Gram matrix of the gate pre-activations.

``X`` is the anchor embedding, rows scaled to unit RMS (what RMSNorm feeds a block) and then whitened
(:func:`whiten_rows`), and ``W_g`` is a projection with the preceding RMSNorm gain folded in (W * g).
All four are bilinear in the weights: the gate's SiLU is left out on purpose, because a nonlinearity
evaluated on whitened (not real) inputs has no meaning, and the bilinear forms are already blind to the
neuron permutation and up/down rescaling. Each matrix is unchanged by every
transformation above: a residual rotation Q maps X -> XQ and W_g -> W_g Q, heads/neurons are summed
over, and the allowed rescalings cancel inside each product. They are not unchanged by training, which
is the point: fine-tuning moves them a little, independent training moves them completely.
"""

from __future__ import annotations

import numpy as np

COMPONENTS = ("qk", "ov", "ffn", "gate")


def rms_rows(x: np.ndarray) -> np.ndarray:
    """Scale each row to unit root-mean-square, as RMSNorm (without its gain) does."""
    r = np.sqrt(np.mean(x * x, axis=1, keepdims=True))
    return x / np.maximum(r, 1e-12)


WHITEN_SHRINK = 0.01


def whiten_rows(x: np.ndarray, shrink: float = WHITEN_SHRINK) -> np.ndarray:
    """Symmetric (Loewdin) orthonormalisation of the anchor rows, lightly regularised:
    (X X^T + lambda I)^(-1/2) X with lambda = ``shrink`` * mean eigenvalue of X X^T.

    WHY: token-space invariants X M X^T of two *independent* models correlate through the embedding
    geometry alone (similar tokens get similar vectors in any model trained on text), which is exactly
    the convergence that makes naive weight statistics cry wolf (on the zoo, unwhitened invariants of
    same-data twins correlate at 0.2-0.4). Whitening makes the anchors' Gram matrix (close to) the
    identity, removing that shared geometry, while staying invariant to any orthogonal transformation
    of the residual stream (X -> XQ gives (X X^T + lambda I)^(-1/2) X Q). It is the low-dimensional
    analogue of aligning the residual bases by orthogonal Procrustes on shared-token embeddings (the
    polar factor), the role linear assignment plays in AWM. The small ridge keeps the directions of tiny
    eigenvalue from amplifying quantisation noise: on the zoo, shrink 0.01 lifts a Q4_0 copy's layer
    similarity from 0.93 to 0.98 while independent twins move from 0.03 to 0.04.
    """
    x = np.asarray(x, dtype=np.float64)
    g = x @ x.T
    vals, vecs = np.linalg.eigh(g)
    vals = np.maximum(vals, 0.0)
    lam = shrink * float(vals.mean()) if vals.size else 0.0
    floor = max(float(vals.max(initial=0.0)), 1e-300) * 1e-12
    inv_sqrt = (vecs / np.sqrt(vals + lam + floor)) @ vecs.T
    return inv_sqrt @ x


def expand_kv(a: np.ndarray, n_heads: int, n_kv: int, head_dim: int) -> np.ndarray:
    """Repeat each key/value head's columns for the query heads that share it (GQA).

    ``a`` is ``[m, n_kv * head_dim]``; the result is ``[m, n_heads * head_dim]`` in the order LLaMA's
    ``repeat_kv`` uses (query head h reads kv head h // (n_heads // n_kv)).
    """
    if n_kv == n_heads:
        return a
    group = n_heads // n_kv
    m = a.shape[0]
    return np.repeat(a.reshape(m, n_kv, 1, head_dim), group, axis=2).reshape(m, n_heads * head_dim)


class BlockInvariants:
    """Accumulates one block's invariants from its tensors, one tensor at a time.

    Several probe sets (named groups of row vectors in the residual space: whitened anchors, fixed
    random probes, raw anchors for neuron profiles) are stacked into one ``[n, d]`` float32 matrix so
    that each projection costs one matrix product. Streaming matters for 7B-scale models: each
    projection is reduced to an ``[n, out]`` matrix as soon as it is read, so peak memory is one tensor
    plus a few ``n x out`` products. Norm gains are folded into the probes (``(X * g) W^T`` equals
    ``X (W * g)^T``), which avoids copying the projection.
    """

    def __init__(self, groups: dict[str, np.ndarray], n_heads: int, n_kv: int, head_dim: int) -> None:
        self.names = list(groups)
        self.bounds: dict[str, tuple[int, int]] = {}
        start = 0
        for name, g in groups.items():
            self.bounds[name] = (start, start + len(g))
            start += len(g)
        self.stack = np.concatenate([np.asarray(g, dtype=np.float32) for g in groups.values()], axis=0)
        self.n_heads, self.n_kv, self.head_dim = n_heads, n_kv, head_dim
        self.parts: dict[str, np.ndarray] = {}
        self.gains: dict[str, np.ndarray] = {}

    def set_gain(self, which: str, gain: np.ndarray) -> None:
        """``which`` is "attn" or "ffn": the RMSNorm gain that precedes those projections."""
        self.gains[which] = np.asarray(gain, dtype=np.float32).reshape(-1)

    def input_for(self, role: str, shape: tuple[int, ...]) -> tuple[str | None, np.ndarray]:
        """How a tensor of ``role`` and ``shape`` is reduced: ("right", X) for ``X @ W.T`` (q/k/v,
        gate, up: the preceding norm gain folded into X), ("left", X) for ``X @ W`` (attention output,
        down), (None, ...) when the shape does not fit (the tensor is then left out of the invariants).
        What lets the block reader (:mod:`taoke.weights.stream`) compute the product without ``W``."""
        if role in ("attn_q", "attn_k", "attn_v", "ffn_gate", "ffn_up"):
            g = self.gains.get("attn" if role.startswith("attn") else "ffn")
            x = self.stack if g is None or g.shape[0] != self.stack.shape[1] else self.stack * g[None, :]
            if len(shape) == 2 and shape[1] == x.shape[1]:
                return "right", x
        elif role in ("attn_output", "ffn_down"):
            if len(shape) == 2 and shape[0] == self.stack.shape[1]:
                return "left", self.stack
        return None, self.stack

    def add(self, role: str, w: np.ndarray) -> None:
        """Feed one canonical tensor of this block (role: attn_q/k/v/output, ffn_gate/up/down)."""
        w = np.asarray(w, dtype=np.float32)
        side, x = self.input_for(role, w.shape)
        if side == "right":
            self.parts[role] = x @ w.T
        elif side == "left":
            self.parts[role] = x @ w

    def group(self, name: str, role: str) -> np.ndarray | None:
        p = self.parts.get(role)
        if p is None:
            return None
        a, b = self.bounds[name]
        return p[a:b]

    def finish(self, name: str) -> dict[str, np.ndarray]:
        """The invariant matrices of probe group ``name`` (missing or inconsistent tensors -> omitted)."""
        p = {r: v for r in self.parts if (v := self.group(name, r)) is not None}
        p = {k: v.astype(np.float64) for k, v in p.items()}
        out: dict[str, np.ndarray] = {}
        h, kv, hd = self.n_heads, self.n_kv, self.head_dim
        width = {k: v.shape[1] for k, v in p.items()}
        q_ok = width.get("attn_q") == h * hd

        def kv_ok(role: str) -> bool:
            return width.get(role) == kv * hd

        if q_ok and kv_ok("attn_k"):
            out["qk"] = p["attn_q"] @ expand_kv(p["attn_k"], h, kv, hd).T
        if kv_ok("attn_v") and width.get("attn_output") == h * hd:
            out["ov"] = expand_kv(p["attn_v"], h, kv, hd) @ p["attn_output"].T
        # A gated FFN (SwiGLU, GeGLU) and an ungated one (GPT-NeoX, BERT: down(act(up x))) share the
        # up/down path; an ungated block simply has no ``gate`` component.
        ffn_ok = len({width.get(r) for r in ("ffn_gate", "ffn_up", "ffn_down") if r in p}) == 1
        if "ffn_up" in p and "ffn_down" in p and ffn_ok:
            out["ffn"] = p["ffn_up"] @ p["ffn_down"].T
        if "ffn_gate" in p:
            out["gate"] = p["ffn_gate"] @ p["ffn_gate"].T
        return {k: v.astype(np.float32) for k, v in out.items()}
