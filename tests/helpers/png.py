"""Read and write 8-bit PNG images with the standard library (zlib): enough to check a screenshot's
pixels and to crop it, without an imaging package."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Image:
    width: int
    height: int
    channels: int  # 3 (RGB) or 4 (RGBA)
    data: bytearray  # rows top to bottom, no filter bytes

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        i = (y * self.width + x) * self.channels
        return self.data[i], self.data[i + 1], self.data[i + 2]

    def crop_rows(self, top: int, bottom: int) -> Image:
        row = self.width * self.channels
        return Image(self.width, bottom - top, self.channels, self.data[top * row : bottom * row])


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(path: Path) -> Image:
    raw = Path(path).read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, bytearray()
    width = height = channels = 0
    while pos < len(raw):
        (n,) = struct.unpack(">I", raw[pos : pos + 4])
        kind, body = raw[pos + 4 : pos + 8], raw[pos + 8 : pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and colour in (2, 6), (depth, colour, interlace)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
    flat = zlib.decompress(bytes(idat))
    stride = width * channels
    out = bytearray(height * stride)
    prev = np.zeros(stride, dtype=np.int64)
    for y in range(height):
        f = flat[y * (stride + 1)]
        line = np.frombuffer(flat, dtype=np.uint8, count=stride, offset=y * (stride + 1) + 1).astype(np.int64)
        if f == 1:  # Sub: a running sum per channel
            line = np.cumsum(line.reshape(width, channels), axis=0).reshape(-1) % 256
        elif f == 2:  # Up
            line = (line + prev) % 256
        elif f in (3, 4):  # Average, Paeth: byte by byte
            cur = line.tolist()
            up = prev.tolist()
            for i in range(stride):
                a = cur[i - channels] if i >= channels else 0
                c = up[i - channels] if i >= channels else 0
                pred = (a + up[i]) // 2 if f == 3 else _paeth(a, up[i], c)
                cur[i] = (cur[i] + pred) & 255
            line = np.asarray(cur, dtype=np.int64)
        out[y * stride : (y + 1) * stride] = line.astype(np.uint8).tobytes()
        prev = line
    return Image(width, height, channels, out)


def write_png(path: Path, img: Image) -> None:
    colour = 2 if img.channels == 3 else 6
    stride = img.width * img.channels
    rows = b"".join(b"\x00" + bytes(img.data[y * stride : (y + 1) * stride]) for y in range(img.height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    Path(path).write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", img.width, img.height, 8, colour, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def content_bottom(img: Image, background: tuple[int, int, int] = (255, 255, 255)) -> int:
    """One past the last row holding a pixel that is not the background."""
    stride = img.width * img.channels
    bg = bytes(background)
    for y in range(img.height - 1, -1, -1):
        row = img.data[y * stride : (y + 1) * stride]
        for x in range(0, stride, img.channels):
            if bytes(row[x : x + 3]) != bg:
                return y + 1
    return 0
