"""`run_batch`: many projects in one process, under one rate limit and one cap on export jobs.

    projects file ──projects.read_projects──▶ rows; every row checked before anything is sent
    one client: one RateLimiter, so at most `rate` requests/s in total (Botify allows 5 per token)
    one semaphore: at most `max_jobs` export jobs running on Botify at once, across projects
    the token checked once, then every project at once (rows of the same project one after the other):
        [new_only]  the analysis it asks for (the newest) already exported? → skipped, nothing sent
        run_export(row's settings, the shared client and job slots): resumes, reuses, never pays twice
        reports (summary, depth chart, view) beside new files, one project at a time (CPU and memory)
        [compare]   against the previous analysis exported in the same folder → _compare.json / .md
    ──▶ {batch}_results.csv / .md in the output folder, and a BatchResult (ok when every row succeeded)

A project that fails (unknown, no permission, a failed job, a field it lacks) fails its own row; the others
go on. Progress goes to one `on_event` callback as `BatchEvent`s (each export's own `Event`s wrapped);
`BatchConsole` shows them as a live table on a terminal and as plain lines elsewhere. Everything is also
logged: the batch to `botify_graph.batch`, each export's steps to `botify_graph.export`, never the token;
the library installs no handler (configure logging as usual: Airflow's task log, a notebook, cron).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import httpx

from . import api, layout
from .client import make_client
from .errors import BotifyError, ConfigError
from .pipeline import Event, ExportParams, ExportResult, run_export, wanted_analysis
from .projects import ProjectRow, ProjectsFileError, read_projects
from .registry import ExportRegistry
from .render import labels as L
from .render.batch import LiveTable, ResultLine, StatusRow, elapsed_text, results_text, status_table
from .trace import Trace
from .urls import ProjectRef

__all__ = [
    "OK_STATUSES",
    "BatchConsole",
    "BatchEvent",
    "BatchResult",
    "RowResult",
    "run_batch",
]

log = logging.getLogger("botify_graph.batch")

OK_STATUSES = ("exported", "reused", "skipped")  # and "failed"


@dataclass(frozen=True)
class RowResult:
    """What the batch did for one row of the projects file."""

    line: int  # the row's line in the projects file
    project: str  # org/project
    project_url: str
    analysis: str  # the analysis exported (or skipped); "" when it could not be found
    status: str  # exported | reused | skipped | failed
    files: tuple[Path, ...] = ()  # links and meta CSVs, then the comparison's Markdown
    rows: int | None = None  # links exported (rows of the links file)
    error: str = ""
    compared_with: str | None = None  # the earlier analysis compared against
    notes: tuple[str, ...] = ()
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES


@dataclass(frozen=True)
class BatchResult:
    """What `run_batch` did: a result per row, in the file's order, and where the results file is."""

    name: str
    out_dir: Path
    rows: tuple[RowResult, ...]
    results_csv: Path
    results_md: Path
    elapsed: float

    @property
    def ok(self) -> bool:
        """True when every row succeeded (exported, reused or skipped)."""
        return all(r.ok for r in self.rows)

    @property
    def failed(self) -> list[RowResult]:
        return [r for r in self.rows if not r.ok]


@dataclass(frozen=True)
class BatchEvent:
    """One thing that happened in a batch. `kind` is one of:

    batch_started (data: total, source, out, max_jobs, rate, projects), connected (the token was checked,
    once: data["username"]), row_started, step (the batch's own steps
    for a row: new, reports, compare; `data["state"]` is started / succeeded / failed), export (`export`: the
    row's pipeline `Event`), row_finished (`result`), batch_finished (data: ok, failed, total).
    `row` is the row's index in the batch (-1 for the batch itself).
    """

    kind: str
    row: int
    project: str
    message: str
    analysis: str = ""
    step: str = ""
    elapsed: float | None = None
    export: Event | None = None
    result: RowResult | None = None
    data: dict[str, Any] = field(default_factory=dict)


BatchSink = Callable[[BatchEvent], None]


def _log(event: BatchEvent) -> None:
    """The batch's own events go to `botify_graph.batch` (the exports' go to `botify_graph.export`)."""
    if event.kind == "export":
        return
    failed = (event.result is not None and not event.result.ok) or event.data.get("state") == "failed"
    level = logging.WARNING if failed else logging.INFO
    if event.kind == "step" and event.data.get("state") == "started":
        level = logging.DEBUG
    if log.isEnabledFor(level):
        where = f"[{event.project}] " if event.project else ""
        log.log(level, "%s%s: %s", where, event.kind, event.message, extra={"botify_project": event.project})


def _relative(path: Path, out: Path) -> str:
    try:
        return path.resolve().relative_to(out.resolve()).as_posix()
    except ValueError:
        return str(path)


def result_lines(rows: Sequence[RowResult], out: Path) -> list[ResultLine]:
    """The rows as the results file shows them (files relative to the output folder)."""
    return [
        ResultLine(r.project, r.analysis, r.status, tuple(_relative(f, out) for f in r.files), r.rows, r.error, r.notes)
        for r in rows
    ]


def _up_to_date(outputs: Sequence[Path], inputs: Sequence[Path | None]) -> bool:
    """True when every output exists and is newer than every input."""
    try:
        oldest = min(p.stat().st_mtime for p in outputs)
        return all(p is None or p.stat().st_mtime <= oldest for p in inputs)
    except (OSError, ValueError):
        return False


class _Batch:
    """One `run_batch`: the rows, the shared client, slots and locks, and a result per row."""

    def __init__(
        self,
        rows: Sequence[ProjectRow],
        params: Sequence[ExportParams],
        *,
        out: Path,
        client: httpx.AsyncClient,
        slots: asyncio.Semaphore,
        username: str,
        new_only: bool,
        compare: bool,
        reports: bool,
        emit: Callable[[BatchEvent], None],
        sleep: Callable[[float], Awaitable[Any]],
        clock: Callable[[], float],
        trace: Trace | None = None,
    ) -> None:
        self.trace = trace
        self.rows, self.params, self.out, self.client, self.slots = rows, params, out, client, slots
        self.username = username
        self.new_only, self.compare, self.reports = new_only, compare, reports
        self.emit, self.sleep, self.clock = emit, sleep, clock
        self.cpu = asyncio.Semaphore(1)  # reports and comparisons: one at a time (big graphs, 2 cores)
        self.results: list[RowResult | None] = [None] * len(rows)

    @property
    def registry(self) -> ExportRegistry:
        return ExportRegistry(layout.registry_path(self.out))

    async def run(self) -> list[RowResult]:
        by_project: dict[str, list[int]] = {}
        for i, row in enumerate(self.rows):
            by_project.setdefault(row.project, []).append(i)  # one project's rows share its registry records
        await asyncio.gather(*(self._project(indices) for indices in by_project.values()))
        return [r for r in self.results if r is not None]

    async def _project(self, indices: list[int]) -> None:
        for i in indices:
            self.results[i] = await self._row(i)

    def _step(self, i: int, step: str, state: str, message: str, analysis: str = "", **data: Any) -> None:
        row = self.rows[i]
        self.emit(BatchEvent("step", i, row.project, message, analysis, step, data={"state": state, **data}))

    async def _row(self, i: int) -> RowResult:
        row, params = self.rows[i], self.params[i]
        t0 = self.clock()
        self.emit(BatchEvent("row_started", i, row.project, f"{row.project}: started (line {row.line})"))
        analysis, notes = "", list[str]()
        try:
            if self.new_only:
                self._step(i, "new", "started", f"{row.project}: is its newest crawl exported yet?")
                found = await api.resolve_analysis(self.client, row.ref, wanted_analysis(row.ref, params.analysis))
                analysis = found.slug
                existing = self._exported(row.ref, analysis)
                if existing is not None:
                    links, meta, rows = existing
                    self._step(i, "new", "succeeded", f"{row.project}: {analysis} is already exported", analysis)
                    files, compared = await self._compare(i, analysis, notes)
                    return self._finish(i, t0, "skipped", analysis, (links, meta, *files), rows, compared, notes)
                self._step(i, "new", "succeeded", f"{row.project}: {analysis} is new", analysis)
                params = replace(params, analysis=analysis)

            def forward(event: Event, i: int = i) -> None:
                nonlocal analysis
                analysis = str(event.data.get("analysis", analysis))  # known before the export can fail
                self.emit(BatchEvent("export", i, row.project, event.message, analysis, export=event))

            result = await run_export(
                params,
                client=self.client,
                on_event=forward,
                sleep=self.sleep,
                clock=self.clock,
                job_slots=self.slots,
                username=self.username,
                trace=self.trace,
            )
            analysis = result.analysis.slug
            await self._reports(i, result, notes)
            files, compared = await self._compare(i, analysis, notes)
            status = "reused" if result.reused else "exported"
            paths = (result.links.path, result.meta.path, *files)
            return self._finish(i, t0, status, analysis, paths, result.links.rows, compared, notes)
        except (BotifyError, OSError) as exc:
            return self._finish(i, t0, "failed", analysis, (), None, None, notes, _message(exc))
        except Exception as exc:  # a bug must not stop the other projects; its row says what it was
            log.exception("[%s] unexpected error", row.project)
            return self._finish(i, t0, "failed", analysis, (), None, None, notes, f"{type(exc).__name__}: {exc}")

    def _finish(
        self,
        i: int,
        t0: float,
        status: str,
        analysis: str,
        files: Sequence[Path],
        rows: int | None,
        compared: str | None,
        notes: list[str],
        error: str = "",
    ) -> RowResult:
        row = self.rows[i]
        result = RowResult(
            line=row.line,
            project=row.project,
            project_url=row.project_url,
            analysis=analysis,
            status=status,
            files=tuple(files),
            rows=rows,
            error=error,
            compared_with=compared,
            notes=tuple(notes),
            elapsed=self.clock() - t0,
        )
        what = f"{row.project}" + (f" {analysis}" if analysis else "") + f": {status}"
        if rows is not None:
            what += f", {rows:,} links"
        if error:
            what += f": {error}"
        self.emit(BatchEvent("row_finished", i, row.project, what, analysis, elapsed=result.elapsed, result=result))
        return result

    def _exported(self, ref: ProjectRef, analysis: str) -> tuple[Path, Path, int | None] | None:
        """(links, meta, links rows) of the latest export of an analysis whose two files are on disk, else None."""
        registry = self.registry
        links = registry.downloads(ref.org, ref.project, analysis, "links")
        meta = registry.downloads(ref.org, ref.project, analysis, "meta")
        if not links or not meta:
            return None
        links_path, meta_path = registry.file_path(links[0]), registry.file_path(meta[0])
        if links_path is None or meta_path is None:
            return None
        return links_path, meta_path, links[0].rows

    async def _reports(self, i: int, result: ExportResult, notes: list[str]) -> None:
        """The export's reports, as `botify-graph run` writes them, when its files are new (or they are missing)."""
        if not self.reports:
            return
        ref, slug = result.project, result.analysis.slug
        summary = layout.report_path(self.out, ref, slug, "summary_md")
        if result.reused and _up_to_date([summary], [result.links.path, result.meta.path]):
            return
        from .reports import export_reports

        self._step(i, "reports", "started", f"{ref}: writing the reports of {slug}", slug)
        try:
            async with self.cpu:
                _, written = await asyncio.to_thread(export_reports, result)
        except Exception as exc:  # the CSVs are complete: a report that fails is a note, not a failed row
            notes.append(f"the reports could not be written ({_message(exc)})")
            self._step(i, "reports", "failed", f"{ref}: {notes[-1]}", slug)
            return
        self._step(i, "reports", "succeeded", f"{ref}: {len(written)} report files beside the CSVs", slug)

    async def _compare(self, i: int, analysis: str, notes: list[str]) -> tuple[tuple[Path, ...], str | None]:
        """With `compare`: the comparison with the previous analysis exported here ((its Markdown,), old slug)."""
        if not self.compare:
            return (), None
        row = self.rows[i]
        known = layout.local_analyses(self.out, row.ref)
        if analysis not in known or known.index(analysis) == 0:
            notes.append(f"no earlier analysis than {analysis} is exported in this folder: nothing to compare")
            self._step(i, "compare", "succeeded", f"{row.project}: {notes[-1]}", analysis)
            return (), None
        old = known[known.index(analysis) - 1]
        json_path, md_path = layout.compare_paths(self.out, row.ref, old, analysis)
        inputs = [layout.export_path(self.out, row.ref, a, k) for a in (old, analysis) for k in layout.KINDS]
        if _up_to_date([json_path, md_path], [p if p.is_file() else None for p in inputs]):
            self._step(i, "compare", "succeeded", f"{row.project}: {old} → {analysis} already compared", analysis)
            return (md_path,), old
        from .reports import compare_exports

        self._step(i, "compare", "started", f"{row.project}: comparing {old} → {analysis}", analysis)
        async with self.cpu:
            diff, written = await asyncio.to_thread(compare_exports, self.out, row.ref.url, old, analysis)
        self._step(
            i,
            "compare",
            "succeeded",
            f"{row.project}: {old} → {analysis}: {diff.links_added:,} links added, {diff.links_removed:,} removed, "
            f"{diff.pages_appeared:,} pages appeared, {diff.pages_disappeared:,} disappeared",
            analysis,
        )
        return (written[1],), old


def _message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.strerror} ({exc.filename})" if exc.filename else exc.strerror
    return " ".join(text.split())


def _rows_of(projects: str | os.PathLike[str] | Sequence[ProjectRow]) -> tuple[list[ProjectRow], str]:
    if isinstance(projects, (str, os.PathLike)):
        path = Path(projects)
        try:
            listed = read_projects(path)
        except OSError as exc:
            raise ProjectsFileError(f"The projects file {path} cannot be read ({exc.strerror or exc}).") from None
        return listed.check(), str(path)
    rows = list(projects)
    if not rows:
        raise ConfigError("The batch has no project: give a projects file or at least one ProjectRow.")
    return rows, "rows"


async def run_batch(
    projects: str | os.PathLike[str] | Sequence[ProjectRow],
    *,
    out_dir: str | Path | None = None,
    api_base: str | None = None,
    rate: float | None = None,
    max_jobs: int = layout.BATCH_MAX_JOBS,
    new_only: bool = False,
    compare: bool = False,
    defaults: Mapping[str, Any] | None = None,
    name: str | None = None,
    reports: bool = True,
    token: str | None = None,
    client: httpx.AsyncClient | None = None,
    on_event: BatchSink | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    trace: Trace | None = None,
) -> BatchResult:
    """Export every project of a projects file (or of `ProjectRow`s) under one rate limit; see the module doc.

    `defaults`: export settings for rows that give none (max_edges, fields, poll_timeout_s, retry_failed).
    `name`: what the results files are called (default: the projects file's stem, else "batch"). `client`:
    one of your own (its rate limit then applies, not `rate`). `trace` (`trace.open_trace`) records every
    request of the client this function builds and every export's steps. Returns a BatchResult; a bad projects file,
    a bad setting or a refused token raise before any export starts. Rows that fail do not raise:
    `BatchResult.ok` is False and each failed row says why.
    """
    started_at = datetime.now(timezone.utc).astimezone()
    t0 = clock()
    rows, source = _rows_of(projects)
    if isinstance(max_jobs, bool) or not isinstance(max_jobs, int) or max_jobs < 1:
        raise ConfigError(f"max_jobs must be a whole number of at least 1, got {max_jobs!r}.")
    out = layout.out_dir(out_dir)
    base = layout.api_base(api_base)
    per_second = layout.api_rate(rate)
    batch = layout.batch_name(projects if isinstance(projects, (str, os.PathLike)) else None) if name is None else name
    layout.batch_results_paths(out, batch)  # a bad name fails now, not after the exports
    common = {**dict(defaults or {}), "out_dir": out, "api_base": base, "rate": per_second}
    params = []
    for row in rows:  # every row checked before anything is sent
        try:
            params.append(row.params(**common).validated())
        except ConfigError as exc:
            raise ProjectsFileError(f"{source}, line {row.line}: {str(exc).rstrip('.')}.") from None
        except TypeError as exc:
            raise ConfigError(f"Unknown export setting in defaults: {exc}") from None

    def emit(event: BatchEvent) -> None:
        _log(event)
        if on_event is not None:
            on_event(event)

    emit(
        BatchEvent(
            "batch_started",
            -1,
            "",
            L.BATCH_STARTED.format(
                total=len(rows),
                s="" if len(rows) == 1 else "s",
                source=source,
                out=out,
                max_jobs=max_jobs,
                rate=per_second,
            ),
            data={
                "total": len(rows),
                "source": source,
                "out": str(out),
                "max_jobs": max_jobs,
                "rate": per_second,
                "projects": [r.project for r in rows],
            },
        )
    )

    async def go(shared: httpx.AsyncClient) -> list[RowResult]:
        # once: a refused token stops the batch here, with one message (the undocumented profile endpoint
        # is not needed: without it the first project's analyses list checks the token)
        check = await api.check_token(shared, rows[0].ref)
        username = check.username or ""  # "": checked, the user's name unknown
        emit(BatchEvent("connected", -1, "", check.describe(), data={"username": check.username}))
        return await _Batch(
            rows,
            params,
            out=out,
            client=shared,
            slots=asyncio.Semaphore(max_jobs),
            username=username,
            new_only=new_only,
            compare=compare,
            reports=reports,
            emit=emit,
            sleep=sleep,
            clock=clock,
            trace=trace,
        ).run()

    if client is not None:
        results = await go(client)
    else:
        if token is None:
            from .token import load_token

            token = load_token()
        async with make_client(token, base_url=base, rate=per_second, trace=trace) as own:
            results = await go(own)
    elapsed = clock() - t0
    from .reports import write_batch_results

    csv_path, md_path = write_batch_results(
        out, batch, result_lines(results, out), started=started_at.strftime("%Y-%m-%d %H:%M %Z"), elapsed=elapsed
    )
    outcome = BatchResult(batch, out, tuple(results), csv_path, md_path, elapsed)
    failed = len(outcome.failed)
    emit(
        BatchEvent(
            "batch_finished",
            -1,
            "",
            f"{len(results) - failed} of {len(results)} projects succeeded in {elapsed_text(elapsed)}; "
            f"results in {csv_path} and {md_path}",
            elapsed=elapsed,
            data={"ok": outcome.ok, "failed": failed, "total": len(results)},
        )
    )
    return outcome


# -- the live table and the plain lines ------------------------------------------------------------------


@dataclass
class _RowState:
    project: str
    analysis: str = ""
    step: str = L.BATCH_STEPS["waiting"]
    phases: dict[str, str] = field(default_factory=dict)  # kind → what its job is doing
    jobs: set[str] = field(default_factory=set)  # kinds whose export job runs on Botify
    rows: int | None = None
    started: float | None = None
    finished: float | None = None
    status: str = ""
    last_plain: float = -1e9


class BatchBoard:
    """The state of every row, from BatchEvents: what the live table shows."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.rows: dict[int, _RowState] = {}
        self.max_jobs = 0
        self.started: float | None = None

    def apply(self, event: BatchEvent) -> None:
        now = self.clock()
        if event.kind == "batch_started":
            self.started, self.max_jobs = now, int(event.data.get("max_jobs", 0))
            for i, project in enumerate(event.data.get("projects", ())):
                self.rows.setdefault(i, _RowState(str(project)))
            return
        if event.row < 0:
            return
        state = self.rows.setdefault(event.row, _RowState(event.project))
        if event.analysis:
            state.analysis = event.analysis
        if event.kind == "row_started":
            state.started = now
        elif event.kind == "step":
            state.phases.clear()
            state.step = L.BATCH_STEPS.get(event.step, event.step)
        elif event.kind == "export" and event.export is not None:
            self._export(state, event.export)
        elif event.kind == "row_finished" and event.result is not None:
            r = event.result
            state.finished, state.status, state.rows, state.analysis = now, r.status, r.rows, r.analysis
            state.step, state.phases, state.jobs = r.status, {}, set()

    @staticmethod
    def _export(state: _RowState, e: Event) -> None:
        base, _, kind = e.step.partition(":")
        if e.kind == "step_started" and base == "analysis":
            state.step = L.BATCH_STEPS["analysis"]
        if e.data.get("analysis"):
            state.analysis = str(e.data["analysis"])
        if kind == "links" and e.data.get("rows") is not None:
            state.rows = int(e.data["rows"])
        if not kind:
            if e.kind == "step_started" or (e.kind == "info" and base == "reuse"):
                state.phases.clear()
                state.step = L.BATCH_STEPS.get(base, base)
            return
        if e.kind == "step_started" and base == "export":
            state.jobs.add(kind)
        if (e.kind == "step_started" and base == "download") or e.kind == "step_failed":
            state.jobs.discard(kind)
        if e.kind == "step_succeeded" and base == "download":
            state.phases.pop(kind, None)
        elif e.kind == "step_started":
            state.phases[kind] = L.BATCH_STEPS.get(base, base)
        elif e.kind == "job_status":
            state.phases[kind] = f"{L.BATCH_STEPS['poll']} {e.elapsed or 0:.0f} s"
        if state.phases:
            state.step = ", ".join(f"{k} {v}" for k, v in sorted(state.phases.items()))

    def table(self) -> list[StatusRow]:
        now = self.clock()
        return [
            StatusRow(
                s.project,
                s.analysis,
                s.step,
                len(s.jobs),
                s.rows,
                None if s.started is None else (s.finished or now) - s.started,
            )
            for _, s in sorted(self.rows.items())
        ]

    def title(self) -> str:
        done = sum(1 for s in self.rows.values() if s.status)
        failed = sum(1 for s in self.rows.values() if s.status == "failed")
        return L.BATCH_PROGRESS.format(
            done=done,
            total=len(self.rows),
            failed=L.BATCH_PROGRESS_FAILED.format(failed=failed) if failed else "",
            jobs=sum(len(s.jobs) for s in self.rows.values()),
            max_jobs=self.max_jobs,
            elapsed=elapsed_text(None if self.started is None else self.clock() - self.started),
        )


class BatchConsole:
    """A BatchEvent sink for people: the live table on a terminal, plain lines in a log or a notebook.

    Plain lines: each row's start and end, each export step that finished or failed and each note, and a
    job's status at most every `heartbeat` seconds per row. On a terminal, only row ends and failures
    stay on screen, above the table.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        heartbeat: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table = LiveTable(stream, tty=tty, clock=clock)
        self.board = BatchBoard(clock)
        self.heartbeat = heartbeat
        self.clock = clock

    @property
    def tty(self) -> bool:
        return self.table.tty

    def __call__(self, event: BatchEvent) -> None:
        self.board.apply(event)
        line = self._plain(event)
        if line is not None and (not self.tty or event.kind in ("row_finished", "batch_started", "connected")):
            self.table.line(line)
        if self.tty:
            text = status_table(self.board.table(), title=self.board.title(), width=self.table.width)
            self.table.show(text, force=event.kind in ("row_finished", "batch_started"))

    def _plain(self, event: BatchEvent) -> str | None:
        where = f"[{event.project}] " if event.project else ""
        if event.kind == "batch_started":
            return f"botify-graph batch: {event.message}"
        if event.kind == "connected":
            return f"✓ {event.message}"
        if event.kind == "row_started":
            return f"→ {where}started"
        if event.kind == "row_finished" and event.result is not None:
            mark = "✓" if event.result.ok else "✗"
            return f"{mark} {event.message} ({elapsed_text(event.elapsed)})"
        if event.kind == "step":
            state = event.data.get("state")
            if state == "started":
                return None
            return f"  {where}{'✗' if state == 'failed' else '✓'} {event.message}"
        if event.kind == "export" and event.export is not None:
            e = event.export
            if e.kind == "job_status":
                row = self.board.rows.get(event.row)
                now = self.clock()
                if row is None or now - row.last_plain < self.heartbeat:
                    return None
                row.last_plain = now
                return f"  {where}· {e.message}"
            sign = {"step_succeeded": "✓", "step_failed": "✗", "info": "·"}.get(e.kind)
            if sign is None:
                return None
            took = f" ({e.elapsed:.1f} s)" if e.elapsed is not None else ""
            return f"  {where}{sign} {e.message}{took}"
        return None

    def close(self) -> None:
        self.table.close()

    def results(self, result: BatchResult) -> str:
        """The results as text, for the end of a run."""
        lines = result_lines(result.rows, result.out_dir)
        head = L.BATCH_TITLE.format(name=result.name, ok=len(result.rows) - len(result.failed), total=len(result.rows))
        return "\n".join(
            [
                f"{head} ({elapsed_text(result.elapsed)})",
                results_text(lines, width=self.table.width),
                f"  results: {result.results_csv}",
                f"           {result.results_md}",
            ]
        )
