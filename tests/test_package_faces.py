"""Package faces: an ``__init__`` only hands names on, and its ``__all__`` says exactly which.

Checked on the source (ast) and by importing: every name in ``__all__`` exists, every name the face
imports is in ``__all__``, and whatever src/, tests/, bench/ or fuzz/ import from the package is either
in ``__all__`` or one of its modules.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
FACES = [
    "taoke.analyzers",
    "taoke.analyzers.code",
    "taoke.contamination",
    "taoke.families",
    "taoke.probe",
    "taoke.registry",
    "taoke.tokenizers",
    "taoke.weights",
    "taoke.zoo",
]


def _init(package: str) -> Path:
    return SRC.joinpath(*package.split(".")) / "__init__.py"


def _is_module(package: str, name: str) -> bool:
    return importlib.util.find_spec(f"{package}.{name}") is not None


def _declared(tree: ast.Module) -> list[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__all__"]:
            return [ast.literal_eval(elt) for elt in node.value.elts]  # type: ignore[attr-defined]
    raise AssertionError("no __all__")


@pytest.mark.parametrize("package", FACES)
def test_face_only_hands_names_on(package: str):
    tree = ast.parse(_init(package).read_text(encoding="utf-8"))
    bound: list[str] = []
    for i, node in enumerate(tree.body):
        if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            assert node.module and node.module.startswith(package + "."), f"{package} imports {node.module}"
            bound += [a.asname or a.name for a in node.names]
            continue
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__all__"]:
            continue
        raise AssertionError(f"{package}/__init__.py line {node.lineno}: not an import or __all__")
    declared = _declared(tree)
    assert len(declared) == len(set(declared)), f"{package}: a name twice in __all__"
    assert set(bound) <= set(declared), f"{package} imports but does not list {set(bound) - set(declared)}"
    mod = importlib.import_module(package)
    for name in declared:
        assert name in bound or _is_module(package, name), f"{package}.__all__ names {name!r}: not found"
        if name in bound:
            assert getattr(mod, name) is not None


def _imports_from(package: str) -> list[tuple[str, str]]:
    """(file:line, name) of every ``from package import name`` in the repository's Python files."""
    out = []
    for folder in ("src", "tests", "bench", "fuzz"):
        for path in sorted((REPO / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module == package and node.level == 0:
                    out += [(f"{path.relative_to(REPO)}:{node.lineno}", a.name) for a in node.names]
    return out


@pytest.mark.parametrize("package", FACES)
def test_what_others_import_is_on_the_face(package: str):
    declared = set(_declared(ast.parse(_init(package).read_text(encoding="utf-8"))))
    missing = [
        f"{where} imports {name}"
        for where, name in _imports_from(package)
        if name not in declared and not _is_module(package, name)
    ]
    assert not missing, f"{package}.__all__ lacks: " + "; ".join(missing)
