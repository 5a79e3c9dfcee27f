"""Where taoke keeps what it caches: one home folder, following the XDG base directory spec.

WHY one place: the downloaded real models, the zoo, the registry database, its ANN index, the
code-lineage index and the tokenizer and probe libraries each had their own default under
``~/.cache/taoke`` (one of them honoured ``XDG_CACHE_HOME``, the others did not). A user who moves the
cache (a bigger disk, a CI cache folder) sets ONE variable:

- ``TAOKE_HOME`` (``TAOKE_CACHE_DIR`` is its older name): the home itself;
- else ``$XDG_CACHE_HOME/taoke`` (the XDG Base Directory Specification's user cache folder);
- else ``~/.cache/taoke``.

Each part keeps its own override for when it alone must move (``TAOKE_DATA_DIR``, ``TAOKE_ZOO_DIR``,
``TAOKE_REGISTRY``). Read at call time, so a test or a user changes them without re-importing.

>>> import os
>>> os.environ["TAOKE_HOME"] = "/tmp/th"; str(cache_dir("zoo"))
'/tmp/th/zoo'
>>> os.environ["TAOKE_ZOO_DIR"] = "/data/zoo"; str(cache_dir("zoo", "TAOKE_ZOO_DIR"))
'/data/zoo'
>>> del os.environ["TAOKE_HOME"], os.environ["TAOKE_ZOO_DIR"]
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir", "home"]

HOME_VARS = ("TAOKE_HOME", "TAOKE_CACHE_DIR")


def home() -> Path:
    """taoke's cache home: ``TAOKE_HOME`` (or ``TAOKE_CACHE_DIR``), else ``$XDG_CACHE_HOME/taoke``, else
    ``~/.cache/taoke``. A relative ``XDG_CACHE_HOME`` is ignored, as the spec says."""
    for var in HOME_VARS:
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg).expanduser() if xdg and Path(xdg).expanduser().is_absolute() else Path.home() / ".cache"
    return base / "taoke"


def cache_dir(name: str, override: str | None = None) -> Path:
    """The folder of one part of the cache: the ``override`` variable when it is set, else
    :func:`home` / ``name``."""
    if override and os.environ.get(override):
        return Path(os.environ[override]).expanduser()
    return home() / name
