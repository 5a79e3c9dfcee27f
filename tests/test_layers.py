"""The house rules of the package, checked on its source: data flows one way and nothing imports upward.

Every ``import`` in ``src/taoke`` (inside functions too) is an edge of a module graph. The graph must
have no cycle, and no module may import from a higher floor than its own:

    bottom (errors, limits, defaults, evidence, ...) < release < formats < families, tokenizers < model
    < analyzers, weights, contamination, probe, rewrite < registry < zoo < jobs < render < cli < taoke

so library code never imports the renderers, the CLI or the zoo, and a ``taoke compare`` travels down
(resolve -> read -> model view -> fingerprint) and back up (lineage -> verdict -> render) without
returning to a module it left. The zoo (the proving ground) is above the library it tests; only the two
commands that run it (``taoke demo``, ``taoke eval``) import it from above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import taoke

SRC = Path(taoke.__file__).parent

FLOORS: dict[str, int] = {
    **dict.fromkeys(
        [
            "_version",
            "errors",
            "limits",
            "defaults",
            "paths",
            "progress",
            "lazy",
            "evidence",
            "datasets",
            "i18n",
        ],
        0,
    ),
    "release": 1,
    "formats": 2,
    "families": 3,
    "moe": 3,  # expert layouts from tensor names and configs (errors, formats); read by inspect, weights
    "tokenizers": 3,
    "model": 4,
    **dict.fromkeys(["analyzers", "weights", "contamination", "probe", "rewrite"], 5),
    "registry": 6,
    "zoo": 7,
    "jobs": 8,
    "render": 9,
    "cli": 10,
    "": 11,  # the package face itself
}
ZOO_USERS = {"taoke.cli.demo", "taoke.cli.eval"}


def _modules() -> dict[str, Path]:
    mods = {}
    for path in SRC.rglob("*.py"):
        parts = ["taoke", *path.relative_to(SRC).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _graph() -> dict[str, set[str]]:
    """module -> the taoke modules it imports (``from pkg import name`` counts as pkg.name when that is a
    module, else as pkg)."""
    mods = _modules()

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" for a in node.names]
            for name in targets:
                if name == "taoke" or name.startswith("taoke."):
                    target = resolve(name)
                    if target and target != mod:
                        graph[mod].add(target)
    return graph


def floor(module: str) -> int:
    parts = module.split(".")
    name = parts[1] if len(parts) > 1 else ""
    assert name in FLOORS, (
        f"{module}: a new top-level module or package needs a floor in tests/test_layers.py"
    )
    return FLOORS[name]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.append(member)
                    if member == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_nothing_imports_from_a_higher_floor():
    upward = [
        f"{m} (floor {floor(m)}) imports {t} (floor {floor(t)})"
        for m, targets in sorted(_graph().items())
        for t in sorted(targets)
        if floor(t) > floor(m) and not (t.startswith("taoke.zoo") and m in ZOO_USERS)
    ]
    assert upward == []


def test_only_the_demo_and_eval_commands_import_the_zoo():
    users = {
        m
        for m, targets in _graph().items()
        if not m.startswith("taoke.zoo") and any(t.startswith("taoke.zoo") for t in targets)
    }
    assert users <= ZOO_USERS


@pytest.mark.parametrize(
    "edges,expected",
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": {"a"}, "c": {"c"} - {"c"}}, [["a", "b"]]),
    ],
)
def test_the_cycle_finder_finds_cycles(edges, expected):
    assert _cycles(edges) == expected


def test_the_floor_check_sees_an_upward_import():
    """The checker is not vacuous: the real graph with one library module importing the renderer fails."""
    graph = _graph()
    graph["taoke.weights.lineage"].add("taoke.render.compare")
    assert any(floor(t) > floor(m) for m, ts in graph.items() for t in ts)
