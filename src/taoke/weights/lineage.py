"""The lineage test: two layer-similarity statistics, their nulls, layer-level and model-level p-values.

Two statistics, each a ``[L_ref, L_sus]`` matrix of layer-pair scores (the mean over the qk/ov/ffn/gate
components of the Fisher-z transformed correlation of their invariants):

``basis-free`` (S1): invariants on whitened anchor-token embeddings. Survives renaming, dtype and
    quantization, permutations of residual dimensions/heads/neurons, the allowed rescalings and any
    orthogonal rotation of the residual stream; tokens are matched by string, so a reordered or
    extended vocabulary lines up too. Scores are first expressed in units of *this pair's*
    anchor-permutation noise (B's anchors shuffled), which makes them comparable whatever the number of
    shared tokens or the width. The null cannot be built from the pair alone: two models trained
    independently on similar text converge a little at the same depth (the "cautionary tale" of issue
    4; on the zoo, layer 0 of same-data twins reaches 12 noise SDs where other layer pairs stay near 1).
    So S1's null is *calibrated* on the zoo's independent calibration pairs (:class:`Nulls`; the
    packaged ``taoke/data/weights_null.json`` is what ``taoke eval --calibrate OUT.json`` fits on the
    zoo), and the model-level
    statistic is the median over suspect layers of each one's best match (a copy makes every layer
    match; convergence sits in one layer pair), tested against the predictive Student-t of that
    statistic (:func:`effective_pairs`).

``raw-basis`` (S2): the same invariants on fixed orthonormal probe vectors instead of anchors. Needs
    equal widths and breaks under a residual rotation/permutation, but does not depend on the
    embeddings (it sees blocks transplanted into a model that kept its own embeddings: partial copies).
    An independent model's residual coordinates are exchangeable (i.i.d. init and permutation-
    equivariant training), so there is no convergence to allow for, only noise, and the null needs no
    calibration at all: the model-level p-value is an exact Monte Carlo permutation test over the probe
    correspondence (:func:`raw_basis_permutation_test`; model tracing, Zhu et al. ICML 2025, makes the
    same exchangeability argument for its exact permutation null over MLP neurons,
    github.com/ahmeda14960/model-tracing). Until issue 15.1 it was a Gaussian with the spread of d = 64
    zoo pairs; the scores are right-skewed, more so at larger widths, and that tail under-stated p
    (``docs/compare.md``, "False positives per width"). The calibrated ``raw_basis`` fit is still
    written by ``taoke eval --calibrate`` as a record of the spread; the test does not use it.

The model-level p-value is a Bonferroni minimum over the statistics (S1, S2 and the weight-basis S3 of
:mod:`taoke.weights.weightbasis`; S2's maximum over layer pairs is inside its permutation test), which is
valid whatever the dependence between layers (Fisher's method, used by model tracing,
assumes independent layers; it would be anti-conservative here because layers of one model share a
residual basis). Layer-pair p-values (for the layer map and the ``layers`` output) are the tails of
the per-layer-pair nulls, Bonferroni over reference layers.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import norm
from scipy.stats import t as student_t

from taoke.errors import CorruptFile, SourceNotFound
from taoke.evidence import Evidence
from taoke.weights.fingerprint import Fingerprint
from taoke.weights.similarity import (
    SharedAnchors,
    best_layer_map,
    component_similarity,
    permutation_noise,
    permutation_scores,
    shared_anchors,
)
from taoke.weights.weightbasis import WeightBasisStat, weight_basis_statistic

NULL_FILE = "weights_null.json"
MIN_SHARED_ANCHORS = 16
LAYER_ALPHA = 1e-3  # per-suspect-layer significance for drawing the layer map (after Bonferroni)
#: S2's Monte Carlo permutation test (:func:`raw_basis_permutation_test`): at most RAW_DRAWS draws, stopped
#: once RAW_EXCEEDANCES of them reach the observed statistic (Besag & Clifford 1991). RAW_DRAWS is set by
#: what the p-value must resolve, not by data: the model-level p is a Bonferroni minimum over (at most)
#: three statistics and ``taoke compare``'s default alpha is 1e-3, so S2 alone must resolve 1e-3 / 3;
#: 1 / (3999 + 1) = 2.5e-4 does. RAW_EXCEEDANCES = 20 keeps the relative error of a stopped estimate
#: near 1 / sqrt(20) while an independent pair (p ~ U(0, 1)) costs about 20 (1 + ln 200) ~ 130 draws.
RAW_DRAWS = 3999
RAW_EXCEEDANCES = 20
RAW_SEED = 0
#: When S1 or S3 already has log10 p <= RAW_SETTLED, S2 runs at most RAW_DRAWS_SETTLED draws: the
#: model-level p is the minimum over the statistics, so every decision at alpha >= 3e-6 (three
#: statistics) is a rejection whatever S2's exact p; S2's own p then resolves 1e-2 and is a Gaussian tail
#: below (flagged ``extrapolated``). This keeps a derived pair's compare as fast as before (a full set
#: of draws costs seconds) without changing any decision at the alphas taoke uses.
RAW_SETTLED = -6.0
RAW_DRAWS_SETTLED = 99


@dataclass
class Null:
    """A null for a score: Gaussian N(mu, sd), or Student-t with ``dof`` degrees of freedom (location mu,
    scale sd) when the tail itself is uncertain; where it comes from and how many values fitted it."""

    mu: float
    sd: float
    source: str
    n: int = 0
    dof: float | None = None

    def z(self, score: np.ndarray) -> np.ndarray:
        return (score - self.mu) / self.sd

    def log10_sf(self, score: np.ndarray) -> np.ndarray:
        z = self.z(score)
        if self.dof:
            return student_t.logsf(z, self.dof) / np.log(10)
        return norm.logsf(z) / np.log(10)

    def describe(self) -> str:
        shape = (
            f"t(dof={self.dof:g}, loc={self.mu:.4f}, scale={self.sd:.4f})"
            if self.dof
            else (f"N(mu={self.mu:.4f}, sd={self.sd:.4f})")
        )
        return f"{shape} from {self.source}" + (f" (n={self.n})" if self.n else "")


@dataclass(frozen=True)
class NullFit:
    """One calibrated null: where a statistic lies between independently trained models.

    ``mu``/``sd``: the centre and spread the test uses (``sd`` never below the spread that puts the most
    extreme calibration value at 3.5 SDs, see :func:`fit_null`); ``sample_sd`` and ``max``: what was
    observed; ``n`` values from ``pairs`` pairs of ``n_models`` models; ``perm_ratio`` (raw basis only):
    calibrated SD over the mean probe-permutation noise SD, to scale the null to other widths.
    """

    mu: float
    sd: float
    source: str = "calibration"
    n: int = 0
    sample_sd: float | None = None
    max: float | None = None
    pairs: int | None = None
    n_models: int | None = None
    perm_ratio: float | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any], units: str = "") -> NullFit:
        """Read the JSON form; ``units`` = "_z" for the keys ``mu_z``/``sd_z`` (noise units)."""
        opt = {f.name: d[f.name] for f in fields(cls)[2:] if d.get(f.name) is not None}
        return cls(float(d[f"mu{units}"]), float(d[f"sd{units}"]), **opt)

    def to_dict(self, units: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {f"mu{units}": self.mu, f"sd{units}": self.sd}
        for f in fields(self)[2:]:
            v = getattr(self, f.name)
            if v is not None:
                out[f.name] = v
        return out


@dataclass(frozen=True)
class Nulls:
    """The calibrated nulls of the lineage statistics (the JSON of ``taoke/data/weights_null.json``).

    - ``basis_free``: per layer pair, basis-free scores in permutation-noise units (draws the layer map);
    - ``basis_free_median``: per pair, the median over suspect layers of the best z (model level);
    - ``raw_basis``: per layer pair, raw-basis scores (a floor for the per-pair raw-basis null).

    - ``basis_free_tied`` / ``basis_free_median_tied``: the same two, fitted on independent models with
      tied input/output embeddings (issue 15.5), used by :meth:`for_pair` when either side ties them.

    A missing one falls back to what the pair alone can give (flagged in the notes as uncalibrated).
    """

    basis_free: NullFit | None = None
    basis_free_median: NullFit | None = None
    raw_basis: NullFit | None = None
    about: str | None = None
    basis_free_tied: NullFit | None = None
    basis_free_median_tied: NullFit | None = None

    def overlay(self, other: Nulls) -> Nulls:
        """These nulls with every null that ``other`` sets replaced by ``other``'s."""
        keys = (
            "basis_free",
            "basis_free_median",
            "raw_basis",
            "about",
            "basis_free_tied",
            "basis_free_median_tied",
        )
        return replace(self, **{k: getattr(other, k) for k in keys if getattr(other, k) is not None})

    def for_pair(self, ref: Any, sus: Any) -> Nulls:
        """The nulls for one pair: the tied-embedding S1 nulls when either model ties its embeddings.

        WHY: a tied embedding is trained as input *and* output head, so two independent tied models
        share more token geometry than the whitening of the anchors removes; their S1 scores sit higher
        (an independent Gemma twin of the family zoo scored z = 14.8 against the untied null). Untied
        pairs keep the untied null exactly."""
        tied = any(bool(getattr(fp, "meta", {}).get("tied_embeddings")) for fp in (ref, sus))
        if not tied or self.basis_free_tied is None:
            return self
        return replace(
            self,
            basis_free=self.basis_free_tied,
            basis_free_median=self.basis_free_median_tied or self.basis_free_median,
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Nulls:
        def fit(key: str, units: str = "") -> NullFit | None:
            v = d.get(key)
            return NullFit.from_dict(v, units) if v else None

        about = d.get("_about")
        return cls(
            fit("basis_free", "_z"),
            fit("basis_free_median"),
            fit("raw_basis"),
            str(about) if about is not None else None,
            fit("basis_free_tied", "_z"),
            fit("basis_free_median_tied"),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.basis_free is not None:
            out["basis_free"] = self.basis_free.to_dict("_z")
        if self.basis_free_median is not None:
            out["basis_free_median"] = self.basis_free_median.to_dict()
        if self.raw_basis is not None:
            out["raw_basis"] = self.raw_basis.to_dict()
        if self.basis_free_tied is not None:
            out["basis_free_tied"] = self.basis_free_tied.to_dict("_z")
        if self.basis_free_median_tied is not None:
            out["basis_free_median_tied"] = self.basis_free_median_tied.to_dict()
        if self.about is not None:
            out["_about"] = self.about
        return out

    def save(self, path: str | Path) -> Path:
        """Write the JSON form to ``path`` (``taoke eval --calibrate PATH``)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)  # never a half-written calibration
        return path


def packaged_nulls() -> Nulls:
    """The calibration shipped in ``taoke/data`` (empty :class:`Nulls` when absent or unreadable)."""
    try:
        text = resources.files("taoke").joinpath("data", NULL_FILE).read_text(encoding="utf-8")
        return Nulls.from_dict(json.loads(text))
    except (OSError, ModuleNotFoundError, ValueError, KeyError, TypeError, AttributeError):
        return Nulls()


def load_nulls(path: str | Path) -> Nulls:
    """Nulls from a file written by ``taoke eval --calibrate``; a bad file raises ``CorruptFile``."""
    p = Path(path)
    if not p.is_file():
        raise SourceNotFound("no such nulls file", p)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        nulls = Nulls.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise CorruptFile(f"unreadable nulls file ({type(exc).__name__}: {exc})", p) from None
    if nulls.basis_free is None and nulls.basis_free_median is None and nulls.raw_basis is None:
        raise CorruptFile("no calibrated null in this file (basis_free, basis_free_median, raw_basis)", p)
    return nulls


def p_value(log10p: float) -> float:
    """A p-value from its log10 (0.0 below float range: the exact value stays in ``log10_p_value``)."""
    return float(10.0**log10p) if log10p > -300 else 0.0


def bonferroni(log10p: float, m: int) -> float:
    """log10 of the Bonferroni-adjusted p-value of the smallest of ``m`` p-values: min(1, m * p),
    valid whatever the dependence between the tests (layers of one model share a residual basis, so an
    independence-based combination would be anti-conservative); ``m`` below 1 counts as 1."""
    return min(0.0, float(log10p) + float(np.log10(max(int(m), 1))))


def fisher_z(r: np.ndarray) -> np.ndarray:
    return np.arctanh(np.clip(r, -0.999999, 0.999999))


def layer_scores(sims: dict[str, np.ndarray]) -> np.ndarray:
    """Mean over components of Fisher-z correlations: one score per layer pair."""
    if not sims:
        return np.zeros((0, 0))
    return np.mean([fisher_z(s) for s in sims.values()], axis=0)


@dataclass(frozen=True)
class RawPermutationTest:
    """S2's model-level test on one pair: an exact Monte Carlo permutation test over the probe
    correspondence (:func:`raw_basis_permutation_test`)."""

    statistic: float  # max over layer pairs of the raw-basis score (Fisher-z units)
    log10p: float  # one-sided, before the Bonferroni over statistics
    draws: int
    exceedances: int
    mean: float  # permutation mean and SD of a layer-pair score (draws x layer pairs)
    sd: float
    extrapolated: bool  # no draw reached the statistic: p below 1 / (draws + 1) is a Gaussian tail

    def describe(self) -> str:
        how = (
            f"sequential Monte Carlo permutation test (Besag-Clifford: {self.exceedances} of {self.draws} "
            "draws with the suspect's probe order shuffled reach the observed maximum over layer pairs)"
        )
        if self.extrapolated:
            how += (
                f"; no draw reached it, so p below 1/{self.draws + 1} is the Gaussian tail of the "
                f"permutation moments (mean {self.mean:.4f}, sd {self.sd:.4f}), Bonferroni over layer pairs"
            )
        return how


@dataclass
class LineageStats:
    """Everything the lineage test computed for one (reference, suspect) pair."""

    anchors: SharedAnchors
    basis_free: dict[str, np.ndarray]
    raw_basis: dict[str, np.ndarray]
    s1: np.ndarray
    s2: np.ndarray | None
    null1: Null | None
    null2: Null | None
    log10p: np.ndarray  # [L_ref, L_sus] combined layer-pair log10 p (min over statistics, x2)
    layer_map: list[int | None]
    layer_log10p: list[float]  # per suspect layer, Bonferroni over reference layers
    log10p_model: float
    best_statistic: str
    notes: list[str] = field(default_factory=list)
    t1: float | None = None  # S1 model statistic: median over suspect layers of the best z (noise units)
    t1_null: Null | None = None
    log10p_basis_free: float = 0.0
    log10p_raw_basis: float = 0.0
    weight_basis: WeightBasisStat | None = None  # S3, :mod:`taoke.weights.weightbasis`
    raw_test: RawPermutationTest | None = None  # S2's model-level permutation test

    def similarity(self) -> np.ndarray:
        """The ``[L_ref, L_sus]`` similarity shown to users: S1 as a correlation (S2 where S1 was not
        computed; an empty matrix when no statistic was)."""
        return np.tanh(self.similarity_scores()[1])

    def similarity_scores(self) -> tuple[str | None, np.ndarray]:
        """Which statistic :meth:`similarity` shows, and its scores (issue 17: never zeros standing in
        for a statistic that was not computed). Where S1 is absent, the stronger of S2 and S3."""
        if self.basis_free and self.s1.size:
            return "basis-free", self.s1
        wb = self.weight_basis
        if self.s2 is not None and (wb is None or self.log10p_raw_basis <= wb.log10p_model):
            return "raw-basis", self.s2
        if wb is not None:
            return "weight-basis", wb.scores
        return None, np.zeros((0, 0))

    @property
    def computed(self) -> list[str]:
        """The lineage statistics that could be computed for this pair (empty: the pair is untestable)."""
        out = []
        if self.null1 is not None and self.basis_free:
            out.append("basis-free")
        if self.null2 is not None and self.s2 is not None:
            out.append("raw-basis")
        if self.weight_basis is not None:
            out.append("weight-basis")
        return out

    @property
    def evidence(self) -> list[Evidence]:
        """The statistics with their nulls (severity "info": how much they weigh is the verdict's call,
        see :func:`taoke.weights.compare.compare`), the layer map, then the notes."""
        ev: list[Evidence] = []
        sev = "info"
        if self.null1 is not None and self.s1.size:
            i, j = np.unravel_index(int(np.argmax(self.s1)), self.s1.shape)
            detail: dict[str, Any] = {
                "strongest_reference_layer": int(i),
                "strongest_suspect_layer": int(j),
                "strongest_r": float(np.tanh(self.s1[i, j])),
                "layer_pair_null": self.null1.describe(),
                "shared_anchor_tokens": int(len(self.anchors.ref)),
                "components": sorted(self.basis_free),
            }
            if self.t1 is not None and self.t1_null is not None:
                z = float(self.t1_null.z(np.asarray(self.t1)))
                detail["z"] = z
                msg = (
                    f"basis-free match: the median suspect layer's best match is {self.t1:.1f} noise SDs "
                    f"({z:.1f} null SDs above independent models); strongest: suspect layer {j} ~ reference "
                    f"layer {i}, r={np.tanh(self.s1[i, j]):.3f}"
                )
                null = (
                    "independent training: statistic ~ "
                    + self.t1_null.describe()
                    + "; Bonferroni over the two statistics"
                )
                value = self.t1
                stat = (
                    "median over suspect layers of the best layer-pair score, in units of this pair's "
                    "anchor-permutation noise (whitened anchor-token invariants qk, ov, ffn, gate)"
                )
            else:
                z = float(self.null1.z(self.s1[i, j]))
                detail["z"] = z
                msg = (
                    f"strongest basis-free layer match: suspect layer {j} ~ reference layer {i} "
                    f"(r={np.tanh(self.s1[i, j]):.3f}, {z:.1f} null SDs)"
                )
                null = (
                    "independent training: "
                    + self.null1.describe()
                    + "; Bonferroni over layer pairs and statistics"
                )
                value = float(self.s1[i, j])
                stat = "mean Fisher-z correlation of whitened anchor-token invariants (qk, ov, ffn, gate)"
            lp = self.log10p_basis_free + np.log10(2)
            ev.append(
                Evidence(
                    "weights",
                    "lineage-basis-free",
                    msg,
                    sev,
                    stat,
                    value,
                    p_value(min(0.0, lp)),
                    null,
                    detail,
                )
            )
        if self.null2 is not None and self.s2 is not None:
            i, j = np.unravel_index(int(np.argmax(self.s2)), self.s2.shape)
            lp = self.log10p_raw_basis + np.log10(2)
            ev.append(
                Evidence(
                    "weights",
                    "lineage-raw-basis",
                    f"strongest raw-basis layer match: suspect layer {j} ~ reference layer {i} "
                    f"(r={np.tanh(self.s2[i, j]):.3f}, {self.null2.z(self.s2[i, j]):.1f} null SDs)",
                    sev,
                    "mean Fisher-z correlation of probe-vector invariants in the raw residual basis",
                    float(self.s2[i, j]),
                    p_value(min(0.0, lp)),
                    "exchangeable probes (the two residual bases unrelated): "
                    + (self.raw_test.describe() if self.raw_test is not None else self.null2.describe())
                    + "; Bonferroni over the statistics",
                    {
                        "reference_layer": int(i),
                        "suspect_layer": int(j),
                        "z": float(self.null2.z(self.s2[i, j])),
                        **(
                            {
                                "permutation_draws": self.raw_test.draws,
                                "permutation_exceedances": self.raw_test.exceedances,
                                "extrapolated": self.raw_test.extrapolated,
                            }
                            if self.raw_test is not None
                            else {}
                        ),
                    },
                )
            )
        if self.weight_basis is not None:
            ev.append(self.weight_basis.evidence(sev))
        if not ev:
            ev.append(
                Evidence(
                    "weights",
                    "lineage-untestable",
                    "no lineage statistic could be computed: " + "; ".join(self.notes),
                    "medium",
                )
            )
        mapped = [(j, i) for j, i in enumerate(self.layer_map) if i is not None]
        ev.append(
            Evidence(
                "weights",
                "layer-map",
                f"{len(mapped)} of {len(self.layer_map)} suspect layers match a reference layer"
                + (f": {', '.join(f'{j}<-{i}' for j, i in mapped[:12])}" if mapped else ""),
                "info",
                "layer map: most significant reference layer per suspect layer",
                float(len(mapped)),
                None,
                None,
                {"layer_map": {str(j): i for j, i in enumerate(self.layer_map)}},
            )
        )
        for note in self.notes:
            ev.append(Evidence("weights", "note", note, "low"))
        return ev


def _inv_size(inv: dict[str, np.ndarray]) -> int:
    """Rows of a fingerprint's invariant matrices (anchors or probes), 0 when it has none."""
    return int(next(iter(inv.values())).shape[1]) if inv else 0


def effective_pairs(cal: NullFit) -> int:
    """Independent pairs behind a calibration: its pairs share models, so only n_models // 2 of them
    are disjoint. The calibrated nulls of the basis-free statistic are therefore used as the predictive
    Student-t of a new value (dof = n_eff - 1, scale x sqrt(1 + 1/n_eff)), not as a Gaussian whose tail
    45 correlated pairs cannot pin down (on the zoo, one same-data pair out of 45 sits 4 SDs out)."""
    return max(2, int(cal.n_models if cal.n_models is not None else 10) // 2)


def raw_basis_permutation_test(
    ref: dict[str, np.ndarray],
    sus: dict[str, np.ndarray],
    s2: np.ndarray,
    max_draws: int = RAW_DRAWS,
    exceedances: int = RAW_EXCEEDANCES,
    seed: int = RAW_SEED,
) -> RawPermutationTest:
    """S2's model-level p-value from this pair alone: how often shuffling the suspect's probe order gives a
    maximum over layer pairs at least as large as the observed one.

    WHY a permutation test: under independence the two models' residual bases are unrelated and the
    fixed probes are exchangeable (independent i.i.d. initialisations and permutation-equivariant
    training make every probe direction alike), so every reordering of one side's probes is as likely as
    the observed order -- the exchangeability argument of model tracing's exact permutation test (Zhu et
    al., ICML 2025, github.com/ahmeda14960/model-tracing), applied to probes instead of neurons. The
    earlier null (a Gaussian with the spread of d = 64 zoo pairs) assumed a tail the scores do not have:
    they are right-skewed, and the skew grows with width (issue 15.1: p = 5e-4 between independent
    d = 256 models). The permutation distribution carries its own skew, at any width, with nothing
    fitted.

    Sequential (Besag & Clifford, Biometrika 1991): draws in order until ``exceedances`` of them reach
    the statistic (at draw l: p = h / l) or ``max_draws`` are made (g reached it: p = (g + 1) /
    (max_draws + 1)); both are exact p-values. When no draw reaches it the exact p is only bounded by
    1 / (max_draws + 1); the reported p is then the smaller Gaussian tail of the permutation moments
    (Bonferroni over layer pairs), flagged ``extrapolated``: a test at any alpha above that bound decides
    exactly as the permutation test does.
    """
    k = _inv_size(ref)
    ident = SharedAnchors(np.arange(k), np.arange(k), k, k)
    t = float(np.max(s2))
    rng = np.random.default_rng(seed)
    drawn: list[np.ndarray] = []
    hits, n, size = 0, 0, 32
    stopped = False
    while n < max_draws:
        size = min(size, max_draws - n)
        perms = np.stack([rng.permutation(k) for _ in range(size)])
        scores = permutation_scores(ref, sus, ident, perms)
        reach = scores.reshape(size, -1).max(axis=1) >= t
        cum = hits + np.cumsum(reach)
        if cum[-1] >= exceedances:
            stop = int(np.argmax(cum >= exceedances))  # the draw that made the h-th exceedance
            drawn.append(scores[: stop + 1])
            n += stop + 1
            hits = exceedances
            stopped = True
            break
        drawn.append(scores)
        hits, n, size = int(cum[-1]), n + size, size * 2
    allv = np.concatenate(drawn).ravel()
    mean, sd = float(allv.mean()), float(max(allv.std(ddof=1), 1e-6))
    if stopped:
        log10p = float(np.log10(exceedances / n))
    else:
        log10p = float(np.log10((hits + 1) / (n + 1)))
    extrapolated = hits == 0
    if extrapolated:
        tail = float(norm.logsf((t - mean) / sd) / np.log(10)) + float(np.log10(s2.size))
        log10p = min(log10p, tail)
    return RawPermutationTest(t, min(0.0, log10p), n, hits, mean, sd, extrapolated)


def basis_free_null(z_cal: NullFit | None, perm_mean: float, perm_sd: float, n_shared: int) -> Null:
    """The S1 null in score units: the calibrated N(mu_z, sd_z) of permutation-standardised scores.

    A score s is first standardised by this pair's anchor-permutation noise, z = (s - m_perm) / sd_perm,
    then compared with the calibrated distribution of z between independent models. Without a
    calibration file the null is the permutation null alone (which ignores convergence; flagged).
    """
    if z_cal is not None:
        mu_z, sd_z = z_cal.mu, z_cal.sd
        src = (
            f"{z_cal.source}, applied to scores standardised by this pair's "
            f"anchor-permutation noise (sd {perm_sd:.4f}, {n_shared} shared anchors)"
        )
        n_eff = effective_pairs(z_cal)
        return Null(
            perm_mean + mu_z * perm_sd,
            sd_z * perm_sd * np.sqrt(1 + 1 / n_eff),
            src,
            int(z_cal.n),
            dof=float(n_eff - 1),
        )
    return Null(perm_mean, perm_sd, f"anchor-permutation null only ({n_shared} shared anchors; uncalibrated)")


def lineage(ref: Fingerprint, sus: Fingerprint, nulls: Nulls) -> LineageStats:
    """Run the lineage test on two fingerprints, against the calibrated ``nulls``."""
    notes: list[str] = []
    m_ref, m_sus = _inv_size(ref.inv), _inv_size(sus.inv)
    anchors = shared_anchors(ref.anchors, sus.anchors, m_ref, m_sus)
    n_ref, n_sus = ref.n_layers, sus.n_layers
    shape = (n_ref, n_sus)
    cal = nulls.for_pair(ref, sus)

    # S1: basis-free invariants on shared anchor tokens
    bf: dict[str, np.ndarray] = {}
    if len(anchors.ref) >= MIN_SHARED_ANCHORS:
        bf = component_similarity(ref.inv, sus.inv, anchors)
    else:
        notes.append(
            f"only {len(anchors.ref)} of the first {m_ref} anchor tokens are shared: the basis-free "
            f"statistic needs >= {MIN_SHARED_ANCHORS}"
        )
    s1 = layer_scores(bf) if bf else np.zeros(shape)
    null1 = None
    log10p1 = np.zeros(shape)
    perm1 = (0.0, 1.0)
    if bf:
        m, sd = permutation_noise(ref.inv, sus.inv, anchors)
        perm1 = (m, sd)
        null1 = basis_free_null(cal.basis_free, m, sd, len(anchors.ref))
        if cal.basis_free is None:
            notes.append(
                "no calibrated null for the basis-free statistic (taoke/data/weights_null.json): "
                "p-values ignore the convergence of independent models"
            )
        log10p1 = null1.log10_sf(s1)

    # S2: the same invariants on fixed probes in the raw residual basis (equal widths only)
    rb: dict[str, np.ndarray] = {}
    k = _inv_size(ref.rinv)
    ident = SharedAnchors(np.arange(k), np.arange(k), k, k)
    if ref.d_model == sus.d_model and ref.rinv and sus.rinv and k == _inv_size(sus.rinv):
        rb = component_similarity(ref.rinv, sus.rinv, ident)
    elif ref.d_model != sus.d_model:
        notes.append(f"the raw-basis statistic needs equal widths (d_model {ref.d_model} vs {sus.d_model})")
    s2 = layer_scores(rb) if rb else None
    # S3: the same invariants on each model's own weight-derived probes (no token needed)
    wb, why_not = weight_basis_statistic(ref, sus)
    log10p3 = wb.log10p if wb is not None and wb.log10p.shape == shape else np.zeros(shape)
    if wb is None and why_not and not bf:
        notes.append(why_not)

    # model-level p-values of S1 and S3 (S2's follows: how many permutations it needs depends on them)
    t1 = None
    t1_null = None
    model1 = 0.0
    if null1 is not None and s1.size:
        cm = cal.basis_free_median
        if cm is not None:
            # S1 at model level: the median over suspect layers of each one's best match, in units of
            # this pair's permutation noise. A copy makes every layer match; the convergence of
            # independent models sits in one or two layer pairs (layer 0 on the zoo), which the median
            # ignores. Its null is calibrated on the zoo's independent pairs.
            z = (s1 - perm1[0]) / perm1[1]
            t1 = median_best(z)
            n_eff = effective_pairs(cm)
            t1_null = Null(
                cm.mu,
                cm.sd * np.sqrt(1 + 1 / n_eff),
                cm.source,
                int(cm.n),
                dof=float(n_eff - 1),
            )
            model1 = float(t1_null.log10_sf(np.asarray(t1)))
        else:
            model1 = float(log10p1.min()) + np.log10(log10p1.size)
    model3 = wb.log10p_model if wb is not None else 0.0

    null2 = None
    log10p2 = np.zeros(shape)
    raw_test = None
    if s2 is not None:
        # Self-calibrating (issue 15.1): the layer-pair null is this pair's own probe-permutation
        # distribution (for the layer map) and the model-level p an exact permutation test; the
        # calibrated ``raw_basis`` fit of d = 64 zoo pairs is kept in the nulls file as a record only.
        settled = min(model1, model3) <= RAW_SETTLED
        raw_test = raw_basis_permutation_test(
            ref.rinv, sus.rinv, s2, max_draws=RAW_DRAWS_SETTLED if settled else RAW_DRAWS
        )
        null2 = Null(
            raw_test.mean,
            raw_test.sd,
            f"this pair's probe-permutation distribution ({raw_test.draws} draws of the suspect's probe "
            "order shuffled; nothing fitted)",
        )
        log10p2 = null2.log10_sf(s2)
    n_stats = int(null1 is not None) + int(null2 is not None) + int(wb is not None)
    if n_stats == 0:
        log10p = np.zeros(shape)
    else:
        log10p = np.minimum(np.minimum(log10p1, log10p2), log10p3)
        log10p = np.minimum(0.0, log10p + np.log10(n_stats))
    # layer map on significance: a suspect layer maps to its most significant reference layer if that
    # clears LAYER_ALPHA after Bonferroni over the reference layers
    thr = -np.log10(LAYER_ALPHA) + np.log10(max(n_ref, 1))
    layer_map = best_layer_map(-log10p, thr) if log10p.size else [None] * n_sus
    layer_log10p = []
    for j in range(n_sus):
        i = layer_map[j]
        best = float(log10p[:, j].min()) if n_ref else 0.0
        val = float(log10p[i, j]) if i is not None else best
        layer_log10p.append(bonferroni(val, n_ref))

    # model level: Bonferroni over the statistics
    model2 = raw_test.log10p if raw_test is not None else 0.0
    model = bonferroni(min(model1, model2, model3), n_stats)
    which = (
        "basis-free"
        if model1 <= min(model2, model3)
        else ("raw-basis" if model2 <= model3 else "weight-basis")
    )
    return LineageStats(
        anchors,
        bf,
        rb,
        s1,
        s2,
        null1,
        null2,
        log10p,
        layer_map,
        layer_log10p,
        model,
        which,
        notes,
        t1=t1,
        t1_null=t1_null,
        log10p_basis_free=min(0.0, model1),
        log10p_raw_basis=min(0.0, model2),
        weight_basis=wb,
        raw_test=raw_test,
    )


# ------------------------------------------------------------------------------------ calibration


def pair_scores(ref: Fingerprint, sus: Fingerprint) -> tuple[np.ndarray, np.ndarray, float]:
    """One pair's basis-free scores standardised by its anchor-permutation noise (z units), its
    raw-basis scores (correlation units) and the raw-basis probe-permutation noise SD; no null needed.
    What the calibration of :class:`Nulls` is fitted on (``taoke eval``)."""
    anchors = shared_anchors(ref.anchors, sus.anchors, _inv_size(ref.inv), _inv_size(sus.inv))
    s1 = np.zeros((0, 0))
    if len(anchors.ref) >= MIN_SHARED_ANCHORS:
        raw1 = layer_scores(component_similarity(ref.inv, sus.inv, anchors))
        m, sd = permutation_noise(ref.inv, sus.inv, anchors)
        s1 = (raw1 - m) / sd
    s2 = np.zeros((0, 0))
    perm2 = float("nan")
    k = _inv_size(ref.rinv)
    if ref.d_model == sus.d_model and ref.rinv and sus.rinv and k == _inv_size(sus.rinv):
        ident = SharedAnchors(np.arange(k), np.arange(k), k, k)
        s2 = layer_scores(component_similarity(ref.rinv, sus.rinv, ident))
        perm2 = permutation_noise(ref.rinv, sus.rinv, ident)[1]
    return s1, s2, perm2


def median_best(z: np.ndarray) -> float:
    """S1's model statistic: the median over suspect layers of each one's best layer-pair z."""
    return float(np.median(z.max(axis=0))) if z.size else float("nan")


def fit_null(scores: list[np.ndarray], source: str) -> NullFit:
    """Fit N(mu, sd) to pooled layer-pair scores of independent pairs.

    WHY this fit and not the plain sample SD: the pooled scores are mostly noise around zero, with a
    tail from same-depth convergence (layer 0 of same-data twins). A Gaussian test applied to every layer
    pair must not call that tail significant, so the SD is the larger of the sample SD and the spread
    that puts the most extreme observed score at 3.5 SDs (a one-in-4000 event per layer pair).
    """
    allv = np.concatenate([np.ravel(s) for s in scores if np.size(s)]) if scores else np.zeros(0)
    if allv.size < 10:
        raise ValueError("too few calibration scores to fit a null")
    mu = float(np.mean(allv))
    sd = float(np.std(allv, ddof=1))
    tail = float((allv.max() - mu) / 3.5)
    return NullFit(
        mu, max(sd, tail), source, int(allv.size), sample_sd=sd, max=float(allv.max()), pairs=len(scores)
    )


def fit_nulls(
    pair_z: list[np.ndarray],
    pair_raw: list[np.ndarray],
    source: str,
    n_models: int = 10,
    perm_sd: list[float] | None = None,
) -> Nulls:
    """All calibrated nulls (see :class:`Nulls`) from the score matrices of independent pairs
    (:func:`pair_scores`); a null without enough scores is left out."""
    basis_free = median = raw = None
    zs = [z for z in pair_z if z.size]
    if zs:
        basis_free = replace(fit_null(zs, source), n_models=n_models)
        meds = np.array([median_best(z) for z in zs])
        if meds.size >= 5:
            mu, sd = float(meds.mean()), float(meds.std(ddof=1))
            median = NullFit(
                mu,
                max(sd, float((meds.max() - mu) / 3.5)),
                source,
                int(meds.size),
                sample_sd=sd,
                max=float(meds.max()),
                n_models=n_models,
            )
    rs = [r for r in pair_raw if r.size]
    if rs:
        raw = fit_null(rs, source + " (raw basis)")
        finite = [v for v in (perm_sd or []) if np.isfinite(v) and v > 0]
        if finite:
            raw = replace(raw, perm_ratio=float(raw.sd / np.mean(finite)))
    return Nulls(basis_free, median, raw)
