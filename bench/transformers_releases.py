"""Generator of ``src/taoke/data/code/first_release.json``: the transformers release in which each
``transformers/models/*/modeling_*.py`` first appeared.

For every minor release X.Y from 2.0 to the installed transformers (X.Y.0, else the first patch PyPI
has), the wheel is fetched with ``pip download --no-deps --only-binary :all:`` and its file list is read
with zipfile (nothing is installed or imported). The output cites each wheel's file name and sha256 and
lists the versions scanned; a file's entry is the first scanned release whose wheel holds it. Before
4.0 the modeling files were flat (``transformers/modeling_bert.py``): a flat file counts as the
``models/<model>/`` file of the same name when exactly one later release path has that name
(``modeling_utils.py``, ``modeling_auto.py`` and the like have none and are not listed).

WHY: the code-lineage crediting rule credits a class to its oldest holder, by copyright year. Parents and
children of the same year cannot be oriented by the year; the release that first shipped a file can.
Scanning from 4.0 only left every file older than 4.0 (bert, roberta, bart, marian, layoutlm, ...) tied
at 4.0, and those ties fell back to the copyright years.

Usage: ``python bench/transformers_releases.py [--since 2.0] [--upto 5.25] [--keep DIR] [--out PATH]``
(about 100 wheels of 0.3-12 MB each; the wheels are deleted unless ``--keep`` names a folder to keep
them in).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "taoke" / "data" / "code" / "first_release.json"
MODELING = re.compile(r"transformers/models/([^/]+)/(modeling_[^/]+\.py)")
FLAT = re.compile(r"transformers/(modeling_[^/]+\.py)")  # before 4.0


def key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def available_versions() -> list[str]:
    """Plain X.Y.Z releases of transformers on PyPI (``pip index versions``)."""
    cmd = [sys.executable, "-m", "pip", "index", "versions", "transformers", "--disable-pip-version-check"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("Available versions:"))
    found = [v.strip() for v in line.split(":", 1)[1].split(",")]
    return sorted((v for v in found if re.fullmatch(r"\d+\.\d+\.\d+", v)), key=key)


def minor_releases(versions: list[str], upto: str, since: str = "2.0") -> list[str]:
    """The first patch of each minor release from ``since`` to ``upto`` (both minors included)."""
    first: dict[tuple[int, int], str] = {}
    top, low = key(upto)[:2], key(since)[:2]
    for v in versions:
        mm = key(v)[:2]
        if low <= mm <= top and mm not in first:
            first[mm] = v
    return [first[mm] for mm in sorted(first)]


def fetch(version: str, folder: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:"]
    cmd += ["--disable-pip-version-check", "-d", str(folder), f"transformers=={version}"]
    subprocess.run(cmd, check=True)
    (wheel,) = folder.glob(f"transformers-{version}-*.whl")
    return wheel


def main() -> None:
    import transformers

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upto", default=transformers.__version__, help="last release (default: installed)")
    ap.add_argument("--since", default="2.0", help="first minor release (default: 2.0)")
    ap.add_argument("--keep", type=Path, help="keep the wheels in this folder")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    scanned = minor_releases(available_versions(), args.upto, args.since)
    first: dict[str, str] = {}
    flat: dict[str, str] = {}  # modeling_X.py -> first release holding transformers/modeling_X.py
    wheels: list[dict[str, str]] = []
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for version in scanned:
            wheel = fetch(version, folder)
            sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
            wheels.append({"version": version, "file": wheel.name, "sha256": sha})
            with zipfile.ZipFile(wheel) as zf:
                listed = zf.namelist()
            names = [m.groups() for m in map(MODELING.fullmatch, listed) if m]
            for model, name in names:
                first.setdefault(f"{model}/{name}", version)
            for name in (m.group(1) for m in map(FLAT.fullmatch, listed) if m):
                flat.setdefault(name, version)
            if args.keep is None:
                wheel.unlink()
            print(f"{version}: {len(names)} modeling files, {len(first)} seen ({time.time() - t0:.0f} s)")
    by_name: dict[str, list[str]] = {}
    for path in first:
        by_name.setdefault(path.split("/", 1)[1], []).append(path)
    mapped = 0
    for name, version in flat.items():
        if len(paths := by_name.get(name, [])) == 1 and key(version) < key(first[paths[0]]):
            first[paths[0]] = version
            mapped += 1
    print(f"{len(flat)} flat modeling files before 4.0, {mapped} dated by them")
    data = {
        "_source": (
            "generated by bench/transformers_releases.py: for each minor release of transformers from "
            f"{scanned[0]} to {scanned[-1]} (X.Y.0, else its first patch on PyPI), the wheel from "
            "`pip download --no-deps --only-binary :all: transformers==X` (file names and sha256 in "
            "`wheels`) was listed with zipfile; `first` maps each transformers/models/<model>/modeling_*.py "
            "to the first scanned release whose wheel holds it (a file added in a later patch release counts "
            "from the next scanned release); before 4.0, transformers/modeling_X.py (flat) counts as the one "
            "later path named modeling_X.py"
        ),
        "versions": scanned,
        "wheels": wheels,
        "first": dict(sorted(first.items())),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=0, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{len(first)} files, {len(scanned)} releases, {time.time() - t0:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
