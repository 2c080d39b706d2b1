"""Steps 1 to 5 of the wizard: connect, project, analysis, depth and fields, each a card with one action.

A step turns clicks into calls (`api.*`) and answers into its card; long work runs through
`Wizard.start`, which refuses a second task for a step that is already working.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

import ipywidgets as w

from .. import api, layout
from ..errors import AuthError, ConfigError, InvalidProjectURL, NotFound, PermissionDenied
from ..fields import (
    CatalogField,
    FieldCatalog,
    GscPeriod,
    default_entry,
    has_gsc,
    parse_gsc_period,
    resolve_gsc_period,
    sort_keys,
)
from ..models import Analysis
from ..partition import ExportPlan
from ..queries import MAX_EXPORT_ROWS, META_BY_NAME, META_FIELDS
from ..render import partition as partition_view
from ..render.tables import depth_table_html
from ..token import ENV_VAR, save_token, token_path
from ..urls import EXAMPLE, ProjectRef, clean_url
from .base import Step
from .model import (
    AnalysisAnswer,
    ConnectAnswer,
    DepthAnswer,
    FieldsAnswer,
    ProjectAnswer,
    StepState,
    clamp_max_edges,
    exported_analyses,
    parse_candidates,
    pipeline_status,
)
from .view import DESC, button, esc, note, ok_html, settings_text, show, table

# -- 1 Connect -------------------------------------------------------------------------------------------


#: where a token the wizard checks came from, as the messages name it
TOKEN_ORIGINS = {
    "environment": f"the token in {ENV_VAR}",
    "file": "the token saved in {path}",
    "argument": "the token given to the wizard (its token argument)",
    "pasted": "the token you pasted",
}


def rejected_token_message(origin: str, *, attempt: int, at: str) -> str:
    """What to say when Botify rejects a token (401): which token was checked, when, and what to do."""
    what = TOKEN_ORIGINS[origin].format(path=token_path())
    head = f"Botify rejected {what} (401, checked at {at}" + (f", attempt {attempt})." if attempt > 1 else ").")
    todo = {
        "pasted": "Copy the token again from Botify (your profile → API token) and paste it here; a token that was "
        "regenerated no longer works.",
        "environment": f"Set a fresh token in {ENV_VAR} and restart, or paste one here (it is used for this "
        f"session only while {ENV_VAR} is set).",
        "file": "Paste a fresh token here (Botify → your profile → API token): it replaces the saved one.",
        "argument": "Pass a fresh token (Botify → your profile → API token), or paste one here.",
    }[origin]
    return f"{head} {todo}"


class ConnectStep(Step):
    name = "connect"
    title = "Connect"
    uses_earlier_answers = False

    def build(self) -> None:
        self.intro = w.HTML(
            note(
                "Paste your Botify API token (Botify → your profile → <i>API token</i>). It is checked against "
                f"the API, kept for next time in a private token file (or taken from <code>{ENV_VAR}</code>), "
                "and never shown again or written to the wizard's state."
            )
        )
        self.password = w.Password(
            description="API token", placeholder="paste your token", style=DESC, layout=w.Layout(width="420px")
        )
        self.verify = button("Connect", primary=True)
        self.verify.on_click(self.wiz.handler(self, self.on_verify))
        self.doctor = button(
            "Check",
            tooltip="Check that an export would work (token, project, fields, sizing) without spending a credit",
        )
        self.doctor.on_click(self.wiz.handler(self, self.on_doctor))
        self.greeting = w.HTML()
        self.tracing = w.Checkbox(
            value=self.wiz.trace is not None,
            description="Record a trace of the API requests (no token) to attach to a bug report",
            indent=False,
            layout=w.Layout(width="auto"),
        )
        self.tracing.observe(self.wiz.observer(self, self.on_tracing), names="value")
        self.trace_where = w.HTML()
        self.findings = w.HTML()
        self.show_trace()
        self.attempts: dict[str, int] = {}  # rejected checks per token origin, so a repeated failure says so
        self.card.set_content(
            [
                self.intro,
                w.HBox([self.password, self.verify, self.doctor], layout=w.Layout(align_items="center")),
                self.greeting,
                w.HBox([self.tracing, self.trace_where], layout=w.Layout(align_items="center", flex_flow="row wrap")),
                self.findings,
            ]
        )

    def controls(self) -> list[w.DOMWidget]:
        return [self.password, self.verify, self.doctor]

    def clear(self) -> None:
        super().clear()
        self.greeting.value = ""
        self.findings.value = ""

    # -- the trace switch and the Check button --------------------------------------------------------------

    def show_trace(self) -> None:
        on = self.wiz.trace is not None
        self.trace_where.value = note(f"→ <code>{esc(self.wiz.trace_path)}</code>") if on else ""

    def on_tracing(self, change: dict[str, Any]) -> None:
        self.wiz.set_tracing(bool(change.get("new")))
        self.show_trace()

    def on_doctor(self) -> None:
        """Run `botify-graph doctor` for the current project (or the token alone before there is one)."""
        typed = self.password.value.strip()
        self.password.value = ""
        token = typed or self.wiz.token or self.wiz.stored_token()
        if not token:
            raise ConfigError("Paste your Botify API token first (Botify → your profile → API token).")
        self.retry_action = self.on_doctor
        self.wiz.start(self, self.doctor_check(token))

    async def doctor_check(self, token: str) -> None:
        from ..doctor import run_doctor

        before = StepState.SUCCESS if self.wiz.connected else StepState.READY
        project = self.wiz.model.answer("project")
        ref = clean_url(project.url) if project is not None else None
        analysis = self.wiz.model.answer("analysis")
        what = f"{ref}" if ref is not None else "the token (choose a project to check the rest)"
        self.set(StepState.ACTIVE, note(f"Checking {esc(what)}… (nothing is created, no credit is spent)"))
        async with self.wiz.client(token) as client:
            report = await run_doctor(
                client, ref, analysis=analysis.slug if analysis is not None else None, out_dir=self.wiz.out_dir
            )
        self.findings.value = doctor_html(report)
        self.set(before, "")

    def on_verify(self) -> None:
        """Check the pasted token (or the stored one when nothing was pasted)."""
        typed = self.password.value.strip()
        self.password.value = ""  # the token never stays in a widget
        if typed:
            token, origin = typed, "pasted"
        elif self.wiz.stored_token():
            token, origin = self.wiz.stored_token_with_origin()
        else:
            raise ConfigError("Paste your Botify API token first (Botify → your profile → API token).")
        self.retry_action = self.on_verify
        self.wiz.start(self, self.check(token, origin, auto=False))

    async def check(self, token: str, origin: str, *, auto: bool) -> None:
        where = TOKEN_ORIGINS[origin].format(path=token_path())
        self.greeting.value = ""
        self.set(StepState.ACTIVE, note(f"Checking {esc(where)}…"))
        try:
            checked = await self.wiz.verify(token)
        except BaseException as exc:
            if origin == "pasted" or (isinstance(self.wiz.token, str) and self.wiz.token == token):
                self.wiz.token = None
            if isinstance(exc, AuthError):  # the API's text names BOTIFY_API_TOKEN: say which token it was
                self.attempts[origin] = self.attempts.get(origin, 0) + 1
                at = datetime.now().strftime("%H:%M:%S")
                message = rejected_token_message(origin, attempt=self.attempts[origin], at=at)
                raise exc.reworded(message) from None
            raise
        self.attempts.pop(origin, None)
        self.wiz.token = token
        saved = ""
        if origin == "pasted":
            if self.wiz.env_token_set():
                saved = (
                    f"{ENV_VAR} is set, so it takes precedence next time; the token you pasted is used in this "
                    "session only and was not saved."
                )
            else:
                saved = f"Saved for next time in {save_token(token)} (readable only by you)."
        else:
            saved = f"Using {where}."
        self.wiz.connected = True
        previous = self.answer
        answer = ConnectAnswer(checked.username or "")
        self.wiz.model.answers["connect"] = answer
        if self.wiz.model.pid and not self.wiz.model.finalized and (not auto or previous != answer):
            self.wiz.submit("connect", answer)
        if checked.username:
            self.greeting.value = ok_html(f"Hello, <b>{esc(checked.username)}</b>! {esc(saved)}")
        else:  # the (undocumented) profile endpoint could not say: the project's analyses list will
            self.greeting.value = ok_html(
                f"Token taken. Botify's profile endpoint could not say whose it is ({esc(checked.problem)}), so "
                f"the token is checked when the Project step lists the project's analyses. {esc(saved)}"
            )
        self.set(StepState.SUCCESS, "")
        if auto or self.wiz.model.pid:
            self.wiz.goto(self.wiz.landing())

    def enter(self, *, reverted: bool = False) -> None:
        if self.wiz.stored_token():
            self.set(StepState.READY, note("Click Connect to use the stored token, or paste another one."))
        elif self.wiz.model.pid:
            self.set(
                StepState.READY,
                note(f"Paste your API token to continue with {esc(self.wiz.model.pid)}: your answers are kept."),
            )
        else:
            self.set(StepState.READY, "")


def doctor_html(report: Any) -> str:
    """The findings of `botify-graph doctor` as a compact table with a verdict."""
    marks = {"ok": ("✓", "#2e7d32"), "warn": ("!", "#ef6c00"), "fail": ("✗", "#c62828")}
    rows = []
    for f in report.findings:
        mark, color = marks[f.level]
        detail = esc(f.found)
        if f.differs:
            detail += f'<br><span style="color:#616161">differs: {esc(f.differs)}</span>'
        if f.todo:
            detail += f'<br><span style="color:#616161">do: {esc(f.todo)}</span>'
        rows.append([f'<span style="color:{color};font-weight:700">{mark} {esc(f.level)}</span>', esc(f.check), detail])
    verdict = (
        ok_html("An export should work. Nothing was created and no credit was spent.")
        if report.ok
        else note("✗ An export would fail: see the lines marked ✗. Nothing was created.", color="#c62828")
    )
    return table(["", "check", "found"], rows) + verdict


# -- 2 Project -------------------------------------------------------------------------------------------


class ProjectStep(Step):
    name = "project"
    title = "Project"
    uses_earlier_answers = False

    def build(self) -> None:
        self.url = w.Text(
            description="Project URL",
            placeholder=EXAMPLE,
            style=DESC,
            layout=w.Layout(width="auto", max_width="98%"),  # 100% plus the label overflows the card
            continuous_update=True,
        )
        self.url.observe(self.wiz.observer(self, self.preview), names="value")
        self.saved = w.Dropdown(
            description="Open a saved pipeline",
            options=[("—", "")],
            value="",
            style=DESC,
            layout=w.Layout(width="auto", max_width="98%", display="none"),
        )
        self.saved.observe(self.wiz.observer(self, self.on_pick), names="value")
        self.candidates = w.Dropdown(
            description="or pick a project",
            options=[("—", "")],
            value="",
            style=DESC,
            layout=w.Layout(width="auto", max_width="98%", display="none"),
        )
        self.candidates.observe(self.wiz.observer(self, self.on_pick), names="value")
        self.cleaned = w.HTML(note(self.HINT))
        self.use = button("Use this project", primary=True)
        self.use.on_click(self.wiz.handler(self, self.on_use))
        self.existing = w.HTML()
        self.card.set_content([self.saved, self.candidates, self.url, self.cleaned, self.use, self.existing])

    HINT = "Paste any Botify URL of the project: anything after the project is fine."

    def load_candidates(self, path: str | os.PathLike[str] | None) -> None:
        if path is None:
            return
        try:
            pairs = parse_candidates(Path(path).read_text(encoding="utf-8"), str(path))  # .csv, .yaml or text
        except OSError as exc:
            self.cleaned.value = note(
                f"The candidates file {esc(path)} cannot be read ({esc(exc.strerror)}).", color="#c62828"
            )
            return
        if pairs:
            options = [("— choose —", "")] + [
                (f"{org} / {project}", ProjectRef(org, project).url) for org, project in pairs
            ]
            self.candidates.options = options
            self.candidates.value = ""
            show(self.candidates, True)

    def list_saved(self) -> None:
        """The saved pipelines (newest first) with where each stands, so a URL need not be pasted again."""
        try:
            pids = self.wiz.sidecar.pipelines()
            records = {pid: self.wiz.sidecar.pipeline(pid) for pid in pids}
        except Exception:  # an unreadable sidecar is reported by the wizard itself; the picker just stays empty
            records = {}
        usable = {pid: r for pid, r in records.items() if isinstance(r, dict) and "project" in r.get("steps", {})}
        order = sorted(usable, key=lambda pid: str(usable[pid].get("updated", "")), reverse=True)
        options: list[tuple[str, str]] = [("— choose —", "")]
        for pid in order:
            try:
                ref = clean_url(pid)
            except InvalidProjectURL:
                continue
            mark = " (open now)" if pid == self.wiz.model.pid else ""
            options.append((f"{ref.org} / {ref.project} — {pipeline_status(usable[pid])}{mark}", pid))
        self.saved.options = options
        self.saved.value = ""
        show(self.saved, len(options) > 1)

    def controls(self) -> list[w.DOMWidget]:
        return [self.url, self.saved, self.candidates, self.use]

    def enter(self, *, reverted: bool = False) -> None:
        self.list_saved()
        self.set(StepState.READY)

    def clear(self) -> None:
        super().clear()
        self.existing.value = ""
        from .files import cosmograph_links

        cosmograph_links("project", [])  # its files are no longer shown: stop serving them

    def fill(self, answer: ProjectAnswer) -> None:
        self.url.value = answer.url
        self.show_existing(answer)

    def on_pick(self, change: dict[str, Any]) -> None:
        if change.get("new"):
            self.url.value = change["new"]

    def preview(self, change: dict[str, Any]) -> None:
        text = change.get("new") or ""
        if self.state in (StepState.FAIL, StepState.SUCCESS) and not self.running:
            answer = self.answer
            if self.state == StepState.FAIL or answer is None or text.strip() != answer.url:
                self.set(StepState.READY, "")  # another URL typed: an error or a ✓ about the last one is stale
        self.use.description = "Use this project"
        if not text.strip():
            self.cleaned.value = note(self.HINT)
            return
        try:
            ref = clean_url(text)
        except InvalidProjectURL as exc:
            self.cleaned.value = note(esc(exc), color="#c62828")
            return
        extra = f" (analysis {esc(ref.analysis)} will be preselected)" if ref.analysis else ""
        known = ""
        if ref.url != self.wiz.model.pid and self.wiz.has_pipeline(ref.url):
            known = " · a saved pipeline: opening it resumes where it stopped"
            self.use.description = "Open this pipeline"
        self.cleaned.value = note(f"Pipeline id: <code>{esc(ref.url)}</code>{extra}{esc(known)}")

    def on_use(self) -> None:
        self.retry_action = self.on_use
        try:
            ref = clean_url(self.url.value)
        except InvalidProjectURL:
            self.cleaned.value = note(self.HINT)  # the error box says what is wrong: once
            raise
        self.wiz.start(self, self.check(ref))

    async def check(self, ref: ProjectRef) -> None:
        """Botify must know the project (its analyses are listed) before it becomes the pipeline's."""
        self.existing.value = ""
        self.set(StepState.ACTIVE, note(f"Checking {esc(ref)} on Botify (listing its analyses)…"))
        try:
            async with self.wiz.client() as client:
                analyses = await api.fetch_analyses_light(client, ref)
        except NotFound as exc:
            raise exc.reworded(
                f"Botify has no project {ref.org}/{ref.project} (404): check the organisation and project in the "
                "URL — copy it from the project's page in Botify. Nothing was changed."
            ) from None
        except AuthError as exc:
            raise exc.reworded(
                f"Botify rejected the API token (401) while listing the analyses of {ref.org}/{ref.project}: the "
                "token taken at step 1 does not work. Go back to step 1 (✎ Change) and paste a fresh token from "
                "your Botify profile; regenerating a token invalidates the old one. Nothing was changed."
            ) from None
        except PermissionDenied as exc:
            raise exc.reworded(
                f"Your token has no access to {ref.org}/{ref.project} (403): the project belongs to an organisation "
                "your Botify user is not a member of, or the URL is wrong. Check the URL, or ask the project's "
                "admin for access. Nothing was changed."
            ) from None
        self.wiz.choose_project(ref)
        if not analyses and self.state == StepState.SUCCESS:
            self.card.set_status(note(f"{esc(ref)} has no finished analysis yet.", color="#ef6c00"))

    def succeed(self, answer: ProjectAnswer) -> None:
        self.url.value = answer.url
        self.show_existing(answer)
        self.set(StepState.SUCCESS, "")

    def show_existing(self, answer: ProjectAnswer) -> None:
        """List what already exists for this project: the registry's exports and files found on disk, with
        download links and, per analysis, an "Open in Cosmograph" link."""
        from .files import cosmograph_links, download_link, open_link, project_exports

        ref = ProjectRef(answer.org, answer.project)
        registry = self.wiz.registry()
        found = project_exports(registry, ref)
        folder = layout.project_dir(self.wiz.out_dir, ref)
        if not found:
            cosmograph_links("project", [])
            self.existing.value = note(f"Nothing exported yet for this project in <code>{esc(folder)}</code>.")
            return
        analyses = list(dict.fromkeys(f.analysis for f in found if f.latest and f.kind == "links" and f.present))
        out = self.wiz.out_dir
        paths = [(layout.export_path(out, ref, a, "links"), layout.export_path(out, ref, a, "meta")) for a in analyses]
        opened = dict(zip(analyses, cosmograph_links("project", paths), strict=True))
        rows = []
        for f in found:
            url = opened.pop(f.analysis, None) if f.latest and f.kind == "links" else None
            r = f.record
            settings = settings_text(r.max_edges, r.fields if r.kind == "meta" else None) if r is not None else "—"
            kept = "" if f.latest else ' <span style="color:#757575">(kept)</span>'
            rows.append(
                [
                    esc(f.analysis),
                    esc(f.kind),
                    esc(settings),
                    f"{f.rows:,}" if f.rows is not None else "—",
                    (download_link(f.path) if f.present else '<span style="color:#9e9e9e">—</span>') + kept,
                    esc(f.status),
                    open_link(url, "Cosmograph ↗") if url else "",
                ]
            )
        self.existing.value = note(
            "<b>Already exported for this project</b> (analyses marked ✓ in step 3 open without exporting again; "
            "an export of the same analysis with other settings keeps the earlier files, marked kept), in "
            f'<code style="word-break:break-all">{esc(folder)}</code>:'
        ) + table(["analysis", "kind", "settings", "rows", "file", "status", ""], rows)


# -- 3 Analysis ------------------------------------------------------------------------------------------


class AnalysisStep(Step):
    name = "analysis"
    title = "Analysis"

    def build(self) -> None:
        self.select = w.Select(options=[], rows=8, layout=w.Layout(width="auto", max_width="100%"))
        self.select.observe(self.wiz.observer(self, self.on_select), names="value")
        self.use = button("Use this analysis", primary=True)
        self.use.on_click(self.wiz.handler(self, self.on_use))
        self.info = w.HTML()
        self.analyses: dict[str, Any] = {}
        self.exported: dict[str, Any] = {}
        self.card.set_content([self.select, self.info, self.use])

    def controls(self) -> list[w.DOMWidget]:
        return [self.select, self.use]

    def use_buttons(self) -> list[w.Button]:
        return [self.use]

    def forget_view(self) -> None:
        super().forget_view()
        self.analyses, self.exported = {}, {}
        self.select.options = []
        self.info.value = ""
        self.use.description = "Use this analysis"

    def fill(self, answer: AnalysisAnswer) -> None:
        self.select.options = [(answer.summary(), answer.slug)]
        self.select.value = answer.slug
        self.view_made()

    def enter(self, *, reverted: bool = False) -> None:
        self.retry_action = self.enter
        self.wiz.start(self, self.load())

    async def load(self) -> None:
        ref = self.ref()
        self.forget_view()  # nothing from before while listing, and nothing if listing fails
        self.set(StepState.ACTIVE, note(f"Listing the analyses of {esc(ref)}…"))
        async with self.wiz.client() as client:
            analyses = await api.fetch_analyses_light(client, ref)
        if not analyses:
            raise ConfigError(f"{ref} has no finished analysis yet: wait for a crawl to finish, then retry.")
        self.exported = exported_analyses(self.wiz.registry(), ref.org, ref.project)
        self.analyses = {a.slug: a for a in analyses}
        options = []
        for a in analyses:
            when = (a.date_launched or "")[:10]
            label = " · ".join(p for p in (a.slug, a.name if a.name != a.slug else None, when) if p)
            if a.slug in self.exported:
                label += "   ✓ exported"
            options.append((label, a.slug))
        self.select.options = options
        project = self.wiz.model.answer("project")
        hint = project.analysis_hint if project is not None else None
        self.select.value = hint if hint in self.analyses else analyses[0].slug
        self.view_made()
        self.on_select({"new": self.select.value})
        self.set(StepState.READY, note(f"{len(analyses)} finished analyses, newest first."))

    def on_select(self, change: dict[str, Any]) -> None:
        slug = change.get("new")
        answer = self.answer
        if self.state == StepState.SUCCESS and answer is not None and slug != answer.slug:
            self.set(StepState.READY, "")  # another analysis selected: Use it before Next
        if slug in self.exported:
            self.use.description = "Open the exported files"
            self.info.value = note(
                "✓ This analysis is already exported: its files open as they are, nothing is exported again."
            )
        else:
            self.use.description = "Use this analysis"
            self.info.value = ""

    def on_use(self) -> None:
        self.require_current_view()
        slug = self.select.value
        if not slug or slug not in self.analyses:
            raise ConfigError("Choose an analysis in the list first.")
        self.retry_action = self.on_use
        a = self.analyses[slug]
        if slug in self.exported:
            self.wiz.open_exported(slug, a.name, self.exported[slug])
            return
        answer = AnalysisAnswer(slug=slug, name=a.name, date=a.date_launched)
        self.wiz.submit("analysis", answer)
        self.set(StepState.SUCCESS, ok_html(f"Analysis <b>{esc(answer.summary())}</b>"))


# -- 4 Depth ---------------------------------------------------------------------------------------------


class DepthStep(Step):
    name = "depth"
    title = "Depth"

    def build(self) -> None:
        self.max_edges = w.IntText(
            value=MAX_EXPORT_ROWS, description="Row limit (links)", style=DESC, layout=w.Layout(width="260px")
        )
        self.max_edges.observe(self.wiz.observer(self, self.on_limit), names="value")
        self.limit_for: Any = None  # the project answer the limit was set for (a new pipeline starts afresh)
        self.size = button("Size the graph", primary=True)
        self.size.on_click(self.wiz.handler(self, self.on_size))
        self.chart = w.VBox(layout=w.Layout(width="auto", max_width="100%", overflow="auto"))
        self.plan: ExportPlan | None = None
        self.options = w.HTML()
        self.complete = button(
            partition_view.OPTION_LABELS["complete"] + "…", tooltip="Every link at every depth, in several jobs"
        )
        self.complete.on_click(self.wiz.handler(self, self.on_complete))
        self.cut = button(partition_view.OPTION_LABELS["cut"], tooltip="Depth 1 only, stopped at the row limit")
        self.cut.on_click(self.wiz.handler(self, self.on_cut))
        self.choices = w.HBox([self.complete, self.cut], layout=w.Layout(display="none"))
        self.card.set_content(
            [
                w.HTML(
                    note(
                        f"The deepest click depth whose internal links fit the limit is exported. Botify exports at "
                        f"most {MAX_EXPORT_ROWS:,} rows per job; lower the limit for a smaller graph, or export the "
                        "complete graph in several jobs (its jobs and credits are shown first)."
                    )
                ),
                w.HBox([self.max_edges, self.size], layout=w.Layout(align_items="center", flex_flow="row wrap")),
                self.chart,
                self.options,
                self.choices,
            ]
        )

    def controls(self) -> list[w.DOMWidget]:
        return [self.max_edges, self.size, self.complete, self.cut]

    def clear(self) -> None:
        super().clear()
        self.chart.children = ()
        self.options.value = ""
        self.plan = None
        show(self.choices, False)

    def reset(self) -> None:
        super().reset()
        self.limit_for = None
        self.initial_limit()

    def initial_limit(self) -> None:
        """A pipeline's first limit: the one it was started from (see `Wizard.fork`), else Botify's maximum.
        Within one pipeline the limit typed last is kept when a step is changed."""
        project: ProjectAnswer | None = self.wiz.model.answer("project")
        if project is not None and project == self.limit_for:
            return
        self.limit_for = project
        wanted = project.max_edges if project is not None and project.max_edges is not None else MAX_EXPORT_ROWS
        if self.max_edges.value != wanted:
            self.max_edges.value = wanted

    def fill(self, answer: DepthAnswer) -> None:
        self.limit_for = self.wiz.model.answer("project")
        self.max_edges.value = answer.max_edges
        self.show_chart(answer)
        if answer.complete or answer.allow_cut:
            self.options.value = note(esc(answer.summary()) + ". Click <b>Size the graph</b> to see the plan again.")
        self.view_made()

    def enter(self, *, reverted: bool = False) -> None:
        self.initial_limit()
        if reverted:  # going back to change the limit: wait for it
            self.set(StepState.READY, note("Change the limit if you like, then click <b>Size the graph</b>."))
        else:
            self.on_size()

    def on_limit(self, change: dict[str, Any]) -> None:
        answer = self.answer
        if self.state == StepState.SUCCESS and answer is not None and change.get("new") != answer.max_edges:
            self.set(StepState.READY, note("Click <b>Size the graph</b> to apply the new limit."))

    def on_size(self) -> None:
        self.retry_action = self.on_size
        limit = clamp_max_edges(self.max_edges.value)
        self.wiz.start(self, self.compute(limit))

    async def compute(self, limit: int) -> None:
        ref, slug = self.ref(), self.slug()
        self.chart.children = ()
        self.options.value = ""
        show(self.choices, False)
        self.forget_view()
        self.set(StepState.ACTIVE, note(f"Counting internal links per depth in {esc(slug)}…"))
        async with self.wiz.client() as client:
            plan = await api.export_plan(client, ref, slug, limit)
        self.plan = plan
        self.show_options(plan)
        if plan.depth is None:  # depth 1 alone is over the limit: the complete graph or depth 1 cut, never a dead end
            self.show_chart(self.cut_answer(plan))
            self.set(
                StepState.READY,
                note(
                    f"Depth 1 alone has {plan.depth1_links:,} links, over the limit of {limit:,} rows a job: choose "
                    "the <b>complete graph</b> (every link, in several jobs) or <b>depth 1 cut at the limit</b>."
                ),
            )
            return
        choice = plan.depth
        answer = DepthAnswer(
            max_edges=limit,
            depth=choice.depth,
            edges=choice.edges,
            whole_graph=choice.whole_graph,
            per_depth=choice.per_depth,
            cumulative=choice.cumulative,
            jobs=2,
            credits=plan.normal_credits,
        )
        self.wiz.submit("depth", answer)
        self.show_chart(answer)
        self.view_made()
        extra = " — the whole graph fits" if answer.whole_graph else ""
        self.set(
            StepState.SUCCESS,
            ok_html(f"Depth <b>{answer.depth}</b>: {answer.edges:,} links, under the limit of {limit:,}{esc(extra)}."),
        )

    def show_options(self, plan: ExportPlan) -> None:
        """What each way of exporting takes, and the buttons that choose the complete graph or the cut."""
        self.options.value = partition_view.plan_html(plan, max_jobs=layout.MAX_JOBS, many=layout.MANY_JOBS)
        self.complete.disabled = not plan.feasible
        show(self.cut, plan.depth1_over)
        show(self.choices, True)

    def table_of(self, plan: ExportPlan) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
        """(per depth, cumulative) link counts of a plan, as a DepthAnswer keeps them."""
        cumulative = tuple((int(r["depth"]), int(r["cumulative"])) for r in plan.table())
        return plan.links_per_depth, cumulative

    def cut_answer(self, plan: ExportPlan) -> DepthAnswer:
        per_depth, cumulative = self.table_of(plan)
        return DepthAnswer(
            max_edges=plan.max_edges,
            depth=1,
            edges=plan.cut_rows[0],
            per_depth=per_depth,
            cumulative=cumulative,
            allow_cut=True,
            jobs=2,
            credits=plan.cut_credits,
        )

    def on_complete(self) -> None:
        """Ask, with the plan's jobs and credits, before the complete graph becomes the answer."""
        plan = self.plan
        if plan is None:
            raise ConfigError("Click Size the graph first: the plan shows the jobs and credits it takes.")
        self.card.confirm.ask(
            partition_view.confirm_text(plan, max_jobs=layout.MAX_JOBS),
            self.wiz.handler(self, lambda: self.choose_complete(plan)),
            yes="Export the complete graph",
        )

    def choose_complete(self, plan: ExportPlan) -> None:
        per_depth, cumulative = self.table_of(plan)
        answer = DepthAnswer(
            max_edges=plan.max_edges,
            depth=plan.max_depth,
            edges=plan.total_links,
            whole_graph=True,
            per_depth=per_depth,
            cumulative=cumulative,
            complete=True,
            jobs=plan.complete_jobs,
            credits=plan.complete_credits,
        )
        self.wiz.submit("depth", answer)
        self.show_chart(answer)
        self.set(StepState.SUCCESS, ok_html(esc(answer.summary()) + f", about {answer.credits:,.0f} credits."))

    def on_cut(self) -> None:
        plan = self.plan
        if plan is None or not plan.depth1_over:
            raise ConfigError("Depth 1 fits the limit: nothing needs to be cut.")
        answer = self.cut_answer(plan)
        self.wiz.submit("depth", answer)
        self.show_chart(answer)
        self.set(StepState.SUCCESS, ok_html(esc(answer.summary()) + "."))

    def show_chart(self, answer: DepthAnswer) -> None:
        """The depth chart and the numbers as a table."""
        from ..render.widgets import depth_chart

        parts: list[w.Widget] = []
        choice = answer.choice()
        if choice is not None:
            try:
                parts.append(depth_chart(choice))
            except Exception:  # a chart that fails to draw must not hide the table
                parts = []
        html_table = depth_table_html(
            answer.cumulative, answer.per_depth, answer.max_edges, answer.depth, bars=not parts
        )
        parts.append(w.HTML(html_table))
        self.chart.children = tuple(parts)


# -- 5 Fields --------------------------------------------------------------------------------------------


def _field_label(f: CatalogField) -> str:
    """What a person reads beside a field's checkbox: its name, its Botify field and the column it becomes."""
    if f.key in META_BY_NAME:
        return f"{META_BY_NAME[f.key].label}  ({f.key})"
    name = f"{f.name}  " if f.name and f.name != f.slug else ""
    return f"{name}({f.key} → {f.column})" + (" · deprecated" if f.deprecated else "")


class FieldsStep(Step):
    name = "fields"
    title = "Fields"

    def build(self) -> None:
        self.boxes: dict[str, w.Checkbox] = {}  # key → checkbox, every field that can be exported
        self.others: dict[str, w.Checkbox] = {}  # key → disabled checkbox, the fields that cannot be
        self.fields_of: dict[str, CatalogField] = {}
        self.catalog: FieldCatalog | None = None
        self.crawl_day: date | None = None
        self.available: tuple[str, ...] = ()
        self.search = w.Text(
            placeholder="search the fields: a name, a Botify field or a column", continuous_update=True,
            layout=w.Layout(width="60%"),
        )  # fmt: skip
        self.search.observe(self.wiz.observer(self, self.on_search), names="value")
        self.count = w.HTML()
        self.list = w.VBox(layout=w.Layout(max_height="420px", overflow="auto", width="100%"))
        self.show_others = w.Checkbox(value=False, description="show the fields that cannot be exported", indent=False)
        self.show_others.observe(self.wiz.observer(self, self.on_search), names="value")
        self.missing = w.HTML()
        self.gsc = w.Text(
            description="Search Console period",
            placeholder=f"{layout.GSC_DAYS} (days ending at the crawl) or 2024-10-01:2024-10-31",
            style=DESC, continuous_update=True, layout=w.Layout(width="520px"),
        )  # fmt: skip
        self.gsc.observe(self.wiz.observer(self, self.on_period), names="value")
        self.period = w.HTML()
        self.gsc_box = w.VBox([self.gsc, self.period])
        self.use = button("Use these fields", primary=True)
        self.use.on_click(self.wiz.handler(self, self.on_use))
        self.card.set_content(
            [
                w.HTML(
                    note(
                        "Page attributes for the meta file (one row per page, joined on the URL), grouped as Botify "
                        "groups them; the seven defaults are ticked. Each field becomes the column after the → ."
                    )
                ),
                w.HBox([self.search, self.count], layout=w.Layout(align_items="center")),
                self.list,
                self.show_others,
                self.missing,
                self.gsc_box,
                self.use,
            ]
        )
        show(self.gsc_box, False)

    def controls(self) -> list[w.DOMWidget]:
        return [self.use, self.search, self.gsc, self.show_others, *self.boxes.values()]

    def use_buttons(self) -> list[w.Button]:
        return [self.use]

    def forget_view(self) -> None:
        super().forget_view()
        self.boxes = {}
        self.available = ()
        self.list.children = ()
        self.missing.value = ""

    def enter(self, *, reverted: bool = False) -> None:
        self.retry_action = self.enter
        self.wiz.start(self, self.load())

    async def load(self) -> None:
        ref, slug = self.ref(), self.slug()
        self.forget_view()
        self.set(StepState.ACTIVE, note("Reading the fields this project has…"))
        async with self.wiz.client() as client:
            availability = await api.available_meta_fields(client, ref, slug)
        previous: FieldsAnswer | None = self.answer
        project: ProjectAnswer | None = self.wiz.model.answer("project")
        checked = previous.fields if previous is not None else (project.fields if project is not None else None)
        self.crawl_day = Analysis(slug).crawl_date
        self.show_catalog(
            availability.catalog or FieldCatalog(slug),
            availability.fields,
            checked,
            previous.gsc_period if previous is not None else None,
        )
        self.view_made()
        dropped = [f for f in (checked or ()) if f in META_BY_NAME and f not in availability.fields]
        self.set(
            StepState.READY,
            note("Not in this project, so not checked: " + esc(", ".join(dropped)) + ".", color="#ef6c00")
            if dropped
            else "",
        )

    def show_catalog(
        self,
        catalog: FieldCatalog,
        available: tuple[str, ...],
        checked: tuple[str, ...] | None,
        gsc_period: str | None,
    ) -> None:
        """One checkbox per field, group by group (the defaults first); ticked: `checked`, else the defaults."""
        self.catalog, self.available = catalog, tuple(available)
        chosen = set(available if checked is None else checked)
        exportable = [f for f in catalog.fields if f.exportable and (not f.default or f.key in available)]
        exportable.sort(key=lambda f: not f.default)  # stable: the defaults first, then Botify's order
        self.fields_of = {f.key: f for f in catalog.fields}
        self.boxes, self.others = {}, {}
        for f in sorted((f for f in exportable if f.default), key=lambda f: sort_keys(available).index(f.key)):
            self.boxes[f.key] = self._box(f, f.key in chosen)
        for f in exportable:
            if not f.default:
                self.boxes[f.key] = self._box(f, f.key in chosen)
        for f in catalog.fields:
            if not f.exportable:
                box = w.Checkbox(
                    value=False, disabled=True, indent=False, description=f"{_field_label(f)} — {f.why_not}",
                    layout=w.Layout(width="auto"), style=DESC,
                )  # fmt: skip
                self.others[f.key] = box
        for key in sort_keys(chosen - set(self.boxes)):  # chosen before, unknown now (no catalogue on resume)
            self.boxes[key] = w.Checkbox(value=True, description=key, indent=False, layout=w.Layout(width="auto"))
        for box in self.boxes.values():
            box.observe(self.wiz.observer(self, self.on_box), names="value")
        absent = [f.label for f in META_FIELDS if f.name not in available]
        self.missing.value = (
            note("Not available in this project: " + esc(", ".join(absent)) + ".", color="#757575") if absent else ""
        )
        self.gsc.value = gsc_period or ""
        show(self.gsc_box, catalog.has_gsc)
        self.on_search({})
        self.on_period({})

    def _box(self, f: CatalogField, value: bool) -> w.Checkbox:
        return w.Checkbox(
            value=value, description=_field_label(f), indent=False, style=DESC, layout=w.Layout(width="auto")
        )

    def _group(self, key: str) -> str:
        f = self.fields_of.get(key)
        if f is None:
            return "chosen earlier"
        if f.default:
            return "defaults"
        return f"{'crawl' if f.source == 'crawl' else f.collection} · {f.group}"

    def on_search(self, change: dict[str, Any]) -> None:
        """Show the fields whose name, Botify field, column or group holds every word searched, under their group."""
        words = self.search.value.lower().split()
        groups: dict[str, list[w.Widget]] = {}
        boxes = list(self.boxes.items()) + (list(self.others.items()) if self.show_others.value else [])
        for key, box in boxes:
            f = self.fields_of.get(key)
            text = " ".join([key, box.description, self._group(key)] + ([f.column] if f else [])).lower()
            if all(word in text for word in words):
                groups.setdefault(self._group(key), []).append(box)
        children: list[w.Widget] = []
        for group, members in groups.items():
            children.append(w.HTML(f"<b style='display:block;margin-top:6px'>{esc(group)}</b>"))
            children.extend(members)
        if not children:
            children = [w.HTML(note("No field matches that search."))]
        self.list.children = tuple(children)
        self.show_count()

    def show_count(self) -> None:
        chosen = sum(box.value for box in self.boxes.values())
        self.count.value = note(f"&nbsp;{chosen} of {len(self.boxes)} fields chosen")

    def on_box(self, change: dict[str, Any]) -> None:
        self.show_count()
        self.on_period({})
        if self.state == StepState.SUCCESS:
            self.set(StepState.READY, note("Click <b>Use these fields</b> to apply the change."))

    def chosen(self) -> tuple[str, ...]:
        return sort_keys(key for key, box in self.boxes.items() if box.value)

    def resolved_period(self) -> GscPeriod | None:
        """The period the text asks for, in dates (ConfigError when it cannot be read or has no data)."""
        catalog = self.catalog
        spec = parse_gsc_period(self.gsc.value, layout.GSC_DAYS)
        if catalog is None or not catalog.has_gsc:
            return None
        return resolve_gsc_period(
            spec, self.crawl_day, catalog.gsc_start, catalog.gsc_end, default_days=layout.GSC_DAYS
        )

    def on_period(self, change: dict[str, Any]) -> None:
        """Say which days the Search Console numbers will cover, and whether they were clipped."""
        if self.catalog is None or not self.catalog.has_gsc:
            return
        try:
            period = self.resolved_period()
        except ConfigError as exc:
            self.period.value = note(esc(exc), color="#c62828")
            return
        if period is None:
            self.period.value = ""
            return
        held = f"Search Console holds {self.catalog.gsc_start or '?'} to {self.catalog.gsc_end or '?'}."
        used = "" if has_gsc(self.chosen()) else " (no Search Console field is ticked: the period is not used)"
        text = f"Impressions, clicks and the other Search Console numbers cover <b>{esc(period.describe())}</b>{used}."
        if period.note:
            text += f"<br>⚠ {esc(period.note)}"
        self.period.value = note(text + f" <span style='color:#757575'>{esc(held)}</span>")
        if self.state == StepState.SUCCESS and change.get("name") == "value" and change.get("owner") is self.gsc:
            self.set(StepState.READY, note("Click <b>Use these fields</b> to apply the change."))

    def fill(self, answer: FieldsAnswer) -> None:
        """The saved answer, without asking the API for the catalogue (Change reads it again)."""
        analysis = self.wiz.model.answer("analysis")
        available = answer.available or tuple(k for k in answer.fields if k in META_BY_NAME)
        entries = tuple(default_entry(k, "") for k in available if k in META_BY_NAME)
        catalog = FieldCatalog(analysis.slug if analysis else "", entries, has_gsc=answer.period is not None)
        self.show_catalog(catalog, available, answer.fields, answer.gsc_period)
        if answer.period is not None:
            self.period.value = note(
                f"Search Console numbers cover <b>{esc(answer.period[0])} to {esc(answer.period[1])}</b>."
                + (f"<br>⚠ {esc(answer.period_note)}" if answer.period_note else "")
            )
        self.view_made()

    def on_use(self) -> None:
        self.require_current_view()
        self.retry_action = self.on_use
        fields = self.chosen()
        spec = parse_gsc_period(self.gsc.value, layout.GSC_DAYS)  # ConfigError: its message goes to the card
        period = self.resolved_period() if has_gsc(fields) else None
        self.wiz.start(self, self.check(fields, spec, period))

    async def check(self, fields: tuple[str, ...], spec: str | None, period: GscPeriod | None) -> None:
        """Ask Botify for one row with the fields beyond the defaults, so a field it refuses is named here."""
        extra = tuple(f for f in fields if f not in META_BY_NAME)
        if extra:
            self.set(StepState.ACTIVE, note("Checking the chosen fields with Botify (one row, no export)…"))
            async with self.wiz.client() as client:
                await api.check_meta_fields(
                    client, self.ref(), self.slug(), fields, period=period.dates if period else None, suspects=extra
                )
        answer = FieldsAnswer(
            fields=fields,
            available=self.available,
            gsc_period=spec if has_gsc(fields) else None,
            period=(period.start, period.end) if period is not None else None,
            period_note=period.note if period is not None else "",
        )
        self.wiz.submit("fields", answer)
        self.set(StepState.SUCCESS, ok_html(esc(answer.summary())))
