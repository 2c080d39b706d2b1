"""poll_job: scripted job states, recorded sleeps, injected clock — tests never wait."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

from botify_graph.client import make_client
from botify_graph.errors import ExportJobFailed, ExportTimeout, NotFound
from botify_graph.jobs import PollProgress, job_age, poll_delay, poll_job, poll_schedule
from botify_graph.models import Job


@pytest.mark.parametrize(
    ("age", "delay"),
    [(0.0, 2.0), (5.0, 2.0), (20.0, 2.0), (30.0, 3.0), (100.0, 10.0), (150.0, 15.0), (3600.0, 15.0), (-5.0, 2.0)],
)
def test_poll_delay_is_a_tenth_of_the_age_within_2_and_15_s(age: float, delay: float) -> None:
    assert poll_delay(age) == pytest.approx(delay)


def test_schedule_starts_at_2_s_then_follows_the_age() -> None:
    delays = list(itertools.islice(poll_schedule(), 14))
    assert delays[:11] == [2.0] * 11  # ages 0, 2, ... 20
    assert delays[11:] == pytest.approx([2.2, 2.42, 2.662])
    assert list(itertools.islice(poll_schedule(600.0), 3)) == [15.0] * 3  # an old job starts at its own cadence
    assert list(itertools.islice(poll_schedule(50.0), 2)) == pytest.approx([5.0, 5.5])


def poll_ages(age: float = 0.0) -> Iterator[float]:
    """The ages at which a job created at 0 is polled, when each request takes no time."""
    for delay in poll_schedule(age):
        age += delay
        yield age


@pytest.mark.parametrize("duration", [1.0, 9.9, 10.0, 20.5, 37.0, 60.0, 149.0, 300.0, 1799.0, 1800.0, 7200.0])
def test_detection_lag_stays_within_a_tenth_of_the_job_age(duration: float) -> None:
    """A job that turns DONE at `duration` is seen by the first poll at or after it: at most 10% later
    (2 s for short jobs), never more than 15 s."""
    seen = next(a for a in poll_ages() if a >= duration)
    lag = seen - duration
    assert lag <= max(2.0, 0.1 * duration) + 1e-9 and lag <= 15.0
    # the worst case: a job that finishes just after a poll
    before = max((a for a in itertools.takewhile(lambda a: a < duration, poll_ages())), default=0.0)
    worst = next(a for a in poll_ages() if a > before) - before
    assert worst <= max(2.0, 0.1 * duration) + 1e-9


def test_a_30_minute_job_costs_under_a_quarter_of_a_3_s_loop() -> None:
    polls = next(i for i, a in enumerate(poll_ages(), 1) if a >= 1800)
    fixed = 1800 // 3 + 1  # at 0, 3, ... 1800 s
    assert polls == 142 and polls / fixed < 0.25


@pytest.mark.parametrize(
    ("created", "age"),
    [
        (("2026-11-28T10:00:00.000Z",), 60.0),  # the registry's spelling
        (("2026-11-28T10:00:00.123456Z",), 59.876544),  # Botify's
        (("2026-11-28T10:00:00+00:00",), 60.0),
        (("2026-11-28T11:00:00+01:00",), 60.0),
        (("2026-11-28T10:00:00",), 60.0),  # naive: UTC
        (("2026-11-28T10:00:00.000Z", "2026-11-28T10:00:30.000Z"), 30.0),  # the youngest wins
        (("2026-11-28T10:00:00.000Z", "2026-11-28T10:05:00.000Z"), 60.0),  # a timestamp in the future is ignored
        (("2026-11-28T10:05:00.000Z",), 0.0),
        ((None, "", "yesterday", "2026-13-45T99:00:00Z"), 0.0),
        ((), 0.0),
    ],
)
def test_job_age(created: tuple[str | None, ...], age: float) -> None:
    now = datetime(2026, 11, 28, 10, 1, 0, tzinfo=timezone.utc)
    assert job_age(now, *created) == pytest.approx(age)


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
    assert s.sleeps == [2.0, 2.0, 2.0, 2.0]


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


class Timed(Script):
    """A Script whose every request takes `latency` seconds of its clock; records when each poll went out."""

    def __init__(self, *bodies: dict[str, Any] | int, latency: float = 0.0) -> None:
        super().__init__(*bodies)
        self.latency = latency
        self.sent: list[float] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(self.now)
        self.now += self.latency
        return super().handler(request)


async def test_polls_keep_to_the_job_age_whatever_the_latency() -> None:
    """Gaps run from one poll's start to the next: 0.7 s answers do not push the polls later."""
    s = Timed(*[job("PROCESSING")] * 13, job("DONE"), latency=0.7)
    async with s.client() as c:
        await poll_job(c, Job(7, "/v1/jobs/7", "CREATED"), sleep=s.sleep, clock=lambda: s.now)
    assert s.sent[:11] == pytest.approx([2.0 * i for i in range(1, 12)])
    assert s.sent[11:] == pytest.approx([24.2, 26.62, 29.282])
    assert min(b - a for a, b in itertools.pairwise(s.sent)) >= 2.0 - 1e-9


async def test_a_new_job_is_first_polled_at_2_s_of_its_age() -> None:
    s = Timed(job("DONE"))
    async with s.client() as c:
        await poll_job(c, Job(7, "/v1/jobs/7", "CREATED"), sleep=s.sleep, clock=lambda: s.now, age=0.5)
    assert s.sleeps == [1.5] and s.sent == [1.5]


async def test_a_resumed_job_polls_at_once_then_at_its_age_s_cadence() -> None:
    """A rerun 10 minutes after the job was created: one poll now, then every 15 s, not 2 s again."""
    s = Timed(job("PROCESSING"), job("PROCESSING"), job("DONE"), latency=0.1)
    async with s.client() as c:
        await poll_job(
            c, Job(7, "/v1/jobs/7", "PROCESSING"), sleep=s.sleep, clock=lambda: s.now, poll_first=True, age=600
        )
    assert s.sent == pytest.approx([0.0, 15.0, 30.0])
    s = Timed(job("PROCESSING"), job("DONE"))
    async with s.client() as c:
        await poll_job(
            c, Job(7, "/v1/jobs/7", "PROCESSING"), sleep=s.sleep, clock=lambda: s.now, poll_first=True, age=40
        )
    assert s.sent == pytest.approx([0.0, 4.0])


async def test_a_job_that_finished_while_nobody_watched_is_seen_by_the_first_poll() -> None:
    s = Timed(job("DONE"))
    async with s.client() as c:
        done = await poll_job(c, "/v1/jobs/7", sleep=s.sleep, clock=lambda: s.now, poll_first=True, age=7200)
    assert done.status == "DONE" and s.sleeps == [] and len(s.urls) == 1


async def test_a_fixed_schedule_overrides_the_age() -> None:
    s = Timed(job("PROCESSING"), job("PROCESSING"), job("DONE"))
    async with s.client() as c:
        await poll_job(c, "/v1/jobs/7", sleep=s.sleep, clock=lambda: s.now, schedule=[1.0, 3.0, 5.0], age=900)
    assert s.sent == [1.0, 4.0, 9.0]
