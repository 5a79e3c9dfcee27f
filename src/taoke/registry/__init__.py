"""A registry of model fingerprints: "which known model is this derived from?" (issue 7).

- :class:`Registry` stores identities and fingerprints in SQLite (default, in the user cache dir) or
  PostgreSQL, with versioned migrations (:mod:`taoke.registry.schema`).
- :func:`index_source` fingerprints a release into it (a no-op for known content hashes).
- :func:`search` shortlists candidates from an ANN index of compact vectors
  (:mod:`taoke.registry.vector`, :mod:`taoke.registry.ann`) and runs a full compare on each.
- :func:`export_registry` / :func:`import_registry` move a registry as one SQLite file.

>>> from taoke.registry import Registry, index_source, search
>>> reg = Registry("reg.sqlite")                       # doctest: +SKIP
>>> index_source(reg, "path/to/base")                  # doctest: +SKIP
>>> search(reg, "path/to/suspect").best.record.name    # doctest: +SKIP
"""

from taoke.registry.search import Hit, SearchResult, holm, index_source, prepare, search
from taoke.registry.store import ModelRecord, Registry, RegistryError, default_url, normalize_url
from taoke.registry.transfer import export_registry, import_registry
from taoke.registry.vector import DIM, compact_vector

__all__ = [
    "DIM",
    "Hit",
    "ModelRecord",
    "Registry",
    "RegistryError",
    "SearchResult",
    "compact_vector",
    "default_url",
    "export_registry",
    "holm",
    "import_registry",
    "index_source",
    "normalize_url",
    "prepare",
    "search",
]
