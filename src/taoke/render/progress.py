"""The one progress bar of long jobs (scan, ANN rebuild): rich, on stderr, gone when done.

On stderr so that ``--format json`` on stdout stays parseable; transient so that the final table is
what remains on screen.
"""

from __future__ import annotations

from typing import Any


def progress_bar(enabled: bool) -> Any:
    """A :class:`rich.progress.Progress` (disabled, it still counts but draws nothing)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not enabled,
    )
