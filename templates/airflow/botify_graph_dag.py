"""Airflow recipe: one botify-graph export per Botify project, all sharing one API token's budget.

Copy this file into your DAGs folder (or point the DAGs folder at `templates/airflow/`). What it does:

- `plan` reads the project list (see `PROJECTS_FILE_VAR`) when the run starts, not when the scheduler
  parses this file, and turns each line into the arguments of one papermill run;
- `export` is mapped over that list (`expand_kwargs`): one task per project, each running
  `notebooks/link_graph.ipynb` headless with the papermill provider's `PapermillOperator`. A project that
  fails (not found, no permission, a failed Botify job) fails its own task only; the others go on, and the
  run is then marked failed so you notice.
- Every `export` task runs in the Airflow pool `botify_api`, whose slots are the tasks that run at once.
  Botify allows 5 requests/s per token, and each task is a separate process with its own client: `plan`
  gives each task 5/N requests/s (the notebook's `api_rate`) for a pool of N slots, so that together they
  never send more than 5 (each rounds down to whole requests per second: 2 slots send 2/s each). Create
  the pool with ONE slot per token, `airflow pools set botify_api 1 "Botify API: 5 requests/s per token"`
  (projects then take turns, each at the full 5/s), or with N slots (N from 2 to 5) and the same N in
  `BOTIFY_GRAPH_POOL_SLOTS` of the workers' environment: N projects' jobs then run on Botify at once. Tasks
  of other DAGs that use the same token belong in the same pool. (Many projects on one machine: one
  `botify-graph batch` process shares one 5/s budget among all of them; see docs/scheduling.md.)

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
botify-graph is imported inside the tasks, on the workers. `plan` reads the projects file there with the
parser `botify-graph batch` and the wizard's picker use (`botify_graph.projects`), so one file serves all
three: one URL per line with key=value settings, organisations with indented project slugs, CSV or YAML.
Validated with `scripts/airflow-check` (see docs/scheduling.md for the Airflow version and date).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.providers.papermill.operators.papermill import PapermillOperator
from airflow.sdk import dag, get_current_context, task

DAG_ID = "botify_graph_exports"
POOL = "botify_api"  # create it with 1 slot per Botify API token, or N slots and BOTIFY_GRAPH_POOL_SLOTS=N
PROJECTS_FILE_VAR = "BOTIFY_GRAPH_PROJECTS_FILE"  # default: botify_graph_projects.txt beside this file
NOTEBOOK_VAR = "BOTIFY_GRAPH_NOTEBOOK"  # default: the checkout's notebooks/link_graph.ipynb
OUT_VAR = "BOTIFY_GRAPH_OUT"  # the same variable the notebook reads; default $AIRFLOW_HOME/botify-graph
POOL_SLOTS_VAR = "BOTIFY_GRAPH_POOL_SLOTS"  # the slots of POOL (default 1): each task takes API_RATE / slots
API_RATE = 5.0  # requests per second Botify allows per token
MAX_POOL_SLOTS = 5  # beyond 5 processes, one request per second each would already exceed API_RATE
DEFAULT_PROJECTS_FILE = Path(__file__).resolve().with_name("botify_graph_projects.txt")


def task_rate(slots_setting: str) -> float:
    """Requests per second each task may send: API_RATE shared by the pool's slots (from POOL_SLOTS_VAR)."""
    text = slots_setting.strip() or "1"
    if not text.isdigit() or not 1 <= int(text) <= MAX_POOL_SLOTS:
        raise ValueError(
            f"{POOL_SLOTS_VAR}={slots_setting!r}: give the number of slots of the pool {POOL}, a whole number "
            f"from 1 to {MAX_POOL_SLOTS} (each task then sends at most {API_RATE:g}/slots requests per second)."
        )
    return API_RATE / int(text)


def plan_runs(
    projects: list[dict[str, Any]],
    names: list[str],
    *,
    notebook: str,
    out_dir: str,
    run_folder: str,
) -> list[dict[str, Any]]:
    """The PapermillOperator arguments of each project's task: its notebook run and where it is saved.

    `projects`: each project's notebook parameters; `names`: a file name for each (org__project).
    """
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
    from botify_graph.projects import ProjectsFileError, read_projects
    from botify_graph.reproduce import notebook_parameters

    path = Path(os.environ.get(PROJECTS_FILE_VAR, "").strip() or DEFAULT_PROJECTS_FILE)
    if not path.is_file():
        raise ProjectsFileError(
            f"No projects file at {path}: write one Botify project URL per line there, or set {PROJECTS_FILE_VAR} "
            "in the worker's environment to the file's path."
        )
    rows = read_projects(path).check()  # every line checked here, before any task sends a request
    rate = task_rate(os.environ.get(POOL_SLOTS_VAR, ""))
    airflow_home = Path(os.environ.get("AIRFLOW_HOME", "").strip() or Path.home() / "airflow")
    out_dir = Path(os.environ.get(OUT_VAR, "").strip() or airflow_home / "botify-graph").expanduser().resolve()
    dag_run = get_current_context()["dag_run"]
    run_folder = (dag_run.logical_date or dag_run.run_after).strftime("%Y-%m-%dT%H%M%S")
    (out_dir / "runs" / run_folder).mkdir(parents=True, exist_ok=True)  # papermill does not create it
    return plan_runs(
        [notebook_parameters(row.params(out_dir=str(out_dir), rate=rate)) for row in rows],
        [f"{row.ref.org}__{row.ref.project}" for row in rows],
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
