"""The Jupyter server of `botify-graph app`: Voila's standalone server plus what the app needs of it.

    python -m botify_graph.appserver NOTEBOOK [any of Voila's options]

Voila 0.5's standalone server builds its own tornado application and loads no Jupyter server extension
(`jpserver_extensions` and `jupyter_server_config.d` are ignored by it), so this subclass adds:

- the download route of `botify_graph.serverext` (`{base_url}botify-graph/files/...`, the output folder the
  kernels use, same login as the pages), and the environment that tells kernels about it;
- the access token: read from $BOTIFY_GRAPH_APP_TOKEN (never a command-line argument, which other users
  of the machine could read) into `Voila.token`, then removed from the environment so kernels never see it;
- the page watch: a kernel whose page has gone (its last websocket closed and none came back for
  `page_grace_s` seconds, or none ever connected within `start_grace_s`) is shut down. A Voila reload or a
  closed tab then stops following the export within seconds, instead of polling and downloading the same
  files until the idle cull (widget updates count as activity, so a kernel that is exporting is never
  "idle"). Websockets stay open in background tabs, so a hidden page keeps its export; a heartbeat ticked
  by the page would not (browsers throttle a hidden tab's timers to one per minute).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from jupyter_core.utils import ensure_async
from tornado.ioloop import PeriodicCallback
from traitlets import Float
from voila.app import Voila

from . import layout
from .serverext import export_kernel_env, file_handlers, served_folder

__all__ = ["AppVoila", "PageWatch", "main"]

PAGE_GRACE_S = 10.0
START_GRACE_S = 120.0


class PageWatch:
    """Which kernels have lost their page, from their websocket connection counts seen over time.

    `update({kernel_id: connections})` is called every second or so and returns the kernels to shut down:
    those that had a connection and have had none for `page_grace_s` seconds (a reload or a closed tab; a
    brief network drop reconnects within the grace), and those that never had one for `start_grace_s`
    seconds after they were first seen (a page closed while it was loading, a curl). The clock is injected.
    """

    def __init__(
        self, *, page_grace_s: float = PAGE_GRACE_S, start_grace_s: float = START_GRACE_S, clock: Callable[[], float]
    ) -> None:
        self.page_grace_s = page_grace_s
        self.start_grace_s = start_grace_s
        self.clock = clock
        self.first_seen: dict[str, float] = {}
        self.connected: set[str] = set()
        self.alone_since: dict[str, float] = {}

    def update(self, connections: Mapping[str, int]) -> list[str]:
        now = self.clock()
        due: list[str] = []
        for kernel in list(self.first_seen):
            if kernel not in connections:  # gone (shut down, culled): forget it
                self.first_seen.pop(kernel, None)
                self.alone_since.pop(kernel, None)
                self.connected.discard(kernel)
        for kernel, count in connections.items():
            self.first_seen.setdefault(kernel, now)
            if count > 0:
                self.connected.add(kernel)
                self.alone_since.pop(kernel, None)
                continue
            if kernel in self.connected:
                since = self.alone_since.setdefault(kernel, now)
                if now - since >= self.page_grace_s:
                    due.append(kernel)
            elif now - self.first_seen[kernel] >= self.start_grace_s:
                due.append(kernel)
        return due

    def forget(self, kernel: str) -> None:
        """Stop tracking `kernel` (it is being shut down)."""
        self.first_seen.pop(kernel, None)
        self.alone_since.pop(kernel, None)
        self.connected.discard(kernel)


class AppVoila(Voila):
    """Voila with botify-graph's download route, its access token from the environment and the page watch."""

    page_grace_s = Float(
        PAGE_GRACE_S,
        config=True,
        help="Shut a kernel down when its page has been gone (no websocket) for this many seconds; 0: never.",
    )
    start_grace_s = Float(
        START_GRACE_S,
        config=True,
        help="Shut a kernel down when no page has connected to it this many seconds after it started; 0: never.",
    )

    def initialize(self, argv: Any = None) -> None:
        self._shutting: set[asyncio.Future[None]] = set()
        super().initialize(argv)
        token = os.environ.pop(layout.APP_TOKEN_VAR, "").strip()
        if token:
            self.token = token

    def init_handlers(self) -> list[Any]:
        folder = served_folder()
        export_kernel_env(self.base_url, folder)  # before any kernel starts: they inherit it
        return [*file_handlers(self.server_url or self.base_url, folder), *super().init_handlers()]

    def start(self) -> None:
        if self.page_grace_s > 0 or self.start_grace_s > 0:
            self._watch = PageWatch(
                page_grace_s=self.page_grace_s or float("inf"),
                start_grace_s=self.start_grace_s or float("inf"),
                clock=time.monotonic,
            )
            self._watcher = PeriodicCallback(self._check_pages, 1000)
            self._watcher.start()
        super().start()

    def _check_pages(self) -> None:
        manager = getattr(self, "kernel_manager", None)
        if manager is None:
            return
        counts: dict[str, int] = {}
        for kernel in manager.list_kernel_ids():
            try:
                counts[kernel] = int(manager.kernel_model(kernel).get("connections", 0))
            except Exception:  # shut down meanwhile
                continue
        for kernel in self._watch.update(counts):
            self._watch.forget(kernel)
            self.log.info("botify-graph: the page of kernel %s has gone; shutting the kernel down", kernel)
            task = asyncio.ensure_future(self._shutdown(kernel))
            self._shutting.add(task)
            task.add_done_callback(self._shutting.discard)

    async def _shutdown(self, kernel: str) -> None:
        try:
            await ensure_async(self.kernel_manager.shutdown_kernel(kernel))
        except Exception:  # already gone
            self.log.debug("kernel %s was already gone", kernel, exc_info=True)


def main(argv: list[str] | None = None) -> None:
    """Run the app's Voila server (the arguments are Voila's)."""
    AppVoila.launch_instance(argv)


if __name__ == "__main__":
    main()
