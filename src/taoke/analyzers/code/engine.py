"""The winnowing engine: normalised token streams of Python source and their winnowed fingerprints.

Method: normalised token winnowing, the algorithm behind MOSS (Schleimer, Wilkerson & Aiken 2003,
"Winnowing: local algorithms for document fingerprinting", SIGMOD '03, doi:10.1145/872757.872770).
WHY this method: the Yi-34B case was a refactor of ``modeling_llama.py`` with classes renamed, norms
renamed (``input_layernorm`` -> ``ln1``), comments dropped and code reformatted. Text diff sees a new
file; after Python's own ``tokenize`` turns every identifier into ``ID`` and every literal into ``LIT``
and drops comments, docstrings and layout, the token stream of the refactor is the token stream of the
original. Hashing every k-gram of that stream and keeping, in each window of w consecutive hashes, the
minimum (rightmost on ties) gives the paper's guarantee: any shared run of at least ``w + k - 1`` tokens
shares at least one fingerprint, while noise shorter than ``k`` tokens never matches. (The paper's
Figure 5 code has known bugs, see the first author's errata page; this implementation follows the
definition in §3, not that figure.)

Text only: a release's ``*.py`` files are untrusted input and are never imported.
"""

from __future__ import annotations

import io
import keyword
import re
import tokenize
import zlib
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

K = 12  # tokens per k-gram (JPlag's default minimum match length is 9-12 tokens for Python)
W = 8  # winnowing window: shared runs of >= W + K - 1 = 19 tokens are always detected

_LIT_TYPES = {tokenize.STRING, tokenize.NUMBER}
_DROP_TYPES = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
for _name in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END"):  # Python >= 3.12 tokenizes f-strings
    if hasattr(tokenize, _name):
        _LIT_TYPES.add(getattr(tokenize, _name))
_FALLBACK_RE = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|#[^\n]*|\S")


@dataclass
class Tokens:
    """A normalised token stream with the source line of each token (for side-by-side spans)."""

    norm: list[str]
    lines: list[int]
    names: list[str]  # the raw identifiers, in order (for tie-breaking among near-identical references)
    tolerant: bool = False  # True when Python's tokenizer failed and the regex lexer was used


def normalise(text: str) -> Tokens:
    """Python tokens with identifiers -> ``ID``, literals -> ``LIT``; comments, docstrings and layout
    (NL, blank lines) dropped; keywords, operators and INDENT/DEDENT/NEWLINE kept.

    WHY keep keywords and operators: they are the control structure a renamer cannot change without
    changing behaviour. WHY drop docstrings: the Yi-style refactor deletes them, and they are prose,
    not code."""
    norm: list[str] = []
    lines: list[int] = []
    names: list[str] = []
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError, ValueError):
        return _normalise_tolerant(text)
    prev_type = tokenize.NEWLINE
    skip_newline = False
    n = len(toks)
    for i, tok in enumerate(toks):
        ttype = tok.type
        if ttype in _DROP_TYPES:
            continue
        if ttype == tokenize.STRING and prev_type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            nxt = toks[i + 1].type if i + 1 < n else tokenize.NEWLINE
            if nxt in (tokenize.NEWLINE, tokenize.ENDMARKER, tokenize.COMMENT, tokenize.NL):
                skip_newline = True  # a docstring / bare string statement: prose, not code
                continue
        if ttype == tokenize.NEWLINE and skip_newline:
            skip_newline = False
            prev_type = ttype
            continue
        skip_newline = False
        if ttype == tokenize.NAME:
            if keyword.iskeyword(tok.string):
                label = tok.string
            else:
                label = "ID"
                names.append(tok.string)
        elif ttype in _LIT_TYPES:
            if norm and norm[-1] == "LIT":  # implicit concatenation / f-string parts: one literal
                prev_type = ttype
                continue
            label = "LIT"
        elif ttype == tokenize.NEWLINE:
            label = ";"
        elif ttype == tokenize.INDENT:
            label = "{"
        elif ttype == tokenize.DEDENT:
            label = "}"
        else:
            label = tok.string
        norm.append(label)
        lines.append(tok.start[0])
        prev_type = ttype
    return Tokens(norm, lines, names)


def _normalise_tolerant(text: str) -> Tokens:
    """Regex lexer for text that Python cannot tokenize (truncated files, mixed junk): still
    comparable, flagged as tolerant so the report says so."""
    norm: list[str] = []
    lines: list[int] = []
    names: list[str] = []
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    for m in _FALLBACK_RE.finditer(text):
        s = m.group(0)
        if s.startswith("#"):
            continue
        line = int(np.searchsorted(line_starts, m.start(), side="right"))
        if s[0].isalpha() or s[0] == "_":
            if keyword.iskeyword(s):
                label = s
            else:
                label = "ID"
                names.append(s)
        elif s[0].isdigit() or s[0] in "\"'":
            label = "LIT"
        else:
            label = s
        norm.append(label)
        lines.append(line)
    return Tokens(norm, lines, names, tolerant=True)


_TOKEN_IDS: dict[str, int] = {}


def _token_id(label: str) -> int:
    tid = _TOKEN_IDS.get(label)
    if tid is None:
        tid = zlib.crc32(label.encode("utf-8")) | 1
        _TOKEN_IDS[label] = tid
    return tid


def kgram_hashes(norm: list[str], k: int = K) -> np.ndarray:
    """64-bit polynomial hash of every k-gram of the normalised stream (stable across processes,
    unlike Python's salted ``hash``)."""
    if len(norm) < k:
        return np.zeros(0, dtype=np.uint64)
    ids = np.fromiter((_token_id(t) for t in norm), dtype=np.uint64, count=len(norm))
    base = np.uint64(1099511628211)  # FNV prime: odd, so multiplication mod 2^64 is a bijection
    h = np.zeros(len(norm) - k + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            h = h * base + ids[j : j + len(h)]
    return h


def winnow(hashes: np.ndarray, w: int = W) -> np.ndarray:
    """Positions selected by winnowing (Schleimer et al. 2003, §3): in every window of w consecutive
    k-gram hashes keep the minimum, the rightmost one on ties, each position once."""
    n = len(hashes)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n <= w:
        rev = hashes[::-1]
        return np.array([n - 1 - int(np.argmin(rev))], dtype=np.int64)
    win = np.lib.stride_tricks.sliding_window_view(hashes, w)
    rightmost = w - 1 - np.argmin(win[:, ::-1], axis=1)  # argmin returns the first minimum
    pos = np.arange(len(win)) + rightmost
    return np.unique(pos)


@dataclass
class Fingerprints:
    """Winnowed fingerprints of one file: hash, and the source line range of the k-gram it stands for."""

    hashes: np.ndarray  # uint64
    line_start: np.ndarray  # int32
    line_end: np.ndarray  # int32
    n_tokens: int
    tolerant: bool = False


def fingerprint(text: str, k: int = K, w: int = W) -> tuple[Fingerprints, Tokens]:
    """Winnowed fingerprints of one source text, with the normalised tokens they were taken from."""
    toks = normalise(text)
    h = kgram_hashes(toks.norm, k)
    pos = winnow(h, w)
    lines = np.asarray(toks.lines, dtype=np.int32)
    if len(pos):
        fp = Fingerprints(h[pos], lines[pos], lines[pos + k - 1], len(toks.norm), toks.tolerant)
    else:
        fp = Fingerprints(
            np.zeros(0, np.uint64),
            np.zeros(0, np.int32),
            np.zeros(0, np.int32),
            len(toks.norm),
            toks.tolerant,
        )
    return fp, toks


# The identifiers normalisation throws away still tell near-identical references apart (the many
# files generated from modeling_llama.py share its token stream): keep them as a bag.
_FAMILY_PREFIX = re.compile(
    r"^[A-Z][A-Za-z0-9]*?(?=(?:For|Model|Attention|MLP|Decoder|Encoder|RMSNorm|"
    r"LayerNorm|Rotary|PreTrained|Config|Layer|Block|Embedding|Output)\w*$)"
)


def _strip_family(name: str) -> str:
    """``LlamaAttention`` -> ``Attention``: so that a renamed copy (``YiAttention``) still matches on
    the identifiers it kept, while ``input_layernorm`` stays distinctive."""
    return _FAMILY_PREFIX.sub("", name)


def model_stem(path: str, names: list[str] | None = None) -> str:
    """The model-name stem of a modeling file, lower-cased without separators: ``qwen2_moe`` for
    ``qwen2_moe/modeling_qwen2_moe.py``; for a file not named ``modeling_*.py`` (a release's own
    ``yi.py``), the most common family prefix of its classes (``Yi`` of ``YiAttention``), if any.

    WHY: a copy renames its parent's identifiers by swapping the stem (transformers' own
    ``# Copied from ... with Llama->Qwen2``, Yi's ``LlamaAttention`` -> ``YiAttention``); removing the
    stem makes the kept identifiers (``Attention``, ``_INPUTS_DOCSTRING``, ``input_layernorm``) compare."""
    base = path.rsplit("/", 1)[-1]
    if base.startswith(("modeling_", "modular_")) and base.endswith(".py"):
        return re.sub(r"[^a-z0-9]", "", base.split("_", 1)[1][:-3].lower())
    counts: dict[str, int] = defaultdict(int)
    for n in names or []:
        m = _FAMILY_PREFIX.match(n)
        if m and m.group(0):
            counts[m.group(0).lower()] += 1
    return max(counts, key=lambda k: counts[k]) if counts else ""


def _strip_stem(name: str, stem: str) -> str:
    """Remove the model-name stem from an identifier, whatever its case or separators
    (``Qwen2MoeAttention``, ``QWEN2_MOE_INPUTS``, ``qwen2_moe_forward`` with stem ``qwen2moe``)."""
    if not stem or len(stem) < 2:
        return name
    flat = re.sub(r"_", "", name.lower())
    i = flat.find(stem)
    if i < 0:
        return name
    # map the flat span back to the raw identifier (skipping underscores)
    raw_idx = [j for j, ch in enumerate(name) if ch != "_"]
    a, b = raw_idx[i], raw_idx[i + len(stem) - 1] + 1
    return (name[:a] + name[b:]) or name


def name_bag(names: list[str], stem: str = "") -> dict[str, int]:
    """Identifier -> count, the file's model-name stem (see :func:`model_stem`) and family prefixes
    stripped (see :func:`_strip_family`)."""
    bag: dict[str, int] = defaultdict(int)
    for n in names:
        bag[_strip_family(_strip_stem(n, stem))] += 1
    return dict(bag)
