"""Blocking wrappers for code that cannot `await`: a plain script, a synchronous callback, another library.

    from botify_graph.sync import run_sync, run_export_sync
    result = run_export_sync(ExportParams(project_url="https://app.botify.com/my-org/my-project/"))
    rows = run_sync(fetch_analyses_light(client, project))

In a notebook, prefer top-level `await` (it works in JupyterLab, Voila and papermill kernels and needs no
patching): `result = await run_export(ExportParams(...))`. These wrappers exist for the code that cannot:

- with no event loop running (a script, a thread), they are `asyncio.run`;
- inside a running loop (a plain `def` called from a notebook cell), asyncio refuses to run a second loop,
  so the wrapper applies `nest_asyncio2` (the maintained fork of nest-asyncio), which makes the running loop
  re-entrant, and runs the coroutine on it.

That patch is process-wide, and the field notes measured a JupyterLab kernel dying on a widget click in 2 of 4
runs with it applied. So it is applied only here, on first need, and never in a kernel that shows the wizard:
`run_sync` refuses inside a running loop once a `Wizard` was built in this process, and a `Wizard` built after
the patch refuses to start (restart the kernel). Both say so in words.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from .pipeline import ExportParams, ExportResult

__all__ = ["nested_loop_patched", "run_export_sync", "run_sync", "wizard_shown"]

T = TypeVar("T")

_state = {"patched": False, "wizard": False}


def nested_loop_patched() -> bool:
    """True once `run_sync` patched the running loop of this process with nest_asyncio2."""
    return _state["patched"]


def wizard_shown() -> None:
    """Called when a Wizard is built: blocking wrappers must never patch this kernel's loop from now on.

    Raises ConfigError if they already did (the wizard would then run on a patched loop).
    """
    if _state["patched"]:
        raise ConfigError(
            "This kernel already ran a blocking botify-graph call (run_sync / run_export_sync) inside the "
            "notebook's event loop, which patches it with nest_asyncio2; the wizard does not run on a patched "
            "loop. Restart the kernel and use top-level `await` in your own cells."
        )
    _state["wizard"] = True


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion and return its result, from code that cannot `await` it."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    if _state["wizard"]:
        coro.close()
        raise ConfigError(
            "A blocking botify-graph call inside a kernel that shows the wizard would patch its event loop "
            "(nest_asyncio2), which can crash the kernel on a widget click. Use `await` instead: top-level "
            "`await` works in every notebook cell."
        )
    import nest_asyncio2

    if not _state["patched"]:
        nest_asyncio2.apply(loop)
        _state["patched"] = True
    return loop.run_until_complete(coro)


def run_export_sync(params: ExportParams, **kwargs: Any) -> ExportResult:
    """`run_export(params, **kwargs)`, blocking (see `run_sync`)."""
    from .pipeline import run_export

    return run_sync(run_export(params, **kwargs))
