"""`run_export`: the one orchestration shared by the CLI, papermill and the wizard.

    clean_url → verify_token → resolve analysis → reuse what is on disk, or:
      field choice (the catalogue; a one-row query checks fields beyond the defaults) → sizing
      (find_optimal_depth) → links and meta concurrently:
      create (or resume) job → poll → download → registry

Progress goes to a single `on_event` callback; each front end renders events its own way.
The export registry makes it idempotent: a job is created once per (project, analysis, kind, settings);
a rerun resumes the job it recorded and never downloads a finished file twice. Another export of the same
analysis with other settings is a new record: the earlier files are kept under their variant's name
(`ExportRegistry.install`), never replaced. Where files go and every default come from `layout`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast

import httpx

from . import api, layout, queries
from .client import make_client, resolve_api_url
from .depth import DepthChoice
from .download import DownloadResult, download_export
from .errors import BotifyError, ConfigError, DownloadError, DownloadExpired, ExportJobFailed, NotFound
from .fields import FieldCatalog, GscPeriod, has_gsc, parse_gsc_period, source_of
from .jobs import PollProgress, job_age, poll_job
from .models import Analysis, Job
from .registry import ExportRecord, ExportRegistry, registry_key
from .urls import ProjectRef, clean_url

KINDS = layout.KINDS


@dataclass(frozen=True)
class ExportParams:
    """Everything that decides which files an export produces.

    `out_dir` and `api_base` left at None follow `layout` (the argument, else $BOTIFY_GRAPH_OUT /
    $BOTIFY_API_BASE, else downloads/ at the repository root / Botify's API), exactly as the CLI, the
    notebook and the wizard do, so an export made by one front end is found by every other.
    """

    project_url: str
    analysis: str = "latest"  # a slug; "latest": the one named in project_url if any, else the newest
    max_edges: int = layout.MAX_EXPORT_ROWS
    fields: tuple[str, ...] | None = None  # field keys (see `fields`); None: every default field the project has
    gsc_period: str | None = None  # Search Console: None = layout.GSC_DAYS days ending at the crawl, "N", "START:END"
    out_dir: str | Path | None = None
    api_base: str | None = None
    poll_timeout_s: float = layout.POLL_TIMEOUT_S
    retry_failed: bool = False
    max_jobs: int = layout.MAX_JOBS  # export jobs running on Botify at once for this run

    def validated(self) -> ExportParams:
        """Check values a person typed and resolve the folders; raise ConfigError with what to do."""
        if not isinstance(self.max_edges, int) or isinstance(self.max_edges, bool) or self.max_edges < 1:
            raise ConfigError(f"max_edges must be a positive whole number, got {self.max_edges!r}.")
        if self.max_edges > layout.MAX_EXPORT_ROWS * 100:
            raise ConfigError(f"max_edges {self.max_edges:,} is far above any Botify export limit.")
        if self.poll_timeout_s <= 0:
            raise ConfigError("poll_timeout_s must be positive.")
        if not isinstance(self.max_jobs, int) or isinstance(self.max_jobs, bool) or self.max_jobs < 1:
            raise ConfigError(f"max_jobs must be a whole number of at least 1, got {self.max_jobs!r}.")
        fields = None if self.fields is None else queries.normalize_fields(list(self.fields))
        return replace(
            self,
            fields=fields,
            gsc_period=parse_gsc_period(self.gsc_period, layout.GSC_DAYS),
            out_dir=layout.out_dir(self.out_dir),
            api_base=layout.api_base(self.api_base),
        )

    @property
    def out(self) -> Path:
        """The output folder (absolute once validated)."""
        return layout.out_dir(self.out_dir)


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
    gsc_period: tuple[str, str] | None = None  # the Search Console dates the meta file sums, if it has GSC fields
    gsc_note: str = ""  # why those dates differ from the period asked for ("" when they do not)

    @property
    def reused(self) -> bool:
        return self.links.reused and self.meta.reused


log = logging.getLogger("botify_graph.export")
_LEVELS = {"step_failed": logging.WARNING, "job_status": logging.DEBUG, "download_progress": logging.DEBUG}


def _log_event(event: Event) -> None:
    """Every event also goes to the `botify_graph.export` logger (no handler is installed by the library)."""
    level = _LEVELS.get(event.kind, logging.INFO)
    if log.isEnabledFor(level):
        took = f" ({event.elapsed:.1f} s)" if event.elapsed is not None and event.kind != "step_started" else ""
        log.log(level, "%s %s: %s%s", event.kind, event.step, event.message, took)


class _Steps:
    """Emit started/succeeded/failed events around a block, with timings."""

    def __init__(self, sink: EventSink | None, clock: Callable[[], float]) -> None:
        self.sink = sink
        self.clock = clock

    def emit(self, kind: str, step: str, message: str, elapsed: float | None = None, **data: Any) -> None:
        event = Event(kind, step, message, elapsed, data)
        _log_event(event)
        if self.sink is not None:
            self.sink(event)

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


def variant_options(kind: str, fields: tuple[str, ...] = (), gsc_period: str | None = None) -> dict[str, Any]:
    """The settings besides the limit and the fields that make another export: a Search Console period other
    than the default, for a meta export with Search Console fields."""
    if kind == "meta" and gsc_period is not None and has_gsc(fields):
        return {"gsc_period": gsc_period}
    return {}


def export_variant(kind: str, max_edges: int, fields: tuple[str, ...] = (), gsc_period: str | None = None) -> str:
    """The registry variant of one kind of export made with these settings (see `layout.variant_tag`)."""
    return layout.variant_tag(
        kind,
        max_edges=max_edges,
        fields=fields if kind == "meta" else (),
        options=variant_options(kind, fields, gsc_period),
    )


def existing_export(
    registry: ExportRegistry, ref: ProjectRef, analysis: str, params: ExportParams
) -> dict[str, ExportRecord] | None:
    """The downloaded links and meta records that `params` asks for, if both files are on disk.

    links: the same row limit. meta: the same row limit and, when `params.fields` is given, the same fields
    (None: whichever fields the latest such export has); with Search Console fields, the same period asked for.
    """
    found: dict[str, ExportRecord] = {}
    for kind in KINDS:
        for record in registry.downloads(ref.org, ref.project, analysis, kind):
            if record.max_edges != params.max_edges:
                continue
            if kind == "meta" and params.fields is not None and tuple(record.fields) != params.fields:
                continue
            if kind == "meta" and has_gsc(record.fields) and record.options.get("gsc_period") != params.gsc_period:
                continue
            found[kind] = record
            break
    return found if len(found) == len(KINDS) else None


def recorded_period(record: ExportRecord) -> dict[str, Any]:
    """`gsc_period` and `gsc_note` of an ExportResult, from what a meta export's record says it asked Botify."""
    dates = record.options.get("gsc_dates")
    if not (isinstance(dates, list) and len(dates) == 2 and all(isinstance(d, str) for d in dates)):
        return {}
    note = record.options.get("gsc_note")
    return {"gsc_period": (dates[0], dates[1]), "gsc_note": note if isinstance(note, str) else ""}


@dataclass(frozen=True)
class FieldChoice:
    """The meta fields an export asks for (keys, canonical order), their columns and the Search Console period."""

    fields: tuple[str, ...]
    columns: tuple[str, ...]
    period: GscPeriod | None
    catalog: FieldCatalog | None = None

    def describe(self) -> str:
        text = "Meta fields: " + (", ".join(self.fields) or "none")
        if self.period is not None:
            text += f"; Search Console {self.period.describe()}"
        return text


async def choose_fields(
    client: httpx.AsyncClient,
    ref: ProjectRef,
    analysis: Analysis,
    wanted: tuple[str, ...] | None,
    gsc_period: str | None = None,
    steps: _Steps | None = None,
) -> FieldChoice:
    """The fields to export (`wanted`, else every default the analysis has) and the Search Console period.

    Every field is checked against the catalogue first, so a field the project lacks, a multiple-valued one or
    one in a collection the export cannot join is a ConfigError naming it; fields beyond the seven defaults are
    then asked of Botify in a one-row query (`api.check_meta_fields`), so one it refuses is named too. All this
    before any export job exists.
    """
    # the crawl's field list, and Search Console's when a field of it beyond the defaults is asked for
    gsc_list = wanted is not None and has_gsc(f for f in wanted if f not in queries.META_BY_NAME)
    lists = (analysis.collection, queries.GSC_COLLECTION) if gsc_list else (analysis.collection,)
    availability = await api.available_meta_fields(client, ref, analysis, only=lists)
    catalog = availability.catalog
    if wanted is None:
        fields = availability.fields
    else:
        defaults = [f for f in wanted if f in queries.META_BY_NAME]
        missing = [f for f in defaults if f not in availability.fields]
        if missing:
            why = " (no Search Console data)" if has_gsc(missing) and availability.gsc is None else ""
            raise ConfigError(
                f"{ref} has no {', '.join(missing)} for analysis {analysis.slug}{why}. "
                f"Available defaults: {', '.join(availability.fields) or 'none'}; "
                f"`botify-graph fields --project-url {ref.url}` lists every field."
            )
        others = [f for f in wanted if f not in queries.META_BY_NAME]
        if others and has_gsc(others) and availability.gsc is None:
            gsc_asked = [f for f in others if has_gsc([f])]
            raise ConfigError(f"{ref} has no Search Console data, so no {', '.join(gsc_asked)}.")
        if others and catalog is not None:
            # checked against the field lists that could be read; the others are left to the one-row query
            read = {"crawl": f"crawl.{analysis.slug}" in catalog.read, "gsc": queries.GSC_COLLECTION in catalog.read}
            listed = [f for f in others if read[source_of(f)]]
            others = [*catalog.resolve(listed), *(f for f in others if not read[source_of(f)])]
        fields = queries.normalize_fields([*defaults, *others])
    period = availability.gsc_period(analysis, gsc_period) if has_gsc(fields) else None
    if period is not None and period.note and steps is not None:
        steps.emit("info", "fields", f"Search Console period {period.describe()}: {period.note}")
    extra = tuple(f for f in fields if f not in queries.META_BY_NAME)
    if extra:
        await api.check_meta_fields(
            client, ref, analysis.slug, fields, period=period.dates if period else None, suspects=extra
        )
    return FieldChoice(fields, queries.meta_columns(fields)[1:], period, catalog)


async def run_export(
    params: ExportParams,
    *,
    token: str | None = None,
    client: httpx.AsyncClient | None = None,
    on_event: EventSink | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    job_slots: asyncio.Semaphore | None = None,
) -> ExportResult:
    """Export the links and meta CSVs of one analysis, resuming or reusing whatever already exists.

    `job_slots` caps the export jobs running on Botify at once (from a job's POST until it is DONE); pass one
    semaphore to several runs to cap them together (a batch). Default: `params.max_jobs` for this run.
    """
    params = params.validated()
    ref = clean_url(params.project_url)
    # "latest" (the default) defers to an analysis named in the pasted URL: .../org/project/20241101-2/...
    analysis_wanted = ref.analysis if params.analysis in (None, "", "latest") and ref.analysis else params.analysis
    analysis_wanted = analysis_wanted or "latest"
    slots = job_slots if job_slots is not None else asyncio.Semaphore(params.max_jobs)
    run = _Run(params, ref, analysis_wanted, _Steps(on_event, clock), sleep, clock, slots)
    if client is None:
        if token is None:
            from .token import load_token

            token = load_token()
        async with make_client(token, base_url=str(params.api_base)) as own:
            return await run.run(own)
    return await run.run(client)


@dataclass
class _Run:
    """One `run_export`, phase by phase."""

    params: ExportParams
    ref: ProjectRef
    analysis_wanted: str
    steps: _Steps
    sleep: Callable[[float], Awaitable[Any]]
    clock: Callable[[], float]
    slots: asyncio.Semaphore

    @property
    def registry(self) -> ExportRegistry:
        return ExportRegistry(layout.registry_path(self.params.out))

    async def run(self, client: httpx.AsyncClient) -> ExportResult:
        t0 = self.clock()
        username = await self.steps.run(
            "connect", "Checking the API token", api.verify_token(client), lambda u: f"Connected as {u}"
        )
        analysis: Analysis = await self.steps.run(
            "analysis",
            f"Finding analysis {self.analysis_wanted!r} of {self.ref}",
            api.resolve_analysis(client, self.ref, self.analysis_wanted),
            lambda a: f"Analysis {a.slug}" + (f" ({a.name})" if a.name else ""),
        )
        reused = self.reuse(analysis, username, t0)
        if reused is not None:
            return reused
        chosen = await self.choose_fields(client, analysis)
        fields = chosen.fields
        choice: DepthChoice = await self.steps.run(
            "depth",
            f"Sizing the link graph (limit {self.params.max_edges:,} rows)",
            api.find_optimal_depth(client, self.ref, analysis, self.params.max_edges),
            lambda c: f"Depth {c.depth}: {c.edges:,} links" + (" (the whole graph)" if c.whole_graph else ""),
        )
        links, meta = await self.export_kinds(client, analysis.slug, choice.depth, fields, chosen.period)
        meta_rec = self.registry.get(
            registry_key(
                self.ref.org,
                self.ref.project,
                analysis.slug,
                "meta",
                export_variant("meta", self.params.max_edges, fields, self.params.gsc_period),
            )
        )
        return ExportResult(
            project=self.ref,
            analysis=analysis,
            username=username,
            depth=choice,
            fields=fields,
            links=links,
            meta=meta,
            elapsed=self.clock() - t0,
            **(recorded_period(meta_rec) if meta_rec is not None else {}),
        )

    def reuse(self, analysis: Analysis, username: str, t0: float) -> ExportResult | None:
        """Same input, same files: if both files of these settings exist, show them and export nothing."""
        found = existing_export(self.registry, self.ref, analysis.slug, self.params)
        if found is None:
            return None
        paths = {k: self.registry.file_path(r) for k, r in found.items()}
        self.steps.emit("info", "reuse", f"Already exported: {paths['links']} and {paths['meta']}")
        links_rec, meta_rec = found["links"], found["meta"]
        return ExportResult(
            project=self.ref,
            analysis=analysis,
            username=username,
            depth=None,
            fields=tuple(meta_rec.fields),
            links=KindResult("links", cast(Path, paths["links"]), links_rec.rows or 0, links_rec.job_id, True),
            meta=KindResult("meta", cast(Path, paths["meta"]), meta_rec.rows or 0, meta_rec.job_id, True),
            elapsed=self.clock() - t0,
            **recorded_period(meta_rec),
        )

    async def choose_fields(self, client: httpx.AsyncClient, analysis: Analysis) -> FieldChoice:
        """The meta fields to export and the Search Console period: see `choose_fields`."""
        return cast(
            FieldChoice,
            await self.steps.run(
                "fields",
                "Checking which page attributes the project has",
                choose_fields(client, self.ref, analysis, self.params.fields, self.params.gsc_period, self.steps),
                lambda c: c.describe(),
            ),
        )

    async def export_kinds(
        self, client: httpx.AsyncClient, analysis: str, depth: int, fields: tuple[str, ...], period: GscPeriod | None
    ) -> tuple[KindResult, KindResult]:
        """Create (or resume), poll and download the links and the meta export at once."""
        p, ref = self.params, self.ref
        dates = period.dates if period is not None else None
        meta_options = variant_options("meta", fields, p.gsc_period)
        if period is not None:  # what the period resolved to, for the summary (not part of the variant)
            meta_options.update(gsc_dates=dates, gsc_note=period.note)
        plans = {
            "links": (
                export_variant("links", p.max_edges),
                (),
                queries.links_export_payload(ref.org, ref.project, analysis, depth, p.max_edges),
                queries.LINKS_COLUMNS,
                {},
            ),
            "meta": (
                export_variant("meta", p.max_edges, fields, p.gsc_period),
                fields,
                queries.meta_export_payload(
                    ref.org, ref.project, analysis, depth, fields, period=dates, export_size=p.max_edges
                ),
                queries.meta_columns(fields),
                meta_options,
            ),
        }

        async def one(kind: str) -> KindResult:
            variant, kind_fields, payload, columns, options = plans[kind]
            return await _KindExport(
                kind=kind,
                variant=variant,
                client=client,
                registry=self.registry,
                steps=self.steps,
                params=p,
                ref=ref,
                analysis=analysis,
                depth=depth,
                fields=kind_fields,
                payload=payload,
                columns=columns,
                options=options,
                dest=layout.export_path(p.out, ref, analysis, kind),
                sleep=self.sleep,
                clock=self.clock,
                slots=self.slots,
            ).run()

        outcomes = await asyncio.gather(*(one(k) for k in KINDS), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        links, meta = cast("list[KindResult]", outcomes)
        return links, meta


@dataclass
class _KindExport:
    """Create-or-resume, poll and download one export kind, recording each transition."""

    kind: str
    variant: str
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
    slots: asyncio.Semaphore
    options: dict[str, Any] = field(default_factory=dict)  # recorded with a new job (see variant_options)

    @property
    def key(self) -> str:
        return registry_key(self.ref.org, self.ref.project, self.analysis, self.kind, self.variant)

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
            variant=self.variant,
            options=dict(self.options),
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
        while True:
            async with self.slots:  # a job runs on Botify from its POST until DONE: that is what is capped
                job = await self.steps.run(
                    f"export:{self.kind}",
                    f"Starting the {self.kind} export job",
                    self._job(record),
                    lambda j: f"{self.kind}: job {j.job_id} {j.status.lower()}",
                )
                if job.status == "DONE":
                    break
                resumed = job.status == "PROCESSING" and record is not None
                try:
                    job = await self.steps.run(
                        f"poll:{self.kind}",
                        f"Waiting for the {self.kind} export (job {job.job_id})",
                        self._poll(job, poll_first=resumed),
                        lambda j: f"{self.kind}: job {j.job_id} done",
                    )
                    break
                except NotFound:
                    if not resumed:
                        raise
                    # The recorded job is gone on Botify's side (expired or deleted): start a new one.
                    self.steps.emit("info", f"export:{self.kind}", f"{self.kind}: job {job.job_id} no longer exists")
                    self.registry.update(self.key, status="GONE")
                    record = None
        result: DownloadResult = await self.steps.run(
            f"download:{self.kind}",
            f"Downloading the {self.kind} file",
            self._download(job),
            lambda r: f"{self.kind}: {r.rows:,} rows → {r.path}",
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

        moved: list[Path] = []

        def commit(part: Path, done: DownloadResult) -> None:
            # Under the download's lock: an earlier export at the destination is moved to its variant's name,
            # the new file takes its place and the record says DOWNLOADED, all under the registry's lock.
            aside = self.registry.install(self.key, part, done.path, rows=done.rows)
            if aside is not None:
                moved.append(aside)

        result = await self._fetch(job, progress, commit)
        for aside in moved:
            self.steps.emit(
                "info",
                f"download:{self.kind}",
                f"{self.kind}: the earlier export of {self.analysis} with other settings was kept as {aside}",
                kept=str(aside),
            )
        return result

    async def _fetch(
        self, job: Job, progress: Callable[[int, int | None], None], commit: Callable[[Path, DownloadResult], None]
    ) -> DownloadResult:

        broken = 0
        for attempt in range(3):
            if job.download_url is None or attempt > 0:
                job = await api.get_job(self.client, job.job_url)
                if job.status != "DONE" or not job.download_url:
                    raise BotifyError(f"Job {job.job_id} is {job.status} and has no download link; run again later.")
                self.registry.update(self.key, download_url=job.download_url)
            try:
                url = resolve_api_url(self.client, job.download_url)  # absolute on a CDN; relative tolerated
                return await download_export(
                    self.client, url, self.dest, columns=self.columns, on_progress=progress, commit=commit
                )
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
