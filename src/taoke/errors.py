"""One exception class per failure a user can act on.

Every error raised on untrusted input is a :class:`TaokeError` whose ``str()`` is a single line that
names the file and the problem; the CLI prints that line and exits with code 2 (``--debug`` shows the
traceback). Modelled on huggingface_hub's error classes: the message says what to do next.
"""

from __future__ import annotations

from pathlib import Path


class TaokeError(Exception):
    """Base class: a problem with the input or the environment, reported as one line (exit code 2)."""

    exit_code = 2

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.message = " ".join(str(message).split())  # always one line
        super().__init__(f"{self.path}: {self.message}" if self.path else self.message)


class SourceNotFound(TaokeError):
    """The source (folder, file, cache entry or hub id) does not exist or cannot be resolved."""


class HubUnreachable(TaokeError):
    """A hub id was given, it is not in the local cache, and the hub cannot be reached."""


class UnsupportedFormat(TaokeError):
    """A file is not in a format taoke reads (wrong magic, unknown extension)."""


class CorruptFile(TaokeError):
    """A file claims to be in a known format but is truncated, inconsistent or malformed."""


class LimitExceeded(TaokeError):
    """A header or file asks for more than the configured limits allow (see ``taoke.limits``)."""


class UnsafeContent(TaokeError):
    """The file tries something taoke never does: code execution on load, paths outside the release."""


class MissingDependency(TaokeError):
    """An optional extra (e.g. ``taoke[torch]``) is needed for this operation."""

    exit_code = 2


class DeviceUnavailable(TaokeError):
    """``--device`` names a device this machine cannot use (no torch, no CUDA): use ``--device cpu``."""


class AnalysisError(TaokeError):
    """The inputs are readable but cannot be analysed together (e.g. nothing comparable)."""


class Untestable(TaokeError):
    """The comparison ran but could not be made (no statistic applies to the pair): exit code 3.

    Raised by the CLI after the report is written, so that CI sees "untestable" and never mistakes it
    for a pass (``--fail-if-derived``) or for "independent".
    """

    exit_code = 3
