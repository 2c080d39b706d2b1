"""Steps 1 to 5 of the wizard: connect, project, analysis, depth and fields, each a card with one action.

A step turns clicks into calls (`api.*`) and answers into its card; long work runs through
`Wizard.start`, which refuses a second task for a step that is already working.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import ipywidgets as w

from .. import api
from ..errors import AuthError, ConfigError, InvalidProjectURL, NotFound, PermissionDenied
from ..queries import MAX_EXPORT_ROWS, META_BY_NAME, META_FIELDS
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
    shown_path,
)
from .view import DESC, button, esc, link, note, ok_html, settings_text, show, table

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
        self.greeting = w.HTML()
        self.attempts: dict[str, int] = {}  # rejected checks per token origin, so a repeated failure says so
        self.card.set_content(
            [self.intro, w.HBox([self.password, self.verify], layout=w.Layout(align_items="center")), self.greeting]
        )

    def controls(self) -> list[w.DOMWidget]:
        return [self.password, self.verify]

    def clear(self) -> None:
        super().clear()
        self.greeting.value = ""

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
            username = await self.wiz.verify(token)
        except BaseException as exc:
            if origin == "pasted" or (isinstance(self.wiz.token, str) and self.wiz.token == token):
                self.wiz.token = None
            if isinstance(exc, AuthError):  # the API's text names BOTIFY_API_TOKEN: say which token it was
                self.attempts[origin] = self.attempts.get(origin, 0) + 1
                at = datetime.now().strftime("%H:%M:%S")
                message = rejected_token_message(origin, attempt=self.attempts[origin], at=at)
                raise AuthError(message, status=exc.status, error_code=exc.error_code, url=exc.url) from None
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
        answer = ConnectAnswer(username)
        self.wiz.model.answers["connect"] = answer
        if self.wiz.model.pid and not self.wiz.model.finalized and (not auto or previous != answer):
            self.wiz.submit("connect", answer)
        self.greeting.value = ok_html(f"Hello, <b>{esc(username)}</b>! {esc(saved)}")
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
            pairs = parse_candidates(Path(path).read_text(encoding="utf-8"))
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
            raise NotFound(
                f"Botify has no project {ref.org}/{ref.project} (404): check the organisation and project in the "
                "URL — copy it from the project's page in Botify. Nothing was changed.",
                status=exc.status,
                error_code=exc.error_code,
                url=exc.url,
            ) from None
        except PermissionDenied as exc:
            raise PermissionDenied(
                f"Your token has no access to {ref.org}/{ref.project} (403): the project belongs to an organisation "
                "your Botify user is not a member of, or the URL is wrong. Check the URL, or ask the project's "
                "admin for access. Nothing was changed.",
                status=exc.status,
                error_code=exc.error_code,
                url=exc.url,
            ) from None
        self.wiz.choose_project(ref)
        if not analyses and self.state == StepState.SUCCESS:
            self.card.set_status(note(f"{esc(ref)} has no finished analysis yet.", color="#ef6c00"))

    def succeed(self, answer: ProjectAnswer) -> None:
        self.url.value = answer.url
        self.show_existing(answer)
        self.set(StepState.SUCCESS, "")

    def show_existing(self, answer: ProjectAnswer) -> None:
        """List what already exists for this project in the export registry (kept earlier exports too)."""
        registry = self.wiz.registry()
        records = registry.records(org=answer.org, project=answer.project)
        if not records:
            self.existing.value = note(
                f"Nothing exported yet for this project in <code>{esc(self.wiz.out_dir)}</code>."
            )
            return
        latest = {
            registry.file_path(found[0])
            for slug in {r.analysis for r in records}
            for kind in ("links", "meta")
            if (found := registry.downloads(answer.org, answer.project, slug, kind))
        }
        rows = []
        for r in sorted(records, key=lambda r: (r.analysis, r.kind, r.updated), reverse=True):
            if r.part:
                continue
            path = registry.downloaded_file(r)
            if path is not None:
                text, href = shown_path(path, self.wiz.notebook_dir)
                file_cell = link(text, href) + ("" if path in latest else ' <span style="color:#757575">(kept)</span>')
            else:
                file_cell = '<span style="color:#9e9e9e">—</span>'
            rows.append(
                [
                    esc(r.analysis),
                    esc(r.kind),
                    esc(settings_text(r.max_edges, r.fields if r.kind == "meta" else None)),
                    f"{r.rows:,}" if r.rows is not None else "—",
                    file_cell,
                    esc(r.status if path is not None or r.status != "DOWNLOADED" else "file missing"),
                ]
            )
        self.existing.value = note(
            "<b>Already exported for this project</b> (analyses marked ✓ in step 3 open without exporting again; "
            "an export of the same analysis with other settings keeps the earlier files, marked kept):"
        ) + table(["analysis", "kind", "settings", "rows", "file", "status"], rows)


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
        self.card.set_content(
            [
                w.HTML(
                    note(
                        f"The deepest click depth whose internal links fit the limit is exported. Botify exports at "
                        f"most {MAX_EXPORT_ROWS:,} rows per job; lower the limit for a smaller graph."
                    )
                ),
                w.HBox([self.max_edges, self.size], layout=w.Layout(align_items="center", flex_flow="row wrap")),
                self.chart,
            ]
        )

    def controls(self) -> list[w.DOMWidget]:
        return [self.max_edges, self.size]

    def clear(self) -> None:
        super().clear()
        self.chart.children = ()

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
        self.forget_view()
        self.set(StepState.ACTIVE, note(f"Counting internal links per depth in {esc(slug)}…"))
        async with self.wiz.client() as client:
            choice = await api.find_optimal_depth(client, ref, slug, limit)
        answer = DepthAnswer(
            max_edges=limit,
            depth=choice.depth,
            edges=choice.edges,
            whole_graph=choice.whole_graph,
            per_depth=choice.per_depth,
            cumulative=choice.cumulative,
        )
        self.wiz.submit("depth", answer)
        self.show_chart(answer)
        self.view_made()
        extra = " — the whole graph fits" if answer.whole_graph else ""
        self.set(
            StepState.SUCCESS,
            ok_html(f"Depth <b>{answer.depth}</b>: {answer.edges:,} links, under the limit of {limit:,}{esc(extra)}."),
        )

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


class FieldsStep(Step):
    name = "fields"
    title = "Fields"

    def build(self) -> None:
        self.boxes: dict[str, w.Checkbox] = {}
        self.list = w.VBox()
        self.missing = w.HTML()
        self.use = button("Use these fields", primary=True)
        self.use.on_click(self.wiz.handler(self, self.on_use))
        self.available: tuple[str, ...] = ()
        self.card.set_content(
            [
                w.HTML(note("Page attributes for the meta file (one row per page, joined on the URL):")),
                self.list,
                self.missing,
                self.use,
            ]
        )

    def controls(self) -> list[w.DOMWidget]:
        return [self.use, *self.boxes.values()]

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
        self.set(StepState.ACTIVE, note("Checking which page attributes this project has…"))
        async with self.wiz.client() as client:
            availability = await api.available_meta_fields(client, ref, slug)
        previous: FieldsAnswer | None = self.answer
        project: ProjectAnswer | None = self.wiz.model.answer("project")
        checked = previous.fields if previous is not None else (project.fields if project is not None else None)
        self.show_boxes(availability.fields, checked)
        self.view_made()
        dropped = [f for f in (checked or ()) if f not in availability.fields]
        self.set(
            StepState.READY,
            note("Not in this project, so not checked: " + esc(", ".join(dropped)) + ".", color="#ef6c00")
            if dropped
            else "",
        )

    def show_boxes(self, available: tuple[str, ...], checked: tuple[str, ...] | None) -> None:
        self.available = tuple(available)
        self.boxes = {
            name: w.Checkbox(
                value=checked is None or name in checked,
                description=META_BY_NAME[name].label + f"  ({name})",
                indent=False,
                style=DESC,
                layout=w.Layout(width="auto"),
            )
            for name in self.available
        }
        for box in self.boxes.values():
            box.observe(self.wiz.observer(self, self.on_box), names="value")
        self.list.children = tuple(self.boxes.values())
        absent = [f.label for f in META_FIELDS if f.name not in self.available]
        self.missing.value = (
            note("Not available in this project: " + esc(", ".join(absent)) + ".", color="#757575") if absent else ""
        )

    def on_box(self, change: dict[str, Any]) -> None:
        if self.state == StepState.SUCCESS:
            self.set(StepState.READY, note("Click <b>Use these fields</b> to apply the change."))

    def fill(self, answer: FieldsAnswer) -> None:
        self.show_boxes(answer.available or answer.fields, answer.fields)
        self.view_made()

    def on_use(self) -> None:
        self.require_current_view()
        self.retry_action = self.on_use
        fields = tuple(f.name for f in META_FIELDS if f.name in self.boxes and self.boxes[f.name].value)
        answer = FieldsAnswer(fields=fields, available=self.available)
        self.wiz.submit("fields", answer)
        self.set(StepState.SUCCESS, ok_html(esc(answer.summary())))
