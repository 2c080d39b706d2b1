"""Dependencies tell the truth: every third-party module the package imports is declared in pyproject.toml,
and every declared dependency is imported, or is a program the front ends run (named here, with why)."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "botify_graph"
#: declared, never imported by the package: the programs the product runs (the brief's fixed package list)
PROGRAMS = {
    "jupyterlab": "the JupyterLab front end (`jupyter lab notebooks/link_graph.ipynb`)",
    "papermill": "the headless front end (`papermill notebooks/link_graph.ipynb ...`)",
}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _imported_top_levels() -> set[str]:
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in {"botify_graph", "__future__"}}


def test_every_imported_module_is_declared_and_every_declared_one_is_used() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in project["dependencies"]}
    optional = {_name(r) for extra in project["optional-dependencies"].values() for r in extra}
    dists = packages_distributions()
    used: dict[str, str] = {}
    for module in _imported_top_levels():
        names = [d.lower().replace("_", "-") for d in dists.get(module, [module])]
        used[module] = next((d for d in names if d in declared or d in optional), names[0])
    undeclared = sorted(f"{m} ({d})" for m, d in used.items() if d not in declared | optional)
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"
    unused = sorted(declared - set(used.values()) - set(PROGRAMS))
    assert not unused, f"declared but never imported: {unused}"
