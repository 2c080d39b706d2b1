"""The botify-graph wizard: an ipywidgets stepper over the cell functions that resumes from a JSON sidecar.

    from botify_graph.wizard import wizard
    wizard()                      # the last line of a cell: shows the wizard

or keep the object (`Wizard(...)`) to reach its steps, its model and `await wizard.wait()`.
See `app.py` for the controller, `steps.py` for the cards, `model.py` for the answers and `view.py`
for the look.
"""

from __future__ import annotations

from .app import Wizard, wizard
from .model import PipelineModel, StepState, parse_candidates

__all__ = ["PipelineModel", "StepState", "Wizard", "parse_candidates", "wizard"]
