"""``taoke eval``: the lineage test measured on the zoo (accuracy, false-positive rate, margin) and
the calibration of its nulls.

``evaluate`` runs :func:`taoke.weights.compare` on every labelled pair of a manifest (default: the
built-in zoo of issue 3) and on the calibration pairs (independent bases of one shape), and reports:

- the confusion table of relationships and the derived-vs-not accuracy;
- the false-positive rate at alpha 0.01 and 1e-3 over the calibration pairs, computed *leave-one-out*:
  the basis-free null used for a calibration pair (A, B) is refitted without any pair that involves A
  or B, so the measured FPR is not the in-sample fit of that very null;
- min/max p-value per class and the margin: the weakest derived pair's statistic minus the strongest
  independent pair's, in null standard deviations;
- label accuracy per split (``fit``: the pairs thresholds were set on, issue 3's and those marked fit;
  ``test``: nothing fitted on them) and *without oracle parents* (issue 20): merge parents are found by
  :func:`taoke.weights.mergefind.find_merge` in a pool of candidates (the built-in zoo's trained
  checkpoints, a registry of the releases; for another manifest, the models it names), never passed in
  from the ground truth. The merge pairs are also compared with their true parents
  (``merges_with_oracle``), to show what finding them costs. Likewise a drift pair's common relative
  (two fine-tunes of one base, :mod:`taoke.weights.ancestry`) is looked for in the same registry plus
  the families' checkpoints (:func:`relative_pool`), never named from the ground truth.

The labelled pairs are compared with the nulls pooled over every calibration pair (laid over the
packaged ones), or with the nulls the caller names (``taoke eval --nulls FILE``). The calibration itself
(``taoke eval --calibrate OUT.json``) is that pooled fit, written where the caller says: the nulls
:func:`taoke.weights.compare` uses are always passed to it, never patched in.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from taoke.progress import Progress, no_progress
from taoke.weights import (
    CompareResult,
    Fingerprint,
    Nulls,
    Relationship,
    compare,
    fingerprint,
    load_fingerprint,
    packaged_nulls,
)
from taoke.weights.lineage import fit_nulls, pair_scores
from taoke.weights.mergefind import MIN_SHARE, find_merge

ALPHAS = (0.01, 0.001)
ERROR = "error"  # the "relationship" of a pair whose comparison failed (counted as wrong)
ABOUT = (
    "Calibrated nulls of taoke's lineage statistics, fitted on independently trained zoo "
    "models (issue 3's calibration set). Written by `taoke eval --calibrate`."
)


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
    """Fingerprint each zoo model (or path) once per evaluation (and once per code version on disk)."""

    def __init__(self, progress: Progress = no_progress) -> None:
        self.fps: dict[str, Fingerprint] = {}
        self.seconds: dict[str, float] = {}
        self.progress = progress

    def get(self, model_id: str) -> Fingerprint:
        if model_id not in self.fps:
            path = _materialize(model_id)
            disk = _disk_cache(model_id, path)
            if disk is not None and disk.exists():
                self.fps[model_id] = load_fingerprint(disk)
                return self.fps[model_id]
            self.progress("fingerprinting zoo models", len(self.seconds) + 1, None, item=model_id)
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
    from importlib import import_module

    from taoke.zoo.build import cache_dir

    try:
        h = hashlib.sha256()
        # by module name: the package face exports a *function* named fingerprint
        for name in ("taoke.weights.invariants", "taoke.weights.fingerprint", "taoke.weights.stream"):
            h.update(Path(str(import_module(name).__file__)).read_bytes())
        files = [path] if path.is_file() else sorted(q for q in path.rglob("*") if q.is_file())
        for q in files:
            st = q.stat()
            h.update(f"{q.name}:{st.st_size}:{st.st_mtime_ns}".encode())
        return Path(cache_dir()) / "fingerprints" / f"{model_id}-{h.hexdigest()[:16]}.npz"
    except OSError:
        return None


def _materialize(model_id: str) -> Path:
    p = Path(model_id)
    if p.exists():
        return p
    from taoke.zoo.build import materialize

    return Path(materialize(model_id))


@dataclass
class _Calibration:
    """The calibration pairs' scores (computed once), from which every null of the evaluation is fitted."""

    z: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    raw: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    perm_sd: dict[tuple[str, str], float] = field(default_factory=dict)

    @property
    def models(self) -> list[str]:
        return sorted({m for ab in self.z for m in ab})

    def fit(self, keys: list[tuple[str, str]], source: str, n_models: int) -> Nulls | None:
        if not keys:
            return None
        return fit_nulls(
            [self.z[k] for k in keys],
            [self.raw[k] for k in keys],
            source,
            n_models,
            [self.perm_sd[k] for k in keys if np.isfinite(self.perm_sd[k])],
        )


def _scores(cache: FingerprintCache, calib_pairs: list[dict[str, Any]]) -> _Calibration:
    cal = _Calibration()
    for p in calib_pairs:
        a, b = p["reference"], p["suspect"]
        cal.z[(a, b)], cal.raw[(a, b)], cal.perm_sd[(a, b)] = pair_scores(cache.get(a), cache.get(b))
    return cal


def _pooled(cal: _Calibration) -> Nulls | None:
    models = cal.models
    source = f"zoo calibration: {len(cal.z)} independent pairs of {len(models)} same-shape bases"
    return cal.fit(list(cal.z), source, len(models))


def _write(cal: _Calibration, out: str | Path, base: Nulls | None) -> Nulls:
    """Write the pooled fit, laid over ``base`` (default: the packaged nulls, so a null the calibration
    cannot fit keeps its value), to ``out``: what ``taoke compare`` reads once it is copied to
    ``taoke/data/weights_null.json`` or passed as ``nulls=``."""
    pooled = _pooled(cal)
    if pooled is None:
        raise ValueError("no calibration pairs to fit the nulls on")
    nulls = replace((packaged_nulls() if base is None else base).overlay(pooled), about=ABOUT)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    nulls.save(out)
    return nulls


def merge_pool(pairs: list[dict[str, Any]] | None) -> list[str]:
    """The candidates merge parents are looked for in: the built-in zoo's trained checkpoints (a
    registry of the releases that were trained; casts, exports, obfuscations and merges are mechanical
    derivatives of them), or every model a custom manifest names."""
    if pairs is None:
        from taoke.zoo.catalog import MODELS

        return [m for m, r in MODELS.items() if r.kind == "checkpoint"]
    return sorted({str(p[k]) for p in pairs for k in ("reference", "suspect")})


def relative_pool(pairs: list[dict[str, Any]] | None) -> list[str]:
    """The candidates a common relative of a drift pair is looked for in (issue 20, two fine-tunes of
    one base): the merge pool plus, for the built-in zoo, the families' trained checkpoints (the family
    fine-tunes' base is their only possible common relative)."""
    if pairs is not None:
        return merge_pool(pairs)
    from taoke.zoo.catalog import MODELS

    return [m for m, r in MODELS.items() if r.kind in ("checkpoint", "family")]


def evaluate(
    pairs: list[dict[str, Any]] | None = None,
    *,
    include_real: bool = True,
    nulls: Nulls | None = None,
    calibrate_to: str | Path | None = None,
    progress: Progress = no_progress,
    sweep: bool = True,
    widths: bool = True,
    calib_root: str | Path | None = None,
    experts: bool = True,
    oracle_parents: bool = False,
) -> dict[str, Any]:
    """Run the zoo evaluation; see the module docstring. Returns the JSON-able report.

    ``nulls``: compare the labelled pairs with these nulls instead of the pooled calibration fit;
    ``calibrate_to``: also write the pooled calibration (laid over the packaged nulls) to this file.
    ``sweep``: also run the weak-merge sweep (:func:`weak_merges`; the zoo's own models only).
    ``widths``: also report the false-positive rate per width (:func:`width_report`): d = 64 from the
    leave-one-out calibration rows, other widths from the calibration fingerprints under ``calib_root``
    (default: ``TAOKE_CALIB_DIR`` when it holds a set, else the committed compact set).
    ``experts``: also run the MoE pairs (:func:`taoke.zoo.expert_eval.expert_table`, issue 15.4).
    ``oracle_parents``: pass each merge pair's true parents to compare (the old, optimistic protocol);
    by default they are found (:func:`merge_pool`, :func:`taoke.weights.mergefind.find_merge`).
    """
    from taoke.zoo.pairs import calibration_pairs, manifest

    t_start = time.perf_counter()
    cache = FingerprintCache(progress)
    calib_pairs = calibration_pairs()
    pool_ids = merge_pool(pairs)
    relative_ids = relative_pool(pairs)
    if pairs is None:
        pairs = manifest()
    skipped: list[dict[str, Any]] = []
    runnable = []
    from taoke.zoo.build import is_built

    for p in pairs:
        if p.get("requires_training") and not is_built(str(p.get("suspect"))):
            skipped.append(
                {
                    "id": p.get("id"),
                    "why": "suspect needs training at build time (torch, minutes): "
                    "python -m taoke.zoo build DIR --with-training --only " + str(p.get("suspect")),
                }
            )
        elif p.get("requires_real_data") and not include_real:
            skipped.append({"id": p.get("id"), "why": "needs the real PyPI-shipped models (--real)"})
        else:
            runnable.append(p)

    # calibration: scores of every calibration pair, the pooled null, and leave-one-out nulls
    cal = _scores(cache, calib_pairs)
    models = cal.models
    pooled = _pooled(cal)
    if calibrate_to is not None:
        _write(cal, calibrate_to, None)
    base = packaged_nulls()
    if nulls is not None:
        in_use, reported = nulls, nulls
    elif pooled is not None:
        in_use, reported = base.overlay(pooled), pooled
    else:
        in_use, reported = base, None

    pool: list[Fingerprint] = []
    for mid in pool_ids:
        try:
            pool.append(cache.get(mid))
        except Exception:  # noqa: BLE001 - a pool model that cannot be read is no candidate; counted below
            continue
    relatives: list[Fingerprint] = []
    for mid in relative_ids:
        try:
            relatives.append(cache.get(mid))
        except Exception:  # noqa: BLE001 - a model that cannot be read is no candidate relative
            continue
    memo: dict[tuple[str, str], float | None] = {}
    results = []
    oracle_rows = []
    for p in runnable:
        pid = p.get("id") or f"{p['reference']}__{p['suspect']}"
        try:
            ref, sus = cache.get(p["reference"]), cache.get(p["suspect"])
            parents = p.get("details", {}).get("parents")
            true_parents = (
                [cache.get(x) for x in parents] if isinstance(parents, dict) and len(parents) >= 2 else None
            )
            finding = find_merge(sus, pool)
            by_name = {fp.name: fp for fp in pool}
            found = [by_name[q.name] for q in finding.parents] if finding.merged else None
            t = time.perf_counter()
            res = compare(
                ref,
                sus,
                parents=true_parents if oracle_parents else found,
                nulls=in_use,
                relatives=relatives,
                memo=memo,
            )
            row = _row(p, pid, res, time.perf_counter() - t)
            row["merge_found"] = {
                "merged": finding.merged,
                "parents": [q.name for q in finding.parents] if finding.merged else [],
                "gain": round(finding.gain, 4),
            }
            results.append(row)
            if true_parents and not oracle_parents:
                res_o = compare(ref, sus, parents=true_parents, nulls=in_use)
                oracle_rows.append(
                    {"id": pid, "relationship": res_o.relationship, "truth": p.get("relationship")}
                )
        except Exception as exc:  # report, never hide: a pair that fails is counted as wrong
            results.append(
                {
                    "id": pid,
                    "truth": p.get("relationship"),
                    "derived_truth": bool(p.get("derived")),
                    "error": f"{type(exc).__name__}: {exc}",
                    "relationship": ERROR,
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
        keep = [k for k in cal.z if not set(k) & {a, b}]
        loo = cal.fit(
            keep, f"leave-one-out calibration ({len(keep)} pairs without {a} or {b})", len(models) - 2
        )
        t = time.perf_counter()
        res = compare(
            cache.get(a), cache.get(b), nulls=(nulls or base).overlay(loo) if loo else (nulls or base)
        )
        row = _row(p, f"{a}__{b}", res, time.perf_counter() - t)
        row["calibration"] = True
        calib_rows.append(row)
    report = _report(
        results,
        calib_rows,
        skipped,
        reported.to_dict() if reported else None,
        cache,
        time.perf_counter() - t_start,
    )
    from taoke.zoo.family_catalog import family_table

    report["families"] = family_table(results)  # issue 15.5 (test split)
    report["merges"] = merge_summary(results, oracle_rows, len(pool), oracle_parents)
    report["summary"]["accuracy_by_split"] = split_accuracy(results)
    if sweep:
        report["weak_merges"] = weak_merges(cache, in_use, pool)
    if widths:
        report["width_fpr"] = width_report(calib_rows, calib_root, nulls or base)
    if experts:
        from taoke.zoo.expert_eval import expert_table

        report["experts"] = expert_table(progress)
    return report


def width_report(
    calib_rows: list[dict[str, Any]], root: str | Path | None = None, nulls: Nulls | None = None
) -> dict[str, Any]:
    """Issue 15.1: the per-width false-positive table. d = 64 comes from this evaluation's calibration
    rows (the zoo's calib-00..09, each pair against a leave-one-out refit of the nulls fitted on them);
    the other widths from :func:`taoke.zoo.widthfpr.width_fpr` on the calibration fingerprints (nulls as
    shipped: nothing in them was fitted on those widths). ``present`` says whether any other width was
    found; when none was, the rows hold d = 64 only and ``missing`` says why."""
    from taoke.zoo.widthfpr import SPLIT, row_from_outcomes, width_fpr

    rep = width_fpr(root, nulls)
    rows = list(rep["rows"])
    if calib_rows:
        outcomes = [
            {"log10_p": r["log10_p_value"] if r["log10_p_value"] is not None else 0.0, "driver": r["driver"]}
            for r in calib_rows
        ]
        ids = sorted({m for r in calib_rows for m in (r["reference"], r["suspect"])})
        rows.insert(0, row_from_outcomes(64, ids, outcomes, SPLIT[64] + " (leave-one-out)"))
    out = {**rep, "rows": rows}
    if not rep["present"]:
        out["missing"] = (
            f"no calibration fingerprints at other widths under {rep['source']}: build them with "
            "`python -m taoke.zoo calib build --width W --same-order`"
        )
    return out


SWEEP_ALPHA = 0.01
_STATISTICS = ("lineage-basis-free", "lineage-raw-basis", "lineage-weight-basis")


def split_accuracy(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Relationship accuracy of the labelled pairs per split: ``fit`` (issue 3's pairs, on which the
    verdict's thresholds were set, and those marked fit) and ``test`` (nothing fitted on them)."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        split = r.get("split") or "fit"
        c = out.setdefault(split, {"pairs": 0, "correct": 0, "wrong": []})
        c["pairs"] += 1
        if r["relationship"] == r["truth"]:
            c["correct"] += 1
        else:
            c["wrong"].append(f"{r['id']}: {r['relationship']} (truth {r['truth']})")
    for c in out.values():
        c["accuracy"] = c["correct"] / c["pairs"] if c["pairs"] else float("nan")
    return out


def merge_summary(
    rows: list[dict[str, Any]], oracle: list[dict[str, Any]], pool: int, oracle_parents: bool
) -> dict[str, Any]:
    """Merges labelled ``merged`` with the parents found (or, under ``oracle_parents``, given), the
    false merges among the other pairs, and the same merge pairs compared with their true parents."""
    truth = [r for r in rows if r["truth"] == Relationship.MERGED]
    other = [r for r in rows if r["truth"] != Relationship.MERGED]
    return {
        "protocol": "true parents given (oracle)" if oracle_parents else f"parents found in a pool of {pool}",
        "merge_pairs": len(truth),
        "labelled_merged": sum(1 for r in truth if r["relationship"] == Relationship.MERGED),
        "false_merges": [r["id"] for r in other if r["relationship"] == Relationship.MERGED],
        "found_parents": {r["id"]: (r.get("merge_found") or {}).get("parents") for r in truth},
        "with_oracle_parents": sum(1 for r in oracle if r["relationship"] == Relationship.MERGED),
        "with_oracle_pairs": len(oracle),
    }


def weak_merges(
    cache: FingerprintCache, nulls: Nulls, pool: list[Fingerprint] | None = None, alpha: float = SWEEP_ALPHA
) -> dict[str, Any]:
    """Issue 15.7: the smallest share of a reference detected in a linear merge with an independent model.

    Each sweep model is ``s * A + (1 - s) * partner`` (partners: A2, same data and tokenizer; B, other
    data and tokenizer; shares 0.02 to 0.5); it is compared with A alone, no parent named, and counts as
    detected when the lineage p-value is below ``alpha``. The smallest detected share is the smallest s
    from which on every sweep pair, at every larger share too, is detected. Nothing is fitted here.
    """
    from taoke.zoo.catalog import sweep_pairs

    rows = []
    for ref, sus, share in sweep_pairs():
        res = compare(cache.get(ref), cache.get(sus), nulls=nulls)
        found = find_merge(cache.get(sus), pool) if pool else None
        rows.append(
            {
                "reference": ref,
                "suspect": sus,
                "partner": _partner(sus),
                "share": share,
                "p_value": res.p_value,
                "log10_p_value": res.log10_p_value,
                "detected": res.p_value is not None and res.p_value < alpha,
                "relationship": res.relationship,
                "merge_found": bool(found and found.merged),
                "parents_found": [q.name for q in found.parents] if found and found.merged else [],
            }
        )
    shares = sorted({r["share"] for r in rows})
    smallest = None
    for s in reversed(shares):
        if all(r["detected"] for r in rows if r["share"] >= s):
            smallest = s
    # the sweep is the merge finder's test split (nothing fitted on it): merges found, parents right
    found_ok = sum(
        1 for r in rows if r["merge_found"] and set(r["parents_found"]) == {"base-a", r["partner"]}
    )
    # the merge finder's detection limit (issue 20): found per share of A, and the stated floor under
    # which a parent is not reported (MIN_SHARE, a design choice; the sweep is never used to move it)
    by_share = {
        f"{s:g}": [
            sum(1 for r in rows if r["share"] == s and r["merge_found"]),
            sum(r["share"] == s for r in rows),
        ]
        for s in shares
    }
    return {
        "alpha": alpha,
        "smallest_share_detected": smallest,
        "merges_found": sum(1 for r in rows if r["merge_found"]),
        "merges_found_right_parents": found_ok,
        "merges_found_by_share": by_share,
        "min_share": MIN_SHARE,
        "rows": rows,
    }


def _partner(sweep_model: str) -> str:
    """The other parent of a weak-merge sweep model (``sweep-a-a2-10`` -> ``base-a2``)."""
    from taoke.zoo.catalog import MODELS

    return next((q for q in MODELS[sweep_model].parents if q != "base-a"), "")


def _row(p: dict[str, Any], pid: str, res: CompareResult, seconds: float) -> dict[str, Any]:
    stat = None
    z = None
    for e in res.evidence:
        if e.kind.startswith("lineage-") and e.detail.get("z") is not None:
            if z is None or e.detail["z"] > z:
                z, stat = float(e.detail["z"]), e.kind
    drivers = [
        (e.p_value, e.kind.removeprefix("lineage-"))
        for e in res.evidence
        if e.kind in _STATISTICS and e.p_value is not None
    ]
    return {
        "id": pid,
        "driver": {"basis-free": "S1", "raw-basis": "S2", "weight-basis": "S3"}.get(min(drivers)[1])
        if drivers
        else None,
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
        "split": p.get("details", {}).get("split"),
        "family": p.get("details", {}).get("family"),
    }


def _report(
    rows: list[dict[str, Any]],
    calib: list[dict[str, Any]],
    skipped: list[dict[str, Any]],
    null: dict[str, Any] | None,
    cache: FingerprintCache,
    seconds: float,
) -> dict[str, Any]:
    labels = list(Relationship)
    allrows = rows + calib
    columns: list[str] = [*labels, ERROR]
    confusion: dict[str, dict[str, int]] = {t: {p: 0 for p in columns} for t in labels}
    for r in allrows:
        confusion.setdefault(r["truth"], {p: 0 for p in columns})
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
            "errors": [r["id"] for r in allrows if r["relationship"] == ERROR],
            "untestable": [r["id"] for r in allrows if r["relationship"] == Relationship.UNTESTABLE],
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
