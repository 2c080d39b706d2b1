"""The Airflow recipe: `templates/airflow/botify_graph_dag.py` and `scripts/airflow-check`.

Airflow is not a dependency of botify-graph, so the fast tests read the DAG file without importing Airflow:
its syntax tree (one pool for every export task, one task per project, no token anywhere) and its pure
functions, executed on their own. The slow test runs `scripts/airflow-check`, which installs Airflow in
`.venv-airflow` and runs the DAG with `airflow dags test` against the fake API (about 2 minutes and 900 MB
the first time): only when asked with BOTIFY_GRAPH_AIRFLOW=1, or in CI (CI set) unless BOTIFY_GRAPH_AIRFLOW=0.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DAG = ROOT / "templates" / "airflow" / "botify_graph_dag.py"
EXAMPLE = ROOT / "templates" / "airflow" / "botify_graph_projects.example.txt"
SCRIPT = ROOT / "scripts" / "airflow-check"
DOC = ROOT / "docs" / "scheduling.md"


def _tree() -> ast.Module:
    return ast.parse(DAG.read_text(encoding="utf-8"), filename=str(DAG))


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the string constants that are docstrings (module, classes, functions)."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _constants(tree: ast.Module) -> dict[str, Any]:
    """Module-level NAME = literal assignments."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return out


def _calls(tree: ast.AST, attr: str) -> list[ast.Call]:
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == attr
    ]


@pytest.fixture(scope="module")
def dag_module() -> dict[str, Any]:
    """The DAG file's pure part, executed without Airflow: imports other than airflow's, constants, the
    exception class and the undecorated functions (not the tasks, not the DAG)."""
    tree = _tree()
    keep: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("airflow"):
            continue
        if isinstance(node, ast.FunctionDef) and node.decorator_list:
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            continue  # the DAG call
        keep.append(node)
    namespace: dict[str, Any] = {"__file__": str(DAG), "__name__": "botify_graph_dag"}
    exec(compile(ast.Module(body=keep, type_ignores=[]), str(DAG), "exec"), namespace)
    return namespace


# -- the DAG file, statically ----------------------------------------------------------------------------


def test_the_dag_file_compiles_and_imports_botify_graph_only_inside_tasks() -> None:
    tree = _tree()
    compile(tree, str(DAG), "exec")
    top = {a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names}
    top |= {n.module or "" for n in tree.body if isinstance(n, ast.ImportFrom)}
    assert not [m for m in top if m.startswith("botify_graph")], "the scheduler must not need botify-graph"
    inner = {
        n.module
        for f in tree.body
        if isinstance(f, ast.FunctionDef)
        for n in ast.walk(f)
        if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("botify_graph")
    }
    assert inner, "the plan task imports botify-graph on the worker"
    assert {"airflow.sdk", "airflow.providers.papermill.operators.papermill"} <= top


def test_one_papermill_task_per_project_all_in_the_botify_api_pool() -> None:
    tree = _tree()
    partials = [c for c in _calls(tree, "partial") if isinstance(c.func, ast.Attribute)]
    assert len(partials) == 1 and ast.unparse(partials[0].func.value) == "PapermillOperator"
    kw = {k.arg: k.value for k in partials[0].keywords}
    pool = kw["pool"]
    assert isinstance(pool, ast.Name) and _constants(tree)[pool.id] == "botify_api"
    assert "pool_slots" not in kw  # one slot each: the pool's size is the number of tasks at once
    mapped = [c for c in [*_calls(tree, "expand_kwargs"), *_calls(tree, "expand")] if c.func.value is partials[0]]
    assert len(mapped) == 1, "the export task is mapped over the planned projects"
    assert ast.unparse(mapped[0].args[0]) == "plan()"
    assert ast.literal_eval(kw["map_index_template"]) == "{{ task.parameters['project_url'] }}"


def test_the_token_is_never_a_parameter_a_template_or_a_name_in_the_dag() -> None:
    tree = _tree()
    docs = _docstrings(tree)
    strings = [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
    ]
    assert not [s for s in strings if "token" in s.lower()], "the token is read by the notebook's kernel only"
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
    }
    assert not [n for n in names if "token" in n.lower() or "secret" in n.lower()]
    templates = [s for s in strings if "{{" in s]
    assert templates == ["{{ task.parameters['project_url'] }}"], "no Jinja that could pull a Variable or Connection"
    dag_kw = {
        k.arg for d in ast.walk(tree) if isinstance(d, ast.Call) and ast.unparse(d.func) == "dag" for k in d.keywords
    }
    assert "params" not in dag_kw and "dag_id" in dag_kw
    assert not {"Variable", "Connection", "BaseHook"} & names, "settings come from the worker's environment"


def test_the_docstring_explains_the_pool_size_and_where_the_token_comes_from() -> None:
    doc = ast.get_docstring(_tree()) or ""
    assert "airflow pools set botify_api 1" in doc and "5 requests/s" in doc
    assert "BOTIFY_API_TOKEN" in doc and "environment" in doc


# -- its pure functions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://app.botify.com/o/p/\n", [{"project_url": "https://app.botify.com/o/p/"}]),
        (
            "# a comment\n\n  https://app.botify.com/o/p/   # why this one\n",
            [{"project_url": "https://app.botify.com/o/p/"}],
        ),
        (  # a URL's own #fragment and ?query=... are the URL's
            "app.botify.com/o/p/20241108/segmentation?filter=all#overview\n",
            [{"project_url": "app.botify.com/o/p/20241108/segmentation?filter=all#overview"}],
        ),
        (
            "https://app.botify.com/o/a/ max_edges=500000 meta_fields=pagetype,depth\n"
            "https://app.botify.com/o/b/ analysis=20241101-2 retry_failed=true poll_timeout_s=60",
            [
                {"project_url": "https://app.botify.com/o/a/", "max_edges": "500000", "meta_fields": "pagetype,depth"},
                {
                    "project_url": "https://app.botify.com/o/b/",
                    "analysis": "20241101-2",
                    "retry_failed": "true",
                    "poll_timeout_s": "60",
                },
            ],
        ),
        ("not-a-botify-url\n", [{"project_url": "not-a-botify-url"}]),  # its own task says why
    ],
)
def test_parse_projects(dag_module: dict[str, Any], text: str, expected: list[dict[str, str]]) -> None:
    assert dag_module["parse_projects"](text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "lists no project"),
        ("# only comments\n\n", "lists no project"),
        ("https://app.botify.com/o/p/ max_edge=10\n", r"line 1: unknown setting 'max_edge'; use analysis"),
        ("\nhttps://app.botify.com/o/p/ depth\n", r"line 2: 'depth' is not key=value"),
        ("https://app.botify.com/o/p/ analysis=\n", r"'analysis=' is not key=value"),
        ("https://app.botify.com/o/p/ analysis=1 analysis=2\n", "analysis is set twice"),
        ("max_edges=10 https://app.botify.com/o/p/\n", "must start with a Botify project URL"),
        ("https://app.botify.com/o/p/ token=abc\n", "unknown setting 'token'"),  # never a way in for the token
        ("https://app.botify.com/o/p/ output_dir=/tmp\n", "unknown setting 'output_dir'"),  # one folder per DAG
    ],
)
def test_parse_projects_names_the_line_of_what_it_cannot_read(
    dag_module: dict[str, Any], text: str, message: str
) -> None:
    with pytest.raises(dag_module["ProjectsFileError"], match=message) as info:
        dag_module["parse_projects"](text, "projects.txt")
    assert str(info.value).startswith("projects.txt")


def test_the_example_projects_file_parses(dag_module: dict[str, Any]) -> None:
    projects = dag_module["parse_projects"](EXAMPLE.read_text(encoding="utf-8"))
    assert len(projects) == 4 and projects[1]["max_edges"] == "500000"
    assert dag_module["DEFAULT_PROJECTS_FILE"] == EXAMPLE.with_name("botify_graph_projects.txt")


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://example.com/x?y=1#z", "example.com_x_y_1_z"),
        ("  HTTP://A/B/  ", "a_b"),
        ("../../etc/passwd", "etc_passwd"),
        ("///", "project"),
        ("x" * 300, "x" * 100),
    ],
)
def test_run_name_is_a_safe_file_name(dag_module: dict[str, Any], url: str, name: str) -> None:
    assert dag_module["run_name"](url) == name


def test_plan_runs_gives_each_project_its_notebook_in_the_dated_folder(dag_module: dict[str, Any]) -> None:
    projects = [
        {"project_url": "https://app.botify.com/o/p/", "max_edges": "10"},
        {"project_url": "https://app.botify.com/o/q/"},
        {"project_url": "app.botify.com/o/p/20241108/"},
    ]
    runs = dag_module["plan_runs"](
        projects,
        ["o__p", "o__q", "o__p"],
        notebook="/nb/link_graph.ipynb",
        out_dir="/data/bg",
        run_folder="2026-11-30T060000",
    )
    assert [r["output_nb"] for r in runs] == [
        "/data/bg/runs/2026-11-30T060000/o__p.ipynb",
        "/data/bg/runs/2026-11-30T060000/o__q.ipynb",
        "/data/bg/runs/2026-11-30T060000/o__p-2.ipynb",  # listed twice: two notebooks, never one overwritten
    ]
    assert {r["input_nb"] for r in runs} == {"/nb/link_graph.ipynb"}
    assert runs[0]["parameters"] == {
        "project_url": "https://app.botify.com/o/p/",
        "max_edges": "10",
        "output_dir": "/data/bg",  # CSVs and registry shared by every run: an exported crawl is reused
        "mode": "headless",
    }
    assert all(
        set(r["parameters"]) <= {"project_url", "output_dir", "mode", *dag_module["LINE_SETTINGS"]} for r in runs
    )


def test_every_parameter_the_dag_sets_is_in_the_notebooks_parameters_cell(dag_module: dict[str, Any]) -> None:
    notebook = json.loads((ROOT / "notebooks" / "link_graph.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in notebook["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    body = ast.parse("".join(cell["source"])).body
    names = {n.target.id for n in body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
    assert {*dag_module["LINE_SETTINGS"], "project_url", "output_dir", "mode"} <= names


# -- the check script and the docs -----------------------------------------------------------------------


def test_the_check_script_is_executable_valid_bash_and_pins_the_version_the_docs_name() -> None:
    assert SCRIPT.stat().st_mode & 0o111
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    text = SCRIPT.read_text(encoding="utf-8")
    version = re.search(r'AIRFLOW_VERSION="\$\{AIRFLOW_VERSION:-([0-9.]+)\}"', text)
    assert version, "scripts/airflow-check pins the Airflow version it validates"
    doc = DOC.read_text(encoding="utf-8")
    assert re.search(rf"Last run: .*Airflow {re.escape(version.group(1))}\b", doc), "docs/scheduling.md: last run"
    assert ".venv-airflow/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_the_docs_name_what_the_dag_reads(dag_module: dict[str, Any]) -> None:
    doc = DOC.read_text(encoding="utf-8")
    for name in ("PROJECTS_FILE_VAR", "NOTEBOOK_VAR", "OUT_VAR", "POOL", "DAG_ID"):
        assert f"`{dag_module[name]}`" in doc, f"docs/scheduling.md does not name {dag_module[name]}"
    assert "flock" in doc and "crontab" in doc.lower()
    assert "docs/scheduling.md" in (ROOT / "README.md").read_text(encoding="utf-8")


# -- the real thing --------------------------------------------------------------------------------------


def _asked() -> bool:
    wanted = os.environ.get("BOTIFY_GRAPH_AIRFLOW", "").strip()
    if wanted:
        return wanted not in {"0", "false", "no"}
    return bool(os.environ.get("CI"))


@pytest.mark.slow
@pytest.mark.airflow
def test_airflow_check_runs_the_dag_against_the_fake_api() -> None:
    if not _asked():
        pytest.skip(
            "installs Airflow into .venv-airflow (~1 min, ~900 MB) and runs the DAG twice (~1.5 min): "
            "set BOTIFY_GRAPH_AIRFLOW=1 to run it (CI runs it unless BOTIFY_GRAPH_AIRFLOW=0)"
        )
    proc = subprocess.run([str(SCRIPT)], cwd=ROOT, capture_output=True, text=True, timeout=1500)
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "airflow-check: OK" in proc.stdout
