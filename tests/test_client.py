"""make_client: auth scope, rate limit, 429 and retry policy — at the transport seam, no patching."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import httpx
import pytest

from botify_graph.api import request_json, verify_token
from botify_graph.client import RateLimiter, RetryTransport, backoff, make_client, resolve_api_url, retry_after_seconds
from botify_graph.errors import ApiError, AuthError, ConfigError, MalformedResponse, RateLimited, TransportError

TOKEN = "tok-SECRET-1234567890"


class Recorder:
    """Scripted responses in order; records what was sent and the sleeps requested."""

    def __init__(self, script: list[Callable[[httpx.Request], httpx.Response] | int | Exception]) -> None:
        self.script = list(script)
        self.sent: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, Exception):
            raise step
        if isinstance(step, int):
            return httpx.Response(step, json={"data": {"username": "u"}} if step < 300 else {"error": {}})
        return step(request)

    async def sleep(self, s: float) -> None:
        self.sleeps.append(s)

    def client(self) -> httpx.AsyncClient:
        return make_client(
            TOKEN,
            base_url="https://api.example.test/v1",
            transport=httpx.MockTransport(self.handler),
            sleep=self.sleep,
            rate=1000,
        )


async def test_token_only_goes_to_the_api_origin() -> None:
    rec = Recorder([200])
    async with rec.client() as client:
        await client.get("authentication/profile")
        await client.get("https://cdn.example.test/file.csv.gz")
        await client.get("https://api.example.test:8443/v1/x")  # another port is another origin
    assert rec.sent[0].headers["Authorization"] == f"Token {TOKEN}"
    assert rec.sent[0].url == "https://api.example.test/v1/authentication/profile"
    assert "Authorization" not in rec.sent[1].headers
    assert "Authorization" not in rec.sent[2].headers


async def test_429_without_retry_after_backs_off_exponentially() -> None:
    rec = Recorder([429, 429, 429, 200])
    async with rec.client() as client:
        assert await verify_token(client) == "u"
    assert rec.sleeps == [0.5, 1.0, 2.0]


async def test_429_with_retry_after_waits_what_the_server_says() -> None:
    rec = Recorder([lambda r: httpx.Response(429, headers={"Retry-After": "3"}), 200])
    async with rec.client() as client:
        await verify_token(client)
    assert rec.sleeps == [3.0]


async def test_429_on_post_is_retried_because_it_was_refused_not_processed() -> None:
    rec = Recorder([429, lambda r: httpx.Response(201, json={"job_id": 1})])
    async with rec.client() as client:
        response = await client.post("jobs", json={"a": 1})
    assert response.status_code == 201 and len(rec.sent) == 2


async def test_endless_429_becomes_rate_limited() -> None:
    rec = Recorder([429])
    async with rec.client() as client:
        with pytest.raises(RateLimited):
            await verify_token(client)
    assert len(rec.sent) == 11  # first try + 10 retries, bounded


async def test_5xx_retried_for_get_bounded() -> None:
    rec = Recorder([502, 503, 200])
    async with rec.client() as client:
        await verify_token(client)
    assert len(rec.sent) == 3
    rec = Recorder([500])
    async with rec.client() as client:
        with pytest.raises(ApiError, match="server error"):
            await verify_token(client)
    assert len(rec.sent) == 5  # 1 + max_retries(4)


async def test_5xx_and_broken_connection_never_repeat_a_post() -> None:
    rec = Recorder([500])
    async with rec.client() as client:
        response = await client.post("jobs", json={})
    assert response.status_code == 500 and len(rec.sent) == 1
    rec = Recorder([httpx.RemoteProtocolError("dropped")])
    async with rec.client() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("jobs", json={})
    assert len(rec.sent) == 1


async def test_connection_errors_on_get_are_retried_then_explained() -> None:
    rec = Recorder([httpx.ConnectError("refused"), 200])
    async with rec.client() as client:
        await verify_token(client)
    assert len(rec.sent) == 2
    rec = Recorder([httpx.ConnectError("refused")])
    async with rec.client() as client:
        with pytest.raises(TransportError, match="Could not talk to the Botify API") as info:
            await verify_token(client)
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)


async def test_errors_never_carry_the_token() -> None:
    rec = Recorder([401])
    async with rec.client() as client:
        with pytest.raises(AuthError) as info:
            await verify_token(client)
        assert TOKEN not in str(info.value) and TOKEN not in repr(client.auth)
    assert "BOTIFY_API_TOKEN" in str(info.value)


async def test_html_error_page_is_malformed_not_keyerror() -> None:
    rec = Recorder([lambda r: httpx.Response(200, text="<html><body>Gateway</body></html>")])
    async with rec.client() as client:
        with pytest.raises(MalformedResponse, match="non-JSON"):
            await request_json(client, "GET", "x", "testing")
    rec = Recorder([lambda r: httpx.Response(200, json={"data": {}})])
    async with rec.client() as client:
        with pytest.raises(MalformedResponse, match="username"):
            await verify_token(client)


async def test_rate_limiter_sliding_window() -> None:
    now = [0.0]
    sleeps: list[float] = []

    async def sleep(s: float) -> None:
        sleeps.append(s)
        now[0] += s

    limiter = RateLimiter(5, clock=lambda: now[0], sleep=sleep)
    stamps = []
    for _ in range(12):
        await limiter.acquire()
        stamps.append(now[0])
    for i in range(len(stamps)):
        window = [t for t in stamps if stamps[i] <= t < stamps[i] + 1.0]
        assert len(window) <= 5
    assert stamps[4] == 0.0 and stamps[5] >= 1.0


@pytest.mark.parametrize(
    ("rate", "capacity", "period"),
    [(5, 5, 1.0), (5.9, 5, 1.0), (2.5, 2, 1.0), (1, 1, 1.0), (1.67, 1, 1.0), (0.5, 1, 2.0), (0.25, 1, 4.0)],
)
def test_rate_limiter_window_holds_whole_requests(rate: float, capacity: int, period: float) -> None:
    # N processes at 5/N each must never send more than 5 in one second together: round down, never up
    limiter = RateLimiter(rate)
    assert (limiter.capacity, limiter.period) == (capacity, period)


async def test_rate_limiter_below_one_request_per_second() -> None:
    now = [0.0]

    async def sleep(s: float) -> None:
        now[0] += s

    limiter = RateLimiter(0.5, clock=lambda: now[0], sleep=sleep)
    stamps = []
    for _ in range(4):
        await limiter.acquire()
        stamps.append(now[0])
    assert all(b - a >= 2.0 for a, b in itertools.pairwise(stamps))


async def test_make_client_takes_the_rate_from_the_argument_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def capacity(client: httpx.AsyncClient) -> int:
        transport = client._transport
        assert isinstance(transport, RetryTransport)
        return transport.limiter.capacity

    monkeypatch.delenv("BOTIFY_GRAPH_RATE", raising=False)
    async with make_client("t") as c:
        assert capacity(c) == 5
    monkeypatch.setenv("BOTIFY_GRAPH_RATE", "2.5")
    async with make_client("t") as c:
        assert capacity(c) == 2
    async with make_client("t", rate=1) as c:
        assert capacity(c) == 1
    monkeypatch.setenv("BOTIFY_GRAPH_RATE", "fast")
    with pytest.raises(ConfigError, match="BOTIFY_GRAPH_RATE must be a positive number"):
        make_client("t")


def test_helpers() -> None:
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert [backoff(i) for i in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    with pytest.raises(ConfigError):
        make_client("")
    with pytest.raises(ConfigError):
        make_client("t", base_url="api.botify.com")


async def test_resolve_job_urls() -> None:
    async with make_client("t", base_url="http://127.0.0.1:9/v1") as c:
        assert resolve_api_url(c, "/v1/jobs/5") == "http://127.0.0.1:9/v1/jobs/5"
        assert resolve_api_url(c, "https://x/v1/jobs/5") == "https://x/v1/jobs/5"
    async with make_client("t", base_url="https://app.botify.com/api/v1") as c:
        assert resolve_api_url(c, "/v1/jobs/5") == "https://app.botify.com/api/v1/jobs/5"


async def test_read_only_post_is_retried_on_5xx() -> None:
    rec = Recorder([503, lambda r: httpx.Response(200, json={"results": [], "next": None})])
    async with rec.client() as client:
        body = await request_json(client, "POST", "projects/o/p/query", "querying", json={}, read_only=True)
    assert body["results"] == [] and len(rec.sent) == 2
