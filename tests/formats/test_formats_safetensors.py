"""safetensors reader on files written by the reference writers (safetensors.numpy, safetensors.torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from taoke.formats import open_tensor_file, sniff_format
from taoke.formats.safetensors import SafetensorsFile
from tests.helpers.need import require


def test_numpy_writer_all_dtypes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tensors = {
        "f64": rng.standard_normal((3, 5)),
        "f32": rng.standard_normal((2, 3, 4)).astype(np.float32),
        "f16": rng.standard_normal((7,)).astype(np.float16),
        "i64": np.arange(6, dtype=np.int64).reshape(2, 3) - 3,
        "i32": np.arange(4, dtype=np.int32),
        "i16": np.arange(4, dtype=np.int16),
        "i8": np.arange(-4, 4, dtype=np.int8),
        "u8": np.arange(8, dtype=np.uint8),
        "bool": np.array([True, False, True]),
        "scalar": np.array(2.5, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }
    path = tmp_path / "all.safetensors"
    save_file(tensors, str(path), metadata={"format": "np", "note": "x"})
    assert sniff_format(path) == "safetensors"
    with open_tensor_file(path) as f:
        assert isinstance(f, SafetensorsFile)
        assert f.metadata() == {"format": "np", "note": "x"}
        infos = {t.name: t for t in f.tensors()}
        assert infos["f16"].dtype == "F16" and infos["f64"].shape == (3, 5) and infos["bool"].dtype == "BOOL"
        for name, ref in tensors.items():
            got = f.read(name)
            assert got.shape == ref.shape, name
            if ref.dtype.kind == "f":
                assert got.dtype == np.float32
                np.testing.assert_array_equal(got, ref.astype(np.float32))
            else:
                assert got.dtype == ref.dtype, name
                np.testing.assert_array_equal(got, ref)
        assert f.summary().n_tensors == len(tensors)


def test_torch_writer_bf16_and_fp8(tmp_path: Path) -> None:
    torch = require("torch")
    from safetensors.torch import save_file as torch_save

    g = torch.Generator().manual_seed(0)
    tensors = {
        "bf16": torch.randn(64, 33, generator=g).to(torch.bfloat16),
        "e4m3": (torch.randn(50, generator=g) * 10).to(torch.float8_e4m3fn),
        "e5m2": (torch.randn(50, generator=g) * 100).to(torch.float8_e5m2),
        "f16": torch.randn(5, 5, generator=g).half(),
    }
    path = tmp_path / "t.safetensors"
    torch_save(tensors, str(path))
    with open_tensor_file(path) as f:
        for name, ref in tensors.items():
            np.testing.assert_array_equal(f.read(name), ref.float().numpy(), err_msg=name)
        assert f.read_raw("bf16").dtype == np.uint16


def test_reads_touch_only_the_tensor(tmp_path: Path) -> None:
    """A tensor read returns independent memory: closing the file or rereading does not alias it."""
    path = tmp_path / "w.safetensors"
    save_file({"a": np.ones((3, 3), np.float32), "b": np.full((2,), 7, np.float32)}, str(path))
    f = open_tensor_file(path)
    b = f.read("b")
    f.close()
    np.testing.assert_array_equal(b, [7, 7])
    with pytest.raises(ValueError, match="closed"):
        f.read("a")


def test_real_minilm_every_tensor(minilm_dir: Path) -> None:
    with open_tensor_file(minilm_dir / "model.safetensors") as f:
        infos = f.tensors()
        assert len(infos) > 100
        total = 0
        for info in infos:
            x = f.read(info.name)
            assert x.shape == info.shape
            if x.dtype == np.float32:
                assert np.isfinite(x).all(), info.name
            total += x.size
        emb = f.read("embeddings.word_embeddings.weight")
        assert emb.shape == (30522, 384) and 0.01 < float(emb.std()) < 1.0
        assert 20e6 < total < 25e6  # all-MiniLM-L6-v2 has ~22.7M parameters
