"""Code lineage of a release: read its ``.py`` files safely, match each one, report evidence.

The entry points of the package: :func:`analyze_files` for a release (what ``taoke audit`` runs) and
:func:`analyze_text` for one file's text. Each file goes engine (fingerprints) -> match (ranked,
attributed references) -> notices (did the copy keep its parent's licence header).
"""

from __future__ import annotations

import io
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taoke.analyzers.code.engine import fingerprint, model_stem, name_bag
from taoke.analyzers.code.index import CodeIndex, file_years, parse_blocks, reference_index
from taoke.analyzers.code.match import (
    MIN_BLOCK_COVER,
    MIN_SHARED,
    BlockMatch,
    RefMatch,
    Span,
    align_blocks,
    attribute,
    block_cover,
    excerpt,
    is_parent,
    match_fingerprints,
    spans,
)
from taoke.analyzers.code.notices import earliest_year, header_notice, notice_status
from taoke.evidence import Evidence
from taoke.limits import Limits, current_limits


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
    blocks: list[BlockMatch] = field(default_factory=list)  # its classes/functions and their origins
    align_rows: int = 0  # index rows joined to align its classes and methods (match.Alignment)
    align_left_out: int = 0  # its most common fingerprints left out of that join, to bound it

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k not in ("matches", "best", "spans", "blocks")}
        d["matches"] = [m.to_dict() for m in self.matches]
        d["blocks"] = [b.to_dict() for b in self.blocks]
        d["best"] = self.best.to_dict() if self.best else None
        d["spans"] = [s.to_dict() for s in self.spans]
        return d


@dataclass
class CodeLineageResult:
    """Code lineage of a release: one :class:`FileLineage` per ``.py`` file, and the findings."""

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


def analyze_text(
    path: str,
    text: str,
    index: CodeIndex,
    exclude: set[int] | None = None,
    with_spans: bool = True,
    max_span_lines: int = 40,
    precedence: bool = True,
    folder_year: int | None = None,
    max_align_rows: int | None = None,
) -> FileLineage:
    """Code lineage of one file's text against the index.

    With ``precedence`` (the default) and a copyright year in the file's header, references whose
    header is younger are not candidates: code flows from older files to newer ones, which tells a
    parent from a sibling that copied the same parent later. ``folder_year`` is the file's year when
    its own header has none, from the other files of its folder (:func:`index.file_years`, as the
    reference files are dated). ``max_align_rows`` bounds the class alignment's join (default
    ``Limits.max_align_rows``; see :class:`~taoke.analyzers.code.match.Alignment`)."""
    if max_align_rows is None:
        max_align_rows = current_limits().max_align_rows
    fp, toks = fingerprint(text)
    result = FileLineage(
        path,
        "compared",
        n_tokens=fp.n_tokens,
        n_fingerprints=len(fp.hashes),
        tolerant=fp.tolerant,
        header=header_notice(text),
    )
    year = earliest_year(result.header)
    if year == 9999 and folder_year is not None:
        year = folder_year
    year_limit = None if year == 9999 or not precedence else year
    blocks, members = parse_blocks(text)
    al = align_blocks(fp, blocks, index, exclude, year_limit, members, max_align_rows)
    result.blocks, shares, result.align_rows, result.align_left_out = (
        al.blocks,
        al.shares,
        al.rows,
        al.left_out,
    )
    ranked = match_fingerprints(
        fp,
        name_bag(toks.names, model_stem(path, toks.names)),
        index,
        exclude=exclude,
        year=year_limit,
        keep=set(shares),
    )
    attribute(ranked, index)
    for m, _ in ranked:
        m.origin_share = round(shares.get(index.file_id(m.reference), 0.0), 6)
    # the parent: the reference credited with most of the suspect's classes/functions (align_blocks);
    # the file-level score orders the rest
    ranked.sort(key=lambda mr: (mr[0].origin_share, mr[0].score), reverse=True)
    for i, (m, rows) in enumerate(ranked):
        if i < 5 or m.origin_share > 0:
            ref = index.files[index.file_id(m.reference)]
            m.blocks = block_cover(ref, index, rows)[:12]
            m.parent = is_parent(m, best=i == 0)
    result.matches = [m for m, _ in ranked if m.shared >= MIN_SHARED or m.parent][:10]
    if ranked and ranked[0][0].parent:
        best, rows = ranked[0]
        result.best = best
        ref = index.files[index.file_id(best.reference)]
        result.reference_header = ref.header
        result.notice_kept = notice_status(text, ref.header)
        if with_spans:
            regions = spans(fp, index, rows)
            try:
                ref_lines = (index.root / best.reference).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                ref_lines = []
            sus_lines = text.splitlines()
            regions.sort(key=lambda s: s.fingerprints, reverse=True)
            for s in regions[:20]:
                s.suspect_text = excerpt(sus_lines, s.suspect_start, s.suspect_end, max_span_lines)
                if ref_lines:
                    s.reference_text = excerpt(ref_lines, s.reference_start, s.reference_end, max_span_lines)
            result.spans = sorted(regions[:20], key=lambda s: s.suspect_start)
    return result


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
    if size > limits.max_code_bytes:
        return None, (
            f"is {size} bytes, over the {limits.max_code_bytes}-byte limit for code lineage "
            "(TAOKE_MAX_CODE_BYTES); not compared"
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
    # One budget for the whole release, not one per file (issue 16: 60 files of 90 KB, each under the
    # per-file bound, cost 25 s of CPU). Modeling files are compared first, so a release padded with
    # other .py files cannot push its modeling code out of the budget.
    budget = limits.max_code_bytes
    align_budget = limits.max_release_align_rows  # the same for the alignment's join (match.Alignment)
    by_folder: dict[Path, list[Path]] = {}
    for _, path in sorted(files):
        by_folder.setdefault(path.parent, []).append(path)
    folder_years: dict[Path, int] = {}
    for rel, path in sorted(files, key=lambda f: (not Path(f[0]).name.startswith("modeling"), f[0])):
        try:
            size = path.stat().st_size
        except OSError:
            size = 0  # read_code_text reports it
        if budget < size <= limits.max_code_bytes:  # over the per-file bound: read_code_text says so
            reason = (
                f"would take the release's code over the {limits.max_code_bytes}-byte code-lineage budget "
                "(TAOKE_MAX_CODE_BYTES, all .py files together); not compared"
            )
            out.append(FileLineage(rel, "skipped", reason=reason))
            ev.append(Evidence("code", "code-unreadable", f"{rel} {reason}", "low", detail={"file": rel}))
            continue
        text, reason = read_code_text(path, limits)
        if text is not None:
            budget -= size
        if text is None:
            out.append(FileLineage(rel, "skipped", reason=reason))
            ev.append(Evidence("code", "code-unreadable", f"{rel} {reason}", "low", detail={"file": rel}))
            continue
        folder_year = None
        if earliest_year(header_notice(text)) == 9999:  # undated: its folder's other headers date it
            if path.parent not in folder_years:  # once per folder: its first 64 files' headers at most
                folder_years[path.parent] = file_years(path, {}, by_folder[path.parent])[0]
            folder_year = folder_years[path.parent]
        fl = analyze_text(
            rel,
            text,
            index,
            folder_year=folder_year,
            max_align_rows=min(limits.max_align_rows, align_budget),
        )
        align_budget -= fl.align_rows
        out.append(fl)
        if fl.align_left_out:
            ev.append(
                Evidence(
                    "code",
                    "code-alignment-bounded",
                    f"{rel}: its {fl.align_left_out} most common fingerprints were left out of the class "
                    "alignment, which would otherwise join too many reference rows (TAOKE_MAX_ALIGN_ROWS, "
                    "TAOKE_MAX_RELEASE_ALIGN_ROWS); its classes may be credited to fewer parents",
                    "low",
                    detail={"file": rel, "left_out": fl.align_left_out, "rows": fl.align_rows},
                )
            )
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
