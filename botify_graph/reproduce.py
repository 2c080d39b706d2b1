"""A run turned into papermill: the one mapping from export settings to the notebook's parameters.

    notebook_parameters(ExportParams(...))   -> {"project_url": ..., "max_edges": ..., ...}
    papermill_command(parameters)            -> "papermill notebooks/link_graph.ipynb out.ipynb -r project_url ..."
    reproduce(sidecar)                       -> the wizard's answers (sidecar + parameter log) as both

The wizard's Result card, `botify-graph reproduce` and the scheduling recipes all go through
`notebook_parameters`, so they cannot disagree. The token is never a parameter.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import layout
from .errors import ConfigError
from .pipeline import ExportParams

__all__ = ["Reproduction", "notebook_parameters", "papermill_command", "reproduce", "write_params_file"]


def notebook_parameters(params: ExportParams) -> dict[str, Any]:
    """The notebook's parameters for one export: the one mapping from export settings to papermill `-p`.

    The wizard's "reproduce" command, `botify-graph reproduce` and the Airflow recipe all go through it.
    Settings at the notebook's defaults are left out (the notebook's default applies); the token never is
    a parameter.
    """
    out: dict[str, Any] = {"project_url": params.project_url}
    if params.analysis not in (None, "", "latest"):
        out["analysis"] = params.analysis
    out["max_edges"] = params.max_edges
    if params.fields is not None:
        out["meta_fields"] = ",".join(params.fields)
    if params.gsc_period is not None:
        out["gsc_period"] = params.gsc_period
    if params.out_dir is not None:
        out["output_dir"] = str(params.out_dir)
    if params.api_base not in (None, "", layout.DEFAULT_API_BASE):
        out["api_base"] = params.api_base
    if params.poll_timeout_s != layout.POLL_TIMEOUT_S:
        out["poll_timeout_s"] = params.poll_timeout_s
    if params.retry_failed:
        out["retry_failed"] = True
    if params.complete:
        out["complete"] = True
    if params.allow_cut:
        out["allow_cut"] = True
    if params.max_jobs != layout.MAX_JOBS:
        out["max_jobs"] = params.max_jobs
    if params.rate is not None:
        out["api_rate"] = params.rate
    return out


def papermill_command(
    params: Mapping[str, Any], notebook: str = str(layout.NOTEBOOK), output: str = "out.ipynb"
) -> str:
    """A shell-quoted `papermill` command line that runs `notebook` with `params`.

    Strings go through `-r` (raw) so papermill keeps them strings (an analysis slug such as "20240101"
    would otherwise become an int); numbers and booleans through `-p`; lists and dicts as JSON via `-y`.
    None values are left out, so the notebook's default applies.
    """
    parts = ["papermill", notebook, output]
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, str):
            parts += ["-r", name, value]
        elif isinstance(value, (bool, int, float)):
            parts += ["-p", name, str(value)]
        else:
            parts += ["-y", json.dumps({name: value})]
    return " ".join(shlex.quote(part) for part in parts)


@dataclass(frozen=True)
class Reproduction:
    """A wizard session turned into a papermill run: its pipeline, parameters and command line."""

    pipeline: str
    parameters: dict[str, Any]
    command: str
    params_file: Path | None = None


def write_params_file(path: Path, parameters: Mapping[str, Any]) -> Path:
    """Write papermill parameters as YAML (.yaml/.yml) or JSON (anything else) for `papermill -f`.

    Written atomically; a read-only or full folder is a StorageError that names it."""
    from .fsutil import atomic_write_text

    if path.suffix.lower() in {".yaml", ".yml"}:
        import yaml

        text = yaml.safe_dump(dict(parameters), sort_keys=False, allow_unicode=True)
    else:
        text = json.dumps(dict(parameters), indent=2, ensure_ascii=False) + "\n"
    atomic_write_text(path, text)
    return path


def reproduce(
    sidecar: Path,
    *,
    pipeline: str | None = None,
    param_log: Path | None = None,
    extra: Mapping[str, Any] | None = None,
    params_file: Path | None = None,
    notebook: str = str(layout.NOTEBOOK),
    output: str = "out.ipynb",
) -> Reproduction:
    """Turn what a person answered in the wizard into papermill parameters and a command line.

    The parameter log's latest submission per step wins; steps missing from it come from the sidecar.
    `pipeline` is any URL of the project (default: the sidecar's current pipeline). `extra` overrides
    parameters such as api_base or output_dir. With `params_file`, the parameters are written there
    and the command uses `-f`.
    """
    from .state import ParamLog, Sidecar, export_settings
    from .urls import clean_url

    side = Sidecar(sidecar)
    log = ParamLog(param_log or layout.param_log_path(sidecar))
    pid = clean_url(pipeline).url if pipeline else side.current()
    if pid is None:
        raise ConfigError(
            f"{sidecar} has no current pipeline: finish at least the project step of the wizard first, "
            "or pass --pipeline with the project's URL."
        )
    record = side.pipeline(pid)
    logged = log.latest_values(pid)
    if record is None and not logged:
        known = side.pipelines()
        raise ConfigError(
            f"No wizard answers for {pid} in {sidecar} or {log.path}. "
            + (f"Known pipelines: {', '.join(known)}." if known else "Run the wizard first.")
        )
    values: dict[str, dict[str, Any]] = dict(record["steps"]) if record else {}
    values.update(logged)
    settings = export_settings(values)
    settings.setdefault("project_url", pid)
    parameters = notebook_parameters(ExportParams(**settings))
    parameters.update({k: v for k, v in (extra or {}).items() if v not in (None, "")})
    if params_file is not None:
        write_params_file(params_file, parameters)
        command = papermill_command({}, notebook, output) + f" -f {shlex.quote(str(params_file))}"
    else:
        command = papermill_command(parameters, notebook, output)
    return Reproduction(pipeline=pid, parameters=parameters, command=command, params_file=params_file)
