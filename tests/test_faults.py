"""The fault suite: run_export against the fake Botify API misbehaving, over real sockets.

Each test turns on one fault (see `botify_graph.fake.Scenario`) and checks three things: what the user is
told, what the export registry and the output folder hold afterwards, and that a plain rerun (fault gone)
finishes the export without creating a second job. docs/reliability.md lists them.

Polls never wait (an instant `sleep` is passed to run_export). Where the rate limit is not the subject,
the fake's 5 requests/s window is switched off and the client allowed more, so a test takes a fraction of a
second; the rate-limit tests keep both at the contract's 5 requests/s and real time.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import SmallDisk

from botify_graph.client import RateLimiter, make_client
from botify_graph.errors import (
    ApiError,
    AuthError,
    DownloadError,
    DownloadExpired,
    ExportJobFailed,
    ExportTimeout,
    StateFileError,
    StorageError,
    TransportError,
)
from botify_graph.fake import ALWAYS, FakeBotify, Scenario
from botify_graph.layout import REGISTRY_NAME
from botify_graph.pipeline import Event, ExportParams, ExportResult, run_export
from botify_graph.registry import ExportRegistry

URL = "https://app.botify.com/example-org/example.com/"
MAX_EDGES = 20_000
KINDS = ("links", "meta")


# --- helpers ------------------------------------------------------------------------------------------


def fast(**knobs: Any) -> Scenario:
    """Jobs DONE on the first poll, no QPS window: one fault at a time, and quick."""
    return Scenario(**{"polls_to_done": 1, "rate_limit_qps": None, **knobs})


async def no_wait(_: float) -> None:
    await asyncio.sleep(0)


class Sleeps:
    """A client `sleep` that records every delay asked for and waits at most `cap` seconds of it.

    Shortening a wait never lets more requests through: the rate limiter re-reads the real clock after
    each sleep and sleeps again while its window is full.
    """

    def __init__(self, cap: float = 0.05) -> None:
        self.cap = cap
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        await asyncio.sleep(min(seconds, self.cap))


def client_for(
    fake: FakeBotify,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    rate: float = 1000.0,
    sleep: Callable[[float], Any] | None = None,
    base_url: str | None = None,
) -> httpx.AsyncClient:
    return make_client(
        fake.token,
        base_url=base_url or fake.base_url,
        transport=transport,
        rate=rate,
        backoff_base=0.01,
        sleep=sleep or Sleeps(),
    )


async def export(
    fake: FakeBotify,
    out: Path,
    *,
    client: httpx.AsyncClient | None = None,
    on_event: Callable[[Event], None] | None = None,
    **params: Any,
) -> ExportResult:
    """run_export with instant polls; a fast client unless one is given."""
    p = ExportParams(
        **{"project_url": URL, "out_dir": out, "api_base": fake.base_url, "max_edges": MAX_EDGES, **params}
    )
    if client is not None:
        return await run_export(p, client=client, sleep=no_wait, on_event=on_event)
    async with client_for(fake) as own:
        return await run_export(p, client=own, sleep=no_wait, on_event=on_event)


def registry(out: Path) -> dict[str, dict[str, Any]]:
    """The export registry's records by kind."""
    doc = json.loads((out / REGISTRY_NAME).read_text())
    return {rec["kind"]: rec for rec in doc["exports"].values()}


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))


def assert_complete(result: ExportResult, out: Path) -> None:
    """Both files whole: the links file has exactly the edges the depth query counted, every page has a row."""
    links = read_csv(result.links.path)
    meta = read_csv(result.meta.path)
    assert links[0] == ["source", "target"] and meta[0][0] == "id"
    assert len(links) - 1 == result.links.rows
    if result.depth is not None:
        assert result.links.rows == result.depth.edges
    assert {u for row in links[1:] for u in row} <= {row[0] for row in meta[1:]}
    assert not list(out.rglob("*.part")), "a part file was left behind"
    assert {rec["status"] for rec in registry(out).values()} == {"DOWNLOADED"}


def job_posts(fake: FakeBotify) -> list[int]:
    """Statuses of every POST /jobs the fake received (0: the connection was dropped)."""
    return [r.status for r in fake.requests if r.method == "POST" and r.path.rstrip("/").endswith("/jobs")]


def one_job_per_kind(fake: FakeBotify) -> dict[str, int]:
    ids = {kind: [j.job_id for j in fake.jobs_of_kind(kind)] for kind in KINDS}
    assert all(len(v) == 1 for v in ids.values()), ids
    return {kind: v[0] for kind, v in ids.items()}


def busiest_second(times: list[float]) -> int:
    """The largest number of requests that arrived within any window shorter than one second."""
    times = sorted(times)
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


class LoseAnswers(httpx.AsyncBaseTransport):
    """The real transport, except that chosen requests reach the server and then lose their answer.

    `lose(request, n)` gets each request and how many times its method+path has been sent so far
    (1 for the first). A lost request is processed by the server; the client sees the connection drop.
    """

    def __init__(self, lose: Callable[[httpx.Request, int], bool]) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.lose = lose
        self.sent: Counter[str] = Counter()
        self.lost: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = f"{request.method} {request.url.path}"
        self.sent[key] += 1
        response = await self.inner.handle_async_request(request)
        if not self.lose(request, self.sent[key]):
            return response
        await response.aread()
        await response.aclose()
        self.lost.append(key)
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@contextmanager
def hang_up_server() -> Iterator[str]:
    """A real listener on 127.0.0.1 that accepts every connection and closes it at once; yields its /v1 URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        stop.set()
        thread.join(timeout=5)
        sock.close()


# --- rate limiting --------------------------------------------------------------------------------------


@pytest.mark.parametrize("retry_after", [False, True], ids=["no-retry-after", "retry-after"])
async def test_429_storm_completes_and_never_exceeds_5_requests_per_second(tmp_path: Path, retry_after: bool) -> None:
    # The contract's 5 requests/s per endpoint, plus a storm: the first 2 requests of every endpoint get 429.
    scenario = Scenario(polls_to_done=1, storm_429=2, retry_after=retry_after)
    sleeps = Sleeps()
    with FakeBotify(scale=0.02, scenario=scenario) as fake:
        async with client_for(fake, rate=5, sleep=sleeps) as client:
            result = await export(fake, tmp_path, client=client)
        api = [r for r in fake.requests if r.server == "api"]
    assert_complete(result, tmp_path)
    throttled = [r for r in api if r.status == 429]
    assert len(throttled) >= 2 * 6  # the storm really hit (6 endpoints at least)
    assert busiest_second([r.t for r in api]) <= 5  # as the server saw it, 429s included
    if retry_after:
        assert sleeps.asked.count(1.0) >= len(throttled)  # the fake says "Retry-After: 1" with every 429
        assert 0.01 not in sleeps.asked  # ... so no exponential backoff was needed
    else:
        assert 0.01 in sleeps.asked and 0.02 in sleeps.asked  # backoff_base * 2**n


async def test_rate_window_counts_from_the_answer_not_the_send() -> None:
    # Five requests sent at t=0 whose answers arrive at t=0.3: the server may have seen them as late as 0.3,
    # so a sixth must not leave before 1.3 (counting from the send, it left at 1.0 and made 6 in 0.7 s).
    now = [0.0]

    async def sleep(s: float) -> None:
        now[0] += s

    limiter = RateLimiter(5, clock=lambda: now[0], sleep=sleep)
    slots = [await limiter.acquire(hold=True) for _ in range(5)]
    now[0] = 0.3
    for slot in slots:
        limiter.release(slot)
    await limiter.acquire(hold=True)
    assert now[0] >= 1.3


async def test_429_that_never_ends_is_a_clear_error(tmp_path: Path) -> None:
    with FakeBotify(scale=0.02, scenario=fast(storm_429=ALWAYS)) as fake:
        with pytest.raises(ApiError, match=r"kept rate-limiting.*\(429\).*run again") as info:
            await export(fake, tmp_path)
        assert info.value.status == 429
        # the first try and 10 retries, then stop; once on the (undocumented) profile endpoint, once on the
        # analyses list that checks the token when the profile endpoint cannot
        assert [r.endpoint for r in fake.requests].count("GET /authentication/profile") == 11
        assert len(fake.requests) == 22
        assert fake.jobs == {}


# --- transient server errors and dropped connections on reads ---------------------------------------------


@pytest.mark.parametrize(("status", "body"), [(500, "envelope"), (502, "html"), (503, "text"), (504, "text")])
async def test_transient_5xx_are_retried_with_bounded_backoff(tmp_path: Path, status: int, body: str) -> None:
    # The first 2 requests to every endpoint fail (reads, BQL queries, job polls and job POSTs alike).
    sleeps = Sleeps()
    with FakeBotify(scale=0.02, scenario=fast(error_first_n=2, error_status=status, error_body=body)) as fake:
        async with client_for(fake, sleep=sleeps) as client:
            result = await export(fake, tmp_path, client=client)
        assert_complete(result, tmp_path)
        assert sum(r.status == status for r in fake.requests) >= 10
        one_job_per_kind(fake)  # a failed POST was resolved by listing jobs, not by posting blindly
    assert max(sleeps.asked) <= 1.0 and set(sleeps.asked) >= {0.01, 0.02}


async def test_5xx_that_never_ends_is_a_clear_error(tmp_path: Path) -> None:
    sleeps = Sleeps()
    with FakeBotify(scale=0.02, scenario=fast(error_first_n=ALWAYS, error_status=502, error_body="html")) as fake:
        async with client_for(fake, sleep=sleeps) as client:
            with pytest.raises(
                ApiError, match=r"server error while checking the API token.* \(502 .*Try again"
            ) as info:
                await export(fake, tmp_path, client=client)
        assert len(fake.requests) == 10  # 1 + 4 retries on the profile endpoint, then on the analyses list
    assert info.value.status == 502 and "<" not in str(info.value)  # the HTML page is reduced to its text
    assert sleeps.asked == [0.01, 0.02, 0.04, 0.08] * 2  # bounded exponential backoff


async def test_dropped_connections_on_reads_are_retried(tmp_path: Path) -> None:
    # The first answer to every GET and every BQL query is lost after the server processed the request.
    def first_read(request: httpx.Request, n: int) -> bool:
        return n == 1 and (request.method == "GET" or request.url.path.endswith("/query"))

    lossy = LoseAnswers(first_read)
    with FakeBotify(scale=0.02, scenario=fast()) as fake:
        async with client_for(fake, transport=lossy) as client:
            result = await export(fake, tmp_path, client=client)
        assert_complete(result, tmp_path)
        one_job_per_kind(fake)
    lost = set(lossy.lost)
    assert {"GET /v1/authentication/profile", "POST /v1/projects/example-org/example.com/query"} <= lost
    assert any(k.startswith("GET /v1/jobs/") for k in lost)
    assert any(k.startswith("GET /exports/") for k in lost)  # the download too: its link is fetched anew


async def test_dropped_connections_that_never_end_are_a_clear_error(tmp_path: Path) -> None:
    lossy = LoseAnswers(lambda request, n: True)
    sleeps = Sleeps()
    with FakeBotify(scale=0.02, scenario=fast()) as fake:
        async with client_for(fake, transport=lossy, sleep=sleeps) as client:
            with pytest.raises(TransportError, match=r"Could not talk to the Botify API.*Check your network"):
                await export(fake, tmp_path, client=client)
        assert len(fake.requests) == 5
    assert sleeps.asked == [0.01, 0.02, 0.04, 0.08]


async def test_a_server_that_hangs_up_is_a_clear_error(tmp_path: Path) -> None:
    # A real listener that closes every connection: the error httpx raises is whatever the OS produced.
    with hang_up_server() as base, FakeBotify(scale=0.02, scenario=fast()) as fake:
        async with client_for(fake, base_url=base) as client:
            with pytest.raises(TransportError, match=r"Could not talk to the Botify API at 127\.0\.0\.1"):
                await export(fake, tmp_path, client=client)


# --- creating jobs ---------------------------------------------------------------------------------------


async def test_connection_dropped_while_creating_jobs_makes_one_job_per_kind(tmp_path: Path) -> None:
    # Both job POSTs create their job and then lose the connection: the client must find them, not repost.
    with FakeBotify(scale=0.02, scenario=fast(drop_job_posts=2)) as fake:
        result = await export(fake, tmp_path)
        assert_complete(result, tmp_path)
        ids = one_job_per_kind(fake)
        assert job_posts(fake) == [0, 0]
        assert fake.requests_to("/jobs", method="GET", server="api")  # the job list was read
    assert {registry(tmp_path)[k]["job_id"] for k in KINDS} == set(ids.values())


async def test_job_posts_failing_twice_leave_a_resumable_record(tmp_path: Path) -> None:
    # Every job POST answers 503 (the fake creates no job then): the run fails, and the record must stay
    # "CREATING" (unknown) rather than FAILED, so a plain rerun looks for the job and then creates it.
    with FakeBotify(scale=0.02, scenario=fast()) as fake:
        fake.scenario = fast(error_first_n=4)  # 4 per endpoint: enough for both kinds' POST and re-POST
        with pytest.raises(ApiError, match="server error while creating the export job"):
            await export(fake, tmp_path)
        assert fake.jobs == {}
        assert {rec["status"] for rec in registry(tmp_path).values()} == {"CREATING"}
        fake.scenario = fast()
        result = await export(fake, tmp_path)  # no retry_failed needed: nothing failed on Botify's side
        assert_complete(result, tmp_path)
        one_job_per_kind(fake)


class HangAfterJobPost(httpx.AsyncBaseTransport):
    """Delivers POST /jobs to the server, then never returns: the process stops right after creating jobs."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.posted = 0
        self.both_posted = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and request.url.path.rstrip("/").endswith("/jobs"):
            await response.aclose()
            self.posted += 1
            if self.posted == 2:
                self.both_posted.set()
            await asyncio.Event().wait()  # forever: the caller is cancelled here
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_run_stopped_after_posting_jobs_next_run_finds_them(tmp_path: Path) -> None:
    # A kernel interrupt (or a closed Voila page) right after the POSTs went out: the jobs exist on Botify
    # but the registry never saw their ids. The next run must find them instead of paying for new ones.
    hang = HangAfterJobPost()
    with FakeBotify(scale=0.02, scenario=fast()) as fake:
        async with client_for(fake, transport=hang) as client:
            task = asyncio.create_task(export(fake, tmp_path, client=client))
            await asyncio.wait_for(hang.both_posted.wait(), 30)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        ids = one_job_per_kind(fake)
        assert {rec["status"] for rec in registry(tmp_path).values()} == {"CREATING"}
        result = await export(fake, tmp_path)
        assert_complete(result, tmp_path)
        assert one_job_per_kind(fake) == ids and len(job_posts(fake)) == 2
        assert {result.links.job_id, result.meta.job_id} == set(ids.values())


async def test_creating_record_left_by_a_killed_process_is_resolved_by_listing(tmp_path: Path) -> None:
    # What SIGKILL right after the POST leaves behind: status CREATING with no job id, the job on the server.
    with FakeBotify(scale=0.02, scenario=fast()) as fake:
        await export(fake, tmp_path)
        ids = one_job_per_kind(fake)
        doc = json.loads((tmp_path / REGISTRY_NAME).read_text())
        for rec in doc["exports"].values():
            rec.update(status="CREATING", job_id=None, job_url=None, download_url=None, file=None, rows=None)
        (tmp_path / REGISTRY_NAME).write_text(json.dumps(doc))
        result = await export(fake, tmp_path)
        assert_complete(result, tmp_path)
        assert one_job_per_kind(fake) == ids and len(job_posts(fake)) == 2


# --- failed jobs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["error", "results", "failure_reason"])
async def test_failed_job_is_explained_and_not_retried_unless_asked(tmp_path: Path, where: str) -> None:
    failing = fast(fail_jobs=1, fail_match="outlinks_internal", failure_location=where)
    with FakeBotify(scale=0.02, scenario=failing) as fake:
        with pytest.raises(ExportJobFailed, match=r"job \d+ failed: The export failed.*--retry-failed") as info:
            await export(fake, tmp_path)
        failed_id = info.value.job_id
        assert fake.jobs[int(failed_id)].kind == "links"
        records = registry(tmp_path)
        assert records["links"]["status"] == "FAILED" and "The export failed" in records["links"]["failure_reason"]
        assert records["meta"]["status"] == "DOWNLOADED"  # the other kind is not thrown away

        # A rerun without retry_failed says the same thing and creates nothing.
        with pytest.raises(ExportJobFailed, match="The export failed") as again:
            await export(fake, tmp_path)
        assert again.value.job_id == failed_id and len(job_posts(fake)) == 2

        # With retry_failed: exactly one new links job; meta is reused.
        result = await export(fake, tmp_path, retry_failed=True)
        assert_complete(result, tmp_path)
        assert len(job_posts(fake)) == 3 and len(fake.jobs_of_kind("links")) == 2
        assert result.links.job_id != failed_id and result.meta.reused


@pytest.mark.slow
def test_cli_retry_failed_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from botify_graph.cli import main

    with FakeBotify(scale=0.02, scenario=Scenario(polls_to_done=1, fail_jobs=1, fail_match="outlinks")) as fake:
        monkeypatch.setenv("BOTIFY_API_TOKEN", fake.token)
        argv = [
            "run",
            "--project-url",
            URL,
            "--api-base",
            fake.base_url,
            "--out",
            str(tmp_path),
            "--max-edges",
            str(MAX_EDGES),
        ]
        assert main(argv) == 1
        assert main(argv) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 2 and all("failed: The export failed" in line and "--retry-failed" in line for line in err)
        assert len(job_posts(fake)) == 2
        assert main([*argv, "--retry-failed"]) == 0
        assert len(job_posts(fake)) == 3


# --- downloads ------------------------------------------------------------------------------------------


async def test_expired_download_links_are_refreshed(tmp_path: Path) -> None:
    with FakeBotify(scale=0.02, scenario=fast(expire_first_n_downloads=3)) as fake:
        result = await export(fake, tmp_path)
        assert_complete(result, tmp_path)
        cdn = [r.status for r in fake.requests if r.server == "cdn"]
        assert cdn.count(403) == 3 and cdn.count(200) == 2
        one_job_per_kind(fake)


async def test_links_that_always_expire_fail_cleanly_and_the_rerun_finishes(tmp_path: Path) -> None:
    with FakeBotify(scale=0.02, scenario=fast(download_ttl_s=0.0)) as fake:
        with pytest.raises(DownloadExpired, match=r"expired three times.*Run the export again later") as info:
            await export(fake, tmp_path)
        assert "HTTP 403" in str(info.value.__cause__)
        assert {rec["status"] for rec in registry(tmp_path).values()} == {"DONE"}
        assert sum(r.status == 403 for r in fake.requests) == 6  # 3 fresh links per kind, then stop
        ids = one_job_per_kind(fake)
        fake.scenario = fast()
        result = await export(fake, tmp_path)
        assert_complete(result, tmp_path)
        assert one_job_per_kind(fake) == ids


BAD_DOWNLOADS = {
    "truncated": (fast(truncate_downloads=ALWAYS), r"connection broke after \d+ of \d+ bytes"),
    "corrupt-gzip": (fast(corrupt_downloads=ALWAYS), r"corrupt gzip|truncated gzip"),
    "corrupt-zip": (fast(corrupt_downloads=ALWAYS, force_zip=True), r"not a readable zip"),
    "zip-without-csv": (fast(zip_without_csv=ALWAYS, force_zip=True), r"holds no \.csv file \(entries: manifest"),
}


@pytest.mark.parametrize("fault", list(BAD_DOWNLOADS))
async def test_bad_download_is_never_kept(tmp_path: Path, fault: str) -> None:
    scenario, message = BAD_DOWNLOADS[fault]
    folder = tmp_path / "example-org" / "example.com"
    folder.mkdir(parents=True)
    before = {kind: folder / f"example.com_20241108_{kind}.csv" for kind in KINDS}
    for kind, path in before.items():
        path.write_text(f"an older {kind} file the failed download must not touch\n")
    with FakeBotify(scale=0.02, scenario=scenario) as fake:
        with pytest.raises(DownloadError, match=message) as info:
            await export(fake, tmp_path)
        assert "again" in str(info.value)  # it says what to do
        for kind, path in before.items():
            assert path.read_text() == f"an older {kind} file the failed download must not touch\n"
        assert not list(tmp_path.rglob("*.part"))
        assert {rec["status"] for rec in registry(tmp_path).values()} == {"DONE"}  # never DOWNLOADED
        ids = one_job_per_kind(fake)

        fake.scenario = fast()
        result = await export(fake, tmp_path)
        assert_complete(result, tmp_path)
        assert one_job_per_kind(fake) == ids


# --- the download host ----------------------------------------------------------------------------------


@pytest.mark.parametrize("retry_after", [False, True], ids=["no-retry-after", "retry-after"])
@pytest.mark.parametrize("status", [429, 503])
async def test_download_host_refusals_are_waited_out(tmp_path: Path, status: int, retry_after: bool) -> None:
    knobs = {"cdn_429": 3} if status == 429 else {"cdn_503": 3}
    sleeps = Sleeps()
    with FakeBotify(scale=0.02, scenario=fast(cdn_retry_after=retry_after, **knobs)) as fake:
        async with client_for(fake, sleep=sleeps) as client:
            result = await export(fake, tmp_path, client=client)
        assert_complete(result, tmp_path)
        cdn = [r.status for r in fake.requests if r.server == "cdn"]
        assert cdn.count(status) == 3 and cdn.count(200) == 2
        one_job_per_kind(fake)
    if retry_after:
        assert sleeps.asked.count(1.0) >= 3  # the CDN said "Retry-After: 1"
    else:
        assert 0.01 in sleeps.asked and 0.02 in sleeps.asked  # backoff_base * 2**n


async def test_download_host_refusing_for_good_is_a_clear_error_and_the_rerun_finishes(tmp_path: Path) -> None:
    with FakeBotify(scale=0.02, scenario=fast(cdn_429=ALWAYS)) as fake:
        with pytest.raises(DownloadError, match=r"kept answering HTTP 429 .*job is kept") as info:
            await export(fake, tmp_path)
        assert "exports/" in str(info.value) and "?" not in str(info.value)
        assert {rec["status"] for rec in registry(tmp_path).values()} == {"DONE"}
        assert not list(tmp_path.rglob("*.csv")) and not list(tmp_path.rglob("*.part"))
        ids = one_job_per_kind(fake)
        fake.scenario = fast()
        fake.reset_counters()
        result = await export(fake, tmp_path)
        assert_complete(result, tmp_path)
        assert one_job_per_kind(fake) == ids


@pytest.mark.parametrize("ranges", [True, False], ids=["ranges", "no-ranges"])
async def test_a_broken_download_resumes_where_the_server_allows_ranges(tmp_path: Path, ranges: bool) -> None:
    # The first download request gets a 503 (waited out), the next one breaks half-way through the file.
    with FakeBotify(scale=0.02, scenario=fast(cdn_503=1, truncate_downloads=1, cdn_ranges=ranges)) as fake:
        result = await export(fake, tmp_path)
        assert_complete(result, tmp_path)
        one_job_per_kind(fake)
        cdn = [r for r in fake.requests if r.server == "cdn"]
        # links and meta download at once: the cut one is whichever the fake counted first, not cdn[1]
        (broken,) = [r for r in cdn if r.action == "truncate"]
        assert broken.status in (200, 206) and broken.range is None
        job = next(j for j in fake.jobs.values() if j.download_urls and broken.path in j.download_urls[-1])
        size = job.file.stat().st_size  # type: ignore[union-attr]
        if ranges:  # the rest of that file, from where the cut transfer ended, on the same link
            resumed = [r for r in cdn if r.range is not None]
            assert [(r.status, r.range, r.path) for r in resumed] == [(206, f"bytes={size // 2}-", broken.path)]
        else:  # the whole file again, on the same link
            assert all(r.range is None for r in cdn) and [r.status for r in cdn].count(200) == 3
        assert [r.status for r in cdn].count(503) == 1


# --- the token ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["missing", "not-allowed", "refused", "no-username"])
async def test_an_unusable_profile_endpoint_never_stops_a_run(tmp_path: Path, profile: str) -> None:
    events: list[Event] = []
    with FakeBotify(scale=0.02, scenario=fast(profile=profile)) as fake:
        result = await export(fake, tmp_path, on_event=events.append)
        assert_complete(result, tmp_path)
        assert result.username is None
        connect = next(e for e in events if e.step == "connect" and e.kind == "step_succeeded")
        assert connect.message.startswith("Token accepted by the analyses list (user unknown: the profile endpoint")
        checks = [r for r in fake.requests_to("/light") if r.query.get("size") == "1"]
        assert len(checks) == 1 and checks[0].status == 200  # the documented call that checked the token

        async with make_client("not-the-token", base_url=fake.base_url, rate=1000, backoff_base=0.01) as client:
            with pytest.raises(AuthError, match="rejected the API token while checking the API token with the anal"):
                await export(fake, tmp_path / "other", client=client)
        assert len(fake.jobs) == 2


async def test_token_revoked_mid_poll_keeps_the_jobs_and_the_new_token_resumes_them(tmp_path: Path) -> None:
    with FakeBotify(scale=0.02, scenario=fast(polls_to_done=5, revoke_token_after_polls=2)) as fake:
        with pytest.raises(AuthError, match=r"rejected the API token while checking the export job") as info:
            await export(fake, tmp_path)
        assert re.search(r"export job \d+ is kept: run the same export again with the new token", str(info.value))
        assert fake.token_revoked
        ids = one_job_per_kind(fake)
        recorded = registry(tmp_path)
        assert {rec["job_id"] for rec in recorded.values()} == set(ids.values())
        assert {rec["status"] for rec in recorded.values()} <= {"CREATED", "PROCESSING"}

        with pytest.raises(AuthError, match="BOTIFY_API_TOKEN"):  # the old token: stopped at once, nothing made
            await export(fake, tmp_path)
        assert len(job_posts(fake)) == 2

        async with make_client(fake.new_token, base_url=fake.base_url, rate=1000, backoff_base=0.01) as client:
            result = await export(fake, tmp_path, client=client)
        assert_complete(result, tmp_path)
        assert one_job_per_kind(fake) == ids and len(job_posts(fake)) == 2  # the same jobs, no second POST


# --- two runs with other settings at once -------------------------------------------------------------------


class Gated(httpx.AsyncBaseTransport):
    """The real transport, except that polling a job waits for its gate: gates[(run, kind)].

    (Polls, not downloads: a download waits for the lock of its destination file, and holding one there
    would hold the other run's download of the same kind behind it.)
    """

    def __init__(self, run: str, fake: FakeBotify, gates: dict[tuple[str, str], asyncio.Event]) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.run, self.fake, self.gates = run, fake, gates

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        job_id = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        if request.method == "GET" and "/jobs/" in request.url.path and job_id.isdigit():
            await self.gates[(self.run, self.fake.jobs[int(job_id)].kind)].wait()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_interleaved_runs_with_other_settings_leave_one_exports_pair_under_the_plain_names(
    tmp_path: Path,
) -> None:
    # Run A (limit 20,000) and run B (limit 8,000) of the same analysis; their files are installed in the order
    # A meta, B meta, B links, A links. Without care the plain names would end up holding A's links beside B's
    # meta (a pair that describes two different graphs). A finishes last: it holds both. Each export's job is
    # polled (and so downloaded) only once the one before it in that order is installed.
    limits = {"A": 20_000, "B": 8_000}
    order = [("A", "meta"), ("B", "meta"), ("B", "links"), ("A", "links")]
    gates = {step: asyncio.Event() for step in order}
    reg = ExportRegistry(tmp_path / REGISTRY_NAME)

    def installed(run: str, kind: str) -> bool:
        return any(r.kind == kind and r.max_edges == limits[run] and r.status == "DOWNLOADED" for r in reg.records())

    async def conduct() -> None:
        for run, kind in order:
            gates[(run, kind)].set()
            while not installed(run, kind):
                await asyncio.sleep(0.01)

    with FakeBotify(scale=0.02, scenario=fast()) as fake:

        async def one(run: str) -> ExportResult:
            async with client_for(fake, transport=Gated(run, fake, gates)) as client:
                return await export(fake, tmp_path, client=client, max_edges=limits[run])

        a, b, _ = await asyncio.gather(one("A"), one("B"), conduct())
    records = {(r.kind, r.max_edges): r for r in reg.records()}
    assert len(records) == 4 and {r.status for r in records.values()} == {"DOWNLOADED"}
    plain = {kind: tmp_path / "example-org" / "example.com" / f"example.com_20241108_{kind}.csv" for kind in KINDS}
    for (kind, limit), rec in records.items():
        path = reg.file_path(rec)
        assert path is not None and len(read_csv(path)) - 1 == rec.rows
        assert (path == plain[kind]) is (limit == limits["A"])  # A's pair under the plain names, B's aside
    assert a.links.path == plain["links"] and a.meta.path == plain["meta"]
    assert len(read_csv(plain["links"])) - 1 == a.links.rows and len(read_csv(plain["meta"])) - 1 == a.meta.rows
    assert b.links.rows < a.links.rows and not list(tmp_path.rglob("*.part"))


# --- the disk -----------------------------------------------------------------------------------------------


def csv_files_are_whole(out: Path) -> None:
    """Every CSV in `out` is one the registry recorded as downloaded, with the row count it recorded."""
    doc = registry(out) if (out / REGISTRY_NAME).exists() else {}
    done = {out / rec["file"]: rec["rows"] for rec in doc.values() if rec["status"] == "DOWNLOADED"}
    for path in out.rglob("*.csv"):
        assert path in done, f"{path} is on disk but not recorded as a complete download"
        assert len(read_csv(path)) - 1 == done[path]


async def test_full_disk_while_downloading_names_the_folder_and_the_rerun_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    with SmallDisk(out, 256 * 1024, monkeypatch) as disk, FakeBotify(scale=0.02, scenario=fast()) as fake:
        folder = out / "example-org" / "example.com"
        with pytest.raises(StorageError, match=rf"No space left on the disk of {re.escape(str(folder))} ") as info:
            await export(fake, out)
        assert info.value.folder == str(folder) and "job is kept" in str(info.value)
        assert not list(out.rglob("*.part")) and not list(out.rglob(".*.tmp"))
        csv_files_are_whole(out)
        assert "DOWNLOADED" not in {registry(out)["links"]["status"]}
        ids = one_job_per_kind(fake)

        disk.resize(64 << 20)
        result = await export(fake, out)
        assert_complete(result, out)
        assert one_job_per_kind(fake) == ids


async def test_full_disk_while_writing_reports_leaves_no_partial_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botify_graph.reports import export_reports as write_export_reports

    out = tmp_path / "out"
    with SmallDisk(out, 64 << 20, monkeypatch) as disk, FakeBotify(scale=0.02, scenario=fast()) as fake:
        result = await export(fake, out)
        folder = result.links.path.parent
        before = sorted(p.name for p in folder.iterdir())
        disk.leave_free(4096)
        full = rf"No space left on the disk of {re.escape(str(folder))} .*was left as it was"
        with pytest.raises(StorageError, match=full):
            write_export_reports(result)
        # what was written is whole (each report is written atomically); nothing half-written or temporary
        leftovers = sorted(p.name for p in folder.iterdir())
        assert not [n for n in leftovers if n.endswith(".tmp")]
        assert set(before) <= set(leftovers)
        for name in set(leftovers) - set(before):
            assert name.endswith(("_summary.json", "_summary.md", "_depth.svg", "_graph.html"))
        if (folder / "example.com_20241108_summary.json").exists():
            json.loads((folder / "example.com_20241108_summary.json").read_text())

        disk.resize(64 << 20)
        _, written = write_export_reports(result)
        assert len(written) == 4 and all(p.stat().st_size > 0 for p in written)


# --- slow jobs ------------------------------------------------------------------------------------------


class TaskTime:
    """A virtual clock per asyncio task: the links and meta pollers each see only their own sleeps."""

    def __init__(self) -> None:
        self.now: dict[asyncio.Task[Any] | None, float] = {}

    def clock(self) -> float:
        return self.now.get(asyncio.current_task(), 0.0)

    async def sleep(self, seconds: float) -> None:
        task = asyncio.current_task()
        self.now[task] = self.now.get(task, 0.0) + seconds
        await asyncio.sleep(0)


async def test_job_outliving_the_poll_timeout_is_resumed_by_the_next_run(tmp_path: Path) -> None:
    # each kind's poller on its own clock: with one clock shared by the links and meta pollers, each poller's
    # wait included the other's sleeps and sometimes came out just over the timeout (1 run in 6)
    with FakeBotify(scale=0.02, scenario=fast(polls_to_done=ALWAYS)) as fake:
        time = TaskTime()
        params = ExportParams(
            project_url=URL, out_dir=tmp_path, api_base=fake.base_url, max_edges=MAX_EDGES, poll_timeout_s=60
        )
        async with client_for(fake) as client:
            with pytest.raises(
                ExportTimeout, match=r"job \d+ was still running after \d+ s.*run the same export"
            ) as info:
                await run_export(params, client=client, sleep=time.sleep, clock=time.clock)
        ids = one_job_per_kind(fake)
        assert info.value.job_id in ids.values() and 50 <= info.value.waited_s <= 60
        assert {rec["status"] for rec in registry(tmp_path).values()} == {"PROCESSING"}

        fake.scenario = fast()
        result = await export(fake, tmp_path)
        assert_complete(result, tmp_path)
        assert one_job_per_kind(fake) == ids and len(job_posts(fake)) == 2


def poll_times(events: list[Event]) -> dict[str, list[float]]:
    """When each kind's polls went out, in seconds since its polling started (its own clock)."""
    out: dict[str, list[float]] = {}
    for e in events:
        if e.kind == "job_status":
            out.setdefault(e.step.split(":")[1], []).append(round(e.elapsed or 0.0, 1))
    return out


async def test_a_resumed_export_polls_at_once_then_at_the_cadence_of_the_jobs_age(tmp_path: Path) -> None:
    """A new job is polled every 2 s; the same jobs resumed 10 minutes after their creation are polled at once,
    then every 15 s (10% of their age, capped), not from 2 s again."""
    with FakeBotify(scale=0.02, scenario=fast(polls_to_done=ALWAYS)) as fake:
        params = ExportParams(
            project_url=URL, out_dir=tmp_path, api_base=fake.base_url, max_edges=MAX_EDGES, poll_timeout_s=9
        )
        async with client_for(fake) as client:
            for run in ("new", "resumed"):
                events: list[Event] = []
                time = TaskTime()
                with pytest.raises(ExportTimeout):
                    await run_export(params, client=client, sleep=time.sleep, clock=time.clock, on_event=events.append)
                polls = poll_times(events)
                if run == "new":
                    for kind in KINDS:  # at 2, 4, 6, 8 s of the job's age (which was some ms when polling began)
                        assert polls[kind] == pytest.approx([2.0, 4.0, 6.0, 8.0], abs=0.5)
                    doc = json.loads((tmp_path / REGISTRY_NAME).read_text())
                    ten_minutes_ago = datetime.now(timezone.utc) - timedelta(minutes=10)
                    for rec in doc["exports"].values():
                        rec["created"] = ten_minutes_ago.isoformat(timespec="milliseconds").replace("+00:00", "Z")
                    (tmp_path / REGISTRY_NAME).write_text(json.dumps(doc))
                    params = replace(params, poll_timeout_s=40)
                else:
                    assert polls == {kind: [0.0, 15.0, 30.0] for kind in KINDS}  # 10 minutes old: every 15 s
        assert len(job_posts(fake)) == 2


# --- state files ----------------------------------------------------------------------------------------


async def test_corrupt_registry_is_named_kept_and_never_reset(tmp_path: Path) -> None:
    garbage = '{"schema_version": 1, "exports": {"example-org/example.com/20241108/links": {"kind": '
    (tmp_path / REGISTRY_NAME).write_text(garbage)
    with FakeBotify(scale=0.02, scenario=fast()) as fake:
        with pytest.raises(StateFileError, match="export registry is corrupt") as info:
            await export(fake, tmp_path)
        assert fake.jobs == {}
    assert info.value.path == str(tmp_path / REGISTRY_NAME)
    assert (tmp_path / REGISTRY_NAME).read_text() == garbage
    backups = list(tmp_path.glob(f"{REGISTRY_NAME}.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_text() == garbage and str(backups[0]) in str(info.value)
