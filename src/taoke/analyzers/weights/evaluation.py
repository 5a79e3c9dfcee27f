"""Measuring the lineage test on the zoo: accuracy, false-positive rate, margin; fitting the null.

``evaluate`` runs :func:`taoke.compare.compare` on every labelled pair of a manifest (default: the
built-in zoo of issue 3) and on the calibration pairs (independent bases of one shape), and reports:

- the confusion table of relationships and the derived-vs-not accuracy;
- the false-positive rate at alpha 0.01 and 1e-3 over the calibration pairs, computed *leave-one-out*:
  the basis-free null used for a calibration pair (A, B) is refitted without any pair that involves A
  or B, so the measured FPR is not the in-sample fit of that very null;
- min/max p-value per class and the margin: the weakest derived pair's statistic minus the strongest
  independent pair's, in null standard deviations.

``fit_null`` is the calibration itself: the basis-free layer-pair scores of independent models, pooled.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from taoke.analyzers.weights import lineage as lin
from taoke.analyzers.weights.similarity import component_similarity, shared_anchors

ALPHAS = (0.01, 0.001)


def pair_scores(ref: Any, sus: Any) -> tuple[np.ndarray, np.ndarray, float]:
    """One pair's basis-free scores standardised by its anchor-permutation noise (z units), its
    raw-basis scores (correlation units) and the raw-basis probe-permutation noise SD; no null needed."""
    from taoke.analyzers.weights.similarity import SharedAnchors, permutation_noise

    anchors = shared_anchors(ref.anchors, sus.anchors, lin._inv_size(ref.inv), lin._inv_size(sus.inv))
    s1 = np.zeros((0, 0))
    if len(anchors.ref) >= lin.MIN_SHARED_ANCHORS:
        raw1 = lin.layer_scores(component_similarity(ref.inv, sus.inv, anchors))
        m, sd = permutation_noise(ref.inv, sus.inv, anchors)
        s1 = (raw1 - m) / sd
    s2 = np.zeros((0, 0))
    perm2 = float("nan")
    k = lin._inv_size(ref.rinv)
    if ref.d_model == sus.d_model and ref.rinv and sus.rinv and k == lin._inv_size(sus.rinv):
        ident = SharedAnchors(np.arange(k), np.arange(k), k, k)
        s2 = lin.layer_scores(component_similarity(ref.rinv, sus.rinv, ident))
        perm2 = permutation_noise(ref.rinv, sus.rinv, ident)[1]
    return s1, s2, perm2


def median_best(z: np.ndarray) -> float:
    """S1's model statistic: the median over suspect layers of each one's best layer-pair z."""
    return float(np.median(z.max(axis=0))) if z.size else float("nan")


def fit_null(scores: list[np.ndarray], source: str, units: str = "") -> dict[str, Any]:
    """Fit N(mu, sd) to pooled layer-pair scores of independent pairs.

    WHY this fit and not the plain sample SD: the pooled scores are mostly noise around zero, with a
    tail from same-depth convergence (layer 0 of same-data twins). A Gaussian test applied to every layer
    pair must not call that tail significant, so the SD is the larger of the sample SD and the spread
    that puts the most extreme observed score at 3.5 SDs (a one-in-4000 event per layer pair).
    ``units`` = "_z" names the keys mu_z/sd_z (basis-free scores already in permutation-noise units).
    """
    allv = np.concatenate([np.ravel(s) for s in scores if np.size(s)]) if scores else np.zeros(0)
    if allv.size < 10:
        raise ValueError("too few calibration scores to fit a null")
    mu = float(np.mean(allv))
    sd = float(np.std(allv, ddof=1))
    tail = float((allv.max() - mu) / 3.5)
    return {
        f"mu{units}": mu,
        f"sd{units}": max(sd, tail),
        "sample_sd": sd,
        "max": float(allv.max()),
        "n": int(allv.size),
        "pairs": len(scores),
        "source": source,
    }


def fit_nulls(
    pair_z: list[np.ndarray],
    pair_raw: list[np.ndarray],
    source: str,
    n_models: int = 10,
    perm_sd: list[float] | None = None,
) -> dict[str, Any]:
    """All calibrated nulls from the score matrices of independent pairs (see :mod:`...lineage`).

    - ``basis_free``: per layer pair, basis-free scores in permutation-noise units (the layer map);
    - ``basis_free_median``: per pair, the median over suspect layers of the best z (model level);
    - ``raw_basis``: per layer pair, raw-basis scores (a floor for the per-pair raw-basis null).
    """
    out: dict[str, Any] = {}
    zs = [z for z in pair_z if z.size]
    if zs:
        out["basis_free"] = fit_null(zs, source, "_z")
        out["basis_free"]["n_models"] = n_models
        meds = np.array([median_best(z) for z in zs])
        if meds.size >= 5:
            mu, sd = float(meds.mean()), float(meds.std(ddof=1))
            out["basis_free_median"] = {
                "mu": mu,
                "sd": max(sd, float((meds.max() - mu) / 3.5)),
                "sample_sd": sd,
                "max": float(meds.max()),
                "n": int(meds.size),
                "n_models": n_models,
                "source": source,
            }
    rs = [r for r in pair_raw if r.size]
    if rs:
        out["raw_basis"] = fit_null(rs, source + " (raw basis)")
        finite = [v for v in (perm_sd or []) if np.isfinite(v) and v > 0]
        if finite:
            out["raw_basis"]["perm_ratio"] = float(out["raw_basis"]["sd"] / np.mean(finite))
    return out


def load_manifest(path: str | Path) -> list[dict[str, Any]]:
    """A manifest file: a JSON list of {reference, suspect, relationship, derived, details} objects."""
    from taoke.errors import CorruptFile

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CorruptFile(f"unreadable manifest ({exc})", path) from None
    pairs = data.get("pairs", data) if isinstance(data, dict) else data
    if not isinstance(pairs, list) or not all(
        isinstance(p, dict) and "reference" in p and "suspect" in p for p in pairs
    ):
        raise CorruptFile("a manifest is a list of {reference, suspect, relationship} objects", path)
    return pairs


class FingerprintCache:
    """Fingerprint each zoo model (or path) once per evaluation."""

    def __init__(self, progress: Callable[[str], None] | None = None) -> None:
        self.fps: dict[str, Any] = {}
        self.seconds: dict[str, float] = {}
        self.progress = progress

    def get(self, model_id: str) -> Any:
        from taoke.fingerprint import fingerprint, load_fingerprint

        if model_id not in self.fps:
            path = _materialize(model_id)
            disk = _disk_cache(model_id, path)
            if disk is not None and disk.exists():
                self.fps[model_id] = load_fingerprint(disk)
                return self.fps[model_id]
            if self.progress:
                self.progress(f"fingerprinting {model_id}")
            t = time.perf_counter()
            self.fps[model_id] = fingerprint(str(path))
            self.seconds[model_id] = time.perf_counter() - t
            if disk is not None:
                disk.parent.mkdir(parents=True, exist_ok=True)
                self.fps[model_id].save(disk)
        return self.fps[model_id]


def _disk_cache(model_id: str, path: Path) -> Path | None:
    """Where a zoo model's fingerprint is cached: keyed by the model files' mtimes and sizes and by the
    source of the code that computes fingerprints, so a change to either recomputes it."""
    import hashlib

    try:
        from taoke import fingerprint as fpmod
        from taoke import zoo
        from taoke.analyzers.weights import invariants

        h = hashlib.sha256()
        for mod in (invariants, fpmod):
            h.update(Path(mod.__file__).read_bytes())
        files = [path] if path.is_file() else sorted(q for q in path.rglob("*") if q.is_file())
        for q in files:
            st = q.stat()
            h.update(f"{q.name}:{st.st_size}:{st.st_mtime_ns}".encode())
        return Path(zoo.cache_dir()) / "fingerprints" / f"{model_id}-{h.hexdigest()[:16]}.npz"
    except (OSError, AttributeError):
        return None


def _materialize(model_id: str) -> Path:
    p = Path(model_id)
    if p.exists():
        return p
    from taoke import zoo

    return Path(zoo.materialize(model_id))


def _with_null(nulls: dict[str, Any] | None, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` with the calibrated nulls temporarily replaced (for leave-one-out calibration)."""
    if nulls is None:
        return fn()
    saved = dict(lin.calibrated_nulls())
    cache = lin.calibrated_nulls()
    cache.clear()
    cache.update({**saved, **nulls})
    try:
        return fn()
    finally:
        cache.clear()
        cache.update(saved)


def evaluate(
    pairs: list[dict[str, Any]] | None = None,
    *,
    include_real: bool = True,
    calibrate: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the zoo evaluation; see the module docstring. Returns the JSON-able report."""
    from taoke import zoo
    from taoke.compare import compare

    t_start = time.perf_counter()
    cache = FingerprintCache(progress)
    calib_pairs = zoo.calibration_pairs()
    if pairs is None:
        pairs = zoo.manifest()
    skipped: list[dict[str, Any]] = []
    runnable = []
    for p in pairs:
        if p.get("requires_training"):
            skipped.append(
                {"id": p.get("id"), "why": "suspect needs training at build time (torch, minutes)"}
            )
        elif p.get("requires_real_data") and not include_real:
            skipped.append({"id": p.get("id"), "why": "needs the real PyPI-shipped models (--real)"})
        else:
            runnable.append(p)

    # calibration: scores of every calibration pair, the pooled null, and leave-one-out nulls
    calib_scores: dict[tuple[str, str], np.ndarray] = {}
    raw_scores: dict[tuple[str, str], np.ndarray] = {}
    perm_sd: dict[tuple[str, str], float] = {}
    for p in calib_pairs:
        a, b = p["reference"], p["suspect"]
        calib_scores[(a, b)], raw_scores[(a, b)], perm_sd[(a, b)] = pair_scores(cache.get(a), cache.get(b))
    models = sorted({m for ab in calib_scores for m in ab})
    source = f"zoo calibration: {len(calib_scores)} independent pairs of {len(models)} same-shape bases"

    def fit(keys: list[tuple[str, str]], src: str, n_models: int) -> dict[str, Any] | None:
        if not keys:
            return None
        return fit_nulls(
            [calib_scores[k] for k in keys],
            [raw_scores[k] for k in keys],
            src,
            n_models,
            [perm_sd[k] for k in keys if np.isfinite(perm_sd[k])],
        )

    pooled = fit(list(calib_scores), source, len(models))
    if calibrate and pooled:
        save_nulls(pooled)
    null_in_use = pooled or None

    results = []
    for p in runnable:
        pid = p.get("id") or f"{p['reference']}__{p['suspect']}"
        try:
            ref, sus = cache.get(p["reference"]), cache.get(p["suspect"])
            parents = p.get("details", {}).get("parents")
            parent_fps = (
                [cache.get(x) for x in parents] if isinstance(parents, dict) and len(parents) >= 2 else None
            )
            t = time.perf_counter()
            res = _with_null(
                null_in_use, lambda ref=ref, sus=sus, pf=parent_fps: compare(ref, sus, parents=pf)
            )
            results.append(_row(p, pid, res, time.perf_counter() - t))
        except Exception as exc:  # report, never hide: a pair that fails is counted as wrong
            results.append(
                {
                    "id": pid,
                    "truth": p.get("relationship"),
                    "derived_truth": bool(p.get("derived")),
                    "error": f"{type(exc).__name__}: {exc}",
                    "relationship": "error",
                    "derived": None,
                    "p_value": None,
                    "log10_p_value": None,
                    "max_z": None,
                    "calibration": False,
                }
            )
    calib_rows = []
    for p in calib_pairs:
        a, b = p["reference"], p["suspect"]
        keep = [k for k in calib_scores if not set(k) & {a, b}]
        null = fit(keep, f"leave-one-out calibration ({len(keep)} pairs without {a} or {b})", len(models) - 2)
        t = time.perf_counter()
        res = _with_null(null, lambda a=a, b=b: compare(cache.get(a), cache.get(b)))
        row = _row(p, f"{a}__{b}", res, time.perf_counter() - t)
        row["calibration"] = True
        calib_rows.append(row)
    return _report(results, calib_rows, skipped, null_in_use, cache, time.perf_counter() - t_start)


def _row(p: dict[str, Any], pid: str, res: Any, seconds: float) -> dict[str, Any]:
    stat = None
    z = None
    for e in res.evidence:
        if e.kind in ("lineage-basis-free", "lineage-raw-basis") and e.detail.get("z") is not None:
            if z is None or e.detail["z"] > z:
                z, stat = float(e.detail["z"]), e.kind
    return {
        "id": pid,
        "reference": p["reference"],
        "suspect": p["suspect"],
        "truth": p.get("relationship"),
        "derived_truth": bool(p.get("derived")),
        "relationship": res.relationship,
        "derived": res.derived,
        "p_value": res.p_value,
        "log10_p_value": res.log10_p_value,
        "confidence": res.confidence,
        "max_z": z,
        "max_z_statistic": stat,
        "layer_map": [m.reference_layer for m in res.layers],
        "seconds": seconds,
        "calibration": bool(p.get("details", {}).get("calibration")),
    }


def _report(
    rows: list[dict[str, Any]],
    calib: list[dict[str, Any]],
    skipped: list[dict[str, Any]],
    null: dict[str, Any] | None,
    cache: FingerprintCache,
    seconds: float,
) -> dict[str, Any]:
    from taoke.zoo import RELATIONSHIPS

    labels = list(RELATIONSHIPS)
    allrows = rows + calib
    confusion: dict[str, dict[str, int]] = {t: {p: 0 for p in labels + ["error"]} for t in labels}
    for r in allrows:
        confusion.setdefault(r["truth"], {p: 0 for p in labels + ["error"]})
        confusion[r["truth"]][r["relationship"]] = confusion[r["truth"]].get(r["relationship"], 0) + 1
    n = len(allrows)
    derived_ok = sum(1 for r in allrows if r["derived"] == r["derived_truth"])
    rel_ok = sum(1 for r in allrows if r["relationship"] == r["truth"])
    rel_ok_main = sum(1 for r in rows if r["relationship"] == r["truth"])
    fpr = {
        a: (sum(1 for r in calib if r["p_value"] is not None and r["p_value"] < a) / len(calib))
        if calib
        else None
        for a in ALPHAS
    }
    per_class: dict[str, dict[str, Any]] = {}
    for r in allrows:
        c = per_class.setdefault(r["truth"], {"n": 0, "correct": 0, "ps": []})
        c["n"] += 1
        c["correct"] += int(r["relationship"] == r["truth"])
        if r["p_value"] is not None:
            c["ps"].append(r["p_value"])
    for c in per_class.values():
        ps = c.pop("ps")
        c["min_p"] = min(ps) if ps else None
        c["max_p"] = max(ps) if ps else None
    dz = [r["max_z"] for r in allrows if r["derived_truth"] and r["max_z"] is not None]
    iz = [r["max_z"] for r in allrows if not r["derived_truth"] and r["max_z"] is not None]
    margin = (min(dz) - max(iz)) if dz and iz else float("nan")
    weakest = min(
        (r for r in allrows if r["derived_truth"] and r["max_z"] is not None),
        key=lambda r: r["max_z"],
        default=None,
    )
    strongest = max(
        (r for r in allrows if not r["derived_truth"] and r["max_z"] is not None),
        key=lambda r: r["max_z"],
        default=None,
    )
    return {
        "labels": labels,
        "summary": {
            "pairs": n,
            "labelled_pairs": len(rows),
            "calibration_pairs": len(calib),
            "derived_accuracy": derived_ok / n if n else float("nan"),
            "relationship_accuracy": rel_ok / n if n else float("nan"),
            "relationship_accuracy_labelled": rel_ok_main / len(rows) if rows else float("nan"),
            "fpr_at_0.01": fpr[0.01],
            "fpr_at_0.001": fpr[0.001],
            "margin_null_sd": margin,
            "weakest_derived": weakest and {"id": weakest["id"], "z": weakest["max_z"]},
            "strongest_independent": strongest and {"id": strongest["id"], "z": strongest["max_z"]},
            "errors": [r["id"] for r in allrows if r["relationship"] == "error"],
            "seconds": seconds,
            "fingerprint_seconds_total": sum(cache.seconds.values()),
        },
        "null": null,
        "confusion": confusion,
        "per_class": per_class,
        "pairs": rows,
        "calibration": calib,
        "skipped": skipped,
    }


def save_nulls(nulls: dict[str, Any]) -> Path:
    """Write the fitted nulls into the package data (``taoke/data/weights_null.json``)."""
    from importlib import resources

    target = Path(str(resources.files("taoke").joinpath("data", lin.NULL_FILE)))
    target.parent.mkdir(parents=True, exist_ok=True)
    current = {**dict(lin.calibrated_nulls()), **nulls}
    current["_about"] = (
        "Calibrated nulls of taoke's lineage statistics, fitted on independently trained zoo "
        "models (issue 3's calibration set). Written by `taoke eval --calibrate`."
    )
    target.write_text(json.dumps(current, indent=2) + "\n", encoding="utf-8")
    lin.calibrated_nulls.cache_clear()
    return target


def calibration_fingerprint_pairs(fps: dict[str, Any]) -> list[tuple[str, str]]:
    """All unordered pairs of a dict of fingerprints (helper for benches)."""
    return list(combinations(sorted(fps), 2))
