"""The jobs: what a user asks taoke to do, one orchestrator module each.

A job resolves its source once, reads it through the Model view, calls the analyzers and returns a
result object for the renderers; the CLI is a thin shell over these functions.

- :func:`inspect` (:mod:`taoke.jobs.inspect`): what a release is, tensor by tensor;
- :func:`compare` (:mod:`taoke.jobs.compare`): did one model's weights come from another's?
- :func:`audit` (:mod:`taoke.jobs.audit`): one report on a release's lineage, code, claims, licence;
- :func:`llamafy` (:mod:`taoke.jobs.llamafy`): rewrite a LLaMA-family release as canonical HF Llama;
- :func:`scan` (:mod:`taoke.jobs.scan`): fingerprint, index and search many models in parallel;
- :func:`check_contamination` (:mod:`taoke.jobs.contamination`): was a model trained on a benchmark?
- :func:`probe_compare` (:mod:`taoke.jobs.probe`): is one chat endpoint derived from another?

Names are handed on lazily: the jobs between them import scipy, SQLAlchemy and the analyzers (seconds),
and ``taoke inspect`` should not pay for ``taoke scan``.
"""

from __future__ import annotations

import sys
import types

from taoke.lazy import lazy_face

# name -> the module that defines it
_NAMES = {
    "AuditReport": "taoke.jobs.audit",
    "CompareResult": "taoke.weights",
    "InspectResult": "taoke.jobs.inspect",
    "LlamafyResult": "taoke.jobs.llamafy",
    "ScanResult": "taoke.jobs.scan",
    "audit": "taoke.jobs.audit",
    "check_contamination": "taoke.jobs.contamination",
    "compare": "taoke.jobs.compare",
    "inspect": "taoke.jobs.inspect",
    "llamafy": "taoke.jobs.llamafy",
    "probe_compare": "taoke.jobs.probe",
    "scan": "taoke.jobs.scan",
}
__all__ = [
    "AuditReport",
    "CompareResult",
    "InspectResult",
    "LlamafyResult",
    "ScanResult",
    "audit",
    "check_contamination",
    "compare",
    "inspect",
    "llamafy",
    "probe_compare",
    "scan",
]


__getattr__, __dir__ = lazy_face(__name__, _NAMES)


class _Jobs(types.ModuleType):
    """This package, keeping ``taoke.jobs.audit`` (and the others) the job *function*.

    Importing the module ``taoke.jobs.audit`` makes the import system set the package's attribute
    ``audit`` to that module; refusing that rebinding keeps ``from taoke.jobs import audit`` the
    function whatever was imported before. The modules stay reachable as ``sys.modules[...]``.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name in _NAMES and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Jobs
