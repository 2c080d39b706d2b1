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
import contextlib
import dataclasses
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
from ..fsutil import utc_now_iso, write_problem
from ..queries import META_BY_NAME
from ..registry import KINDS, ExportRecord, ExportRegistry
from ..state import STEPS, ParamLog, Sidecar
from ..token import ENV_VAR, load_token, token_source
from ..trace import Trace, open_trace
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
from .view import CARD_CSS, GAP, MAX_WIDTH, Confirm, button, error_html, esc, note, show

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
        return {
            "max_edges": answer.max_edges,
            "depth": answer.depth,
            "edges": answer.edges,
            "complete": answer.complete,
            "allow_cut": answer.allow_cut,
        }
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
    `trace_file` starts recording a trace of every API request there (the Connect card's switch does the
    same, into `layout.trace_path`); every client the wizard makes, its export included, writes to it.
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
        trace_file: str | os.PathLike[str] | None = None,
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
        self.trace: Trace | None = None
        self._trace_file = Path(trace_file) if trace_file else None
        self.trace_path = self._trace_file or self.default_trace_path()
        self._trace_stack = contextlib.ExitStack()
        if self._trace_file is not None:
            self.set_tracing(True)
        self.preset: dict[str, Any] | None = None  # settings a new pipeline starts from ("Start from these …")

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
            self._check_sidecar_folder()
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
            CARD_CSS + '<div style="font-size:1.25em;font-weight:700;margin:2px 0">botify-graph '
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
        self.storage = w.HTML()  # a sidecar folder that cannot be written: said once, kept in view
        self.message_at: int | None = None  # the card the toolbar message is about: it goes when another opens
        self.confirm = Confirm()
        self.toolbar = w.VBox(
            [
                self.title,
                w.HBox(
                    [self.pipeline_label, self.new_button, self.finalize_button, self.unfinalize_button],
                    layout=w.Layout(align_items="center", width="100%", flex_flow="row wrap"),
                ),
                self.storage,
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

    def _check_sidecar_folder(self) -> None:
        """Say at once when the sidecar's folder cannot be written: answers would not be saved."""
        problem = write_problem(self.sidecar.path.parent)
        if problem is None:
            self.storage.value = ""
            return
        self.storage.value = error_html(
            f"The wizard cannot save its answers: {self.sidecar.path.parent} cannot be written to ({problem}). "
            "It can connect, but every step that saves an answer will stop with this message, and nothing "
            f"would resume after a restart. Set {layout.STATE_VAR} to a file in a writable folder (or make this "
            "one writable), then run this cell again."
        )

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

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        """A client for one step's calls with `token` (default: the verified one), recording into the trace when
        one is on; use it with `async with`."""
        return make_client(self.require_token() if token is None else token, base_url=self.api_base, trace=self.trace)

    async def verify(self, token: str) -> api.TokenCheck:
        """Check a token before any project is chosen (see `api.check_token`: the profile endpoint may not say)."""
        async with self.client(token) as client:
            return await api.check_token(client)

    # -- the trace ----------------------------------------------------------------------------------------

    def default_trace_path(self) -> Path:
        """Where the Connect card's switch records: a new file per session under the output folder."""
        stamp = utc_now_iso().replace("-", "").replace(":", "").replace(".", "")
        return layout.trace_path(self.out_dir, "wizard", stamp)

    def set_tracing(self, on: bool) -> None:
        """Start (append to `trace_path`) or stop recording every API request of the wizard's clients."""
        if on and self.trace is None:
            self.trace = self._trace_stack.enter_context(open_trace(self.trace_path, front_end="wizard"))
        elif not on and self.trace is not None:
            self._trace_stack.close()
            self._trace_stack = contextlib.ExitStack()
            self.trace = None

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
            self.say("")
        try:
            fn()
        except Exception as exc:
            if step is None:
                log.debug("wizard toolbar action failed", exc_info=True)
                self.say(error_html(self.readable(exc)))
            else:
                self.fail(step, exc)

    def say(self, html_text: str) -> None:
        """A toolbar message about the open card: it is cleared when another card opens."""
        self.message.value = html_text
        self.message_at = self.focus if html_text else None

    def ask(self, text: str, on_yes: Callable[[], None], *, yes: str) -> None:
        """A question where it can be seen: in the open card (a collapsed card's body is hidden)."""
        for step in self.step_list:
            step.card.confirm.hide()
        self.step_list[self.focus].card.confirm.ask(text, on_yes, yes=yes)

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
            if not step.view_current:  # made for other earlier answers: never shown, never used
                step.forget_view()
            step.enter(reverted=reverted)
        except Exception as exc:
            self.fail(step, exc)

    def goto(self, index: int, *, reverted: bool = False) -> None:
        """Open the card at `index`; later cards without an answer go back to INIT."""
        if index != self.focus:
            for step in self.step_list:
                step.card.confirm.hide()  # a question about the card that was open is moot now
        if self.message_at is not None and index != self.message_at:
            self.say("")
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
        if index <= self.steps["export"].index and not confirmed and self.export_in_flight():
            self.ask(
                f"An export is running. Going back to step {index + 1} ({self.steps[name].title}) stops following "
                "it here; the Botify jobs keep running, and the same export started again resumes them. Go back?",
                lambda: self._call(self.step_list[self.focus], lambda: self.revert(name, confirmed=True)),
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

    def export_in_flight(self) -> bool:
        """An export runs here, or is saved as running (it resumes once connected)."""
        answer = self.model.answer("export")
        return self.steps["export"].running or (isinstance(answer, ExportAnswer) and answer.state == "ACTIVE")

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
        """Use a checked project: a URL whose pipeline exists switches to it; otherwise it becomes this pipeline.

        After "Start from these settings" (`fork`) the new pipeline carries the settings it started from; a saved
        pipeline given those settings goes back to its Analysis step (its earlier files stay where they are).
        """
        pid = ref.url
        preset, self.preset = self.preset, None
        if pid != self.model.pid and self.has_pipeline(pid):
            saved = PipelineModel.from_record(pid, self.sidecar.pipeline(pid))
            export = saved.answer("export")
            busy = saved.finalized or (isinstance(export, ExportAnswer) and export.state == "ACTIVE")
            self.load_pipeline(pid)
            if preset is not None and not busy:
                self._apply_preset(preset, ref)
                return
            why = " Its export is running or it is finalized, so its settings were not changed." if preset else ""
            self.say(note(f"Switched to the saved pipeline <code>{esc(pid)}</code>.{why}"))
            return
        self.sidecar.set_current(pid)
        record = self.sidecar.pipeline(pid) or {}
        if pid != self.model.pid:
            self._replace_model(PipelineModel(pid=pid, finalized=bool(record.get("finalized"))))
        connect = self.model.answer("connect")
        if connect is not None:
            self.submit("connect", connect)
        answer = ProjectAnswer(url=pid, org=ref.org, project=ref.project, analysis_hint=ref.analysis)
        if preset is not None:
            answer = dataclasses.replace(answer, **preset)
        self.submit("project", answer)
        if preset is None:
            self.say("")  # "New project: paste its URL…" is done with
        project = self.steps["project"]
        assert isinstance(project, ProjectStep)
        project.succeed(answer)

    def _apply_preset(self, preset: dict[str, Any], ref: ProjectRef) -> None:
        """A saved pipeline started again from other settings: back to its Analysis step with them."""
        current = self.model.answer("project")
        assert current is not None
        answer = dataclasses.replace(current, analysis_hint=ref.analysis or current.analysis_hint, **preset)
        self.submit("project", answer)  # first: the steps opened below start from these settings
        self.steps["project"].fill(answer)
        self.revert("analysis", confirmed=True)
        self.say(
            note(
                f"<code>{esc(answer.url)}</code> went back to step 3 with the settings of "
                f"<code>{esc(answer.source)}</code>: choose an analysis. Its earlier exports stay where they are "
                "(listed in step 2)."
            )
        )

    def _replace_model(self, model: PipelineModel) -> None:
        """Stop the steps after Connect, forget what they show and switch to `model`, staying connected."""
        for step in self.step_list[1:]:
            step.cancel()
        connect = self.model.answer("connect")
        self.model = model
        if connect is not None and self.connected:
            self.model.answers["connect"] = connect
        for step in self.step_list[1:]:
            step.reset()
            step.card.confirm.hide()
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
        mode = links.options.get("mode")
        depth = DepthAnswer(
            max_edges=links.max_edges,
            depth=links.depth,
            edges=links.rows or 0,
            reused=True,
            complete=mode == "complete",
            allow_cut=mode == "cut",
        )
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
            complete=depth.complete,
            allow_cut=depth.allow_cut,
        )
        self.save_only("export", export)
        self.steps["depth"].fill(depth)
        self.steps["fields"].fill(fields)
        self.steps["analysis"].state = StepState.SUCCESS
        self.goto(self.model.landing(after=0))

    def new_project(self, *, confirmed: bool = False, preset: dict[str, Any] | None = None) -> None:
        """Start another pipeline (the current one stays in the sidecar as it is)."""
        if self.export_in_flight() and not confirmed:
            self.confirm.ask(
                "An export is running. Starting another project stops following it here; it resumes when you "
                "open this project again. Continue?",
                lambda: self._call(None, lambda: self.new_project(confirmed=True, preset=preset)),
                yes="New project",
            )
            return
        self._replace_model(PipelineModel())
        self.preset = preset
        project = self.steps["project"]
        assert isinstance(project, ProjectStep)
        project.url.value = ""
        self.sidecar.clear_current()  # a reload now lands on the empty project step, not the old pipeline
        self.goto(self.landing())
        if preset is None:
            self.say(note("New project: paste its URL in step 2, or open a saved pipeline."))
        else:
            fields = preset["fields"]
            self.say(
                note(
                    f"Starting from the settings of <code>{esc(preset['source'])}</code> (limit "
                    f"{preset['max_edges']:,} rows; {esc(', '.join(fields) or 'URL only')}): paste another "
                    "project's URL in step 2, or this project's to export another analysis with them."
                )
            )

    def fork(self) -> None:
        """Start from these settings: a new pipeline with this one's row limit and fields."""
        depth, fields = self.model.answer("depth"), self.model.answer("fields")
        if depth is None or fields is None or not self.model.pid:
            raise ConfigError("Choose a row limit (step 4) and fields (step 5) first: they are the settings to reuse.")
        self.new_project(
            preset={"max_edges": depth.max_edges, "fields": tuple(fields.fields), "source": self.model.pid}
        )

    def finalize(self) -> None:
        """Lock the current pipeline (its answers become read-only)."""
        pid = self.model.pid
        if not pid or not is_complete("export", self.model.answer("export")):
            raise ConfigError("Finalize a pipeline once its export has finished.")
        self.sidecar.set_finalized(pid, True)
        self.model.finalized = True
        self.say(note("Finalized: this pipeline is read-only. Unfinalize it to change an answer."))
        self.render()

    def unfinalize(self) -> None:
        """Unlock the current pipeline."""
        pid = self.model.pid
        if not pid:
            raise ConfigError("There is no pipeline to unfinalize.")
        self.sidecar.set_finalized(pid, False)
        self.model.finalized = False
        self.say(note("Unfinalized: the answers can be changed again."))
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
            if not step.view_current:
                for use in step.use_buttons():
                    use.disabled = True  # what the card shows was made for other answers
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
