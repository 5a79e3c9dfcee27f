"""Weight-file readers (safetensors, GGUF, PyTorch checkpoints), chosen by magic bytes.

Each reader parses and bounds its header on open and reads one tensor at a time on demand; all share
:class:`~taoke.formats.base.TensorFile`. They stand on :mod:`taoke.release.bounded` and nothing else of
the release layer.
"""

from taoke.formats.base import FileSummary, TensorFile, TensorInfo
from taoke.formats.dispatch import open_tensor_file
from taoke.release.bounded import sniff_format

__all__ = ["FileSummary", "TensorFile", "TensorInfo", "open_tensor_file", "sniff_format"]
