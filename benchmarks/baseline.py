"""The original tool's approach, reproduced, so the benchmarks can run it against the same fake API.

What the tool botify-graph replaces did, step by step:

1. GET the profile, GET the analyses (first page) and take the newest finished one;
2. GET the collections, to know whether Search Console data exists (and for which days);
3. size the link graph with one BQL query per depth (links of pages at depth <= 1, <= 2, ... up to 9),
   stopping at the first depth over the row limit;
4. run the links export and THEN the meta export, one after the other: POST /jobs, then poll every 3 s;
5. download each file to a temporary `.gz`, decompress it to a CSV, load the whole CSV into pandas only to
   rename its columns, and write it back.

It talks through its own plain `httpx.AsyncClient`, kept to Botify's 5 requests/s by a small sliding window so
it is not refused; a 429 anyway is waited out (1 s) and counted. The job payloads come from the same pure
builders as botify-graph's (`botify_graph.queries`), so both approaches export exactly the same rows and any
difference in the figures is the approach, not the data.

    result = await run_baseline(base_url, token, "https://app.botify.com/example-org/example.com/", out_dir=...)
"""

from __future__ import annotations

import asyncio
import collections
import gzip
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from botify_graph import queries
from botify_graph.models import parse_analysis, parse_collections
from botify_graph.urls import clean_url

POLL_INTERVAL_S = 3.0
MAX_PROBE_DEPTH = 9

Sleep = Callable[[float], Awaitable[Any]]
Clock = Callable[[], float]


class Polite:
    """A plain httpx client kept under `rate` requests per second (None: no limit); 429s waited out and counted."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        rate: float | None = 5.0,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        self.client = client
        self.rate = rate
        self.sleep = sleep
        self.clock = clock
        self.sent: collections.deque[float] = collections.deque()
        self.throttled = 0

    async def _wait_turn(self) -> None:
        if self.rate is None:
            return
        while True:
            now = self.clock()
            while self.sent and now - self.sent[0] >= 1.0:
                self.sent.popleft()
            if len(self.sent) < self.rate:
                self.sent.append(now)
                return
            await self.sleep(1.0 - (now - self.sent[0]) + 0.01)

    async def json(self, method: str, url: str, **kwargs: Any) -> Any:
        """Send a request and return its JSON body (429: wait 1 s and send it again)."""
        while True:
            await self._wait_turn()
            response = await self.client.request(method, url, **kwargs)
            if response.status_code == 429:
                self.throttled += 1
                await self.sleep(1.0)
                continue
            response.raise_for_status()
            return response.json()


async def poll_fixed(
    api: Polite,
    job_url: str,
    *,
    interval: float = POLL_INTERVAL_S,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = time.monotonic,
    timeout_s: float = 3 * 3600,
) -> tuple[dict[str, Any], int]:
    """Poll a job every `interval` seconds until DONE; return its last JSON and the number of polls."""
    polls = 0
    start = clock()
    while True:
        job = await api.json("GET", job_url)
        polls += 1
        status = job.get("job_status")
        if status == "DONE":
            return job, polls
        if status == "FAILED":
            raise RuntimeError(f"baseline: job {job.get('job_id')} FAILED")
        if clock() - start > timeout_s:
            raise TimeoutError(f"baseline: job {job.get('job_id')} not done after {timeout_s:.0f} s")
        await sleep(interval)


@dataclass
class KindTimes:
    """Where the time of one export went, in the baseline."""

    create: float = 0.0  # POST /jobs
    wait: float = 0.0  # polling until DONE
    download: float = 0.0  # the .gz to a temporary file
    decompress: float = 0.0  # .gz → .csv
    pandas: float = 0.0  # read_csv, rename, to_csv
    polls: int = 0
    rows: int = 0
    job_id: int | str | None = None
    done_seen: float | None = None  # clock() when a poll answered DONE

    @property
    def total(self) -> float:
        return self.create + self.wait + self.download + self.decompress + self.pandas


@dataclass
class BaselineResult:
    """What the baseline produced and how long each phase took (seconds)."""

    depth: int
    depth_requests: int
    links: Path
    meta: Path
    phases: dict[str, float] = field(default_factory=dict)
    kinds: dict[str, KindTimes] = field(default_factory=dict)
    throttled: int = 0
    elapsed: float = 0.0


async def _export(
    api: Polite,
    payload: dict[str, Any],
    dest: Path,
    columns: tuple[str, ...],
    *,
    interval: float,
    sleep: Sleep,
    clock: Clock,
) -> KindTimes:
    import pandas as pd

    times = KindTimes()
    t = clock()
    job = await api.json("POST", "jobs", json=payload)
    times.job_id = job.get("job_id")
    times.create, t = clock() - t, clock()
    job_url = str(job["job_url"])
    if job_url.startswith("/v1/"):
        job_url = job_url[len("/v1/") :]
    done, times.polls = await poll_fixed(api, job_url, interval=interval, sleep=sleep, clock=clock)
    times.done_seen = clock()
    times.wait, t = clock() - t, clock()
    with tempfile.TemporaryDirectory(prefix="baseline-") as tmp:
        gz_path, csv_path = Path(tmp) / "export.csv.gz", Path(tmp) / "export.csv"
        async with api.client.stream("GET", done["results"]["download_url"]) as response:
            response.raise_for_status()
            with open(gz_path, "wb") as out:
                async for chunk in response.aiter_raw():
                    out.write(chunk)
        times.download, t = clock() - t, clock()
        with gzip.open(gz_path, "rb") as src, open(csv_path, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        times.decompress, t = clock() - t, clock()
        frame = pd.read_csv(csv_path)
        frame.columns = list(columns)
        dest.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(dest, index=False)
        times.rows = len(frame)
        del frame
        times.pandas = clock() - t
    return times


async def run_baseline(
    base_url: str,
    token: str,
    project_url: str,
    *,
    out_dir: str | Path,
    max_edges: int = queries.MAX_EXPORT_ROWS,
    fields: tuple[str, ...] | None = None,
    interval: float = POLL_INTERVAL_S,
    rate: float | None = 5.0,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = time.monotonic,
) -> BaselineResult:
    """Export links and meta the original way; `fields` None: every meta field the project has."""
    ref = clean_url(project_url)
    out = Path(out_dir)
    phases: dict[str, float] = {}
    start = t = clock()

    def lap(name: str) -> None:
        nonlocal t
        now = clock()
        phases[name] = now - t
        t = now

    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    async with httpx.AsyncClient(base_url=base_url.rstrip("/") + "/", headers=headers, timeout=120.0) as client:
        api = Polite(client, rate=rate, sleep=sleep, clock=clock)
        await api.json("GET", "authentication/profile")
        lap("profile")
        light = await api.json("GET", f"analyses/{ref.org}/{ref.project}/light", params={"only_success": "true"})
        analysis = next(parse_analysis(a) for a in light["results"] if a.get("status") == "success")
        lap("analyses")
        collections_ = parse_collections(await api.json("GET", f"projects/{ref.org}/{ref.project}/collections"))
        gsc = next((c for c in collections_ if c.id == queries.GSC_COLLECTION), None)
        lap("fields")

        depth, requests = 0, 0
        for d in range(1, MAX_PROBE_DEPTH + 1):
            body = await api.json(
                "POST", f"projects/{ref.org}/{ref.project}/query", json=queries.edges_upto_query(analysis.slug, d)
            )
            requests += 1
            total = body["results"][0]["metrics"][0] if body["results"] else 0
            if total > max_edges:
                break
            depth = d
        lap("depth")

        wanted = queries.normalize_fields(list(fields) if fields is not None else None)
        chosen = tuple(f for f in wanted if gsc is not None or queries.META_BY_NAME[f].source != "gsc")
        period = None
        if gsc is not None and any(queries.META_BY_NAME[f].source == "gsc" for f in chosen):
            period = queries.gsc_period(analysis.crawl_date, gsc.date_start, gsc.date_end)
        name = f"{ref.project}_{analysis.slug}"
        kinds: dict[str, KindTimes] = {}
        kinds["links"] = await _export(
            api,
            queries.links_export_payload(ref.org, ref.project, analysis.slug, depth, max_edges),
            out / f"{name}_links.csv",
            queries.LINKS_COLUMNS,
            interval=interval,
            sleep=sleep,
            clock=clock,
        )
        lap("links")
        kinds["meta"] = await _export(
            api,
            queries.meta_export_payload(
                ref.org, ref.project, analysis.slug, depth, chosen, period=period, export_size=max_edges
            ),
            out / f"{name}_meta.csv",
            queries.meta_columns(chosen),
            interval=interval,
            sleep=sleep,
            clock=clock,
        )
        lap("meta")
    return BaselineResult(
        depth=depth,
        depth_requests=requests,
        links=out / f"{name}_links.csv",
        meta=out / f"{name}_meta.csv",
        phases=phases,
        kinds=kinds,
        throttled=api.throttled,
        elapsed=clock() - start,
    )
