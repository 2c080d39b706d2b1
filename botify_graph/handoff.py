"""Hand the two CSVs to the Cosmograph web app: serve them from 127.0.0.1 and print a cosmograph.app link.

    server, link = serve_for_cosmograph(links_csv, meta_csv)   # serving in a background thread
    print(link)          # open it in a browser on this machine; the browser fetches the files from us
    server.close()

Nothing leaves this machine on our side: we only print a link. The browser that opens it loads the
Cosmograph page and then fetches the CSVs from http://127.0.0.1:<port>/ (browsers treat loopback as a
secure origin, so an https page may fetch from it).

What the server does, and why:

- binds 127.0.0.1 only, and serves exactly the files it was given, each under `/<random token>/<file name>`:
  no directory listing, no path is ever joined to the file system (a request path is looked up in a dict),
  and a web page that does not know the token cannot read the files while the server runs;
- answers GET and HEAD with `Content-Type: text/csv; charset=utf-8` and an exact `Content-Length`
  (Cosmograph shows load progress from it), and OPTIONS preflights with 204;
- sends the CORS headers cosmograph.app needs: `Access-Control-Allow-Origin: *`, `-Allow-Methods: GET, HEAD,
  OPTIONS`, `-Allow-Headers` (what the preflight asked for), `-Expose-Headers: Content-Length, Content-Type`
  (Cosmograph's docs say partial loads come from servers hiding Content-Length) and, on preflights,
  `Access-Control-Allow-Private-Network: true` (Chrome asks before a public site reads a loopback address);
- everything else is 404 (unknown path) or 405 (other methods).

In a notebook or the app, `page_shelf().show(owner, [(links, meta), ...])` does the same from the kernel for
the exports a page shows: one server per kernel, each pair under its own token, the previous pairs of that
part of the page unserved, the server stopped when nothing is shown or the kernel ends.

The link (`cosmograph_url`) uses Cosmograph's QueryString API. Parameters, all optional except `data`:

    data=<links CSV URL>   the edge list (columns source, target)
    meta=<meta CSV URL>    node attributes; its `id` column matches source/target
    source=source, target=target   which columns of `data` hold the link ends
    nodeColor=color-<column>       colour nodes by a meta column (default pagetype, when a meta file is served)
    nodeSize=size-<column>         size nodes by a meta column (e.g. impressions, internal_page_rank), when asked

Any exported column can colour the nodes and any number column size them: `view_columns(meta)` lists which
(`graph.sample.ViewColumns`), `check_view_columns` says what is wrong with a choice, and a front end that
offers the choice (the CLI's --color-by/--size-by, the wizard) passes it to `serve_for_cosmograph`.

`data` and `meta` are documented by Cosmograph; `source`/`target` and the `color-`/`size-` forms follow the
links the Cosmograph app generates when a graph is shared. Values it does not understand are ignored by it.
"""

from __future__ import annotations

import secrets
import shutil
import threading
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from .errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from .graph.sample import ViewColumns

__all__ = [
    "COSMOGRAPH_RUN",
    "CsvServer",
    "PageShelf",
    "check_view_columns",
    "cosmograph_url",
    "page_shelf",
    "serve_for_cosmograph",
    "view_columns",
]

COSMOGRAPH_RUN = "https://cosmograph.app/run/"
HOST = "127.0.0.1"
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Expose-Headers": "Content-Length, Content-Type",
}


def cosmograph_url(
    links_url: str,
    meta_url: str | None = None,
    *,
    color_by: str | None = "pagetype",
    size_by: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> str:
    """The cosmograph.app link that loads `links_url` (and `meta_url`), every value percent-encoded."""
    params: dict[str, str] = {"data": links_url}
    if meta_url:
        params["meta"] = meta_url
    params.update(source="source", target="target")
    if meta_url and color_by:
        params["nodeColor"] = f"color-{color_by}"
    if meta_url and size_by:
        params["nodeSize"] = f"size-{size_by}"
    params.update(extra or {})
    return COSMOGRAPH_RUN + "?" + urlencode(params, quote_via=quote, safe="")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "botify-graph"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log is not None:
            self.server.log(f"{self.address_string()} {format % args}")

    def _cors(self) -> None:
        for name, value in CORS.items():
            self.send_header(name, value)

    def _empty(self, status: HTTPStatus, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self._cors()
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _file(self) -> Path | None:
        return self.server.files.get(urlsplit(self.path).path)

    def _send(self, body: bool) -> None:
        path = self._file()
        if path is None:
            self._empty(HTTPStatus.NOT_FOUND)
            return
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed below, after the headers are sent
        except OSError:
            self._empty(HTTPStatus.NOT_FOUND)
            return
        with handle:
            size = Path(path).stat().st_size
            self.send_response(HTTPStatus.OK)
            self._cors()
            self.send_header("Content-Type", "text/csv; charset=utf-8")
            self.send_header("Content-Length", str(size))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if body:
                try:
                    shutil.copyfileobj(handle, self.wfile, 1 << 20)
                except (BrokenPipeError, ConnectionResetError):  # the browser went away
                    self.close_connection = True

    def do_GET(self) -> None:
        self._send(body=True)

    def do_HEAD(self) -> None:
        self._send(body=False)

    def do_OPTIONS(self) -> None:
        if self._file() is None:
            self._empty(HTTPStatus.NOT_FOUND)
            return
        headers = {"Access-Control-Max-Age": "600"}
        asked = self.headers.get("Access-Control-Request-Headers")
        if asked:
            headers["Access-Control-Allow-Headers"] = asked
        if self.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
            headers["Access-Control-Allow-Private-Network"] = "true"
        self._empty(HTTPStatus.NO_CONTENT, headers)

    def _refuse(self) -> None:
        self._empty(HTTPStatus.METHOD_NOT_ALLOWED, {"Allow": "GET, HEAD, OPTIONS"})

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    files: dict[str, Path]
    log: Any


class CsvServer:
    """Serve a few files read-only from 127.0.0.1 with CORS headers, in a background thread."""

    def __init__(self, files: Sequence[str | Path], *, port: int = 0, log: Any = None) -> None:
        paths = [Path(f).resolve() for f in files]
        for p in paths:
            if not p.is_file():
                raise ConfigError(f"Cannot serve {p}: no such file.")
        names = [p.name for p in paths]
        if len(set(names)) != len(names):
            raise ConfigError(f"Two files to serve share a name: {', '.join(names)}.")
        self.token = secrets.token_urlsafe(16)
        self._httpd = _Server((HOST, port), _Handler)
        self._httpd.files = {f"/{self.token}/{quote(p.name)}": p for p in paths}
        self._httpd.log = log
        self._paths = {p.name: p for p in paths}
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()

    def add(self, files: Sequence[str | Path]) -> dict[Path, str]:
        """Serve more files, under a new random token of their own; return {resolved path: URL}."""
        paths = [Path(f).resolve() for f in files]
        for p in paths:
            if not p.is_file():
                raise ConfigError(f"Cannot serve {p}: no such file.")
        token = secrets.token_urlsafe(16)
        urls = {p: f"{self.base_url}/{token}/{quote(p.name)}" for p in paths}
        with self._guard:  # the handler threads read the mapping: replace it, never change it in place
            self._httpd.files = {**self._httpd.files, **{f"/{token}/{quote(p.name)}": p for p in paths}}
        return urls

    def remove(self, urls: Sequence[str]) -> None:
        """Stop serving the files at these URLs (answered 404 from now on)."""
        paths = {urlsplit(u).path for u in urls}
        with self._guard:
            self._httpd.files = {k: v for k, v in self._httpd.files.items() if k not in paths}

    @property
    def serving(self) -> int:
        """How many files are served right now."""
        return len(self._httpd.files)

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://{HOST}:{self.port}"

    def url_for(self, file: str | Path) -> str:
        """The URL one of the served files is fetched from."""
        name = Path(file).name
        if name not in self._paths:
            raise KeyError(f"{name} is not served here.")
        return f"{self.base_url}/{self.token}/{quote(name)}"

    def start(self) -> CsvServer:
        """Start serving in a daemon thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="botify-graph-csv", daemon=True
            )
            self._thread.start()
        return self

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C raises KeyboardInterrupt here)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> CsvServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def view_columns(meta: str | Path | None) -> ViewColumns:
    """Which columns of a meta file can colour (all) and size (the numbers) a view (`graph.sample.view_columns`)."""
    from .graph.sample import view_columns as columns_of

    return columns_of(meta)


def check_view_columns(meta: str | Path, *, color_by: str | None = None, size_by: str | None = None) -> ViewColumns:
    """The columns of `meta` a view can use; ConfigError when `color_by` or `size_by` is not one of them."""
    columns = view_columns(meta)
    wrong = columns.check(color_by=color_by, size_by=size_by)
    if wrong:
        raise ConfigError("; ".join(wrong).capitalize() + ".")
    return columns


def serve_for_cosmograph(
    links: str | Path,
    meta: str | Path | None = None,
    port: int = 0,
    *,
    color_by: str | None = "pagetype",
    size_by: str | None = None,
    log: Any = None,
) -> tuple[CsvServer, str]:
    """Start serving the CSVs on 127.0.0.1 and return (server, cosmograph.app link); `server.close()` stops it."""
    files = [links] if meta is None else [links, meta]
    if meta is not None:
        from .graph.encode import csv_header

        columns = csv_header(Path(meta), "meta")
        color_by = color_by if color_by in columns else None
        size_by = size_by if size_by in columns else None
    server = CsvServer(files, port=port, log=log).start()
    url = cosmograph_url(
        server.url_for(links), None if meta is None else server.url_for(meta), color_by=color_by, size_by=size_by
    )
    return server, url


class PageShelf:
    """The Cosmograph file server of one kernel, for the exports its page shows right now.

    Each part of the page (`owner`: the result card, the project step's list) calls `show(owner, pairs)`
    whenever it draws: the files it showed before stop being served, the new ones are served under fresh
    random tokens, and the cosmograph.app links come back. The server starts with the first file shown and
    stops when nothing is shown any more; it runs in a daemon thread, so it also stops with the kernel (a
    Voila page's kernel is shut down seconds after the page closes).
    """

    def __init__(self, *, color_by: str = "pagetype") -> None:
        self.color_by = color_by
        self._server: CsvServer | None = None
        self._shown: dict[str, list[str]] = {}
        self._guard = threading.Lock()

    def show(self, owner: str, pairs: Sequence[tuple[str | Path, str | Path | None]]) -> list[str | None]:
        """Serve the (links, meta) pairs `owner` shows now, instead of what it showed before; return one
        cosmograph.app link per pair (None for a pair whose links file is missing)."""
        from .graph.encode import csv_header

        with self._guard:
            old = self._shown.pop(owner, [])
            if old and self._server is not None:
                self._server.remove(old)
            links: list[str | None] = []
            served: list[str] = []
            for links_csv, meta_csv in pairs:
                files = [Path(links_csv)] + (
                    [Path(meta_csv)] if meta_csv is not None and Path(meta_csv).is_file() else []
                )
                if not files[0].is_file():
                    links.append(None)
                    continue
                if self._server is None:
                    self._server = CsvServer([]).start()
                urls = list(self._server.add(files).values())
                served.extend(urls)
                color = self.color_by if len(urls) > 1 and self.color_by in csv_header(files[1], "meta") else None
                links.append(cosmograph_url(urls[0], urls[1] if len(urls) > 1 else None, color_by=color))
            if served:
                self._shown[owner] = served
            if not self._shown and self._server is not None:
                self._server.close()
                self._server = None
            return links

    def close(self) -> None:
        """Stop serving everything."""
        with self._guard:
            self._shown.clear()
            if self._server is not None:
                self._server.close()
                self._server = None


_SHELF: PageShelf | None = None


def page_shelf() -> PageShelf:
    """The kernel's one PageShelf (closed when the interpreter exits)."""
    global _SHELF
    if _SHELF is None:
        import atexit

        _SHELF = PageShelf()
        atexit.register(_SHELF.close)
    return _SHELF
