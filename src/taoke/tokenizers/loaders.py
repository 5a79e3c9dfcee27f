"""Load every tokenizer container a release ships into a :class:`TokenizerView`, never running code.

Containers: HF ``tokenizer.json``; SentencePiece ``tokenizer.model`` (protobuf); tiktoken rank files
(``base64(token) rank`` per line, also shipped as ``tokenizer.model`` by Meta for LLaMA 3);
``vocab.json`` + ``merges.txt``; WordPiece ``vocab.txt``; the vocabulary embedded in GGUF metadata
(``tokenizer.ggml.*``). Every claimed size is checked against :func:`taoke.limits.current_limits`
before anything proportional to it is allocated, and every malformed file is a one-line TaokeError.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from taoke.errors import CorruptFile, LimitExceeded, SourceNotFound, UnsupportedFormat
from taoke.limits import Limits, current_limits
from taoke.release import Release, resolve
from taoke.release.bounded import read_bytes, read_json
from taoke.tokenizers.gguf_vocab import read_tokenizer_kv
from taoke.tokenizers.view import (
    BYTE,
    NORMAL,
    PADDING,
    SPECIAL,
    UNUSED,
    USER,
    TokenizerView,
    bytelevel_to_bytes,
    is_padding,
    spm_piece_to_bytes,
)

# Release-folder search order (first hit wins): the richest description of the tokenizer first.
SEARCH_ORDER = ("tokenizer.json", "tokenizer.model", "*.tiktoken", "vocab.json", "vocab.txt", "*.gguf")
_TIKTOKEN_LINE = re.compile(rb"^[A-Za-z0-9+/]+=*[ \t]+\d+\r?$")
_WORDPIECE_SPECIAL = re.compile(r"^\[[A-Z]+\]$")
_WORDPIECE_UNUSED = re.compile(r"^\[unused\d+\]$")


def _utf8(text: str) -> bytes:
    """UTF-8 bytes of an untrusted token string; a lone surrogate (JSON ``"\\ud800"``) keeps its bytes
    (``surrogatepass``) rather than raising ``UnicodeEncodeError``."""
    return text.encode("utf-8", "surrogatepass")


def _check_size(n: int, path: Path, limits: Limits, what: str = "vocabulary") -> None:
    if n > limits.max_vocab:
        raise LimitExceeded(
            f"{what} claims {n} entries, more than the limit {limits.max_vocab} (TAOKE_MAX_VOCAB)", path
        )


_GENERIC_NAMES = {"tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "merges.txt"}


def _display_name(path: Path) -> str:
    """``folder/tokenizer.json`` for generic file names, else the file name (``ggml-vocab-mpt.gguf``)."""
    return f"{path.parent.name}/{path.name}" if path.name in _GENERIC_NAMES else path.name


def _view(
    kind: str,
    container: str,
    tokens: list[bytes],
    classes: list[int] | np.ndarray,
    files: list[Path],
    **kw: Any,
) -> TokenizerView:
    return TokenizerView(
        kind=kind,
        container=container,
        tokens=tokens,
        token_class=np.asarray(classes, dtype=np.int8),
        source_files=files,
        name=kw.pop("name", _display_name(files[0]) if files else ""),
        **kw,
    )


# --------------------------------------------------------------------------------------------- tokenizer.json
def _has_type(node: Any, name: str) -> bool:
    """Whether a normalizer/pre-tokenizer/decoder descriptor (maybe a Sequence) has ``type == name``."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("type") == name:
                return True
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _spm_convention(doc: dict[str, Any]) -> bool:
    """Whether token strings use SentencePiece's ``▁`` for space (Metaspace, or Replace ' ' -> '▁')."""
    for part in ("normalizer", "pre_tokenizer", "decoder"):
        node = doc.get(part)
        if _has_type(node, "Metaspace"):
            return True
        if "\u2581" in str(node):
            return True
    return bool(doc.get("model", {}).get("byte_fallback"))


def load_tokenizer_json(path: str | Path, limits: Limits | None = None) -> TokenizerView:
    """An HF ``tokenizer.json`` (BPE, Unigram, WordPiece or WordLevel model), parsed as bounded JSON."""
    limits = limits or current_limits()
    path = Path(path)
    doc = read_json(path, limits)
    if not isinstance(doc, dict) or not isinstance(doc.get("model"), dict):
        raise CorruptFile('tokenizer.json has no "model" object', path)
    model = doc["model"]
    mtype = model.get("type") or ("BPE" if "merges" in model else None)
    vocab = model.get("vocab")
    pairs: list[tuple[str, int]] = []
    scores: list[float] = []
    if isinstance(vocab, dict):
        _check_size(len(vocab), path, limits)
        pairs = list(vocab.items())
    elif isinstance(vocab, list):  # Unigram: [[piece, score], ...] in id order
        _check_size(len(vocab), path, limits)
        for i, item in enumerate(vocab):
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
                raise CorruptFile(f"Unigram vocab entry {i} is not [piece, score]", path)
            pairs.append((item[0], i))
            scores.append(float(item[1]))
    else:
        raise CorruptFile("tokenizer.json model has no vocab", path)
    added = doc.get("added_tokens") or []
    if not isinstance(added, list):
        raise CorruptFile("tokenizer.json added_tokens is not a list", path)
    max_id = -1
    for tok, idx in pairs:
        if not isinstance(tok, str) or not isinstance(idx, int) or isinstance(idx, bool) or idx < 0:
            raise CorruptFile(f"vocab entry {tok!r}: id {idx!r} is not a non-negative integer", path)
        max_id = max(max_id, idx)
    for a in added:
        if (
            not isinstance(a, dict)
            or not isinstance(a.get("id"), int)
            or not isinstance(a.get("content"), str)
        ):
            raise CorruptFile("added_tokens entry without integer id and string content", path)
        max_id = max(max_id, a["id"])
    _check_size(max_id + 1, path, limits, "vocabulary (highest id + 1)")

    bytelevel = _has_type(doc.get("pre_tokenizer"), "ByteLevel") or _has_type(doc.get("decoder"), "ByteLevel")
    spm = not bytelevel and _spm_convention(doc)
    kind = {
        "BPE": "bpe-bytelevel" if bytelevel else ("spm-bpe" if spm else "bpe"),
        "Unigram": "spm-unigram" if spm or not bytelevel else "unigram",
        "WordPiece": "wordpiece",
        "WordLevel": "wordlevel",
    }.get(str(mtype))
    if kind is None:
        raise UnsupportedFormat(f"tokenizer.json model type {mtype!r} is not supported", path)

    n = max_id + 1
    tokens: list[bytes] = [b""] * n
    classes = np.full(n, PADDING, dtype=np.int8)  # ids no entry claims stay padding rows
    undecodable = 0

    def convert(tok: str) -> tuple[bytes, int]:
        nonlocal undecodable
        if bytelevel:
            b = bytelevel_to_bytes(tok)
            if b is None:
                undecodable += 1
                return _utf8(tok), NORMAL
            return b, NORMAL
        if spm:
            b, is_byte = spm_piece_to_bytes(tok)
            return b, BYTE if is_byte else NORMAL
        return _utf8(tok), NORMAL

    for tok, idx in pairs:
        tokens[idx], classes[idx] = convert(tok)
    for a in added:
        idx = a["id"]
        tokens[idx] = _utf8(a["content"])
        classes[idx] = SPECIAL if a.get("special") else USER
    merges_raw = model.get("merges") or []
    merges: list[tuple[bytes, bytes]] = []
    if isinstance(merges_raw, list):
        _check_size(len(merges_raw), path, limits, "merges list")
        for m in merges_raw:
            parts = m.split(" ", 1) if isinstance(m, str) else m
            if not (isinstance(parts, list) and len(parts) == 2 and all(isinstance(p, str) for p in parts)):
                raise CorruptFile(f"malformed merge {m!r}", path)
            merges.append((convert(parts[0])[0], convert(parts[1])[0]))
    extra: dict[str, Any] = {"model_type": mtype}
    if model.get("unk_token"):
        extra["unk_token"] = model.get("unk_token")
    if undecodable:
        extra["undecodable_tokens"] = undecodable
    for name in ("tokenizer_config.json",):
        cfg_path = path.parent / name
        if cfg_path.is_file():
            try:
                cfg = read_json(cfg_path, limits)
            except (CorruptFile, LimitExceeded):
                cfg = None
            if isinstance(cfg, dict) and isinstance(cfg.get("tokenizer_class"), str):
                extra["tokenizer_class"] = cfg["tokenizer_class"]
    return _view(
        kind,
        "tokenizer.json",
        tokens,
        classes,
        [path],
        merges=merges,
        normalizer=doc.get("normalizer"),
        pre_tokenizer=doc.get("pre_tokenizer"),
        extra=extra,
    )


# ---------------------------------------------------------------------------------------------- SentencePiece
def parse_sentencepiece(data: bytes, path: Path, limits: Limits) -> Any:
    """Parse a SentencePiece ModelProto from untrusted bytes (size already bounded by the caller)."""
    from google.protobuf.message import DecodeError
    from sentencepiece import sentencepiece_model_pb2 as spm_pb2

    proto = spm_pb2.ModelProto()
    try:
        proto.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise CorruptFile(
            f"not a valid SentencePiece model (protobuf: {str(exc).splitlines()[0][:80]})", path
        ) from None
    if len(proto.pieces) == 0:
        raise CorruptFile("SentencePiece model has no pieces", path)
    _check_size(len(proto.pieces), path, limits)
    return proto


_SPM_CLASS = {1: NORMAL, 2: SPECIAL, 3: SPECIAL, 4: USER, 5: UNUSED, 6: BYTE}


def load_sentencepiece(path: str | Path, limits: Limits | None = None) -> TokenizerView:
    """A SentencePiece ``.model`` (protobuf): pieces, types and the model type, never executing anything."""
    limits = limits or current_limits()
    path = Path(path)
    data = read_bytes(path, limits.max_string_bytes, "SentencePiece model")
    proto = parse_sentencepiece(data, path, limits)
    tokens: list[bytes] = []
    classes: list[int] = []
    for p in proto.pieces:
        b, is_byte = spm_piece_to_bytes(p.piece)
        cls = BYTE if (p.type == 6 and is_byte) else _SPM_CLASS.get(p.type, NORMAL)
        tokens.append(b)
        classes.append(cls)
    model_type = {1: "spm-unigram", 2: "spm-bpe", 3: "spm-word", 4: "spm-char"}.get(
        proto.trainer_spec.model_type, "spm-unigram"
    )
    ns = proto.normalizer_spec
    normalizer = {
        "type": "SentencePiece",
        # protobuf returns a string field that is not valid UTF-8 as bytes: keep reports JSON-able
        "name": ns.name if isinstance(ns.name, str) else bytes(ns.name).decode("utf-8", "replace"),
        "add_dummy_prefix": ns.add_dummy_prefix,
        "remove_extra_whitespaces": ns.remove_extra_whitespaces,
    }
    ts = proto.trainer_spec
    pre = {"type": "SentencePiece", "split_digits": ts.split_digits, "byte_fallback": ts.byte_fallback}
    return _view(
        model_type,
        "sentencepiece",
        tokens,
        classes,
        [path],
        normalizer=normalizer,
        pre_tokenizer=pre,
        extra={"bos_id": ts.bos_id, "eos_id": ts.eos_id, "unk_id": ts.unk_id},
    )


# --------------------------------------------------------------------------------------------------- tiktoken
def looks_like_tiktoken(head: bytes) -> bool:
    """Whether the first lines of a file are tiktoken ``base64 rank`` lines."""
    lines = [ln for ln in head.split(b"\n")[:4] if ln.strip()]
    return bool(lines) and all(_TIKTOKEN_LINE.match(ln) for ln in lines[:3])


def load_tiktoken(path: str | Path, limits: Limits | None = None) -> TokenizerView:
    """A tiktoken BPE rank file: rank = token id, token = raw bytes. Special tokens live in code, not here."""
    limits = limits or current_limits()
    path = Path(path)
    data = read_bytes(path, limits.max_string_bytes, "tiktoken rank file")
    lines = data.splitlines()
    _check_size(len(lines), path, limits)
    ranks: dict[int, bytes] = {}
    max_rank = -1
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            raise CorruptFile(f"line {lineno} is not 'base64-token rank'", path)
        if len(parts[1]) > 18:  # int() refuses > 4300 digits with a ValueError; no real rank needs 19
            raise LimitExceeded(
                f"line {lineno} claims a {len(parts[1])}-digit rank, more than the "
                f"vocabulary limit {limits.max_vocab} (TAOKE_MAX_VOCAB)",
                path,
            )
        rank = int(parts[1])
        if rank >= limits.max_vocab:
            raise LimitExceeded(
                f"line {lineno} claims rank {rank}, more than the vocabulary limit "
                f"{limits.max_vocab} (TAOKE_MAX_VOCAB)",
                path,
            )
        try:
            tok = base64.b64decode(parts[0], validate=True)
        except (binascii.Error, ValueError):
            raise CorruptFile(f"line {lineno}: invalid base64 token", path) from None
        if rank in ranks:
            raise CorruptFile(f"line {lineno}: rank {rank} appears twice", path)
        ranks[rank] = tok
        max_rank = max(max_rank, rank)
    if not ranks:
        raise CorruptFile("tiktoken rank file is empty", path)
    n = max_rank + 1
    tokens = [ranks.get(i, b"") for i in range(n)]
    classes = np.array([NORMAL if i in ranks else PADDING for i in range(n)], dtype=np.int8)
    return _view(
        "tiktoken",
        "tiktoken",
        tokens,
        classes,
        [path],
        pre_tokenizer={"type": "tiktoken", "pattern": "not stored in the rank file"},
    )


# ---------------------------------------------------------------------------- vocab.json + merges / vocab.txt
def _merge_lines(path: Path, limits: Limits) -> Iterator[str]:
    """The merge lines of ``merges.txt`` (``#version`` and empty lines dropped), read as a stream.

    WHY a stream: holding the decoded file and a list of its lines beside the merges themselves made a
    27 MB merges file cost 915 MB (issue 16). Each ``\\n``-terminated line is decoded on its own and split
    again with ``str.splitlines`` so the lines are exactly those of ``text.splitlines()`` (which also
    breaks at ``\\r``, ``\\x1c``, U+2028 ...). The size is checked before reading, as ``read_bytes`` does.
    """
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed in the finally below, after the generator ends
    except FileNotFoundError:
        raise SourceNotFound("file not found", path) from None
    except IsADirectoryError:
        raise CorruptFile("expected a merges.txt, found a directory", path) from None
    except OSError as exc:
        raise CorruptFile(f"cannot read: {exc.strerror or exc}", path) from None
    limit = limits.max_string_bytes
    try:
        size = os.fstat(fh.fileno()).st_size
        if size > limit:
            raise LimitExceeded(
                f"merges.txt is {size} bytes, more than the {limit} allowed (TAOKE_MAX_STRING_BYTES)", path
            )
        seen = 0
        for raw in fh:
            seen += len(raw)
            if seen > limit:  # the file grew while we read it
                raise LimitExceeded(f"merges.txt is larger than {limit} bytes", path)
            for ln in raw.decode("utf-8", "replace").splitlines():
                if ln and not ln.startswith("#version"):
                    yield ln
    except OSError as exc:
        raise CorruptFile(f"cannot read: {exc.strerror or exc}", path) from None
    finally:
        fh.close()


def load_vocab_merges(
    vocab_path: str | Path, merges_path: str | Path | None = None, limits: Limits | None = None
) -> TokenizerView:
    """GPT-2 style ``vocab.json`` (byte-level token -> id) with its optional ``merges.txt``."""
    limits = limits or current_limits()
    vocab_path = Path(vocab_path)
    vocab = read_json(vocab_path, limits)
    if not isinstance(vocab, dict):
        raise CorruptFile("vocab.json must map token strings to ids", vocab_path)
    _check_size(len(vocab), vocab_path, limits)
    max_id = -1
    for tok, idx in vocab.items():
        if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0:
            raise CorruptFile(f"vocab entry {tok!r}: id {idx!r} is not a non-negative integer", vocab_path)
        max_id = max(max_id, idx)
    _check_size(max_id + 1, vocab_path, limits, "vocabulary (highest id + 1)")
    n = max_id + 1
    tokens = [b""] * n
    classes = np.full(n, PADDING, dtype=np.int8)
    for tok, idx in vocab.items():
        b = bytelevel_to_bytes(tok)
        tokens[idx] = b if b is not None else _utf8(tok)
        classes[idx] = NORMAL if b is not None else SPECIAL
    merges: list[tuple[bytes, bytes]] = []
    files = [vocab_path]
    if merges_path is not None:
        merges_path = Path(merges_path)
        files.append(merges_path)
        for lineno, ln in enumerate(_merge_lines(merges_path, limits), 1):
            if lineno > limits.max_vocab:
                _check_size(lineno, merges_path, limits, "merges list")
            parts = ln.split(" ")
            if len(parts) != 2:
                raise CorruptFile(f"merge {lineno} is not two tokens separated by a space", merges_path)
            a, b = (bytelevel_to_bytes(p) or _utf8(p) for p in parts)
            merges.append((a, b))
    return _view(
        "bpe-bytelevel",
        "vocab.json+merges.txt",
        tokens,
        classes,
        files,
        merges=merges,
        pre_tokenizer={"type": "ByteLevel"},
    )


def load_wordpiece(path: str | Path, limits: Limits | None = None) -> TokenizerView:
    """A BERT ``vocab.txt``: one token per line, line number = id."""
    limits = limits or current_limits()
    path = Path(path)
    data = read_bytes(path, limits.max_string_bytes, "vocab.txt")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptFile(f"vocab.txt is not UTF-8 (byte {exc.start})", path) from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    _check_size(len(lines), path, limits)
    tokens = [ln.rstrip("\r").encode("utf-8") for ln in lines]
    classes = [
        UNUSED if _WORDPIECE_UNUSED.match(t) else SPECIAL if _WORDPIECE_SPECIAL.match(t) else NORMAL
        for t in (ln.rstrip("\r") for ln in lines)
    ]
    return _view("wordpiece", "vocab.txt", tokens, classes, [path])


# ------------------------------------------------------------------------------------------------------- GGUF
_GGUF_CLASS = {1: NORMAL, 2: SPECIAL, 3: SPECIAL, 4: USER, 5: UNUSED, 6: BYTE}
_GGUF_KIND = {"llama": "spm-bpe", "gpt2": "bpe-bytelevel", "bert": "wordpiece", "t5": "spm-unigram"}


def _gguf_wordpiece_token(text: str) -> str:
    """HF WordPiece spelling of a GGUF 'bert' token: llama.cpp writes word starts as ``▁x`` and
    continuations as bare ``x``, HF as ``x`` and ``##x``; bracketed specials keep their spelling."""
    if text.startswith("\u2581"):
        return text[1:]
    if text.startswith("[") and text.endswith("]"):
        return text
    return "##" + text


def load_gguf(path: str | Path, limits: Limits | None = None) -> TokenizerView:
    """The vocabulary embedded in a GGUF file's ``tokenizer.ggml.*`` metadata (no tensor data read)."""
    limits = limits or current_limits()
    path = Path(path)
    kv = read_tokenizer_kv(path, limits)
    raw_tokens = kv.get("tokenizer.ggml.tokens")
    if not isinstance(raw_tokens, list) or not raw_tokens:
        raise UnsupportedFormat("GGUF file has no embedded vocabulary (tokenizer.ggml.tokens)", path)
    _check_size(len(raw_tokens), path, limits)
    # Every value's GGUF type is the file's claim: check it is the one the format defines.
    if not all(isinstance(t, bytes) for t in raw_tokens):
        raise CorruptFile("tokenizer.ggml.tokens is not an array of strings", path)
    model_raw = kv.get("tokenizer.ggml.model", b"")
    if not isinstance(model_raw, bytes):
        raise CorruptFile("tokenizer.ggml.model is not a string", path)
    model = model_raw.decode("utf-8", "replace")
    kind = _GGUF_KIND.get(model, model or "unknown")
    types = kv.get("tokenizer.ggml.token_type")
    if types is not None and not (isinstance(types, np.ndarray) and types.dtype.kind in "iu"):
        raise CorruptFile("tokenizer.ggml.token_type is not an array of integers", path)
    if types is not None and len(types) != len(raw_tokens):
        raise CorruptFile(
            f"tokenizer.ggml.token_type has {len(types)} entries for {len(raw_tokens)} tokens", path
        )
    tokens: list[bytes] = []
    classes = np.empty(len(raw_tokens), dtype=np.int8)
    undecodable = 0
    for i, raw in enumerate(raw_tokens):
        t = int(types[i]) if types is not None else 1
        cls = _GGUF_CLASS.get(t, NORMAL)
        text = raw.decode("utf-8", "surrogateescape")
        if t in (2, 4, 5) and is_padding(text):
            cls = PADDING
        if model == "llama" or model == "t5":
            b, is_byte = spm_piece_to_bytes(text)
            if cls == BYTE and not is_byte:
                cls = NORMAL
        elif model == "gpt2" and cls == NORMAL:
            dec = bytelevel_to_bytes(text)
            if dec is None:
                undecodable += 1
                b = raw
            else:
                b = dec
        elif model == "bert":
            b = _gguf_wordpiece_token(text).encode("utf-8", "surrogateescape")
            if _WORDPIECE_UNUSED.match(text):
                cls = UNUSED
        else:
            b = raw
        tokens.append(b)
        classes[i] = cls
    merges: list[tuple[bytes, bytes]] = []
    raw_merges = kv.get("tokenizer.ggml.merges")
    if raw_merges is not None and not (
        isinstance(raw_merges, list) and all(isinstance(m, bytes) for m in raw_merges)
    ):
        raise CorruptFile("tokenizer.ggml.merges is not an array of strings", path)
    if isinstance(raw_merges, list):
        for j, m in enumerate(raw_merges):
            parts = m.split(b" ", 1)
            if len(parts) != 2:
                raise CorruptFile(f"tokenizer.ggml.merges entry {j} is not two tokens", path)
            a, c = (bytelevel_to_bytes(p.decode("utf-8", "surrogateescape")) or p for p in parts)
            merges.append((a, c))
    extra: dict[str, Any] = {"ggml_model": model}
    pre = kv.get("tokenizer.ggml.pre")
    if isinstance(pre, bytes):
        extra["ggml_pre"] = pre.decode("utf-8", "replace")
    for key in ("bos_token_id", "eos_token_id", "unknown_token_id", "padding_token_id"):
        v = kv.get(f"tokenizer.ggml.{key}")
        if isinstance(v, int):
            extra[key] = v
    if undecodable:
        extra["undecodable_tokens"] = undecodable
    arch = kv.get("general.architecture")
    if isinstance(arch, bytes):
        extra["architecture"] = arch.decode("utf-8", "replace")
    return _view(
        kind,
        "gguf",
        tokens,
        classes,
        [path],
        merges=merges,
        pre_tokenizer={"type": "gguf", "pre": extra.get("ggml_pre", "default")},
        normalizer={"type": "gguf", "model": model},
        extra=extra,
    )


# --------------------------------------------------------------------------------------------------- dispatch
def load_file(path: str | Path, limits: Limits | None = None) -> TokenizerView:
    """Load one tokenizer file, choosing the reader by content (magic bytes, JSON shape), not by name."""
    limits = limits or current_limits()
    path = Path(path)
    if not path.exists():
        raise SourceNotFound("file not found", path)
    if path.is_dir():
        return load_tokenizer(path, limits)
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise CorruptFile(f"cannot read: {exc.strerror or exc}", path) from None
    if head[:4] == b"GGUF":
        return load_gguf(path, limits)
    name = path.name.lower()
    stripped = head.lstrip()
    if name.endswith(".json") or stripped[:1] in (b"{", b"["):
        if name == "vocab.json" or (
            stripped[:1] == b"{" and b'"model"' not in head and name != "tokenizer.json"
        ):
            merges = path.parent / "merges.txt"
            return load_vocab_merges(path, merges if merges.is_file() else None, limits)
        return load_tokenizer_json(path, limits)
    if looks_like_tiktoken(head):
        return load_tiktoken(path, limits)
    if name.endswith(".txt"):
        return load_wordpiece(path, limits)
    if name.endswith(".model") or ".model." in name or head[:1] == b"\x0a":
        return load_sentencepiece(path, limits)
    raise UnsupportedFormat(
        "not a tokenizer file taoke reads (tokenizer.json, SentencePiece .model, tiktoken, "
        "vocab.json, vocab.txt, GGUF)",
        path,
    )


def _pick(files: dict[str, Path]) -> list[Path]:
    """Tokenizer files of a release in :data:`SEARCH_ORDER` preference (relative name -> path)."""
    top = {n: p for n, p in files.items() if "/" not in n}
    picked: list[Path] = []
    for pattern in SEARCH_ORDER:
        if pattern.startswith("*"):
            picked.extend(p for n, p in sorted(top.items()) if n.endswith(pattern[1:]))
        elif pattern in top:
            picked.append(top[pattern])
    return picked


def find_tokenizer_files(source: Release | str | Path) -> list[Path]:
    """The tokenizer files of a release folder, best first (tokenizer.json > .model > ... > GGUF).

    A folder goes through :func:`taoke.release.resolve` like any release: a ``tokenizer.json`` that is
    a symlink to ``/etc/passwd`` (or anything outside the folder) is refused there, never opened.
    """
    release = source if isinstance(source, Release) else resolve(source)
    files = {release.relative(p): p for p in release.files}
    return _pick(files)


def load_tokenizer(source: Release | str | Path, limits: Limits | None = None) -> TokenizerView:
    """The tokenizer of a release (a Release, folder, hub id in the cache) or of one tokenizer file.

    Example::

        >>> view = load_tokenizer("fixtures/tokenizers/llama/llama2")   # doctest: +SKIP
        >>> view.kind, view.size
        ('spm-bpe', 32000)
    """
    limits = limits or current_limits()
    if isinstance(source, (str, Path)):
        p = Path(source).expanduser()
        if p.is_file():
            return load_file(p, limits)
        if not p.exists() and not isinstance(source, str):
            raise SourceNotFound("no such file or folder", p)
        name = p.name
    else:
        name = source.name
    candidates = find_tokenizer_files(source)
    if not candidates:
        raise SourceNotFound(
            "no tokenizer file found (tokenizer.json, tokenizer.model, *.tiktoken, vocab.json, "
            "vocab.txt or a GGUF with an embedded vocabulary)",
            source if isinstance(source, (str, Path)) else source.path,
        )
    last: Exception | None = None
    for path in candidates:
        try:
            view = load_file(path, limits)
        except UnsupportedFormat as exc:  # e.g. a GGUF without vocabulary: try the next candidate
            last = exc
            continue
        view.name = name
        return view
    assert last is not None
    raise last
