"""The one place an httpx client is built: token auth, a 5 requests/s limit, 429 handling and retries.

Policy, all inside a transport wrapper so every call site stays a plain `await client.get(...)`:
- the token goes only to the API's own origin (download links live on a CDN and need none);
- at most `rate` requests in any one-second window to the API origin (Botify allows 5 per second per token;
  `rate` defaults to $BOTIFY_GRAPH_RATE, else 5: see `layout.api_rate`), counted from when each answer
  arrived so that requests cannot bunch up on their way to the server. One client is one budget: share it
  (a batch does) rather than building several in one process;
- 429: wait `Retry-After` when the server sends it, else back off exponentially; any method, since
  a 429 means the request was refused, not processed (a download host's 429 is handled the same way);
- 5xx and broken connections: bounded retries with backoff (or the `Retry-After` a 503 may carry) for
  idempotent methods (and read-only POSTs such as BQL queries, marked with the request extension
  `idempotent`) only. A job POST that breaks is never repeated here: `api.create_export_job` decides
  what to do with it.
"""

from __future__ import annotations

import asyncio
import collections
import email.utils
import time
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any

import httpx

from .errors import ConfigError
from .layout import DEFAULT_API_BASE, api_rate

if TYPE_CHECKING:  # pragma: no cover
    from .trace import Trace

DEFAULT_BASE_URL = DEFAULT_API_BASE  # decided in layout; kept under this name for `make_client` users
RETRY_STATUSES = frozenset({500, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
USER_AGENT = "botify-graph"

Sleep = Callable[[float], Awaitable[Any]]


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


class TokenAuth(httpx.Auth):
    """`Authorization: Token …` on requests to the API origin only; its repr never shows the token."""

    def __init__(self, token: str, api_url: httpx.URL) -> None:
        self._token = token
        self._origin = _origin(api_url)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if _origin(request.url) == self._origin:
            request.headers["Authorization"] = f"Token {self._token}"
        yield request

    def __repr__(self) -> str:
        return "TokenAuth(<hidden>)"


class _Slot:
    """One request's place in the rate window: `t` is when it was sent, then when its answer arrived."""

    __slots__ = ("in_flight", "t")

    def __init__(self, t: float, in_flight: bool) -> None:
        self.t = t
        self.in_flight = in_flight


class RateLimiter:
    """At most `rate` requests in any sliding window of `period` seconds, as the server sees them.

    The window holds a whole number of requests: `rate · period` rounded down, so that N processes at 5/N
    each never exceed 5 in any window together (2.5/s gives 2 per second). Below one request per window, it
    holds one request for `1 / rate` seconds (0.5/s: one every 2 s).

    `acquire(hold=True)` keeps the slot busy until `release`: the window of a request then counts from
    when its answer arrived, not from when it was sent. A request that travelled slowly (connection
    setup, TLS, a busy proxy) can thus never reach the server within `period` of the next `rate` ones.
    """

    def __init__(
        self,
        rate: float = 5.0,
        period: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not rate > 0:
            raise ConfigError("The request rate must be positive.")
        self.capacity = int(rate * period)
        if self.capacity < 1:
            self.capacity, period = 1, 1.0 / rate
        self.period = period
        self._slots: list[_Slot] = []
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()

    async def acquire(self, *, hold: bool = False) -> _Slot:
        """Wait for a free slot and take it; with `hold`, it stays busy until `release(slot)`."""
        async with self._lock:
            while True:
                now = self._clock()
                self._slots = [s for s in self._slots if s.in_flight or now - s.t < self.period]
                if len(self._slots) < self.capacity:
                    slot = _Slot(now, hold)
                    self._slots.append(slot)
                    return slot
                settled = [s.t for s in self._slots if not s.in_flight]
                # A request still in flight frees its slot `period` after its answer, so not before then.
                await self._sleep(self.period - (now - min(settled)) + 0.01 if settled else self.period)

    def release(self, slot: _Slot) -> None:
        """The answer to the request holding `slot` arrived (or it failed): its window starts now."""
        if slot.in_flight:
            slot.t = max(slot.t, self._clock())
            slot.in_flight = False


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Parse a Retry-After header (seconds or an HTTP date) into seconds; None if absent or unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff(attempt: int, *, base: float = 0.5, cap: float = 30.0) -> float:
    """Delay before retry number `attempt` (0-based): base·2^attempt, capped."""
    return float(min(cap, base * (2**attempt)))


class RetryTransport(httpx.AsyncBaseTransport):
    """Wraps a transport with the rate limit, 429 handling and bounded retries described above."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        api_url: httpx.URL,
        limiter: RateLimiter,
        max_retries: int = 4,
        max_429_retries: int = 10,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.inner = inner
        self.limiter = limiter
        self.max_retries = max_retries
        self.max_429_retries = max_429_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._origin = _origin(api_url)
        self._sleep = sleep
        self.stats: collections.Counter[str] = collections.Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        failures = throttled = 0
        is_api = _origin(request.url) == self._origin
        idempotent = request.method in IDEMPOTENT or request.extensions.get("idempotent") is True
        while True:
            slot = await self.limiter.acquire(hold=True) if is_api else None
            self.stats["requests"] += 1
            try:
                response = await self._send(request, slot)
            except httpx.TransportError:
                if not idempotent or failures >= self.max_retries:
                    raise
                self.stats["retried_errors"] += 1
                await self._sleep(backoff(failures, base=self.backoff_base, cap=self.backoff_cap))
                failures += 1
                continue
            if response.status_code == 429 and throttled < self.max_429_retries:
                await self._wait_out(response, throttled, "retried_429")
                throttled += 1
                continue
            if response.status_code in RETRY_STATUSES and idempotent and failures < self.max_retries:
                await self._wait_out(response, failures, "retried_5xx")  # a 503 may say how long, too
                failures += 1
                continue
            return response

    async def _wait_out(self, response: httpx.Response, attempt: int, stat: str) -> None:
        """Close a refused answer and wait before trying again: its Retry-After (at most 120 s), else the
        backoff of `attempt`."""
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        await response.aclose()
        self.stats[stat] += 1
        if wait is None:
            wait = backoff(attempt, base=self.backoff_base, cap=self.backoff_cap)
        await self._sleep(min(wait, 120.0))

    async def _send(self, request: httpx.Request, slot: _Slot | None) -> httpx.Response:
        try:
            return await self.inner.handle_async_request(request)
        finally:
            if slot is not None:
                self.limiter.release(slot)  # the answer (headers) arrived: the slot's window starts now

    async def aclose(self) -> None:
        await self.inner.aclose()


def make_client(
    token: str | None,
    *,
    base_url: str = DEFAULT_BASE_URL,
    transport: httpx.AsyncBaseTransport | None = None,
    rate: float | None = None,
    max_retries: int = 4,
    timeout: float = 60.0,
    sleep: Sleep = asyncio.sleep,
    backoff_base: float = 0.5,
    trace: Trace | None = None,
) -> httpx.AsyncClient:
    """Build the AsyncClient every cell function takes first. Use it with `async with`.

    With `trace` (see `botify_graph.trace.open_trace`), every request and answer, retries included, is
    written to it without the token (which is registered with the trace as a secret).

    `rate`: requests per second this client sends at most (default: $BOTIFY_GRAPH_RATE, else 5).
    """
    if not token or not str(token).strip():
        raise ConfigError(
            "No Botify API token. Set BOTIFY_API_TOKEN, or paste it in the wizard's Connect step "
            "(find it in Botify under your profile: 'API token')."
        )
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"API base URL {base_url!r} must start with http:// or https://.")
    api_url = httpx.URL(base_url.rstrip("/") + "/")
    limiter = RateLimiter(api_rate(rate), sleep=sleep)
    inner = transport or httpx.AsyncHTTPTransport()
    if trace is not None:
        from .trace import TraceTransport

        trace.add_secret(str(token))
        inner = TraceTransport(inner, trace, api_url=api_url)
    wrapped = RetryTransport(
        inner,
        api_url=api_url,
        limiter=limiter,
        max_retries=max_retries,
        backoff_base=backoff_base,
        sleep=sleep,
    )
    return httpx.AsyncClient(
        base_url=api_url,
        auth=TokenAuth(str(token).strip(), api_url),
        transport=wrapped,
        timeout=httpx.Timeout(timeout, connect=15.0),
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        follow_redirects=True,
    )


def resolve_api_url(client: httpx.AsyncClient, url: str) -> str:
    """Absolute URL for what the API handed back: absolute as is; `/v1/...` against the API root."""
    if url.startswith(("http://", "https://")):
        return url
    base = str(client.base_url).rstrip("/")
    if url.startswith("/v1/") and base.endswith("/v1"):
        return base[: -len("/v1")] + url
    if url.startswith("/"):
        root = client.base_url
        return f"{root.scheme}://{root.netloc.decode()}{url}"
    return f"{base}/{url}"
