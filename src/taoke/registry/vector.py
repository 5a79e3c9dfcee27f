"""The compact vector of a fingerprint: what the approximate-nearest-neighbour shortlist searches.

WHY this construction. ``compare`` is invariant to renames, permutations of residual dimensions /
heads / neurons, the function-preserving rescalings, rotation of the residual stream, dtype and
quantization, because it works on *token-space* invariants: per layer and component (qk, ov, ffn,
gate) an ``m x m`` matrix over anchor tokens chosen by a hash of their bytes
(:mod:`taoke.weights.invariants`). Those matrices are already free of every basis the
copier controls, and their size does not depend on the model's width. What remains model-specific is
*which* tokens the rows and columns are, and how many layers there are. So the vector is a feature
hash (Weinberger et al., ICML 2009) of the off-diagonal entries keyed by the *token keys* of the pair,
not by their positions:

- entry ``(a, b)`` of component ``c`` goes to bucket ``h(c, key_a, key_b) mod DIM`` with sign
  ``s(c, key_a, key_b)``; two models that share a token pair put it in the same bucket whatever the
  token ids, so a reordered or extended vocabulary still lines up (pairs of new tokens are noise);
- each layer's entries are z-scored first (correlation, as compare uses: scale-free, so quantization
  and global rescaling change nothing), and layers are *summed*: a pruned or depth-upscaled model
  keeps most of the sum (3 of 4 layers -> cosine ~ sqrt(3/4)), a partial copy keeps its share;
- the result is L2-normalised, so inner product = cosine ~ the correlation compare would see.

Independent models land at cosine ~ N(0, 1/DIM) plus the small convergence of same-data twins;
derived ones at 0.3-1.0 (measured on the zoo, docs/registry.md). The vector only *shortlists*: every
verdict comes from a full ``compare`` against the stored fingerprint.

WHY a second, raw-basis vector (:func:`raw_vector`, stored beside the first since vector version 2):
the token-keyed vector depends on the suspect's tokenizer files. A copy that ships none (what
``taoke llamafy`` of a GGUF used to write) or ships another tokenizer picks other anchor tokens, and
its token-keyed vector sits at cosine ~0 from its own parent (measured: -0.016 for a tokenizer-less
copy of base-a). The fingerprint's ``rinv`` invariants are evaluated on fixed, seeded probe vectors of
the residual stream instead of token rows: blind to a rotation, but independent of the tokenizer. Hashed
the same way (keyed by probe pair), they put a copy that kept the residual basis at cosine ~1 from its
parent whatever tokenizer it ships (1.000 for that copy), and independent models at ~N(0, 1/DIM).
The search shortlists by both.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from taoke.weights.invariants import COMPONENTS

VECTOR_VERSION = 2  # 2: the stored vector is [token-keyed | raw-basis], 2 x DIM floats
DIM = 256
STORED_DIM = 2 * DIM


def _key_hash(key: bytes) -> np.uint64:
    digest = hashlib.blake2b(key, digest_size=8, person=b"taoke-ann").digest()
    return np.uint64(int.from_bytes(digest, "little"))


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-mixed 64-bit hash of a 64-bit integer (vectorised)."""
    x = x.astype(np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return x


def compact_vector(fp: Any, dim: int = DIM) -> np.ndarray:
    """The ``dim``-dimensional unit vector of a :class:`~taoke.weights.Fingerprint` (float32).

    A fingerprint without invariants (no decoder blocks) gives the zero vector: it is stored but can
    only be found by an exact content hash, never shortlisted.
    """
    out = np.zeros(dim, dtype=np.float64)
    comps = [c for c in COMPONENTS if c in fp.inv]
    if not comps:
        return out.astype(np.float32)
    m = int(fp.inv[comps[0]].shape[1])
    keys = list(fp.anchors[:m])
    if len(keys) < m:
        m = len(keys)
    h = np.array([_key_hash(k) for k in keys[:m]], dtype=np.uint64)
    mask = ~np.eye(m, dtype=bool)
    with np.errstate(over="ignore"):
        pair = (h[:, None] * np.uint64(0x9E3779B97F4A7C15)) ^ _mix(h[None, :] + np.uint64(0x632BE59BD9B4E019))
    for ci, comp in enumerate(comps):
        salt = np.uint64(((ci + 1) * 0xD6E8FEB86659FD93) & 0xFFFFFFFFFFFFFFFF)
        with np.errstate(over="ignore"):
            ph = _mix(pair[mask] + salt)
        _add_layers(out, ph, np.asarray(fp.inv[comp], dtype=np.float64)[:, :m, :m], mask)
    return _unit(out)


def _add_layers(out: np.ndarray, ph: np.ndarray, stack: np.ndarray, mask: np.ndarray) -> None:
    """Feature-hash each layer's off-diagonal invariants (centred, unit norm) into ``out``: bucket and
    sign from the 64-bit pair hashes ``ph`` (Weinberger et al. 2009)."""
    dim = out.shape[0]
    bucket = (ph % np.uint64(dim)).astype(np.int64)
    sign = np.where((ph >> np.uint64(63)) == 0, 1.0, -1.0)
    for layer in np.nan_to_num(stack):
        v = layer[mask]
        v = v - v.mean()
        n = np.linalg.norm(v)
        if n > 0:
            out += np.bincount(bucket, weights=sign * v / n, minlength=dim)


def _unit(out: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(out)
    return (out / norm if norm > 0 else out).astype(np.float32)


def raw_vector(fp: Any, dim: int = DIM) -> np.ndarray:
    """The ``dim``-dimensional unit vector of a fingerprint's raw-basis invariants (``rinv``): the same
    feature hash as :func:`compact_vector`, keyed by probe pair instead of token pair (the probes are
    fixed for a width, so two models of one width share them). Zero when there are none."""
    out = np.zeros(dim, dtype=np.float64)
    comps = [c for c in COMPONENTS if c in getattr(fp, "rinv", {})]
    if not comps:
        return out.astype(np.float32)
    k = int(fp.rinv[comps[0]].shape[1])
    mask = ~np.eye(k, dtype=bool)
    rows, cols = np.nonzero(mask)
    base = (rows.astype(np.uint64) << np.uint64(20)) ^ cols.astype(np.uint64) ^ np.uint64(fp.d_model << 40)
    for ci, comp in enumerate(comps):
        salt = np.uint64(((ci + 7) * 0xD6E8FEB86659FD93) & 0xFFFFFFFFFFFFFFFF)
        with np.errstate(over="ignore"):
            ph = _mix(_mix(base) + salt)
        _add_layers(out, ph, np.asarray(fp.rinv[comp], dtype=np.float64)[:, :k, :k], mask)
    return _unit(out)


def stored_vector(fp: Any) -> np.ndarray:
    """What the registry stores per model (vector version 2): ``[compact_vector | raw_vector]``."""
    return np.concatenate([compact_vector(fp), raw_vector(fp)]).astype(np.float32)
