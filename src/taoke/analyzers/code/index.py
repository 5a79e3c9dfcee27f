"""The reference index: winnowed fingerprints of every ``transformers/models/*/modeling_*.py``.

Built once per installed ``transformers`` version and cached (``code-index/`` in taoke's cache home,
:mod:`taoke.paths`); building it tokenizes ~540 files (measured in ``bench/code_lineage.py``).
transformers is found without being imported: its source files are read as text.

What the matching needs from an index is :class:`CodeIndex`'s interface (``lookup``, ``file_id``,
``file_starts`` and the row arrays); another reference corpus only has to build one.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from taoke.analyzers.code.engine import fingerprint, model_stem, name_bag
from taoke.analyzers.code.notices import earliest_year, header_notice, latest_year
from taoke.paths import home

INDEX_VERSION = 7  # bump when normalisation, hashing or stored fields change (invalidates caches)


def transformers_models_dir() -> tuple[Path, str] | None:
    """The installed transformers' ``models/`` folder and version, found without importing it
    (importing transformers takes seconds and is not needed to read its source files)."""
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
    """Where reference indexes are cached: ``code-index`` in taoke's cache home (:func:`taoke.paths.home`)."""
    return home() / "code-index"


@dataclass
class Block:
    """A top-level class or function of a source file (what a suspect 'derives from'), or a method of
    a top-level class (``kind`` "method", ``name`` "Class.method"; see :func:`parse_blocks`)."""

    name: str
    kind: str
    start: int
    end: int


@dataclass
class RefFile:
    """One reference file of the index, with what the matching reports about it."""

    rel: str  # "llama/modeling_llama.py"
    n_fps: int
    n_tokens: int
    blocks: list[Block]
    header: dict[str, Any]
    names: dict[str, int]  # identifier -> count (model stem and family prefix stripped)
    stem: str = ""  # model-name stem ("qwen2moe"), see engine.model_stem
    year: int = 9999  # earliest copyright year of its header: a parent must not be younger than its child
    latest: int = 9999  # latest copyright year of its header (the tie-break between files of one year)
    # (both from the other files of its model folder when its own header has no year: see `file_years`)
    members: list[Block] = field(default_factory=list)  # methods of its top-level classes (parse_blocks)


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

    def idf(self) -> tuple[np.ndarray, np.ndarray]:
        """Inverse document frequency of every index row's fingerprint, and each file's total.

        idf(h) = ln((1 + N) / (1 + df(h))), df = the number of reference files holding h (Spärck
        Jones 1972, "A statistical interpretation of term specificity", J. Documentation 28(1)).
        WHY: ``rotate_half`` or a ``PreTrainedModel`` boilerplate is in hundreds of files and says
        nothing about which one was copied; a fragment held by two files says a lot. Unsupervised:
        computed from the corpus, never from the ground truth."""
        if not hasattr(self, "_idf"):
            n = len(self.files)
            if not len(self.hashes):
                self._idf = (np.zeros(0), np.zeros(n))
                return self._idf
            new = np.r_[True, self.hashes[1:] != self.hashes[:-1]]
            grp = np.cumsum(new) - 1
            # rows are sorted stably by hash from per-file arrays in file order: equal (hash, file)
            # rows are adjacent, so the first of each pair marks one file holding the hash
            first = new | np.r_[True, self.file_ids[1:] != self.file_ids[:-1]]
            df = np.bincount(grp[first])
            row_idf = np.log((1.0 + n) / (1.0 + df[grp]))
            totals = np.bincount(self.file_ids[first], weights=row_idf[first], minlength=n)
            self._idf = (row_idf, totals)
        return self._idf

    def release_order(self) -> np.ndarray:
        """Each file's position in the order of transformers releases that first shipped it (from the
        shipped ``data/code/first_release.json``, see :func:`first_releases`); -1 where unknown.

        WHY: the copyright year cannot orient a parent and a child of the same year (half of the FIT
        ranking errors of ``bench/code_lineage.py``); the release that first shipped a file can. Only the
        order is used, never the release against the tree's own version: a file of this tree existed
        when the tree was released. A file the data does not list (a tree newer than the data, another
        corpus), or one the data dates after this tree's own version (a development or patch tree), is
        unknown, and the matching falls back to the copyright years for the blocks it holds."""
        if not hasattr(self, "_release_order"):
            first, versions = first_releases()
            rank = {v: i for i, v in enumerate(versions)}
            top = version_key(self.version)
            order = [
                rank[v] if (v := first.get(f.rel)) is not None and version_key(v) <= top else -1
                for f in self.files
            ]
            self._release_order = np.array(order, dtype=np.int64)
        return self._release_order

    def block_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every reference class/function as one global block: (row -> block id, -1 outside any
        top-level block; block -> file id; block -> distinct fingerprints). Derived from the stored
        rows and :class:`Block` line ranges (no extra index field), for :func:`match.align_blocks`."""
        if not hasattr(self, "_block_table"):
            self._block_table = self._unit_table([f.blocks for f in self.files])
        return self._block_table

    def member_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The same as :meth:`block_table` for the methods of the reference classes
        (:attr:`RefFile.members`): a class is aligned method by method (:func:`match.align_blocks`)."""
        if not hasattr(self, "_member_table"):
            self._member_table = self._unit_table([f.members for f in self.files])
        return self._member_table

    def _unit_table(self, units: list[list[Block]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        gb_file: list[int] = []
        first: list[int] = []
        for fid, bl in enumerate(units):
            first.append(len(gb_file))
            gb_file.extend([fid] * len(bl))
        n_blocks = len(gb_file)
        row_gb = np.full(len(self.hashes), -1, np.int64)
        order = np.argsort(self.file_ids, kind="stable")
        bounds = np.searchsorted(self.file_ids[order], np.arange(len(self.files) + 1))
        for fid, bl in enumerate(units):
            if not bl:
                continue
            rows = order[bounds[fid] : bounds[fid + 1]]
            j, ok = block_of_lines(bl, self.line_start[rows])
            row_gb[rows[ok]] = first[fid] + j[ok]
        sel = row_gb >= 0
        h, g = self.hashes[sel], row_gb[sel]
        hid = np.cumsum(np.r_[True, h[1:] != h[:-1]]) - 1 if len(h) else np.zeros(0, np.int64)
        pairs = np.unique(hid * max(n_blocks, 1) + g)
        n_fps = np.bincount(pairs % max(n_blocks, 1), minlength=n_blocks)
        return row_gb, np.asarray(gb_file, dtype=np.int64), n_fps

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


FIRST_RELEASE_DATA = ("data", "code", "first_release.json")


def first_releases() -> tuple[dict[str, str], list[str]]:
    """Shipped data (generated by ``bench/transformers_releases.py`` from the PyPI wheels it cites): each
    ``<model>/modeling_*.py`` of transformers -> the first release (X.Y.0, or the first patch of X.Y) that
    shipped it, and the releases scanned, oldest first. Empty when the data cannot be read."""
    global _FIRST_RELEASES
    if _FIRST_RELEASES is None:
        from importlib import resources

        try:
            text = resources.files("taoke").joinpath(*FIRST_RELEASE_DATA).read_text(encoding="utf-8")
            data = json.loads(text)
            versions = [str(v) for v in data["versions"]]
            known = set(versions)
            first = {str(k): str(v) for k, v in data["first"].items() if v in known}
        except (OSError, ValueError, KeyError, TypeError):
            first, versions = {}, []
        _FIRST_RELEASES = (first, versions)
    return _FIRST_RELEASES


_FIRST_RELEASES: tuple[dict[str, str], list[str]] | None = None


def block_of_lines(blocks: list[Block], lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each line, the index of the top-level block holding it and whether one does (blocks are
    sorted by start and do not overlap)."""
    starts = np.array([b.start for b in blocks], dtype=np.int64)
    ends = np.array([b.end for b in blocks], dtype=np.int64)
    j = np.searchsorted(starts, lines, "right") - 1
    ok = (j >= 0) & (lines <= ends[np.clip(j, 0, None)])
    return j, ok


def parse_blocks(text: str) -> tuple[list[Block], list[Block]]:
    """The top-level classes and functions of a source text, and the methods of its top-level classes
    (``"Class.method"``), parsed with :mod:`ast` (never executed); each list sorted by line.

    Bounded: the text was already size-checked (``TAOKE_MAX_CODE_BYTES``); a parse that fails, or
    that exhausts the parser's recursion or memory on pathological nesting, gives no blocks, and the
    file is then compared as a whole only."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return [], []

    def start(node: ast.AST) -> int:
        return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])  # type: ignore[attr-defined]

    out, members = [], []
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            is_class = isinstance(node, ast.ClassDef)
            out.append(
                Block(
                    node.name,
                    "class" if is_class else "function",
                    start(node),
                    node.end_lineno or node.lineno,
                )
            )
            if is_class:
                members.extend(
                    Block(f"{node.name}.{m.name}", "method", start(m), m.end_lineno or m.lineno)
                    for m in node.body
                    if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))
                )
    return out, members


def top_level_blocks(text: str) -> list[Block]:
    """The top-level classes and functions of a source text (:func:`parse_blocks`)."""
    return parse_blocks(text)[0]


_blocks = top_level_blocks  # the earlier private name


FOLDER_HEADER_BYTES = 8192  # the header of a sibling file is in its first lines; read no more
FOLDER_MAX_FILES = 64  # a model folder holds a dozen .py files; bound the reads all the same


def file_years(path: Path, header: dict[str, Any], siblings: list[Path] | None = None) -> tuple[int, int]:
    """Earliest and latest copyright year of a file: from its own header, else from the headers of the
    other ``.py`` files of its folder (``siblings`` when given; 9999 when none has a year).

    WHY: files generated from a modular file (``mistral``, ``qwen2``, ``phi``; with ``luke``, 12 of the 544
    modeling files of transformers 5.25) carry no copyright year, and an undated file counts as the youngest,
    so it was never credited with a class any dated file also holds, not even against files written
    years after it; its ``configuration_*.py`` usually is dated. A suspect file without a year is dated
    the same way (``analyze_files``), so that date precedence applies to it. Chosen on the FIT split
    (bench/code_lineage.py, top-1 precision / recall: 0.648 / 0.580; references dated 0.649 / 0.600;
    suspects too 0.654 / 0.610; LOFO 0.732 / 0.634, 0.734 / 0.646, 0.736 / 0.651). Only the headers are
    read, never the code (a modular file's imports are the bench's ground truth)."""
    first, last = earliest_year(header), latest_year(header)
    if first != 9999:
        return first, last
    years: list[tuple[int, int]] = []
    if siblings is None:
        try:
            siblings = sorted(p for p in path.parent.glob("*.py") if p != path)
        except OSError:
            return first, last
    for p in siblings[:FOLDER_MAX_FILES]:
        try:
            if not p.is_file():  # a FIFO or device named *.py must not block the read
                continue
            with p.open("rb") as fh:
                head = fh.read(FOLDER_HEADER_BYTES).decode("utf-8", errors="replace")
        except OSError:
            continue
        h = header_notice(head)
        if earliest_year(h) != 9999:
            years.append((earliest_year(h), latest_year(h)))
    if not years:
        return first, last
    return min(y for y, _ in years), max(y for _, y in years)


def build_index(models: Path, version: str, files: list[Path] | None = None) -> CodeIndex:
    """Tokenize and winnow every reference file. Slow part of the first audit; cached afterwards."""
    t0 = time.perf_counter()
    refs: list[RefFile] = []
    all_h, all_f, all_s, all_e = [], [], [], []
    for path in files if files is not None else sorted(models.glob("*/modeling_*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        fp, toks = fingerprint(text)
        fid = len(refs)
        header = header_notice(text)
        year, latest = file_years(path, header)
        blocks, members = parse_blocks(text)
        refs.append(
            RefFile(
                path.relative_to(models).as_posix(),
                len(fp.hashes),
                fp.n_tokens,
                blocks,
                header,
                name_bag(toks.names, model_stem(path.name)),
                model_stem(path.name),
                year,
                latest,
                members,
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


def save_index(index: CodeIndex, folder: Path) -> None:
    """Write an index to ``folder`` (npz arrays + JSON metadata), replacing any older copy atomically."""
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
                "stem": f.stem,
                "year": f.year,
                "latest": f.latest,
                "blocks": [[b.name, b.kind, b.start, b.end] for b in f.blocks],
                "members": [[b.name, b.start, b.end] for b in f.members],
            }
            for f in index.files
        ],
    }
    (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    for name in ("index.npz", "meta.json"):
        os.replace(tmp / name, folder / name)
    tmp.rmdir()


def load_index(folder: Path, version: str, models: Path) -> CodeIndex | None:
    """The index saved in ``folder`` when it was built from this transformers version, folder and
    index format; None otherwise (or when it cannot be read): the caller rebuilds."""
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
            f["rel"],
            f["n_fps"],
            f["n_tokens"],
            [Block(*b) for b in f["blocks"]],
            f["header"],
            f["names"],
            f.get("stem", ""),
            int(f.get("year", 9999)),
            int(f.get("latest", 9999)),
            [Block(n, "method", a, b) for n, a, b in f.get("members", [])],
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


def transformers_tree(folder: Path) -> tuple[Path, str] | None:
    """``models/`` folder and version of a transformers source tree that is not the installed one:
    ``folder`` is a ``pip install --no-deps --target DIR transformers==4.36.2`` target, or the
    ``transformers`` package folder itself. Read as text, never imported."""
    for pkg in (folder / "transformers", folder):
        init = pkg / "__init__.py"
        if (pkg / "models").is_dir() and init.is_file():
            try:
                with init.open("rb") as f:  # transformers' own __init__ is ~0.3 MB; never read more
                    head = f.read(_INIT_MAX_BYTES).decode("utf-8", errors="replace")
            except OSError:
                return None
            m = re.search(r"__version__\s*=\s*[\"']([^\"']+)", head)
            # the version names the cache folder (transformers-<version>-v<n>): a version that is not a
            # plain release string ("../x", "a/b") would name a folder outside the cache
            if m and _VERSION.fullmatch(m.group(1)):
                return pkg / "models", m.group(1)
    return None


_INIT_MAX_BYTES = 4 << 20
_VERSION = re.compile(r"[0-9][0-9A-Za-z.+!_-]{0,63}")


def release_version(text: object) -> str | None:
    """``text`` when it is a plain transformers release string ("4.34.0", "4.36.0.dev0"), else None."""
    return text if isinstance(text, str) and _VERSION.fullmatch(text) else None


def version_key(version: str) -> tuple[int, int]:
    """(major, minor) of a release string; (0, 0) when it does not start with numbers."""
    m = re.match(r"(\d+)\.(\d+)", version)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def fetch_transformers(version: str, timeout: float = 600) -> tuple[Path, str]:
    """The source tree of transformers ``version`` for :func:`reference_index`: from taoke's cache
    (``transformers-src/<version>``), else installed there from PyPI with ``pip install --no-deps
    --target`` (the files are read as text, never imported, so no dependency is needed).

    WHY: a modeling file is traced reliably only against the transformers of its date -- 5.x rewrote
    the modeling files, and 4.36.2's llama shares 16 % of its fingerprints with 5.x's -- and a release's
    config.json says which version wrote it. Raises :class:`SourceNotFound` (one line) when pip cannot
    get it."""
    import subprocess
    import sys
    import tempfile

    from taoke.errors import SourceNotFound

    if release_version(version) is None:
        raise SourceNotFound(f"{version!r} is not a transformers release (e.g. 4.36.2)")
    final = home() / "transformers-src" / version
    found = transformers_tree(final)
    if found is not None:
        return found
    final.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=final.parent, prefix=".tmp-") as tmp:
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check"]
        cmd += ["--target", tmp, f"transformers=={version}"]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            msg = f"transformers=={version} could not be installed from PyPI ({exc})"
            raise SourceNotFound(msg) from None
        if done.returncode != 0 or transformers_tree(Path(tmp)) is None:
            last = (done.stderr or done.stdout or "").strip().splitlines()
            why = last[-1][:200] if last else f"pip exit {done.returncode}"
            raise SourceNotFound(
                f"transformers=={version} could not be installed from PyPI ({why}); install it with "
                f"`pip install --no-deps --target DIR transformers=={version}` and pass --code-reference DIR"
            )
        try:
            os.replace(tmp, final)  # atomic: a concurrent fetch of the same version leaves one copy
        except OSError as exc:
            if transformers_tree(final) is None:
                msg = f"cannot put transformers {version} there ({exc.strerror})"
                raise SourceNotFound(msg, final) from None
        Path(tmp).mkdir(exist_ok=True)  # TemporaryDirectory removes what it created
    found = transformers_tree(final)
    if found is None:
        raise SourceNotFound(f"transformers=={version} was installed but holds no models/ folder", final)
    return found


_INDEX_MEMO: dict[str, CodeIndex] = {}


def reference_index(tree: tuple[Path, str] | None = None) -> CodeIndex | None:
    """The index of a transformers tree, by default the installed one (memoised, cached on disk by
    version and folder); None when there is none.

    ``tree`` is ``(models_dir, version)``, e.g. from :func:`transformers_tree` for an older release
    installed into a scratch folder: a custom modeling file written against transformers 4.3x is
    traced both in the version of its date and in the installed one."""
    found = tree or transformers_models_dir()
    if found is None:
        return None
    models, version = found
    key = f"{version}:{models}"
    if key in _INDEX_MEMO:
        return _INDEX_MEMO[key]
    folder = cache_dir() / f"transformers-{version}-v{INDEX_VERSION}"
    index = load_index(folder, version, models)
    if index is None:
        index = build_index(models, version)
        try:
            save_index(index, folder)
            for stale in folder.parent.glob(f"transformers-{version}-v*"):
                if stale != folder and stale.is_dir():  # same transformers, older index format
                    shutil.rmtree(stale, ignore_errors=True)
        except OSError:
            pass  # a read-only cache dir costs speed, not correctness
    _INDEX_MEMO[key] = index
    return index
