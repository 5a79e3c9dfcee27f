"""The zoo is the proving ground, not a dependency: only zoo/ itself and the two CLI commands that run it
(``taoke demo``, ``taoke eval``) import ``taoke.zoo``; bench/ and tests/ may."""

from __future__ import annotations

import ast
from pathlib import Path

import taoke

SRC = Path(taoke.__file__).parent
ALLOWED = {"cli/demo.py", "cli/eval.py"}


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            if node.module == "taoke":
                out |= {f"taoke.{a.name}" for a in node.names}
    return out


def test_nothing_outside_the_zoo_imports_it():
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("zoo/") or rel in ALLOWED:
            continue
        if any(m == "taoke.zoo" or m.startswith("taoke.zoo.") for m in _imports(path)):
            offenders.append(rel)
    assert offenders == []
