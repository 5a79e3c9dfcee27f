"""``taoke contamination``: was this model trained on this benchmark?

The job reads the benchmark first (a bad file is the user's input error, reported before a model is
loaded), resolves the model once, builds its scorer and runs the tests of
:func:`taoke.contamination.analyze` (exchangeability tests after Oren et al. 2023, arXiv:2310.17623;
Min-K%/Min-K%++ item scores).

>>> from taoke import check_contamination
>>> r = check_contamination("path/to/model", "benchmark.csv", shuffles=99)   # doctest: +SKIP
>>> r.verdict, r.conclusion                                           # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from taoke.contamination import ContaminationResult, Settings, analyze, load_scorer, read_benchmark
from taoke.limits import Limits
from taoke.progress import Progress, no_progress
from taoke.release import Release, resolve

__all__ = ["check_contamination"]


def check_contamination(
    source: Release | str | Path,
    benchmark: str | Path,
    settings: Settings | None = None,
    limits: Limits | None = None,
    progress: Progress = no_progress,
) -> ContaminationResult:
    """Test whether ``source`` (a release) was trained on ``benchmark`` (a CSV, JSONL or text file),
    with :class:`taoke.contamination.Settings` (the CLI's defaults when ``None``). ``progress`` hears
    of loading the model and of each batch scored (minutes on a CPU)."""
    items = read_benchmark(benchmark)  # bad input fails before the model is loaded
    release = source if isinstance(source, Release) else resolve(source, limits)
    progress("load model", 0, 1, item=release.name)
    scorer = load_scorer(release)
    progress("load model", 1, 1, item=release.name)
    return analyze(scorer, items, benchmark, settings, progress)
