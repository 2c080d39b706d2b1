"""The repository's notebooks are committed clean and JupyterLab saves them clean (botify_graph.hygiene)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from botify_graph import hygiene

ROOT = Path(__file__).resolve().parents[1]


def notebook(**meta: Any) -> dict[str, Any]:
    return {
        "cells": [
            {"cell_type": "markdown", "id": "a", "metadata": {}, "source": ["# hi"]},
            {"cell_type": "code", "id": "b", "metadata": {"tags": ["parameters"]}, "execution_count": None,
             "outputs": [], "source": ["x = 1"]},
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
                     "language_info": hygiene.kernel_language_info(), **meta},
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # fmt: skip


def run(nb: dict[str, Any]) -> dict[str, Any]:
    """What a session in JupyterLab leaves in a notebook: outputs, counts, timings, widget state."""
    out = json.loads(json.dumps(nb))
    code = out["cells"][1]
    code["execution_count"] = 3
    code["outputs"] = [{"output_type": "display_data", "data": {"text/plain": ["Wizard"]}, "metadata": {}}]
    code["metadata"]["execution"] = {"iopub.status.busy": "2026-11-28T10:00:00Z"}
    out["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    out["metadata"]["language_info"]["version"] = "3.99.0"
    return out


@pytest.mark.parametrize("path", hygiene.repository_notebooks(ROOT), ids=lambda p: p.name)
def test_the_committed_notebooks_are_clean(path: Path) -> None:
    """No outputs, no widget state, and the language_info a kernel reports (else Lab dirties it on open)."""
    assert hygiene.problems(json.loads(path.read_text(encoding="utf-8"))) == []


def test_the_repository_has_its_notebooks() -> None:
    names = [p.relative_to(ROOT).as_posix() for p in hygiene.repository_notebooks(ROOT)]
    assert "notebooks/link_graph.ipynb" in names and "templates/botify_functions.ipynb" in names


def test_problems_name_what_a_session_leaves() -> None:
    assert hygiene.problems(notebook()) == []
    found = hygiene.problems(run(notebook()))
    assert len(found) == 4 and any("outputs" in p for p in found) and any("widget state" in p for p in found)
    assert any("execution count" in p for p in found) and any("timings" in p for p in found)
    bare = notebook()
    bare["metadata"]["language_info"] = {"name": "python"}  # what the notebook was committed with
    assert "modified as soon as it is opened" in hygiene.problems(bare)[0]


def test_clean_keeps_the_committed_metadata() -> None:
    committed = notebook(title="botify-graph")
    cleaned = hygiene.clean_notebook(run(committed), metadata_from=committed)
    assert cleaned == committed
    assert hygiene.clean_notebook(run(committed))["metadata"]["language_info"]["version"] == "3.99.0"


class FakeContents:
    """The part of jupyter_server's FileContentsManager the hook uses."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _get_os_path(self, path: str) -> str:
        return str(self.root / path)


def test_the_pre_save_hook_cleans_repository_notebooks_only(tmp_path: Path) -> None:
    committed = notebook()
    for rel in ("notebooks/link_graph.ipynb", "templates/mine.ipynb", "elsewhere/scratch.ipynb"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(json.dumps(committed), encoding="utf-8")
    contents = FakeContents(tmp_path)
    for rel, cleaned in (("notebooks/link_graph.ipynb", True), ("templates/mine.ipynb", True),
                         ("elsewhere/scratch.ipynb", False)):  # fmt: skip
        model = {"type": "notebook", "content": run(committed)}
        hygiene.pre_save_hook(model=model, path=rel, contents_manager=contents)
        assert (model["content"] == committed) is cleaned, rel
    model = {"type": "file", "content": "text"}
    hygiene.pre_save_hook(model=model, path="notebooks/notes.txt", contents_manager=contents)
    assert model == {"type": "file", "content": "text"}


def test_the_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "n.ipynb"
    nb = run(notebook())
    nb["metadata"]["language_info"] = {"name": "python"}
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert hygiene.main([str(path)]) == 1
    assert "has outputs" in capsys.readouterr().err
    assert hygiene.main(["--fix", str(path)]) == 0
    fixed = json.loads(path.read_text(encoding="utf-8"))
    assert hygiene.problems(fixed) == [] and fixed["metadata"]["language_info"] == hygiene.kernel_language_info()
    assert hygiene.main([str(path)]) == 0


def test_the_extension_registers_the_hook() -> None:
    class Log:
        def info(self, *args: Any) -> None:
            pass

    class Contents:
        def __init__(self) -> None:
            self.hooks: list[Any] = []

        def register_pre_save_hook(self, hook: Any) -> None:
            self.hooks.append(hook)

    class App:
        contents_manager = Contents()
        log = Log()

    assert hygiene._jupyter_server_extension_points() == [{"module": "botify_graph.hygiene"}]
    hygiene._load_jupyter_server_extension(App())
    assert App.contents_manager.hooks == [hygiene.pre_save_hook]
