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

Every path and default comes from `botify_graph.layout` (the environment variables are listed there).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from . import layout
from .errors import BotifyError, ConfigError
from .pipeline import ExportParams, ExportResult
from .token import ENV_VAR as TOKEN_VAR

if TYPE_CHECKING:  # pragma: no cover
    from .wizard import Wizard

__all__ = [
    "MODES",
    "NotebookSettings",
    "notebook_settings",
    "run_headless",
    "show_wizard",
]

MODES = ("auto", "wizard", "headless")


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
    """'pagetype, http_code' → ('pagetype', 'http_code'); '' or None → None (every default field the project has).

    Short names and fields as Botify names them are both accepted (`fields.field_key`); the catalogue checks
    them when the export runs."""
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
    candidates_file: Path | None = None  # a file of projects (see wizard.parse_candidates)

    @property
    def headless(self) -> bool:
        return self.mode == "headless"

    @property
    def out_dir(self) -> Path:
        return self.params.out


def notebook_settings(
    *,
    project_url: Any = "",
    analysis: Any = "latest",
    max_edges: Any = layout.MAX_EXPORT_ROWS,
    meta_fields: Any = "",
    gsc_period: Any = "",
    output_dir: Any = "",
    api_base: Any = "",
    poll_timeout_s: Any = layout.POLL_TIMEOUT_S,
    retry_failed: Any = False,
    mode: Any = "auto",
    candidates_file: Any = "",
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> NotebookSettings:
    """Check the notebook's parameters and resolve defaults from the environment; raise ConfigError."""
    home = home or layout.project_home(environ=environ)
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
    params = ExportParams(
        project_url=url,
        analysis=_text(analysis, "analysis") or "latest",
        max_edges=_whole(max_edges, "max_edges"),
        fields=parse_fields(meta_fields),
        gsc_period=_text(gsc_period, "gsc_period") or None,
        out_dir=layout.out_dir(_text(output_dir, "output_dir") or None, base=home, home=home, environ=environ),
        api_base=layout.api_base(_text(api_base, "api_base") or None, environ=environ),
        poll_timeout_s=_number(poll_timeout_s, "poll_timeout_s"),
        retry_failed=_flag(retry_failed, "retry_failed"),
    ).validated()
    state = layout.sidecar_path(home, environ=environ)
    candidates = _text(candidates_file, "candidates_file")
    candidates_path = (
        (Path(candidates).expanduser() if Path(candidates).is_absolute() else home / candidates) if candidates else None
    )
    if candidates_path is not None and not candidates_path.is_file():
        raise ConfigError(
            f"Parameter candidates_file: {candidates_path} is not a file. Give the path of a projects file."
        )
    return NotebookSettings(
        mode=chosen,
        params=params,
        home=home,
        sidecar=state,
        param_log=layout.param_log_path(state),
        candidates_file=candidates_path,
    )


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
    from .render.progress import TextReporter, summary_text
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
    from .reports import headless_report

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
        candidates_path=settings.candidates_file,
    )
    if display:
        from IPython.display import display as show

        show(wizard.widget)
    return wizard
