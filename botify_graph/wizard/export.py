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
from ..pipeline import Event, ExportParams, export_variant, run_export
from ..registry import registry_key
from ..reproduce import notebook_parameters, papermill_command
from ..state import ParamLog, export_settings
from ..urls import ProjectRef
from .base import KIND_NAMES, Step
from .model import (
    DepthAnswer,
    ExportAnswer,
    FileAnswer,
    ResultAnswer,
    StepState,
    shown_path,
)
from .view import ProgressRow, button, esc, link, note, ok_html, show, table
from .viewchoice import ViewChoice

# -- 6 Export --------------------------------------------------------------------------------------------


#: The export step following each (out_dir, project, analysis) in this process: a second wizard built in the
#: same kernel (a cell run again) takes the export over instead of downloading the same files twice.
RUNNING_EXPORTS: dict[tuple[str, str, str], ExportStep] = {}


class ExportStep(Step):
    name = "export"
    title = "Export"
    has_next = False  # a finished export opens the result by itself

    def build(self) -> None:
        self.plan = w.HTML()
        self.go = button("▶ Start export", primary=True)
        self.go.on_click(self.wiz.handler(self, self.on_start))
        self.rows = {kind: ProgressRow(kind) for kind in KIND_NAMES}
        self.generation = 0  # events of a cancelled run must not draw over a newer one
        self.progress = w.VBox([r.box for r in self.rows.values()], layout=w.Layout(display="none", width="100%"))
        self.card.set_content([self.plan, self.go, self.progress])

    def controls(self) -> list[w.DOMWidget]:
        return [self.go]

    def clear(self) -> None:
        super().clear()
        self.generation += 1
        for row in self.rows.values():
            row.reset()
        show(self.progress, False)
        self.card.retry.description = "↻ Retry"

    def enter(self, *, reverted: bool = False) -> None:
        answer: ExportAnswer | None = self.answer
        self.show_plan()
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
        self.plan.value = note(
            f"Two Botify export jobs start at once for analysis <b>{esc(params.get('analysis', '?'))}</b>: "
            f"the links {esc(depth_txt)} and one row per page with "
            f"<b>{esc(', '.join(fields) or 'the URL only')}</b>. They download by themselves when done, into "
            f"<code>{esc(where)}</code>. You can close the page: the export resumes when the wizard is opened again."
        )

    def on_start(self) -> None:
        params = self.wiz.model.export_params()
        missing = [k for k in ("project_url", "analysis", "max_edges", "fields") if k not in params]
        if missing:
            raise ConfigError("Finish the earlier steps first (" + ", ".join(missing) + " missing).")
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
        )
        self.wiz.submit("export", answer)  # saved ACTIVE before the task runs: a new kernel resumes it
        self.launch(answer, resumed=False)

    def launch(self, answer: ExportAnswer, *, resumed: bool) -> None:
        self.retry_action = lambda: self.relaunch(answer)
        self.generation += 1
        for row in self.rows.values():
            row.reset()
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
        answer = dataclasses.replace(
            self.current_api(previous),
            state="ACTIVE",
            error=None,
            job_failed=False,
            retry_failed=previous.job_failed,
            started=utc_now(),
        )
        self.wiz.submit("export", answer)
        self.launch(answer, resumed=False)

    async def run(self, answer: ExportAnswer, *, resumed: bool) -> None:
        what = (
            "Resuming the export (the recorded jobs are followed, none is created again)…"
            if resumed
            else ("Starting the export…" if not answer.retry_failed else "Starting a new export job…")
        )
        self.set(StepState.ACTIVE, note(esc(what)))
        params = answer.to_params()
        generation = self.generation

        def on_event(event: Event) -> None:
            if generation == self.generation:
                self.on_event(event)

        try:
            result = await run_export(params, token=self.wiz.require_token(), on_event=on_event, sleep=self.wiz.sleep)
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
        done = dataclasses.replace(
            answer,
            state="SUCCESS",
            error=None,
            links=FileAnswer(str(result.links.path), result.links.rows, result.links.job_id, result.links.reused),
            meta=FileAnswer(str(result.meta.path), result.meta.rows, result.meta.job_id, result.meta.reused),
            depth=result.depth.depth if result.depth is not None else None,
            elapsed=round(result.elapsed, 1),
        )
        self.wiz.model.answers["export"] = done
        self.wiz.save_only("export", done)
        for row in self.rows.values():
            row.bar.value, row.bar.bar_style, row.status = 100, "success", "done"
            row.render()
        self.set(StepState.SUCCESS, ok_html(f"Export finished in {result.elapsed:.0f} s."))
        self.wiz.goto(self.wiz.landing())

    def set_retry_label(self, answer: ExportAnswer) -> None:
        self.card.retry.description = (
            "↻ Retry (starts a new Botify job)" if answer.job_failed else "↻ Retry (resumes the same jobs)"
        )

    def failed(self, answer: ExportAnswer) -> None:
        self.retry_action = lambda: self.relaunch(answer)
        self.set_retry_label(answer)
        self.card.set_error(answer.error or "The export failed.")
        self.set(StepState.FAIL)

    def on_event(self, event: Event) -> None:
        """Render one pipeline event: a status line for whole-run steps, a progress row per job."""
        if ":" not in event.step:
            mark = {"step_started": "→", "step_succeeded": "✓", "step_failed": "✗"}.get(event.kind, "·")
            self.card.set_status(note(f"{mark} {esc(event.message)}"))
            return
        phase, kind = event.step.split(":", 1)
        row = self.rows.get(kind)
        if row is None:
            return
        if event.kind == "step_failed":
            row.status, row.note, row.bar.bar_style = "failed", event.message, "danger"
        elif phase == "export":
            if event.kind == "step_started":
                row.status, row.bar.value = "creating job", 5
            elif event.kind == "step_succeeded":
                row.status, row.bar.value = "CREATED", 15
                row.job_id = self.job_id(kind)
            elif event.kind == "info":
                row.note = event.message.split(": ", 1)[-1]
                row.job_id = self.job_id(kind) or row.job_id
        elif phase == "poll":
            if event.kind == "job_status":
                status = str(event.data.get("status", "?"))
                row.status, row.job_id = status, event.data.get("job_id", row.job_id)
                row.polls = int(event.data.get("polls", row.polls) or 0)
                row.elapsed = event.elapsed
                row.bar.value = 70 if status == "DONE" else min(65, 15 + 5 * row.polls)
            elif event.kind == "step_started":
                row.status = row.status if row.status != "creating job" else "CREATED"
            elif event.kind == "step_succeeded":
                row.status, row.bar.value = "DONE", 70
        elif phase == "download":
            if event.kind == "download_progress":
                row.status = "downloading"
                row.bytes, row.total = int(event.data.get("bytes", 0)), event.data.get("total")
                if not row.due() and (row.total is None or row.bytes < row.total):
                    return  # at most a few redraws a second, whatever the chunk size
                row.bar.value = 70 + int(28 * row.bytes / row.total) if row.total else 85
            elif event.kind == "step_started":
                row.status, row.bar.value = "downloading", max(row.bar.value, 70)
            elif event.kind in ("step_succeeded", "info"):
                row.status, row.bar.value, row.bar.bar_style = "done", 100, "success"
                row.note = event.message.split(": ", 1)[-1]
        row.render()

    def job_id(self, kind: str) -> Any:
        project = self.wiz.model.answer("project")
        analysis = self.wiz.model.answer("analysis")
        if project is None or analysis is None:
            return None
        try:
            params = self.wiz.model.export_params()
            fields = tuple(params.get("fields", ()))
            variant = export_variant(kind, params.get("max_edges", 0), fields, params.get("gsc_period"))
            record = self.wiz.registry().get(registry_key(project.org, project.project, analysis.slug, kind, variant))
        except Exception:
            return None
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
        self.card.set_content(
            [
                self.files,
                self.summary_box,
                self.view_choice.box,
                self.view,
                self.graph_box,
                self.compare_row,
                self.compare_hint,
                self.compare_box,
                self.next_steps,
            ]
        )

    def controls(self) -> list[w.DOMWidget]:
        return [self.view, self.compare, self.compare_with, self.view_choice.color, self.view_choice.size]

    def clear(self) -> None:
        super().clear()
        self.files.value = self.next_steps.value = self.compare_hint.value = ""
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
        rows = []
        for kind, f in (("links", links), ("meta", meta)):
            text, href = shown_path(f.path, self.wiz.notebook_dir)
            exists = Path(f.path).is_file()
            rows.append([esc(kind), f"{f.rows:,}", link(text, href) + ("" if exists else " (missing!)")])
        reused = " These files were already there: nothing was exported again." if links.reused and meta.reused else ""
        self.files.value = ok_html("Your link graph is ready." + esc(reused)) + table(["file", "rows", "path"], rows)
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
        from ..urls import clean_url

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

    def basic_summary(self, export: ExportAnswer) -> w.Widget:
        assert export.links is not None and export.meta is not None
        depth: DepthAnswer | None = self.wiz.model.answer("depth")
        depth_value = export.depth if export.depth is not None else (depth.depth if depth is not None else None)
        items = [
            ("pages (meta rows)", f"{export.meta.rows:,}"),
            ("links (edges)", f"{export.links.rows:,}"),
            ("click depth", "—" if depth_value is None else str(depth_value)),
            ("meta fields", ", ".join(export.fields) or "URL only"),
        ]
        if export.elapsed is not None:
            items.append(("export time", f"{export.elapsed:.0f} s"))
        return w.HTML(table(["", ""], [[esc(k), esc(v)] for k, v in items]))

    def next_steps_html(self, export: ExportAnswer) -> str:
        assert export.links is not None and export.meta is not None
        links_path, _ = shown_path(export.links.path, self.wiz.notebook_dir)
        meta_path, _ = shown_path(export.meta.path, self.wiz.notebook_dir)
        code = (
            "import pandas as pd\n"
            f"links = pd.read_csv({links_path!r})  # columns: source, target\n"
            f"meta = pd.read_csv({meta_path!r})  # id (the URL) + page attributes"
        )
        parts = [
            "<b>What next</b>",
            f"Load the graph in Python:<pre style='margin:4px 0;padding:6px;background:#f5f5f5'>{esc(code)}</pre>",
        ]
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
            f"<code>{esc(cosmograph)}</code>"
        )
        command = self.papermill()
        if command:
            parts.append(
                "Reproduce this run headless (papermill, the token from BOTIFY_API_TOKEN):"
                f"<pre style='margin:4px 0;padding:6px;background:#f5f5f5;white-space:pre-wrap'>{esc(command)}</pre>"
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
