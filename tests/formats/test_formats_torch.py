"""PyTorch checkpoints written by torch.save, read back without torch and without executing anything."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from taoke.formats import open_tensor_file, sniff_format
from taoke.formats.torch_pickle import TorchFile
from tests.helpers.need import require

torch = require("torch")


def _state() -> dict:
    g = torch.Generator().manual_seed(0)
    lin = torch.nn.Linear(8, 6)
    return {
        "bf16": torch.randn(5, 7, generator=g).to(torch.bfloat16),
        "f16": torch.randn(3, 2, generator=g).half(),
        "f64": torch.randn(4, generator=g).double(),
        "param": torch.nn.Parameter(torch.randn(4, generator=g)),
        "strided": torch.randn(6, 9, generator=g)[:, 2:5],  # a view: storage offset and strides
        "transposed": torch.randn(4, 5, generator=g).t(),
        "shared_a": lin.weight.data,
        "shared_b": lin.weight.data[1:3],  # same storage as shared_a
        "i64": torch.arange(-3, 9),
        "i8": torch.arange(-4, 4, dtype=torch.int8),
        "u8": torch.arange(6, dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(1.5),
        "empty": torch.zeros(0, 3),
    }


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_torch_save_round_trip(tmp_path: Path, zip_format: bool) -> None:
    state = _state()
    path = tmp_path / "pytorch_model.bin"
    torch.save(state, path, _use_new_zipfile_serialization=zip_format)
    assert sniff_format(path) == ("torch-zip" if zip_format else "torch-legacy")
    with open_tensor_file(path) as f:
        assert isinstance(f, TorchFile)
        infos = {t.name: t for t in f.tensors()}
        assert set(infos) == set(state)
        assert infos["bf16"].dtype == "BF16" and infos["strided"].shape == (6, 3)
        for name, ref in state.items():
            got = f.read(name)
            want = ref.detach().float().numpy() if ref.is_floating_point() else ref.numpy()
            assert got.shape == tuple(ref.shape), name
            np.testing.assert_array_equal(got, want, err_msg=name)
            assert got.flags.c_contiguous


def test_nested_checkpoint_and_module_state_dict(tmp_path: Path) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    path = tmp_path / "ckpt.pt"
    torch.save({"model": model.state_dict(), "epoch": 7, "name": "run-1"}, path)
    with open_tensor_file(path) as f:
        names = [t.name for t in f.tensors()]
        assert names == ["model.0.weight", "model.0.bias", "model.1.weight", "model.1.bias"]
        np.testing.assert_array_equal(f.read("model.0.weight"), model[0].weight.detach().numpy())
        assert f.metadata() == {"epoch": 7, "name": "run-1"}
