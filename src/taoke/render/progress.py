"""The progress of long jobs, drawn on stderr: a rich bar on a terminal, one line per step otherwise.

Library code reports through the :class:`taoke.progress.Progress` callback it is handed; the CLI hands it
a :class:`Reporter` from :func:`reporter`. On stderr so that ``--format json`` on stdout stays parseable;
the bar is transient so that the final report is what remains on screen; outside a terminal (CI logs,
``2> file``) a bar would be noise, so each step is one plain line there; ``--quiet`` silences both.
"""

from __future__ import annotations

import enum
import sys
from types import TracebackType
from typing import Any, TextIO


class Mode(enum.Enum):
    """How a :class:`Reporter` shows progress."""

    BAR = "bar"
    LINES = "lines"
    QUIET = "quiet"


class Reporter:
    """A :class:`taoke.progress.Progress` that draws. Use it as a context manager around the job, so that
    the bar is removed (and the terminal restored) however the job ends."""

    def __init__(self, mode: Mode, stream: TextIO | None = None) -> None:
        self.mode = mode
        self.stream = stream
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> Reporter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Remove the bar (a no-op in the other modes)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
            self._tasks.clear()

    def _out(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stderr  # looked up late: tests swap it

    def __call__(self, task: str, done: int, total: int | None = None, item: str | None = None) -> None:
        if self.mode is Mode.QUIET:
            return
        from taoke.render.common import clean

        if self.mode is Mode.LINES:
            count = f"{done}/{total}" if total is not None else str(done)
            print(clean(f"{task} {count}" + (f": {item}" if item else "")), file=self._out(), flush=True)
            return
        bar = self._start()
        description = clean(task + (f": {item}" if item else ""))
        if task not in self._tasks:
            self._tasks[task] = bar.add_task(description, total=total)
        bar.update(self._tasks[task], completed=done, total=total, description=description)

    def _start(self) -> Any:
        if self._bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            from taoke.render.common import console

            self._bar = Progress(
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console(file=self._out()),
                transient=True,
            )
            self._bar.start()
        return self._bar


def reporter(quiet: bool = False, stream: TextIO | None = None) -> Reporter:
    """The reporter the CLI hands to library code: quiet when asked, a bar when ``stream`` (default
    stderr) is a terminal, else one line per step."""
    out = stream if stream is not None else sys.stderr
    if quiet:
        return Reporter(Mode.QUIET, stream)
    return Reporter(Mode.BAR if out.isatty() else Mode.LINES, stream)


__all__ = ["Mode", "Reporter", "reporter"]
