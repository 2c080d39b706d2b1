"""The package's imports point one way: no cycle between its modules, and each layer imports only what it may.

Every import counts, at any depth: top-level, inside functions, under `if TYPE_CHECKING:` (a cycle the type
checker sees is still a cycle in the design). How an import becomes an edge:

- `import botify_graph.x.y` and `from botify_graph.x import y` / `from .x import y` (resolved against the
  importing module's package): an edge to `botify_graph.x`, and to `botify_graph.x.y` when `y` is a submodule.
- A module's own ancestor packages are initialised before it runs, so `from . import layout` inside
  `botify_graph` adds only the edge to `botify_graph.layout`; importing a *name* defined in an ancestor's
  `__init__` (e.g. `from . import __version__`) is an edge to that package.

A type-only edge that closes a cycle is allowed only when it is listed in TYPE_ONLY_CYCLES with its reason;
the test fails when a listed edge becomes a runtime import or disappears (then delete it from the list).
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "botify_graph"

# layer (a module or a package, by dotted prefix) → what it must never import (modules or third-party roots)
FORBIDDEN = {
    "botify_graph.graph": (
        "botify_graph.render",
        "botify_graph.reports",
        "botify_graph.wizard",
        "botify_graph.layout",
        "botify_graph.fsutil",
        "botify_graph.pipeline",
        "botify_graph.notebook",
        "botify_graph.cli",
        "ipywidgets",
        "IPython",
    ),
    "botify_graph.render": (
        "botify_graph.reports",
        "botify_graph.wizard",
        "botify_graph.layout",
        "botify_graph.fsutil",
        "botify_graph.notebook",
        "botify_graph.cli",
        "numpy",
        "pyarrow",
        "pandas",
    ),
    "botify_graph.reports": ("botify_graph.wizard", "botify_graph.notebook", "botify_graph.cli", "ipywidgets"),
}


# (importer, imported) → why this `if TYPE_CHECKING:` import still closes a cycle
TYPE_ONLY_CYCLES: dict[tuple[str, str], str] = {}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _type_checking_imports(tree: ast.AST) -> set[ast.AST]:
    """The import statements inside `if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`) blocks."""
    found: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            for stmt in node.body:
                found.update(n for n in ast.walk(stmt) if isinstance(n, (ast.Import, ast.ImportFrom)))
    return found


def imports(name: str) -> Iterator[tuple[str, int, bool]]:
    """(imported name, line, type only?) for every import of a module, relative ones made absolute."""
    tree = ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))
    typing_only = _type_checking_imports(tree)
    here = name if is_package(name) else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, node in typing_only
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.rsplit(".", node.level - 1)[0] if node.level > 1 else here
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            names = [a.name for a in node.names]
            submodules = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
            ancestor = name == target or name.startswith(target + ".")
            if not ancestor or len(submodules) < len(names):
                yield target, node.lineno, node in typing_only
            for sub in submodules:
                yield sub, node.lineno, node in typing_only


def edges(*, type_only: bool = False) -> dict[str, dict[str, int]]:
    """module → {imported package module: first line}; `type_only=True`: only the edges no runtime import makes."""
    runtime: dict[str, dict[str, int]] = {m: {} for m in MODULES}
    typing: dict[str, dict[str, int]] = {m: {} for m in MODULES}
    for name in MODULES:
        for target, line, only_typing in imports(name):
            while target and target not in MODULES and "." in target:  # botify_graph.x.y where y is a name
                target = target.rpartition(".")[0]
            if target in MODULES and target != name:
                (typing if only_typing else runtime)[name].setdefault(target, line)
    if type_only:
        return {m: {t: line for t, line in typing[m].items() if t not in runtime[m]} for m in MODULES}
    return {m: {**typing[m], **runtime[m]} for m in MODULES}


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One import cycle (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def describe(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    steps = [f"{a} (line {graph[a][b]}) → {b}" for a, b in itertools.pairwise(cycle)]
    return "import cycle:\n  " + "\n  ".join(steps)


def test_the_package_has_no_import_cycle() -> None:
    graph = edges()
    assert sum(len(v) for v in graph.values()) > 50  # the walk found the package's imports
    type_only = edges(type_only=True)
    for (importer, imported), why in TYPE_ONLY_CYCLES.items():
        assert imported in type_only[importer], f"{importer} → {imported} is no longer type-only ({why}): a cycle"
        del graph[importer][imported]
    cycle = find_cycle(graph)
    assert cycle is None, describe(cycle, graph)


def test_listed_type_only_edges_still_close_a_cycle() -> None:
    """An entry of TYPE_ONLY_CYCLES that no longer closes a cycle is stale: delete it."""
    for edge in TYPE_ONLY_CYCLES:
        graph = edges()
        for importer, imported in TYPE_ONLY_CYCLES.keys() - {edge}:
            graph[importer].pop(imported, None)
        assert find_cycle(graph) is not None, f"{edge} closes no cycle any more: delete it from TYPE_ONLY_CYCLES"


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_only_downwards(layer: str) -> None:
    members = [m for m in MODULES if m == layer or m.startswith(layer + ".")]
    assert members, f"no module {layer}"
    bad = [
        f"{m}:{line} imports {target}"
        for m in members
        for target, line, _ in imports(m)
        for banned in FORBIDDEN[layer]
        if target == banned or target.startswith(banned + ".")
    ]
    assert not bad, "\n".join(bad)


# -- the checker itself, on made-up modules ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b": 1}, "b": {"c": 1}, "c": {}}, None),
        ({"a": {"b": 1}, "b": {"a": 3}}, ["a", "b", "a"]),
        ({"a": {"b": 1}, "b": {"c": 1}, "c": {"b": 2}}, ["b", "c", "b"]),
        ({"a": {}, "b": {"b": 1}}, ["b", "b"]),
    ],
)
def test_find_cycle(graph: dict[str, dict[str, int]], expected: list[str] | None) -> None:
    assert find_cycle(graph) == expected


def test_imports_are_read_at_any_depth_and_resolved(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pkg = tmp_path / "botify_graph"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import x\n")
    (pkg / "a.py").write_text("from . import b, __version__\n")
    (pkg / "b.py").write_text("def f():\n    from .sub import c\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text("import numpy\nfrom .. import a\nfrom ..sub.d import y\n")
    (pkg / "sub" / "d.py").write_text("")
    monkeypatch.setattr(__name__ + ".PACKAGE", pkg)
    monkeypatch.setattr(__name__ + ".MODULES", {module_name(p): p for p in sorted(pkg.rglob("*.py"))})
    assert edges() == {
        "botify_graph": {"botify_graph.b": 3},
        "botify_graph.a": {"botify_graph": 1, "botify_graph.b": 1},
        "botify_graph.b": {"botify_graph.sub": 2, "botify_graph.sub.c": 2},
        "botify_graph.sub": {},
        "botify_graph.sub.c": {"botify_graph.a": 2, "botify_graph.sub.d": 3},
        "botify_graph.sub.d": {},
    }
    assert ("numpy", 1, False) in list(imports("botify_graph.sub.c"))
    assert edges(type_only=True)["botify_graph"] == {"botify_graph.b": 3}
    assert edges(type_only=True)["botify_graph.a"] == {}
    assert find_cycle(edges()) == [
        "botify_graph",
        "botify_graph.b",
        "botify_graph.sub.c",
        "botify_graph.a",
        "botify_graph",
    ]
