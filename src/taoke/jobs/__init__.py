"""The jobs: orchestrators that resolve each source once and hand typed objects down to the library.

A job is what a CLI command (or a Python user) runs: it turns source specs into releases, model views
and fingerprints, calls the analysis packages and returns their typed result for a renderer.
"""

from taoke.jobs.compare import compare

__all__ = ["compare"]
