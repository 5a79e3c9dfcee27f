"""The release layer: what a release is and the side files every reader needs.

- :mod:`taoke.release.source`: :func:`resolve` turns a folder, file, HF cache entry or hub id into a
  :class:`Release` (root + the exact files taoke may read, every path checked once);
- :mod:`taoke.release.config` and :mod:`taoke.release.card`: ``config.json``, the model card and the
  licence files;
- :mod:`taoke.release.bounded`: the bottom floor, bounded reads of untrusted files (imported directly).

Weight files are read by :mod:`taoke.formats`, which stands on :mod:`taoke.release.bounded` only.
"""

from taoke.release.card import ModelCard, find_card, find_license_files, load_card, parse_card
from taoke.release.config import load_config
from taoke.release.source import WEIGHT_SUFFIXES, Release, resolve

__all__ = [
    "WEIGHT_SUFFIXES",
    "ModelCard",
    "Release",
    "find_card",
    "find_license_files",
    "load_card",
    "load_config",
    "parse_card",
    "resolve",
]
