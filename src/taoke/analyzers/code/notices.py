"""Licence notices of source files: what a file's header says, and whether a copy kept its parent's.

WHY: Apache-2.0 §4(c) asks a redistributor to retain the copyright and licence notices of the Work; in
transformers they are the comment block at the top of each file, so a copy that drops that block while
keeping the code breaks the licence of the code it took.
"""

from __future__ import annotations

import re
from typing import Any

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


def earliest_year(header: dict[str, Any]) -> int:
    """Earliest copyright year in a header from :func:`header_notice` (9999 when none)."""
    years = [int(y) for c in header.get("copyright", []) for y in re.findall(r"\b(19[89]\d|20\d\d)\b", c)]
    return min(years) if years else 9999


def latest_year(header: dict[str, Any]) -> int:
    """Latest copyright year in a header (9999 when none). WHY: a file copied with its parent's header
    keeps the parent's earliest year and usually adds its own line ("Copyright 2021 NVIDIA ...
    Copyright 2018 The Google AI Language Team"); between two files of one earliest year, the one
    whose header was not extended later is the older."""
    years = [int(y) for c in header.get("copyright", []) for y in re.findall(r"\b(19[89]\d|20\d\d)\b", c)]
    return max(years) if years else 9999


def notice_status(suspect_text: str, ref_header: dict[str, Any]) -> str:
    """kept: the reference's licence statement and copyright holders are in the suspect's first 60
    lines; partial: one of the two; missing: neither (Apache-2.0 §4(c) asks to retain them)."""
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
