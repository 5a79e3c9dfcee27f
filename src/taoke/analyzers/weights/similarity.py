"""Layer-by-layer similarity of two fingerprints' invariants, and the monotone layer map.

For every component (qk, ov, ffn, gate) and every pair (reference layer i, suspect layer j) the
similarity is the Pearson correlation of the off-diagonal entries of the two token-space invariant
matrices, restricted to the anchor tokens both vocabularies contain. Correlation is scale-free, so a
global rescaling (or a dtype round trip) changes nothing, and it is comparable across layers and sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from taoke.analyzers.weights.invariants import COMPONENTS


@dataclass
class SharedAnchors:
    """Indices of the anchor tokens both fingerprints hold (positions in each one's anchor list)."""

    ref: np.ndarray
    sus: np.ndarray
    n_ref: int
    n_sus: int


def shared_anchors(
    ref_keys: list[bytes], sus_keys: list[bytes], limit_ref: int, limit_sus: int
) -> SharedAnchors:
    """Match the first ``limit_*`` anchors of each side by token key (hash order preserved)."""
    pos = {k: i for i, k in enumerate(sus_keys[:limit_sus])}
    ref_idx, sus_idx = [], []
    for i, k in enumerate(ref_keys[:limit_ref]):
        j = pos.get(k)
        if j is not None:
            ref_idx.append(i)
            sus_idx.append(j)
    return SharedAnchors(
        np.asarray(ref_idx, dtype=np.int64),
        np.asarray(sus_idx, dtype=np.int64),
        min(limit_ref, len(ref_keys)),
        min(limit_sus, len(sus_keys)),
    )


def _offdiag_standardised(stack: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """[L, m, m] -> [L, m*(m-1)] rows of z-scored off-diagonal entries on the shared anchors."""
    sub = stack[:, idx][:, :, idx].astype(np.float64)
    m = len(idx)
    mask = ~np.eye(m, dtype=bool)
    flat = sub[:, mask]
    flat = flat - flat.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(flat, axis=1, keepdims=True)
    return np.where(norm > 0, flat / np.maximum(norm, 1e-300), 0.0)


def component_similarity(
    inv_ref: dict[str, np.ndarray], inv_sus: dict[str, np.ndarray], anchors: SharedAnchors
) -> dict[str, np.ndarray]:
    """Per component, the ``[L_ref, L_sus]`` matrix of correlations between layer invariants."""
    out: dict[str, np.ndarray] = {}
    if len(anchors.ref) < 8:
        return out
    for comp in COMPONENTS:
        if comp not in inv_ref or comp not in inv_sus:
            continue
        a = _offdiag_standardised(np.nan_to_num(inv_ref[comp]), anchors.ref)
        b = _offdiag_standardised(np.nan_to_num(inv_sus[comp]), anchors.sus)
        out[comp] = np.clip(a @ b.T, -1.0, 1.0)
    return out


def permutation_noise(
    inv_ref: dict[str, np.ndarray],
    inv_sus: dict[str, np.ndarray],
    anchors: SharedAnchors,
    n_perm: int = 24,
    seed: int = 0,
) -> tuple[float, float]:
    """Mean and SD of layer-pair scores when the suspect's anchors are shuffled (a no-correspondence null).

    The same random permutation is applied to rows and columns of every component and layer of the
    suspect, so the dependence between components and layers is kept and only the token (or probe)
    correspondence is destroyed. This measures how large a score pure noise produces *for this pair*:
    it shrinks as more anchors are shared, so it makes scores comparable between a pair sharing 48
    anchor tokens and one sharing 20 (different tokenizers).
    """
    comps = [c for c in inv_ref if c in inv_sus]
    if not comps or len(anchors.ref) < 4:
        return 0.0, 1.0
    rng = np.random.default_rng(seed)
    a = {c: _offdiag_standardised(np.nan_to_num(inv_ref[c]), anchors.ref) for c in comps}
    vals = []
    for _ in range(n_perm):
        idx = anchors.sus[rng.permutation(len(anchors.sus))]
        z = np.mean(
            [
                np.arctanh(
                    np.clip(
                        a[c] @ _offdiag_standardised(np.nan_to_num(inv_sus[c]), idx).T, -0.999999, 0.999999
                    )
                )
                for c in comps
            ],
            axis=0,
        )
        vals.append(z.ravel())
    v = np.concatenate(vals)
    return float(v.mean()), float(max(v.std(ddof=1), 1e-6))


def combine(sims: dict[str, np.ndarray]) -> np.ndarray:
    """Layer-pair similarity: the mean over components of Fisher-z transformed correlations, back to r."""
    if not sims:
        return np.zeros((0, 0))
    z = np.mean([np.arctanh(np.clip(s, -0.999999, 0.999999)) for s in sims.values()], axis=0)
    return np.tanh(z)


def monotone_layer_map(score: np.ndarray, threshold: float) -> list[int | None]:
    """For each suspect layer, the reference layer it comes from (or None), non-decreasing in depth.

    Dynamic programming over suspect layers: a suspect layer either maps to a reference layer at or
    after the previous mapped one (repeats allowed: SOLAR-style depth up-scaling duplicates layers;
    skips allowed: pruning drops them) and earns ``score - threshold``, or maps to none and earns 0.
    Maximising the total finds the map that a copy-and-edit would produce; layers whose best score is
    below the threshold stay unmatched (partial copies, independent layers).
    """
    n_ref, n_sus = score.shape
    if n_ref == 0 or n_sus == 0:
        return [None] * n_sus
    gain = score - threshold
    # state k = 0: nothing mapped yet; k = i + 1: the last mapped reference layer is i.
    dp = np.full(n_ref + 1, -np.inf)
    dp[0] = 0.0
    parents: list[np.ndarray] = []  # per suspect layer: for each state, (previous state, took?)
    for j in range(n_sus):
        new = dp.copy()  # skip suspect layer j: state unchanged
        par = np.stack([np.arange(n_ref + 1), np.zeros(n_ref + 1, dtype=np.int64)], axis=1)
        run_best, run_arg = dp[0], 0
        for i in range(n_ref):
            if dp[i + 1] > run_best:  # previous last mapped layer <= i (repeats allowed)
                run_best, run_arg = dp[i + 1], i + 1
            cand = run_best + gain[i, j]
            if cand > new[i + 1]:
                new[i + 1] = cand
                par[i + 1] = (run_arg, 1)
        parents.append(par)
        dp = new
    state = int(np.argmax(dp))
    result: list[int | None] = [None] * n_sus
    for j in range(n_sus - 1, -1, -1):
        prev, took = parents[j][state]
        if took:
            result[j] = state - 1
        state = int(prev)
    return result


def best_layer_map(score: np.ndarray, threshold: float) -> list[int | None]:
    """For each suspect layer, the reference layer with the highest score if it clears ``threshold``.

    Unlike :func:`monotone_layer_map` this allows the map to go back in depth, which SOLAR-style depth
    up-scaling does (layers [0..n-k] followed by [k..n] of the same model: the map restarts). The
    threshold is a significance level, so layers of an independent model stay unmatched.
    """
    n_ref, n_sus = score.shape
    if n_ref == 0:
        return [None] * n_sus
    best = np.argmax(score, axis=0)
    return [int(best[j]) if score[best[j], j] > threshold else None for j in range(n_sus)]
