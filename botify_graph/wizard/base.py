"""What every step of the wizard shares: a card, a state, one task at a time, and what Retry does.

`Step` subclasses live in `steps.py` (connect … fields) and `export.py` (export, result); the `Wizard`
(`app.py`) owns the model, the sidecar, the tasks and which card is open.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import ipywidgets as w

from .. import layout
from ..errors import ConfigError
from ..registry import ExportRegistry
from ..urls import ProjectRef
from .model import StepState
from .view import Card

if TYPE_CHECKING:  # pragma: no cover
    from .app import Wizard

KIND_NAMES = layout.KINDS


class Step:
    """Base of the steps: a card, a state, an optional running task and what Retry does."""

    name: ClassVar[str]
    title: ClassVar[str]
    has_next: ClassVar[bool] = True

    def __init__(self, wiz: Wizard, index: int) -> None:
        self.wiz = wiz
        self.index = index
        self.card = Card(index + 1, self.title)
        self.state = StepState.INIT
        self.task: asyncio.Task[Any] | None = None
        self.retry_action: Callable[[], None] | None = None
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

    def enter(self, *, reverted: bool = False) -> None:
        """The card was opened on a step without a finished answer (`reverted`: by going back to it)."""
        self.set(StepState.READY)

    def fill(self, answer: Any) -> None:
        """Show a saved answer in the inputs (on resume)."""

    def clear(self) -> None:
        """Forget what the card shows about an answer that was reverted (inputs keep their values)."""
        self.card.set_status("")
        self.card.set_error(None)

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
