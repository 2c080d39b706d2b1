"""Poll an export job until it is DONE: a pure schedule decides when, the caller decides how to sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from .api import get_job
from .errors import ApiError, ExportJobFailed, ExportTimeout, NotFound, TransportError
from .layout import POLL_TIMEOUT_S
from .models import Job

MAX_CONSECUTIVE_ERRORS = 3


def poll_schedule(first: float = 2.0, factor: float = 1.5, cap: float = 15.0) -> Iterator[float]:
    """Delays between polls: 2, 3, 4.5, ... growing by `factor` up to `cap` seconds, forever.

    Short jobs are seen quickly; long jobs cost about 4 requests a minute; a job that turns DONE
    is noticed at most `cap` seconds late.
    """
    delay = first
    while True:
        yield min(delay, cap)
        delay = min(delay * factor, cap)


@dataclass(frozen=True)
class PollProgress:
    """What one poll saw: the job, how many polls so far, seconds since polling started."""

    job: Job
    polls: int
    elapsed: float


async def poll_job(
    client: httpx.AsyncClient,
    job: Job | str,
    *,
    timeout_s: float = POLL_TIMEOUT_S,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_progress: Callable[[PollProgress], None] | None = None,
    schedule: Iterable[float] | None = None,
    poll_first: bool = False,
) -> Job:
    """Poll until DONE and return the job; raise ExportJobFailed or ExportTimeout (with the job id)."""
    job_url = job.job_url if isinstance(job, Job) else job
    job_id: Any = job.job_id if isinstance(job, Job) else str(job).rstrip("/").rsplit("/", 1)[-1]
    delays = iter(schedule if schedule is not None else poll_schedule())
    start = clock()
    polls = errors = 0
    if not poll_first:
        await sleep(next(delays))
    while True:
        try:
            current = await get_job(client, job_url)
            errors = 0
        except NotFound:
            raise
        except (TransportError, ApiError):
            errors += 1
            if errors >= MAX_CONSECUTIVE_ERRORS:
                raise
            current = None
        polls += 1
        elapsed = clock() - start
        if current is not None:
            if on_progress:
                on_progress(PollProgress(current, polls, elapsed))
            if current.status == "DONE":
                return current
            if current.status == "FAILED":
                raise ExportJobFailed(current.job_id, current.failure_reason or "no reason given by the API")
        delay = next(delays)
        if elapsed + delay > timeout_s:
            raise ExportTimeout(job_id, elapsed)
        await sleep(delay)
