"""Every threshold of the weight lineage verdict, with its provenance (issue 20: "thresholds fit on
the zoo ... list each with its provenance, fit them on a fit split, report on a test split").

One :class:`Threshold` per constant: where it lives (the value is read from that module, never copied),
what statistic it cuts, and how it was set -- ``fitted`` on the zoo's fit split (issue 3's pairs and
those marked ``split="fit"``), ``design`` (a stated choice or a power/resolution argument, not fitted
to any pair), or ``calibrated`` (a null fitted on independent calibration models). The measured margins
on the fit split and the outcomes on the test split are :mod:`taoke.zoo.thresholds` (it needs the zoo),
printed by ``bench/thresholds.py`` and tabulated in ``docs/compare.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from importlib import import_module
from typing import Any


class Provenance(str, Enum):
    """How a threshold was set."""

    FITTED = "fitted"  # on the fit split of the zoo; reported on the test split
    DESIGN = "design"  # a stated choice or a resolution/power argument; no pair was fitted
    CALIBRATED = "calibrated"  # a null fitted on independent calibration models

    __str__ = str.__str__
    __format__ = str.__format__


@dataclass(frozen=True)
class Threshold:
    """One constant, where it lives, what it cuts and how it was set."""

    name: str
    module: str
    statistic: str
    provenance: Provenance
    set_on: str
    measured: str | None = None  # the key of :mod:`taoke.zoo.thresholds` that re-measures it, if any

    @property
    def value(self) -> Any:
        return getattr(import_module(self.module), self.name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "value": self.value,
            "statistic": self.statistic,
            "provenance": self.provenance,
            "set_on": self.set_on,
            "measured": self.measured,
        }


_V = "taoke.weights.verdict"
_A = "taoke.weights.alignment"
_F = "taoke.weights.fingerprint"
_L = "taoke.weights.lineage"

THRESHOLDS: tuple[Threshold, ...] = (
    Threshold(
        "FUNCTION_EQUAL",
        _V,
        "min mapped-layer basis-free similarity (same function => obfuscated copy)",
        Provenance.FITTED,
        "fit: function-preserving obfuscations and Q4_0 give >= 0.985, full fine-tunes < 0.98; the "
        "sub-step Q4_1 fine-tunes (0.9996) are decided before it by the requantization check",
        "function_equal",
    ),
    Threshold(
        "FINE_TUNE_MIN",
        _V,
        "median mapped-layer basis-free similarity (fine-tuned vs continued pretraining)",
        Provenance.FITTED,
        "fit: midpoint in Fisher z of the LoRA fine-tune (0.79) and continued pretraining (0.41-0.46)",
        "fine_tune_min",
    ),
    Threshold(
        "IMPRINT_MAX",
        _V,
        "largest raw-basis correlation when S1 finds nothing (shared init vs trained parent)",
        Provenance.FITTED,
        "fit: midpoint in Fisher z of base-a/a-init-man (0.098) and merge-a-a2 vs base-a2 (0.415)",
        "imprint_max",
    ),
    Threshold(
        "BETWEEN_MARGIN",
        "taoke.weights.ancestry",
        "Fisher-z margin by which a third model is closer to both sides of a drift pair than they are "
        "to each other (siblings vs parent and child)",
        Provenance.FITTED,
        "fit: best accuracy on base A and its four trained children, at the midpoint of a-ft-man for "
        "base-a/a-lora-man (0.031) and a-ft-man for a-ft-doc/a-cpt-man (0.033); test: the families' "
        "second fine-tunes",
        "between_margin",
    ),
    Threshold(
        "RAW_SAME_FRACTION",
        _V,
        "share of sampled tensors whose raw values agree (identical / renamed copy)",
        Provenance.DESIGN,
        "design: copies agree on all tensors, any trained change on none; 0.9 leaves room for a few "
        "re-quantised tensors",
    ),
    Threshold(
        "MERGE_FLAG_MAX",
        _V,
        "median similarity under which uniform drift is flagged as a possible merge (a note, no label)",
        Provenance.DESIGN,
        "design: only adds a sentence to the reasons; no label depends on it",
    ),
    Threshold(
        "MERGE_GAIN",
        "taoke.weights.mergefind",
        "share of the best single candidate's residual two parents explain (merge without oracle)",
        Provenance.FITTED,
        "fit: midpoint of the merges' minimum (TIES 0.431) and the non-merges' maximum (0.302)",
        "merge_gain",
    ),
    Threshold(
        "MIN_SHARE",
        "taoke.weights.mergefind",
        "smallest share of a parent in a found merge",
        Provenance.DESIGN,
        "design: >= 90 % one parent is reported as that parent's derivative",
    ),
    Threshold(
        "KEPT_CORR",
        _A,
        "correlation of a kept residual channel / FFN neuron in width pruning",
        Provenance.DESIGN,
        "design: chance matches sit near 0.15 (issue 15.3)",
    ),
    Threshold(
        "SAME_BLOCKS",
        _A,
        "share of quantisation blocks reproduced bit for bit (same quantised copy)",
        Provenance.FITTED,
        "fit: zoo-A Q4_1/Q4_0/Q8_0 exports 100 %, the Q4_1 fine-tune 0.5 %; test: SmolLM2 pairs",
    ),
    Threshold(
        "DIFFERENT_BLOCKS",
        _A,
        "share of blocks under which the blocks differ beyond rounding",
        Provenance.FITTED,
        "fit: as SAME_BLOCKS (issue 15.2); test: SmolLM2 pairs",
    ),
    Threshold(
        "GRID_RESIDUAL_MAX",
        _A,
        "median distance to the quantisation grid, in steps (float side moved off it)",
        Provenance.FITTED,
        "fit: midpoint of the fine-tune (0.054) and the quantisation sources (0.235-0.245)",
    ),
    Threshold(
        "WHITEN_SHRINK",
        "taoke.weights.invariants",
        "ridge of the anchor-row whitening (fraction of the mean eigenvalue)",
        Provenance.DESIGN,
        "design: a light ridge for numerical stability; not tuned on any pair",
    ),
    Threshold(
        "M_INV",
        _F,
        "anchor tokens the invariants are evaluated on",
        Provenance.DESIGN,
        "design: fingerprint size vs power; fixed before the calibration nulls were fitted",
    ),
    Threshold(
        "M_PROBES",
        _F,
        "fixed probe vectors of the raw-basis invariants",
        Provenance.DESIGN,
        "design: as M_INV",
    ),
    Threshold(
        "M_BASIS",
        _F,
        "weight-derived probe vectors of the weight-basis invariants",
        Provenance.DESIGN,
        "design: as M_INV",
    ),
    Threshold(
        "RAW_SAMPLES",
        _F,
        "seeded raw values kept per tensor (raw identity, merge regression)",
        Provenance.DESIGN,
        "design: fingerprint size",
    ),
    Threshold(
        "MIN_SHARED_ANCHORS",
        _L,
        "shared anchor tokens the basis-free statistic needs",
        Provenance.DESIGN,
        "design: below it the anchor-permutation noise is not estimable",
    ),
    Threshold(
        "LAYER_ALPHA",
        _L,
        "per-suspect-layer significance for drawing the layer map (after Bonferroni)",
        Provenance.DESIGN,
        "design: the default alpha of compare",
    ),
    Threshold(
        "RAW_DRAWS",
        _L,
        "maximum draws of S2's permutation test",
        Provenance.DESIGN,
        "design: resolves 1e-3 / 3 (Besag-Clifford sequential stopping)",
    ),
    Threshold(
        "BLOCK_SHARE",
        "taoke.weights.experts",
        "share of MoE blocks with experts matched at alpha (upcycled / experts copied)",
        Provenance.DESIGN,
        "design: a majority of blocks; one block's match is not copying",
    ),
    Threshold(
        "KEPT",
        "taoke.weights.experts",
        "neuron correlation counted as a kept neuron within matched experts",
        Provenance.DESIGN,
        "design: a copied neuron, fine-tuned, stays above it",
    ),
    Threshold(
        "CARRIED",
        "taoke.weights.experts",
        "share of kept neurons for a matched expert to carry the reference's (else convergent)",
        Provenance.DESIGN,
        "design: most of its neurons; written after seeing base-moe/moe-att (test split): kept 0.0 there vs "
        "0.99-1.0 for copied and upcycled experts",
    ),
    Threshold(
        "Z_SCALE",
        "taoke.weights.weightbasis",
        "scale of the weight-basis null t distribution",
        Provenance.CALIBRATED,
        "calibrated: calib-00..04 (fit); the other calibration models are its test",
    ),
)

__all__ = ["THRESHOLDS", "Provenance", "Threshold"]
