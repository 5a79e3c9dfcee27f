"""Open a weight file with the reader its first bytes call for, never the one its name suggests.

An extension is a claim the release makes; the magic bytes are what the parser will actually face. A
``.bin`` that is really a GGUF (or a ``.safetensors`` that is a pickle) is read as what it is. Readers
are imported when first needed: the ``gguf`` package alone takes 0.2 s to import.
"""

from __future__ import annotations

from pathlib import Path

from taoke.errors import CorruptFile, SourceNotFound, UnsupportedFormat
from taoke.formats.base import TensorFile
from taoke.limits import Limits, current_limits
from taoke.release.bounded import sniff_format


def open_tensor_file(path: str | Path, limits: Limits | None = None) -> TensorFile:
    """Open ``path`` with the reader its magic bytes call for; the header is parsed and bounded now."""
    limits = limits or current_limits()
    path = Path(path)
    if not path.exists():
        raise SourceNotFound("file not found", path)
    if not path.is_file():
        raise CorruptFile("not a regular file", path)
    kind = sniff_format(path)
    if kind == "safetensors":
        from taoke.formats.safetensors import SafetensorsFile

        return SafetensorsFile(path, limits)
    if kind == "gguf":
        from taoke.formats.gguf import GGUFFile

        return GGUFFile(path, limits)
    if kind == "torch-tar":
        raise UnsupportedFormat("tar-format PyTorch checkpoint (torch < 0.4) is not supported", path)
    if kind in ("torch-zip", "torch-legacy"):
        from taoke.formats.torch_pickle import TorchFile

        return TorchFile(path, limits)
    size = path.stat().st_size
    if size < 16:
        raise CorruptFile(f"file is only {size} bytes: too short for any weight format", path)
    raise UnsupportedFormat(
        "unknown weight format (magic bytes are not safetensors, GGUF or a PyTorch checkpoint)", path
    )
