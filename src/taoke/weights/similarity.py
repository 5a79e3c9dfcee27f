"""Layer-by-layer similarity of two fingerprints' invariants, and the layer map.

For every component (qk, ov, ffn, gate) and every pair (reference layer i, suspect layer j) the
similarity is the Pearson correlation of the off-diagonal entries of the two token-space invariant
matrices, restricted to the anchor tokens both vocabularies contain. Correlation is scale-free, so a
global rescaling (or a dtype round trip) changes nothing, and it is comparable across layers and sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from taoke.weights.invariants import COMPONENTS


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
    perms = np.stack([rng.permutation(len(anchors.sus)) for _ in range(n_perm)])
    # The same draws as shuffling ``anchors.sus`` itself: each side is standardised once and a draw is
    # a gather (:func:`permutation_scores`), not 24 re-standardisations of every layer.
    v = permutation_scores(inv_ref, inv_sus, anchors, perms).ravel()
    return float(v.mean()), float(max(v.std(ddof=1), 1e-6))


def permutation_scores(
    inv_ref: dict[str, np.ndarray],
    inv_sus: dict[str, np.ndarray],
    anchors: SharedAnchors,
    perms: np.ndarray,
    chunk: int = 128,
) -> np.ndarray:
    """``[n, L_ref, L_sus]`` layer-pair scores (mean Fisher-z over components) with the suspect's anchors
    (or probes) reordered by each row of ``perms`` (``[n, m]`` permutations of ``range(m)``, ``m`` the
    shared anchors), one permutation per draw shared by every component and layer.

    WHY the whole matrix per draw and not only its moments (:func:`permutation_noise`): a model-level
    test takes the maximum over layer pairs, and the permutation distribution of that maximum is what an
    exact (Monte Carlo) permutation p-value needs; the moments alone assume a Gaussian tail, which the
    raw-basis scores do not have (right-skewed: a few dominant directions of a trained block make the
    off-diagonal entries products of a few loadings). A row of ``perms`` equal to ``range(m)`` gives
    exactly :func:`component_similarity`'s scores.
    """
    comps = [c for c in inv_ref if c in inv_sus]
    m = len(anchors.ref)
    n_ref = next(iter(inv_ref.values())).shape[0] if inv_ref else 0
    n_sus = next(iter(inv_sus.values())).shape[0] if inv_sus else 0
    n = len(perms)
    out = np.zeros((n, n_ref, n_sus))
    if not comps or m < 4 or n == 0:
        return out
    # The mean and norm of a matrix's off-diagonal entries do not change when its rows and columns are
    # permuted together, so each side is standardised once (diagonal set to 0) and a draw is a gather.
    flat = (perms[:, :, None] * m + perms[:, None, :]).reshape(n, m * m)
    for c in comps:
        a = _standardised_square(np.nan_to_num(inv_ref[c]), anchors.ref).reshape(n_ref, m * m)
        # [m*m, L_sus] so that a gather of entries is one contiguous block per draw
        bt = np.ascontiguousarray(
            _standardised_square(np.nan_to_num(inv_sus[c]), anchors.sus).reshape(n_sus, m * m).T
        )
        for lo in range(0, n, chunk):
            r = np.matmul(a, bt[flat[lo : lo + chunk]])  # [c, L_ref, L_sus]
            out[lo : lo + chunk] += np.arctanh(np.clip(r, -0.999999, 0.999999))
    return out / len(comps)


def _standardised_square(stack: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """[L, m, m] on ``idx``: off-diagonal entries z-scored and scaled to unit norm as in
    :func:`_offdiag_standardised`, the diagonal set to 0 (so a dot product of two is their correlation)."""
    m = len(idx)
    mask = ~np.eye(m, dtype=bool)
    out = np.zeros((stack.shape[0], m, m))
    out[:, mask] = _offdiag_standardised(stack, idx)
    return out


def best_layer_map(score: np.ndarray, threshold: float) -> list[int | None]:
    """For each suspect layer, the reference layer with the highest score if it clears ``threshold``.

    The map may go back in depth, as SOLAR-style depth up-scaling does (layers [0..n-k] followed by
    [k..n] of the same model: the map restarts), so it is not constrained to be monotone. The threshold
    is a significance level, so layers of an independent model stay unmatched.
    """
    n_ref, n_sus = score.shape
    if n_ref == 0:
        return [None] * n_sus
    best = np.argmax(score, axis=0)
    return [int(best[j]) if score[best[j], j] > threshold else None for j in range(n_sus)]
