"""The ``taoke compare`` job: fingerprint each source once, then compare the fingerprints.

A source is a spec (folder, weight file, hub id), a :class:`~taoke.release.Release`, a model view
(:class:`taoke.model.Model`), a fingerprint file or a :class:`~taoke.weights.Fingerprint`. Each one is
resolved and streamed once (a spec named twice, e.g. as the reference and as a merge parent, is
fingerprinted once), then :func:`taoke.weights.compare` works on fingerprints only.

>>> from taoke.jobs import compare
>>> res = compare("base/", "suspect/", parents=["ft-a/", "ft-b/"])   # doctest: +SKIP
>>> res.relationship, res.timings                                    # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from taoke import weights
from taoke.errors import AnalysisError
from taoke.limits import Limits
from taoke.progress import Progress, no_progress
from taoke.release import Release
from taoke.weights import DEFAULT_ALPHA, CompareResult, Fingerprint, Nulls
from taoke.weights.alignment import residual_map
from taoke.weights.cache import FingerprintCache
from taoke.weights.experts import expert_stage

__all__ = ["compare"]


def compare(
    reference: Any,
    suspect: Any,
    *,
    parents: Sequence[Any] | None = None,
    relatives: Sequence[Any] | None = None,
    alpha: float = DEFAULT_ALPHA,
    limits: Limits | None = None,
    nulls: Nulls | None = None,
    progress: Progress = no_progress,
    cache: FingerprintCache | None = None,
    device: str | None = None,
) -> CompareResult:
    """Did SUSPECT's weights come from REFERENCE? See :mod:`taoke.weights.compare` for the answer.

    ``parents``: candidate parents of a merge (two or more sources); ``relatives``: models that may sit
    between the two (the base two fine-tunes came from: a drift verdict through one is
    ``shares-ancestor``, :mod:`taoke.weights.ancestry`); ``alpha``: the significance level
    for ``derived``; ``nulls``: the calibrated nulls (default: the packaged calibration). The result's
    ``timings`` hold the seconds spent fingerprinting each side and comparing (parents included).
    ``progress`` hears of each block fingerprinted (task ``fingerprint``, item: the model). ``cache``:
    fingerprints kept by content (:mod:`taoke.weights.cache`), so a release is not read twice.
    ``device``: where fingerprint products run ("cpu" or a torch device, :func:`taoke.weights.fingerprint`).
    """
    seen: dict[str, Fingerprint] = {}
    t0 = time.perf_counter()
    ref = _fingerprint(reference, limits, seen, progress, cache, device)
    t1 = time.perf_counter()
    sus = _fingerprint(suspect, limits, seen, progress, cache, device)
    t2 = time.perf_counter()
    parent_fps = [_fingerprint(p, limits, seen, progress, cache, device) for p in parents or ()]
    relative_fps = [_fingerprint(p, limits, seen, progress, cache, device) for p in relatives or ()]
    result = weights.compare(
        ref, sus, parents=parent_fps or None, alpha=alpha, nulls=nulls, relatives=relative_fps or None
    )
    if result.relationship.tested:
        expert_stage(reference, suspect, result, limits, alpha, residual=residual_map(ref, sus))
    t3 = time.perf_counter()
    result.timings = {"fingerprint_reference": t1 - t0, "fingerprint_suspect": t2 - t1, "compare": t3 - t2}
    return result


def _fingerprint(
    source: Any,
    limits: Limits | None,
    seen: dict[str, Fingerprint],
    progress: Progress = no_progress,
    cache: FingerprintCache | None = None,
    device: str | None = None,
) -> Fingerprint:
    """The fingerprint of one source, computed (or read) once per spec."""
    if isinstance(source, Fingerprint):
        return source
    if isinstance(source, (str, os.PathLike)):
        key = os.fspath(source)
        if key not in seen:
            if weights.is_fingerprint_file(key):
                seen[key] = weights.load_fingerprint(key)
            else:
                seen[key] = weights.fingerprint(
                    key, limits=limits, progress=progress, cache=cache, device=device
                )
        return seen[key]
    if isinstance(source, Release) or (hasattr(source, "canonical_keys") and hasattr(source, "canonical")):
        return weights.fingerprint(source, limits=limits, progress=progress, cache=cache, device=device)
    raise AnalysisError(
        f"cannot compare a {type(source).__name__}: give a path, a release, a model or a fingerprint"
    )
