"""The read-ahead hint (``taoke.formats.base.will_need``): bounded, and harmless on a closed file."""

from __future__ import annotations

import os
import sys
import time

import pytest

from taoke.formats import base

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts /proc/self/fd")


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _drain(timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while base._READAHEAD._jobs.unfinished_tasks and time.monotonic() < end:
        time.sleep(0.01)


def test_hints_never_queue_without_bound(tmp_path):
    """A consumer faster than the disk asks for far more read-ahead than the thread can do: the queue
    holds at most _READAHEAD_PENDING ranges (each a duplicated descriptor), the rest are dropped, and
    every duplicate is closed once its range is hinted."""
    path = tmp_path / "w.bin"
    path.write_bytes(os.urandom(3 * base.READAHEAD_CHUNK + 17))
    _drain()
    before = _open_fds()
    fd = os.open(path, os.O_RDONLY)
    try:
        for _ in range(500):
            base.will_need(fd, 0, path.stat().st_size)
            assert _open_fds() <= before + 1 + base._READAHEAD_PENDING + 1  # +1 for the one being hinted
    finally:
        os.close(fd)
    _drain()
    time.sleep(0.05)
    assert _open_fds() == before


def test_hint_after_close_is_harmless(tmp_path):
    """The thread holds its own duplicate: closing the reader's descriptor right after the request
    neither fails nor leaves a descriptor behind; bad ranges and descriptors are ignored."""
    path = tmp_path / "w.bin"
    path.write_bytes(b"\0" * (4 * base.READAHEAD_CHUNK))
    _drain()
    before = _open_fds()
    fd = os.open(path, os.O_RDONLY)
    base.will_need(fd, 0, 4 * base.READAHEAD_CHUNK)
    os.close(fd)
    base.will_need(fd, 0, 4 * base.READAHEAD_CHUNK)  # closed: dup fails, nothing queued
    base.will_need(10**6, 0, 10)  # not a descriptor, short range: inline hint, error swallowed
    _drain()
    time.sleep(0.05)
    assert _open_fds() == before
