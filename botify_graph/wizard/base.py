"""What every step of the wizard shares: a card, a state, one task at a time, what Retry does, and the rule
that a card never shows an answer made for other inputs.

`Step` subclasses live in `steps.py` (connect … fields) and `export.py` (export, result). They talk to the
wizard that owns them (`app.Wizard`) only through `WizardHost`, the Protocol below, so this module imports
nothing from `app.py` (tests/test_imports.py forbids the cycle, even a type-only one).

**Stale views.** What a card shows besides its own answer (a list of analyses, a depth chart, check-boxes,
an export plan) is made from the answers of the earlier steps: its *inputs*. A step records the inputs its
view was made for (`view_made`); the wizard wipes a view whose inputs changed before opening the card
(`forget_view`), a loader wipes it before it asks the API (so a failed load shows nothing from before),
and the step's Use button is disabled, and refuses, while the view is not current (`require_current_view`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, ClassVar, Protocol

import httpx
import ipywidgets as w

from .. import layout
from ..api import TokenCheck
from ..errors import ConfigError
from ..registry import ExportRecord, ExportRegistry
from ..state import STEPS, Sidecar
from ..trace import Trace
from ..urls import ProjectRef
from .model import PipelineModel, StepState
from .view import Card

KIND_NAMES = layout.KINDS


class WizardHost(Protocol):
    """What a step may use of the wizard that owns it (`app.Wizard` is the one implementation)."""

    model: PipelineModel
    sidecar: Sidecar
    token: str | None  # the verified token, in memory only
    connected: bool
    trace: Trace | None
    trace_path: Path
    out_dir: str
    api_base: str
    poll_timeout_s: float
    notebook_dir: Path
    log_path: Path
    sleep: Callable[[float], Awaitable[Any]]

    # callbacks and tasks
    def handler(self, step: Step | None, fn: Callable[[], Any]) -> Callable[..., None]: ...
    def observer(self, step: Step | None, fn: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], None]: ...
    def start(self, step: Step, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None: ...
    def readable(self, exc: BaseException) -> str: ...
    def render(self) -> None: ...

    # navigation
    def next(self, index: int | None = None) -> None: ...
    def revert(self, name: str, *, confirmed: bool = False) -> None: ...
    def goto(self, index: int, *, reverted: bool = False) -> None: ...
    def landing(self) -> int: ...

    # answers and pipelines
    def submit(self, step: str, answer: Any) -> None: ...
    def save_only(self, step: str, answer: Any) -> None: ...
    def has_pipeline(self, pid: str) -> bool: ...
    def choose_project(self, ref: ProjectRef) -> None: ...
    def open_exported(self, slug: str, name: str | None, records: dict[str, ExportRecord]) -> None: ...
    def fork(self) -> None: ...

    # the API and the files
    def client(self, token: str | None = None) -> httpx.AsyncClient: ...
    async def verify(self, token: str) -> TokenCheck: ...
    def require_token(self) -> str: ...
    def stored_token(self) -> str | None: ...
    def stored_token_with_origin(self) -> tuple[str | None, str]: ...
    def env_token_set(self) -> bool: ...
    def registry(self) -> ExportRegistry: ...

    def set_tracing(self, on: bool) -> None: ...


class Step:
    """Base of the steps: a card, a state, an optional running task and what Retry does."""

    name: ClassVar[str]
    title: ClassVar[str]
    has_next: ClassVar[bool] = True
    #: False for steps whose card shows nothing made from earlier answers (Connect, Project)
    uses_earlier_answers: ClassVar[bool] = True

    def __init__(self, wiz: WizardHost, index: int) -> None:
        self.wiz = wiz
        self.index = index
        self.card = Card(index + 1, self.title)
        self.state = StepState.INIT
        self.task: asyncio.Task[Any] | None = None
        self.retry_action: Callable[[], None] | None = None
        self.shown_for: tuple[Any, ...] | None = None  # the inputs the card's view was made for
        self.card.retry.on_click(wiz.handler(self, self.retry))
        self.card.next.on_click(wiz.handler(self, lambda: wiz.next(self.index)))
        self.card.change.on_click(wiz.handler(self, lambda: wiz.revert(self.name)))
        self.build()

    # -- to override --------------------------------------------------------------------------------

    def build(self) -> None:
        """Create the step's widgets and put them in the card."""

    def controls(self) -> list[w.DOMWidget]:
        """Inputs and buttons disabled while the step works or the pipeline is finalized."""
        return []

    def use_buttons(self) -> list[w.Button]:
        """Buttons that act on the card's view: disabled while that view is not current."""
        return []

    def enter(self, *, reverted: bool = False) -> None:
        """The card was opened on a step without a finished answer (`reverted`: by going back to it)."""
        self.set(StepState.READY)

    def fill(self, answer: Any) -> None:
        """Show a saved answer in the inputs (on resume)."""

    def clear(self) -> None:
        """Forget what the card says about an answer that was reverted (inputs keep their values)."""
        self.card.set_status("")
        self.card.set_error(None)

    def forget_view(self) -> None:
        """Forget everything the card shows that was made from earlier answers (lists, charts, check-boxes)."""
        self.clear()
        self.shown_for = None

    def reset(self) -> None:
        """Another pipeline: forget the view and put the inputs back to their defaults."""
        self.forget_view()

    # -- stale views ----------------------------------------------------------------------------------

    def inputs(self) -> tuple[Any, ...]:
        """The answers of the earlier steps (Project onwards) this card's view is made from."""
        return tuple(self.wiz.model.answer(name) for name in STEPS[1 : self.index])

    def view_made(self) -> None:
        """The card's view now shows what the current inputs give."""
        self.shown_for = self.inputs()

    @property
    def view_current(self) -> bool:
        """True when the card shows nothing made for other inputs than the current ones."""
        return not self.uses_earlier_answers or self.shown_for == self.inputs()

    def require_current_view(self) -> None:
        """Refuse to act on a view made for other inputs (it is wiped, so it cannot be picked again)."""
        if not self.view_current:
            self.forget_view()
            raise ConfigError(
                f"What step {self.index + 1} showed was made for other earlier answers, so it was cleared. "
                "Click ↻ Retry to load it for the current ones."
            )

    # -- shared ---------------------------------------------------------------------------------------

    @property
    def answer(self) -> Any:
        return self.wiz.model.answer(self.name)

    def summary(self) -> str:
        answer = self.answer
        return answer.summary() if answer is not None else ""

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def set(self, state: StepState, status: str | None = None) -> None:
        """Change the state (clearing the error unless it is FAIL), optionally the status line, and redraw."""
        self.state = state
        if state != StepState.FAIL:
            self.card.set_error(None)
        if status is not None:
            self.card.set_status(status)
        self.wiz.render()

    def retry(self) -> None:
        if self.retry_action is not None:
            self.retry_action()
        else:
            self.enter()

    def ref(self) -> ProjectRef:
        project = self.wiz.model.answer("project")
        if project is None:
            raise ConfigError("Choose a project first (step 2).")
        return ProjectRef(project.org, project.project)

    def slug(self) -> str:
        analysis = self.wiz.model.answer("analysis")
        if analysis is None:
            raise ConfigError("Choose an analysis first (step 3).")
        return str(analysis.slug)


def registry_for(out_dir: str | Path) -> ExportRegistry:
    """The export registry `run_export` uses for `out_dir`."""
    return ExportRegistry(layout.registry_path(out_dir))
