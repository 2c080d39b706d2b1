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
import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from . import layout
from .errors import BatchFailed, BotifyError, ConfigError
from .pipeline import ExportParams, ExportResult
from .projects import flag, seconds, whole
from .projects import parse_fields as _parse_fields
from .token import ENV_VAR as TOKEN_VAR

if TYPE_CHECKING:  # pragma: no cover
    from .batch import BatchResult
    from .trace import Trace
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
    return whole(value, f"Parameter {name}")


def _number(value: Any, name: str) -> float:
    return seconds(value, f"Parameter {name}")


def _flag(value: Any, name: str) -> bool:
    return flag(value, f"Parameter {name}")


def parse_fields(meta_fields: Any) -> tuple[str, ...] | None:
    """'pagetype, http_code' → ('pagetype', 'http_code'); '' or None → None (every default field the project has).

    Short names and fields as Botify names them are both accepted (`fields.field_key`); the catalogue checks
    them when the export runs."""
    if meta_fields is not None and not isinstance(meta_fields, (list, tuple)):
        meta_fields = _text(meta_fields, "meta_fields")
    return _parse_fields(meta_fields, "Parameter meta_fields")


def _rate(value: Any) -> float | None:
    """api_rate: 0 or empty → None (then $BOTIFY_GRAPH_RATE, else 5); else a positive number."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = _number(value, "api_rate")
    if number == 0:
        return None
    return layout.api_rate(number)


@dataclass(frozen=True)
class NotebookSettings:
    """The notebook's parameters, checked and resolved: what to run and where its files go."""

    mode: str  # "headless" or "wizard" (never "auto": that is resolved)
    params: ExportParams  # out_dir is absolute
    home: Path
    sidecar: Path
    param_log: Path
    candidates_file: Path | None = None  # a projects file (see botify_graph.projects)
    trace_file: Path | None = None  # where to record a trace of every API request (see botify_graph.trace)
    new_only: bool = False  # batch: skip a project whose newest analysis is already exported
    compare: bool = False  # batch: write what changed since the previous exported analysis

    @property
    def headless(self) -> bool:
        return self.mode == "headless"

    @property
    def batch(self) -> bool:
        """A headless run without a project_url and with a candidates_file: every project of that file."""
        return self.headless and not self.params.project_url and self.candidates_file is not None

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
    complete: Any = False,
    allow_cut: Any = False,
    max_jobs: Any = layout.MAX_JOBS,
    mode: Any = "auto",
    candidates_file: Any = "",
    trace_file: Any = "",
    api_rate: Any = 0,
    new_only: Any = False,
    compare: Any = False,
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
    candidates = _text(candidates_file, "candidates_file")
    if chosen == "headless" and not url and not candidates:
        raise ConfigError(
            "A headless run needs a project: pass -p project_url https://app.botify.com/<org>/<project>/ "
            "(any Botify URL of the project works), or -p candidates_file <projects file> to export every "
            "project of a file (a batch)."
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
        complete=_flag(complete, "complete"),
        allow_cut=_flag(allow_cut, "allow_cut"),
        max_jobs=_whole(max_jobs, "max_jobs"),
        rate=_rate(api_rate),
    ).validated()
    state = layout.sidecar_path(home, environ=environ)
    source = "Parameter candidates_file"
    if (
        not candidates
        and chosen == "wizard"
        and (  # the app's picker; a batch run never reads it
            env_candidates := (os.environ if environ is None else environ).get(layout.CANDIDATES_VAR, "").strip()
        )
    ):
        candidates, source = env_candidates, f"${layout.CANDIDATES_VAR} (botify-graph app --candidates)"
    candidates_path = (
        (Path(candidates).expanduser() if Path(candidates).expanduser().is_absolute() else home / candidates)
        if candidates
        else None
    )
    if candidates_path is not None and not candidates_path.is_file():
        raise ConfigError(f"{source}: {candidates_path} is not a file. Give the path of a projects file.")
    trace = _text(trace_file, "trace_file")
    trace_path = (Path(trace).expanduser() if Path(trace).is_absolute() else home / trace) if trace else None
    return NotebookSettings(
        mode=chosen,
        params=params,
        home=home,
        sidecar=state,
        param_log=layout.param_log_path(state),
        candidates_file=candidates_path,
        trace_file=trace_path,
        new_only=_flag(new_only, "new_only"),
        compare=_flag(compare, "compare"),
    )


def _short(exc: BaseException) -> BaseException:
    """Drop the library frames and the chained httpx errors: the notebook shows our message, not a trace."""
    exc.__cause__ = None
    exc.__context__ = None
    exc.__suppress_context__ = True
    return exc.with_traceback(None)


@contextlib.contextmanager
def _trace(settings: NotebookSettings, out: TextIO) -> Iterator[Trace | None]:
    """The trace `settings.trace_file` asks for (None without one), said in the output when it starts."""
    from .trace import open_trace

    with open_trace(settings.trace_file, front_end="papermill") as trace:
        if trace is not None:
            print(f"botify-graph: recording a trace of the API requests in {trace.path}", file=out)
        yield trace


async def run_headless(
    settings: NotebookSettings, *, stream: TextIO | None = None, token: str | None = None
) -> ExportResult | BatchResult:
    """Run the whole export with plain-text progress; raise a BotifyError with our message on failure.

    A batch (`settings.batch`: no project_url, a candidates_file) runs every project of the file and
    returns the BatchResult; it raises after all of them ran when any failed.
    """
    from .pipeline import run_export
    from .render.progress import TextReporter, summary_text
    from .token import load_token, token_path

    out = stream or sys.stdout
    try:
        token = token or load_token()
        if not token:
            raise ConfigError(
                f"No Botify API token: set {TOKEN_VAR} in the environment of this run, or save one with the "
                f"wizard (it goes to {token_path()}). The token is never a notebook parameter, so it cannot "
                "end up in an output notebook."
            )
    except BotifyError as exc:
        raise _short(exc) from None
    if settings.batch:
        return await _run_batch(settings, out, token)
    reporter = TextReporter(out, tty=False)
    try:
        p = settings.params
        which = p.analysis if p.analysis not in ("", "latest") else "named in the URL, else the newest"
        print(f"botify-graph: exporting {p.project_url} (analysis {which}) into {p.out_dir}", file=out)
        with _trace(settings, out) as trace:
            result = await run_export(p, token=token, on_event=reporter, trace=trace)
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


async def _run_batch(settings: NotebookSettings, out: TextIO, token: str) -> BatchResult:
    """Every project of the candidates file, as `botify-graph batch` does; the notebook's settings are the
    defaults of rows that give none; raise after the last row when any failed."""
    from .batch import BatchConsole, run_batch

    p = settings.params
    defaults: dict[str, Any] = {"max_edges": p.max_edges, "poll_timeout_s": p.poll_timeout_s}
    defaults.update({"fields": p.fields} if p.fields is not None else {})
    defaults.update({"retry_failed": True} if p.retry_failed else {})
    defaults.update({"gsc_period": p.gsc_period} if p.gsc_period is not None else {})
    console = BatchConsole(out, tty=False)
    try:
        with _trace(settings, out) as trace:
            result = await run_batch(
                cast(Path, settings.candidates_file),
                out_dir=p.out_dir,
                api_base=p.api_base,
                rate=p.rate,
                new_only=settings.new_only,
                compare=settings.compare,
                defaults=defaults,
                token=token,
                on_event=console,
                trace=trace,
            )
    except BotifyError as exc:
        raise _short(exc) from None
    finally:
        console.close()
    print("\n" + console.results(result), file=out, flush=True)
    if not result.ok:
        names = ", ".join(r.project for r in result.failed)
        raise _short(
            BatchFailed(
                f"{len(result.failed)} of {len(result.rows)} projects failed ({names}); the others were exported. "
                f"Why, row by row: {result.results_md}. Run again once fixed: what succeeded is reused."
            )
        )
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
        trace_file=settings.trace_file,
    )
    if display:
        from IPython.display import display as show

        show(wizard.widget)
    return wizard
