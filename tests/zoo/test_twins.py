"""The contamination twins (taoke.zoo.twins): committed items and training records match their recipe."""

from __future__ import annotations

import json

from tests.helpers.need import unavailable


def test_committed_items_regenerate_deterministically() -> None:
    import sys

    from taoke.zoo import twins

    committed = [json.loads(x) for x in twins.ITEMS_PATH.read_text().splitlines() if x.strip()]
    assert len(committed) == twins.N_TRAIN_ITEMS + twins.N_UNSEEN_ITEMS
    if sys.version_info[:2] != (3, 11):
        unavailable("items were written from the Python 3.11 standard library")
    assert twins.generate_items() == committed


def test_twin_records_match_the_recipe() -> None:
    from taoke.zoo import twins

    log = twins.twin_log()
    assert set(log) == set(twins.TWINS)
    for twin_id, (exposure, seed) in twins.TWINS.items():
        rec = log[twin_id]
        assert (rec["exposure_epochs"], rec["seed"], rec["steps"]) == (exposure, seed, twins.STEPS)
        assert (twins.TWINS_DIR / f"{twin_id}.safetensors").stat().st_size < 2_000_000
