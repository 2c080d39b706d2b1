"""poll_job: scripted job states, recorded sleeps, injected clock — tests never wait."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

from botify_graph.client import make_client
from botify_graph.errors import ExportJobFailed, ExportTimeout, NotFound
from botify_graph.jobs import PollProgress, poll_job, poll_schedule
from botify_graph.models import Job


def test_schedule_grows_then_caps() -> None:
    delays = list(itertools.islice(poll_schedule(), 9))
    assert delays[:4] == [2.0, 3.0, 4.5, 6.75]
    assert max(delays) == 15.0 and delays[-1] == 15.0
    # a one-hour job costs far fewer polls than a fixed 3 s cadence (1200)
    total, n = 0.0, 0
    for d in poll_schedule():
        total += d
        n += 1
        if total >= 3600:
            break
    assert n < 260


def job(status: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"job_id": 7, "job_url": "/v1/jobs/7", "job_status": status}
    if status == "DONE":
        body["results"] = {"download_url": "https://cdn.test/f.csv.gz"}
    body.update(extra)
    return body


class Script:
    def __init__(self, *bodies: dict[str, Any] | int) -> None:
        self.bodies = list(bodies)
        self.urls: list[str] = []
        self.now = 0.0
        self.sleeps: list[float] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        body = self.bodies.pop(0) if len(self.bodies) > 1 else self.bodies[0]
        return httpx.Response(body) if isinstance(body, int) else httpx.Response(200, json=body)

    async def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s

    def client(self) -> httpx.AsyncClient:
        return make_client(
            "t", base_url="http://api.test/v1", transport=httpx.MockTransport(self.handler), sleep=self.sleep, rate=1000
        )


async def test_polls_relative_url_until_done_with_progress() -> None:
    s = Script(job("CREATED"), job("PROCESSING"), job("PROCESSING"), job("DONE"))
    seen: list[PollProgress] = []
    async with s.client() as c:
        done = await poll_job(
            c, Job(7, "/v1/jobs/7", "CREATED"), sleep=s.sleep, clock=lambda: s.now, on_progress=seen.append
        )
    assert done.download_url == "https://cdn.test/f.csv.gz"
    assert s.urls == ["http://api.test/v1/jobs/7"] * 4
    assert [p.job.status for p in seen] == ["CREATED", "PROCESSING", "PROCESSING", "DONE"]
    assert [p.polls for p in seen] == [1, 2, 3, 4]
    assert s.sleeps == [2.0, 3.0, 4.5, 6.75]


async def test_absolute_job_url_and_poll_first() -> None:
    s = Script(job("DONE"))
    async with s.client() as c:
        await poll_job(c, "http://api.test/v1/jobs/7", sleep=s.sleep, clock=lambda: s.now, poll_first=True)
    assert s.sleeps == [] and s.urls == ["http://api.test/v1/jobs/7"]


async def test_failed_job_carries_reason_and_id() -> None:
    s = Script(job("PROCESSING"), job("FAILED", failure_reason="quota exceeded"))
    async with s.client() as c:
        with pytest.raises(ExportJobFailed) as info:
            await poll_job(c, Job(7, "/v1/jobs/7", "CREATED"), sleep=s.sleep, clock=lambda: s.now)
    assert info.value.job_id == 7 and "quota exceeded" in str(info.value)


async def test_timeout_carries_job_id() -> None:
    s = Script(job("PROCESSING"))
    async with s.client() as c:
        with pytest.raises(ExportTimeout) as info:
            await poll_job(c, Job(7, "/v1/jobs/7", "CREATED"), timeout_s=60, sleep=s.sleep, clock=lambda: s.now)
    assert info.value.job_id == 7 and "run the same export again" in str(info.value)
    assert sum(s.sleeps) <= 60


async def test_transient_errors_while_polling_are_tolerated_404_is_not() -> None:
    s = Script(job("PROCESSING"), 503, 503, 503, 503, 503, job("DONE"))  # one 5 x 503 burst = one failed poll
    async with s.client() as c:
        done = await poll_job(c, Job(7, "/v1/jobs/7", "CREATED"), sleep=s.sleep, clock=lambda: s.now)
    assert done.status == "DONE"
    s = Script(404)
    async with s.client() as c:
        with pytest.raises(NotFound):
            await poll_job(c, Job(7, "/v1/jobs/7", "CREATED"), sleep=s.sleep, clock=lambda: s.now)
