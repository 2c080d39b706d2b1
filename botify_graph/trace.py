"""A trace of every request botify-graph sends and every answer it gets: JSON Lines, fit for a bug report.

    with open_trace("trace.jsonl") as trace:                       # the CLI's --trace FILE
        async with make_client(token, trace=trace) as client:      # every request of this client
            ...
        await run_export(params, token=token, trace=trace)         # or the client run_export builds

One line per HTTP exchange, written when its answer is complete (or failed) and flushed at once, so a run
that is killed leaves a readable file:

    {"type": "http", "t": <UTC time>, "n": 7, "method": "GET", "url": ..., "status": 200, "ms": <until the
     headers>, "ms_total": <until the end of the body>, "request": {"headers": {...}, "body": ...},
     "response": {"headers": {...}, "body": ..., "bytes": <body size>, "truncated": true}, "error": ...}

plus a "start" line per session (tool, Python and platform versions) and "event" lines for the export's
steps (`run_export`). Bodies are cut to `body_bytes` (layout.TRACE_BODY_BYTES); a binary body (a download)
is shown as its size and first bytes.

What never reaches the file: the `Authorization`, `Cookie` and `Set-Cookie` headers; the token wherever
else it appears (a header or a body that echoes it, a URL, an error message), in plain, URL-encoded and
JSON-escaped form, and any run of 10 or more of its characters (so a token cut by the truncation or quoted
in part is scrubbed too); the query string and the long random path segments of URLs outside the API
(download links are signed capabilities), in the URL of a request and inside bodies and headers alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, quote_plus, urlsplit

import httpx

from . import layout
from ._version import __version__
from .errors import ConfigError
from .fsutil import utc_now_iso

__all__ = ["Trace", "TraceTransport", "open_trace", "public_url"]

REMOVED = "<removed>"
SECRET = "<token>"
_HIDDEN_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})
_PART = 10  # runs of this many characters of the token are scrubbed as well
_LONG_RUN = re.compile(r"[A-Za-z0-9]{16,}")  # a signature, hash or capability in a download path
_URL = re.compile(r"https?://[^\s\"'<>\\]+")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return (parts.scheme.lower(), parts.netloc.lower())


def public_url(url: str, api_origin: tuple[str, str] | None = None) -> str:
    """`url` as a trace shows it: an API URL as is; any other (a signed download link) without its query
    string and with its long random path segments replaced."""
    parts = urlsplit(url)
    if api_origin is not None and (parts.scheme.lower(), parts.netloc.lower()) == api_origin:
        return url
    path = _LONG_RUN.sub("<signature>", parts.path)
    query = f"?{REMOVED}" if parts.query else ""
    return f"{parts.scheme}://{parts.netloc}{path}{query}" if parts.netloc else path + query


class Trace:
    """Where trace lines go: a text stream, written one whole line at a time under a lock and flushed.

    `add_secret` registers what must never be written (`make_client` registers its token). Every line is
    scrubbed as a whole just before it is written, whatever part of the record the secret hides in.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        path: Path | None = None,
        body_bytes: int = layout.TRACE_BODY_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if body_bytes < 0:
            raise ConfigError(f"The trace body size must be 0 or more bytes, got {body_bytes}.")
        self.stream = stream
        self.path = path
        self.body_bytes = body_bytes
        self.clock = clock
        self._secrets: list[str] = []
        self._parts: set[str] = set()
        self._lock = threading.Lock()
        self._n = 0
        self.closed = False

    def __repr__(self) -> str:  # never shows a secret
        return f"Trace({str(self.path) if self.path else '<stream>'!r})"

    # -- secrets --------------------------------------------------------------------------------------

    def add_secret(self, secret: str | None) -> None:
        """Never write `secret` (stripped), its encoded forms, or any run of 10 of its characters."""
        value = (secret or "").strip()
        if len(value) < 4:
            return
        with self._lock:
            forms = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
            for form in forms:
                if form not in self._secrets:
                    self._secrets.append(form)
            self._secrets.sort(key=len, reverse=True)
            if len(value) > _PART:
                self._parts.update(value[i : i + _PART] for i in range(len(value) - _PART + 1))

    def scrub(self, text: str) -> str:
        """`text` without any registered secret (nor any 10-character run of one)."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, SECRET)
        if not self._parts or len(text) < _PART:
            return text
        spans: list[list[int]] = []
        for i in range(len(text) - _PART + 1):
            if text[i : i + _PART] in self._parts:
                if spans and spans[-1][1] >= i:
                    spans[-1][1] = i + _PART
                else:
                    spans.append([i, i + _PART])
        for start, end in reversed(spans):
            text = text[:start] + SECRET + text[end:]
        return text

    # -- writing --------------------------------------------------------------------------------------

    def next_number(self) -> int:
        with self._lock:
            self._n += 1
            return self._n

    def write(self, record: dict[str, Any]) -> None:
        """Append one record as a scrubbed JSON line and flush it; a closed trace ignores it."""
        line = json.dumps({"t": utc_now_iso(), **record}, ensure_ascii=False, default=str)
        line = self.scrub(line)
        with self._lock:
            if self.closed:
                return
            self.stream.write(line + "\n")
            self.stream.flush()

    def start(self, **about: Any) -> None:
        """The first line of a session: which tool and platform wrote what follows."""
        self.write(
            {
                "type": "start",
                "tool": f"botify-graph {__version__}",
                "python": platform.python_version(),
                "httpx": httpx.__version__,
                "platform": sys.platform,
                "body_bytes": self.body_bytes,
                **about,
            }
        )

    def event(self, kind: str, step: str, message: str, **data: Any) -> None:
        """One step of an export (see `pipeline.Event`), to read the requests around it in context."""
        self.write({"type": "event", "kind": kind, "step": step, "message": message, **data})

    def close(self) -> None:
        with self._lock:
            self.closed = True

    # -- what an exchange looks like --------------------------------------------------------------------

    def headers(self, headers: httpx.Headers, api_origin: tuple[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in headers.multi_items():
            key = name.lower()
            shown = REMOVED if key in _HIDDEN_HEADERS else self.urls_in(value, api_origin)
            out[key] = shown if key not in out else f"{out[key]}, {shown}"
        return out

    def urls_in(self, text: str, api_origin: tuple[str, str]) -> str:
        """`text` with every URL outside the API shown as `public_url` shows it."""
        return _URL.sub(lambda m: public_url(m.group(0), api_origin), text)

    def body(self, data: bytes, total: int, api_origin: tuple[str, str]) -> dict[str, Any]:
        """A body as the trace shows it: text cut to `body_bytes`, or the size and first bytes of binary."""
        out: dict[str, Any] = {"bytes": total}
        if not data:
            return out
        head = data[: self.body_bytes + 4 * max(map(len, self._secrets), default=0)]
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not just a character cut at the end: binary
                out["binary"] = head[:16].hex()
                return out
            text = head[: exc.start].decode("utf-8")
        text = self.urls_in(self.scrub(text), api_origin)  # whole secrets first, then cut
        if len(text.encode("utf-8")) > self.body_bytes or total > len(head):
            text = text.encode("utf-8")[: self.body_bytes].decode("utf-8", errors="ignore")
            out["truncated"] = True
        out["body"] = text
        return out


@contextlib.contextmanager
def open_trace(
    path: str | os.PathLike[str] | None, *, body_bytes: int = layout.TRACE_BODY_BYTES, **about: Any
) -> Iterator[Trace | None]:
    """Open `path` for appending (0600 when created) as a Trace, or yield None when no path is given.

    Appending keeps what an earlier session wrote; each session starts with a "start" line.
    """
    if path is None or not str(path).strip():
        yield None
        return
    target = Path(path).expanduser()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as exc:
        raise ConfigError(
            f"The trace file {target} cannot be written ({exc.strerror or exc}). Give a path in a folder you "
            "can write to."
        ) from None
    with os.fdopen(fd, "a", encoding="utf-8") as stream:
        trace = Trace(stream, path=target, body_bytes=body_bytes)
        trace.start(**about)
        try:
            yield trace
        finally:
            trace.close()


class _TracedStream(httpx.AsyncByteStream):
    """The body of an answer as it passes: the first bytes are kept; the record is written on close."""

    def __init__(self, inner: httpx.AsyncByteStream, done: Callable[[bytes, int, str | None], None], keep: int) -> None:
        self.inner = inner
        self.done = done
        self.keep = keep
        self.head = bytearray()
        self.total = 0
        self.error: str | None = None
        self.finished = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.inner:
                self.total += len(chunk)
                if len(self.head) < self.keep:
                    self.head += chunk[: self.keep - len(self.head)]
                yield chunk
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            raise

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            if not self.finished:
                self.finished = True
                self.done(bytes(self.head), self.total, self.error)


class TraceTransport(httpx.AsyncBaseTransport):
    """Wraps the network transport and writes one trace line per exchange (each retry is one exchange)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, trace: Trace, *, api_url: httpx.URL) -> None:
        self.inner = inner
        self.trace = trace
        self.api_origin = _origin(str(api_url))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        trace, origin = self.trace, self.api_origin
        n = trace.next_number()
        t0 = trace.clock()
        try:
            content = request.content
        except httpx.RequestNotRead:
            content = b""
        record: dict[str, Any] = {
            "type": "http",
            "n": n,
            "method": request.method,
            "url": public_url(str(request.url), origin),
            "request": {"headers": trace.headers(request.headers, origin), **trace.body(content, len(content), origin)},
        }
        try:
            response = await self.inner.handle_async_request(request)
        except Exception as exc:
            record.update(ms=_ms(trace.clock() - t0), error=f"{type(exc).__name__}: {exc}")
            trace.write(record)
            raise
        record.update(status=response.status_code, ms=_ms(trace.clock() - t0))
        record["response"] = {"headers": trace.headers(response.headers, origin)}
        keep = trace.body_bytes + 4 * max(map(len, trace._secrets), default=0)

        def done(head: bytes, total: int, error: str | None) -> None:
            record["ms_total"] = _ms(trace.clock() - t0)
            record["response"].update(trace.body(head, total, origin))
            if error:
                record["error"] = error
            trace.write(record)

        if response.is_closed:  # a body given whole (a MockTransport answer): already read
            done(response.content, len(response.content), None)
        elif isinstance(response.stream, httpx.AsyncByteStream):
            response.stream = _TracedStream(response.stream, done, keep)
        else:  # pragma: no cover - a transport that answers with a sync-only stream
            done(b"", 0, None)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)
