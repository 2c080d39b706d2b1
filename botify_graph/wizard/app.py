"""`Wizard`: the controller that owns the model, the sidecar, the tasks and which card is open.

    connect → project → analysis → depth → fields → export → result

One card is open at a time (the *focus*); the cards before it are finished and collapsed to a summary,
with a Change button that reverts to them (later answers are cleared, earlier ones kept). Every answer
is saved to the sidecar (`Sidecar.save_step`) and every submission appended to the parameter log, so a
wizard built on the same sidecar in a new kernel lands on the first unfinished step. An export saved as
ACTIVE is started again on build: the export registry makes `run_export` resume the same Botify jobs.

Callbacks never raise into ipywidgets (which would only print to the log console): `handler` and
`observer` route any exception to the card's error area, and `start` runs long work as an asyncio task
whose exceptions go there too. The wizard never applies nest_asyncio and never writes with `with out:`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import ipywidgets as w

from .. import api, layout, sync
from ..client import make_client
from ..errors import BotifyError, ConfigError, StateFileError
from ..fsutil import utc_now_iso
from ..queries import META_BY_NAME
from ..registry import KINDS, ExportRecord, ExportRegistry
from ..state import STEPS, ParamLog, Sidecar
from ..token import ENV_VAR, load_token, token_source
from ..urls import ProjectRef
from .base import Step, registry_for
from .export import ExportStep, ResultStep
from .model import (
    AnalysisAnswer,
    DepthAnswer,
    ExportAnswer,
    FieldsAnswer,
    FileAnswer,
    PipelineModel,
    ProjectAnswer,
    StepState,
    is_complete,
)
from .steps import AnalysisStep, ConnectStep, DepthStep, FieldsStep, ProjectStep
from .view import GAP, MAX_WIDTH, Confirm, button, error_html, esc, note, show

__all__ = ["Wizard", "wizard"]

log = logging.getLogger("botify_graph.wizard")


STEP_CLASSES: tuple[type[Step], ...] = (
    ConnectStep,
    ProjectStep,
    AnalysisStep,
    DepthStep,
    FieldsStep,
    ExportStep,
    ResultStep,
)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def log_values(step: str, answer: Any) -> dict[str, Any]:
    """What the parameter log records for one submission (the depth table and files are left out)."""
    if isinstance(answer, DepthAnswer):
        return {"max_edges": answer.max_edges, "depth": answer.depth, "edges": answer.edges}
    if isinstance(answer, ExportAnswer):
        return answer.params_json()
    if isinstance(answer, AnalysisAnswer):
        return {"slug": answer.slug, "name": answer.name}
    if isinstance(answer, FieldsAnswer):
        return {"fields": list(answer.fields), "gsc_period": answer.gsc_period}
    if isinstance(answer, ProjectAnswer):
        return {"url": answer.url, "org": answer.org, "project": answer.project}
    data: dict[str, Any] = answer.to_json()
    return data


class Wizard:
    """The botify-graph wizard: `Wizard(...).widget` is an ipywidgets VBox to display.

    `sidecar_path` and `log_path` (default: the sidecar's name with `.jsonl`) are the only memory;
    `out_dir` is where the CSVs and the export registry go; `token` (else BOTIFY_API_TOKEN, else the token
    file) is checked on build; `sleep` and `poll_timeout_s` go to `run_export` (tests pass a fast sleep).
    """

    def __init__(
        self,
        *,
        sidecar_path: str | os.PathLike[str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
        out_dir: str | os.PathLike[str] | None = None,
        api_base: str | None = None,
        candidates_path: str | os.PathLike[str] | None = None,
        token: str | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        poll_timeout_s: float = layout.POLL_TIMEOUT_S,
        notebook_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        sidecar = Path(sidecar_path) if sidecar_path is not None else layout.sidecar_path()
        self.sidecar = Sidecar(sidecar)
        self.log_path = Path(log_path) if log_path is not None else layout.param_log_path(sidecar)
        self.log = ParamLog(self.log_path)
        self.out_dir = str(layout.out_dir(out_dir))
        self.api_base = layout.api_base(api_base)
        self.sleep = sleep
        self.poll_timeout_s = poll_timeout_s
        self.notebook_dir = Path(notebook_dir) if notebook_dir is not None else Path.cwd()
        self._arg_token = token.strip() if isinstance(token, str) and token.strip() else None
        self.token: str | None = None  # the verified token, in memory only
        self.connected = False
        self.tasks: set[asyncio.Task[Any]] = set()
        self.model = PipelineModel()
        self.focus = 0
        self.error: BotifyError | None = None

        self._build_toolbar()
        self.step_list: list[Step] = [cls(self, i) for i, cls in enumerate(STEP_CLASSES)]
        self.steps: dict[str, Step] = {s.name: s for s in self.step_list}
        project = self.steps["project"]
        assert isinstance(project, ProjectStep)
        project.load_candidates(candidates_path)
        self.widget = w.VBox(
            [self.toolbar, *(s.card.box for s in self.step_list)],
            layout=w.Layout(width="100%", max_width=MAX_WIDTH, padding="4px"),
        )
        try:
            sync.wizard_shown()  # from now on no blocking wrapper may patch this kernel's loop
            self._load()
        except (StateFileError, ConfigError) as exc:
            self._broken(exc)

    def __repr__(self) -> str:  # never shows the token
        where = STEPS[self.focus] if self.error is None else "error"
        return f"Wizard(sidecar={str(self.sidecar.path)!r}, pipeline={self.model.pid!r}, step={where!r})"

    # -- display ------------------------------------------------------------------------------------

    def show(self) -> None:
        """Display the wizard (in a notebook cell or a Voila page)."""
        from IPython.display import display

        display(self.widget)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # -- build and resume ---------------------------------------------------------------------------

    def _build_toolbar(self) -> None:
        self.title = w.HTML(
            '<div style="font-size:1.25em;font-weight:700;margin:2px 0">botify-graph '
            '<span style="font-weight:400;color:#616161">· the internal link graph of a Botify project</span></div>'
        )
        self.pipeline_label = w.HTML(layout=w.Layout(flex="1 1 auto"))
        self.new_button = button("+ New project", tooltip="Start another pipeline (this one is kept)")
        self.finalize_button = button("Finalize", tooltip="Lock this pipeline: its answers become read-only")
        self.unfinalize_button = button("Unfinalize", tooltip="Unlock this pipeline to change its answers")
        self.new_button.on_click(self.handler(None, self.new_project))
        self.finalize_button.on_click(self.handler(None, self.finalize))
        self.unfinalize_button.on_click(self.handler(None, self.unfinalize))
        self.message = w.HTML()
        self.confirm = Confirm()
        self.toolbar = w.VBox(
            [
                self.title,
                w.HBox(
                    [self.pipeline_label, self.new_button, self.finalize_button, self.unfinalize_button],
                    layout=w.Layout(align_items="center", width="100%", flex_flow="row wrap"),
                ),
                self.message,
                self.confirm.box,
            ],
            layout=w.Layout(width="100%", margin=f"0 0 {GAP} 0"),
        )

    def _load(self) -> None:
        pid = self.sidecar.current()
        if pid:
            self.model = PipelineModel.from_record(pid, self.sidecar.pipeline(pid))
            self._fill_all()
        self.focus = 0
        connect = self.steps["connect"]
        try:
            token, origin = self.stored_token_with_origin()
        except ConfigError as exc:
            self.render()
            self.fail(connect, exc)
            return
        if token and _running_loop() is not None:
            assert isinstance(connect, ConnectStep)
            connect.retry_action = connect.on_verify
            self.start(connect, connect.check(token, origin, auto=True))
        else:
            self.render()
            self.enter(connect)

    def _broken(self, exc: BotifyError) -> None:
        """A corrupt or newer sidecar (or a patched loop): say so, name the file, show no steps, write nothing."""
        self.error = exc
        for step in self.step_list:
            step.cancel()
        hint = (
            note(
                f"Nothing was written to {esc(exc.path)}. Fix or move that file, then run this cell again "
                "(or give the wizard another sidecar_path)."
            )
            if isinstance(exc, StateFileError)
            else ""
        )
        self.widget.children = (self.title, w.HTML(error_html(f"The wizard cannot start: {exc}") + hint))

    def _fill_all(self) -> None:
        for step in self.step_list:
            answer = self.model.answer(step.name)
            if answer is not None:
                try:
                    step.fill(answer)
                except Exception as exc:
                    self.fail(step, exc)

    # -- tokens and clients -------------------------------------------------------------------------

    def stored_token_with_origin(self) -> tuple[str | None, str]:
        """The token to try without asking, and where it is from (argument, environment, file or none)."""
        if self._arg_token:
            return self._arg_token, "argument"
        token = load_token()
        return (token, token_source()) if token else (None, "none")

    def stored_token(self) -> str | None:
        return self.stored_token_with_origin()[0]

    @staticmethod
    def env_token_set() -> bool:
        return bool(os.environ.get(ENV_VAR, "").strip())

    def require_token(self) -> str:
        if not self.token:
            raise ConfigError("Connect first (step 1): the wizard has no verified API token in this session.")
        return self.token

    def client(self) -> httpx.AsyncClient:
        """A client for one step's calls; use it with `async with`."""
        return make_client(self.require_token(), base_url=self.api_base)

    async def verify(self, token: str) -> str:
        async with make_client(token, base_url=self.api_base) as client:
            return await api.verify_token(client)

    def registry(self) -> ExportRegistry:
        return registry_for(self.out_dir)

    # -- callbacks, tasks and errors ------------------------------------------------------------------

    def handler(self, step: Step | None, fn: Callable[[], Any]) -> Callable[..., None]:
        """A button callback that runs `fn` and routes any exception to the step's card (or the toolbar)."""

        def callback(*_: Any) -> None:
            self._call(step, fn)

        return callback

    def observer(self, step: Step | None, fn: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], None]:
        """A trait observer that routes any exception to the step's card."""

        def callback(change: dict[str, Any]) -> None:
            self._call(step, lambda: fn(change))

        return callback

    def _call(self, step: Step | None, fn: Callable[[], Any]) -> None:
        if self.error is not None:
            return
        if step is None:
            self.message.value = ""
        try:
            fn()
        except Exception as exc:
            if step is None:
                log.debug("wizard toolbar action failed", exc_info=True)
                self.message.value = error_html(self.readable(exc))
            else:
                self.fail(step, exc)

    def start(self, step: Step, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        """Run `coro` as the step's task (one at a time); its exceptions go to the step's card."""
        if step.running:
            coro.close()
            return None
        loop = _running_loop()
        if loop is None:
            coro.close()
            raise ConfigError(
                "The wizard needs a running event loop: display it in JupyterLab, Jupyter Notebook or Voila."
            )
        step.state = StepState.ACTIVE
        step.card.set_error(None)
        task = loop.create_task(self._guard(step, coro))
        step.task = task
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        self.render()
        return task

    async def _guard(self, step: Step, coro: Coroutine[Any, Any, Any]) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.fail(step, exc)

    def fail(self, step: Step, exc: BaseException) -> None:
        """Show `exc` as a readable message in the step's card and mark the step FAIL."""
        if not isinstance(exc, BotifyError):
            log.debug("wizard step %s failed", step.name, exc_info=exc)
        step.card.set_error(self.readable(exc))
        step.set(StepState.FAIL, "")  # the error replaces whatever the step was saying it did

    def readable(self, exc: BaseException) -> str:
        """A message a person can act on, with any token scrubbed; never a traceback."""
        if isinstance(exc, BotifyError):
            text = str(exc)
        elif isinstance(exc, OSError):
            where = f" ({exc.filename})" if exc.filename else ""
            text = f"{exc.strerror or exc}{where}. Check the path and its permissions, then retry."
        else:
            text = (
                f"Something unexpected went wrong ({type(exc).__name__}: {exc}). Retry; if it happens again, "
                "report it with the steps that led here."
            )
        return self.scrub(text)

    def scrub(self, text: str) -> str:
        for secret in {self.token, self._arg_token, os.environ.get(ENV_VAR, "").strip() or None}:
            if secret and len(secret) >= 4:
                text = text.replace(secret, "••••")
        return text

    async def wait(self, timeout: float | None = None) -> None:
        """Wait until no task of the wizard runs (tasks may start further tasks)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            pending = {t for t in self.tasks if not t.done()}
            if not pending:
                return
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"the wizard was still busy after {timeout} s")
            await asyncio.wait(pending, timeout=left)

    def cancel(self) -> None:
        """Cancel every running task (the sidecar keeps an ACTIVE export, which resumes on the next build)."""
        for task in list(self.tasks):
            task.cancel()

    # -- navigation -----------------------------------------------------------------------------------

    def landing(self) -> int:
        """The card to open: Connect until a token is verified, then the first unfinished step."""
        return 0 if not self.connected else self.model.landing(after=0)

    def enter(self, step: Step, *, reverted: bool = False) -> None:
        try:
            step.enter(reverted=reverted)
        except Exception as exc:
            self.fail(step, exc)

    def goto(self, index: int, *, reverted: bool = False) -> None:
        """Open the card at `index`; later cards without an answer go back to INIT."""
        self.focus = index
        for later in self.step_list[index + 1 :]:
            if not is_complete(later.name, self.model.answer(later.name)):
                later.state = StepState.INIT
        step = self.step_list[index]
        step.state = StepState.READY
        self.render()
        self.enter(step, reverted=reverted)

    def next(self, index: int | None = None) -> None:
        """Next: only from the open card (`index`, default the open one), and only once it is SUCCESS."""
        if index is not None and index != self.focus:
            return  # a stale click on a card that is no longer open
        step = self.step_list[self.focus]
        if step.state != StepState.SUCCESS:
            raise ConfigError("Finish this step first: Next is possible once it shows ✓.")
        self.goto(self.model.landing(after=self.focus) if self.connected else 0)

    def revert(self, name: str, *, confirmed: bool = False) -> None:
        """Go back to step `name`: its answer and every later one are cleared; earlier answers are kept."""
        index = STEPS.index(name)
        if self.model.finalized:
            raise ConfigError("This pipeline is finalized, so its answers are read-only. Unfinalize it first.")
        export = self.steps["export"]
        if export.running and index <= export.index and not confirmed:
            self.steps[name].card.confirm.ask(
                "An export is running. Going back stops following it here; the Botify jobs keep running and the "
                "same export started again resumes them. Go back?",
                lambda: self._call(self.steps[name], lambda: self.revert(name, confirmed=True)),
                yes="Go back",
            )
            return
        for step in self.step_list[index:]:
            step.cancel()
        if self.model.pid:
            self.sidecar.clear_steps_from(self.model.pid, name)
        self.model.forget_from(name)
        if name == "connect":
            self.connected = False
        for step in self.step_list[index:]:
            step.clear()
            step.card.confirm.hide()
            step.retry_action = None
            step.state = StepState.INIT
        self.goto(index, reverted=True)

    # -- pipelines ----------------------------------------------------------------------------------

    def has_pipeline(self, pid: str) -> bool:
        try:
            record = self.sidecar.pipeline(pid)
        except StateFileError:
            return False
        return record is not None and "project" in record.get("steps", {})

    def submit(self, step: str, answer: Any) -> None:
        """Save one step's answer to the sidecar, append it to the parameter log, and keep it in the model."""
        self.save_only(step, answer)
        if self.model.pid:
            self.log.append(self.model.pid, step, log_values(step, answer))

    def save_only(self, step: str, answer: Any) -> None:
        """Save one step's answer to the sidecar (no log line) and keep it in the model."""
        if self.model.pid:
            self.sidecar.save_step(self.model.pid, step, answer.to_json())
        self.model.answers[step] = answer

    def choose_project(self, ref: ProjectRef) -> None:
        """Use a project: a URL whose pipeline exists switches to it; otherwise it becomes this pipeline."""
        pid = ref.url
        if pid != self.model.pid and self.has_pipeline(pid):
            self.load_pipeline(pid)
            self.message.value = note(f"Switched to the saved pipeline <code>{esc(pid)}</code>.")
            return
        self.sidecar.set_current(pid)
        record = self.sidecar.pipeline(pid) or {}
        if pid != self.model.pid:
            connect = self.model.answer("connect")
            self.model = PipelineModel(pid=pid, finalized=bool(record.get("finalized")))
            if connect is not None:
                self.model.answers["connect"] = connect
        connect = self.model.answer("connect")
        if connect is not None:
            self.submit("connect", connect)
        answer = ProjectAnswer(url=pid, org=ref.org, project=ref.project, analysis_hint=ref.analysis)
        self.submit("project", answer)
        project = self.steps["project"]
        assert isinstance(project, ProjectStep)
        project.succeed(answer)

    def _replace_model(self, model: PipelineModel) -> None:
        """Stop the steps after Connect, clear them and switch to `model`, staying connected."""
        for step in self.step_list[1:]:
            step.cancel()
        connect = self.model.answer("connect")
        self.model = model
        if connect is not None and self.connected:
            self.model.answers["connect"] = connect
        for step in self.step_list[1:]:
            step.clear()
            step.retry_action = None
            step.state = StepState.INIT

    def load_pipeline(self, pid: str) -> None:
        """Switch to the saved pipeline `pid` and open its first unfinished step."""
        self.sidecar.set_current(pid)
        self._replace_model(PipelineModel.from_record(pid, self.sidecar.pipeline(pid)))
        self._fill_all()
        self.goto(self.landing())

    def open_exported(self, slug: str, name: str | None, records: dict[str, ExportRecord]) -> None:
        """Choose an analysis whose files exist: answer the later steps from the registry and open the result."""
        registry = self.registry()
        links, meta = records["links"], records["meta"]
        files = {}
        for kind in KINDS:
            record = records[kind]
            path = registry.file_path(record)
            files[kind] = FileAnswer(str(path), record.rows or 0, record.job_id, reused=True)
        project = self.model.answer("project")
        if project is None:
            raise ConfigError("Choose a project first (step 2).")
        self.submit("analysis", AnalysisAnswer(slug=slug, name=name, exported=True))
        depth = DepthAnswer(max_edges=links.max_edges, depth=links.depth, edges=links.rows or 0, reused=True)
        self.submit("depth", depth)
        period = meta.options.get("gsc_period")
        dates = meta.options.get("gsc_dates")
        fields = FieldsAnswer(
            fields=tuple(meta.fields),
            available=tuple(f for f in meta.fields if f in META_BY_NAME),
            gsc_period=period if isinstance(period, str) else None,
            period=(dates[0], dates[1]) if isinstance(dates, list) and len(dates) == 2 else None,
        )
        self.submit("fields", fields)
        export = ExportAnswer(
            state="SUCCESS",
            project_url=project.url,
            analysis=slug,
            max_edges=links.max_edges,
            fields=tuple(meta.fields),
            gsc_period=fields.gsc_period,
            out_dir=self.out_dir,
            api_base=self.api_base,
            poll_timeout_s=float(self.poll_timeout_s),
            started=utc_now_iso(),
            links=files["links"],
            meta=files["meta"],
            depth=links.depth,
        )
        self.save_only("export", export)
        self.steps["depth"].fill(depth)
        self.steps["fields"].fill(fields)
        self.steps["analysis"].state = StepState.SUCCESS
        self.goto(self.model.landing(after=0))

    def new_project(self, *, confirmed: bool = False) -> None:
        """Start another pipeline (the current one stays in the sidecar as it is)."""
        if self.steps["export"].running and not confirmed:
            self.confirm.ask(
                "An export is running. Starting another project stops following it here; it resumes when you "
                "open this project again. Continue?",
                lambda: self._call(None, lambda: self.new_project(confirmed=True)),
                yes="New project",
            )
            return
        self._replace_model(PipelineModel())
        self.steps["project"].url.value = ""  # type: ignore[attr-defined]
        self.sidecar.clear_current()  # a reload now lands on the empty project step, not the old pipeline
        self.message.value = note("New project: paste its URL in step 2.")
        self.goto(self.landing())

    def finalize(self) -> None:
        """Lock the current pipeline (its answers become read-only)."""
        pid = self.model.pid
        if not pid or not is_complete("export", self.model.answer("export")):
            raise ConfigError("Finalize a pipeline once its export has finished.")
        self.sidecar.set_finalized(pid, True)
        self.model.finalized = True
        self.message.value = note("Finalized: this pipeline is read-only. Unfinalize it to change an answer.")
        self.render()

    def unfinalize(self) -> None:
        """Unlock the current pipeline."""
        pid = self.model.pid
        if not pid:
            raise ConfigError("There is no pipeline to unfinalize.")
        self.sidecar.set_finalized(pid, False)
        self.model.finalized = False
        self.message.value = note("Unfinalized: the answers can be changed again.")
        self.render()

    # -- drawing ------------------------------------------------------------------------------------

    def state_of(self, index: int) -> StepState:
        """The state a card shows: its live state when open, else what its saved answer says."""
        step = self.step_list[index]
        if index == self.focus:
            return step.state
        answer = self.model.answer(step.name)
        if isinstance(answer, ExportAnswer) and not answer.done:
            return StepState.ACTIVE if answer.state == "ACTIVE" else StepState.FAIL
        return StepState.SUCCESS if answer is not None else StepState.INIT

    def render(self) -> None:
        """Redraw every card and the toolbar from the model and the focus."""
        if self.error is not None or not hasattr(self, "step_list"):
            return
        finalized = self.model.finalized
        for i, step in enumerate(self.step_list):
            state = self.state_of(i)
            expanded = i == self.focus
            complete = self.model.answer(step.name) is not None
            step.card.render(
                state,
                expanded=expanded,
                summary="" if expanded else step.summary(),
                can_change=i < self.focus and complete and not finalized,
                dim=i > self.focus,
            )
            for control in step.controls():
                control.disabled = finalized or (expanded and state == StepState.ACTIVE)
            can_retry = expanded and state == StepState.FAIL and not finalized
            can_next = expanded and state == StepState.SUCCESS and step.has_next and not finalized
            show(step.card.retry, can_retry)
            show(step.card.next, can_next)
            show(step.card.actions, can_retry or can_next)
        pid = self.model.pid
        lock = ' <span style="color:#6d4c41;font-weight:600">· finalized (read-only)</span>' if finalized else ""
        self.pipeline_label.value = (
            f"Pipeline: <code>{esc(pid)}</code>{lock}" if pid else '<span style="color:#757575">No project yet</span>'
        )
        show(self.new_button, self.connected and pid is not None)
        show(self.finalize_button, bool(pid) and not finalized and is_complete("export", self.model.answer("export")))
        show(self.unfinalize_button, bool(pid) and finalized)


def wizard(**kwargs: Any) -> w.VBox:
    """Build a `Wizard` (same keyword arguments) and return its widget, for the last line of a cell."""
    return Wizard(**kwargs).widget
