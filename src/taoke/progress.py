"""How long-running library code reports progress without knowing who listens.

WHY a callback on the bottom floor: jobs such as ``scan`` or an ANN rebuild take minutes, and the user
should see them move; but library code must not import the renderer (``taoke.render``) or decide whether
stderr is a terminal. So the library calls a :class:`Progress` it was handed, and the CLI hands it one
that draws a rich bar on a terminal, writes one line per step otherwise, or stays quiet
(:func:`taoke.render.progress.reporter`). Library code that was handed nothing calls :func:`no_progress`.

>>> seen = []
>>> def record(task, done, total=None, item=None):
...     seen.append((task, done, total, item))
>>> for i, name in enumerate(["a", "b"], 1):
...     record("fingerprint", i, 2, item=name)
>>> seen[-1]
('fingerprint', 2, 2, 'b')
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Called after each step of a task: ``done`` steps of ``total`` (None when unknown), ``item`` names
    what the last step worked on. A task is named by its ``task`` string; it may be called many times."""

    def __call__(self, task: str, done: int, total: int | None = None, item: str | None = None) -> None: ...


def no_progress(task: str, done: int, total: int | None = None, item: str | None = None) -> None:
    """The default: report nothing."""


__all__ = ["Progress", "no_progress"]
