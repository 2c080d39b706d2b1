"""`run_export`: the one orchestration shared by the CLI, papermill and the wizard.

    clean_url → check_token → resolve analysis → reuse what is on disk, or:
      field choice (the catalogue; a one-row query checks fields beyond the defaults) → sizing
      (find_optimal_depth, or the partitions of a complete export) → links and meta concurrently:
      create (or resume) job → poll → download → registry
    complete (`ExportParams.complete`): sizing (api.export_plan, the plan announced before any job) →
      every partition of links and meta as its own job and registry record (at most `max_jobs` running),
      a partition that comes back cut split again → the partitions merged into the usual two files

Progress goes to a single `on_event` callback; each front end renders events its own way.
The export registry makes it idempotent: a job is created once per (project, analysis, kind, settings);
a rerun resumes the job it recorded and never downloads a finished file twice. Another export of the same
analysis with other settings is a new record: the earlier files are kept under their variant's name
(`ExportRegistry.install`), never replaced. One process at a time follows each record (a lock file per
record, `layout.follow_lock_path`): another run of the same export (a reloaded page's kernel, a second tab,
a batch run) waits, shows the same progress from the registry, uses the file, and takes the same job over
if the first one dies (the OS frees a dead process's lock). Where files go and every default come from `layout`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import httpx
from filelock import FileLock

from . import api, layout, partition, queries
from .client import make_client, resolve_api_url
from .depth import DepthChoice, cumulate
from .download import DownloadResult, download_export, merge_exports
from .errors import (
    AuthError,
    BotifyError,
    ConfigError,
    DownloadError,
    DownloadExpired,
    ExportJobFailed,
    JobRefused,
    NotFound,
    PartitionTooLarge,
)
from .fields import FieldCatalog, GscPeriod, has_gsc, parse_gsc_period, source_of
from .fsutil import holding_lock, try_lock
from .jobs import PollProgress, job_age, poll_job
from .models import Analysis, Job
from .registry import ExportRecord, ExportRegistry, registry_key
from .render import partition as partition_view
from .urls import ProjectRef, clean_url

if TYPE_CHECKING:  # pragma: no cover
    from .trace import Trace

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
    complete: bool = False  # every link at every depth, in as many jobs as it takes (see `api.export_plan`)
    allow_cut: bool = False  # depth 1 alone over the limit: export it cut at the limit instead of failing
    rate: float | None = None  # requests/s this run's own client sends at most; None: $BOTIFY_GRAPH_RATE, else 5

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
        if self.complete and self.allow_cut:
            raise ConfigError(
                "complete and allow_cut exclude each other: the complete graph is never cut. Choose one "
                "(CLI: --complete or --allow-cut)."
            )
        fields = None if self.fields is None else queries.normalize_fields(list(self.fields))
        rate = None if self.rate is None else layout.api_rate(self.rate)
        return replace(
            self,
            fields=fields,
            rate=rate,
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
    polls), download_progress (data: bytes, total), info. The analysis step's success carries
    data["analysis"] (its slug), a download's data["rows"] and data["path"].
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
    username: str | None  # None when the (undocumented) profile endpoint could not name the user
    depth: DepthChoice | None  # None when both files already existed
    fields: tuple[str, ...]
    links: KindResult
    meta: KindResult
    elapsed: float
    plan: partition.ExportPlan | None = None  # a complete export: the plan it followed
    gsc_period: tuple[str, str] | None = None  # the Search Console dates the meta file sums, if it has GSC fields
    gsc_note: str = ""  # why those dates differ from the period asked for ("" when they do not)

    @property
    def reused(self) -> bool:
        return self.links.reused and self.meta.reused

    @property
    def cut(self) -> bool:
        """True when the links file is depth 1 cut at the row limit (`allow_cut`): it lacks links."""
        return self.depth is not None and self.depth.cut


log = logging.getLogger("botify_graph.export")  # the package's NullHandler (botify_graph/__init__.py) applies
_LEVELS = {"step_failed": logging.WARNING, "job_status": logging.DEBUG, "download_progress": logging.DEBUG}


def _log_event(event: Event, project: str = "") -> None:
    """Every event also goes to the `botify_graph.export` logger (no handler is installed by the library).

    Records start with the project (`[org/project] `: runs of a batch interleave) and carry it as the
    record attribute `botify_project`.
    """
    level = _LEVELS.get(event.kind, logging.INFO)
    if log.isEnabledFor(level):
        took = f" ({event.elapsed:.1f} s)" if event.elapsed is not None and event.kind != "step_started" else ""
        where = f"[{project}] " if project else ""
        extra = {"botify_project": project}
        log.log(level, "%s%s %s: %s%s", where, event.kind, event.step, event.message, took, extra=extra)


class _Steps:
    """Emit started/succeeded/failed events around a block, with timings (and into the trace, if any)."""

    def __init__(
        self, sink: EventSink | None, clock: Callable[[], float], trace: Trace | None = None, project: str = ""
    ) -> None:
        self.sink = sink
        self.clock = clock
        self.trace = trace
        self.project = project

    def emit(self, kind: str, step: str, message: str, elapsed: float | None = None, **data: Any) -> None:
        event = Event(kind, step, message, elapsed, data)
        _log_event(event, self.project)
        if self.trace is not None and kind != "download_progress":
            self.trace.event(kind, step, message, elapsed=elapsed, **data)
        if self.sink is not None:
            self.sink(event)

    async def run(
        self,
        step: str,
        message: str,
        work: Awaitable[Any],
        done: Callable[[Any], str],
        data: Callable[[Any], dict[str, Any]] | None = None,
    ) -> Any:
        t0 = self.clock()
        self.emit("step_started", step, message)
        try:
            result = await work
        except BaseException as exc:
            self.emit("step_failed", step, str(exc) or type(exc).__name__, self.clock() - t0)
            raise
        self.emit("step_succeeded", step, done(result), self.clock() - t0, **(data(result) if data else {}))
        return result


def variant_options(kind: str, fields: tuple[str, ...] = (), gsc_period: str | None = None) -> dict[str, Any]:
    """The settings besides the limit and the fields that make another export: a Search Console period other
    than the default, for a meta export with Search Console fields."""
    if kind == "meta" and gsc_period is not None and has_gsc(fields):
        return {"gsc_period": gsc_period}
    return {}


def export_variant(
    kind: str, max_edges: int, fields: tuple[str, ...] = (), mode: str = "", gsc_period: str | None = None
) -> str:
    """The registry variant of one kind of export made with these settings (see `layout.variant_tag`).

    `mode`: "" (depth-limited), "cut" (depth 1 cut at the limit) or "complete" (every link, several jobs);
    `gsc_period`: a Search Console period other than the default (meta exports with Search Console fields).
    """
    options: dict[str, Any] = {"mode": mode} if mode else {}
    options.update(variant_options(kind, fields, gsc_period))
    return layout.variant_tag(
        kind, max_edges=max_edges, fields=fields if kind == "meta" else (), options=options or None
    )


def _modes(params: ExportParams) -> tuple[str, ...]:
    """The export modes whose files `params` accepts as its own."""
    if params.complete:
        return ("complete",)
    return ("", "depth", "cut") if params.allow_cut else ("", "depth")


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
            if record.max_edges != params.max_edges or str(record.options.get("mode", "")) not in _modes(params):
                continue
            if kind == "meta" and params.fields is not None and tuple(record.fields) != params.fields:
                continue
            if kind == "meta" and has_gsc(record.fields) and record.options.get("gsc_period") != params.gsc_period:
                continue
            found[kind] = record
            break
    return found if len(found) == len(KINDS) else None


def wanted_analysis(ref: ProjectRef, analysis: str | None) -> str:
    """The analysis to resolve: "latest" (the default) defers to one named in the pasted URL."""
    if analysis in (None, "", "latest") and ref.analysis:
        return ref.analysis
    return analysis or "latest"


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
    trace: Trace | None = None,
    username: str | None = None,
) -> ExportResult:
    """Export the links and meta CSVs of one analysis, resuming or reusing whatever already exists.

    `job_slots` caps the export jobs running on Botify at once (from a job's POST until it is DONE); pass one
    semaphore to several runs to cap them together (a batch). Default: `params.max_jobs` for this run.
    `trace` (`trace.open_trace`) records every request of the client this function builds, and the export's
    steps; a `client` passed in records into whatever trace it was made with (its steps go to `trace`).
    `client`: pass one to share its rate limit with other runs (`params.rate` then does not apply).
    `username`: the token was already checked with `client` (a batch checks it once): no request for it.
    """
    params = params.validated()
    ref = clean_url(params.project_url)
    slots = job_slots if job_slots is not None else asyncio.Semaphore(params.max_jobs)
    steps = _Steps(on_event, clock, trace, str(ref))
    run = _Run(params, ref, wanted_analysis(ref, params.analysis), steps, sleep, clock, slots, username)
    if client is None:
        if token is None:
            from .token import load_token

            token = load_token()
        async with make_client(token, base_url=str(params.api_base), trace=trace, rate=params.rate) as own:
            return await run.run(own)
    return await run.run(client)


async def _all(*work: Awaitable[KindResult]) -> list[KindResult]:
    """Await every one of `work` to its end, then raise the first failure in the order given, if any (one
    failure never leaves the others running)."""
    outcomes = await asyncio.gather(*work, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return cast("list[KindResult]", outcomes)


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
    username: str | None = None  # the token was already checked with this client

    @property
    def registry(self) -> ExportRegistry:
        return ExportRegistry(layout.registry_path(self.params.out))

    async def run(self, client: httpx.AsyncClient) -> ExportResult:
        t0 = self.clock()
        if self.username is not None:  # checked already ("" when the user's name is unknown)
            username: str | None = self.username or None
        else:
            check: api.TokenCheck = await self.steps.run(
                "connect", "Checking the API token", api.check_token(client, self.ref), lambda c: c.describe()
            )
            username = check.username
        analysis: Analysis = await self.steps.run(
            "analysis",
            f"Finding analysis {self.analysis_wanted!r} of {self.ref}",
            api.resolve_analysis(client, self.ref, self.analysis_wanted),
            lambda a: f"Analysis {a.slug}" + (f" ({a.name})" if a.name else ""),
            lambda a: {"analysis": a.slug},
        )
        reused = self.reuse(analysis, username, t0)
        if reused is not None:
            return reused
        chosen = await self.choose_fields(client, analysis)
        fields = chosen.fields
        if self.params.complete:
            return await self.run_complete(client, analysis, username, fields, chosen.period, t0)
        choice: DepthChoice = await self.steps.run(
            "depth",
            f"Sizing the link graph (limit {self.params.max_edges:,} rows)",
            api.find_optimal_depth(client, self.ref, analysis, self.params.max_edges, allow_cut=self.params.allow_cut),
            lambda c: (
                f"Depth {c.depth}: {c.edges:,} links"
                + (" (the whole graph)" if c.whole_graph else " (cut at the limit)" if c.cut else "")
            ),
        )
        mode = "cut" if choice.cut else ""
        links, meta = await self.export_kinds(client, analysis.slug, choice.depth, fields, chosen.period, mode)
        meta_rec = self.registry.get(
            registry_key(
                self.ref.org,
                self.ref.project,
                analysis.slug,
                "meta",
                export_variant("meta", self.params.max_edges, fields, mode, self.params.gsc_period),
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

    def reuse(self, analysis: Analysis, username: str | None, t0: float) -> ExportResult | None:
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

    async def run_complete(
        self,
        client: httpx.AsyncClient,
        analysis: Analysis,
        username: str | None,
        fields: tuple[str, ...],
        gsc: GscPeriod | None,
        t0: float,
    ) -> ExportResult:
        """Every link at every depth: the plan first (announced before any job), then each partition's job."""
        p, ref, slug = self.params, self.ref, analysis.slug
        period = gsc.dates if gsc is not None else None
        cache: dict[str, dict[str, list[tuple[Any, int]]]] = {}
        plan: partition.ExportPlan = await self.steps.run(
            "plan",
            f"Planning the complete graph (at most {p.max_edges:,} rows a job)",
            api.export_plan(client, ref, slug, p.max_edges, margin=layout.PARTITION_MARGIN, cache=cache),
            partition_view.plan_line,
        )
        self.steps.emit(
            "info",
            "plan",
            partition_view.plan_text(plan, max_jobs=p.max_jobs, many=layout.MANY_JOBS),
            parts={"links": plan.links.jobs, "meta": plan.meta.jobs},
            jobs=plan.complete_jobs,
            credits=plan.complete_credits,
            summary=partition_view.plan_line(plan),
        )
        if not plan.feasible:
            raise PartitionTooLarge(partition_view.too_big_text(plan))
        depth = plan.max_depth
        links, meta = await _all(
            self.complete_kind(client, slug, "links", plan.links, cache["links"], (), None, depth),
            self.complete_kind(client, slug, "meta", plan.meta, cache["meta"], fields, period, depth),
        )
        choice = DepthChoice(
            depth=depth,
            edges=plan.total_links,
            max_edges=p.max_edges,
            per_depth=plan.links_per_depth,
            cumulative=tuple(cumulate(dict(plan.links_per_depth))),
            whole_graph=True,
            requests=plan.requests,
        )
        return ExportResult(
            project=ref,
            analysis=analysis,
            username=username,
            depth=choice,
            fields=fields,
            links=links,
            meta=meta,
            elapsed=self.clock() - t0,
            plan=plan,
            gsc_period=(gsc.start, gsc.end) if gsc is not None else None,
            gsc_note=gsc.note if gsc is not None else "",
        )

    async def complete_kind(
        self,
        client: httpx.AsyncClient,
        analysis: str,
        kind: str,
        plan: partition.PartitionPlan,
        sizes: dict[str, list[tuple[Any, int]]],
        fields: tuple[str, ...],
        period: list[str] | None,
        depth: int,
    ) -> KindResult:
        """Export every partition of one kind (splitting again any that comes back cut), then merge them."""
        p, ref = self.params, self.ref
        variant = export_variant(kind, p.max_edges, fields, "complete", p.gsc_period)
        cut = {
            r.part: r.rows or plan.cap
            for r in self.registry.records(org=ref.org, project=ref.project, analysis=analysis, kind=kind)
            if r.variant == variant and r.part and r.status == "SPLIT"
        }
        while True:
            if cut:  # split what came back cut (in this run or an earlier one) before exporting the rest
                plan = await self.steps.run(
                    f"plan:{kind}",
                    f"Splitting the {kind} jobs that came back cut",
                    api.plan_partitions(client, ref, analysis, kind, cap=p.max_edges, sizes=sizes, cut=cut),
                    lambda pl: f"{kind}: {pl.jobs} jobs",
                )
                if not plan.feasible:
                    raise PartitionTooLarge(partition_view.parts_too_big_text(plan.too_big, p.max_edges))
            results = await self.export_parts(client, analysis, kind, variant, plan, fields, period, depth)
            newly = {part.id: r.rows for part, r in zip(plan.parts, results, strict=True) if r.rows >= plan.cap}
            if not newly:
                break
            for part_id, rows in newly.items():
                self.mark_split(analysis, kind, variant, part_id, rows)
            cut.update(newly)
        return await self.merge(analysis, kind, variant, plan, results, fields, depth)

    async def export_parts(
        self,
        client: httpx.AsyncClient,
        analysis: str,
        kind: str,
        variant: str,
        plan: partition.PartitionPlan,
        fields: tuple[str, ...],
        period: list[str] | None,
        depth: int,
    ) -> list[KindResult]:
        """Create (or resume), poll and download every partition of `plan`, at most `max_jobs` jobs at once."""
        p, ref = self.params, self.ref
        columns = queries.LINKS_COLUMNS if kind == "links" else queries.meta_columns(fields)

        async def one(part: partition.Partition) -> KindResult:
            if kind == "links":
                payload = queries.links_partition_payload(
                    ref.org, ref.project, analysis, part.conds, part.id, export_size=p.max_edges
                )
            else:
                payload = queries.meta_partition_payload(
                    ref.org, ref.project, analysis, part.conds, part.id, fields, period=period, export_size=p.max_edges
                )
            try:
                return await self.export_part(kind, part, variant, client, analysis, fields, payload, columns, depth)
            except OSError:
                merged = self.registry.downloaded_file(
                    self.registry.get(registry_key(ref.org, ref.project, analysis, kind, variant))
                )
                if merged is None:
                    raise
                # Another run merged every part meanwhile and removed the parts folder under this download.
                self.steps.emit("info", f"download:{kind}#{part.id}", f"{kind}#{part.id}: merged by another run")
                return KindResult(f"{kind}#{part.id}", merged, 0, None, True)

        # every other partition finishes before a failure is raised: a rerun resumes only the missing ones
        return await _all(*(one(part) for part in plan.parts))

    async def export_part(
        self,
        kind: str,
        part: partition.Partition,
        variant: str,
        client: httpx.AsyncClient,
        analysis: str,
        fields: tuple[str, ...],
        payload: dict[str, Any],
        columns: tuple[str, ...],
        depth: int,
    ) -> KindResult:
        """Create (or resume), poll and download one partition: its own job and registry record."""
        p, ref = self.params, self.ref
        return await _PartExport(
            kind=f"{kind}#{part.id}",
            variant=variant,
            client=client,
            registry=self.registry,
            steps=self.steps,
            params=p,
            ref=ref,
            analysis=analysis,
            depth=depth,
            fields=fields if kind == "meta" else (),
            payload=payload,
            columns=columns,
            dest=layout.partition_path(p.out, ref, analysis, kind, variant, part.id),
            sleep=self.sleep,
            clock=self.clock,
            slots=self.slots,
            options={"mode": "complete", "estimate": part.estimate, **variant_options(kind, fields, p.gsc_period)},
            record_kind=kind,
            part=part.id,
        ).run()

    def mark_split(self, analysis: str, kind: str, variant: str, part: str, rows: int) -> None:
        """A partition came back cut at the limit: record it SPLIT (its rows are exported again by its parts)."""
        key = registry_key(self.ref.org, self.ref.project, analysis, kind, variant, part)
        record = self.registry.update(key, status="SPLIT", rows=rows)
        path = self.registry.file_path(record)
        if path is not None:
            path.unlink(missing_ok=True)
        self.steps.emit(
            "info",
            f"export:{kind}#{part}",
            f"{kind}#{part}: came back cut at {rows:,} rows (the limit): it is split and exported again, "
            "never kept short",
            part=part,
            rows=rows,
        )

    async def merge(
        self,
        analysis: str,
        kind: str,
        variant: str,
        plan: partition.PartitionPlan,
        results: list[KindResult],
        fields: tuple[str, ...],
        depth: int,
    ) -> KindResult:
        """Stream the partitions into the usual export file (its own registry record), then drop them.

        Two runs of the same complete export (a second tab, a batch beside the notebook) both reach this
        point with the same parts: the merge is held by one process at a time, and the second one finds
        the merged file in the registry instead of reading parts the first has already removed.
        """
        key = registry_key(self.ref.org, self.ref.project, analysis, kind, variant)
        async with holding_lock(layout.follow_lock_path(self.registry.path.parent, key)):
            return await self._merge(key, analysis, kind, variant, plan, results, fields, depth)

    async def _merge(
        self,
        key: str,
        analysis: str,
        kind: str,
        variant: str,
        plan: partition.PartitionPlan,
        results: list[KindResult],
        fields: tuple[str, ...],
        depth: int,
    ) -> KindResult:
        p, ref, registry = self.params, self.ref, self.registry
        folder = layout.partition_dir(p.out, ref, analysis, kind, variant)
        merged = registry.get(key)
        done = registry.downloaded_file(merged)
        if done is not None:  # another run merged them meanwhile: what this one downloaded is not needed
            shutil.rmtree(folder, ignore_errors=True)
            return KindResult(kind, done, cast(ExportRecord, merged).rows or 0, None, True)
        dest = layout.export_path(p.out, ref, analysis, kind)
        registry.put(
            ExportRecord(
                org=ref.org,
                project=ref.project,
                analysis=analysis,
                kind=kind,
                depth=depth,
                max_edges=p.max_edges,
                fields=fields if kind == "meta" else (),
                status="DONE",
                variant=variant,
                options={
                    "mode": "complete",
                    "parts": [part.id for part in plan.parts],
                    **variant_options(kind, fields, p.gsc_period),
                },
            )
        )
        moved: list[Path] = []

        def commit(part: Path, rows: int) -> None:
            aside = registry.install(key, part, dest, rows=rows)
            if aside is not None:
                moved.append(aside)

        columns = queries.LINKS_COLUMNS if kind == "links" else queries.meta_columns(fields)
        rows: int = await self.steps.run(
            f"merge:{kind}",
            f"Merging the {len(results)} {kind} files into {dest.name}",
            merge_exports([r.path for r in results], dest, columns=columns, commit=commit),
            lambda n: f"{kind}: {n:,} rows → {dest}",
        )
        for aside in moved:
            self.steps.emit(
                "info",
                f"merge:{kind}",
                f"{kind}: the earlier export of {analysis} with other settings was kept as {aside}",
                kept=str(aside),
            )
        for r in results:
            r.path.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
        return KindResult(kind, dest, rows, None, False)

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
        self,
        client: httpx.AsyncClient,
        analysis: str,
        depth: int,
        fields: tuple[str, ...],
        period: GscPeriod | None,
        mode: str = "",
    ) -> tuple[KindResult, KindResult]:
        """Create (or resume), poll and download the links and the meta export at once."""
        p, ref = self.params, self.ref
        dates = period.dates if period is not None else None
        meta_options = variant_options("meta", fields, p.gsc_period)
        if period is not None:  # what the period resolved to, for the summary (not part of the variant)
            meta_options.update(gsc_dates=dates, gsc_note=period.note)
        plans = {
            "links": (
                export_variant("links", p.max_edges, mode=mode),
                (),
                queries.links_export_payload(ref.org, ref.project, analysis, depth, p.max_edges),
                queries.LINKS_COLUMNS,
                {},
            ),
            "meta": (
                export_variant("meta", p.max_edges, fields, mode, p.gsc_period),
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
                options={**({"mode": mode} if mode else {}), **options},
                dest=layout.export_path(p.out, ref, analysis, kind),
                sleep=self.sleep,
                clock=self.clock,
                slots=self.slots,
            ).run()

        links, meta = await _all(*(one(k) for k in KINDS))
        if links.reused and meta.reused:
            return links, meta
        return self.keep_pair(analysis, {k: plans[k][0] for k in KINDS}, links, meta)

    def keep_pair(
        self, analysis: str, variants: dict[str, str], links: KindResult, meta: KindResult
    ) -> tuple[KindResult, KindResult]:
        """The plain file names always hold one export's links and meta.

        Another run of the same analysis with other settings, at the same time, may install one kind between
        this run's two: this run, which finished last, then takes the plain name of that kind back (the other
        run's file goes to its variant's name, as `ExportRegistry.install` does). Under the registry's lock.
        """
        registry, kept = self.registry, []
        with registry.locked():
            for result in (links, meta):
                key = registry_key(self.ref.org, self.ref.project, analysis, result.kind, variants[result.kind])
                current = registry.downloaded_file(registry.get(key))
                plain = layout.export_path(self.params.out, self.ref, analysis, result.kind).absolute()
                if current is not None and current != plain:
                    aside = registry.install(key, current, plain)
                    self.steps.emit(
                        "info",
                        f"download:{result.kind}",
                        f"{result.kind}: another run installed {aside.name if aside else 'a file'} meanwhile; "
                        f"{plain.name} holds this export again, beside its links and meta",
                    )
                    result = replace(result, path=plain)
                kept.append(result)
        return kept[0], kept[1]


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
    options: dict[str, Any] = field(default_factory=dict)  # what the record's `options` say (e.g. the mode)

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
        done = self._already_downloaded()
        if done is not None:
            return done
        # One process follows each export record (polls it, downloads it): a second kernel, tab or batch run
        # on the same export waits for that one and shows its progress; if it dies, the OS frees its lock
        # and the waiting run takes the same job over.
        lock_path = layout.follow_lock_path(self.registry.path.parent, self.key)
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(lock_path))
        if not try_lock(lock):
            watched = await self._watch(lock)
            if watched is not None:
                return watched
        try:
            done = self._already_downloaded()  # the run that held the lock may just have finished
            if done is not None:
                return done
            return await self._follow()
        finally:
            layout.follow_progress_path(self.registry.path.parent, self.key).unlink(missing_ok=True)
            lock.release()

    def _already_downloaded(self) -> KindResult | None:
        record = self.registry.get(self.key)
        if record is None or not record.matches(self.depth, self.params.max_edges, self.fields):
            return None
        path = self.registry.downloaded_file(record)
        if path is None:
            return None
        self.steps.emit("info", f"download:{self.kind}", f"{self.kind}: already downloaded to {path}")
        return KindResult(self.kind, path, record.rows or 0, record.job_id, True)

    async def _watch(self, lock: FileLock) -> KindResult | None:
        """Another process follows this export: show its progress from the registry (and its download's
        progress file) until its file is there; None when its lock came free and this run took over."""
        kind, t0 = self.kind, self.clock()
        self.steps.emit(
            "info",
            f"export:{kind}",
            f"{kind}: another session (a reloaded page, a second tab, a batch run) is following this export: "
            "waiting for it, nothing is requested twice",
            following=False,
        )
        seen: tuple[Any, ...] | None = None
        shown_bytes = -1
        progress_file = layout.follow_progress_path(self.registry.path.parent, self.key)
        while True:
            record = self.registry.get(self.key)
            if record is not None and record.matches(self.depth, self.params.max_edges, self.fields):
                path = self.registry.downloaded_file(record)
                if path is not None:
                    rows = record.rows or 0
                    self.steps.emit(
                        "step_succeeded",
                        f"download:{kind}",
                        f"{kind}: {rows:,} rows → {path} (downloaded by the other session)",
                        self.clock() - t0,
                    )
                    return KindResult(kind, path, rows, record.job_id, False)
                state = (record.job_id, record.status, record.polls)
                if state != seen and record.status not in ("CREATING", "DOWNLOADED"):
                    seen = state
                    self.steps.emit(
                        "job_status",
                        f"poll:{kind}",
                        f"{kind}: job {record.job_id} {record.status} ({record.polls} polls, by the other session)",
                        self.clock() - t0,
                        job_id=record.job_id,
                        status=record.status,
                        polls=record.polls,
                    )
                progress = _read_progress(progress_file) if record.status == "DONE" else None
                if progress is not None and progress[0] != shown_bytes:
                    shown_bytes = progress[0]
                    self.steps.emit(
                        "download_progress",
                        f"download:{kind}",
                        f"{kind}: {progress[0]:,} bytes (by the other session)",
                        bytes=progress[0],
                        total=progress[1],
                    )
            if try_lock(lock):
                self.steps.emit(
                    "info",
                    f"export:{kind}",
                    f"{kind}: the other session stopped following this export; this one takes over the same job",
                    following=True,
                )
                return None
            await self.sleep(layout.FOLLOW_POLL_S)

    async def _follow(self) -> KindResult:
        """Create or resume the job, poll it and download its file (this run holds the export's lock)."""
        record = self.registry.get(self.key)
        if record is not None and not record.matches(self.depth, self.params.max_edges, self.fields):
            record = None
        while True:
            async with self.slots:  # a job runs on Botify from its POST until DONE: that is what is capped
                job = await self.steps.run(
                    f"export:{self.kind}",
                    f"Starting the {self.kind} export job",
                    self._job_accepted(record),
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
                except AuthError as exc:
                    raise self._job_kept(exc, job) from None
                except NotFound:
                    if not resumed:
                        raise
                    # The recorded job is gone on Botify's side (expired or deleted): start a new one.
                    self.steps.emit("info", f"export:{self.kind}", f"{self.kind}: job {job.job_id} no longer exists")
                    self.registry.update(self.key, status="GONE")
                    record = None
        try:
            result: DownloadResult = await self.steps.run(
                f"download:{self.kind}",
                f"Downloading the {self.kind} file",
                self._download(job),
                lambda r: f"{self.kind}: {r.rows:,} rows → {r.path}",
                lambda r: {"rows": r.rows, "path": str(r.path)},
            )
        except AuthError as exc:  # asking the job for a fresh link
            raise self._job_kept(exc, job) from None
        return KindResult(self.kind, result.path, result.rows, job.job_id, False)

    def _job_kept(self, exc: AuthError, job: Job) -> AuthError:
        """A token revoked (regenerated in Botify) while following a job: the job is recorded, say so."""
        return exc.reworded(
            f"{exc} The {self.kind} export job {job.job_id} is kept: run the same export again with the new "
            "token and it resumes that job (no new job, no credit spent twice)."
        )

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
            try:
                job = await api.create_export_job(
                    self.client,
                    self.payload,
                    on_uncertain=lambda m: self.steps.emit("info", f"export:{self.kind}", m),
                    refused_wait_s=None,  # a refusal is waited out by `_job_accepted`, without the registry lock
                )
            except JobRefused:
                self.registry.update(self.key, status="GONE")  # refused: Botify created no job
                raise
            self._record_job(job)
            return job

    async def _job_accepted(self, record: ExportRecord | None) -> Job:
        """`_job`, posted again after a wait while Botify refuses it because other exports run (error 1058)."""
        records = iter([record])  # after a refusal, none: the registry's record (GONE) is what counts
        return await api.post_until_accepted(
            lambda: self._job(next(records, None)),
            limit=layout.JOB_REFUSED_WAIT_S,
            on_refused=lambda message: self.steps.emit("info", f"export:{self.kind}", f"{self.kind}: {message}"),
            sleep=self.sleep,
            clock=self.clock,
        )

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
        progress_file = layout.follow_progress_path(self.registry.path.parent, self.key)
        told = [-1e9]

        def progress(done: int, total: int | None) -> None:
            self.steps.emit(
                "download_progress", f"download:{self.kind}", f"{self.kind}: {done:,} bytes", bytes=done, total=total
            )
            now = self.clock()
            if now - told[0] >= 0.5 or (total is not None and done >= total):  # for the sessions waiting on us
                told[0] = now
                _write_progress(progress_file, done, total)

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
                    self.client,
                    url,
                    self.dest,
                    columns=self.columns,
                    on_progress=progress,
                    commit=commit,
                    sleep=self.sleep,
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


def _write_progress(path: Path, done: int, total: int | None) -> None:
    """Say how far a download is, for the sessions waiting on it (best effort: never fails the download)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"bytes": done, "total": total}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


def _read_progress(path: Path) -> tuple[int, int | None] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        total = data.get("total")
        return int(data["bytes"]), (int(total) if total is not None else None)
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass
class _PartExport(_KindExport):
    """One partition of a complete export: a `_KindExport` whose registry record carries the partition id.

    `kind` labels its events (`links#d3.t1`: each partition reports on its own); `record_kind` is the
    registry's kind ("links" or "meta") and `part` the partition id in its key.
    """

    record_kind: str = "links"
    part: str = ""

    @property
    def key(self) -> str:
        return registry_key(self.ref.org, self.ref.project, self.analysis, self.record_kind, self.variant, self.part)

    def _fresh_record(self) -> ExportRecord:
        return replace(super()._fresh_record(), kind=self.record_kind, part=self.part)
