"""Start real probe servers (``python -m taoke.probe.server``) as subprocesses on loopback.

WHY subprocesses: a model server must not share the caller's interpreter (torch threads, memory), and
killing it must be certain. Each server binds a free port and prints ``READY <port>``; tests, the
benchmark and demos use these helpers and always call :meth:`Server.stop`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


class Server:
    """One running server subprocess; ``url`` is its loopback base URL."""

    def __init__(self, args: list[str], timeout_s: float = 300.0) -> None:
        env = dict(os.environ, TRANSFORMERS_VERBOSITY="error", HF_HUB_OFFLINE="1", TQDM_DISABLE="1")
        cmd = ["nice", "-n", "5", sys.executable, "-m", "taoke.probe.server", *args, "--port", "0"]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
        )
        self.port = self._wait_ready(timeout_s)
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def _wait_ready(self, timeout_s: float) -> int:
        deadline = time.monotonic() + timeout_s
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("READY "):
                return int(line.split()[1])
            if not line and self.proc.poll() is not None:
                raise RuntimeError(f"probe server exited with {self.proc.returncode}")
        self.stop()
        raise RuntimeError("probe server did not become ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def model_server(spec: Path, name: str) -> Server:
    """Serve a GGUF file or HF Llama folder under ``name``."""
    return Server(["model", "--spec", str(spec), "--name", name])


def shell_server(upstream: str, name: str, system: str) -> Server:
    """A shell proxy forwarding to ``upstream`` as ``name`` with ``system`` injected."""
    return Server(["shell", "--upstream", upstream, "--name", name, "--system", system])


def fault_server() -> Server:
    """Misbehaving endpoints (see :class:`taoke.probe.server.FaultApp`)."""
    return Server(["fault"])
