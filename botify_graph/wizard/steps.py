"""Steps 1 to 5 of the wizard: connect, project, analysis, depth and fields, each a card with one action.

A step turns clicks into calls (`api.*`) and answers into its card; long work runs through
`Wizard.start`, which refuses a second task for a step that is already working.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import ipywidgets as w

from .. import api, layout
from ..errors import ConfigError, InvalidProjectURL
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
from ..queries import MAX_EXPORT_ROWS, META_BY_NAME, META_FIELDS
from ..token import ENV_VAR, save_token, token_path
from ..urls import APP_ROOT, EXAMPLE, clean_url
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
    shown_path,
)
from .view import DESC, button, depth_table_html, esc, link, note, ok_html, show, table

# -- 1 Connect -------------------------------------------------------------------------------------------


class ConnectStep(Step):
    name = "connect"
    title = "Connect"

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
        where = {
            "environment": f"the {ENV_VAR} environment variable",
            "file": f"the token file {token_path()}",
            "argument": "the wizard's token argument",
            "pasted": "the token you pasted",
        }[origin]
        self.set(StepState.ACTIVE, note(f"Checking {esc(where)}…"))
        try:
            username = await self.wiz.verify(token)
        except BaseException:
            if origin == "pasted" or (isinstance(self.wiz.token, str) and self.wiz.token == token):
                self.wiz.token = None
            raise
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

    def build(self) -> None:
        self.url = w.Text(
            description="Project URL",
            placeholder=EXAMPLE,
            style=DESC,
            layout=w.Layout(width="auto", max_width="98%"),  # 100% plus the label overflows the card
            continuous_update=True,
        )
        self.url.observe(self.wiz.observer(self, self.preview), names="value")
        self.candidates = w.Dropdown(
            description="or pick a project",
            options=[("—", "")],
            value="",
            style=DESC,
            layout=w.Layout(width="60%", display="none"),
        )
        self.candidates.observe(self.wiz.observer(self, self.on_candidate), names="value")
        self.cleaned = w.HTML(note("Paste any Botify URL of the project: anything after the project is fine."))
        self.use = button("Use this project", primary=True)
        self.use.on_click(self.wiz.handler(self, self.on_use))
        self.existing = w.HTML()
        self.card.set_content([self.candidates, self.url, self.cleaned, self.use, self.existing])

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
                (f"{org} / {project}", f"{APP_ROOT}/{org}/{project}/") for org, project in pairs
            ]
            self.candidates.options = options
            self.candidates.value = ""
            show(self.candidates, True)

    def controls(self) -> list[w.DOMWidget]:
        return [self.url, self.candidates, self.use]

    def clear(self) -> None:
        super().clear()
        self.existing.value = ""

    def fill(self, answer: ProjectAnswer) -> None:
        self.url.value = answer.url
        self.show_existing(answer)

    def on_candidate(self, change: dict[str, Any]) -> None:
        if change.get("new"):
            self.url.value = change["new"]

    def preview(self, change: dict[str, Any]) -> None:
        text = change.get("new") or ""
        if not text.strip():
            self.cleaned.value = note("Paste any Botify URL of the project: anything after the project is fine.")
            return
        try:
            ref = clean_url(text)
        except InvalidProjectURL as exc:
            self.cleaned.value = note(esc(exc), color="#c62828")
            return
        answer = self.answer
        if self.state == StepState.SUCCESS and answer is not None and ref.url != answer.url:
            self.set(StepState.READY, "")  # another project typed: Use it before Next
        extra = f" (analysis {esc(ref.analysis)} will be preselected)" if ref.analysis else ""
        known = " · a saved pipeline: using it resumes where it stopped" if self.wiz.has_pipeline(ref.url) else ""
        self.cleaned.value = note(f"Pipeline id: <code>{esc(ref.url)}</code>{extra}{esc(known)}")

    def on_use(self) -> None:
        self.retry_action = self.on_use
        ref = clean_url(self.url.value)  # InvalidProjectURL: its message goes to the card
        self.wiz.choose_project(ref)

    def succeed(self, answer: ProjectAnswer) -> None:
        self.url.value = answer.url
        self.show_existing(answer)
        self.set(StepState.SUCCESS, "")

    def show_existing(self, answer: ProjectAnswer) -> None:
        """List what already exists for this project in the export registry."""
        registry = self.wiz.registry()
        records = registry.records(org=answer.org, project=answer.project)
        if not records:
            self.existing.value = note(
                f"Nothing exported yet for this project in <code>{esc(self.wiz.out_dir)}</code>."
            )
            return
        rows = []
        for r in sorted(records, key=lambda r: (r.analysis, r.kind), reverse=True):
            path = registry.downloaded_file(r)
            if path is not None:
                text, href = shown_path(path, self.wiz.notebook_dir)
                file_cell = link(text, href)
            else:
                file_cell = '<span style="color:#9e9e9e">—</span>'
            rows.append(
                [
                    esc(r.analysis),
                    esc(r.kind),
                    f"{r.rows:,}" if r.rows is not None else "—",
                    file_cell,
                    esc(r.status if path is not None or r.status != "DOWNLOADED" else "file missing"),
                ]
            )
        self.existing.value = note(
            "<b>Already exported for this project</b> (analyses marked ✓ in step 3 open without exporting again):"
        ) + table(["analysis", "kind", "rows", "file", "status"], rows)


# -- 3 Analysis ------------------------------------------------------------------------------------------


class AnalysisStep(Step):
    name = "analysis"
    title = "Analysis"

    def build(self) -> None:
        self.select = w.Select(options=[], rows=8, layout=w.Layout(width="100%"))
        self.select.observe(self.wiz.observer(self, self.on_select), names="value")
        self.use = button("Use this analysis", primary=True)
        self.use.on_click(self.wiz.handler(self, self.on_use))
        self.info = w.HTML()
        self.analyses: dict[str, Any] = {}
        self.exported: dict[str, Any] = {}
        self.card.set_content([self.select, self.info, self.use])

    def controls(self) -> list[w.DOMWidget]:
        return [self.select, self.use]

    def fill(self, answer: AnalysisAnswer) -> None:
        self.select.options = [(answer.summary(), answer.slug)]
        self.select.value = answer.slug

    def enter(self, *, reverted: bool = False) -> None:
        self.retry_action = self.enter
        self.wiz.start(self, self.load())

    async def load(self) -> None:
        ref = self.ref()
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
        slug = self.select.value
        if not slug:
            raise ConfigError("Choose an analysis in the list first.")
        self.retry_action = self.on_use
        a = self.analyses.get(slug)
        if slug in self.exported:
            self.wiz.open_exported(slug, a.name if a else None, self.exported[slug])
            return
        answer = AnalysisAnswer(slug=slug, name=a.name if a else None, date=a.date_launched if a else None)
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
        self.size = button("Size the graph", primary=True)
        self.size.on_click(self.wiz.handler(self, self.on_size))
        self.chart = w.VBox()
        self.card.set_content(
            [
                w.HTML(
                    note(
                        f"The deepest click depth whose internal links fit the limit is exported. Botify exports at "
                        f"most {MAX_EXPORT_ROWS:,} rows per job; lower the limit for a smaller graph."
                    )
                ),
                w.HBox([self.max_edges, self.size], layout=w.Layout(align_items="center")),
                self.chart,
            ]
        )

    def controls(self) -> list[w.DOMWidget]:
        return [self.max_edges, self.size]

    def clear(self) -> None:
        super().clear()
        self.chart.children = ()

    def fill(self, answer: DepthAnswer) -> None:
        self.max_edges.value = answer.max_edges
        self.show_chart(answer)

    def enter(self, *, reverted: bool = False) -> None:
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

    def enter(self, *, reverted: bool = False) -> None:
        self.retry_action = self.enter
        self.wiz.start(self, self.load())

    async def load(self) -> None:
        ref, slug = self.ref(), self.slug()
        self.set(StepState.ACTIVE, note("Reading the fields this project has…"))
        async with self.wiz.client() as client:
            availability = await api.available_meta_fields(client, ref, slug)
        previous = self.answer
        self.crawl_day = Analysis(slug).crawl_date
        self.show_catalog(
            availability.catalog or FieldCatalog(slug),
            availability.fields,
            previous.fields if previous is not None else None,
            previous.gsc_period if previous is not None else None,
        )
        self.set(StepState.READY, "")

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

    def on_use(self) -> None:
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
