"""taoke (套壳): audit large language model releases for provenance.

The CLI (``taoke``) is a thin shell over the functions exported here.
"""

from taoke.errors import TaokeError

__version__ = "0.1.0"

__all__ = ["TaokeError", "__version__"]
