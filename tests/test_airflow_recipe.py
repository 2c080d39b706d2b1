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

from botify_graph.projects import SETTINGS, parse_projects, read_projects
from botify_graph.reproduce import notebook_parameters

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
    """The DAG file's pure part, executed without Airflow: imports other than airflow's, constants and the
    undecorated functions (not the tasks, not the DAG)."""
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
    ("slots", "rate"), [("", 5.0), ("1", 5.0), (" 2 ", 2.5), ("4", 1.25), ("5", 1.0)]
)  # fmt: skip
def test_each_task_takes_its_share_of_the_tokens_rate(dag_module: dict[str, Any], slots: str, rate: float) -> None:
    assert dag_module["task_rate"](slots) == rate


@pytest.mark.parametrize("slots", ["0", "6", "two", "2.5", "-1"])
def test_a_pool_size_that_cannot_keep_to_the_limit_is_refused(dag_module: dict[str, Any], slots: str) -> None:
    with pytest.raises(ValueError, match=r"BOTIFY_GRAPH_POOL_SLOTS=.*a whole number from 1 to 5"):
        dag_module["task_rate"](slots)


def test_the_dag_reads_the_projects_file_with_botify_graphs_parser() -> None:
    tree = _tree()
    plan = next(f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "plan")
    imported = {(n.module, a.name) for n in ast.walk(plan) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert ("botify_graph.projects", "read_projects") in imported  # one parser: batch, DAG and wizard
    assert ("botify_graph.reproduce", "notebook_parameters") in imported  # one mapping to notebook parameters
    assert not [f for f in tree.body if isinstance(f, ast.FunctionDef) and "parse" in f.name]


def test_plan_runs_gives_each_project_its_notebook_in_the_dated_folder(dag_module: dict[str, Any]) -> None:
    rows = read_projects(EXAMPLE).check()[:2] + parse_projects("app.botify.com/my-org/my-site.com/20241108/").check()
    projects = [notebook_parameters(row.params(out_dir="/data/bg", rate=2.5)) for row in rows]
    runs = dag_module["plan_runs"](
        projects,
        [f"{row.ref.org}__{row.ref.project}" for row in rows],
        notebook="/nb/link_graph.ipynb",
        out_dir="/data/bg",
        run_folder="2026-11-30T060000",
    )
    assert [r["output_nb"] for r in runs] == [
        "/data/bg/runs/2026-11-30T060000/my-org__my-site.com.ipynb",
        "/data/bg/runs/2026-11-30T060000/my-org__my-shop.com.ipynb",
        "/data/bg/runs/2026-11-30T060000/my-org__my-site.com-2.ipynb",  # listed twice: two notebooks
    ]
    assert {r["input_nb"] for r in runs} == {"/nb/link_graph.ipynb"}
    assert runs[1]["parameters"] == {
        "project_url": "https://app.botify.com/my-org/my-shop.com/",
        "max_edges": 500_000,
        "meta_fields": "pagetype,is_compliant,depth",
        "output_dir": "/data/bg",  # CSVs and registry shared by every run: an exported crawl is reused
        "api_rate": 2.5,  # the task's share of the token's 5 requests/s
        "mode": "headless",
    }
    assert runs[2]["parameters"]["project_url"] == "app.botify.com/my-org/my-site.com/20241108/"  # as written


def test_every_parameter_the_dag_sets_is_in_the_notebooks_parameters_cell(dag_module: dict[str, Any]) -> None:
    notebook = json.loads((ROOT / "notebooks" / "link_graph.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in notebook["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    body = ast.parse("".join(cell["source"])).body
    names = {n.target.id for n in body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
    text = " ".join(f"{s}=1" if s not in ("analysis", "fields") else "" for s in SETTINGS)
    row = parse_projects(f"https://app.botify.com/o/p/ analysis=20241108 fields=depth {text}").check()[0]
    params = dag_module["plan_runs"]([notebook_parameters(row.params(out_dir="/o", rate=1.0))], ["o__p"],
                                     notebook="n", out_dir="/o", run_folder="r")[0]["parameters"]  # fmt: skip
    assert set(params) <= names and {"analysis", "meta_fields", "max_edges", "api_rate", "mode"} <= set(params)


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
    for name in ("PROJECTS_FILE_VAR", "NOTEBOOK_VAR", "OUT_VAR", "POOL", "DAG_ID", "POOL_SLOTS_VAR"):
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
