"""Poll an export job until it is DONE: a pure schedule decides when, the caller decides how to sleep.

The schedule follows the job's **age**, the seconds since Botify created it, not how long this process has been
watching: each poll comes 10% of the job's age after the previous one, never sooner than 2 s, never later than
15 s. A job that turns DONE between two polls is therefore noticed within 10% of its own duration (2 s for jobs
under 20 s, 15 s for jobs over 150 s), plus one request's latency, and a 30-minute job costs 142 polls where a
fixed 3 s loop costs 601. A resumed export (a rerun, a reload, a restart) knows the job's age from the registry,
so it polls once at once (a job that finished while nobody was watching is seen by that poll) and then at the
cadence that age calls for, instead of starting again at 2 s.

Nothing in Botify's job answer predicts the end: `shared/botify-api.md` §5 found no progress, row count or
estimate in any source (`results.nb_lines` is in none, and would come with DONE anyway), so the age is all the
schedule uses. If Botify ever documents such a field, `poll_delay` is the one place to use it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import httpx

from .api import get_job
from .errors import ApiError, ExportJobFailed, ExportTimeout, NotFound, TransportError
from .layout import POLL_TIMEOUT_S
from .models import Job

MAX_CONSECUTIVE_ERRORS = 3
POLL_FRACTION = 0.1  # of the job's age: the longest a finished job goes unnoticed, relative to its duration
POLL_FLOOR_S = 2.0  # never two polls closer than this
POLL_CAP_S = 15.0  # never two polls further apart than this


def poll_delay(
    age: float, *, fraction: float = POLL_FRACTION, floor: float = POLL_FLOOR_S, cap: float = POLL_CAP_S
) -> float:
    """Seconds from a poll sent when the job was `age` seconds old to the next one: `fraction` of the age,
    within [`floor`, `cap`]."""
    return min(cap, max(floor, fraction * age))


def poll_schedule(
    age: float = 0.0, *, fraction: float = POLL_FRACTION, floor: float = POLL_FLOOR_S, cap: float = POLL_CAP_S
) -> Iterator[float]:
    """Delays between polls, forever, starting from a poll (or the creation) when the job was `age` s old.

    A new job (age 0) is polled at 2, 4, ... 20 s of age, then 10% later each time (22, 24.2, 26.6, ...) until
    the gap reaches 15 s at 150 s of age. Each delay is `poll_delay` of the age the previous poll went out at.
    """
    while True:
        delay = poll_delay(age, fraction=fraction, floor=floor, cap=cap)
        yield delay
        age += delay


def parse_timestamp(text: str | None) -> datetime | None:
    """An ISO-8601 timestamp (`...Z`, `...+00:00` or naive, taken as UTC) as an aware datetime; None if unreadable."""
    if not text or not isinstance(text, str):
        return None
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def job_age(now: datetime, *created: str | None) -> float:
    """How many seconds old a job is at `now`, from its creation timestamps; 0 when none can be used.

    Pass the registry record's `created` (written by this machine just before the job's POST, so the job is at
    most that old) and the job's `date_created` (Botify's clock, which may run ahead of or behind ours). The
    youngest age wins: a clock that runs behind would make the job look older and stretch the gaps between polls;
    a timestamp in the future (a clock that runs ahead) is ignored.
    """
    ages = [(now - moment).total_seconds() for moment in map(parse_timestamp, created) if moment is not None]
    ages = [a for a in ages if a >= 0]
    return min(ages) if ages else 0.0


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
    age: float = 0.0,
) -> Job:
    """Poll until DONE and return the job; raise ExportJobFailed or ExportTimeout (with the job id).

    `age` is how old the job already is, in seconds (see `job_age`); the gap after each poll is `poll_delay` of
    the job's age when that poll went out, or the next value of `schedule` when one is given. Gaps run from one
    poll's start to the next, so slow answers do not push the schedule back. Without `poll_first` the first poll
    waits one gap counted from the job's creation (a new job is first polled at 2 s of age); with it the first
    poll goes out at once. `timeout_s` counts from this call.
    """
    job_url = job.job_url if isinstance(job, Job) else job
    job_id: Any = job.job_id if isinstance(job, Job) else str(job).rstrip("/").rsplit("/", 1)[-1]
    fixed = iter(schedule) if schedule is not None else None

    def gap(sent_at: float) -> float:
        return next(fixed) if fixed is not None else poll_delay(sent_at - created_at)

    start = clock()
    created_at = start - max(0.0, age)  # the job's creation, on our clock
    polls = errors = 0
    if not poll_first:
        anchor = created_at if fixed is None else start  # a fixed schedule's first gap counts from now
        wait = anchor + gap(anchor) - clock()
        if wait > 0:
            await sleep(wait)
    while True:
        sent_at = clock()
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
        due = sent_at + gap(sent_at)
        if due - start > timeout_s:
            raise ExportTimeout(job_id, elapsed)
        wait = due - clock()
        if wait > 0:
            await sleep(wait)
