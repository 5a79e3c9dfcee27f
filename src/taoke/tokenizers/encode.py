"""Behavioural check: encode fixed texts with a tokenizer, without running any code from the release.

Two vocabularies can hold the same tokens yet split text differently (another pre-tokenizer regex,
normalizer or merge order), and that is what a model actually sees. llama.cpp recognises pre-tokenizers
by hashing the ids of one fixed text (``chkhsh`` in ``convert_hf_to_gguf.py``); taoke does the same with
a multilingual text (English, Chinese, code, numbers, emoji) and also hashes the *pieces* (canonical
bytes), which stays equal when a vocabulary is only shifted or reordered.

Encoders are built only from data: ``tokenizers`` for tokenizer.json, ``sentencepiece`` for .model
files, ``tiktoken`` for rank files (pattern from the known-tokenizer table), and for GGUF-embedded
vocabularies a SentencePiece model or an HF BPE model assembled from the GGUF metadata when the
pre-tokenizer (``tokenizer.ggml.pre``) is one whose splitting rule is in :data:`GGUF_PRE_PATTERNS`.
When no faithful encoder can be built the check says "not available" and why.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taoke.errors import CorruptFile
from taoke.limits import current_limits
from taoke.tokenizers.view import TokenizerView, is_padding

SAMPLE_TEXTS: tuple[str, ...] = (
    "Hello world! The quick brown fox jumps over the lazy dog.",
    "  Leading spaces,\ttabs\nand newlines\n\n\nmatter.",
    "我们在北京大学学习自然语言处理。大语言模型的词表扩展。",
    "def add(a, b):\n    return a + b  # sum\n",
    "Numbers: 3.14159, 1234567, 2024-11-30, $99.99, 1e-5",
    "Emoji 🦙🚀😀 and accents: café, naïve, Führer, Москва, 東京, 서울",
    "ied 4 ½ months ' s 've 'll 'RE",
)

# Pre-tokenizer splitting rules of llama.cpp's BPE pre-types, applied in sequence.
#
# WHERE FROM: ggml-org/llama.cpp, src/llama-vocab.cpp at commit 00ad355e009e83abf98f96a6ded7193b95763681:
# `llama_vocab::impl::load` maps each `tokenizer.ggml.pre` name to a pre-type, and the constructor of
# `llm_tokenizer_bpe` gives each pre-type its regexes. Where llama.cpp rewrote a tokenizer.json regex for
# its own regex engine and quotes the original, the original is kept here (HF `tokenizers` runs it).
# WHY a table kept here: the `gguf` package names no pre-tokenizers, and the one converter installed
# (transformers' GGUF tokenizer builder) keys its splits by a shorter list and falls back to GPT-2's
# rule for the rest; on llama.cpp's own test vectors it reproduced 483/517 segmentations of the 11
# vocabularies it builds (bert: none) where this table reproduces 564/564 of 12
# (`python bench/tokenizer_converters.py`). Checked against those vectors where they exist
# (tests/tokenizers/test_tokenizer_behaviour.py); the other rows are transcriptions.
_GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"
LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2 = (
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN35 = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_CASED = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
_CASED2 = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"
_CONTR = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
_TAIL = r"| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
_TEKKEN = _CASED + "|" + _CASED2 + r"|\p{N}" + _TAIL
_GPT4O = _CASED + _CONTR + "|" + _CASED2 + _CONTR + r"|\p{N}{1,3}" + _TAIL
_YOUTU = _CASED + _CONTR + "|" + _CASED2 + _CONTR + r"|\p{N}" + _TAIL
_CJK = "[一-龥぀-ゟ゠-ヿ]+"
_PUNCT_WORDS = r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+"
_POROISH = r" ?[^(\s|.,!?…。，、।۔،)]+"
# Greek/letterlike ranges spelled as escapes: their end points (U+1F7D, U+1FD3, U+1FDB, U+2126,
# U+212A) are NFC singletons that editors silently replace, which would turn the range empty.
_DEEPSEEK_LLM = (
    "[\\r\\n]",
    "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝ"
    "\u1f5f-\u1f7dᾀ-ᾴᾶ-ᾼ\u1fbeῂ-ῄῆ-ῌ\u1fd0-\u1fd3\u1fd6-\u1fdbῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝ\u2124\u2126\u2128"
    "\u212a-\u212dℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻"
    "𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
    "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
    "\\s+$",
    "[一-龥ࠀ-一가-퟿]+",
    "\\p{N}+",
)

# pre-type -> the regexes llama.cpp splits with
GGUF_PRE_RULES: dict[str, tuple[str, ...]] = {
    "GPT2": (_GPT2,),
    "STARCODER": (r"\p{N}", _GPT2),
    "LLAMA3": (LLAMA3_PATTERN,),
    "QWEN2": (_QWEN2,),
    "QWEN35": (_QWEN35,),
    "FALCON": (r"[\p{P}\$\+<=>\^~\|`]+", _GPT2, r"[0-9][0-9][0-9]"),
    "DEEPSEEK_CODER": ("[\r\n]", r"\s?\p{L}+", r"\s?\p{P}+", "[一-龥ࠀ-一가-퟿]+", r"\p{N}"),
    "DEEPSEEK_LLM": _DEEPSEEK_LLM,
    "DEEPSEEK3_LLM": (
        r"\p{N}{1,3}",
        _CJK,
        _PUNCT_WORDS + r"| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    ),
    "SPARK2_5": (
        r"\p{N}{1,3}",
        _CJK,
        _PUNCT_WORDS + r"| ?[\p{P}\p{S}]+|[\r\n]|\s+(?!\S)|\s+",
        r"\p{N}",
    ),
    "YOUTU": ("[가-힣ㄱ-ㆎ]+|[！…“”‘’—：；，、-〿︰-﹏]+|[ㄅ-ㄯ]+|[一-龥぀-ゟ゠-ヿ]+", _YOUTU),
    "PORO": (_POROISH,),
    "VIKING": (_POROISH, r"\p{N}"),
    "TEKKEN": (_TEKKEN,),
    "GPT4O": (_GPT4O,),
    "TINY_AYA": (r"\d{1,3}(?=(?:\d{3})*\b)", _GPT4O),
    "CHAMELEON": (
        r"<sentinel:[0-9]+>",
        r"(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z",
        r"([\t\n]|    |  )",
        r"\p{N}",
        r"[\p{P}!-/:-@\[-`{-~]",
        _GPT2,
    ),
    "SEED_CODER": (
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+"
        r"|\s+(?!\S)|\s+",
    ),
    "BAILINGMOE": (
        r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]"
        r"|\s+(?!\S)|\s+",
    ),
    "UFAKZEKA": (r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",),
    "EXAONE_MOE": (
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}"
        r"| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+",
    ),
    "LAGUNA": (r"[^\n]+|[\n]+", _QWEN2),
    "MINICPM5": (
        r"\p{N}{1,3}",
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
        r"|\s+(?!\S)|\s+",
    ),
    "JAIS2": (
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
        r"|\s*[\r\n]+|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)"
        r"|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1}",
    ),
}
# `tokenizer.ggml.pre` name -> pre-type, as `llama_vocab::impl::load` reads it
GGUF_PRE_TYPES: dict[str, str] = {
    **dict.fromkeys(
        ["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"]
        + ["jina-v5-nano", "dbrx", "smaug-bpe", "glm4", "chatglm-bpe"],
        "LLAMA3",
    ),
    **dict.fromkeys(
        ["gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum"]
        + ["modern-bert", "jina-v1-en", "jina-v2-code", "roberta-bpe", "exaone4", "mpt", "olmo", "jais"]
        + ["trillion", "granite-docling"],
        "GPT2",
    ),
    **dict.fromkeys(
        ["starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2"],
        "STARCODER",
    ),
    **dict.fromkeys(
        ["qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan", "solar-open"],
        "QWEN2",
    ),
    **dict.fromkeys(["deepseek-v3", "hunyuan-dense", "joyai-llm", "hy_v4"], "DEEPSEEK3_LLM"),
    **dict.fromkeys(["poro-chat", "bloom", "gpt3-finnish"], "PORO"),
    **dict.fromkeys(["gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"], "GPT4O"),
    **dict.fromkeys(["tiny_aya", "cohere2moe"], "TINY_AYA"),
    **dict.fromkeys(["bailingmoe", "bailingmoe2", "llada-moe"], "BAILINGMOE"),
    "qwen35": "QWEN35",
    "falcon": "FALCON",
    "deepseek-coder": "DEEPSEEK_CODER",
    "deepseek-llm": "DEEPSEEK_LLM",
    "spark2_5": "SPARK2_5",
    "youtu": "YOUTU",
    "viking": "VIKING",
    "tekken": "TEKKEN",
    "chameleon": "CHAMELEON",
    "seed-coder": "SEED_CODER",
    "ufakzeka": "UFAKZEKA",
    "exaone-moe": "EXAONE_MOE",
    "laguna": "LAGUNA",
    "minicpm5": "MINICPM5",
    "jais-2": "JAIS2",
}
GGUF_PRE_UNSUPPORTED: dict[str, str] = {
    "kimi-k2": "llama.cpp splits it with custom C++ code (unicode.cpp), not a regex",
    "afmoe": "llama.cpp splits its digits with custom C++ code (unicode.cpp), not a regex",
    "gemma4": "not byte-level BPE (raw UTF-8 with SentencePiece-style spaces)",
    "granite-embed-multi-311m": "not byte-level BPE (raw UTF-8 with SentencePiece-style spaces)",
    "sarvam-moe": "not byte-level BPE (raw UTF-8 with SentencePiece-style spaces)",
    "whitespace": "not byte-level BPE (whitespace words, raw UTF-8)",
    "superbpe": "llama.cpp's rule needs a zero-width split that HF tokenizers does not reproduce",
    "granite-embed-multi-97m": "llama.cpp approximates its rule with engine-specific lookaheads",
    "default": "llama.cpp's fallback for a file that names no rule, not the model's own rule",
}
"""Names llama.cpp knows whose rule taoke does not rebuild, with the reason (reported, not guessed)."""
GGUF_PRE_PATTERNS: dict[str, tuple[str, ...]] = {n: GGUF_PRE_RULES[t] for n, t in GGUF_PRE_TYPES.items()}
"""``tokenizer.ggml.pre`` name -> the regexes its text is split with before BPE merges."""


@dataclass
class Encoder:
    """A data-only encoder: ``encode(text) -> ids`` plus how it was built (for honest reporting)."""

    encode: Callable[[str], list[int]]
    how: str


class EncoderUnavailable(Exception):
    """No faithful encoder can be built from data alone; the message says why (reported, not raised)."""


def _from_tokenizer_json(path: Path) -> Encoder:
    from tokenizers import Tokenizer

    data = path.read_bytes()  # size already bounded when the view was loaded
    tok = Tokenizer.from_str(data.decode("utf-8"))
    return Encoder(lambda t: tok.encode(t, add_special_tokens=False).ids, "tokenizers (tokenizer.json)")


def _spm_encoder(model_bytes: bytes, how: str) -> Encoder:
    import sentencepiece as spm

    proc = spm.SentencePieceProcessor(model_proto=model_bytes)
    return Encoder(lambda t: list(proc.encode(t)), how)


def _from_tiktoken(view: TokenizerView, pattern: str) -> Encoder:
    import tiktoken

    ranks = {tok: i for i, tok in enumerate(view.tokens) if view.token_class[i] == 0}
    enc = tiktoken.Encoding(
        name=f"taoke-{view.name}", pat_str=pattern, mergeable_ranks=ranks, special_tokens={}
    )
    return Encoder(
        lambda t: enc.encode(t, disallowed_special=()), "tiktoken (rank file, pattern assumed: LLaMA-3)"
    )


def gguf_spm_proto(path: Path) -> Any:
    """A SentencePiece ModelProto assembled from GGUF pieces, scores and types (llama.cpp's 'llama' vocab).

    llama.cpp's SPM tokenizer is SentencePiece BPE over these pieces with scores as merge priorities,
    a dummy-prefix space and byte fallback; the same data in a ModelProto make ``sentencepiece`` split
    text exactly as llama.cpp's test vectors expect (tests/test_tokenizer_behaviour.py).
    """
    from sentencepiece import sentencepiece_model_pb2 as spm_pb2

    from taoke.tokenizers.gguf_vocab import read_tokenizer_kv

    kv = read_tokenizer_kv(path, current_limits())
    tokens, scores, types = (kv.get(f"tokenizer.ggml.{k}") for k in ("tokens", "scores", "token_type"))
    if tokens is None or scores is None or types is None:
        raise EncoderUnavailable("GGUF SentencePiece vocabulary without tokens, scores or token types")
    proto = spm_pb2.ModelProto()
    unk_id = int(kv.get("tokenizer.ggml.unknown_token_id", 0))
    has_bytes = False
    for i, (tok, score, typ) in enumerate(zip(tokens, scores, types, strict=True)):
        piece = proto.pieces.add()
        piece.piece = tok.decode("utf-8", "replace")
        piece.score = float(score)
        piece.type = int(typ) if int(typ) in (1, 2, 3, 4, 5, 6) else 1
        if piece.type == 2 and i != unk_id:
            piece.type = 5  # converter padding typed UNKNOWN ([PAD32011] in Phi-3): SentencePiece allows one
        has_bytes |= piece.type == 6
    ts = proto.trainer_spec
    ts.model_type = spm_pb2.TrainerSpec.BPE
    ts.vocab_size = len(tokens)
    ts.byte_fallback = has_bytes
    ts.unk_id = unk_id
    ts.bos_id = int(kv.get("tokenizer.ggml.bos_token_id", -1))
    ts.eos_id = int(kv.get("tokenizer.ggml.eos_token_id", -1))
    ts.pad_id = -1
    ns = proto.normalizer_spec
    ns.name = "identity"
    ns.add_dummy_prefix = bool(kv.get("tokenizer.ggml.add_space_prefix", True))
    ns.remove_extra_whitespaces = False
    ns.escape_whitespaces = True
    return proto


def _gguf_spm(path: Path) -> Encoder:
    proto = gguf_spm_proto(path)
    try:
        return _spm_encoder(proto.SerializeToString(), "sentencepiece (assembled from GGUF metadata)")
    except (RuntimeError, ValueError) as exc:
        raise EncoderUnavailable(f"GGUF pieces do not form a valid SentencePiece model: {exc}") from None


def _gguf_bpe(path: Path, pre: str) -> Encoder:
    """An HF byte-level BPE model assembled from GGUF tokens and merges, split by llama.cpp's pre rules."""
    tok = gguf_bpe_tokenizer(path, pre)
    return Encoder(
        lambda t: tok.encode(t, add_special_tokens=False).ids,
        f"tokenizers BPE assembled from GGUF metadata (pre {pre!r})",
    )


def gguf_bpe_tokenizer(path: Path, pre: str) -> Any:
    """A ``tokenizers.Tokenizer`` (byte-level BPE) assembled from a GGUF's tokens, merges and token types,
    split by llama.cpp's rule for ``pre``; :class:`EncoderUnavailable` when that rule is unknown."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

    from taoke.tokenizers.gguf_vocab import read_tokenizer_kv

    patterns = GGUF_PRE_PATTERNS.get(pre)
    if patterns is None:
        why = GGUF_PRE_UNSUPPORTED.get(pre, "not a name llama.cpp knew at the commit the table follows")
        raise EncoderUnavailable(f"GGUF pre-tokenizer {pre!r} has no splitting rule in taoke's table ({why})")
    kv = read_tokenizer_kv(path, current_limits())
    tokens = [t.decode("utf-8", "surrogateescape") for t in kv["tokenizer.ggml.tokens"]]
    types = kv.get("tokenizer.ggml.token_type")
    merges_raw = kv.get("tokenizer.ggml.merges") or []
    merges = []
    for m in merges_raw:
        a, _, b = m.decode("utf-8", "surrogateescape").partition(" ")
        merges.append((a, b))
    vocab: dict[str, int] = {}
    for i, t in enumerate(tokens):
        vocab.setdefault(t, i)
    # LLaMA-3's tokenizer.json sets ignore_merges: a pre-token that is itself in the vocabulary is one token.
    model = models.BPE(
        vocab=vocab, merges=merges, fuse_unk=False, ignore_merges=pre in ("llama-bpe", "llama3")
    )
    tok = Tokenizer(model)
    steps = [pre_tokenizers.Split(Regex(p), behavior="isolated") for p in patterns]
    steps.append(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence(steps)
    tok.decoder = decoders.ByteLevel()
    if types is not None:
        # Control tokens are matched whole; user-defined ones (NeoX's runs of spaces) too, before splitting.
        tok.add_special_tokens(
            [
                AddedToken(tokens[i], special=True, normalized=False)
                for i in range(len(tokens))
                if int(types[i]) == 3
            ]
        )
        tok.add_tokens(
            [
                AddedToken(tokens[i], special=False, normalized=False)
                for i in range(len(tokens))
                if int(types[i]) == 4 and not is_padding(tokens[i])
            ]
        )
    return tok


def _gguf_wordpiece(path: Path) -> Encoder:
    """An HF WordPiece model (BERT normalizer, lower-cased) from a GGUF 'bert' vocabulary."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    from taoke.tokenizers.gguf_vocab import read_tokenizer_kv

    kv = read_tokenizer_kv(path, current_limits())
    from taoke.tokenizers.loaders import _gguf_wordpiece_token

    tokens = [_gguf_wordpiece_token(t.decode("utf-8", "replace")) for t in kv["tokenizer.ggml.tokens"]]
    unk_id = int(kv.get("tokenizer.ggml.unknown_token_id", 100))
    vocab: dict[str, int] = {}
    for i, t in enumerate(tokens):
        vocab.setdefault(t, i)
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token=tokens[unk_id], max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return Encoder(
        lambda t: tok.encode(t, add_special_tokens=False).ids,
        "tokenizers WordPiece assembled from GGUF metadata (lower-cased BERT normalizer)",
    )


def is_library_fault(exc: BaseException) -> bool:
    """Whether ``exc`` is a tokenizer library refusing its data: any ``Exception``, and pyo3's
    ``PanicException`` (a Rust panic in ``tokenizers``), which derives from ``BaseException`` so that
    ``except Exception`` misses it and it ends the CLI with a traceback."""
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


def guarded(enc: Encoder, path: Path | str | None) -> Encoder:
    """``enc`` whose ``encode`` turns a library fault (a panic included) into a one-line
    :class:`~taoke.errors.CorruptFile` naming ``path``: a tokenizer that loads may still panic on the
    first text it encodes."""
    inner = enc.encode

    def encode(text: str) -> list[int]:
        try:
            return inner(text)
        except BaseException as exc:
            if not is_library_fault(exc):
                raise
            first = str(exc).splitlines()[0][:120] if str(exc) else ""
            raise CorruptFile(
                f"tokenizer library failed to encode: {type(exc).__name__}: {first}", path
            ) from None

    return Encoder(encode, enc.how)


def make_encoder(view: TokenizerView, tiktoken_pattern: str | None = None) -> Encoder:
    """Build a data-only encoder for ``view``; raises :class:`EncoderUnavailable` with the reason. The
    encoder's faults while encoding are one-line errors (:func:`guarded`)."""
    if not view.source_files:
        raise EncoderUnavailable("no source file to build an encoder from")
    path = view.source_files[0]
    return guarded(_make_encoder(view, path, tiktoken_pattern), path)


def _make_encoder(view: TokenizerView, path: Path, tiktoken_pattern: str | None) -> Encoder:
    try:
        if view.container == "tokenizer.json":
            return _from_tokenizer_json(path)
        if view.container == "sentencepiece":
            return _spm_encoder(path.read_bytes(), "sentencepiece (.model)")
        if view.container == "tiktoken":
            return _from_tiktoken(view, tiktoken_pattern or LLAMA3_PATTERN)
        if view.container == "gguf":
            model = view.extra.get("ggml_model")
            if model == "llama":
                return _gguf_spm(path)
            if model == "gpt2":
                return _gguf_bpe(path, str(view.extra.get("ggml_pre", "default")))
            if model == "bert":
                return _gguf_wordpiece(path)
            raise EncoderUnavailable(f"GGUF tokenizer model {model!r}: no data-only encoder")
    except EncoderUnavailable:
        raise
    except BaseException as exc:  # a library refusing the data (a panic too) is a finding, not a crash
        if not is_library_fault(exc):
            raise
        raise EncoderUnavailable(
            f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
        ) from None
    raise EncoderUnavailable(f"no data-only encoder for container {view.container!r}")


@dataclass
class Segmentation:
    """How one tokenizer split :data:`SAMPLE_TEXTS`: ids, pieces and the two hashes."""

    ids: list[list[int]]
    pieces: list[list[bytes]]
    id_hash: str  # llama.cpp chkhsh idea: sha256 of the id sequences
    piece_hash: str  # container/shift independent: sha256 of the piece byte strings
    how: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "how": self.how,
            "id_hash": self.id_hash[:16],
            "piece_hash": self.piece_hash[:16],
            "n_tokens": sum(len(x) for x in self.ids),
        }


def segment(
    view: TokenizerView, texts: tuple[str, ...] = SAMPLE_TEXTS, encoder: Encoder | None = None
) -> Segmentation:
    """Encode ``texts`` with ``view``'s data-only encoder; raises :class:`EncoderUnavailable`."""
    enc = encoder or make_encoder(view)
    ids = [enc.encode(t) for t in texts]
    keys = view.keys
    pieces = [[(keys[i] or b"") if 0 <= i < len(keys) else b"?" for i in seq] for seq in ids]
    h_ids = hashlib.sha256(repr(ids).encode()).hexdigest()
    hp = hashlib.sha256()
    for seq in pieces:
        for p in seq:
            hp.update(len(p).to_bytes(4, "little") + p)
        hp.update(b"\xff\xff\xff\xff")
    return Segmentation(ids, pieces, h_ids, hp.hexdigest(), enc.how)
