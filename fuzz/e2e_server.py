"""Fork server for the end-to-end harness: imports taoke once, then runs each CLI command in a forked
child under limits, with an audit hook that records every file opened outside the allowed folders.

WHY a fork server: ``python -m taoke.cli.main`` spends about a second importing numpy, rich, typer,
tokenizers and sqlalchemy before it reads a byte. The harness runs thousands of (case, command)
pairs on two shared cores; forking a process that has already imported them makes a run cost what
the command costs. Each child is a fresh process image for the command (nothing one run loads or
caches is seen by the next), runs ``taoke.cli.main.main(argv)`` exactly as the console script does,
and reports:

- its exit code (a ``BaseException`` escaping ``main`` prints a traceback and exits 1, as Python does);
- its peak RSS (``VmHWM``), or that of its largest worker process where a command runs a pool
  (``scan``) and a worker peaks higher. Pages inherited from the server count, so the figure is an
  upper bound of what the same command costs run on its own;
- its CPU seconds, its own plus those of every worker process it started and reaped (a pool's
  workers are reaped when the pool shuts down; a worker killed with the command on timeout is not
  counted, and the run is a failure anyway);
- every ``open``/``os.listdir``/``os.scandir`` whose real path is inside the watched folder (the
  harness's work folder) but outside the allowed ones (the case, the output folder, the cache, the
  clean base inputs), and any opening of ``/etc/passwd`` or ``/etc/shadow``.

Protocol: one JSON request per line on stdin, one JSON answer per line on stdout.

An interrupted harness leaves nothing running: the server and each command ask the kernel to kill
them when their parent dies (``PR_SET_PDEATHSIG``), and a command runs in its own process group, which
is killed whole on timeout, pool workers included.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
import time
import traceback

AS_LIMIT = 8 << 30  # address-space safety net; the pass criterion is peak RSS < 1 GB, measured
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent exits (a harness killed mid-run leaves no server, a
    server killed leaves no command running)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the stdin EOF still ends the server
        pass


def _preload() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ["COLUMNS"] = "120"
    import taoke.cli.main  # noqa: F401 - the point is to have it imported before forking

    for mod in (
        "taoke.weights",
        "taoke.registry.store",
        "taoke.tokenizers",
        "taoke.release.source",
        "taoke.render.audit",
        "taoke.render.inspect",
        "taoke.render.html",
        "tokenizers",
        "safetensors.numpy",
        "gguf",
    ):
        try:
            __import__(mod)
        except ImportError:
            pass
    if os.environ.get("TAOKE_E2E_PRELOAD_TORCH") == "1":
        try:
            import torch  # noqa: F401
            import transformers  # noqa: F401
        except ImportError:
            pass


def _child(req: dict) -> None:
    os.setpgid(0, 0)
    _die_with_parent()
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    for fd, name in ((1, req["stdout"]), (2, req["stderr"])):
        out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, fd)
        os.close(out)
    os.chdir(req["cwd"])
    os.environ.update(req["env"])
    watch = os.path.realpath(req["watch"])
    allowed = tuple(os.path.realpath(a) for a in req["allowed"])
    secret = ("/etc/passwd", "/etc/shadow")
    outside: list[str] = []
    me = os.getpid()

    def inside(path: str, root: str) -> bool:
        return path == root or path.startswith(root + os.sep)

    def hook(event: str, args: tuple) -> None:
        if event not in ("open", "os.listdir", "os.scandir") or not args:
            return
        p = args[0]
        if p is None or isinstance(p, int):
            return
        try:
            rp = os.path.realpath(os.fsdecode(p))
        except (TypeError, ValueError):
            return
        if rp in secret or (inside(rp, watch) and not any(inside(rp, a) for a in allowed)):
            if len(outside) < 20:
                outside.append(f"{event}:{rp}")
            if os.getpid() != me:  # a forked worker (scan's pool): its list dies with it, so append
                fd = os.open(req["result"] + ".outside", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                os.write(fd, f"{event}:{rp}\n".encode())
                os.close(fd)

    sys.addaudithook(hook)
    from taoke.cli.main import main

    try:
        code = main(req["args"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # what Python does with an exception that escapes: traceback, exit 1
        traceback.print_exc()
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:  # noqa: BLE001, S110 - a closed stream must not hide the result
        pass
    hwm = 0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    # workers the command started and reaped (a scan's process pool): their CPU and peak RSS
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    fd = os.open(req["result"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(
        fd,
        json.dumps(
            {
                "hwm_kb": max(hwm, kids.ru_maxrss),
                "outside": outside,
                "workers_cpu": kids.ru_utime + kids.ru_stime,
            }
        ).encode(),
    )
    os.close(fd)
    os._exit(code if isinstance(code, int) and 0 <= code < 256 else 1)


def _run(req: dict) -> dict:
    sys.stdout.flush()
    sys.stderr.flush()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            _child(req)
        finally:
            os._exit(99)
    timed_out = False
    while True:
        got, status, usage = os.wait4(pid, os.WNOHANG)
        if got:
            break
        if time.monotonic() - start > req["timeout"]:
            try:
                os.killpg(pid, signal.SIGKILL)  # the command and any worker it started
            except ProcessLookupError:
                os.kill(pid, signal.SIGKILL)
            got, status, usage = os.wait4(pid, 0)
            timed_out = True
            break
        time.sleep(0.01)
    seconds = time.monotonic() - start
    rc = os.waitstatus_to_exitcode(status)
    if not timed_out:
        try:  # a worker the command left behind must not outlive its run
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    info = {"hwm_kb": usage.ru_maxrss, "outside": [], "workers_cpu": 0.0}
    try:
        with open(req["result"]) as fh:
            info = json.load(fh)
        os.unlink(req["result"])
    except (OSError, ValueError):
        pass
    try:  # outside opens recorded by worker processes
        with open(req["result"] + ".outside") as fh:
            info["outside"] = (info["outside"] + fh.read().split())[:20]
        os.unlink(req["result"] + ".outside")
    except OSError:
        pass
    return {
        "rc": rc,
        "timed_out": timed_out,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime + info.get("workers_cpu", 0.0), 3),
        "rss_mb": round(info["hwm_kb"] / 1024, 1),
        "outside": info["outside"],
    }


def serve() -> None:
    _die_with_parent()
    _preload()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        print(json.dumps(_run(json.loads(line))), flush=True)


if __name__ == "__main__":
    serve()
