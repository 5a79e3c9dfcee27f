"""``taoke scan --executor ray`` on a real local Ray instance (ray.init(num_cpus=2)), not mocked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from taoke import zoo
from taoke.jobs import scan
from tests.helpers.need import require

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="module")
def ray_local():
    ray = require("ray")  # pip install 'taoke[ray]'
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_scan_matches_the_local_one(ray_local, tmp_path: Path) -> None:
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "model.safetensors").write_bytes(b"\x00" * 8)
    sources = [str(zoo.materialize(m)) for m in ("base-a", "a-rotate", "base-b")] + [str(bad)]
    res = scan(sources, str(tmp_path / "ray.sqlite"), executor="ray", workers=2)
    assert res.executor == "ray"
    assert ray_local.is_initialized()  # a Ray started by the caller is left running
    by = {f.name or f.source: f for f in res.findings}
    assert by["a-rotate"].finding == "undeclared-parent" and by["a-rotate"].relative == "base-a"
    assert by["base-b"].finding == "no-relative"
    assert by[str(bad)].finding == "failed" and "too short" in by[str(bad)].error
    local = scan(sources, str(tmp_path / "local.sqlite"), executor="local", workers=2)
    assert [(f.name, f.finding, f.relative) for f in local.findings] == [
        (f.name, f.finding, f.relative) for f in res.findings
    ]
