"""Relationship synthesis: from lineage statistics and explainers to one label with a confidence.

The label answers "what did SUSPECT do with REFERENCE's weights?" in the vocabulary of DESIGN.md. The
decision is a short ordered list of rules over measured facts, each rule recording the reason it fired,
so that every label can be explained. ``derived`` comes only from the lineage p-value (its null is
stated in the evidence); the other facts only choose *which* derived relationship it is.

Thresholds on drift (fine-tuned vs continued pretraining) and on function identity were set on the
zoo (issue 3) and are reported with the accuracy table in ``docs/compare.md``:

- ``FUNCTION_EQUAL``: every mapped layer's basis-free similarity >= 0.985. Function-preserving
  obfuscations give 1.0 up to float error; Q4_0 quantization alone gives >= 0.99 on the zoo; the
  closest fine-tune stays below 0.97.
- ``FINE_TUNE_MIN`` = 0.65: the median mapped-layer similarity below which drift counts as continued
  pretraining. On the zoo, fine-tunes keep 0.95-0.98 (150 steps full fine-tune, also after Q4_0 or
  permutation) and 0.79 (a rank-8 LoRA merged back after 200 steps); 800 steps of continued
  pretraining at lr 2e-3 fall to 0.40-0.46. 0.65 is the midpoint of 0.79 and 0.46 in Fisher z.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from taoke.defaults import DEFAULT_ALPHA
from taoke.weights.alignment import Explanation, VocabChange
from taoke.weights.fingerprint import Fingerprint
from taoke.weights.lineage import LineageStats
from taoke.weights.relationship import Relationship as R

FUNCTION_EQUAL = 0.985
FINE_TUNE_MIN = 0.65
RAW_SAME_FRACTION = 0.9
MERGE_FLAG_MAX = 0.6
#: Largest raw-basis correlation (any layer pair) that a shared random initialisation leaves in two
#: models trained on other data. Fitted on the fit split (issue 20): base-a vs a-init-man (same init,
#: man pages instead of code) peaks at 0.098; the weakest derived pair of the fit split that the
#: basis-free statistic does not see either (merge-a-a2 vs its 0.4 parent base-a2) at 0.415; the cut is
#: their midpoint in Fisher z. Reported on the test split: calib-00 vs calib00-init-man (0.125).
IMPRINT_MAX = 0.26


@dataclass
class Verdict:
    """The relationship picked, whether it is derived, how confident, and the rule that fired (reasons)."""

    relationship: R
    derived: bool
    confidence: float | None  # None for untestable: there is nothing to be confident about
    reasons: list[str] = field(default_factory=list)
    transformations: dict[str, Any] = field(default_factory=dict)


def _fmt(log10p: float) -> str:
    """A p-value from its log10, readable even far below float range (1e-4882)."""
    if log10p > -300:
        return f"{10**log10p:.2g}"
    return f"1e{log10p:.0f}"


def _related(log10p: float, alpha: float) -> str:
    """The first reason of a ``shares-ancestor`` verdict: the test found the weights related, which is
    all it shows (not that they derive from the reference)."""
    return (
        f"lineage p-value {10**log10p:.2g} < alpha={alpha:g}: the weights are related, "
        "not shown to derive from the reference"
    )


def _confidence_from_p(log10p: float, alpha: float, derived: bool) -> float:
    """How far the p-value is from the decision boundary, squashed to (0.5, 1)."""
    margin = abs(log10p - np.log10(alpha))
    return float(0.5 + 0.5 * (1 - np.exp(-margin / 2.0))) if derived or log10p > np.log10(alpha) else 0.5


def decide(
    ref: Fingerprint,
    sus: Fingerprint,
    stats: LineageStats,
    found: Explanation,
    alpha: float = DEFAULT_ALPHA,
) -> Verdict:
    """Pick the relationship from the lineage test (``stats``) and the explainers (``found``); see the
    module docstring for the order and thresholds."""
    cannot = untestable(stats, alpha)
    if cannot is not None:
        return cannot
    raw, resid, vocab = found.raw, found.residual, found.vocabulary
    neurons, parents = found.neurons, found.parents
    log10p = stats.log10p_model
    derived = log10p < np.log10(alpha)
    conf_p = _confidence_from_p(log10p, alpha, derived)
    reasons: list[str] = []
    tr: dict[str, Any] = {}
    if not derived:
        reasons.append(f"lineage p-value {10**log10p:.2g} is not below alpha={alpha:g}")
        if found.same_architecture:
            reasons.append(
                "same block design (gated FFN, attention layout) and family: borrowed design, own weights"
            )
            return Verdict(R.INDEPENDENT_SAME_ARCHITECTURE, False, conf_p, reasons, tr)
        reasons.append("different family or block design")
        return Verdict(R.INDEPENDENT, False, conf_p, reasons, tr)

    mapped = [(j, i) for j, i in enumerate(stats.layer_map) if i is not None]
    sim = np.tanh(stats.s1) if stats.s1.size and stats.basis_free else weight_basis_similarity(stats)
    sims = np.array([sim[i, j] for j, i in mapped]) if sim is not None and mapped else np.zeros(0)
    raw_sims = (
        np.array([np.tanh(stats.s2[i, j]) for j, i in mapped])
        if stats.s2 is not None and mapped
        else np.zeros(0)
    )
    n_ref, n_sus = ref.n_layers, sus.n_layers
    identity_map = n_ref == n_sus and all(i == j for j, i in enumerate(stats.layer_map))
    unmatched = [j for j, i in enumerate(stats.layer_map) if i is None]
    used = [i for _, i in mapped]
    repeated = len(used) != len(set(used))
    skipped = sorted(set(range(n_ref)) - set(used))
    raw_same = raw.compared > 0 and raw.same >= RAW_SAME_FRACTION * raw.compared
    med = float(np.median(sims)) if sims.size else (float(np.median(raw_sims)) if raw_sims.size else 0.0)
    low = float(np.min(sims)) if sims.size else 0.0
    ffn_ref, ffn_sus = ref.meta.get("ffn_dim") or 0, sus.meta.get("ffn_dim") or 0
    narrower = (ffn_sus and ffn_ref and ffn_sus < ffn_ref) or sus.d_model < ref.d_model
    reasons.append(f"lineage p-value {10**log10p:.2g} < alpha={alpha:g}: weights derive from the reference")
    tr["layer_map_summary"] = {
        "mapped": len(mapped),
        "suspect_layers": n_sus,
        "reference_layers": n_ref,
        "unmatched_suspect_layers": unmatched,
        "skipped_reference_layers": skipped,
        "repeated": repeated,
    }

    # 1. vocabulary extension (before raw identity: grown embeddings are excluded from the raw check),
    # only when the embedding matrix measurably grew: the tokenizer files alone are metadata (issue 20)
    rows = embedding_rows(ref), embedding_rows(sus)
    if vocab.relation == VocabChange.EXTENDED and rows[0] and rows[1] and rows[1] > rows[0]:
        tr["vocab_extension"] = {"added_tokens": vocab.added_tokens, "embedding_rows": list(rows)}
        reasons.append(
            f"the embedding matrix grew from {rows[0]} to {rows[1]} rows and the suspect vocabulary holds "
            f"the reference's plus {vocab.added_tokens} tokens"
        )
        return Verdict(R.VOCAB_EXTENDED, True, min(conf_p, 0.9), reasons, tr)

    # 1a. blocks copied under a replaced vocabulary (issue 15.6)
    swapped = replaced_vocabulary(stats, found, alpha, conf_p, reasons, tr)
    if swapped is not None:
        return swapped

    # 1b. exact requantization check (issue 15.2): values equal within rounding, blocks that differ
    fine = requantized_fine_tune(found, raw_same and identity_map, conf_p, reasons, tr)
    if fine is not None:
        return fine

    # 2. same raw values
    if raw_same and identity_map:
        renames = measured_renames(ref, sus)
        dtypes = sorted(set(ref.meta.get("dtypes") or []) ^ set(sus.meta.get("dtypes") or []))
        if dtypes:
            tr["dequantization"] = {
                "reference_dtypes": ref.meta.get("dtypes"),
                "suspect_dtypes": sus.meta.get("dtypes"),
            }
        if renames:
            tr["renames"] = renames
            reasons.append("same values in the same layout, " + renames["measured"])
            return Verdict(R.RENAMED_COPY, True, min(conf_p, 0.97), reasons, tr)
        reasons.append("same values in the same layout (up to dtype/quantisation error)")
        return Verdict(R.IDENTICAL, True, min(conf_p, 0.97), reasons, tr)

    # 3. merges with named parents
    sig_parents = [p for p in parents if p.p_value < alpha]
    if len(sig_parents) >= 2:
        tr["merge"] = {p.name: p.share for p in parents}
        shares = ", ".join(f"{p.name} {p.share:.2f}" for p in sig_parents if p.share is not None)
        reasons.append(
            "suspect descends from "
            + " and ".join(p.name for p in sig_parents)
            + (f": estimated shares {shares}" if shares else "")
        )
        return Verdict(R.MERGED, True, min(conf_p, 0.9), reasons, tr)

    # 3b. a shared initialisation, not trained weights (issue 20): the raw values correlate weakly at
    # the same positions (what survives of one random init), the function read through shared tokens
    # does not match at all
    ancestor = shared_init(stats, alpha)
    if ancestor is not None:
        tr["shared_ancestor"] = {**ancestor, "tells_apart": TELLS_APART}
        reasons[0] = _related(log10p, alpha)
        reasons.append(
            f"the raw values correlate at the same positions (at most r={ancestor['raw_imprint']:.3f} < "
            f"{IMPRINT_MAX}) but the layers' function does not match (basis-free p "
            f"{_fmt(ancestor['log10p_basis_free'])}): what one random initialisation leaves in two models "
            "trained on other data, not a trained parent's weights"
        )
        reasons.append("what would tell them apart: " + TELLS_APART)
        return Verdict(R.SHARES_ANCESTOR, True, min(conf_p, 0.7), reasons, tr)

    # 3a. related, but no layer maps (issue 20): no layer can be said dropped or copied. A width cut read
    # from the tensor shapes is still measured (pruned, with that reason only); otherwise no
    # structural label is invented
    if not mapped:
        cut = measured_width_cut(ref, sus)
        if cut is not None:
            reasons.append(
                "pruned: "
                + cut
                + "; no layer maps one to one (the layer similarities are not significant alone)"
            )
            tr["pruning"] = {
                "dropped_reference_layers": None,
                "ffn_dim": [ffn_ref, ffn_sus],
                "d_model": [ref.d_model, sus.d_model],
                "measured_from": "tensor shapes",
            }
            name_kept_width(found, reasons, tr)
            return Verdict(R.PRUNED, True, min(conf_p, 0.8), reasons, tr)
        reasons[0] = _related(log10p, alpha)
        reasons.append(
            "no suspect layer maps onto a reference layer: the lineage statistic relates the two, but the "
            "layers cannot say how (which side came first, or whether both come from a third model)"
        )
        tr["shared_ancestor"] = {"why": "empty layer map", "tells_apart": TELLS_APART}
        return Verdict(R.SHARES_ANCESTOR, True, min(conf_p, 0.6), reasons, tr)

    # 4. structure: depth and width
    if n_sus > n_ref or repeated:
        reasons.append(
            f"{n_sus} suspect layers map onto {len(set(used))} reference layers with repeats: "
            "layers were duplicated"
        )
        return Verdict(R.DEPTH_UPSCALED, True, min(conf_p, 0.9), reasons, tr)
    if unmatched and mapped and sus.d_model >= ref.d_model:  # a narrower suspect holds no whole block
        reasons.append(
            f"suspect layers {unmatched} match no reference layer while "
            f"{[j for j, _ in mapped]} do: only some layers were copied"
        )
        tr["copied_layers"] = {str(j): i for j, i in mapped}
        return Verdict(R.PARTIAL, True, min(conf_p, 0.85), reasons, tr)
    if skipped or narrower or n_sus < n_ref:
        what = []
        if skipped:
            what.append(f"reference layers {skipped} dropped")
        if narrower:
            what.append(f"width cut (ffn {ffn_ref}->{ffn_sus}, d {ref.d_model}->{sus.d_model})")
        reasons.append("pruned: " + "; ".join(what))
        tr["pruning"] = {
            "dropped_reference_layers": skipped,
            "ffn_dim": [ffn_ref, ffn_sus],
            "d_model": [ref.d_model, sus.d_model],
        }
        name_kept_width(found, reasons, tr)
        return Verdict(R.PRUNED, True, min(conf_p, 0.9), reasons, tr)

    # 5. same function, transformed
    if sims.size and low >= FUNCTION_EQUAL and identity_map:
        undone = []
        if resid is not None and resid.kind not in ("identity", "none", "undetermined"):
            undone.append(f"residual {resid.kind}")
        if neurons is not None and neurons.moved:
            undone.append(f"{neurons.moved} FFN neurons permuted")
        if not raw_same:
            undone.append("raw values differ at the same positions")
        tr["obfuscation"] = undone
        reasons.append(
            "every layer computes the same function (basis-free similarity >= "
            f"{FUNCTION_EQUAL}) but the stored values differ: " + ", ".join(undone)
        )
        return Verdict(R.OBFUSCATED_COPY, True, min(conf_p, 0.95), reasons, tr)

    # 6. drift
    tr["drift"] = {"median_layer_similarity": med, "min_layer_similarity": low}
    if med >= FINE_TUNE_MIN:
        reasons.append(f"all layers match with small drift (median similarity {med:.3f} >= {FINE_TUNE_MIN})")
        return Verdict(R.FINE_TUNED, True, min(conf_p, 0.8), reasons, tr)
    reasons.append(f"all layers match with large drift (median similarity {med:.3f} < {FINE_TUNE_MIN})")
    spread = float(np.max(sims) - np.min(sims)) if sims.size else 0.0
    if sims.size and med < MERGE_FLAG_MAX and spread < 0.1:
        tr["possible_merge"] = {"median_layer_similarity": med, "layer_spread": spread}
        reasons.append(
            "every layer sits at the same intermediate similarity: this is also what a merge with "
            "an unrelated model looks like; name candidate parents (--parent) to test it"
        )
    if parents:
        reasons.append("the named parents do not both explain it: not a merge of them")
    return Verdict(R.CONTINUED_PRETRAINING, True, min(conf_p, 0.7), reasons, tr)


def through_relative(verdict: Verdict, relative: Any, log10p: float, alpha: float) -> Verdict:
    """``shares-ancestor`` for a drift verdict (fine-tuned, continued pretraining) when a named
    relative sits between the two (:func:`taoke.weights.ancestry.common_relative`): the drift runs
    through it, so the reference is not shown to be the suspect's parent (issue 20: two fine-tunes
    of one base read "fine-tuned" of each other)."""
    tr = dict(verdict.transformations)
    drift = tr.pop("drift", None)  # "trained further" would say which side came first
    tr["shared_ancestor"] = {**relative.to_dict(), "drift": drift, "tells_apart": TELLS_APART_RELATIVE}
    reasons = [_related(log10p, alpha), *verdict.reasons[1:]]
    reasons.append(
        f"{relative.name} is closer to both (median layer similarity {relative.to_reference:.3f} to the "
        f"reference, {relative.to_suspect:.3f} to the suspect) than they are to each other "
        f"({relative.pair:.3f}), so the drift between them runs through {relative.name} or a model near "
        "it (both descend from a common ancestor, or one from the other through it) and the reference "
        "is not shown to be the suspect's parent"
    )
    reasons.append("what would tell them apart: " + TELLS_APART_RELATIVE)
    return Verdict(R.SHARES_ANCESTOR, True, min(verdict.confidence or 0.5, 0.7), reasons, tr)


#: What would tell a sibling from a parent once a common relative is found.
TELLS_APART_RELATIVE = (
    "training logs or checkpoints with dates, or a declared base model; the weights of the pair and "
    "their common relative alone cannot tell a chain from a fork"
)


#: What would tell a parent from a shared ancestor, printed with every ``shares-ancestor`` label.
TELLS_APART = (
    "the common ancestor's weights (compare each model with it: the one that is closer is not "
    "necessarily the parent, but a model derived from the other keeps the other's trained features), "
    "training logs or checkpoints with dates, or a declared base model"
)


def shared_init(stats: LineageStats, alpha: float) -> dict[str, float] | None:
    """The shared-initialisation signature, or None: both the raw-basis (S2) and the basis-free (S1)
    statistics were computed, S1 is not significant, and the largest raw correlation over every layer
    pair stays below :data:`IMPRINT_MAX`. A model trained from another's *trained* weights keeps its
    function (S1) or, when its embeddings were swapped, whole blocks of raw values (r near 1); two
    models that only share a random initialisation keep neither (the "common ancestor" case of model
    tracing, Zhu et al. 2025, "Independence Tests for Language Models")."""
    s2 = getattr(stats, "s2", None)
    if s2 is None or not np.size(s2) or not getattr(stats, "basis_free", None):
        return None
    s1 = getattr(stats, "s1", None)
    if s1 is None or not np.size(s1):
        return None
    lp_bf = float(getattr(stats, "log10p_basis_free", 0.0))
    if lp_bf < np.log10(alpha):
        return None
    imprint = float(np.nanmax(np.tanh(np.asarray(s2, dtype=np.float64))))
    if imprint >= IMPRINT_MAX:
        return None
    return {"raw_imprint": imprint, "imprint_max": IMPRINT_MAX, "log10p_basis_free": lp_bf}


def _block_width(fp: Fingerprint) -> tuple[int | None, int | None]:
    """(hidden size, FFN width) read from the first block's tensor shapes, None where not stored."""
    shapes = fp.meta.get("shapes") or {}
    emb = shapes.get("token_embd.weight")
    d = int(emb[1]) if emb and len(emb) == 2 else None
    up = shapes.get("blk.0.ffn_up.weight") or shapes.get("blk.0.ffn_gate.weight")
    ffn = int(up[0]) if up and len(up) == 2 else None
    return d, ffn


def measured_width_cut(ref: Fingerprint, sus: Fingerprint) -> str | None:
    """The width cut read from the weights' shapes (hidden size, FFN), or None when none is measured:
    the config's sizes are not used (a claim is not a measurement)."""
    (d_r, f_r), (d_s, f_s) = _block_width(ref), _block_width(sus)
    what = []
    if d_r and d_s and d_s < d_r:
        what.append(f"hidden size {d_r}->{d_s}")
    if f_r and f_s and f_s < f_r:
        what.append(f"FFN {f_r}->{f_s}")
    return "width cut read from the tensor shapes (" + ", ".join(what) + ")" if what else None


def embedding_rows(fp: Fingerprint) -> int | None:
    """Rows of the token embedding as read from the weights (``meta["shapes"]``), never the config's
    ``vocab_size``: a vocabulary extension is a grown matrix, not a claim."""
    shape = (fp.meta.get("shapes") or {}).get("token_embd.weight")
    return int(shape[0]) if shape else None


def measured_renames(ref: Fingerprint, sus: Fingerprint) -> dict[str, Any] | None:
    """The tensor renames measured on the stored names, or None when none was measured.

    Measured means: one side's stored names differ from its family's canonical names and the other's do
    not (``meta["renamed"]``, from the tensor layout), the fused tensors differ, or both are stored in
    one format under different names. The config's class name (``YiForCausalLM``) is not a rename of
    any tensor (issue 20: editing only ``config.json`` turned "identical" into "renamed-copy"); it is the
    architecture analyzer's finding.
    """
    fused = sorted(set(ref.meta.get("fused") or []) ^ set(sus.meta.get("fused") or []))
    flag = bool(ref.meta.get("renamed")) != bool(sus.meta.get("renamed"))
    names_r, names_s = set(ref.meta.get("stored_names") or []), set(sus.meta.get("stored_names") or [])
    same_format = ref.meta.get("format") and ref.meta.get("format") == sus.meta.get("format")
    differ = sorted(names_s - names_r) if same_format and names_r and names_s else []
    if not (flag or fused or differ):
        return None
    what = []
    if differ:
        what.append(f"{len(differ)} stored tensor names not in the reference (e.g. {differ[0]})")
    elif flag:
        side = "suspect" if sus.meta.get("renamed") else "reference"
        what.append(f"the {side}'s stored tensor names differ from its family's canonical names")
    if fused:
        what.append(f"fused or split tensors: {', '.join(fused)}")
    return {
        "measured": "under other tensor names: " + "; ".join(what),
        "renamed_tensors": len(differ) if differ else None,
        "examples": differ[:5],
        "suspect_renamed": bool(sus.meta.get("renamed")),
        "reference_renamed": bool(ref.meta.get("renamed")),
        "fused_tensors": fused,
    }


def untestable(stats: LineageStats, alpha: float = DEFAULT_ALPHA) -> Verdict | None:
    """``untestable`` (no p-value, no confidence) when the pair cannot be tested; None when it can.

    Untestable means no lineage statistic applies to the pair (other widths and too few shared tokens:
    SmolLM2 vs Gemma 3), or the only one that does is the raw-basis statistic and it found nothing: it
    is blind to a rotated or permuted residual stream, so "not significant" there cannot say
    "independent" (issue 15.5, issue 17). Never "independent, p = 1".
    """
    computed = getattr(stats, "computed", None)
    if computed is None:  # a stats object from before the untestable rule (duck-typed): tested
        return None
    if computed and (computed != ["raw-basis"] or stats.log10p_model < np.log10(alpha)):
        return None
    why = "; ".join(stats.notes) if stats.notes else "no statistic applies"
    if not computed:
        reasons = [f"no lineage statistic could be computed for this pair: {why}"]
    else:
        reasons = [
            "only the raw-basis statistic could be computed and it found no match; it cannot see a copy "
            f"whose residual stream was rotated or permuted ({why})"
        ]
    reasons.append("could not compare: neither derived nor independent")
    return Verdict(R.UNTESTABLE, False, None, reasons, {})


def requantized_fine_tune(
    found: Explanation, raw_same: bool, conf_p: float, reasons: list[str], tr: dict[str, Any]
) -> Verdict | None:
    """``fine-tuned`` when the raw values agree within rounding but the exact requantization check finds
    the blocks different (issue 15.2: a fine-tune of a dequantized Q4_1 model moves every value by less
    than one Q4_1 step, so the raw values look the same, yet its requantized blocks are not the
    reference's). Records the check in ``tr`` whenever it applied; None when it does not decide."""
    rq = found.requant
    if rq is None or rq.verdict == "not applicable":
        return None
    tr["requantization"] = rq.to_dict()
    if raw_same and rq.verdict == "differs":
        reasons.append(
            f"the values agree within rounding, but only {rq.reproduced} of {rq.blocks} sampled "
            f"{rq.scheme} blocks ({rq.fraction:.1%}) are reproduced bit for bit: changed after "
            "quantization, by less than a quantization step (a fine-tune)"
        )
        return Verdict(R.FINE_TUNED, True, min(conf_p, 0.8), reasons, tr)
    if raw_same and rq.verdict == "same":
        made = rq.scheme
        reasons.append(
            f"{rq.reproduced} of {rq.blocks} sampled {rq.scheme} blocks ({rq.fraction:.1%}) reproduced bit "
            f"for bit ({rq.chain}): a copy made from the {made} quantization"
        )
        tr["quantized_from"] = made
    return None


def weight_basis_similarity(stats: LineageStats) -> np.ndarray | None:
    """Layer similarities from the weight-basis statistic (S3) when the basis-free one could not be
    computed (no shared tokens) and S3 is the stronger of the others: a rotated copy under a new
    tokenizer is then read as the same function (obfuscated copy), not as drift (issue 15.6)."""
    wb = getattr(stats, "weight_basis", None)
    if wb is None or (stats.s2 is not None and stats.log10p_raw_basis <= wb.log10p_model):
        return None
    return np.tanh(wb.scores)


def name_kept_width(found: Explanation, reasons: list[str], tr: dict[str, Any]) -> None:
    """Width pruning (issue 15.3): name the kept dimensions -- hidden size, heads, FFN, and the residual
    channels and FFN neurons that survived where the fingerprints tell -- in the reasons and in
    ``tr["pruning"]["width"]``."""
    if found.width is None:
        return
    tr.setdefault("pruning", {})["width"] = found.width.to_dict()
    reasons.append("width pruning kept " + found.width.describe())


def replaced_vocabulary(
    stats: LineageStats,
    found: Explanation,
    alpha: float,
    conf_p: float,
    reasons: list[str],
    tr: dict[str, Any],
) -> Verdict | None:
    """``partial`` when the blocks are the reference's but the vocabulary and its embeddings are not.

    A copy that swapped its tokenizer (new embeddings and output head trained for it, the blocks kept,
    perhaps then rotated: issue 15.6) matches in the statistics that read the blocks without the
    embeddings (raw basis S2, weight basis S3) but not in the one read through the embeddings of shared
    tokens (S1), and its vocabulary is another one. Only the blocks were copied: ``partial``.
    """
    if found.vocabulary.relation not in (VocabChange.OVERLAPPING, VocabChange.DIFFERENT):
        return None
    thr = np.log10(alpha)
    wb = getattr(stats, "weight_basis", None)
    blocks = min(
        getattr(stats, "log10p_raw_basis", 0.0) if getattr(stats, "s2", None) is not None else 0.0,
        wb.log10p_model if wb is not None else 0.0,
    )
    through_embeddings = (
        getattr(stats, "log10p_basis_free", 0.0) if getattr(stats, "basis_free", None) else 0.0
    )
    if not (blocks < thr <= through_embeddings):
        return None
    mapped = {str(j): i for j, i in enumerate(stats.layer_map) if i is not None}
    tr["copied_layers"] = mapped
    tr["replaced"] = {"vocabulary": found.vocabulary.relation, "tensors": ["token_embd", "output"]}
    reasons.append(
        f"the blocks match ({len(mapped)} layers, read without the embeddings: p 10^{blocks:.0f}) but not "
        f"through the embeddings of shared tokens, and the vocabulary is another one "
        f"({found.vocabulary.relation}): the blocks were copied under a new tokenizer and embeddings"
    )
    return Verdict(R.PARTIAL, True, min(conf_p, 0.85), reasons, tr)
