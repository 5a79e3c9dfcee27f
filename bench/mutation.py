"""Mutation testing of taoke's statistics modules: how many small wrong versions do the tests catch?

Each mutant changes one operator or constant of the module (the classic operators of mutation testing,
DeMillo, Lipton & Sayward 1978; the same families mutmut and cosmic-ray use): a comparison flipped
(``<`` to ``<=``, ``==`` to ``!=``...), an arithmetic operator swapped (``+``/``-``, ``*``/``/``), a
boolean operator swapped (``and``/``or``), a ``not`` dropped, an integer constant moved by one, a float
constant doubled. Docstrings are not mutated. Each mutant runs in a forked child (Linux/macOS): the
mutated source is executed over the imported module (and the names the test modules imported from
it), then the module's statistics tests -- the test functions without fixtures or parameters in its
test modules -- are called; a mutant is *killed* when a test fails (or runs past the timeout),
*survives* otherwise. The kill rate is killed / all mutants.

WHY a small script and not mutmut: mutmut 3 rewrites the whole package into trampolines and runs
pytest per mutant; on two shared cores that is 30+ minutes for one module. Forking an interpreter that
has already imported numpy, taoke and the tests costs milliseconds, and needs no new dependency.

    nice python bench/mutation.py                      # both modules, JSON in bench/results/mutation.json
    nice python bench/mutation.py --module probe --jobs 2 --list-survivors
    nice python bench/mutation.py --module lineage --before   # and with the tests before its own

``FUNCTIONS`` restricts a module's mutants to its statistics functions (lineage.py: the nulls and
p-values, not the fingerprint pipeline that calls them).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import json
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]

# module -> (the module, the test modules that are its specification; their tests without fixtures and
# parameters are run: the statistics tests, not the end-to-end ones that run a model)
TARGETS: dict[str, tuple[str, list[str]]] = {
    "contamination": ("taoke.contamination.stats", ["tests.contamination.test_contamination"]),
    "probe": ("taoke.probe.compare", ["tests.probe.test_probe_stats"]),
    "lineage": (
        "taoke.weights.lineage",
        [
            "tests.weights.test_lineage_stats",
            "tests.weights.test_raw_permutation",
            "tests.weights.test_nulls",
        ],
    ),
}
# module -> the functions mutated (a module whose statistics sit next to a pipeline): lineage.py's nulls
# and p-values, not the fingerprint comparison :func:`taoke.weights.lineage.lineage` that calls them
FUNCTIONS: dict[str, tuple[str, ...]] = {
    "lineage": (
        "Null.z",
        "Null.log10_sf",
        "p_value",
        "fisher_z",
        "layer_scores",
        "effective_pairs",
        "raw_basis_permutation_test",
        "basis_free_null",
        "bonferroni",
        "median_best",
        "fit_null",
        "fit_nulls",
    ),
}
# the tests that existed before the module's own statistics tests were written (``--before``)
BEFORE: dict[str, list[str]] = {
    "lineage": ["tests.weights.test_raw_permutation", "tests.weights.test_nulls"],
}

_CMP_SWAP = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_BIN_SWAP = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Pow: ast.Mult,
    ast.Mod: ast.FloorDiv,
}


@dataclass(frozen=True)
class Mutant:
    """One change: the node's position in the walk, what it was and what it becomes."""

    index: int
    line: int
    what: str


def _docstring_ids(tree: ast.AST) -> set[int]:
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def _mutations(node: ast.AST, skip: set[int]) -> list[str]:
    """The mutations one node offers (in a fixed order)."""
    if isinstance(node, ast.Compare):
        return [f"cmp{i}" for i, op in enumerate(node.ops) if type(op) in _CMP_SWAP]
    if isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in _BIN_SWAP:
        return ["bin"]
    if isinstance(node, ast.BoolOp):
        return ["bool"]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return ["not"]
    if isinstance(node, ast.Constant) and id(node) not in skip:
        v = node.value
        if isinstance(v, bool):
            return ["const"]
        if isinstance(v, (int, float)):
            return ["const"]
    return []


def _apply(node: ast.AST, kind: str) -> str:
    if kind.startswith("cmp"):
        i = int(kind[3:])
        assert isinstance(node, ast.Compare)
        old = type(node.ops[i])
        node.ops[i] = _CMP_SWAP[old]()
        return f"{old.__name__} -> {type(node.ops[i]).__name__}"
    if kind == "bin":
        old = type(node.op)  # type: ignore[attr-defined]
        node.op = _BIN_SWAP[old]()  # type: ignore[attr-defined]
        return f"{old.__name__} -> {type(node.op).__name__}"  # type: ignore[attr-defined]
    if kind == "bool":
        assert isinstance(node, ast.BoolOp)
        old = type(node.op)
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        return f"{old.__name__} -> {type(node.op).__name__}"
    if kind == "const":
        assert isinstance(node, ast.Constant)
        v = node.value
        node.value = (not v) if isinstance(v, bool) else (v + 1 if isinstance(v, int) else v * 2 + 1.0)
        return f"{v!r} -> {node.value!r}"
    raise ValueError(kind)


def _not_removed(tree: ast.AST, target: ast.UnaryOp) -> None:
    """Replace ``not x`` by ``x`` in its parent."""
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if value is target:
                setattr(parent, name, target.operand)
                return
            if isinstance(value, list):
                for i, v in enumerate(value):
                    if v is target:
                        value[i] = target.operand
                        return


def _inside(tree: ast.AST, functions: tuple[str, ...]) -> set[int]:
    """Ids of the nodes inside the named functions (``name`` at module level, ``Class.name`` in a class)."""
    out: set[int] = set()

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if f"{prefix}{child.name}" in functions:
                    out.update(id(n) for n in ast.walk(child))

    visit(tree, "")
    return out


def mutants(source: str, functions: tuple[str, ...] | None = None) -> list[tuple[Mutant, str]]:
    """Every mutant of ``source`` as (description, mutated source); only inside ``functions`` when given."""
    probe = ast.parse(source)
    skip = _docstring_ids(probe)
    inside = _inside(probe, functions) if functions else None
    plan = [
        (i, k)
        for i, n in enumerate(ast.walk(probe))
        if inside is None or id(n) in inside
        for k in _mutations(n, skip)
    ]
    out: list[tuple[Mutant, str]] = []
    for index, kind in plan:
        tree = ast.parse(source)
        node = list(ast.walk(tree))[index]
        line = getattr(node, "lineno", 0)
        if kind == "not":
            assert isinstance(node, ast.UnaryOp)
            _not_removed(tree, node)
            what = "not x -> x"
        else:
            what = _apply(node, kind)
        try:
            code = ast.unparse(ast.fix_missing_locations(tree))
            compile(code, "<mutant>", "exec")
        except (SyntaxError, ValueError):
            continue
        out.append((Mutant(index, line, what), code))
    return out


def _tests_of(test_modules: list[ModuleType]) -> list[tuple[ModuleType, str]]:
    """Test functions that take no argument (no fixture, no parameter)."""
    out = []
    for tm in test_modules:
        for name, fn in vars(tm).items():
            if name.startswith("test_") and callable(fn) and not inspect.signature(fn).parameters:
                if any(m.name == "slow" for m in getattr(fn, "pytestmark", [])):
                    continue  # minutes per mutant: the fast tests are the specification here
                out.append((tm, name))
    return out


def _run_mutant(module: ModuleType, code: str, tests: list[tuple[ModuleType, str]]) -> None:
    """In a forked child: the mutated code replaces the module's functions and classes (and the names
    test modules imported from it), then the tests run; exit 0 when all pass."""
    try:
        exec(compile(code, module.__file__ or "<mutant>", "exec"), module.__dict__)  # noqa: S102
        for tm in {tm for tm, _ in tests}:
            for name, value in list(vars(tm).items()):
                if getattr(value, "__module__", None) == module.__name__ and name in module.__dict__:
                    setattr(tm, name, module.__dict__[name])
        for tm, name in tests:
            getattr(tm, name)()
    except BaseException:  # noqa: BLE001 - any failure kills the mutant
        os._exit(1)
    os._exit(0)


def _killed(module: ModuleType, code: str, tests: list[tuple[ModuleType, str]], timeout: float) -> bool:
    pid = os.fork()
    if pid == 0:
        _run_mutant(module, code, tests)
    deadline = time.time() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) != 0
        if time.time() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return True
        time.sleep(0.02)


def measure(
    module_name: str, jobs: int, timeout: float, limit: int | None, test_names: list[str] | None = None
) -> dict:
    """Kill rate of one module's tests (``test_names``: other test modules) over its mutants."""
    target, specified = TARGETS[module_name]
    test_names = specified if test_names is None else test_names
    sys.path.insert(0, str(REPO))
    module = importlib.import_module(target)
    tests = _tests_of([importlib.import_module(t) for t in test_names])
    source = Path(module.__file__ or "").read_text(encoding="utf-8")
    if _killed(module, source, tests, timeout * 3):
        raise SystemExit(f"{module_name}: the tests fail on the unmutated module")
    for tm, name in tests:  # once here, so caches (a zoo fingerprint) are warm in every fork
        getattr(tm, name)()
    functions = FUNCTIONS.get(module_name)
    todo = mutants(source, functions)[:limit]
    t0 = time.time()

    def one(m_code: tuple[Mutant, str]) -> dict:
        m, code = m_code
        return {"line": m.line, "mutation": m.what, "killed": _killed(module, code, tests, timeout)}

    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(one, todo))
    results.sort(key=lambda r: r["line"])
    killed = sum(r["killed"] for r in results)
    return {
        "module": target,
        **({"functions": list(functions)} if functions else {}),
        "tests": [f"{tm.__name__}::{name}" for tm, name in tests],
        "mutants": len(results),
        "killed": killed,
        "kill_rate": round(killed / len(results), 3) if results else None,
        "seconds": round(time.time() - t0, 1),
        "survivors": [r for r in results if not r["killed"]],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module", choices=sorted(TARGETS), action="append")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--limit", type=int, default=None, help="first N mutants only (a smoke run)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "mutation.json")
    ap.add_argument("--list-survivors", action="store_true")
    ap.add_argument(
        "--before",
        action="store_true",
        help="also measure with the tests that existed before the module's statistics tests (BEFORE)",
    )
    a = ap.parse_args()
    report = {m: measure(m, a.jobs, a.timeout, a.limit) for m in a.module or sorted(TARGETS)}
    for m, r in report.items():
        if a.before and m in BEFORE:
            r["before"] = {
                k: v
                for k, v in measure(m, a.jobs, a.timeout, a.limit, BEFORE[m]).items()
                if k in ("tests", "mutants", "killed", "kill_rate", "seconds")
            }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(a.out.read_text(encoding="utf-8")) if a.out.exists() else {}
    a.out.write_text(json.dumps({**old, **report}, indent=1) + "\n", encoding="utf-8")  # others kept
    for m, r in report.items():
        if "before" in r:
            b = r["before"]
            print(f"{m} before: {b['killed']}/{b['mutants']} killed ({b['kill_rate']:.1%})")
        print(f"{m}: {r['killed']}/{r['mutants']} killed ({r['kill_rate']:.1%}) in {r['seconds']} s")
        if a.list_survivors:
            for s in r["survivors"]:
                print(f"  survives  line {s['line']}: {s['mutation']}")


if __name__ == "__main__":
    main()
