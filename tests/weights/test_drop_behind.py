"""Issue 21: drop-behind. A fingerprint of a file that was not in the page cache drops each stored
matrix from it after its last read (a cold read on a VM otherwise pays a fault and a reclaim for every
new page); a file that was cached stays cached; and nothing is read again after it was dropped (a fused
tensor is dropped after its last use)."""

from __future__ import annotations

import importlib
import os

import numpy as np
import pytest

from taoke.formats import base
from taoke.weights.fingerprint import fingerprint
from tests.helpers.llama import baichuan_release, llama_release
from tests.helpers.need import require, unavailable

fpmod = importlib.import_module("taoke.weights.fingerprint")  # the module (the package exports the function)


def test_resident_fraction_sees_what_was_read(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(os.urandom(8 << 20))
    fd = os.open(path, os.O_RDONLY)
    try:
        os.pread(fd, 8 << 20, 0)
        share = base.resident_fraction(fd, 4096, 4 << 20)
        if share is None:
            unavailable("this platform cannot tell page-cache residency (mincore): drop-behind is off")
        assert share == 1.0  # just read: every page cached
        base.drop_pages(fd, 0, 8 << 20)
        after = base.resident_fraction(fd, 4096, 4 << 20)
        assert after is not None and 0.0 <= after <= 1.0  # tmpfs keeps its pages; a disk's are dropped
        assert base.resident_fraction(fd, 0, 0) is None
    finally:
        os.close(fd)


@pytest.fixture
def events(monkeypatch):
    """Reads and drops of stored rows, in order, as (kind, file offset of the tensor's row 0 or read)."""
    log: list[tuple[str, int]] = []
    read_rows = base.TensorFile._read_rows

    def logged_read(self, offset, row_bytes, start, stop):
        log.append(("read", offset))
        return read_rows(self, offset, row_bytes, start, stop)

    monkeypatch.setattr(base.TensorFile, "_read_rows", logged_read)
    monkeypatch.setattr(base, "drop_pages", lambda fd, offset, nbytes: log.append(("drop", offset)))
    monkeypatch.setattr(fpmod, "DROP_MIN_BYTES", 0)  # the tiny test matrices count as big
    return log


def _pretend(monkeypatch, share: float) -> None:
    monkeypatch.setattr(base, "resident_fraction", lambda fd, offset, nbytes: share)


@pytest.mark.parametrize("layout", ["llama", "baichuan"])
def test_cold_matrices_are_dropped_once_after_their_last_read(tmp_path, monkeypatch, events, layout):
    """Baichuan's W_pack holds q, k and v: read three times, it must be dropped after v, not after q."""
    require("torch")
    make = {"llama": llama_release, "baichuan": baichuan_release}[layout]
    release, _ = make(tmp_path / "rel", 3)
    _pretend(monkeypatch, 1.0)
    warm = fingerprint(str(release))
    assert not [e for e in events if e[0] == "drop"]  # cached before: left cached
    events.clear()
    _pretend(monkeypatch, 0.0)
    cold = fingerprint(str(release))
    drops = [off for kind, off in events if kind == "drop"]
    reads = [off for kind, off in events if kind == "read"]
    assert drops and len(drops) == len(set(drops)) == len(set(reads))  # each stored matrix once
    for off in drops:  # never read again after its drop
        at = events.index(("drop", off))
        assert ("read", off) not in events[at + 1 :], off
    if layout == "baichuan":  # some stored matrix is read under several names, and dropped once
        assert max(reads.count(off) for off in set(reads)) >= 3
    # dropping pages changes no value
    for name in ("inv", "rinv", "raw"):
        a, b = getattr(warm, name), getattr(cold, name)
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_drop_behind_needs_no_platform_support(tmp_path, monkeypatch, events):
    """Where residency cannot be asked (None), nothing is dropped and the fingerprint is made as ever."""
    require("torch")
    release, _ = llama_release(tmp_path / "rel", 4)
    _pretend(monkeypatch, None)
    fp = fingerprint(str(release))
    assert fp.inv and not [e for e in events if e[0] == "drop"]
