"""A weight file that shrinks while taoke reads it (issue 16): one line and exit 2, never SIGBUS.

A memory-mapped header read dies with SIGBUS when another process truncates the file under it (the
mapped pages past the new end vanish). The GGUF header is read with ``os.pread`` instead; these tests
really truncate the file from another thread or process during the read and run ``taoke inspect`` in
a child process, so a SIGBUS shows as a negative return code instead of killing the test run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

from tests.helpers.need import require

gguf = require("gguf")  # a core dependency: skipped locally when missing, a failure under CI

_HEADER_STRINGS = 200_000  # ~5 MB of metadata strings: the header is read over several chunks


def _big_header_gguf(path: Path) -> Path:
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(1)
    w.add_array("tokenizer.ggml.tokens", [f"token-{i:08d}-padding" for i in range(_HEADER_STRINGS)])
    w.add_tensor("token_embd.weight", np.ones((4, 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    assert path.stat().st_size > 4 << 20
    return path


# The child installs a hook on the header cursor: when the walk passes 2 MiB, another thread truncates
# the file to 1 MiB and the walk goes on. Deterministic, and the same hook point exists in the old
# memory-mapped reader (which then faults on the vanished pages).
_TRUNCATE_MID_HEADER = textwrap.dedent(
    """
    import os, sys, threading
    from taoke.formats import gguf as reader
    path = sys.argv[1]
    original = reader._Cursor.take
    done = []

    def take(self, n, what):
        if not done and self.pos > (2 << 20):
            done.append(1)
            t = threading.Thread(target=os.truncate, args=(path, 1 << 20))
            t.start()
            t.join()
        return original(self, n, what)

    reader._Cursor.take = take
    from taoke.cli.main import main
    code = main(["inspect", path])
    print("truncated" if done else "not truncated", file=sys.stdout)
    sys.exit(code)
    """
)


def _child_env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", "COLUMNS": "200"}


def test_gguf_truncated_during_header_read_is_one_line_exit_2(tmp_path: Path) -> None:
    path = _big_header_gguf(tmp_path / "shrinks.gguf")
    proc = subprocess.run(
        [sys.executable, "-c", _TRUNCATE_MID_HEADER, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=_child_env(),
    )
    assert proc.returncode != -signal.SIGBUS, "SIGBUS: the header was read through a memory map"
    assert "truncated" in proc.stdout.splitlines(), proc.stdout  # the file really shrank mid-read
    assert path.stat().st_size == 1 << 20
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "shrinks.gguf" in lines[0] and "truncated" in lines[0].lower(), lines[0]


def test_gguf_truncated_by_another_process_races_to_0_or_2(tmp_path: Path) -> None:
    """Another process truncates and restores the file over and over while ``taoke inspect`` runs:
    every run reads either a whole header (exit 0) or a short one (exit 2, one line)."""
    path = _big_header_gguf(tmp_path / "race.gguf")
    whole = path.read_bytes()
    spare = tmp_path / "whole.gguf"
    spare.write_bytes(whole)
    flipper = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import os, shutil, sys, time
                path, spare = sys.argv[1], sys.argv[2]
                size = 1 << 20
                while True:
                    os.truncate(path, size)
                    time.sleep(0.003)
                    with open(spare, "rb") as src, open(path, "r+b") as dst:
                        dst.seek(0)
                        shutil.copyfileobj(src, dst)
                    time.sleep(0.003)
                """
            ),
            str(path),
            str(spare),
        ]
    )
    codes = []
    try:
        time.sleep(0.2)
        script = "import sys; from taoke.cli.main import main; sys.exit(main(['inspect', sys.argv[1]]))"
        for _ in range(4):
            proc = subprocess.run(
                [sys.executable, "-c", script, str(path)],
                capture_output=True,
                text=True,
                timeout=300,
                env=_child_env(),
            )
            assert proc.returncode != -signal.SIGBUS, "SIGBUS while the file shrank"
            assert proc.returncode in (0, 2), (proc.returncode, proc.stderr)
            assert len(proc.stderr.strip().splitlines()) <= 1, proc.stderr
            codes.append(proc.returncode)
    finally:
        flipper.kill()
        flipper.wait()
    assert codes
