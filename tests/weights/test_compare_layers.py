"""The layer map on synthetic similarity matrices (pruning, up-scaling, partial copies).

(The unused monotone dynamic-programming map was deleted in issue 14; its cases that the significance
map must also get right are kept here against :func:`best_layer_map`, the map compare uses.)"""

from __future__ import annotations

import numpy as np

from taoke.weights.similarity import best_layer_map


def _score(n_ref: int, truth: list[int | None], hi: float = 10.0, lo: float = 0.0) -> np.ndarray:
    s = np.full((n_ref, len(truth)), lo)
    for j, i in enumerate(truth):
        if i is not None:
            s[i, j] = hi
    return s


def test_identity_map():
    assert best_layer_map(_score(4, [0, 1, 2, 3]), 3.0) == [0, 1, 2, 3]


def test_dropped_layer():
    assert best_layer_map(_score(4, [0, 1, 3]), 3.0) == [0, 1, 3]


def test_repeats_allowed_in_order():
    assert best_layer_map(_score(3, [0, 1, 1, 2]), 3.0) == [0, 1, 1, 2]


def test_partial_copy_leaves_unmatched():
    assert best_layer_map(_score(4, [0, 1, None, None]), 3.0) == [0, 1, None, None]


def test_nothing_significant():
    assert best_layer_map(np.zeros((4, 4)), 3.0) == [None] * 4


def test_best_map_follows_solar_restart():
    truth = [0, 1, 2, 1, 2, 3]
    assert best_layer_map(_score(4, truth), 3.0) == truth


def test_best_map_leaves_insignificant_layers_unmatched():
    assert best_layer_map(_score(4, [0, None, 2, None]), 3.0) == [0, None, 2, None]
