"""Code lineage: does a release's custom modeling code copy a reference implementation?

A release's ``*.py`` files are read as TEXT (never imported: a release is untrusted input) and
compared with every ``transformers/models/*/modeling_*.py`` of the installed ``transformers``.

Method: normalised token winnowing, the algorithm behind MOSS (Schleimer, Wilkerson & Aiken 2003,
"Winnowing: local algorithms for document fingerprinting", SIGMOD '03,
doi:10.1145/872757.872770). WHY this method: the Yi-34B case was a refactor of ``modeling_llama.py``
with classes renamed, norms renamed (``input_layernorm`` -> ``ln1``), comments dropped and code
reformatted. Text diff sees a new file; after Python's own ``tokenize`` turns every identifier into
``ID`` and every literal into ``LIT`` and drops comments, docstrings and layout, the token stream of the
refactor is the token stream of the original. Hashing every k-gram of that stream and keeping, in each
window of w consecutive hashes, the minimum (rightmost on ties) gives the paper's guarantee: any shared
run of at least ``w + k - 1`` tokens shares at least one fingerprint, while noise shorter than ``k``
tokens never matches. (The paper's Figure 5 code has known bugs, see the first author's errata page;
this implementation follows the definition in §3, not that figure.)

Similarity is containment both ways: |F(S) ∩ F(R)| / |F(S)| (how much of the suspect is the
reference) and / |F(R)| (how much of the reference was taken). The reference index is built once per
installed ``transformers`` version and cached (``~/.cache/taoke/code-index/``, override with
``TAOKE_CACHE_DIR``); building it tokenizes ~540 files (measured in ``bench/code_lineage.py``).
"""

from __future__ import annotations

import ast
import io
import json
import keyword
import os
import re
import shutil
import tokenize
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from taoke.evidence import Evidence
from taoke.limits import Limits, current_limits

K = 12  # tokens per k-gram (JPlag's default minimum match length is 9-12 tokens for Python)
W = 8  # winnowing window: shared runs of >= W + K - 1 = 19 tokens are always detected
INDEX_VERSION = 4  # bump when normalisation or hashing changes (invalidates caches)
# A reference file is a parent when, after greedy attribution (see `attribute`), it explains at least
# MIN_SHARED fingerprints nobody better-ranked explained AND either holds MIN_CONTAINMENT of the suspect
# or covers MIN_BLOCK_COVER of one of its own top-level classes/functions (>= MIN_BLOCK_FPS matched).
# Chosen by a sweep on transformers' own ground truth (bench/code_lineage.py; best F1 of 30 settings,
# so the published figures are in-sample for these three numbers).
MIN_SHARED = 12
MIN_BLOCK_COVER = 0.9
MIN_BLOCK_FPS = 4
MIN_CONTAINMENT = 0.5
MAX_CANDIDATES = 300  # references considered per file (by shared fingerprints)
TIE = 0.9  # references explaining >= 90% of the best one's fingerprints are tied; the oldest wins

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


# --------------------------------------------------------------------------- licence header


_COPYRIGHT_RE = re.compile(r"copyright\s*(?:\(c\)|©)?\s*(\d{4}(?:\s*[-,]\s*\d{4})*)?\s*(.+)", re.I)


def header_notice(text: str, max_lines: int = 40) -> dict[str, Any]:
    """The licence header of a file: copyright lines and licence statements in its leading comments.

    WHY only leading comments: Apache-2.0 §4(c) asks to retain the notices of the Work; in
    transformers they are the comment block at the top of each file."""
    copyright_lines: list[str] = []
    licence: str | None = None
    for line in text.splitlines()[:max_lines]:
        s = line.strip()
        if not s:
            continue
        if not s.startswith("#"):
            if not s.startswith(('"""', "'''")):
                break
        body = s.lstrip("#").strip()
        if _COPYRIGHT_RE.search(body) and "copyright" in body.lower():
            copyright_lines.append(body)
        low = body.lower()
        if "apache license" in low:
            licence = "Apache-2.0"
        elif "mit license" in low and licence is None:
            licence = "MIT"
    return {"copyright": copyright_lines, "licence": licence}


def _holders(copyright_lines: list[str]) -> list[str]:
    out: list[str] = []
    for c in copyright_lines:
        m = _COPYRIGHT_RE.search(c)
        if m:
            holder = re.sub(r"all rights reserved\.?", "", m.group(2), flags=re.I).strip(" .,")
            if holder:
                out.append(holder)
    return out


# --------------------------------------------------------------------------- reference index


def transformers_models_dir() -> tuple[Path, str] | None:
    """The installed transformers' ``models/`` folder and version, found without importing it
    (importing transformers takes seconds and is not needed to read its source files)."""
    import importlib.metadata
    import importlib.util

    try:
        spec = importlib.util.find_spec("transformers")
        version = importlib.metadata.version("transformers")
    except (ImportError, ValueError, importlib.metadata.PackageNotFoundError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    models = Path(list(spec.submodule_search_locations)[0]) / "models"
    return (models, version) if models.is_dir() else None


def cache_dir() -> Path:
    base = os.environ.get("TAOKE_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    return (root / "taoke" if not os.environ.get("TAOKE_CACHE_DIR") else root) / "code-index"


@dataclass
class Block:
    """A top-level class or function of a reference file (what a suspect 'derives from')."""

    name: str
    kind: str
    start: int
    end: int


@dataclass
class RefFile:
    rel: str  # "llama/modeling_llama.py"
    n_fps: int
    n_tokens: int
    blocks: list[Block]
    header: dict[str, Any]
    names: dict[str, int]  # identifier -> count (family prefix stripped), for tie-breaking


@dataclass
class CodeIndex:
    """Inverted index of reference fingerprints: hash -> (file ids, line ranges)."""

    version: str
    root: Path
    files: list[RefFile]
    hashes: np.ndarray  # uint64, sorted
    file_ids: np.ndarray  # int32, aligned with hashes
    line_start: np.ndarray
    line_end: np.ndarray
    build_seconds: float = 0.0
    from_cache: bool = False

    def file_id(self, rel: str) -> int:
        if not hasattr(self, "_by_rel"):
            self._by_rel = {f.rel: i for i, f in enumerate(self.files)}
        return self._by_rel[rel]

    def file_starts(self, fid: int) -> np.ndarray:
        """Sorted k-gram start lines of every fingerprint of one reference file."""
        if not hasattr(self, "_starts"):
            order = np.argsort(self.file_ids, kind="stable")
            bounds = np.searchsorted(self.file_ids[order], np.arange(len(self.files) + 1))
            starts = self.line_start[order]
            self._starts = [np.sort(starts[bounds[i] : bounds[i + 1]]) for i in range(len(self.files))]
        return self._starts[fid]

    def lookup(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each query hash, the slice [lo, hi) of the index rows with that hash."""
        lo = np.searchsorted(self.hashes, hashes, side="left")
        hi = np.searchsorted(self.hashes, hashes, side="right")
        return lo, hi


_FAMILY_PREFIX = re.compile(
    r"^[A-Z][A-Za-z0-9]*?(?=(?:For|Model|Attention|MLP|Decoder|Encoder|RMSNorm|"
    r"LayerNorm|Rotary|PreTrained|Config|Layer|Block|Embedding|Output)\w*$)"
)


def _strip_family(name: str) -> str:
    """``LlamaAttention`` -> ``Attention``: so that a renamed copy (``YiAttention``) still matches on
    the identifiers it kept, while ``input_layernorm`` stays distinctive."""
    return _FAMILY_PREFIX.sub("", name)


def _name_bag(names: list[str]) -> dict[str, int]:
    bag: dict[str, int] = defaultdict(int)
    for n in names:
        bag[_strip_family(n)] += 1
    return dict(bag)


def _blocks(text: str) -> list[Block]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    out = []
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            out.append(
                Block(
                    node.name,
                    "class" if isinstance(node, ast.ClassDef) else "function",
                    start,
                    node.end_lineno or node.lineno,
                )
            )
    return out


def _reference_files(models: Path) -> list[Path]:
    return sorted(models.glob("*/modeling_*.py"))


def build_index(models: Path, version: str, files: list[Path] | None = None) -> CodeIndex:
    """Tokenize and winnow every reference file. Slow part of the first audit; cached afterwards."""
    import time

    t0 = time.perf_counter()
    refs: list[RefFile] = []
    all_h, all_f, all_s, all_e = [], [], [], []
    for path in files if files is not None else _reference_files(models):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        fp, toks = fingerprint(text)
        fid = len(refs)
        refs.append(
            RefFile(
                path.relative_to(models).as_posix(),
                len(fp.hashes),
                fp.n_tokens,
                _blocks(text),
                header_notice(text),
                _name_bag(toks.names),
            )
        )
        all_h.append(fp.hashes)
        all_f.append(np.full(len(fp.hashes), fid, dtype=np.int32))
        all_s.append(fp.line_start)
        all_e.append(fp.line_end)
    h = np.concatenate(all_h) if all_h else np.zeros(0, np.uint64)
    order = np.argsort(h, kind="stable")

    def cat(parts: list[np.ndarray], dt: Any) -> np.ndarray:
        return np.concatenate(parts)[order] if parts else np.zeros(0, dt)

    return CodeIndex(
        version,
        models,
        refs,
        h[order],
        cat(all_f, np.int32),
        cat(all_s, np.int32),
        cat(all_e, np.int32),
        build_seconds=time.perf_counter() - t0,
    )


def _save(index: CodeIndex, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".tmp-{os.getpid()}"
    tmp.mkdir(exist_ok=True)
    np.savez(
        tmp / "index.npz",
        hashes=index.hashes,
        file_ids=index.file_ids,
        line_start=index.line_start,
        line_end=index.line_end,
    )
    meta = {
        "version": index.version,
        "index_version": INDEX_VERSION,
        "root": str(index.root),
        "build_seconds": round(index.build_seconds, 3),
        "files": [
            {
                "rel": f.rel,
                "n_fps": f.n_fps,
                "n_tokens": f.n_tokens,
                "header": f.header,
                "names": f.names,
                "blocks": [[b.name, b.kind, b.start, b.end] for b in f.blocks],
            }
            for f in index.files
        ],
    }
    (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    for name in ("index.npz", "meta.json"):
        os.replace(tmp / name, folder / name)
    tmp.rmdir()


def _load(folder: Path, version: str, models: Path) -> CodeIndex | None:
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if (
            meta.get("version") != version
            or meta.get("index_version") != INDEX_VERSION
            or meta.get("root") != str(models)
        ):
            return None
        with np.load(folder / "index.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("hashes", "file_ids", "line_start", "line_end")}
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None
    files = [
        RefFile(
            f["rel"], f["n_fps"], f["n_tokens"], [Block(*b) for b in f["blocks"]], f["header"], f["names"]
        )
        for f in meta["files"]
    ]
    return CodeIndex(
        version,
        models,
        files,
        arrays["hashes"],
        arrays["file_ids"],
        arrays["line_start"],
        arrays["line_end"],
        build_seconds=float(meta.get("build_seconds") or 0.0),
        from_cache=True,
    )


_INDEX_MEMO: dict[str, CodeIndex] = {}


def reference_index() -> CodeIndex | None:
    """The index of the installed transformers (memoised, cached on disk by version); None when
    transformers is not installed."""
    found = transformers_models_dir()
    if found is None:
        return None
    models, version = found
    key = f"{version}:{models}"
    if key in _INDEX_MEMO:
        return _INDEX_MEMO[key]
    folder = cache_dir() / f"transformers-{version}-v{INDEX_VERSION}"
    index = _load(folder, version, models)
    if index is None:
        index = build_index(models, version)
        try:
            _save(index, folder)
            for stale in folder.parent.glob(f"transformers-{version}-v*"):
                if stale != folder and stale.is_dir():  # same transformers, older index format
                    shutil.rmtree(stale, ignore_errors=True)
        except OSError:
            pass  # a read-only cache dir costs speed, not correctness
    _INDEX_MEMO[key] = index
    return index


# --------------------------------------------------------------------------- matching


@dataclass
class Span:
    """One matched region, side by side: suspect lines and reference lines (1-based, inclusive)."""

    suspect_start: int
    suspect_end: int
    reference_start: int
    reference_end: int
    fingerprints: int
    suspect_text: str = ""
    reference_text: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RefMatch:
    reference: str  # "llama/modeling_llama.py"
    shared: int  # fingerprints shared
    containment_suspect: float  # |S ∩ R| / |S|
    containment_reference: float  # |S ∩ R| / |R|
    name_similarity: float
    blocks: list[dict[str, Any]] = field(default_factory=list)  # reference classes/functions covered
    parent: bool = False
    marginal: int = 0  # fingerprints this reference explains that better-ranked parents did not

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class FileLineage:
    """Code lineage of one release file."""

    path: str
    status: str  # "compared" | "skipped"
    reason: str | None = None
    n_tokens: int = 0
    n_fingerprints: int = 0
    tolerant: bool = False
    matches: list[RefMatch] = field(default_factory=list)
    best: RefMatch | None = None
    spans: list[Span] = field(default_factory=list)
    header: dict[str, Any] = field(default_factory=dict)
    reference_header: dict[str, Any] = field(default_factory=dict)
    notice_kept: str | None = None  # "kept" | "missing" | "partial" | None (no parent)

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k not in ("matches", "best", "spans")}
        d["matches"] = [m.to_dict() for m in self.matches]
        d["best"] = self.best.to_dict() if self.best else None
        d["spans"] = [s.to_dict() for s in self.spans]
        return d


@dataclass
class CodeLineageResult:
    files: list[FileLineage]
    reference: str | None  # "transformers 5.24.0"
    index_seconds: float = 0.0
    index_from_cache: bool = False
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def parents(self) -> list[str]:
        return sorted({m.reference for f in self.files for m in f.matches if m.parent})

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "index_seconds": round(self.index_seconds, 3),
            "index_from_cache": self.index_from_cache,
            "parents": self.parents,
            "files": [f.to_dict() for f in self.files],
            "evidence": [e.to_dict() for e in self.evidence],
        }


def _name_similarity(a: dict[str, int], b: dict[str, int]) -> float:
    """Weighted Jaccard of identifier bags (family prefixes stripped)."""
    if not a or not b:
        return 0.0
    keys = set(a) | set(b)
    num = sum(min(a.get(x, 0), b.get(x, 0)) for x in keys)
    den = sum(max(a.get(x, 0), b.get(x, 0)) for x in keys)
    return num / den if den else 0.0


def match_fingerprints(
    fp: Fingerprints, names: dict[str, int], index: CodeIndex, exclude: set[int] | None = None, top: int = 5
) -> list[tuple[RefMatch, np.ndarray]]:
    """Reference files sharing fingerprints with ``fp``, best first; with the index rows matched.

    Ranking: containment of the suspect in the reference, then (for near-identical references such as
    the many files generated from modeling_llama.py) similarity of the identifiers."""
    if len(fp.hashes) == 0:
        return []
    uniq = np.unique(fp.hashes)
    lo, hi = index.lookup(uniq)
    has = hi > lo
    if not has.any():
        return []
    rows = np.concatenate([np.arange(a, b) for a, b in zip(lo[has], hi[has], strict=True)])
    fids = index.file_ids[rows]
    # shared = number of distinct suspect hashes present in each reference file. The index was sorted
    # stably by hash from per-file arrays in file order, so equal (hash, file) rows are adjacent: one
    # linear pass drops the repeats, no sort needed.
    hash_idx = np.repeat(np.nonzero(has)[0], (hi - lo)[has])
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (hash_idx[1:] != hash_idx[:-1]) | (fids[1:] != fids[:-1])
    counts = np.bincount(fids[first], minlength=len(index.files))
    n_s = len(uniq)
    cands = []
    for fid in np.nonzero(counts)[0]:
        if exclude and int(fid) in exclude:
            continue
        ref = index.files[fid]
        shared = int(counts[fid])
        cands.append(RefMatch(ref.rel, shared, shared / n_s, shared / max(ref.n_fps, 1), 0.0))
    cands.sort(key=lambda m: m.shared, reverse=True)
    cands = [m for m in cands if m.shared >= MIN_SHARED][:MAX_CANDIDATES]
    for m in cands:
        m.name_similarity = _name_similarity(names, index.files[index.file_id(m.reference)].names)
    cands.sort(key=lambda m: (round(m.containment_suspect, 2), m.name_similarity, m.shared), reverse=True)
    return [(m, rows[fids == index.file_id(m.reference)]) for m in cands]


def _block_cover(ref: RefFile, index: CodeIndex, rows: np.ndarray) -> list[dict[str, Any]]:
    """Which top-level classes/functions of the reference the matched fingerprints fall in, and how
    much of each block's fingerprints were matched."""
    if not ref.blocks:
        return []
    if not len(rows):
        return []
    starts = index.line_start[rows]
    hashes = index.hashes[rows]
    all_starts = index.file_starts(int(index.file_ids[rows[0]]))
    out = []
    for b in ref.blocks:
        n_all = int(
            np.searchsorted(all_starts, b.end, "right") - np.searchsorted(all_starts, b.start, "left")
        )
        sel = (starts >= b.start) & (starts <= b.end)
        n_hit = int(len(np.unique(hashes[sel]))) if sel.any() else 0
        if n_hit:
            out.append(
                {
                    "name": b.name,
                    "kind": b.kind,
                    "lines": [b.start, b.end],
                    "matched": n_hit,
                    "fingerprints": n_all,
                    "cover": round(min(n_hit / max(n_all, 1), 1.0), 3),
                }
            )
    out.sort(key=lambda d: (d["cover"], d["matched"]), reverse=True)
    return out


def _year(ref: RefFile) -> int:
    """Earliest copyright year in a reference's header (9999 when none)."""
    years = [int(y) for c in ref.header.get("copyright", []) for y in re.findall(r"\b(19[89]\d|20\d\d)\b", c)]
    return min(years) if years else 9999


def attribute(ranked: list[tuple[RefMatch, np.ndarray]], index: CodeIndex) -> None:
    """Greedy source attribution (set cover): the reference explaining the most fingerprints takes
    them; each next reference is credited only with fingerprints not yet explained (``marginal``).

    WHY: a helper such as ``rotate_half`` exists verbatim in hundreds of files; crediting every one of
    them as a parent would drown the real source. Among references that explain nearly as much
    (within ``TIE``), the one with the oldest copyright year wins: code flows from older files to
    newer ones (the many generated copies of llama's classes are younger than modeling_llama.py),
    then the ranking order (containment, identifier similarity) decides."""
    if not ranked:
        return
    sets = [set(index.hashes[rows].tolist()) for _, rows in ranked]
    years = [_year(index.files[index.file_id(m.reference)]) for m, _ in ranked]
    remaining = set().union(*sets)
    order = list(range(len(ranked)))
    while order:
        gains = {i: len(sets[i] & remaining) for i in order}
        top = max(gains.values())
        if top < MIN_SHARED:  # nothing left that could make a parent
            break
        pool = [i for i in order if gains[i] >= TIE * top]
        pick = min(pool, key=lambda i: (years[i], i))
        gain = sets[pick] & remaining
        ranked[pick][0].marginal = len(gain)
        remaining -= gain
        order.remove(pick)
    # the best match is the first parent picked (the rest keep their ranking)
    ranked.sort(key=lambda mr: -mr[0].marginal if mr[0].marginal >= MIN_SHARED else 0)


def is_parent(m: RefMatch) -> bool:
    """The file-level lineage decision (validated by bench/code_lineage.py): the reference explains
    enough fingerprints that no better-ranked parent explained (greedy attribution, see
    :func:`attribute`), and either much of the suspect or most of one reference class/function."""
    if m.marginal < MIN_SHARED:
        return False
    if m.containment_suspect >= MIN_CONTAINMENT:
        return True
    return any(b["cover"] >= MIN_BLOCK_COVER and b["matched"] >= MIN_BLOCK_FPS for b in m.blocks)


def _spans(fp: Fingerprints, index: CodeIndex, rows: np.ndarray, gap: int = 4) -> list[Span]:
    """Chain matched fingerprints into side-by-side regions (suspect lines <-> reference lines)."""
    ref_by_hash: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for r in rows:
        ref_by_hash[int(index.hashes[r])].append((int(index.line_start[r]), int(index.line_end[r])))
    pairs = []
    for h, s0, s1 in zip(fp.hashes.tolist(), fp.line_start.tolist(), fp.line_end.tolist(), strict=True):
        for r0, r1 in ref_by_hash.get(int(h), ()):
            pairs.append((s0, s1, r0, r1))
    pairs.sort()
    spans: list[Span] = []
    for s0, s1, r0, r1 in pairs:
        if spans:
            cur = spans[-1]
            if s0 <= cur.suspect_end + gap and cur.reference_start - gap <= r0 <= cur.reference_end + gap:
                cur.suspect_end = max(cur.suspect_end, s1)
                cur.reference_end = max(cur.reference_end, r1)
                cur.reference_start = min(cur.reference_start, r0)
                cur.fingerprints += 1
                continue
        spans.append(Span(s0, s1, r0, r1, 1))
    return [s for s in spans if s.fingerprints >= 2]


def _excerpt(lines: list[str], start: int, end: int, max_lines: int) -> str:
    seg = lines[start - 1 : min(end, start - 1 + max_lines)]
    more = (end - start + 1) - len(seg)
    return "\n".join(seg) + (f"\n... ({more} more lines)" if more > 0 else "")


def _notice_status(suspect_header: dict[str, Any], suspect_text: str, ref_header: dict[str, Any]) -> str:
    """kept: the reference's licence statement and copyright holders are in the suspect's header;
    partial: one of the two; missing: neither (Apache-2.0 §4(c) asks to retain them)."""
    ref_holders = _holders(ref_header.get("copyright", []))
    head = "\n".join(suspect_text.splitlines()[:60]).lower()
    lic_ok = (
        ref_header.get("licence") is None
        or (ref_header["licence"] == "Apache-2.0" and "apache license" in head)
        or (ref_header["licence"] == "MIT" and "mit license" in head)
    )
    holder_ok = not ref_holders or any(
        any(word.lower() in head for word in re.findall(r"[A-Za-z]{4,}", h)[:2]) for h in ref_holders
    )
    if lic_ok and holder_ok:
        return "kept"
    if lic_ok or holder_ok:
        return "partial"
    return "missing"


def analyze_text(
    path: str,
    text: str,
    index: CodeIndex,
    exclude: set[int] | None = None,
    with_spans: bool = True,
    max_span_lines: int = 40,
) -> FileLineage:
    """Code lineage of one file's text against the index."""
    fp, toks = fingerprint(text)
    result = FileLineage(
        path,
        "compared",
        n_tokens=fp.n_tokens,
        n_fingerprints=len(fp.hashes),
        tolerant=fp.tolerant,
        header=header_notice(text),
    )
    names = _name_bag(toks.names)
    ranked = match_fingerprints(fp, names, index, exclude=exclude)
    attribute(ranked, index)
    for i, (m, rows) in enumerate(ranked):
        if i < 5 or m.marginal >= MIN_SHARED:
            ref = index.files[index.file_id(m.reference)]
            m.blocks = _block_cover(ref, index, rows)[:12]
            m.parent = is_parent(m)
    result.matches = [m for m, _ in ranked if m.shared >= MIN_SHARED or m.parent][:10]
    if ranked and ranked[0][0].parent:
        best, rows = ranked[0]
        result.best = best
        ref = index.files[index.file_id(best.reference)]
        result.reference_header = ref.header
        result.notice_kept = _notice_status(result.header, text, ref.header)
        if with_spans:
            spans = _spans(fp, index, rows)
            try:
                ref_lines = (index.root / best.reference).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                ref_lines = []
            sus_lines = text.splitlines()
            spans.sort(key=lambda s: s.fingerprints, reverse=True)
            for s in spans[:20]:
                s.suspect_text = _excerpt(sus_lines, s.suspect_start, s.suspect_end, max_span_lines)
                if ref_lines:
                    s.reference_text = _excerpt(ref_lines, s.reference_start, s.reference_end, max_span_lines)
            result.spans = sorted(spans[:20], key=lambda s: s.suspect_start)
    return result


# --------------------------------------------------------------------------- release entry point


def read_code_text(path: Path, limits: Limits) -> tuple[str | None, str | None]:
    """(text, None) or (None, one-line reason). Never raises on bad content: a release's junk .py is a
    finding, not a crash."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    if size > limits.max_text_bytes:
        return None, (
            f"is {size} bytes, over the {limits.max_text_bytes}-byte limit for text files "
            "(TAOKE_MAX_TEXT_BYTES); not compared"
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    if b"\x00" in raw[:65536]:
        return None, "contains NUL bytes: binary content in a .py file; not compared"
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        text = raw.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        return (
            None,
            f"is not decodable as Python source ({type(exc).__name__}: {str(exc).splitlines()[0][:80]})",
        )
    return text, None


def analyze_files(
    files: list[tuple[str, Path]], limits: Limits | None = None, index: CodeIndex | None = None
) -> CodeLineageResult:
    """Code lineage of a release's ``.py`` files (relative name, absolute path)."""
    limits = limits or current_limits()
    if index is None:
        index = reference_index()
    ev: list[Evidence] = []
    if index is None:
        ev.append(
            Evidence(
                "code",
                "code-reference-unavailable",
                "transformers is not installed: no reference implementations to compare code with",
                "info",
            )
        )
        return CodeLineageResult([], None, evidence=ev)
    out: list[FileLineage] = []
    for rel, path in files:
        text, reason = read_code_text(path, limits)
        if text is None:
            out.append(FileLineage(rel, "skipped", reason=reason))
            ev.append(Evidence("code", "code-unreadable", f"{rel} {reason}", "low", detail={"file": rel}))
            continue
        fl = analyze_text(rel, text, index)
        out.append(fl)
        if fl.tolerant:
            ev.append(
                Evidence(
                    "code",
                    "code-not-python",
                    f"{rel} is not valid Python; compared with a tolerant lexer",
                    "low",
                    detail={"file": rel},
                )
            )
        if fl.best is not None:
            b = fl.best
            blocks = ", ".join(x["name"] for x in b.blocks if x["cover"] >= MIN_BLOCK_COVER)[:300]
            ev.append(
                Evidence(
                    "code",
                    "code-derived",
                    f"{rel} derives from transformers {b.reference}: {b.containment_suspect:.0%} of its "
                    f"normalised code is in the reference ({b.containment_reference:.0%} of the reference); "
                    f"from {blocks or 'scattered fragments'}",
                    "medium",
                    statistic="containment (winnowed token 12-grams)",
                    value=round(b.containment_suspect, 4),
                    detail={
                        "file": rel,
                        "reference": b.reference,
                        "shared_fingerprints": b.shared,
                        "reference_containment": round(b.containment_reference, 4),
                    },
                )
            )
            if fl.notice_kept in ("missing", "partial") and fl.reference_header.get("licence"):
                held = "; ".join(fl.reference_header.get("copyright", []))[:200]
                ev.append(
                    Evidence(
                        "code",
                        "code-notice-missing" if fl.notice_kept == "missing" else "code-notice-partial",
                        f"{rel} copies {b.reference} ({fl.reference_header['licence']}) but its header "
                        f"{'drops' if fl.notice_kept == 'missing' else 'keeps only part of'} the reference's "
                        f"licence notice ({held})",
                        "high" if fl.notice_kept == "missing" else "medium",
                        detail={
                            "file": rel,
                            "reference": b.reference,
                            "reference_header": fl.reference_header,
                        },
                    )
                )
    return CodeLineageResult(out, f"transformers {index.version}", index.build_seconds, index.from_cache, ev)
