"""Airflow recipe: one botify-graph export per Botify project, all sharing one API token's budget.

Copy this file into your DAGs folder (or point the DAGs folder at `templates/airflow/`). What it does:

- `plan` reads the project list (see `PROJECTS_FILE_VAR`) when the run starts, not when the scheduler
  parses this file, and turns each line into the arguments of one papermill run;
- `export` is mapped over that list (`expand_kwargs`): one task per project, each running
  `notebooks/link_graph.ipynb` headless with the papermill provider's `PapermillOperator`. A project that
  fails (not found, no permission, a failed Botify job) fails its own task only; the others go on, and the
  run is then marked failed so you notice.
- Every `export` task runs in the Airflow pool `botify_api`, which you create with ONE slot per Botify API
  token: `airflow pools set botify_api 1 "Botify API: 5 requests/s per token"`. Botify allows 5 requests/s
  per token, and each task is a separate process whose botify-graph client already paces itself at that
  full 5 requests/s; two tasks at once could send 10/s, which Botify answers with 429s (the client backs
  off and retries, but the token's budget, shared with the Botify app and any other script, is overdrawn).
  One slot is the size that keeps the sum under the limit. Tasks of other DAGs that use the same token
  belong in the same pool.

The token is never a parameter, an Airflow Variable rendered into a template, or part of a command line:
the notebook's kernel reads `BOTIFY_API_TOKEN` from the environment it inherits from the Airflow worker
(set it in the worker's service environment, e.g. a systemd `EnvironmentFile=` or a container's env file).
So it can appear neither in the task's rendered fields nor in its logs nor in the output notebook.

Files, under `$BOTIFY_GRAPH_OUT` of the worker (default `$AIRFLOW_HOME/botify-graph`):

    export_registry.json                                   which Botify job made which file
    {org}/{project}/{project}_{analysis}_links.csv         source,target
    {org}/{project}/{project}_{analysis}_meta.csv          id,pagetype,...
    runs/{run date}/{org}__{project}.ipynb                 the executed notebook of that run (progress, summary, error)

The CSVs are named after the crawl (the analysis slug is its date) and the registry lives beside them, so a
run that finds the newest crawl already exported reuses the files and starts no Botify job (no credits
spent twice); a new crawl gets new files. Each run's notebooks go to a folder dated by the run.

Importable without botify-graph: the scheduler only needs Airflow 3 and apache-airflow-providers-papermill;
botify-graph is imported inside the tasks, on the workers. Validated with `scripts/airflow-check`
(see docs/scheduling.md for the Airflow version and date).
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.providers.papermill.operators.papermill import PapermillOperator
from airflow.sdk import dag, get_current_context, task

DAG_ID = "botify_graph_exports"
POOL = "botify_api"  # create it with 1 slot per Botify API token (see above)
PROJECTS_FILE_VAR = "BOTIFY_GRAPH_PROJECTS_FILE"  # default: botify_graph_projects.txt beside this file
NOTEBOOK_VAR = "BOTIFY_GRAPH_NOTEBOOK"  # default: the checkout's notebooks/link_graph.ipynb
OUT_VAR = "BOTIFY_GRAPH_OUT"  # the same variable the notebook reads; default $AIRFLOW_HOME/botify-graph
DEFAULT_PROJECTS_FILE = Path(__file__).resolve().with_name("botify_graph_projects.txt")
# Notebook parameters a line of the projects file may set after the URL, as key=value.
LINE_SETTINGS = ("analysis", "max_edges", "meta_fields", "gsc_period", "poll_timeout_s", "retry_failed")


class ProjectsFileError(ValueError):
    """The projects file cannot be read as one project URL per line with optional key=value settings."""


def parse_projects(text: str, source: str = "projects file") -> list[dict[str, str]]:
    """Lines of `URL [key=value ...]` → notebook parameters per project. Blank lines and comments (`#` at the
    start of a line or after a space) are skipped.

    Raise ProjectsFileError naming the line for what cannot be a project line (an unknown or repeated
    setting, a missing '='); whether a URL names a real Botify project is left to that project's task.
    """
    projects: list[dict[str, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.split(r"\s#", raw, maxsplit=1)[0].strip()  # a URL's own #fragment is kept
        if not line or line.startswith("#"):
            continue
        url, *settings = line.split()
        if re.match(r"[A-Za-z_]\w*=", url):
            raise ProjectsFileError(f"{source}, line {number}: the line must start with a Botify project URL.")
        params = {"project_url": url}
        for item in settings:
            key, sep, value = item.partition("=")
            if not sep or not value:
                raise ProjectsFileError(f"{source}, line {number}: {item!r} is not key=value.")
            if key not in LINE_SETTINGS:
                raise ProjectsFileError(
                    f"{source}, line {number}: unknown setting {key!r}; use {', '.join(LINE_SETTINGS)}."
                )
            if key in params:
                raise ProjectsFileError(f"{source}, line {number}: {key} is set twice.")
            params[key] = value
        projects.append(params)
    if not projects:
        raise ProjectsFileError(f"{source} lists no project: write one Botify project URL per line.")
    return projects


def run_name(url: str) -> str:
    """A file name for a project URL that botify-graph could not read (its task will say why)."""
    name = re.sub(r"^[a-z]+://", "", url.strip().lower())
    name = re.sub(r"[^a-z0-9._-]+", "_", name).strip("._-")
    return (name or "project")[:100]


def plan_runs(
    projects: list[dict[str, str]],
    names: list[str],
    *,
    notebook: str,
    out_dir: str,
    run_folder: str,
) -> list[dict[str, Any]]:
    """The PapermillOperator arguments of each project's task: its notebook run and where it is saved."""
    runs: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for params, name in zip(projects, names, strict=True):
        seen[name] = seen.get(name, 0) + 1
        unique = name if seen[name] == 1 else f"{name}-{seen[name]}"
        runs.append(
            {
                "input_nb": notebook,
                "output_nb": str(Path(out_dir) / "runs" / run_folder / f"{unique}.ipynb"),
                # api_base stays empty: the notebook takes $BOTIFY_API_BASE, else Botify's API.
                "parameters": {**params, "output_dir": out_dir, "mode": "headless"},
            }
        )
    return runs


@task
def plan() -> list[dict[str, Any]]:
    """Read the project list and decide each project's papermill run (on a worker: imports botify-graph)."""
    from botify_graph.app import find_notebook
    from botify_graph.errors import InvalidProjectURL
    from botify_graph.urls import clean_url

    path = Path(os.environ.get(PROJECTS_FILE_VAR, "").strip() or DEFAULT_PROJECTS_FILE)
    if not path.is_file():
        raise ProjectsFileError(
            f"No projects file at {path}: write one Botify project URL per line there, or set {PROJECTS_FILE_VAR} "
            "in the worker's environment to the file's path."
        )
    projects = parse_projects(path.read_text(encoding="utf-8"), str(path))
    names = []
    for params in projects:
        try:
            ref = clean_url(params["project_url"])
            names.append(f"{ref.org}__{ref.project}")
        except InvalidProjectURL:
            names.append(run_name(params["project_url"]))
    airflow_home = Path(os.environ.get("AIRFLOW_HOME", "").strip() or Path.home() / "airflow")
    out_dir = Path(os.environ.get(OUT_VAR, "").strip() or airflow_home / "botify-graph").expanduser().resolve()
    dag_run = get_current_context()["dag_run"]
    run_folder = (dag_run.logical_date or dag_run.run_after).strftime("%Y-%m-%dT%H%M%S")
    (out_dir / "runs" / run_folder).mkdir(parents=True, exist_ok=True)  # papermill does not create it
    return plan_runs(
        projects,
        names,
        notebook=str(find_notebook(os.environ.get(NOTEBOOK_VAR, "").strip() or None)),
        out_dir=str(out_dir),
        run_folder=run_folder,
    )


@dag(
    dag_id=DAG_ID,
    schedule="@daily",  # a run finds each project's newest crawl; one already exported costs no credits
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # runs never overlap (what flock does for the cron recipe)
    tags=["botify-graph"],
    doc_md=__doc__,
)
def botify_graph_exports() -> None:
    PapermillOperator.partial(
        task_id="export",
        pool=POOL,
        log_output=True,  # the notebook's plain-text progress in the task log (it never prints the token)
        do_xcom_push=False,
        execution_timeout=timedelta(hours=4),  # > poll_timeout_s (3 h per job): raise both together
        map_index_template="{{ task.parameters['project_url'] }}",
    ).expand_kwargs(plan())


botify_graph_exports()
