"""The family zoo's layout copies compute their base's function (issue 15.5): checked with the families'
own transformers forward, so the ground truth of the copy pairs (renamed / obfuscated copy) is real."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers.need import require

torch = require("torch")
require("transformers")
pytestmark = pytest.mark.torch

from taoke.zoo import train_families as TF  # noqa: E402
from taoke.zoo.train import load_weights  # noqa: E402


def _logits(cfg: dict, w: dict, ids: np.ndarray) -> np.ndarray:
    model = TF.build_model(cfg, 0)
    TF.load_weights_loose(model, w, load_weights)
    model.eval()
    with torch.no_grad():
        out = model(input_ids=torch.from_numpy(ids))
    return out.logits.double().numpy()


@pytest.mark.parametrize("fam", TF.FAMILIES)
def test_layout_copy_keeps_the_function(fam):
    ids = np.random.default_rng(1).integers(2, TF.VOCAB, size=(2, 32))
    base_cfg, base_w = TF.load_family(f"{fam}-base")
    cfg, w = TF.load_family(f"{fam}-copy")
    assert any(not np.array_equal(w[k], base_w[k]) for k in w if k in base_w) or set(w) != set(base_w)
    a, b = _logits(base_cfg, base_w, ids), _logits(cfg, w, ids)
    scale = np.abs(a).max()
    assert np.abs(a - b).max() < 1e-3 * scale, fam
    # and the fine-tune does not: the check can fail
    ft_cfg, ft_w = TF.load_family(f"{fam}-ft-man")
    assert np.abs(a - _logits(ft_cfg, ft_w, ids)).max() > 1e-2 * scale
