"""Steps 6 and 7: the export (one button, one progress row per job, resumable) and the result.

The export is saved as ACTIVE in the sidecar before its task starts, so a wizard built in a new kernel
restarts the same `run_export`, which the export registry makes resume the same Botify jobs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import shlex
from pathlib import Path
from typing import Any

import ipywidgets as w

from .. import layout
from ..depth import DepthChoice
from ..errors import ConfigError, ExportJobFailed
from ..fsutil import utc_now_iso as utc_now
from ..jobs import parse_timestamp
from ..pipeline import Event, ExportParams, export_variant, run_export
from ..registry import ExportRecord, registry_key
from ..render import labels as L
from ..reproduce import notebook_parameters, papermill_command
from ..state import ParamLog, export_settings
from ..urls import ProjectRef, clean_url
from .base import KIND_NAMES, Step
from .model import (
    DepthAnswer,
    ExportAnswer,
    FileAnswer,
    ResultAnswer,
    StepState,
    files_to_keep,
    kept_files,
    seconds_between,
    shown_path,
)
from .view import (
    ProgressRow,
    button,
    code,
    code_block,
    duration,
    esc,
    link,
    note,
    ok_html,
    settings_text,
    show,
    table,
)
from .viewchoice import ViewChoice

# -- 6 Export --------------------------------------------------------------------------------------------


#: The export step following each (out_dir, project, analysis) in this process: a second wizard built in the
#: same kernel (a cell run again) takes the export over instead of downloading the same files twice.
RUNNING_EXPORTS: dict[tuple[str, str, str], ExportStep] = {}

#: what the export checks before its jobs start (pipeline steps without a kind), as the card lists them
PREPARATION = {
    "connect": "token",
    "analysis": "analysis",
    "reuse": "existing files",
    "fields": "page attributes",
    "depth": "graph sized",
}


def epoch(iso: str | None) -> float | None:
    """Seconds since the epoch of an ISO-8601 time (None when missing or unreadable)."""
    moment = parse_timestamp(iso)
    return moment.timestamp() if moment is not None else None


class ExportStep(Step):
    name = "export"
    title = "Export"
    has_next = False  # a finished export opens the result by itself

    def build(self) -> None:
        self.plan = w.HTML()
        self.go = button("▶ Start export", primary=True)
        self.go.on_click(self.wiz.handler(self, self.on_start))
        self.prep = w.HTML()
        self.rows = {kind: ProgressRow(kind) for kind in KIND_NAMES}
        self.parts: dict[str, tuple[int, set[str]]] = {}  # complete export: kind -> (jobs, parts downloaded)
        self.generation = 0  # events of a cancelled run must not draw over a newer one
        self.progress = w.VBox(
            [self.prep, *(r.box for r in self.rows.values())],
            layout=w.Layout(display="none", width="auto", max_width="100%"),
        )
        self.checked: dict[str, str] = {}  # preparation step → what it found
        self.running_answer: ExportAnswer | None = None
        self.card.set_content([self.plan, self.go, self.progress])

    def controls(self) -> list[w.DOMWidget]:
        return [self.go]

    def use_buttons(self) -> list[w.Button]:
        return [self.go]

    def clear(self) -> None:
        super().clear()
        self.generation += 1
        for row in self.rows.values():
            row.reset()
        self.checked = {}
        self.prep.value = ""
        show(self.progress, False)
        self.card.retry.description = "↻ Retry"

    def forget_view(self) -> None:
        super().forget_view()
        self.plan.value = ""

    def enter(self, *, reverted: bool = False) -> None:
        answer: ExportAnswer | None = self.answer
        self.show_plan()
        self.view_made()
        if answer is None:
            self.set(StepState.READY, "")
        elif answer.state == "ACTIVE":
            self.launch(self.current_api(answer), resumed=True)
        elif answer.state == "FAIL":
            self.failed(answer)

    def show_plan(self) -> None:
        params = self.wiz.model.export_params()
        depth: DepthAnswer | None = self.wiz.model.answer("depth")
        fields = params.get("fields", ())
        where = Path(self.wiz.out_dir)
        project = self.wiz.model.answer("project")
        if project is not None:
            where = layout.project_dir(where, ProjectRef(project.org, project.project))
        depth_txt = f"up to depth {depth.depth} (~{depth.edges:,} rows)" if depth is not None else ""
        if depth is not None and depth.complete:
            self.plan.value = note(
                f"The complete graph of analysis <b>{esc(params.get('analysis', '?'))}</b>: {depth.jobs:,} Botify "
                f"export jobs (at most {layout.MAX_JOBS} at once), one per part of the crawl, merged into the usual "
                f"two files in <code>{esc(where)}</code>. You can close the page: the parts already downloaded are "
                "kept and the export resumes with the others when the wizard is opened again."
            )
            return
        if depth is not None and depth.allow_cut:
            depth_txt = f"of depth {depth.depth}, cut at {depth.max_edges:,} rows (the graph lacks links)"
        self.plan.value = note(
            f"Two Botify export jobs start at once for analysis <b>{esc(params.get('analysis', '?'))}</b>: "
            f"the links {esc(depth_txt)} and one row per page with "
            f"<b>{esc(', '.join(fields) or 'the URL only')}</b>. They download by themselves when done, into "
            f"{code(where)}. You can close the page: the export resumes when the wizard is opened again."
        )

    def on_start(self, *, confirmed: bool = False) -> None:
        self.require_current_view()
        params = self.wiz.model.export_params()
        missing = [k for k in ("project_url", "analysis", "max_edges", "fields") if k not in params]
        if missing:
            raise ConfigError("Finish the earlier steps first (" + ", ".join(missing) + " missing).")
        if not confirmed:
            question = self.keep_question(params)
            if question:
                self.card.confirm.ask(
                    question,
                    self.wiz.handler(self, lambda: self.on_start(confirmed=True)),
                    yes="Export, keep the earlier files",
                )
                return
        answer = ExportAnswer(
            state="ACTIVE",
            project_url=params["project_url"],
            analysis=params["analysis"],
            max_edges=params["max_edges"],
            fields=tuple(params["fields"]),
            gsc_period=params.get("gsc_period"),
            out_dir=str(self.wiz.out_dir),
            api_base=self.wiz.api_base,
            poll_timeout_s=float(self.wiz.poll_timeout_s),
            started=utc_now(),
            complete=bool(params.get("complete", False)),
            allow_cut=bool(params.get("allow_cut", False)),
        )
        self.wiz.submit("export", answer)  # saved ACTIVE before the task runs: a new kernel resumes it
        self.launch(answer, resumed=False)

    def keep_question(self, params: dict[str, Any]) -> str | None:
        """The question to ask when this export would move an earlier export of the analysis aside, else None."""
        ref = self.ref()
        kept = files_to_keep(self.wiz.registry(), ref, params["analysis"], params["max_edges"], tuple(params["fields"]))
        if not kept:
            return None
        before = next((k.record for k in kept if k.kind == "meta"), kept[0].record)
        earlier = settings_text(before.max_edges, before.fields if before.kind == "meta" else None)
        now = settings_text(params["max_edges"], tuple(params["fields"]))
        names = " and ".join(k.path.name for k in kept)
        return (
            f"Analysis {params['analysis']} was already exported with {earlier}. Exporting it with these settings "
            f"({now}) starts new Botify jobs and keeps the earlier files as {names}. Continue?"
        )

    def launch(self, answer: ExportAnswer, *, resumed: bool) -> None:
        self.retry_action = lambda: self.relaunch(answer)
        self.generation += 1
        for row in self.rows.values():
            row.reset()
        self.parts = {}
        self.checked = {}
        self.prep.value = ""
        show(self.progress, True)
        key = (str(Path(answer.out_dir).absolute()), answer.project_url, answer.analysis)
        previous = RUNNING_EXPORTS.get(key)
        if previous is not None and previous is not self and previous.running:
            # The cell was run again in this kernel: one export per files, followed by the newest wizard.
            previous.cancel()
            previous.card.set_status(note("This export is now followed by the wizard displayed after this one."))
        task = self.wiz.start(self, self.run(answer, resumed=resumed))
        if task is not None:
            RUNNING_EXPORTS[key] = self
            task.add_done_callback(
                lambda _: RUNNING_EXPORTS.pop(key, None) if RUNNING_EXPORTS.get(key) is self else None
            )

    def current_api(self, answer: ExportAnswer) -> ExportAnswer:
        """The export as saved, on the API this session is connected to (a fake API may have a new port)."""
        if answer.api_base == self.wiz.api_base:
            return answer
        moved = dataclasses.replace(answer, api_base=self.wiz.api_base)
        self.wiz.save_only("export", moved)
        return moved

    def relaunch(self, previous: ExportAnswer) -> None:
        """Retry: the same jobs are resumed (the export's time runs on), or a FAILED job starts a new export."""
        answer = dataclasses.replace(
            self.current_api(previous),
            state="ACTIVE",
            error=None,
            job_failed=False,
            retry_failed=previous.job_failed,
            started=utc_now() if previous.job_failed or not previous.started else previous.started,
        )
        self.wiz.submit("export", answer)
        self.launch(answer, resumed=False)

    async def run(self, answer: ExportAnswer, *, resumed: bool) -> None:
        what = (
            "Resuming the export (the recorded jobs are followed, none is created again)…"
            if resumed
            else ("Starting the export…" if not answer.retry_failed else "Starting a new export job…")
        )
        self.running_answer = answer
        self.set(StepState.ACTIVE, note(esc(what)))
        params = answer.to_params()
        generation = self.generation

        def on_event(event: Event) -> None:
            if generation == self.generation:
                self.on_event(event)

        ticker = asyncio.ensure_future(self.tick(generation))
        try:
            result = await run_export(
                params, token=self.wiz.require_token(), on_event=on_event, sleep=self.wiz.sleep, trace=self.wiz.trace
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failed = dataclasses.replace(
                answer, state="FAIL", error=self.wiz.readable(exc), job_failed=isinstance(exc, ExportJobFailed)
            )
            self.wiz.model.answers["export"] = failed
            try:
                self.wiz.save_only("export", failed)
            except Exception:
                pass  # the message below matters more than the saved FAIL
            self.retry_action = lambda: self.relaunch(failed)
            self.set_retry_label(failed)
            raise
        finally:
            ticker.cancel()
            self.running_answer = None
        finished = utc_now()
        whole = seconds_between(answer.started, finished)  # from the first start, across reloads
        done = dataclasses.replace(
            answer,
            state="SUCCESS",
            error=None,
            links=FileAnswer(str(result.links.path), result.links.rows, result.links.job_id, result.links.reused),
            meta=FileAnswer(str(result.meta.path), result.meta.rows, result.meta.job_id, result.meta.reused),
            depth=result.depth.depth if result.depth is not None else None,
            elapsed=round(whole if whole is not None else result.elapsed, 1),
            finished=finished,
        )
        self.wiz.model.answers["export"] = done
        self.wiz.save_only("export", done)
        for row in self.rows.values():
            if row.phase != "done":
                row.phase, row.status = "done", "done"
            row.render()
        self.set(StepState.SUCCESS, ok_html(f"Export finished in {duration(done.elapsed or 0)}."))
        self.wiz.goto(self.wiz.landing())

    async def tick(self, generation: int, every: float = 1.0) -> None:
        """Once a second while the export runs: the running times in the rows and the status line."""
        while generation == self.generation:
            await asyncio.sleep(every)
            if generation != self.generation or not self.running:
                return
            for row in self.rows.values():
                if row.phase == "pending":
                    row.render()
            self.show_running()

    def show_running(self) -> None:
        answer = self.running_answer
        took = seconds_between(answer.started, utc_now()) if answer is not None else None
        if took is None:
            return
        started = (answer.started if answer is not None else "")[11:19]
        self.card.set_status(
            note(
                f"→ The export has been running for {duration(took)} (started at {esc(started)} UTC). You can close "
                "the page: it resumes when the wizard is opened again."
            )
        )

    def set_retry_label(self, answer: ExportAnswer) -> None:
        self.card.retry.description = (
            "↻ Retry (starts a new Botify job)" if answer.job_failed else "↻ Retry (resumes the same jobs)"
        )

    def failed(self, answer: ExportAnswer) -> None:
        self.retry_action = lambda: self.relaunch(answer)
        self.set_retry_label(answer)
        self.card.set_error(answer.error or "The export failed.")
        self.set(StepState.FAIL)

    def show_checked(self, current: str | None = None) -> None:
        """What the export checked before its jobs, as one line above them (never read as the current step)."""
        done = [f"{esc(PREPARATION.get(step, step))} ✓{esc(found)}" for step, found in self.checked.items()]
        line = "Checked before the jobs: " + " · ".join(done) if done else ""
        if current:
            line += (" · " if line else "") + f"→ {esc(current)}…"
        self.prep.value = note(line, color="#616161") if line else ""

    def on_event(self, event: Event) -> None:
        """Render one pipeline event: the preparation line for whole-run steps, a progress row per job."""
        if event.step == "plan" and event.kind == "info":  # a complete export: its jobs, before any starts
            self.parts = {kind: (int(n), set()) for kind, n in dict(event.data.get("parts", {})).items()}
            self.prep.value = note("→ " + esc(str(event.data.get("summary", ""))), color="#616161")
            return
        if "#" in event.step:
            self.on_part_event(event)
            return
        if event.step.startswith("merge:") and event.step[len("merge:") :] in self.rows:
            merged = self.rows[event.step[len("merge:") :]]
            if event.kind == "step_started":
                merged.phase, merged.status = "pending", "merging the parts"
            elif event.kind == "step_succeeded":
                merged.phase, merged.status = "done", "done"
                merged.note = event.message.split(": ", 1)[-1]
            merged.render()
            return
        if ":" not in event.step:
            if event.kind == "step_started":
                self.show_checked(event.message)
            elif event.kind in ("step_succeeded", "info"):
                found = f" — {event.message[:1].lower()}{event.message[1:]}" if event.step == "depth" else ""
                self.checked[event.step] = found
                self.show_checked()
            elif event.kind == "step_failed":
                self.show_checked()
            self.show_running()
            return
        phase, kind = event.step.split(":", 1)
        row = self.rows.get(kind)
        if row is None:
            return
        if event.kind == "step_failed":
            row.phase, row.status, row.note = "failed", "failed", event.message
        elif phase == "export":
            if event.kind == "step_started":
                row.phase, row.status = "pending", "creating job"
            elif event.kind == "step_succeeded":
                row.phase, row.status = "pending", "CREATED" if "created" in event.message.lower() else "PROCESSING"
                self.follow_record(row)
            elif event.kind == "info":
                note_text = event.message.split(": ", 1)[-1]
                if note_text.startswith("resuming job"):
                    row.resumed = True
                else:
                    row.note = note_text
                self.follow_record(row)
        elif phase == "poll":
            if event.kind == "job_status":
                status = str(event.data.get("status", "?"))
                row.phase, row.status = "pending", status
                row.job_id = event.data.get("job_id", row.job_id)
                row.polls = int(event.data.get("polls", row.polls) or 0)
            elif event.kind == "step_succeeded":
                row.status = "DONE"
        elif phase == "download":
            if event.kind == "download_progress":
                row.phase, row.status = "download", "downloading"
                row.bytes, row.total = int(event.data.get("bytes", 0)), event.data.get("total")
                if not row.due() and (row.total is None or row.bytes < row.total):
                    return  # at most a few redraws a second, whatever the chunk size
            elif event.kind == "step_started":
                row.phase, row.status = "download", "downloading"
            elif event.kind == "step_succeeded":
                row.phase, row.status = "done", "done"
                row.note = event.message.split(": ", 1)[-1].split(" → ", 1)[0]
            elif event.kind == "info" and "kept" in event.data:
                row.note = f"the earlier file was kept as {Path(str(event.data['kept'])).name}"
            elif event.kind == "info":
                row.phase, row.status = "done", "already downloaded"
                row.note = ""
        row.render()

    def on_part_event(self, event: Event) -> None:
        """One partition of a complete export: its kind's row counts the parts downloaded."""
        phase, label = event.step.split(":", 1)
        kind, part = label.split("#", 1)
        row = self.rows.get(kind)
        if row is None:
            return
        jobs, done = self.parts.get(kind, (0, set()))
        if phase == "download" and event.kind in ("step_succeeded", "info") and "cut" not in event.message:
            done.add(part)
        self.parts[kind] = (jobs, done)
        if event.kind == "step_failed":
            row.phase, row.status, row.note = "failed", "failed", f"{part}: {event.message}"
        else:
            row.phase, row.parts = "parts", (len(done), max(jobs, len(done)))
            row.status = f"{len(done)}/{jobs or '?'} parts downloaded"
            if event.kind in ("job_status", "info"):
                row.note = f"{part}: {event.message.split(': ', 1)[-1]}"
        row.render()

    def follow_record(self, row: ProgressRow) -> None:
        """The job's id and creation time from the registry: its running time counts from its creation."""
        record = self.record(row.kind)
        if record is not None:
            row.job_id = record.job_id if record.job_id is not None else row.job_id
            row.since = epoch(record.created) or row.since

    def record(self, kind: str) -> ExportRecord | None:
        project = self.wiz.model.answer("project")
        analysis = self.wiz.model.answer("analysis")
        if project is None or analysis is None:
            return None
        try:
            params = self.wiz.model.export_params()
            fields = tuple(params.get("fields", ()))
            # the mode the pipeline records the export under: in the wizard, allow_cut is only ever the answer
            # to "depth 1 alone is over the limit", so the export is cut
            mode = "complete" if params.get("complete") else "cut" if params.get("allow_cut") else ""
            variant = export_variant(
                kind, params.get("max_edges", 0), fields, mode=mode, gsc_period=params.get("gsc_period")
            )
            return self.wiz.registry().get(registry_key(project.org, project.project, analysis.slug, kind, variant))
        except Exception:
            return None

    def job_id(self, kind: str) -> Any:
        record = self.record(kind)
        return record.job_id if record is not None else None


# -- 7 Result --------------------------------------------------------------------------------------------


class ResultStep(Step):
    name = "result"
    title = "Result"
    has_next = False

    def build(self) -> None:
        self.files = w.HTML()
        self.summary_box = w.VBox()
        self.view = button("Show the graph", tooltip="An interactive view of the most-linked pages (offline)")
        self.view.on_click(self.wiz.handler(self, self.on_view))
        self.view_choice = ViewChoice()  # what the view colours and sizes pages by
        self.graph_box = w.VBox(layout=w.Layout(width="100%"))
        self.compare_with = w.Dropdown(
            description="Compare with analysis", style={"description_width": "initial"}, layout=w.Layout(width="auto")
        )
        self.compare = button("What changed?", tooltip="Links and pages that appeared or disappeared between crawls")
        self.compare.on_click(self.wiz.handler(self, self.on_compare))
        self.compare_row = w.HBox([self.compare_with, self.compare])
        self.compare_hint = w.HTML()
        self.compare_box = w.VBox(layout=w.Layout(width="100%"))
        self.next_steps = w.HTML()
        self.kept = w.HTML()
        self.fork = button(
            "Start from these settings",
            tooltip="A new pipeline with this row limit and these fields: another project, or another analysis",
        )
        self.fork.on_click(self.wiz.handler(self, self.wiz.fork))
        self.card.set_content(
            [
                self.files,
                self.kept,
                self.summary_box,
                self.view_choice.box,
                self.view,
                self.graph_box,
                self.compare_row,
                self.compare_hint,
                self.compare_box,
                self.next_steps,
                self.fork,
            ]
        )

    def controls(self) -> list[w.DOMWidget]:
        return [self.view, self.compare, self.compare_with, self.fork, self.view_choice.color, self.view_choice.size]

    def clear(self) -> None:
        super().clear()
        self.files.value = self.next_steps.value = self.compare_hint.value = self.kept.value = ""
        from .files import cosmograph_links

        cosmograph_links("result", [])  # another export will be shown: stop serving this one's files
        self.summary_box.children = self.graph_box.children = self.compare_box.children = ()

    def export(self) -> ExportAnswer:
        export: ExportAnswer | None = self.wiz.model.answer("export")
        if export is None or not export.done or export.links is None or export.meta is None:
            raise ConfigError("The export has not finished yet: go back to step 6.")
        return export

    def enter(self, *, reverted: bool = False) -> None:
        self.retry_action = self.enter
        export = self.export()
        assert export.links is not None and export.meta is not None
        links, meta = export.links, export.meta
        reused = " These files were already there: nothing was exported again." if links.reused and meta.reused else ""
        self.files.value = ok_html("Your link graph is ready." + esc(reused)) + self.files_html(export)
        self.kept.value = self.kept_html(export)
        self.view_made()
        self.summary_box.children = (self.basic_summary(export),)
        self.graph_box.children = self.compare_box.children = ()
        self.view_choice.load(meta.path)
        self.offer_compare(export)
        self.next_steps.value = self.next_steps_html(export)
        if self.answer is None and not self.wiz.model.finalized and self.wiz.model.pid:
            answer = ResultAnswer(links=links.path, meta=meta.path, links_rows=links.rows, meta_rows=meta.rows)
            self.wiz.save_only("result", answer)
        if Path(links.path).is_file() and Path(meta.path).is_file():
            self.wiz.start(self, self.summarise(export))
        else:
            self.set(StepState.SUCCESS, "")

    def files_html(self, export: ExportAnswer) -> str:
        """The two CSVs with their download links, the report files, and "Open in Cosmograph" (served now)."""
        from .files import cosmograph_links, download_link, open_link, report_files

        assert export.links is not None and export.meta is not None
        links, meta = Path(export.links.path), Path(export.meta.path)
        rows = []
        for kind, f in (("links", export.links), ("meta", export.meta)):
            missing = "" if Path(f.path).is_file() else ' <span style="color:#c62828">(missing!)</span>'
            rows.append([esc(kind), f"{f.rows:,}", download_link(f.path) + missing])
        html = table(["file", "rows", "download"], rows)
        html += note(f'In <code style="word-break:break-all">{esc(links.parent)}</code>', color="#757575")
        try:
            reports = report_files(export.out_dir, clean_url(export.project_url), export.analysis)
        except Exception:
            reports = []
        if reports:
            html += note("Reports: " + " · ".join(download_link(p) for p in reports))
        (cosmograph,) = cosmograph_links("result", [(links, meta if meta.is_file() else None)])
        if cosmograph:
            html += (
                '<div style="margin:6px 0">'
                + open_link(cosmograph, button=True)
                + note(
                    "Cosmograph loads the two CSVs from this computer (127.0.0.1), served by this session for as "
                    "long as this page is open; nodes are coloured by page type.",
                    color="#757575",
                )
                + "</div>"
            )
        return html

    async def summarise(self, export: ExportAnswer) -> None:
        """The graph summary (graph.summarize streams the CSVs in a worker thread; the widget is built here)."""
        assert export.links is not None and export.meta is not None
        self.set(StepState.ACTIVE, note("Summarising the graph…"))
        from ..graph.summary import summarize
        from ..render.widgets import summary_widget

        depth = self.depth_choice()
        work = functools.partial(summarize, export.links.path, export.meta.path, depth=depth)
        try:
            summary = await asyncio.get_running_loop().run_in_executor(None, work)
            details = w.Accordion(
                children=[summary_widget(summary)],
                titles=("Graph summary: degrees, most-linked pages, page types, compliance",),
                selected_index=None,
                layout=w.Layout(width="100%"),
            )
            self.summary_box.children = (self.basic_summary(export), details)
            status = ""
        except Exception as exc:  # the files are there: a summary that fails is a note, not a failed step
            status = note(f"The summary could not be made ({esc(self.wiz.readable(exc))}).", color="#757575")
        self.set(StepState.SUCCESS, status)

    def depth_choice(self) -> DepthChoice | None:
        depth: DepthAnswer | None = self.wiz.model.answer("depth")
        return depth.choice() if depth is not None else None

    def on_view(self) -> None:
        self.wiz.start(self, self.show_graph(self.export()))

    async def show_graph(self, export: ExportAnswer) -> None:
        """The interactive view: its HTML is made in a worker thread, its widget here."""
        assert export.links is not None and export.meta is not None
        from ..render.graphview import graph_view_html as render
        from ..render.widgets import graph_view_frame

        self.set(StepState.ACTIVE, note("Laying out the graph…"))
        choice = self.view_choice
        doc = await asyncio.get_running_loop().run_in_executor(
            None,
            functools.partial(
                render,
                export.links.path,
                export.meta.path,
                title=self.wiz.model.pid or "",
                color_by=choice.color_by,
                size_by=choice.size_by,
            ),
        )
        self.graph_box.children = (graph_view_frame(doc),)
        self.set(StepState.SUCCESS, "")

    def offer_compare(self, export: ExportAnswer) -> None:
        """Offer the other analyses of this project already exported here for a crawl-to-crawl comparison."""
        from ..layout import local_analyses

        others = [a for a in local_analyses(export.out_dir, clean_url(export.project_url)) if a != export.analysis]
        self.compare_with.options = sorted(others, reverse=True)
        self.compare_with.value = self.compare_with.options[0] if others else None
        show(self.compare_row, bool(others))
        self.compare_hint.value = (
            ""
            if others
            else note(
                "To see what changed between two crawls, export another analysis of this project "
                "(✎ Change on step 3): it can then be compared here.",
                color="#757575",
            )
        )

    def on_compare(self) -> None:
        other = self.compare_with.value
        if not other:
            raise ConfigError("Choose the analysis to compare with.")
        self.wiz.start(self, self.run_compare(self.export(), str(other)))

    async def run_compare(self, export: ExportAnswer, other: str) -> None:
        """compare_exports (streaming, in a worker thread), older analysis first; the report is written too."""
        from ..render.widgets import diff_widget
        from ..reports import compare_exports

        old, new = sorted([other, export.analysis])
        self.set(StepState.ACTIVE, note(f"Comparing {old} with {new}…"))
        diff, written = await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(compare_exports, export.out_dir, export.project_url, old, new)
        )
        files = ", ".join(esc(shown_path(str(p), self.wiz.notebook_dir)[0]) for p in written)
        self.compare_box.children = (diff_widget(diff), w.HTML(note(f"Report: {files}", color="#757575")))
        self.set(StepState.SUCCESS, "")

    def kept_html(self, export: ExportAnswer) -> str:
        """The earlier exports of this analysis (other settings) kept beside its latest files."""
        try:
            kept = kept_files(self.wiz.registry(), clean_url(export.project_url), export.analysis)
        except Exception:
            return ""
        if not kept:
            return ""
        rows = []
        for k in kept:
            text, href = shown_path(k.path, self.wiz.notebook_dir)
            fields = k.record.fields if k.kind == "meta" else None
            rows.append([esc(k.kind), esc(settings_text(k.record.max_edges, fields)), f"{k.record.rows or 0:,}",
                         link(text, href)])  # fmt: skip
        return note(f"<b>{esc(L.KEPT_HEADING)}</b>:") + table(["file", "settings", "rows", "path"], rows)

    def basic_summary(self, export: ExportAnswer) -> w.Widget:
        assert export.links is not None and export.meta is not None
        depth: DepthAnswer | None = self.wiz.model.answer("depth")
        depth_value = export.depth if export.depth is not None else (depth.depth if depth is not None else None)
        values = {
            "pages": f"{export.meta.rows:,}",
            "links": f"{export.links.rows:,}",
            "depth": "—" if depth_value is None else str(depth_value),
            "fields": ", ".join(export.fields) or L.URL_ONLY,
        }
        if export.elapsed is not None:
            took = duration(export.elapsed)
            started, finished = export.started[:19].replace("T", " "), export.finished[:19].replace("T", " ")
            if finished[:10] == started[:10]:
                finished = finished[11:]  # the same day: the time is enough
            values["time"] = (
                L.EXPORT_TIME.format(took=took, started=started, finished=finished)
                if export.started and export.finished
                else took
            )
        rows = [[esc(L.EXPORT_ROWS[k]), esc(v)] for k, v in values.items()]
        return w.HTML(table(["", ""], rows))

    def next_steps_html(self, export: ExportAnswer) -> str:
        assert export.links is not None and export.meta is not None
        links_path, _ = shown_path(export.links.path, self.wiz.notebook_dir)
        meta_path, _ = shown_path(export.meta.path, self.wiz.notebook_dir)
        snippet = (
            "import pandas as pd\n"
            f"links = pd.read_csv({links_path!r})  # columns: source, target\n"
            f"meta = pd.read_csv({meta_path!r})  # id (the URL) + page attributes"
        )
        parts = ["<b>What next</b>", f"Load the graph in Python:{code_block(snippet)}"]
        cosmograph = shlex.join(
            [
                "botify-graph",
                "cosmograph",
                "--project-url",
                export.project_url,
                "--analysis",
                export.analysis,
                "--out",
                export.out_dir,
            ]
        )
        parts.append(
            f"Explore it in Cosmograph (serves the two CSVs on 127.0.0.1 and prints the link to open): "
            f"{code(cosmograph)}"
        )
        command = self.papermill()
        if command:
            parts.append(
                f"Reproduce this run headless (papermill, the token from BOTIFY_API_TOKEN):{code_block(command)}"
            )
        return note("<br>".join(parts), color="#212121")

    def papermill(self) -> str | None:
        pid = self.wiz.model.pid
        if not pid:
            return None
        try:
            values = ParamLog(self.wiz.log_path).latest_values(pid)
        except Exception:
            values = {}
        values.update({k: a.to_json() for k, a in self.wiz.model.answers.items()})  # the answers shown win
        settings = export_settings(values)
        settings.setdefault("project_url", pid)
        settings.update(out_dir=self.wiz.out_dir, api_base=self.wiz.api_base)
        return papermill_command(notebook_parameters(ExportParams(**settings)))
