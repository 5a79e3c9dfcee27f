"""taoke (套壳): audit large language model releases for provenance.

The CLI (``taoke``) is a thin shell over the jobs exported here (:mod:`taoke.jobs`): :func:`inspect`,
:func:`compare`, :func:`audit`, :func:`llamafy`, :func:`scan`, :func:`check_contamination`,
:func:`probe_compare`, with their result types and the key types they take (:class:`Release`,
:class:`Limits`).

>>> import taoke
>>> report = taoke.audit("path/to/release", against=["path/to/llama"])   # doctest: +SKIP

``import taoke`` stays light: each name is imported when first used.
"""

from __future__ import annotations

from taoke import jobs
from taoke._version import __version__
from taoke.errors import TaokeError
from taoke.lazy import lazy_face

# name -> the module that defines it; the jobs' own face says which names are jobs
_NAMES = {
    **dict.fromkeys(jobs.__all__, "taoke.jobs"),
    "Limits": "taoke.limits",
    "Model": "taoke.model",
    "Release": "taoke.release",
    "resolve": "taoke.release",
}
__all__ = ["Limits", "Model", "Release", "TaokeError", "__version__", "resolve", *jobs.__all__]
__getattr__, __dir__ = lazy_face(__name__, _NAMES)
