"""One container-independent view of a tokenizer vocabulary.

The same vocabulary travels in many containers: a SentencePiece ``tokenizer.model`` writes a space as
``▁`` and bytes as ``<0x0A>``, a byte-level BPE ``tokenizer.json`` writes a space as ``Ġ`` (GPT-2's
bytes-to-unicode table), a tiktoken rank file stores raw bytes in base64, and GGUF copies whichever
convention the converter saw. Lineage questions ("is this LLaMA's vocabulary?") must not depend on the
container, so every loader turns each token into its **canonical bytes**: the UTF-8 bytes the token
stands for in text. Two containers of one vocabulary then compare equal token by token.

Byte-fallback pieces (``<0xNN>``) stand for one raw byte, but SentencePiece vocabularies also hold an
ordinary piece for the same character (LLaMA has both ``<0x41>`` and ``A``). Their *match key* therefore
keeps the ``<0xNN>`` spelling, so a vocabulary never collides with itself; ``tokens`` holds the byte.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

# Token classes, stored per id in TokenizerView.token_class.
NORMAL = 0
SPECIAL = 1  # control / added special tokens (<s>, <|endoftext|>, [CLS] ...)
BYTE = 2  # SentencePiece byte-fallback piece <0xNN>
PADDING = 3  # placeholder rows a converter adds to reach the model's vocab size ([PAD123])
USER = 4  # user-defined / added non-special tokens
UNUSED = 5  # SentencePiece "unused" pieces
CLASS_NAMES = {
    NORMAL: "normal",
    SPECIAL: "special",
    BYTE: "byte",
    PADDING: "padding",
    USER: "added",
    UNUSED: "unused",
}

_PAD = re.compile(r"^\[PAD\d+\]$")
_BYTE_PIECE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")
SPM_SPACE = "\u2581"


@lru_cache(maxsize=1)
def byte_decoder() -> dict[str, int]:
    """GPT-2's unicode-to-byte table (inverse of ``bytes_to_unicode``), used by byte-level BPE files.

    GPT-2 maps each byte to a printable code point so that a vocabulary is valid JSON text: printable
    ASCII and Latin-1 stay themselves, the other 68 bytes move to U+0100 upwards (space -> ``Ġ``).
    """
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs, strict=False)}


@lru_cache(maxsize=1)
def _bytelevel_table() -> dict[int, str]:
    """str.translate table: byte-level char -> latin-1 char of its byte; invalid chars -> U+FFFF."""
    table = {c: chr(b) for c, b in ((ord(ch), b) for ch, b in byte_decoder().items())}
    for c in range(256):
        table.setdefault(c, "\uffff")
    return table


def bytelevel_to_bytes(token: str) -> bytes | None:
    """Decode a byte-level BPE token string (``Ġthe``) to bytes; ``None`` if it is not byte-level."""
    try:
        return token.translate(_bytelevel_table()).encode("latin-1")
    except UnicodeEncodeError:
        return None


def spm_piece_to_bytes(piece: str | bytes) -> tuple[bytes, bool]:
    """Canonical bytes of a SentencePiece piece and whether it is a byte-fallback piece.

    Untrusted pieces need not be valid text: protobuf hands back a ``string`` field holding invalid
    UTF-8 as ``bytes``, and a JSON ``"\\ud800"`` decodes to a lone surrogate. Both keep their exact bytes
    (``surrogatepass``) instead of raising: a broken piece is a token to compare, not a crash.
    """
    if isinstance(piece, bytes):
        return piece.replace(SPM_SPACE.encode("utf-8"), b" "), False
    m = _BYTE_PIECE.match(piece)
    if m:
        return bytes([int(m.group(1), 16)]), True
    return piece.replace(SPM_SPACE, " ").encode("utf-8", "surrogatepass"), False


def is_padding(text: str) -> bool:
    """A ``[PADnnn]`` placeholder that llama.cpp's converter adds up to the model's vocab size."""
    return bool(_PAD.match(text))


@dataclass
class TokenizerView:
    """A loaded vocabulary in canonical form, whatever container it came from.

    kind:        "bpe-bytelevel", "spm-bpe", "spm-unigram", "wordpiece", "tiktoken", ...
    tokens:      id -> canonical bytes (the text the token stands for; byte pieces -> their byte).
    token_class: id -> NORMAL/SPECIAL/BYTE/PADDING/USER/UNUSED (int8 array, same length as tokens).
    merges:      BPE merges in rank order as pairs of canonical byte strings (empty when none).
    normalizer / pre_tokenizer: a small JSON-able descriptor (what the container says), for identity checks.
    source_files: the files it was read from; container: "tokenizer.json", "sentencepiece", "gguf", ...
    extra:       container facts worth reporting (GGUF ``tokenizer.ggml.pre``, bos/eos ids, unk token...).
    """

    kind: str
    tokens: list[bytes]
    token_class: np.ndarray
    container: str
    source_files: list[Path] = field(default_factory=list)
    merges: list[tuple[bytes, bytes]] = field(default_factory=list)
    normalizer: Any = None
    pre_tokenizer: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    name: str = ""

    @property
    def size(self) -> int:
        """Number of ids (including special and padding rows): what the embedding matrix must cover."""
        return len(self.tokens)

    @cached_property
    def keys(self) -> list[bytes | None]:
        """Per id, the key used to match tokens across vocabularies (``None`` for padding rows).

        Canonical bytes, except byte-fallback pieces which keep their ``<0xNN>`` spelling (see module doc).
        """
        out: list[bytes | None] = []
        cls = self.token_class
        for i, tok in enumerate(self.tokens):
            c = cls[i]
            if c == PADDING:
                out.append(None)
            elif c == BYTE:
                out.append(b"<0x%02X>" % tok[0] if len(tok) == 1 else tok)
            else:
                out.append(tok)
        return out

    @cached_property
    def key_to_id(self) -> dict[bytes, int]:
        """Match key -> first id holding it. Later duplicates are counted in ``n_duplicates``."""
        out: dict[bytes, int] = {}
        for i, k in enumerate(self.keys):
            if k is not None and k not in out:
                out[k] = i
        return out

    @property
    def n_duplicates(self) -> int:
        """Ids whose key already appeared at a lower id (a sign of a careless edit or conversion)."""
        return sum(1 for k in self.keys if k is not None) - len(self.key_to_id)

    def ids_of_class(self, cls: int) -> np.ndarray:
        return np.flatnonzero(self.token_class == cls)

    @property
    def n_padding(self) -> int:
        return int(np.count_nonzero(self.token_class == PADDING))

    @property
    def special_tokens(self) -> dict[int, str]:
        """id -> text of special/control tokens."""
        return {int(i): self.tokens[i].decode("utf-8", "replace") for i in self.ids_of_class(SPECIAL)}

    @property
    def added_tokens(self) -> dict[int, str]:
        """id -> text of user-defined (added, non-special) tokens."""
        return {int(i): self.tokens[i].decode("utf-8", "replace") for i in self.ids_of_class(USER)}

    def display(self, token_id: int) -> str:
        """A printable rendering of one token (repr-escaped when it is not valid UTF-8)."""
        tok = self.tokens[token_id]
        if self.token_class[token_id] == BYTE and len(tok) == 1:
            return f"<0x{tok[0]:02X}>"
        try:
            return tok.decode("utf-8")
        except UnicodeDecodeError:
            return repr(tok)[2:-1]

    @cached_property
    def set_hash(self) -> str:
        """SHA-256 over the sorted set of match keys: equal for the same vocabulary in any id order."""
        h = hashlib.sha256()
        for k in sorted(self.key_to_id):
            h.update(len(k).to_bytes(4, "little"))
            h.update(k)
        return h.hexdigest()

    @cached_property
    def order_hash(self) -> str:
        """SHA-256 over match keys in id order: equal only when ids are identical too."""
        h = hashlib.sha256()
        for k in self.keys:
            kk = b"\xff" if k is None else k
            h.update(len(kk).to_bytes(4, "little"))
            h.update(kk)
        return h.hexdigest()

    def summary(self) -> dict[str, Any]:
        """Facts for reports and JSON output (no per-token data)."""
        counts = {
            CLASS_NAMES[c]: int(n)
            for c, n in zip(*np.unique(self.token_class, return_counts=True), strict=False)
        }
        return {
            "name": self.name,
            "kind": self.kind,
            "container": self.container,
            "size": self.size,
            "classes": counts,
            "n_merges": len(self.merges),
            "n_duplicates": self.n_duplicates,
            "normalizer": self.normalizer,
            "pre_tokenizer": self.pre_tokenizer,
            "files": [str(p) for p in self.source_files],
            "set_hash": self.set_hash[:16],
            "order_hash": self.order_hash[:16],
            **({"extra": self.extra} if self.extra else {}),
        }
