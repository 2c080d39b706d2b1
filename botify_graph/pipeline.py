"""`run_export`: the one orchestration shared by the CLI, papermill and the wizard.

    clean_url → verify_token → resolve analysis → (already exported? show it)
      → field availability → find_optimal_depth
      → links and meta concurrently: create (or resume) job → poll → download → registry

Progress goes to a single `on_event` callback; each front end renders events its own way.
The export registry makes it idempotent: a job is created once per (project, analysis, kind,
parameters); a rerun resumes the job it recorded and never downloads a finished file twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast

import httpx

from . import api, queries
from .client import DEFAULT_BASE_URL, make_client, resolve_api_url
from .depth import DepthChoice
from .download import DownloadResult, download_export
from .errors import BotifyError, ConfigError, DownloadError, DownloadExpired, ExportJobFailed, NotFound
from .jobs import PollProgress, job_age, poll_job
from .models import Analysis, Job
from .registry import ExportRecord, ExportRegistry, registry_key
from .urls import ProjectRef, clean_url, export_filename, project_dir

KINDS = ("links", "meta")
REGISTRY_NAME = "export_registry.json"


@dataclass(frozen=True)
class ExportParams:
    """Everything that decides which files an export produces."""

    project_url: str
    analysis: str = "latest"  # a slug; "latest": the one named in project_url if any, else the newest
    max_edges: int = queries.MAX_EXPORT_ROWS
    fields: tuple[str, ...] | None = None  # None: every meta field the project has
    out_dir: str | Path = "downloads"
    api_base: str = DEFAULT_BASE_URL
    poll_timeout_s: float = 3 * 3600
    retry_failed: bool = False

    def validated(self) -> ExportParams:
        """Check values a person typed; raise ConfigError with what to do."""
        if not isinstance(self.max_edges, int) or isinstance(self.max_edges, bool) or self.max_edges < 1:
            raise ConfigError(f"max_edges must be a positive whole number, got {self.max_edges!r}.")
        if self.max_edges > queries.MAX_EXPORT_ROWS * 100:
            raise ConfigError(f"max_edges {self.max_edges:,} is far above any Botify export limit.")
        if self.poll_timeout_s <= 0:
            raise ConfigError("poll_timeout_s must be positive.")
        fields = None if self.fields is None else queries.normalize_fields(list(self.fields))
        return replace(self, fields=fields)


@dataclass(frozen=True)
class Event:
    """One thing that happened during an export. `kind` is one of:

    step_started / step_succeeded / step_failed (with `elapsed`), job_status (data: job_id, status,
    polls), download_progress (data: bytes, total), info.
    """

    kind: str
    step: str
    message: str
    elapsed: float | None = None
    data: dict[str, Any] = field(default_factory=dict)


EventSink = Callable[[Event], None]


@dataclass(frozen=True)
class KindResult:
    """One exported file."""

    kind: str
    path: Path
    rows: int
    job_id: int | str | None
    reused: bool  # True when the file already existed and nothing was exported


@dataclass(frozen=True)
class ExportResult:
    """What `run_export` produced."""

    project: ProjectRef
    analysis: Analysis
    username: str
    depth: DepthChoice | None  # None when both files already existed
    fields: tuple[str, ...]
    links: KindResult
    meta: KindResult
    elapsed: float

    @property
    def reused(self) -> bool:
        return self.links.reused and self.meta.reused


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class _Steps:
    """Emit started/succeeded/failed events around a block, with timings."""

    def __init__(self, sink: EventSink | None, clock: Callable[[], float]) -> None:
        self.sink = sink
        self.clock = clock

    def emit(self, kind: str, step: str, message: str, elapsed: float | None = None, **data: Any) -> None:
        if self.sink is not None:
            self.sink(Event(kind, step, message, elapsed, data))

    async def run(self, step: str, message: str, work: Awaitable[Any], done: Callable[[Any], str]) -> Any:
        t0 = self.clock()
        self.emit("step_started", step, message)
        try:
            result = await work
        except BaseException as exc:
            self.emit("step_failed", step, str(exc) or type(exc).__name__, self.clock() - t0)
            raise
        self.emit("step_succeeded", step, done(result), self.clock() - t0)
        return result


async def run_export(
    params: ExportParams,
    *,
    token: str | None = None,
    client: httpx.AsyncClient | None = None,
    on_event: EventSink | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ExportResult:
    """Export the links and meta CSVs of one analysis, resuming or reusing whatever already exists."""
    params = params.validated()
    ref = clean_url(params.project_url)
    # "latest" (the default) defers to an analysis named in the pasted URL: .../org/project/20241101-2/...
    analysis_wanted = ref.analysis if params.analysis in (None, "", "latest") and ref.analysis else params.analysis
    analysis_wanted = analysis_wanted or "latest"
    if client is None:
        if token is None:
            from .token import load_token

            token = load_token()
        async with make_client(token, base_url=params.api_base) as own:
            return await _run(params, ref, analysis_wanted, own, on_event, sleep, clock)
    return await _run(params, ref, analysis_wanted, client, on_event, sleep, clock)


async def _run(
    params: ExportParams,
    ref: ProjectRef,
    analysis_wanted: str,
    client: httpx.AsyncClient,
    on_event: EventSink | None,
    sleep: Callable[[float], Awaitable[Any]],
    clock: Callable[[], float],
) -> ExportResult:
    t0 = clock()
    steps = _Steps(on_event, clock)
    out_dir = Path(params.out_dir)
    folder = project_dir(out_dir, ref)
    registry = ExportRegistry(out_dir / REGISTRY_NAME)

    username = await steps.run(
        "connect", "Checking the API token", api.verify_token(client), lambda u: f"Connected as {u}"
    )
    analysis: Analysis = await steps.run(
        "analysis",
        f"Finding analysis {analysis_wanted!r} of {ref}",
        api.resolve_analysis(client, ref, analysis_wanted),
        lambda a: f"Analysis {a.slug}" + (f" ({a.name})" if a.name else ""),
    )

    # Same input, same files: if both exist, show them and export nothing.
    records = {k: registry.get(registry_key(ref.org, ref.project, analysis.slug, k)) for k in KINDS}
    existing = {k: registry.downloaded_file(r) for k, r in records.items()}
    links_rec, meta_rec = records["links"], records["meta"]
    if (
        existing["links"]
        and existing["meta"]
        and links_rec
        and meta_rec
        and links_rec.max_edges == params.max_edges
        and meta_rec.max_edges == params.max_edges
        and (params.fields is None or tuple(meta_rec.fields) == params.fields)
    ):
        steps.emit("info", "reuse", f"Already exported: {existing['links']} and {existing['meta']}")
        return ExportResult(
            project=ref,
            analysis=analysis,
            username=username,
            depth=None,
            fields=tuple(meta_rec.fields),
            links=KindResult("links", existing["links"], links_rec.rows or 0, links_rec.job_id, True),
            meta=KindResult("meta", existing["meta"], meta_rec.rows or 0, meta_rec.job_id, True),
            elapsed=clock() - t0,
        )

    availability = await steps.run(
        "fields",
        "Checking which page attributes the project has",
        api.available_meta_fields(client, ref, analysis),
        lambda a: "Meta fields: " + (", ".join(a.fields) or "none"),
    )
    if params.fields is None:
        fields = availability.fields
    else:
        missing = [f for f in params.fields if f not in availability.fields]
        if missing:
            raise ConfigError(
                f"{ref} has no {', '.join(missing)} for analysis {analysis.slug} (no Search Console data?). "
                f"Available: {', '.join(availability.fields) or 'none'}."
            )
        fields = params.fields
    choice: DepthChoice = await steps.run(
        "depth",
        f"Sizing the link graph (limit {params.max_edges:,} rows)",
        api.find_optimal_depth(client, ref, analysis, params.max_edges),
        lambda c: f"Depth {c.depth}: {c.edges:,} links" + (" (the whole graph)" if c.whole_graph else ""),
    )
    period = availability.period(analysis) if any(queries.META_BY_NAME[f].source == "gsc" for f in fields) else None
    payloads = {
        "links": queries.links_export_payload(ref.org, ref.project, analysis.slug, choice.depth, params.max_edges),
        "meta": queries.meta_export_payload(
            ref.org, ref.project, analysis.slug, choice.depth, fields, period=period, export_size=params.max_edges
        ),
    }
    columns = {"links": queries.LINKS_COLUMNS, "meta": queries.meta_columns(fields)}

    async def one(kind: str) -> KindResult:
        exporter = _KindExport(
            kind=kind,
            client=client,
            registry=registry,
            steps=steps,
            params=params,
            ref=ref,
            analysis=analysis.slug,
            depth=choice.depth,
            fields=fields if kind == "meta" else (),
            payload=payloads[kind],
            columns=columns[kind],
            dest=folder / export_filename(ref, analysis.slug, kind),
            sleep=sleep,
            clock=clock,
        )
        return await exporter.run()

    outcomes = await asyncio.gather(one("links"), one("meta"), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    links, meta = cast("list[KindResult]", outcomes)
    return ExportResult(
        project=ref,
        analysis=analysis,
        username=username,
        depth=choice,
        fields=fields,
        links=links,
        meta=meta,
        elapsed=clock() - t0,
    )


@dataclass
class _KindExport:
    """Create-or-resume, poll and download one export kind, recording each transition."""

    kind: str
    client: httpx.AsyncClient
    registry: ExportRegistry
    steps: _Steps
    params: ExportParams
    ref: ProjectRef
    analysis: str
    depth: int
    fields: tuple[str, ...]
    payload: dict[str, Any]
    columns: tuple[str, ...]
    dest: Path
    sleep: Callable[[float], Awaitable[Any]]
    clock: Callable[[], float]

    @property
    def key(self) -> str:
        return registry_key(self.ref.org, self.ref.project, self.analysis, self.kind)

    def _fresh_record(self) -> ExportRecord:
        return ExportRecord(
            org=self.ref.org,
            project=self.ref.project,
            analysis=self.analysis,
            kind=self.kind,
            depth=self.depth,
            max_edges=self.params.max_edges,
            fields=self.fields,
            status="CREATING",
        )

    async def run(self) -> KindResult:
        record = self.registry.get(self.key)
        if record is not None and record.matches(self.depth, self.params.max_edges, self.fields):
            path = self.registry.downloaded_file(record)
            if path is not None:
                self.steps.emit("info", f"download:{self.kind}", f"{self.kind}: already downloaded to {path}")
                return KindResult(self.kind, path, record.rows or 0, record.job_id, True)
        else:
            record = None
        job = await self.steps.run(
            f"export:{self.kind}",
            f"Starting the {self.kind} export job",
            self._job(record),
            lambda j: f"{self.kind}: job {j.job_id} {j.status.lower()}",
        )
        if job.status != "DONE":
            resumed = job.status == "PROCESSING" and record is not None
            try:
                job = await self.steps.run(
                    f"poll:{self.kind}",
                    f"Waiting for the {self.kind} export (job {job.job_id})",
                    self._poll(job, poll_first=resumed),
                    lambda j: f"{self.kind}: job {j.job_id} done",
                )
            except NotFound:
                if not resumed:
                    raise
                # The recorded job is gone on Botify's side (expired or deleted): start a new one.
                self.steps.emit("info", f"export:{self.kind}", f"{self.kind}: job {job.job_id} no longer exists")
                self.registry.update(self.key, status="GONE")
                return await self.run()
        result: DownloadResult = await self.steps.run(
            f"download:{self.kind}",
            f"Downloading the {self.kind} file",
            self._download(job),
            lambda r: f"{self.kind}: {r.rows:,} rows → {r.path}",
        )
        self.registry.update(
            self.key,
            status="DOWNLOADED",
            file=self.registry.relative_file(result.path),
            rows=result.rows,
            download_url=job.download_url,
        )
        return KindResult(self.kind, result.path, result.rows, job.job_id, False)

    async def _job(self, record: ExportRecord | None) -> Job:
        """The job to follow: the recorded one if it can still deliver, else a new one (created once)."""
        with self.registry.locked():
            record = self.registry.get(self.key) or record
            if record is not None and not record.matches(self.depth, self.params.max_edges, self.fields):
                record = None
            if record is not None and record.status == "FAILED" and not self.params.retry_failed:
                raise ExportJobFailed(record.job_id or "?", record.failure_reason or "failed earlier")
            if (
                record is not None
                and record.job_url
                and record.status in ("CREATED", "PROCESSING", "DONE", "DOWNLOADED")
            ):
                self.steps.emit("info", f"export:{self.kind}", f"{self.kind}: resuming job {record.job_id}")
                return Job(job_id=record.job_id or "?", job_url=record.job_url, status="PROCESSING")
            if record is not None and record.status == "CREATING":
                # A previous run died between sending the POST and recording its answer.
                found = await api.find_existing_job(self.client, self.payload)
                if found is not None:
                    self._record_job(found)
                    return found
            fresh = self._fresh_record()
            self.registry.put(fresh)
            # Whatever stops the POST (a lost answer, a 5xx, a refusal, an interrupt), the record stays
            # CREATING: the job may exist, so the next run looks for it before posting again. Marking it
            # FAILED would demand --retry-failed for a job Botify never failed, and could pay for it twice.
            job = await api.create_export_job(
                self.client,
                self.payload,
                on_uncertain=lambda m: self.steps.emit("info", f"export:{self.kind}", m),
            )
            self._record_job(job)
            return job

    def _record_job(self, job: Job) -> None:
        self.registry.update(
            self.key,
            status=job.status,
            job_id=job.job_id,
            job_url=job.job_url,
            download_url=job.download_url,
            failure_reason=None,
        )

    async def _poll(self, job: Job, *, poll_first: bool) -> Job:
        def progress(p: PollProgress) -> None:
            self.registry.update(self.key, status=p.job.status, polls=p.polls)
            self.steps.emit(
                "job_status",
                f"poll:{self.kind}",
                f"{self.kind}: job {p.job.job_id} {p.job.status} after {p.elapsed:.0f} s "
                f"({p.polls} poll{'s' if p.polls != 1 else ''})",
                p.elapsed,
                job_id=p.job.job_id,
                status=p.job.status,
                polls=p.polls,
            )

        # The poll cadence follows the job's age: from the registry record (written just before the POST) and
        # Botify's date_created when the job carries it; a resumed job keeps the cadence its age calls for.
        record = self.registry.get(self.key)
        age = job_age(datetime.now(timezone.utc), record.created if record else None, job.date_created)
        try:
            done = await poll_job(
                self.client,
                job,
                timeout_s=self.params.poll_timeout_s,
                sleep=self.sleep,
                clock=self.clock,
                on_progress=progress,
                poll_first=poll_first,
                age=age,
            )
        except ExportJobFailed as exc:
            self.registry.update(self.key, status="FAILED", failure_reason=exc.reason)
            raise
        self.registry.update(self.key, status="DONE", download_url=done.download_url)
        return done

    async def _download(self, job: Job) -> DownloadResult:
        def progress(done: int, total: int | None) -> None:
            self.steps.emit(
                "download_progress", f"download:{self.kind}", f"{self.kind}: {done:,} bytes", bytes=done, total=total
            )

        broken = 0
        for attempt in range(3):
            if job.download_url is None or attempt > 0:
                job = await api.get_job(self.client, job.job_url)
                if job.status != "DONE" or not job.download_url:
                    raise BotifyError(f"Job {job.job_id} is {job.status} and has no download link; run again later.")
                self.registry.update(self.key, download_url=job.download_url)
            try:
                url = resolve_api_url(self.client, job.download_url)  # absolute on a CDN; relative tolerated
                return await download_export(self.client, url, self.dest, columns=self.columns, on_progress=progress)
            except DownloadExpired as exc:
                if attempt == 2:
                    raise DownloadExpired(
                        f"The download link of job {job.job_id} had expired three times in a row, fresh links "
                        "included. Run the export again later: the job is kept, so nothing is exported twice."
                    ) from exc
                self.steps.emit("info", f"download:{self.kind}", f"{self.kind}: link expired, asking for a fresh one")
            except DownloadError as exc:
                # A broken or corrupt transfer: one more try with a fresh link, then the error (the job is kept).
                broken += 1
                if broken > 1 or attempt == 2:
                    raise
                self.steps.emit("info", f"download:{self.kind}", f"{self.kind}: download failed ({exc}); trying again")
        raise AssertionError("unreachable")
