"""The fuzzing loop: mutate, run the harness, classify the outcome, keep what is new, save crashes.

Without coverage instrumentation (atheris is optional) the loop uses a cheap novelty signal instead:
an input that parses, or that is refused with an error *message shape* not seen before (digits and
quoted names stripped), joins the corpus. Refusals are where a parser's checks live, so a new refusal
message means a new check was reached — the next mutations start from there.
"""

from __future__ import annotations

import hashlib
import random
import re
import resource
import signal
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from fuzz.mutate import Mutator
from fuzz.targets import Target
from taoke.errors import TaokeError

_MAX_CORPUS = 400
_SHAPE = re.compile(r"'[^']*'|\"[^\"]*\"|\d+")


class Hang(Exception):
    """One execution ran past the per-input time limit."""


def _on_alarm(signum, frame):  # type: ignore[no-untyped-def]
    raise Hang("execution exceeded the per-input time limit")


@dataclass
class Crash:
    signature: str
    exc_type: str
    message: str
    input_path: str
    size: int
    minimised_size: int
    traceback: str


@dataclass
class Stats:
    target: str
    executions: int = 0
    parsed: int = 0
    refused: int = 0
    seconds: float = 0.0
    corpus: int = 0
    crashes: dict[str, Crash] = field(default_factory=dict)
    crash_executions: int = 0
    peak_rss_mb: float = 0.0
    refusal_kinds: int = 0

    def to_dict(self) -> dict:
        return {
            "target": self.target,
            "executions": self.executions,
            "parsed": self.parsed,
            "refused": self.refused,
            "seconds": round(self.seconds, 2),
            "exec_per_s": round(self.executions / self.seconds, 1) if self.seconds else 0.0,
            "corpus": self.corpus,
            "refusal_kinds": self.refusal_kinds,
            "unique_crashes": len(self.crashes),
            "crash_executions": self.crash_executions,
            "crashes": [c.__dict__ for c in self.crashes.values()],
            "peak_rss_mb": round(self.peak_rss_mb, 1),
        }


def _signature(exc: BaseException) -> str:
    """Exception type + the innermost frame inside taoke (or the harness): one bug, one signature."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = next((f for f in reversed(frames) if "/taoke/" in f.filename), frames[-1] if frames else None)
    loc = f"{Path(where.filename).name}:{where.lineno}" if where else "?"
    return f"{type(exc).__name__}@{loc}"


def run_one(target: Target, data: bytes, work: Path, timeout_s: float) -> tuple[str, BaseException | None]:
    """``("parsed", None)``, ``("refused", err)`` or ``("crash", exc)``."""
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        target.harness(data, work)
        return "parsed", None
    except TaokeError as err:
        return "refused", err
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - anything else is exactly what the fuzzer hunts
        return "crash", exc
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def minimise(
    target: Target, data: bytes, signature: str, work: Path, timeout_s: float, budget: int = 400
) -> bytes:
    """Delta-debugging lite: drop chunks (halves down to single bytes) while the signature holds."""
    best = data
    chunk = max(1, len(best) // 2)
    tries = 0
    while chunk >= 1 and tries < budget:
        i = 0
        while i < len(best) and tries < budget:
            cand = best[:i] + best[i + chunk :]
            tries += 1
            outcome, exc = run_one(target, cand, work, timeout_s)
            if outcome == "crash" and exc is not None and _signature(exc) == signature:
                best = cand
            else:
                i += chunk
        chunk //= 2
    return best


def fuzz(
    target: Target,
    seeds: list[bytes],
    runs: int,
    seed: int = 0,
    crash_dir: Path | None = None,
    timeout_s: float = 10.0,
    max_seconds: float | None = None,
    progress: bool = False,
) -> Stats:
    """Run ``runs`` executions (seeds first, then mutants) and return the statistics."""
    rng = random.Random(seed)
    stats = Stats(target.name)
    corpus = list(seeds)
    mutator = Mutator(rng, corpus, target.text)
    shapes: set[str] = set()
    seen_inputs: set[bytes] = set()
    old = signal.signal(signal.SIGALRM, _on_alarm)
    scratch_root = "/dev/shm" if Path("/dev/shm").is_dir() else None
    start = time.monotonic()
    last_report = start
    try:
        with tempfile.TemporaryDirectory(prefix=f"taoke-fuzz-{target.name}-", dir=scratch_root) as tmp:
            work = Path(tmp)
            for i in range(runs):
                data = seeds[i] if i < len(seeds) else mutator.mutate(rng.choice(corpus))
                outcome, exc = run_one(target, data, work, timeout_s)
                stats.executions += 1
                if outcome == "parsed":
                    stats.parsed += 1
                    digest = hashlib.blake2b(data, digest_size=8).digest()
                    if digest not in seen_inputs and len(corpus) < _MAX_CORPUS:
                        seen_inputs.add(digest)
                        corpus.append(data)
                elif outcome == "refused":
                    stats.refused += 1
                    shape = _SHAPE.sub("#", str(getattr(exc, "message", exc)))[:120]
                    if shape not in shapes:
                        shapes.add(shape)
                        if len(corpus) < _MAX_CORPUS:
                            corpus.append(data)
                else:
                    assert exc is not None
                    stats.crash_executions += 1
                    sig = _signature(exc)
                    if sig not in stats.crashes:
                        small = minimise(target, data, sig, work, timeout_s)
                        name = hashlib.sha1(small).hexdigest()[:12]  # noqa: S324 - a file name, not security
                        saved = ""
                        if crash_dir is not None:
                            folder = crash_dir / target.name
                            folder.mkdir(parents=True, exist_ok=True)
                            (folder / f"{name}.bin").write_bytes(small)
                            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                            (folder / f"{name}.txt").write_text(f"{sig}\n\n{tb}", encoding="utf-8")
                            saved = str(folder / f"{name}.bin")
                        stats.crashes[sig] = Crash(
                            sig,
                            type(exc).__name__,
                            str(exc)[:200],
                            saved,
                            len(data),
                            len(small),
                            "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-2000:],
                        )
                        if progress:
                            print(
                                f"  CRASH {sig}: {str(exc)[:120]} (minimised {len(data)} -> {len(small)} "
                                f"bytes)",
                                flush=True,
                            )
                now = time.monotonic()
                if progress and now - last_report > 10:
                    last_report = now
                    print(
                        f"  {target.name}: {stats.executions} execs, {stats.executions / (now - start):.0f}"
                        f"/s, corpus {len(corpus)}, crashes {len(stats.crashes)}",
                        flush=True,
                    )
                if max_seconds is not None and now - start > max_seconds:
                    break
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    stats.seconds = time.monotonic() - start
    stats.corpus = len(corpus)
    stats.refusal_kinds = len(shapes)
    stats.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return stats
