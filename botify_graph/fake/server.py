"""Real HTTP listeners for the fake Botify API (127.0.0.1): the API on one port, the download "CDN" on another.

    with FakeBotify(scale=0.02, scenario=Scenario(polls_to_done=1)) as fake:
        client = httpx.Client(base_url=fake.base_url, headers={"Authorization": f"Token {fake.token}"})
        ...
        assert len(fake.requests_to("/query")) == 1

Both listeners are `ThreadingHTTPServer`s in daemon threads, speaking HTTP/1.1 with Content-Length so
clients keep connections alive. `serve()` runs one in the foreground for `botify-graph fake-api`.
"""

from __future__ import annotations

import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..errors import ConfigError
from .app import DEMO_TOKEN, FakeApp, Reply, RequestRecord
from .exports import FakeJob
from .scenario import SCENARIOS, Scenario
from .site import Site, SiteSpec

Handler = Callable[[str, str, dict[str, list[str]], Mapping[str, str], bytes], Reply]
_CHUNK = 1 << 18


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handle: Handler) -> None:
        self.answer = handle
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer is normal here (fault tests, killed runs): stay quiet about it."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self.connections_lock:
            conns = list(self.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are closed after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle + delayed ACK cost 40 ms a request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is FakeBotify.requests

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _dispatch(self) -> None:
        length = self.headers.get("Content-Length")
        raw = self.rfile.read(int(length)) if length and length.isdigit() and int(length) > 0 else b""
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.answer(self.command, parts.path, query, headers, raw)
        self._write(reply)

    def _write(self, reply: Reply) -> None:
        if reply.action == "drop":
            self._hang_up()
            return
        size = reply.file.stat().st_size - reply.offset if reply.file is not None else len(reply.body)
        self.send_response(reply.status)
        for k, v in reply.headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if self.command == "HEAD":
            return
        if reply.file is None:
            self.wfile.write(reply.body)
            return
        send = size // 2 if reply.action == "truncate" else size
        # corrupt: flip 64 bytes mid-file (past the 10-byte gzip header), or the trailer of a tiny file
        start = max(10, size // 2) if size > 40 else max(0, size - 8)
        flip = (start, start + 64) if reply.action == "corrupt" else None
        pos = 0
        with open(reply.file, "rb") as fh:
            fh.seek(reply.offset)
            while pos < send:
                chunk = fh.read(min(_CHUNK, send - pos))
                if not chunk:
                    break
                if flip is not None and pos < flip[1] and pos + len(chunk) > flip[0]:
                    buf = bytearray(chunk)
                    for at in range(max(flip[0], pos), min(flip[1], pos + len(chunk))):
                        buf[at - pos] ^= 0x5A
                    chunk = bytes(buf)
                self.wfile.write(chunk)
                pos += len(chunk)
        if reply.action == "truncate":
            self._hang_up()

    def _hang_up(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _public(host: str) -> str:
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


class FakeBotify:
    """The fake Botify API and its download CDN, on two ports of `host`.

    `scale` shrinks every synthetic site (1.0: ~70k pages / ~1.9M links for example.com; 0.02: ~1.4k pages).
    `scenario` (switchable at runtime through the attribute) decides the faults. `sites` adds or replaces
    projects: `{("example-org", "my.site"): SiteSpec(...)}`.
    """

    def __init__(
        self,
        *,
        scale: float = 1.0,
        scenario: Scenario | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        cdn_port: int = 0,
        token: str = DEMO_TOKEN,
        sites: Mapping[tuple[str, str], SiteSpec] | None = None,
    ) -> None:
        if scale <= 0:
            raise ConfigError(f"scale must be positive, got {scale}.")
        self._host, self._port, self._cdn_port = host, port, cdn_port
        self._scale, self._token, self._sites = scale, token, sites
        self._initial = scenario or Scenario()
        self._app: FakeApp | None = None
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []
        self._workdir: Path | None = None
        self._stopped = threading.Event()

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> FakeBotify:
        """Bind both listeners and serve in daemon threads. Returns self."""
        if self._app is not None:
            return self
        self._stopped.clear()
        self._workdir = Path(tempfile.mkdtemp(prefix="fake-botify-"))
        app = FakeApp(
            scale=self._scale, scenario=self._initial, token=self._token, sites=self._sites, workdir=self._workdir
        )
        try:
            api = _Server((self._host, self._port), app.handle_api)
            cdn = _Server((self._host, self._cdn_port), app.handle_cdn)
        except OSError:
            app.close()
            shutil.rmtree(self._workdir, ignore_errors=True)
            raise
        host = _public(self._host)
        app.api_origin = f"http://{host}:{api.server_address[1]}"
        app.cdn_origin = f"http://{host}:{cdn.server_address[1]}"
        self._app, self._servers = app, [api, cdn]
        for srv, name in ((api, "api"), (cdn, "cdn")):
            t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                                 name=f"fake-botify-{name}")  # fmt: skip
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        """Stop both listeners, close open connections and delete the export files."""
        stoppers = [threading.Thread(target=srv.shutdown) for srv in self._servers]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join()
        for srv in self._servers:
            srv.server_close()
            srv.close_connections()
        for t in self._threads:
            t.join(timeout=5)
        if self._app is not None:
            self._app.close()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
        self._servers, self._threads, self._app, self._workdir = [], [], None, None
        self._stopped.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until stop() is called (from another thread) or `timeout` passes; Ctrl-C interrupts it.

        Returns True once stopped. Waits in short slices so KeyboardInterrupt reaches the main thread.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._stopped.wait(0.25):
            if deadline is not None and time.monotonic() >= deadline:
                return False
        return True

    def __enter__(self) -> FakeBotify:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.stop()

    # -- what tests read ------------------------------------------------------------------------------

    @property
    def app(self) -> FakeApp:
        if self._app is None:
            raise RuntimeError("FakeBotify is not running: call start() or use it as a context manager.")
        return self._app

    @property
    def base_url(self) -> str:
        """The API root, e.g. http://127.0.0.1:PORT/v1 (job_url values are relative to its origin)."""
        return self.app.api_origin + "/v1"

    @property
    def origin(self) -> str:
        """http://127.0.0.1:PORT: what a relative job_url such as /v1/jobs/5678901 is joined to."""
        return self.app.api_origin

    @property
    def cdn_url(self) -> str:
        return self.app.cdn_origin

    @property
    def token(self) -> str:
        return self._token

    @property
    def new_token(self) -> str:
        """The token that works once the scenario revoked `token` (`Scenario.revoke_token_after_polls`)."""
        return self.app.new_token

    @property
    def token_revoked(self) -> bool:
        """Whether `token` has been revoked (from then on only `new_token` is accepted)."""
        return self.app.token != self.app.original_token

    @property
    def scenario(self) -> Scenario:
        return self.app.scenario if self._app is not None else self._initial

    @scenario.setter
    def scenario(self, value: Scenario) -> None:
        self._initial = value
        if self._app is not None:
            self._app.scenario = value

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request received so far, API and CDN, in arrival order."""
        return self.app.requests

    @property
    def jobs(self) -> dict[int, FakeJob]:
        return self.app.jobs

    def requests_to(self, fragment: str, method: str | None = None, server: str | None = None) -> list[RequestRecord]:
        """Requests whose path contains `fragment` (and of that method / server "api"|"cdn")."""
        return [
            r
            for r in list(self.app.requests)
            if fragment in r.path and (method is None or r.method == method) and (server is None or r.server == server)
        ]

    def jobs_of_kind(self, kind: str) -> list[FakeJob]:
        """Jobs whose kind is "links" or "meta"."""
        return [j for j in list(self.app.jobs.values()) if j.kind == kind]

    def site(self, org: str, project: str) -> Site:
        """The synthetic project behind the API, to compute expected answers."""
        return self.app.site(org, project)

    def reset_counters(self) -> None:
        """Restart the scenario's "first N" counters and the QPS windows."""
        self.app.reset_counters()

    def wait_for_job_file(self, job_id: int, timeout: float = 30.0) -> bool:
        """Block until a job's export file is written (or failed); True when ready."""
        return self.app.jobs[job_id].ready.wait(timeout)


def serve(
    port: int,
    scenario_name: str,
    scale: float,
    host: str = "127.0.0.1",
    *,
    cdn_port: int = 0,
    on_ready: Callable[[FakeBotify], None] | None = None,
) -> None:
    """Run the fake API in the foreground until KeyboardInterrupt. Prints nothing (`on_ready` may)."""
    scenario = SCENARIOS.get(scenario_name)
    if scenario is None:
        raise ConfigError(f"Unknown fake API scenario {scenario_name!r}. Choose from: {', '.join(SCENARIOS)}.")
    fake = FakeBotify(scale=scale, scenario=scenario, host=host, port=port, cdn_port=cdn_port)
    with fake:
        if on_ready is not None:
            on_ready(fake)
        try:
            fake.wait()
        except KeyboardInterrupt:
            return
