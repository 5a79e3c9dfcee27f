"""One harness per parser: bytes in, the parser run the way taoke runs it, the result exercised.

The property every harness checks: an input either parses (and then its accessors work) or raises a
:class:`taoke.errors.TaokeError`. Anything else — ``KeyError``, ``struct.error``, ``RecursionError``,
``MemoryError``, ``UnicodeEncodeError`` — is a crash: a traceback a user would see instead of one line.

Parsers take paths, so each harness writes its input to a file in a scratch folder (on ``/dev/shm``
when it exists: a RAM-backed write costs microseconds). Accessors that read tensor bytes are limited to
small tensors: a tensor's size is bounded by the file size once the header is accepted, so reading the
small ones exercises the same code as reading the big ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fuzz.seeds import MERGES_MARK
from taoke.limits import Limits

# Limits a little tighter than the defaults, so lying sizes hit a limit in microseconds; the checks
# themselves are the same code paths as with the defaults.
FUZZ_LIMITS = Limits(
    max_header_bytes=16 << 20,
    max_string_bytes=16 << 20,
    max_array_items=1 << 20,
    max_vocab=1 << 20,
    max_pickle_bytes=16 << 20,
    max_text_bytes=4 << 20,
    max_files=64,
)
_READ_MAX = 1 << 16  # bytes: tensors up to this size are read back by the harnesses


def _write(work: Path, name: str, data: bytes) -> Path:
    p = work / name
    p.write_bytes(data)
    return p


def _exercise_tensor_file(f) -> None:  # type: ignore[no-untyped-def]
    try:
        for info in f.tensors()[:8]:
            if info.nbytes <= _READ_MAX:
                f.read(info.name)
                f.read_raw(info.name)
        json.dumps(f.metadata(), default=str)
    finally:
        f.close()


def h_safetensors(data: bytes, work: Path) -> None:
    from taoke.formats import open_tensor_file

    _exercise_tensor_file(open_tensor_file(_write(work, "model.safetensors", data), FUZZ_LIMITS))


def h_gguf(data: bytes, work: Path) -> None:
    from taoke.formats.gguf import GGUFFile

    f = GGUFFile(_write(work, "model.gguf", data), FUZZ_LIMITS)
    for key in f.keys()[:64]:
        f.field(key)
        f.field(key, raw=True)
        f.field_type(key)
    _exercise_tensor_file(f)


def h_torch(data: bytes, work: Path) -> None:
    from taoke.formats import open_tensor_file

    _exercise_tensor_file(open_tensor_file(_write(work, "pytorch_model.bin", data), FUZZ_LIMITS))


def _exercise_view(view) -> None:  # type: ignore[no-untyped-def]
    """What ``taoke tokenizer identify`` does with a loaded view: summary, hashes, key map."""
    json.dumps(view.summary(), default=str)
    _ = view.set_hash, view.order_hash, view.key_to_id, view.special_tokens, view.n_duplicates


def h_tokenizer_json(data: bytes, work: Path) -> None:
    from taoke.tokenizers.loaders import load_tokenizer_json

    _exercise_view(load_tokenizer_json(_write(work, "tokenizer.json", data), FUZZ_LIMITS))


def h_sentencepiece(data: bytes, work: Path) -> None:
    from taoke.tokenizers.loaders import load_sentencepiece

    _exercise_view(load_sentencepiece(_write(work, "tokenizer.model", data), FUZZ_LIMITS))


def h_tiktoken(data: bytes, work: Path) -> None:
    from taoke.tokenizers.loaders import load_tiktoken

    _exercise_view(load_tiktoken(_write(work, "tokenizer.tiktoken", data), FUZZ_LIMITS))


def h_vocab_json(data: bytes, work: Path) -> None:
    from taoke.tokenizers.loaders import load_vocab_merges

    vocab, _, merges = data.partition(MERGES_MARK)
    vp = _write(work, "vocab.json", vocab)
    mp = _write(work, "merges.txt", merges) if merges else None
    _exercise_view(load_vocab_merges(vp, mp, FUZZ_LIMITS))


def h_vocab_txt(data: bytes, work: Path) -> None:
    from taoke.tokenizers.loaders import load_wordpiece

    _exercise_view(load_wordpiece(_write(work, "vocab.txt", data), FUZZ_LIMITS))


def h_gguf_vocab(data: bytes, work: Path) -> None:
    from taoke.tokenizers.loaders import load_gguf

    _exercise_view(load_gguf(_write(work, "vocab.gguf", data), FUZZ_LIMITS))


def h_config(data: bytes, work: Path) -> None:
    from taoke.release.bounded import read_json

    json.dumps(read_json(_write(work, "config.json", data), FUZZ_LIMITS))


def h_card(data: bytes, work: Path) -> None:
    from taoke.release.bounded import read_text
    from taoke.release.card import parse_card

    p = _write(work, "README.md", data)
    card = parse_card(read_text(p, FUZZ_LIMITS), p, FUZZ_LIMITS)
    _ = card.license, card.license_name, card.license_link, card.base_model
    json.dumps(card.to_dict(), default=str)  # what the JSON renderer does with it


def h_shard_index(data: bytes, work: Path) -> None:
    from taoke.release import resolve

    rel = work / "release"
    if not rel.is_dir():
        rel.mkdir()
        from fuzz.seeds import _safetensors_bytes

        one = _safetensors_bytes({"x": ("F32", (1,), b"\x00" * 4)})
        for name in ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"):
            (rel / name).write_bytes(one)
    _write(rel, "model.safetensors.index.json", data)
    resolve(rel, FUZZ_LIMITS).weight_files()


def h_code_text(data: bytes, work: Path) -> None:
    from taoke.analyzers.code import fingerprint, header_notice, read_code_text

    text, reason = read_code_text(_write(work, "modeling_yi.py", data), FUZZ_LIMITS)
    if text is not None:
        fingerprint(text)
        header_notice(text)
    elif not reason:
        raise AssertionError("read_code_text returned neither text nor a reason")


@dataclass(frozen=True)
class Target:
    name: str
    harness: Callable[[bytes, Path], None]
    text: bool  # text-aware mutations (JSON/YAML/Python tokens) on top of the byte mutations
    binary_parser: bool  # a binary weight/header parser: the ">= 1M executions" set
    what: str


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("safetensors", h_safetensors, False, True, "safetensors header + tensor reads"),
        Target("gguf", h_gguf, False, True, "GGUF header, metadata, arrays, tensor infos, dequantization"),
        Target(
            "torch",
            h_torch,
            False,
            True,
            "PyTorch zip/legacy checkpoint: zip guards, opcode walk, restricted unpickler, storage reads",
        ),
        Target("gguf_vocab", h_gguf_vocab, False, True, "tokenizer loader over GGUF vocabulary metadata"),
        Target("sentencepiece", h_sentencepiece, False, True, "SentencePiece ModelProto loader"),
        Target("tokenizer_json", h_tokenizer_json, True, False, "HF tokenizer.json loader"),
        Target("tiktoken", h_tiktoken, True, False, "tiktoken rank-file loader"),
        Target("vocab_json", h_vocab_json, True, False, "GPT-2 vocab.json + merges.txt loader"),
        Target("vocab_txt", h_vocab_txt, True, False, "BERT vocab.txt loader"),
        Target("config", h_config, True, False, "bounded JSON (config.json and friends)"),
        Target("card", h_card, True, False, "model card: YAML front matter + text"),
        Target("shard_index", h_shard_index, True, False, "shard index (model.safetensors.index.json)"),
        Target("code_text", h_code_text, True, False, "release .py files read as text for code lineage"),
    )
}
