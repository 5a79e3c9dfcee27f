"""Recovering what a copier did: residual-stream transform, neuron permutations, raw-value identity,
vocabulary changes, moved scales and merge shares.

These functions *explain* a match (the ``transformations`` of a comparison); the lineage p-value does
not depend on them, because the invariants it uses are blind to these transformations by construction.
Each returns a typed result whose ``evidence`` states what it found; :class:`Explanation` bundles them
for the verdict (:mod:`taoke.weights.verdict`), which only uses them to say *which* derived relationship
a significant match is.

- :func:`residual_transform`: orthogonal Procrustes (Schoenemann 1966) between the embedding rows of
  shared anchor tokens, ``X_sus ~ c * X_ref @ R``. AWM (github.com/LUMIA-Group/AWM) aligns hidden
  dimensions by a linear assignment on embedding columns, which finds permutations and signs; the
  Procrustes polar factor generalises it to any rotation, and reduces to the permutation when that is
  what was applied. The fitted ``R`` is classified as identity, signed permutation, or dense rotation.
- :func:`neuron_matching`: Hungarian matching (scipy ``linear_sum_assignment``) of FFN neurons by their
  gate pre-activations on shared anchors, as model tracing matches MLP neurons
  (github.com/ahmeda14960/model-tracing, ``tracing/utils/llama/matching.py``), but on inputs that are
  already residual-rotation invariant (anchor embeddings pushed through the model's own weights).
- :func:`raw_identity`: the same seeded positions of every tensor compared value by value.
- :func:`vocabulary_relation`: the two vocabularies compared by the hashes of their token keys.
- :func:`rescaled_tensors`: tensors whose RMS moved (function-preserving rescalings move pairs of them).
- :func:`merge_parents`: the lineage test against each named parent and least-squares mixing weights.
- :func:`requantization`: the exact requantization check (issue 15.2): both sides' sampled spans put
  into the same quantization scheme (``gguf.quants.quantize``, llama.cpp's reference quantizers ported
  by the ``gguf`` package) and compared block for block, bit for bit and code for code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from taoke.evidence import Evidence
from taoke.weights.fingerprint import Fingerprint, QuantSample
from taoke.weights.lineage import Nulls, lineage, p_value


@dataclass
class ResidualTransform:
    """The residual-stream map found between two models' shared-anchor embeddings."""

    kind: str  # "identity" | "permutation" | "signed-permutation" | "rotation" | "none" | "undetermined"
    scale: float
    fit: float  # R^2 of X_sus ~ c X_ref R  (1: exact)
    n_anchors: int
    permuted_dims: int = 0
    detail: dict[str, Any] = field(default_factory=dict)
    #: the fitted orthogonal map ``R`` (``x_sus ~ c x_ref R``) for rotations and (signed) permutations;
    #: not serialised (d x d), used to carry the rotation into the expert stage
    matrix: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "scale": self.scale,
            "fit": self.fit,
            "n_anchors": self.n_anchors,
            "permuted_dims": self.permuted_dims,
            **self.detail,
        }

    @property
    def evidence(self) -> list[Evidence]:
        if self.kind == "none":
            return []
        return [
            Evidence(
                "weights",
                "residual-transform",
                f"residual stream relation found from shared-token embeddings: {self.kind}"
                + (f" (fit R^2={self.fit:.4f}, scale {self.scale:.3f})" if self.fit else ""),
                "info",
                "orthogonal Procrustes on anchor embeddings",
                self.fit,
                None,
                None,
                self.to_dict(),
            )
        ]


def residual_transform(x_ref: np.ndarray, x_sus: np.ndarray) -> ResidualTransform:
    """Fit ``x_sus ~ c * x_ref @ R`` with R orthogonal; classify R.

    Undetermined when there are fewer shared anchors than dimensions (the fingerprint keeps at most
    ``EMBED_BUDGET / d`` rows, so at 7B scale the rotation is reported as undetermined: the verdict does
    not need it) or when the widths differ.
    """
    m = min(len(x_ref), len(x_sus))
    if x_ref.shape[1] != x_sus.shape[1]:
        return ResidualTransform("none", 0.0, 0.0, m, detail={"reason": "different widths"})
    d = x_ref.shape[1]
    if m < d:
        return ResidualTransform(
            "undetermined", 0.0, 0.0, m, detail={"reason": f"{m} shared anchors < width {d}"}
        )
    a = x_ref.astype(np.float64)
    b = x_sus.astype(np.float64)
    u, s, vt = np.linalg.svd(a.T @ b)
    r = u @ vt
    ar = a @ r
    c = float(np.sum(ar * b) / max(np.sum(ar * ar), 1e-300))
    resid = b - c * ar
    fit = float(1.0 - np.sum(resid * resid) / max(np.sum(b * b), 1e-300))
    if fit < 0.9:
        return ResidualTransform("none", c, fit, m)
    # Prefer the simplest map that explains the data as well as the free rotation does: with noisy
    # (quantised, fine-tuned) embeddings the fitted R is never exactly I or a permutation.
    c0 = float(np.sum(a * b) / max(np.sum(a * a), 1e-300))
    fit_identity = float(1.0 - np.sum((b - c0 * a) ** 2) / max(np.sum(b * b), 1e-300))
    # "as well": the free rotation removes less than half of the residual that the simpler map leaves
    # (a real disguise leaves the identity fit near zero; fitting noise gains a few percent at most).
    if (1.0 - fit_identity) <= 2.0 * (1.0 - fit) + 1e-6:
        return ResidualTransform("identity", c0, fit_identity, m)
    absr = np.abs(r)
    rowmax = absr.max(axis=1)
    arg = absr.argmax(axis=1)
    if len(set(arg.tolist())) == d:
        perm = np.zeros_like(r)
        perm[np.arange(d), arg] = np.sign(r[np.arange(d), arg])
        ap = a @ perm
        cp = float(np.sum(ap * b) / max(np.sum(ap * ap), 1e-300))
        fit_perm = float(1.0 - np.sum((b - cp * ap) ** 2) / max(np.sum(b * b), 1e-300))
        if (1.0 - fit_perm) <= 2.0 * (1.0 - fit) + 1e-6:
            signs = np.sign(r[np.arange(d), arg])
            moved = int(np.sum(arg != np.arange(d)))
            flipped = int(np.sum(signs < 0))
            if moved == 0 and flipped == 0:
                return ResidualTransform("identity", c, fit, m)
            kind = "signed-permutation" if flipped else "permutation"
            return ResidualTransform(
                kind, c, fit, m, permuted_dims=moved, detail={"sign_flips": flipped}, matrix=perm
            )
    return ResidualTransform(
        "rotation", c, fit, m, detail={"max_abs_entry_mean": float(rowmax.mean())}, matrix=r
    )


@dataclass
class NeuronMatch:
    """Hungarian matching of one reference layer's FFN neurons to one suspect layer's."""

    n_ref: int
    n_sus: int
    matched_high: int  # pairs with correlation > 0.95
    moved: int  # matched pairs whose index differs (a permutation was applied)
    mean_corr: float
    # the assignment itself (suspect neuron j <- reference neuron ref_of[j], correlation corr[j]); not in
    # the JSON (it is as long as the layer is wide): width pruning names the kept neurons from it
    ref_of: np.ndarray | None = field(default=None, repr=False)
    corr: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_ref": self.n_ref,
            "n_sus": self.n_sus,
            "matched_high": self.matched_high,
            "moved": self.moved,
            "mean_corr": self.mean_corr,
        }


def neuron_matching(p_ref: np.ndarray, p_sus: np.ndarray) -> NeuronMatch:
    """Match neurons by the correlation of their gate pre-activation profiles over shared anchors."""
    a = np.nan_to_num(p_ref[~np.isnan(p_ref).all(axis=1)]).astype(np.float64)
    b = np.nan_to_num(p_sus[~np.isnan(p_sus).all(axis=1)]).astype(np.float64)
    if len(a) == 0 or len(b) == 0 or a.shape[1] < 2:
        return NeuronMatch(len(a), len(b), 0, 0, 0.0)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    a /= np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-300)
    b /= np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-300)
    c = a @ b.T
    rows, cols = linear_sum_assignment(-c)
    vals = c[rows, cols]
    high = vals > 0.95
    ref_of = np.full(len(b), -1, dtype=np.int64)
    corr = np.zeros(len(b))
    ref_of[cols], corr[cols] = rows, vals
    return NeuronMatch(
        len(a), len(b), int(high.sum()), int(np.sum(high & (rows != cols))), float(vals.mean()), ref_of, corr
    )


@dataclass
class RawIdentity:
    """Tensors held under the same canonical key whose seeded raw samples agree (see :func:`raw_identity`)."""

    compared: int
    same: int
    mean_corr: float = 0.0
    differing: list[str] = field(default_factory=list)  # the first 20 compared keys that differ

    def to_dict(self) -> dict[str, Any]:
        return {
            "compared": self.compared,
            "same": self.same,
            "mean_corr": self.mean_corr,
            "differing": self.differing,
        }

    @property
    def evidence(self) -> list[Evidence]:
        return [
            Evidence(
                "weights",
                "raw-values",
                f"{self.same} of {self.compared} tensors hold the same values at the same positions "
                f"(mean sample correlation {self.mean_corr:.3f})",
                "info",
                "seeded raw-value samples (256 per tensor)",
                float(self.same),
                None,
                None,
                self.to_dict(),
            )
        ]


def raw_identity(ref: Fingerprint, sus: Fingerprint) -> RawIdentity:
    """Compare the seeded raw samples of tensors both models hold under the same canonical key.

    Counts the keys compared, those whose samples agree to within quantisation error (correlation
    > 0.995, and the same RMS within 2%), and the mean correlation. Equal samples at the same positions
    mean the same values in the same layout (identical, dtype cast, quantised or renamed copy).
    """
    raw_ref, raw_sus, rms_ref, rms_sus = ref.raw, sus.raw, ref.rms, sus.rms
    shapes_ref, shapes_sus = ref.meta.get("shapes"), sus.meta.get("shapes")
    same, corrs, compared = [], [], []
    for key in sorted(set(raw_ref) & set(raw_sus)):
        a, b = raw_ref[key].astype(np.float64), raw_sus[key].astype(np.float64)
        if a.shape != b.shape or not np.isfinite(a).all() or not np.isfinite(b).all():
            continue
        if shapes_ref is not None and shapes_sus is not None and shapes_ref.get(key) != shapes_sus.get(key):
            continue
        compared.append(key)
        if np.std(a) == 0 or np.std(b) == 0:
            ok = bool(np.allclose(a, b, rtol=0.02, atol=1e-6))
            corrs.append(1.0 if ok else 0.0)
        else:
            r = float(np.corrcoef(a, b)[0, 1])
            corrs.append(r)
            ra, rb = rms_ref.get(key, 0.0), rms_sus.get(key, 0.0)
            ok = r > 0.995 and abs(ra - rb) <= 0.02 * max(ra, rb, 1e-12)
        if ok:
            same.append(key)
    return RawIdentity(
        len(compared),
        len(same),
        float(np.mean(corrs)) if corrs else 0.0,
        [k for k in compared if k not in same][:20],
    )


def residual_stream(ref: Fingerprint, sus: Fingerprint) -> ResidualTransform | None:
    """:func:`residual_transform` on the embedding rows of the anchor tokens both models hold (None when
    they share none)."""
    shared = {k: i for i, k in enumerate(sus.anchors)}
    ia = [i for i, k in enumerate(ref.anchors) if k in shared]
    ib = [shared[ref.anchors[i]] for i in ia]
    if not ia or not len(ref.embed) or not len(sus.embed):  # a compact fingerprint keeps no rows
        return None
    return residual_transform(ref.embed[ia], sus.embed[ib])


def residual_map(ref: Fingerprint, sus: Fingerprint) -> np.ndarray | None:
    """The orthogonal ``R`` with ``h_sus ~ h_ref R`` when :func:`residual_stream` finds the suspect's
    residual stream rotated or (sign-)permuted against the reference's (embedding fit R^2 >= 0.9 on at least
    ``d`` shared anchors), else None: identity needs no map, and independent models (no fit) or too few
    anchor rows (7B scale) give none to use."""
    found = residual_stream(ref, sus)
    if found is None or found.kind not in ("rotation", "permutation", "signed-permutation"):
        return None
    return found.matrix


@dataclass
class LayerNeurons:
    """The neuron matching of one mapped layer pair."""

    suspect_layer: int
    reference_layer: int
    match: NeuronMatch

    def to_dict(self) -> dict[str, Any]:
        return {
            "suspect_layer": self.suspect_layer,
            "reference_layer": self.reference_layer,
            **self.match.to_dict(),
        }


@dataclass
class NeuronPermutation:
    """FFN neurons matched over every mapped layer pair: how many matched and how many moved."""

    layers: list[LayerNeurons]
    matched_high: int
    moved: int
    n_ref: int
    n_sus: int

    def to_dict(self) -> dict[str, Any]:
        """The totals (the per-layer matches stay on :attr:`layers`)."""
        return {
            "matched_high": self.matched_high,
            "moved": self.moved,
            "n_ref": self.n_ref,
            "n_sus": self.n_sus,
        }

    @property
    def evidence(self) -> list[Evidence]:
        return [
            Evidence(
                "weights",
                "ffn-neuron-matching",
                f"{self.matched_high} of {self.n_sus} FFN neurons matched (corr > 0.95), "
                f"{self.moved} of them at another index",
                "info",
                "Hungarian matching of gate pre-activation profiles",
                float(self.matched_high),
                None,
                None,
                self.to_dict(),
            )
        ]


def ffn_neurons(ref: Fingerprint, sus: Fingerprint, layer_map: list[int | None]) -> NeuronPermutation | None:
    """:func:`neuron_matching` on every layer pair of ``layer_map``, on the anchors both profiles share.

    None when a fingerprint has no neuron profiles (wide models), fewer than 8 anchors are shared, or no
    layer is mapped.
    """
    if ref.neurons is None or sus.neurons is None:
        return None
    k = min(ref.neurons.shape[2], sus.neurons.shape[2])
    pos = {key: i for i, key in enumerate(sus.anchors[:k])}
    ia, ib = [], []
    for i, key in enumerate(ref.anchors[:k]):
        if key in pos:
            ia.append(i)
            ib.append(pos[key])
    if len(ia) < 8:
        return None
    per_layer = [
        LayerNeurons(j, i, neuron_matching(ref.neurons[i][:, ia], sus.neurons[j][:, ib]))
        for j, i in enumerate(layer_map)
        if i is not None
    ]
    if not per_layer:
        return None
    return NeuronPermutation(
        per_layer,
        int(sum(x.match.matched_high for x in per_layer)),
        int(sum(x.match.moved for x in per_layer)),
        int(sum(x.match.n_ref for x in per_layer)),
        int(sum(x.match.n_sus for x in per_layer)),
    )


KEPT_CORR = 0.5  # a kept channel or neuron: matched with at least this correlation (chance: ~0.15)


@dataclass
class WidthPruning:
    """What a width-pruned suspect kept of the reference (Minitron / Sheared-LLaMA: hidden size, heads
    and FFN cut together): the sizes from the shapes, and which residual channels and FFN neurons
    survived where the fingerprints can tell (:func:`width_pruning`)."""

    d_model: list[int]
    heads: list[int]
    kv_heads: list[int]
    ffn: list[int]
    kept_channels: list[int] | None = None  # reference residual channels, in the suspect's order
    channel_match: float | None = None  # mean correlation of the matched channels
    kept_neurons: dict[str, list[int]] = field(default_factory=dict)  # suspect layer -> reference neurons
    neuron_match: float | None = None
    why_not: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "d_model": self.d_model,
            "heads": self.heads,
            "kv_heads": self.kv_heads,
            "ffn": self.ffn,
            "kept_channels": self.kept_channels,
            "channel_match": self.channel_match,
            "kept_neurons": self.kept_neurons,
            "neuron_match": self.neuron_match,
            "why_not": self.why_not,
        }

    def describe(self) -> str:
        parts = []
        for name, (a, b) in (
            ("hidden size", self.d_model),
            ("heads", self.heads),
            ("kv heads", self.kv_heads),
            ("FFN", self.ffn),
        ):
            if a and b and a != b:
                parts.append(f"{name} {a}->{b}")
        if self.kept_channels is not None:
            parts.append(f"kept residual channels {_ranges(self.kept_channels)}")
        if self.kept_neurons:
            n = sum(len(v) for v in self.kept_neurons.values())
            parts.append(f"{n} FFN neurons named in {len(self.kept_neurons)} layers")
        return ", ".join(parts)


def _ranges(idx: list[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> "0-2,5,7-8"."""
    out, start = [], None
    for i, v in enumerate(idx):
        if start is None:
            start = v
        if i + 1 == len(idx) or idx[i + 1] != v + 1:
            out.append(f"{start}-{v}" if v != start else f"{v}")
            start = None
    return ",".join(out)


def width_pruning(
    ref: Fingerprint, sus: Fingerprint, neurons: NeuronPermutation | None
) -> WidthPruning | None:
    """Which dimensions a narrower suspect kept (None when no width shrank).

    Residual channels: a width-pruned model keeps a subset of the reference's channels in every layer,
    embedding columns included, so each suspect embedding column (over the anchor tokens both share)
    correlates with the reference column it was cut from; a Hungarian assignment of columns names them
    (a rotated residual stream mixes channels: then none are named, and ``why_not`` says so). FFN
    neurons: the neuron matching of the mapped layers (gate pre-activation profiles) names the
    reference neuron behind each suspect neuron. Heads: counts from the shapes (the fingerprint keeps no
    per-head profile).
    """
    m_ref, m_sus = ref.meta, sus.meta
    dims = {
        k: [int(m_ref.get(k) or 0), int(m_sus.get(k) or 0)]
        for k in ("d_model", "n_heads", "n_kv_heads", "ffn_dim")
    }
    if not any(b and a and b < a for a, b in dims.values()):
        return None
    out = WidthPruning(dims["d_model"], dims["n_heads"], dims["n_kv_heads"], dims["ffn_dim"])
    d_ref, d_sus = dims["d_model"]
    if d_sus < d_ref:
        shared = {k: i for i, k in enumerate(sus.anchors)}
        ia = [i for i, k in enumerate(ref.anchors) if k in shared]
        ib = [shared[ref.anchors[i]] for i in ia]
        if len(ia) >= 128 and len(ref.embed) and len(sus.embed):
            a = ref.embed[ia].astype(np.float64)
            b = sus.embed[ib].astype(np.float64)
            a = (a - a.mean(0)) / np.maximum(a.std(0), 1e-12)
            b = (b - b.mean(0)) / np.maximum(b.std(0), 1e-12)
            c = b.T @ a / len(ia)  # [d_sus, d_ref]
            rows, cols = linear_sum_assignment(-c)
            vals = c[rows, cols]
            if float(np.median(vals)) >= KEPT_CORR:
                order = np.argsort(rows)
                out.kept_channels = [int(x) for x in cols[order]]
                out.channel_match = float(vals.mean())
            else:
                out.why_not.append(
                    "residual channels not named: no column of the suspect's embeddings matches one of the "
                    f"reference's (median correlation {float(np.median(vals)):.2f}; a rotation mixes them)"
                )
        else:
            out.why_not.append(f"residual channels not named: {len(ia)} shared anchor embeddings < 128")
    if neurons is not None and dims["ffn_dim"][1] < dims["ffn_dim"][0]:
        corrs = []
        for layer in neurons.layers:
            mt = layer.match
            if mt.ref_of is None or mt.corr is None:
                continue
            keep = mt.corr >= KEPT_CORR
            if keep.mean() >= 0.5:
                out.kept_neurons[str(layer.suspect_layer)] = sorted(int(x) for x in mt.ref_of[keep])
                corrs.append(float(mt.corr[keep].mean()))
        out.neuron_match = float(np.mean(corrs)) if corrs else None
        if not out.kept_neurons:
            out.why_not.append("FFN neurons not named: their profiles do not match the reference's")
    elif neurons is None and dims["ffn_dim"][1] < dims["ffn_dim"][0]:
        out.why_not.append("FFN neurons not named: the fingerprints hold no neuron profiles (wide models)")
    return out


class VocabChange(str, Enum):
    """How SUSPECT's vocabulary relates to REFERENCE's (by token key, whatever the ids)."""

    SAME = "same"
    REORDERED = "reordered"  # the same tokens under other ids
    EXTENDED = "extended"  # REFERENCE's tokens (>= 98%) plus more
    REDUCED = "reduced"  # a subset (>= 98% of SUSPECT's tokens are REFERENCE's)
    OVERLAPPING = "overlapping"  # at least half of the smaller vocabulary shared
    DIFFERENT = "different"
    UNKNOWN = "unknown"  # one side has no tokenizer and its ids cannot be aligned with the other's

    __str__ = str.__str__
    __format__ = str.__format__


@dataclass
class VocabularyRelation:
    """The two vocabularies compared by the hashes of their token keys (see :func:`vocabulary_relation`)."""

    relation: VocabChange
    reference_tokens: int = 0
    suspect_tokens: int = 0
    shared_tokens: int = 0
    added_tokens: int = 0
    anchors_shared: int = 0
    anchor_ids_moved: int = 0
    aligned_by: str = "token string"

    def to_dict(self) -> dict[str, Any]:
        return {
            "relation": self.relation,
            "reference_tokens": self.reference_tokens,
            "suspect_tokens": self.suspect_tokens,
            "shared_tokens": self.shared_tokens,
            "added_tokens": self.added_tokens,
            "anchors_shared": self.anchors_shared,
            "anchor_ids_moved": self.anchor_ids_moved,
            "aligned_by": self.aligned_by,
        }

    @property
    def evidence(self) -> list[Evidence]:
        if self.aligned_by.startswith(("token id (", "none (")):
            msg = f"vocabularies: {self.relation}, aligned by {self.aligned_by}"
        else:
            msg = (
                f"vocabularies: {self.relation} ({self.shared_tokens} shared tokens, "
                f"{self.added_tokens} added in the suspect)"
            )
        return [
            Evidence(
                "weights",
                "vocabulary-alignment",
                msg,
                "info",
                None,
                None,
                None,
                None,
                self.to_dict(),
            )
        ]


def vocabulary_relation(ref: Fingerprint, sus: Fingerprint) -> VocabularyRelation:
    """Shared, added and moved tokens, from the sorted 32-bit hashes of every token key and the anchors."""
    ha, hb = ref.vocab_hashes, sus.vocab_hashes
    inter = int(np.intersect1d(ha, hb, assume_unique=True).size)
    na, nb = int(ha.size), int(hb.size)
    shared_pos = {k: i for i, k in enumerate(sus.anchors)}
    moved = sum(
        1
        for i, k in enumerate(ref.anchors)
        if k in shared_pos and int(ref.anchor_ids[i]) != int(sus.anchor_ids[shared_pos[k]])
    )
    both = sum(1 for k in ref.anchors if k in shared_pos)
    by_ids = _id_aligned(ref, sus)
    if by_ids is not None:
        return by_ids
    if inter == na == nb:
        kind = VocabChange.SAME if moved == 0 else VocabChange.REORDERED
    elif na and inter >= 0.98 * na and nb > na:
        kind = VocabChange.EXTENDED
    elif nb and inter >= 0.98 * nb and na > nb:
        kind = VocabChange.REDUCED
    elif inter >= 0.5 * min(na, nb):
        kind = VocabChange.OVERLAPPING
    else:
        kind = VocabChange.DIFFERENT
    return VocabularyRelation(
        kind,
        na,
        nb,
        inter,
        max(0, nb - inter),
        both,
        moved,
        "token string" if sus.meta.get("token_keys_from") != "ids" else "token id",
    )


def _id_aligned(ref: Fingerprint, sus: Fingerprint) -> VocabularyRelation | None:
    """When exactly one side has no tokenizer (its token keys are its ids: what llamafy writes), its
    vocabulary cannot be compared by token string (issue 17: "different (0 shared)" for a copy). If the
    vocabulary sizes and the embedding rows agree (the seeded raw samples of ``token_embd`` hold the
    same values), the ids are the same tokens: the vocabularies are the same, aligned by token id.
    Otherwise they are unknown, not "different". None when both sides (or neither) have a tokenizer."""
    ids_ref = ref.meta.get("token_keys_from") == "ids"
    ids_sus = sus.meta.get("token_keys_from") == "ids"
    if ids_ref == ids_sus:
        return None
    side = "suspect" if ids_sus else "reference"
    n_ref, n_sus = int(ref.meta.get("vocab_size") or 0), int(sus.meta.get("vocab_size") or 0)
    key = "token_embd.weight"
    rows_agree = False
    if n_ref == n_sus and key in ref.raw and key in sus.raw and ref.raw[key].shape == sus.raw[key].shape:
        a, b = ref.raw[key].astype(np.float64), sus.raw[key].astype(np.float64)
        ra, rb = ref.rms.get(key, 0.0), sus.rms.get(key, 0.0)
        rows_agree = bool(
            np.std(a) > 0
            and np.std(b) > 0
            and np.corrcoef(a, b)[0, 1] > 0.995
            and abs(ra - rb) <= 0.02 * max(ra, rb, 1e-12)
        )
    if rows_agree:
        return VocabularyRelation(
            VocabChange.SAME,
            n_ref,
            n_sus,
            n_ref,
            0,
            aligned_by=f"token id ({side} has no tokenizer; vocabulary sizes and embedding rows agree)",
        )
    return VocabularyRelation(
        VocabChange.UNKNOWN,
        n_ref,
        n_sus,
        0,
        0,
        aligned_by=f"none ({side} has no tokenizer, and its ids cannot be aligned: "
        + ("other embedding rows)" if n_ref == n_sus else f"vocabulary sizes {n_ref} vs {n_sus})"),
    )


@dataclass
class RescaledTensors:
    """Tensors of equal shape whose RMS moved (see :func:`rescaled_tensors`)."""

    count: int
    roles: list[str]
    rms_ratio: dict[str, float]  # the first 24, suspect RMS / reference RMS

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "roles": self.roles, "rms_ratio": self.rms_ratio}


def rescaled_tensors(ref: Fingerprint, sus: Fingerprint, tol: float = 0.02) -> RescaledTensors | None:
    """Tensors of equal shape whose RMS changed by more than ``tol`` (relative): where scales were moved.

    A function-preserving rescaling (norm gain <-> projection, up <-> down, q <-> k) changes the RMS of
    both tensors of the pair in opposite directions; fine-tuning changes them a little everywhere.
    """
    sa, sb = ref.meta.get("shapes") or {}, sus.meta.get("shapes") or {}
    out = {}
    for key in sorted(set(ref.rms) & set(sus.rms)):
        a, b = ref.rms[key], sus.rms[key]
        if sa.get(key) != sb.get(key) or a <= 0 or b <= 0:
            continue
        ratio = b / a
        if abs(np.log(ratio)) > tol:
            out[key] = round(float(ratio), 4)
    if not out:
        return None
    kinds = sorted({k.split(".")[-2] for k in out})
    return RescaledTensors(len(out), kinds, dict(list(out.items())[:24]))


@dataclass
class ParentMatch:
    """SUSPECT against one named candidate parent of a merge: the lineage test and the estimated share."""

    name: str
    log10_p_value: float
    p_value: float
    median_similarity: float
    coefficient: float | None = None  # least-squares mixing weight (two or more parents)
    share: float | None = None  # coefficient over the sum of coefficients
    mixture_fit_r2: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "log10_p_value": self.log10_p_value,
            "p_value": self.p_value,
            "median_similarity": self.median_similarity,
        }
        for key in ("coefficient", "share", "mixture_fit_r2"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    @property
    def evidence(self) -> list[Evidence]:
        return [
            Evidence(
                "weights",
                "merge-parent",
                f"parent {self.name}: p={self.p_value:.2g}, median layer similarity "
                f"{self.median_similarity:.3f}"
                + (f", share {self.share:.2f}" if self.share is not None else ""),
                "info",
                "lineage test against a named parent",
                self.share,
                self.p_value,
                "independent training (as for the main test)",
                self.to_dict(),
            )
        ]


def merge_parents(sus: Fingerprint, parents: list[Fingerprint], nulls: Nulls) -> list[ParentMatch]:
    """Similarity of SUSPECT to each named parent, and a least-squares estimate of each one's share.

    WHY least squares on raw samples: a linear (or SLERP, or TIES) merge is, value by value, close to a
    weighted sum of its parents when they share a basis (every merge of fine-tunes of one base does),
    so regressing the suspect's seeded raw samples on each parent's gives the mixing weights directly.
    """
    out = []
    for fp in parents:
        st = lineage(fp, sus, nulls)
        med = (
            float(np.median([np.tanh(st.s1[i, j]) for j, i in enumerate(st.layer_map) if i is not None]))
            if any(i is not None for i in st.layer_map) and st.s1.size
            else 0.0
        )
        out.append(ParentMatch(fp.name, st.log10p_model, p_value(st.log10p_model), med))
    keys = sorted(set(sus.raw).intersection(*[set(fp.raw) for fp in parents]))
    keys = [k for k in keys if all(fp.raw[k].shape == sus.raw[k].shape for fp in parents)]
    if keys and len(parents) >= 2:
        y = np.concatenate([sus.raw[k] for k in keys]).astype(np.float64)
        x = np.stack([np.concatenate([fp.raw[k] for k in keys]).astype(np.float64) for fp in parents], axis=1)
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        resid = y - x @ coef
        r2 = float(1 - resid @ resid / max(y @ y, 1e-300))
        total = float(np.sum(coef)) or 1.0
        for rec, c in zip(out, coef, strict=True):
            rec.coefficient = float(c)
            rec.share = float(c / total)
            rec.mixture_fit_r2 = r2
    return out


def same_architecture(a: Fingerprint, b: Fingerprint) -> bool:
    """Same family of block: both decoders with gated FFN and the same attention layout."""
    ma, mb = a.meta, b.meta
    fam_a, fam_b = ma.get("arch"), mb.get("arch")
    if fam_a and fam_b and fam_a != fam_b:
        return False
    comps_a, comps_b = set(a.inv), set(b.inv)
    return bool(comps_a) and comps_a == comps_b


# --------------------------------------------------------------------------------- requantization

# Fitted on the zoo-A pairs of issue 15.2 (split "fit": A vs its Q4_1/Q4_0/Q8_0 exports, the dequantized
# float16 copy and its requantization: 100 % of blocks; the Q4_1 round trip of A fine-tuned 150 steps at
# lr 2e-5: 0.5 %), reported on the SmolLM2 pairs (split "test"), see docs/compare.md.
SAME_BLOCKS = 0.9  # fraction of blocks reproduced bit for bit at or above which the copy is the same
DIFFERENT_BLOCKS = 0.5  # below which the blocks differ beyond rounding (between: undecided)
# median distance to the grid, in steps, below which a float side moved off it: the midpoint of the fit
# split's fine-tune (0.054) and its quantization sources (0.235-0.245; uniform rounding gives 0.25)
GRID_RESIDUAL_MAX = 0.15
_FLOAT_STORES = ("F32", "F16", "BF16")
_GRID_SCHEMES = ("Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0")


def _gguf() -> Any:
    from gguf import quants
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    return quants, GGML_QUANT_SIZES, GGMLQuantizationType


def _store(x: np.ndarray, dtype: str) -> np.ndarray:
    """``x`` rounded to float storage ``dtype`` (round to nearest, ties to even) and back to float32:
    exactly what a copy saved in that dtype holds."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if dtype == "F16":
        return x.astype(np.float16).astype(np.float32)
    if dtype == "BF16":
        bits = x.view(np.uint32)
        return ((bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000).astype(np.uint32).view(np.float32)
    return x


def _deq(data: np.ndarray, scheme: str, span: int) -> np.ndarray:
    quants, _, qt = _gguf()
    return quants.dequantize(data, qt[scheme]).reshape(-1, span).astype(np.float32)


def _quant(values: np.ndarray, scheme: str) -> np.ndarray | None:
    """``values`` (``[n, span]``) quantized with ``gguf.quants.quantize``; None when the gguf package has
    no quantizer for ``scheme`` (the K-quants and IQ types) or the span is not whole blocks."""
    quants, _, qt = _gguf()
    try:
        return np.asarray(quants.quantize(np.ascontiguousarray(values, np.float32), qt[scheme]), np.uint8)
    except (NotImplementedError, ValueError):
        return None


def _block_size(scheme: str) -> int:
    _, sizes, qt = _gguf()
    return int(sizes[qt[scheme]][0])


def _per_block(equal: np.ndarray, block: int) -> np.ndarray:
    """``[n, span]`` element-wise equality -> ``[n * span / block]`` per block: all equal."""
    return np.all(equal.reshape(-1, block), axis=1)


def _reproduces(src: np.ndarray, scheme: str, other: QuantSample) -> tuple[np.ndarray, str] | None:
    """Per block: does ``other`` hold exactly what a copy made from these ``scheme`` blocks holds?

    A float copy holds the dequantized values rounded to its dtype, bit for bit. A copy stored in
    another scheme U was quantized from them, possibly after a cast (dequantized to bfloat16 and
    requantized, say): each of float32, float16 and bfloat16 is tried, and the one that reproduces most
    blocks is the chain reported. Returns (blocks reproduced, how) or None when U cannot be quantized.
    """
    target = _deq(src, scheme, other.span)
    if not other.quantized:
        block = _block_size(scheme)
        return _per_block(_store(target, other.qtype) == other.data, block), f"{scheme} -> {other.qtype}"
    if other.qtype == scheme:
        ts = src.shape[1] * _block_size(scheme) // other.span
        return np.all((src == other.data).reshape(-1, ts), axis=1), scheme
    best = None
    for via in _FLOAT_STORES:
        q = _quant(_store(target, via), other.qtype)
        if q is None:
            return None
        ts = q.shape[1] * _block_size(other.qtype) // other.span
        ok = np.all((q == other.data).reshape(-1, ts), axis=1)
        if best is None or ok.mean() > best[0].mean():
            best = (ok, f"{scheme} -> {via} -> {other.qtype}")
    return best


def on_grid(q: QuantSample, scheme: str) -> float | None:
    """Fraction of a float sample's blocks that are the dequantization of ``scheme`` blocks: quantized
    again and dequantized, they come back bit for bit in their own dtype. None when the gguf package
    cannot quantize ``scheme`` or the sample holds blocks."""
    if q.quantized:
        return None
    blocks = _quant(q.data, scheme)
    if blocks is None:
        return None
    back = _store(_deq(blocks, scheme, q.span), q.qtype)
    ok = _per_block(back == q.data, _block_size(scheme))
    return float(ok.mean()) if ok.size else None


@dataclass
class Requantization:
    """The exact requantization check: do one side's quantization blocks reproduce the other side bit
    for bit?

    ``scheme``: the scheme compared in (the quantized side's, else the grid a float side lies on);
    ``blocks``: blocks compared over ``tensors`` tensors; ``reproduced``: blocks the other side holds
    exactly as a copy made from them would (float values equal to the dequantized block rounded to its
    dtype, or the same bytes after requantization); ``chain``: how (``Q4_1 -> BF16``,
    ``Q4_1 -> BF16 -> Q8_0``); ``made_from``: per side, the scheme its values come from; ``verdict``:
    "same" (>= SAME_BLOCKS reproduced), "differs" (< DIFFERENT_BLOCKS), "undecided" or "not applicable"
    (``why``).
    """

    scheme: str | None
    tensors: int = 0
    blocks: int = 0
    reproduced: int = 0
    chain: str = ""
    made_from: dict[str, str | None] = field(default_factory=dict)
    verdict: str = "not applicable"
    why: str = ""
    differing: list[str] = field(default_factory=list)  # tensors with the fewest reproduced blocks
    source_fraction: float | None = None  # blocks a float side quantizes back to
    grid_residual: float | None = None  # median distance of a float side to the blocks, in steps

    @property
    def fraction(self) -> float:
        return self.reproduced / self.blocks if self.blocks else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "tensors": self.tensors,
            "blocks": self.blocks,
            "reproduced_bit_for_bit": self.reproduced,
            "fraction_reproduced": round(self.fraction, 4),
            "chain": self.chain,
            "source_fraction": None if self.source_fraction is None else round(self.source_fraction, 4),
            "grid_residual": None if self.grid_residual is None else round(self.grid_residual, 4),
            "made_from": self.made_from,
            "verdict": self.verdict,
            "why": self.why,
            "differing": self.differing,
        }

    @property
    def evidence(self) -> list[Evidence]:
        if self.verdict == "not applicable":
            return []
        made = ", ".join(f"{side}: {m}" for side, m in self.made_from.items() if m)
        return [
            Evidence(
                "weights",
                "requantization",
                f"exact requantization check in {self.scheme}: {self.reproduced} of {self.blocks} "
                f"sampled blocks ({self.fraction:.1%}, {self.tensors} tensors) reproduced bit for bit "
                f"({self.chain}): {self.verdict}" + (f"; values made from {made}" if made else ""),
                "info",
                "exact requantization check (gguf.quants: llama.cpp's reference (de)quantizers)",
                self.fraction,
                None,
                None,
                self.to_dict(),
            )
        ]


def _made_from(q: QuantSample) -> str | None:
    if q.quantized:
        return q.qtype
    best = None
    for scheme in _GRID_SCHEMES:
        f = on_grid(q, scheme)
        if f is not None and f >= SAME_BLOCKS and (best is None or f > best[1]):
            best = (scheme, f)
    return best[0] if best else None


def _side_made_from(fp: Fingerprint, keys: list[str]) -> str | None:
    votes = [m for m in (_made_from(fp.quant[k]) for k in keys[:: max(1, len(keys) // 8)]) if m]
    return max(set(votes), key=votes.count) if votes else None


def requantization(ref: Fingerprint, sus: Fingerprint) -> Requantization:
    """Is one side a copy of the other's quantization, its source, or changed after it (issue 15.2)?

    Per tensor the blocks are the side stored quantized (the reference first), else the float side whose
    values lie on a quantization grid, requantized with ``gguf.quants.quantize``. Then:

    1. *copy*: does the other side hold exactly what a copy made from those blocks holds, bit for bit
       (:func:`_reproduces`: the dequantized values rounded to its float dtype, or the same bytes after
       requantizing, through any float intermediate)?
    2. *grid residual* (float other side): how far its values sit from the dequantized blocks, in units
       of the block's smallest step. Requantization is many-to-one: a fine-tune that moved every value
       by much less than a step quantizes back to the very same bytes (measured: the 150-step lr 2e-5
       SmolLM2 fine-tune reproduces 96 % of the Q4_1 blocks when requantized), so bytes alone cannot
       tell it from the release's own float source. The residual can: a source the blocks were
       quantized from spreads uniformly over the cell (median about a quarter step), a copy changed
       after dequantization stays within a small fraction of a step.
    3. *source*: does quantizing the float side give the blocks back (the release is its quantization)?

    "same" when (1) holds for >= SAME_BLOCKS of the sampled blocks (a copy made from the blocks), or
    when the residual says source and (3) holds; "differs" when the residual is below
    ``GRID_RESIDUAL_MAX`` (changed after quantization: a fine-tune) or nothing reproduces
    (< DIFFERENT_BLOCKS). K-quants and IQ types, which the gguf package dequantizes but cannot quantize,
    are checked by (1) and (2) wherever one side stores them.
    """
    keys = [
        k
        for k in sorted(set(ref.quant) & set(sus.quant))
        if ref.quant[k].span == sus.quant[k].span
        and np.array_equal(ref.quant[k].rows, sus.quant[k].rows)
        and np.array_equal(ref.quant[k].cols, sus.quant[k].cols)
    ]
    if not keys:
        return Requantization(None, why="no quantization samples at the same positions")
    made = {"reference": _side_made_from(ref, keys), "suspect": _side_made_from(sus, keys)}
    grid = made["reference"] or made["suspect"]
    res = Requantization(None, made_from=made)
    schemes: dict[str, int] = {}
    chains: dict[str, int] = {}
    per_tensor: list[tuple[float, str]] = []
    src_ok, src_n, resid = 0, 0, []
    src_chain = ""
    for k in keys:
        got = _tensor_check(ref.quant[k], sus.quant[k], grid)
        if got is None:
            continue
        ok, chain, scheme, src, r, head = got
        res.tensors += 1
        res.blocks += int(ok.size)
        res.reproduced += int(ok.sum())
        schemes[scheme] = schemes.get(scheme, 0) + int(ok.size)
        chains[chain] = chains.get(chain, 0) + int(ok.size)
        per_tensor.append((float(ok.mean()) if ok.size else 1.0, k))
        if src is not None:
            src_ok, src_n, src_chain = src_ok + int(src.sum()), src_n + int(src.size), head
        if r is not None:
            resid.append(r)
    if not res.blocks:
        res.why = "no tensor is stored quantized or on a quantization grid that gguf.quants can rebuild"
        return res
    res.scheme = max(schemes, key=lambda x: schemes[x])
    res.chain = max(chains, key=lambda x: chains[x])
    res.source_fraction = src_ok / src_n if src_n else None
    res.grid_residual = float(np.median(np.concatenate(resid))) if resid else None
    copy = res.fraction
    if copy >= SAME_BLOCKS:
        res.verdict = "same"
    elif res.grid_residual is not None and res.grid_residual < GRID_RESIDUAL_MAX:
        res.verdict = "differs"
        res.why = (
            f"the float side sits {res.grid_residual:.3f} of a step from the dequantized blocks: changed "
            "after quantization, by far less than a step"
        )
    elif res.source_fraction is not None and res.source_fraction >= SAME_BLOCKS:
        res.verdict, res.reproduced, res.chain = "same", src_ok, src_chain
        res.blocks = src_n
        res.why = "the quantized side is the quantization of the float side (its source)"
    elif max(copy, res.source_fraction or 0.0) < DIFFERENT_BLOCKS:
        res.verdict = "differs"
    else:
        res.verdict = "undecided"
    res.differing = [k for v, k in sorted(per_tensor) if v < SAME_BLOCKS][:12]
    return res


def _tensor_check(
    a: QuantSample, b: QuantSample, grid: str | None
) -> tuple[np.ndarray, str, str, np.ndarray | None, np.ndarray | None, str] | None:
    """One tensor of :func:`requantization`: (copy reproduced per block, its chain, the scheme, source
    reproduced per block or None, grid residuals per value or None, the source chain)."""
    if a.quantized:
        blk, scheme, other, head = a.data, a.qtype, b, a.qtype
    elif b.quantized:
        blk, scheme, other, head = b.data, b.qtype, a, b.qtype
    else:
        if grid is None:
            return None
        ga, gb = on_grid(a, grid) or 0.0, on_grid(b, grid) or 0.0
        g, other = (a, b) if ga >= gb else (b, a)
        blk = _quant(g.data, grid)
        if blk is None:
            return None
        scheme, head = grid, f"{g.qtype} -> {grid}"
    got = _reproduces(blk, scheme, other)
    if got is None:
        return None
    ok, chain = got
    chain = head + chain[len(scheme) :] if chain.startswith(scheme) else chain
    src = resid = None
    if not other.quantized:
        deq = _deq(blk, scheme, other.span)
        resid = _grid_residual(other.data, deq, _block_size(scheme))
        q = _quant(other.data, scheme)
        if q is not None and q.shape == blk.shape:
            ts = q.shape[1] * _block_size(scheme) // other.span
            src = np.all((q == blk).reshape(-1, ts), axis=1)
    return ok, chain, scheme, src, resid, f"{other.qtype} -> {scheme}"


def _grid_residual(values: np.ndarray, deq: np.ndarray, block: int) -> np.ndarray:
    """|values - dequantized| in units of each block's smallest step between two of its levels (32-value
    chunks for 256-value super-blocks, whose sub-blocks have their own scales)."""
    chunk = min(block, 32)
    v = values.astype(np.float64).reshape(-1, chunk)
    d = deq.astype(np.float64).reshape(-1, chunk)
    srt = np.sort(d, axis=1)
    gaps = np.diff(srt, axis=1)
    gaps[gaps <= np.abs(srt[:, 1:]) * 1e-6 + 1e-30] = np.inf
    step = gaps.min(axis=1, keepdims=True)
    good = np.isfinite(step[:, 0])
    return (np.abs(v - d)[good] / step[good]).ravel()


def _values(q: QuantSample) -> np.ndarray:
    """The float values of a sample (dequantized with ``gguf.quants`` when it holds blocks)."""
    return _deq(q.data, q.qtype, q.span) if q.quantized else q.data.astype(np.float32)


@dataclass
class Explanation:
    """Everything the explainers found for one (reference, suspect) pair: what the verdict reads to name
    the derived relationship, and what ``transformations`` and the evidence report."""

    raw: RawIdentity
    residual: ResidualTransform | None
    vocabulary: VocabularyRelation
    neurons: NeuronPermutation | None
    parents: list[ParentMatch] = field(default_factory=list)
    same_architecture: bool = False
    requant: Requantization | None = None
    width: WidthPruning | None = None

    @property
    def evidence(self) -> list[Evidence]:
        """The explainers' findings, in report order (raw values, residual, neurons, vocabulary, parents)."""
        ev = list(self.raw.evidence)
        if self.requant is not None:
            ev += self.requant.evidence
        if self.residual is not None:
            ev += self.residual.evidence
        if self.neurons is not None:
            ev += self.neurons.evidence
        ev += self.vocabulary.evidence
        for p in self.parents:
            ev += p.evidence
        return ev


def explain(
    ref: Fingerprint,
    sus: Fingerprint,
    layer_map: list[int | None],
    parents: list[Fingerprint],
    nulls: Nulls,
) -> Explanation:
    """Run every explainer on a pair whose lineage test drew ``layer_map``."""
    neurons = ffn_neurons(ref, sus, layer_map)
    return Explanation(
        raw=raw_identity(ref, sus),
        residual=residual_stream(ref, sus),
        vocabulary=vocabulary_relation(ref, sus),
        neurons=neurons,
        width=width_pruning(ref, sus, neurons),
        parents=merge_parents(sus, parents, nulls) if parents else [],
        same_architecture=same_architecture(ref, sus),
        requant=requantization(ref, sus),
    )
