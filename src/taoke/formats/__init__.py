"""Weight-file readers, chosen by the file's first bytes, never by its name.

An extension is a claim the release makes; the magic bytes are what the parser will actually face. A
``.bin`` that is really a GGUF (or a ``.safetensors`` that is a pickle) is read as what it is.
"""

from __future__ import annotations

import struct
from pathlib import Path

from taoke.errors import CorruptFile, SourceNotFound, UnsupportedFormat
from taoke.formats.base import FileSummary, TensorFile, TensorInfo
from taoke.limits import Limits, current_limits

__all__ = ["FileSummary", "TensorFile", "TensorInfo", "open_tensor_file", "sniff_format"]

# Legacy (pre-1.6) torch.save files start with a pickled magic number (protocol 2, LONG1 of 10 bytes).
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


def sniff_format(path: str | Path) -> str | None:
    """``"safetensors"``, ``"gguf"``, ``"torch-zip"``, ``"torch-legacy"``, ``"torch-tar"`` or ``None``."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError:
        return None
    if head[:4] == b"GGUF":
        return "gguf"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "torch-zip"
    if head.startswith(_TORCH_LEGACY_MAGIC):
        return "torch-legacy"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "torch-tar"
    if len(head) >= 9:
        (n,) = struct.unpack("<Q", head[:8])
        if n >= 2 and head[8:9] == b"{":
            return "safetensors"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "torch-legacy"  # a bare pickle: the restricted unpickler decides what it may contain
    return None


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
