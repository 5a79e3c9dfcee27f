"""Benchmark honesty: was this model trained on the test set?

A release's claims include its benchmark scores. This package tests them with methods that give exact
false-positive guarantees from black-box log-probabilities: the exchangeability (item-order) test of
Oren et al. 2023 (arXiv:2310.17623), its option-order analogue for multiple-choice items, and per-item
membership scores (Min-K% Prob, Shi et al. 2023, arXiv:2310.16789; Min-K%++, Zhang et al. 2024,
arXiv:2404.02936) against paraphrase-free perturbed controls. See docs/contamination.md.

    from taoke import check_contamination              # the job: reads, loads, runs analyze()
    result = check_contamination("path/to/model", "benchmark.csv", shuffles=99)
    result.verdict, result.conclusion
"""

from taoke.contamination.analyze import ContaminationResult, ItemReport, Settings, analyze
from taoke.contamination.items import Item, read_benchmark, render
from taoke.contamination.scorer import Scorer, load_scorer

__all__ = [
    "ContaminationResult",
    "Item",
    "ItemReport",
    "Scorer",
    "Settings",
    "analyze",
    "load_scorer",
    "read_benchmark",
    "render",
]
