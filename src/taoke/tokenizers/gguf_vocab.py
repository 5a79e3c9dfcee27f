"""Read the ``tokenizer.*`` metadata of a GGUF file through the project's bounded GGUF reader.

This is the single place the tokenizer code touches GGUF. :class:`taoke.formats.gguf.GGUFFile` checks
every claimed count against the limits and the file size before allocating (``gguf.GGUFReader`` does
not, and takes 10 s on LLaMA-3's 408k vocabulary strings); here its values are put in the shape the
loaders want: strings as raw ``bytes`` (vocabularies may hold byte sequences that are not UTF-8),
numeric arrays as numpy arrays, scalars as Python numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from taoke.limits import Limits, current_limits

_ALSO = ("general.architecture", "general.name")


def read_tokenizer_kv(path: str | Path, limits: Limits | None = None) -> dict[str, Any]:
    """All ``tokenizer.*`` keys of a GGUF file (plus ``general.architecture``/``general.name``).

    Raises the reader's one-line TaokeErrors (CorruptFile, LimitExceeded, UnsupportedFormat).
    """
    from taoke.formats.gguf import GGUFFile

    gf = GGUFFile(Path(path), limits=limits or current_limits())
    try:
        out: dict[str, Any] = {}
        for key in gf.keys():
            if not (key.startswith("tokenizer.") or key in _ALSO):
                continue
            ftype = gf.field_type(key)
            value = gf.field(key, raw=ftype == "ARRAY[STRING]")
            if isinstance(value, str):
                value = value.encode("utf-8", "surrogateescape")
            elif isinstance(value, np.generic):
                value = value.item()
            out[key] = value
        return out
    finally:
        gf.close()
