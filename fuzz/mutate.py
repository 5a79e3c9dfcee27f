"""A small structure-aware mutation engine: byte flips, truncations, length-field inflation, splicing.

Why our own and not only atheris: it runs wherever Python runs (CI, the 2-core VM), is reproducible from
a seed, and knows what model-file parsers trust — little-endian length fields. Inflating every 4/8-byte
integer that looks like a count or a length to 2**31, 2**63 or "file size + 1" is the mutation that finds
the "header claims a terabyte" class of bugs, which random bit flips reach only by luck.
"""

from __future__ import annotations

import random
import struct

# Values that sit on a boundary of some check: zero, one past a limit, sign bits, "a terabyte".
INTERESTING_U64 = (
    0,
    1,
    2,
    7,
    8,
    31,
    32,
    63,
    64,
    255,
    256,
    4096,
    65535,
    65536,
    2**31 - 1,
    2**31,
    2**32 - 1,
    2**32,
    10**9,
    10**12,
    2**62,
    2**63 - 1,
    2**63,
    2**64 - 1,
)
INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0x22, 0x5B, 0x5D, 0x7B, 0x7D, 0x2E, 0x2F, 0x5C, 0x0A)

# Text tokens for JSON/YAML/pickle-ish inputs: nesting, aliases, escapes, surrogates, huge numbers.
TEXT_TOKENS = (
    b"[",
    b"]",
    b"{",
    b"}",
    b'"',
    b"\\",
    b"\\ud800",
    b"\\u0000",
    b"1e999999",
    b"-1",
    b"99999999999999999999999999",
    b"NaN",
    b"Infinity",
    b"null",
    b"true",
    b'"":',
    b",",
    b"&a [*a]",
    b"*a",
    b"&a",
    b"!!python/object:os.system",
    b"!!binary",
    b"2020-99-99",
    b"---\n",
    b"\n...\n",
    b"..",
    b"../",
    b"/etc/passwd",
    b"\x00",
    b"\xff\xfe",
    b"\xed\xa0\x80",
    b"[" * 200,
    b'{"a":' * 100,
    b"- " * 100,
    b"# -*- coding: latin-1 -*-\n",
    b"# coding: no-such-codec\n",
    b"\r",
    b"\t",
    "\u2028".encode(),
)


class Mutator:
    """Deterministic (per seed) mutations of byte strings.

    ``max_len`` caps what a mutation may grow an input to: the fuzzer is after logic errors and lying
    headers, not after how long a parser takes to chew a 100 MB input.
    """

    def __init__(self, rng: random.Random, corpus: list[bytes], text: bool, max_len: int = 1 << 18) -> None:
        self.rng, self.corpus, self.text, self.max_len = rng, corpus, text, max_len
        self.ops = [
            self.flip_bit,
            self.set_byte,
            self.truncate,
            self.delete_span,
            self.insert_bytes,
            self.duplicate_span,
            self.inflate_length,
            self.splice,
            self.arith_int,
        ]
        if text:
            self.ops += [self.insert_token, self.insert_token, self.replace_number]

    def mutate(self, data: bytes) -> bytes:
        """Apply 1-4 stacked mutations (stacking reaches states one edit cannot)."""
        out = bytearray(data)
        for _ in range(self.rng.choice((1, 1, 1, 2, 2, 3, 4))):
            out = bytearray(self.rng.choice(self.ops)(out))
        return bytes(out[: self.max_len])

    def _pos(self, buf: bytearray, hot: int | None = None) -> int:
        if not buf:
            return 0
        # Half the time aim at the first KiB: headers, magic numbers and counts live there.
        if hot is None and self.rng.random() < 0.5:
            return self.rng.randrange(min(len(buf), 1024))
        return self.rng.randrange(len(buf))

    def flip_bit(self, buf: bytearray) -> bytearray:
        if buf:
            buf[self._pos(buf)] ^= 1 << self.rng.randrange(8)
        return buf

    def set_byte(self, buf: bytearray) -> bytearray:
        if buf:
            buf[self._pos(buf)] = self.rng.choice(INTERESTING_BYTES + (self.rng.randrange(256),))
        return buf

    def truncate(self, buf: bytearray) -> bytearray:
        return buf[: self.rng.randrange(len(buf) + 1)] if buf else buf

    def delete_span(self, buf: bytearray) -> bytearray:
        if len(buf) > 1:
            a = self._pos(buf)
            del buf[a : a + self.rng.choice((1, 2, 4, 8, 16, 64, 256))]
        return buf

    def insert_bytes(self, buf: bytearray) -> bytearray:
        a = self._pos(buf)
        n = self.rng.choice((1, 2, 4, 8, 32))
        buf[a:a] = bytes(self.rng.randrange(256) for _ in range(n))
        return buf

    def duplicate_span(self, buf: bytearray) -> bytearray:
        if buf:
            a = self._pos(buf)
            span = buf[a : a + self.rng.choice((1, 8, 64, 512))]
            b = self._pos(buf)
            buf[b:b] = span * self.rng.choice((1, 2, 16))
        return buf

    def inflate_length(self, buf: bytearray) -> bytearray:
        """Overwrite a 1/2/4/8-byte little-endian integer with a boundary value or the input's size + k:
        the lying-header mutation."""
        width = self.rng.choice((1, 2, 4, 4, 8, 8, 8))
        if len(buf) < width:
            return buf
        # Prefer offsets of small existing integers (likely counts/lengths) in the first 4 KiB.
        limit = min(len(buf) - width + 1, 4096)
        a = self.rng.randrange(limit)
        for _ in range(8):
            cand = self.rng.randrange(limit)
            if int.from_bytes(buf[cand : cand + width], "little") < 1 << 20:
                a = cand
                break
        value = self.rng.choice(
            INTERESTING_U64 + (len(buf), len(buf) + 1, len(buf) - a, len(buf) * 2 + self.rng.randrange(64))
        )
        value &= (1 << (8 * width)) - 1
        buf[a : a + width] = value.to_bytes(width, "little")
        return buf

    def arith_int(self, buf: bytearray) -> bytearray:
        """Add a small delta to a 4- or 8-byte integer (off-by-one in offsets and counts)."""
        width = self.rng.choice((4, 8))
        if len(buf) < width:
            return buf
        a = self._pos(buf[: len(buf) - width + 1])
        fmt = "<I" if width == 4 else "<Q"
        (v,) = struct.unpack_from(fmt, buf, a)
        v = (v + self.rng.choice((-33, -8, -4, -1, 1, 4, 8, 32))) % (1 << (8 * width))
        struct.pack_into(fmt, buf, a, v)
        return buf

    def splice(self, buf: bytearray) -> bytearray:
        if not self.corpus:
            return buf
        other = self.rng.choice(self.corpus)
        if not other:
            return buf
        a, b = self._pos(buf), self.rng.randrange(len(other))
        return buf[:a] + bytearray(other[b : b + self.rng.choice((4, 64, 1024))]) + buf[a:]

    def insert_token(self, buf: bytearray) -> bytearray:
        a = self.rng.randrange(len(buf) + 1)
        buf[a:a] = self.rng.choice(TEXT_TOKENS) * self.rng.choice((1, 1, 1, 3, 50))
        return buf

    def replace_number(self, buf: bytearray) -> bytearray:
        """Swap a run of ASCII digits for a boundary number (ids, ranks, offsets, shapes in JSON)."""
        starts = [
            i
            for i in range(min(len(buf), 1 << 16))
            if 48 <= buf[i] <= 57 and (i == 0 or not 48 <= buf[i - 1] <= 57)
        ]
        if not starts:
            return buf
        a = self.rng.choice(starts)
        b = a
        while b < len(buf) and 48 <= buf[b] <= 57:
            b += 1
        buf[a:b] = str(self.rng.choice(INTERESTING_U64 + (-1,))).encode()
        return buf
