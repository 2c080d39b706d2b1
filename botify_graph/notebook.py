"""What `notebooks/link_graph.ipynb` calls: one notebook, three front ends.

The notebook holds a `parameters` cell and one code cell::

    settings = notebook_settings(project_url=project_url, analysis=analysis, ...)
    if settings.headless:
        result = await run_headless(settings)      # papermill: text progress, raises on failure
    else:
        wizard = show_wizard(settings)             # JupyterLab and Voila: the widget wizard

Paths are predictable whatever the current folder (papermill runs where it is invoked, JupyterLab and
Voila run in the notebook's folder): a relative `output_dir` is resolved against the *project home*,
which is `$BOTIFY_GRAPH_HOME`, else the nearest folder at or above the current one that holds
`notebooks/link_graph.ipynb` (the repository root), else the current folder.

Environment (never notebook parameters, so nothing secret lands in an output notebook):

    BOTIFY_API_TOKEN     the API token (else the token file written by the wizard)
    BOTIFY_API_BASE      API base URL when the `api_base` parameter is empty
    BOTIFY_GRAPH_OUT     output folder when the `output_dir` parameter is empty (default: downloads/)
    BOTIFY_GRAPH_STATE   the wizard's sidecar file (default: notebooks/link_graph.state.json)
    BOTIFY_GRAPH_HOME    the folder relative paths are resolved against
"""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .client import DEFAULT_BASE_URL
from .errors import BotifyError, ConfigError
from .pipeline import ExportParams, ExportResult
from .token import ENV_VAR as TOKEN_VAR

if TYPE_CHECKING:  # pragma: no cover
    from .wizard import Wizard

__all__ = [
    "API_BASE_VAR",
    "HOME_VAR",
    "MODES",
    "NOTEBOOK",
    "OUT_VAR",
    "STATE_VAR",
    "NotebookSettings",
    "Reproduction",
    "notebook_settings",
    "param_log_path",
    "project_home",
    "reproduce",
    "run_headless",
    "show_wizard",
    "sidecar_path",
]

API_BASE_VAR = "BOTIFY_API_BASE"
OUT_VAR = "BOTIFY_GRAPH_OUT"
STATE_VAR = "BOTIFY_GRAPH_STATE"
HOME_VAR = "BOTIFY_GRAPH_HOME"
NOTEBOOK = Path("notebooks") / "link_graph.ipynb"
STATE_NAME = "link_graph.state.json"
DEFAULT_OUT = "downloads"
MODES = ("auto", "wizard", "headless")


def project_home(start: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder relative paths are resolved against (see the module docstring)."""
    explicit = os.environ.get(HOME_VAR, "").strip()
    if explicit:
        return Path(explicit).expanduser().resolve()
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / NOTEBOOK).is_file():
            return folder
    return here


def _resolve(path: str | os.PathLike[str], home: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else home / p


def sidecar_path(home: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The wizard's sidecar: `$BOTIFY_GRAPH_STATE`, else `link_graph.state.json` beside the notebook."""
    home = home or project_home()
    explicit = (os.environ if environ is None else environ).get(STATE_VAR, "").strip()
    if explicit:
        return _resolve(explicit, home)
    return home / NOTEBOOK.parent / STATE_NAME


def param_log_path(sidecar: Path) -> Path:
    """The parameter log that goes with a sidecar, as the wizard names it: the sidecar with `.jsonl`."""
    return sidecar.with_suffix(".jsonl")


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConfigError(f"Parameter {name} must be text, got {value!r}.")
    return str(value).strip()


def _whole(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"Parameter {name} must be a whole number, got {value!r}.")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.replace("_", "").replace(",", "").strip())
        except ValueError:
            pass
    raise ConfigError(f"Parameter {name} must be a whole number, got {value!r}.")


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"Parameter {name} must be a number of seconds, got {value!r}.")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"Parameter {name} must be a number of seconds, got {value!r}.") from None


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes"}:
        return True
    if text in {"false", "0", "no", ""}:
        return False
    raise ConfigError(f"Parameter {name} must be True or False, got {value!r}.")


def parse_fields(meta_fields: Any) -> tuple[str, ...] | None:
    """'pagetype, clicks' → ('pagetype', 'clicks'); '' or None → None (every field the project has)."""
    if meta_fields is None:
        return None
    if isinstance(meta_fields, (list, tuple)):
        items = [str(f).strip() for f in meta_fields]
    else:
        items = [f.strip() for f in _text(meta_fields, "meta_fields").split(",")]
    items = [f for f in items if f]
    return tuple(items) or None


@dataclass(frozen=True)
class NotebookSettings:
    """The notebook's parameters, checked and resolved: what to run and where its files go."""

    mode: str  # "headless" or "wizard" (never "auto": that is resolved)
    params: ExportParams  # out_dir is absolute
    home: Path
    sidecar: Path
    param_log: Path

    @property
    def headless(self) -> bool:
        return self.mode == "headless"

    @property
    def out_dir(self) -> Path:
        return Path(self.params.out_dir)


def notebook_settings(
    *,
    project_url: Any = "",
    analysis: Any = "latest",
    max_edges: Any = 1_000_000,
    meta_fields: Any = "",
    output_dir: Any = "",
    api_base: Any = "",
    poll_timeout_s: Any = 3 * 3600,
    retry_failed: Any = False,
    mode: Any = "auto",
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> NotebookSettings:
    """Check the notebook's parameters and resolve defaults from the environment; raise ConfigError."""
    env = os.environ if environ is None else environ
    home = home or project_home()
    url = _text(project_url, "project_url")
    chosen = _text(mode, "mode").lower() or "auto"
    if chosen not in MODES:
        raise ConfigError(f"Parameter mode must be one of {', '.join(MODES)}, got {mode!r}.")
    if chosen == "auto":
        chosen = "headless" if url else "wizard"
    if chosen == "headless" and not url:
        raise ConfigError(
            "A headless run needs a project: pass -p project_url https://app.botify.com/<org>/<project>/ "
            "(any Botify URL of the project works)."
        )
    base = _text(api_base, "api_base") or env.get(API_BASE_VAR, "").strip() or DEFAULT_BASE_URL
    out = _text(output_dir, "output_dir") or env.get(OUT_VAR, "").strip() or DEFAULT_OUT
    params = ExportParams(
        project_url=url,
        analysis=_text(analysis, "analysis") or "latest",
        max_edges=_whole(max_edges, "max_edges"),
        fields=parse_fields(meta_fields),
        out_dir=_resolve(out, home),
        api_base=base,
        poll_timeout_s=_number(poll_timeout_s, "poll_timeout_s"),
        retry_failed=_flag(retry_failed, "retry_failed"),
    ).validated()
    state = sidecar_path(home, env)
    return NotebookSettings(mode=chosen, params=params, home=home, sidecar=state, param_log=param_log_path(state))


def _short(exc: BaseException) -> BaseException:
    """Drop the library frames and the chained httpx errors: the notebook shows our message, not a trace."""
    exc.__cause__ = None
    exc.__context__ = None
    exc.__suppress_context__ = True
    return exc.with_traceback(None)


async def run_headless(
    settings: NotebookSettings, *, stream: TextIO | None = None, token: str | None = None
) -> ExportResult:
    """Run the whole export with plain-text progress; raise a BotifyError with our message on failure."""
    from .pipeline import run_export
    from .report import TextReporter, summary_text
    from .token import load_token, token_path

    out = stream or sys.stdout
    reporter = TextReporter(out, tty=False)
    try:
        token = token or load_token()
        if not token:
            raise ConfigError(
                f"No Botify API token: set {TOKEN_VAR} in the environment of this run, or save one with the "
                f"wizard (it goes to {token_path()}). The token is never a notebook parameter, so it cannot "
                "end up in an output notebook."
            )
        p = settings.params
        which = p.analysis if p.analysis not in ("", "latest") else "named in the URL, else the newest"
        print(f"botify-graph: exporting {p.project_url} (analysis {which}) into {p.out_dir}", file=out)
        result = await run_export(p, token=token, on_event=reporter)
    except BotifyError as exc:
        reporter.close()
        raise _short(exc) from None
    reporter.close()
    print(summary_text(result, pages=result.meta.rows), file=out, flush=True)
    from .graph import headless_report

    try:
        report = await asyncio.to_thread(headless_report, result)
    except Exception as exc:  # the CSVs are complete: a report that fails is a note, not a failed run
        report = f"(The graph report could not be written: {exc})"
    print("\n" + report, file=out, flush=True)
    return result


def show_wizard(settings: NotebookSettings, *, display: bool = True) -> Wizard:
    """Build the wizard on the resolved sidecar, output folder and API base, and display it."""
    from .wizard import Wizard

    p = settings.params
    wizard = Wizard(
        sidecar_path=settings.sidecar,
        log_path=settings.param_log,
        out_dir=p.out_dir,
        api_base=p.api_base,
        poll_timeout_s=p.poll_timeout_s,
    )
    if display:
        from IPython.display import display as show

        show(wizard.widget)
    return wizard


@dataclass(frozen=True)
class Reproduction:
    """A wizard session turned into a papermill run: its pipeline, parameters and command line."""

    pipeline: str
    parameters: dict[str, Any]
    command: str
    params_file: Path | None = None


def write_params_file(path: Path, parameters: Mapping[str, Any]) -> Path:
    """Write papermill parameters as YAML (.yaml/.yml) or JSON (anything else) for `papermill -f`."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in {".yaml", ".yml"}:
        import yaml

        text = yaml.safe_dump(dict(parameters), sort_keys=False, allow_unicode=True)
    else:
        text = json.dumps(dict(parameters), indent=2, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def reproduce(
    sidecar: Path,
    *,
    pipeline: str | None = None,
    param_log: Path | None = None,
    extra: Mapping[str, Any] | None = None,
    params_file: Path | None = None,
    notebook: str = str(NOTEBOOK),
    output: str = "out.ipynb",
) -> Reproduction:
    """Turn what a person answered in the wizard into papermill parameters and a command line.

    The parameter log's latest submission per step wins; steps missing from it come from the sidecar.
    `pipeline` is any URL of the project (default: the sidecar's current pipeline). `extra` adds
    parameters such as api_base or output_dir. With `params_file`, the parameters are written there
    and the command uses `-f`.
    """
    from .state import ParamLog, Sidecar, papermill_command, papermill_parameters
    from .urls import clean_url

    side = Sidecar(sidecar)
    log = ParamLog(param_log or param_log_path(sidecar))
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
    parameters = papermill_parameters(values)
    export = values.get("export") or {}  # the export step logs the full run: where files went, which API
    fields = export.get("fields")
    for name, value in (
        ("project_url", export.get("project_url")),
        ("analysis", export.get("analysis")),
        ("max_edges", export.get("max_edges")),
        ("meta_fields", ",".join(fields) if isinstance(fields, list) else None),
        ("output_dir", export.get("out_dir")),
        ("api_base", export.get("api_base") if export.get("api_base") != DEFAULT_BASE_URL else None),
        ("poll_timeout_s", export.get("poll_timeout_s") if export.get("poll_timeout_s") != 3 * 3600 else None),
    ):
        if value not in (None, ""):
            parameters.setdefault(name, value)
    parameters.setdefault("project_url", pid)
    parameters.update({k: v for k, v in (extra or {}).items() if v not in (None, "")})
    if params_file is not None:
        write_params_file(params_file, parameters)
        command = papermill_command({}, notebook, output) + f" -f {shlex.quote(str(params_file))}"
    else:
        command = papermill_command(parameters, notebook, output)
    return Reproduction(pipeline=pid, parameters=parameters, command=command, params_file=params_file)
