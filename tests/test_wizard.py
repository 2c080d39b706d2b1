"""Headless tests of the widget wizard against the fake Botify API over real sockets.

The wizard is driven as a person would: `.value = ...` on its inputs and `.click()` on its buttons, then
`await wizard.wait()` for the tasks the clicks started. Kernel death is simulated by cancelling a
wizard's tasks and building a new one on the same sidecar and downloads folder.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import json
import re
import shlex
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import ipywidgets as w
import pytest

from botify_graph import wizard as w_mod
from botify_graph.errors import ConfigError
from botify_graph.fake import DEMO_USERNAME, FakeBotify, Scenario
from botify_graph.notebook import notebook_settings
from botify_graph.registry import ExportRegistry
from botify_graph.render.tables import depth_table_html
from botify_graph.reproduce import reproduce
from botify_graph.state import STEPS, ParamLog, Sidecar
from botify_graph.token import token_path
from botify_graph.wizard import PipelineModel, StepState, Wizard, parse_candidates, wizard
from botify_graph.wizard.model import ExportAnswer, clamp_max_edges, parse_answer

DIRTY = "  app.botify.com/example-org/example.com/20241108/segmentation?filter=all#overview "
PID = "https://app.botify.com/example-org/example.com/"
NO_GSC = "https://app.botify.com/example-org/no-gsc.example/some/page?x=1"
NO_GSC_PID = "https://app.botify.com/example-org/no-gsc.example/"


async def fast_sleep(seconds: float) -> None:
    """Polls and backoffs without the wait (the rate limiter still sees real time)."""
    await asyncio.sleep(min(seconds, 0.005))


async def stuck_sleep(seconds: float) -> None:
    """Like `fast_sleep`, but a poll delay (>= 1.5 s) never ends: a kernel that dies while polling."""
    if seconds >= 1.5:
        await asyncio.Event().wait()
    await asyncio.sleep(min(seconds, 0.005))


# -- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the real token file or variable."""
    monkeypatch.setenv("BOTIFY_GRAPH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("BOTIFY_API_TOKEN", raising=False)


@pytest.fixture
def fake() -> Iterator[FakeBotify]:
    with FakeBotify(scale=0.02, scenario=Scenario(polls_to_done=2)) as api:
        yield api


@pytest.fixture
async def build(tmp_path: Path, fake: FakeBotify) -> AsyncIterator[Callable[..., Wizard]]:
    """Build wizards on one sidecar and downloads folder; cancel whatever they still run at the end."""
    made: list[Wizard] = []

    def make(**kw: Any) -> Wizard:
        options: dict[str, Any] = dict(
            sidecar_path=tmp_path / "state.json", out_dir=tmp_path / "downloads", api_base=fake.base_url,
            sleep=fast_sleep, notebook_dir=tmp_path,
        )  # fmt: skip
        options.update(kw)
        wiz = Wizard(**options)
        made.append(wiz)
        return wiz

    yield make
    for wiz in made:
        wiz.cancel()
    for wiz in made:
        await wiz.wait(timeout=10)


# -- driving helpers --------------------------------------------------------------------------------------


def focus(wiz: Wizard) -> str:
    return STEPS[wiz.focus]


def error_of(wiz: Wizard, step: str) -> str:
    return str(wiz.steps[step].card.error.value)


async def click(wiz: Wizard, button: w.Button) -> None:
    button.click()
    await wiz.wait(timeout=30)


async def connect(wiz: Wizard, token: str) -> None:
    step: Any = wiz.steps["connect"]
    step.password.value = token
    await click(wiz, step.verify)


async def to_next(wiz: Wizard, step: str) -> None:
    assert wiz.steps[step].state == StepState.SUCCESS, error_of(wiz, step)
    await click(wiz, wiz.steps[step].card.next)


async def do_project(wiz: Wizard, url: str) -> None:
    step: Any = wiz.steps["project"]
    step.url.value = url
    await click(wiz, step.use)


async def do_analysis(wiz: Wizard, slug: str | None = None) -> None:
    step: Any = wiz.steps["analysis"]
    assert step.state == StepState.READY, error_of(wiz, "analysis")
    if slug is not None:
        step.select.value = slug
    await click(wiz, step.use)


async def do_fields(wiz: Wizard) -> None:
    step: Any = wiz.steps["fields"]
    assert step.state == StepState.READY, error_of(wiz, "fields")
    await click(wiz, step.use)


async def through_analysis(wiz: Wizard, token: str, url: str = DIRTY) -> None:
    """Connect, project and analysis: the depth card is open (and has sized the export)."""
    await connect(wiz, token)
    await to_next(wiz, "connect")
    await do_project(wiz, url)
    await to_next(wiz, "project")
    await do_analysis(wiz)
    await to_next(wiz, "analysis")


async def through_fields(wiz: Wizard, token: str, url: str = DIRTY) -> None:
    """Connect, project, analysis, depth (computed on entry) and fields: the export card is open."""
    await through_analysis(wiz, token, url)
    await to_next(wiz, "depth")
    await do_fields(wiz)
    await to_next(wiz, "fields")
    assert focus(wiz) == "export"


def all_widget_states(root: w.Widget) -> str:
    """Every synced value of every widget under `root`, as one JSON text."""
    seen: dict[int, w.Widget] = {}
    todo = [root]
    while todo:
        widget = todo.pop()
        if id(widget) in seen:
            continue
        seen[id(widget)] = widget
        for name in widget.keys:
            value = getattr(widget, name, None)
            items = value if isinstance(value, (list, tuple)) else [value]
            todo.extend(v for v in items if isinstance(v, w.Widget))
    return json.dumps([x.get_state() for x in seen.values()], default=str)


def all_wizard_widgets(wiz: Wizard) -> str:
    roots: list[w.Widget] = [wiz.widget, *(s.card.box for s in wiz.step_list)]
    return "".join(all_widget_states(r) for r in roots)


def html_of(widget: Any) -> str:
    """What an HTML widget shows, without the line-break opportunities (<wbr>) put into paths and commands."""
    return str(widget.value).replace("<wbr>", "")


def text_of(widget: Any) -> str:
    """The text an HTML widget shows (tags and their attributes, such as a tooltip, left out)."""
    return re.sub(r"<[^>]+>", "", str(widget.value))


def files_text(*paths: Path) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in paths if p.exists())


def first_row(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle))


# -- pure parts -------------------------------------------------------------------------------------------


def test_parse_candidates_skips_ad_hoc_and_bad_lines() -> None:
    text = "\n".join(
        [
            "# projects we look after",
            "acme",
            "  shop",
            "  Ad Hoc crawl",
            "  shop-adhoc",
            "  ad-hoc.test",
            "\tblog",
            "",
            "  not a slug",
            "beta-org",
            "    www.beta.example",
            "  shop",
        ]
    )
    assert parse_candidates(text) == [("acme", "shop"), ("acme", "blog"), ("beta-org", "www.beta.example"),
                                      ("beta-org", "shop")]  # fmt: skip
    assert parse_candidates("  orphan\n") == []


def test_pipeline_model_lands_on_first_unfinished_step() -> None:
    steps: dict[str, Any] = {
        "connect": {"username": "u"},
        "project": {"url": PID, "org": "example-org", "project": "example.com"},
        "analysis": {"slug": "20241108"},
        "depth": {"max_edges": 10, "depth": 2, "edges": 9},
        "fields": {"fields": ["pagetype"]},
        "export": {
            "state": "ACTIVE", "project_url": PID, "analysis": "20241108", "max_edges": 10, "fields": ["pagetype"],
            "out_dir": "downloads", "api_base": "http://x/v1", "poll_timeout_s": 60,
        },
    }  # fmt: skip
    model = PipelineModel.from_record(PID, {"steps": steps})
    assert STEPS[model.landing(after=0)] == "export"
    assert model.answer("export").state == "ACTIVE"
    # a broken answer counts as unanswered, and so does everything after it
    broken = dict(steps, depth={"max_edges": "lots"})
    model = PipelineModel.from_record(PID, {"steps": broken})
    assert STEPS[model.landing(after=0)] == "depth" and model.answer("fields") is None
    assert parse_answer("export", {"state": "SUCCESS"}) is None
    # round trip
    answer = model.answer("analysis")
    assert parse_answer("analysis", answer.to_json()) == answer
    export = ExportAnswer.from_json(steps["export"])
    assert ExportAnswer.from_json(export.to_json()) == export


def test_row_limit_is_checked() -> None:
    assert clamp_max_edges(5000) == 5000
    for bad in (0, -1, 1_000_001, "10", True):
        with pytest.raises(ConfigError):
            clamp_max_edges(bad)


def test_depth_table_marks_limit_and_choice() -> None:
    html = depth_table_html([(0, 5), (1, 50), (2, 500)], [(0, 5), (1, 45), (2, 450)], 100, 1)
    assert "◀ chosen" in html and "limit 100 rows" in html and "over the limit" in html
    assert html.index("◀ chosen") < html.index("limit 100 rows") < html.index("over the limit")


# -- the whole flow ---------------------------------------------------------------------------------------


async def test_full_flow_from_dirty_url_to_two_csvs(build: Callable[..., Wizard], fake: FakeBotify,
                                                    tmp_path: Path) -> None:  # fmt: skip
    wiz = build()
    await wiz.wait()
    assert focus(wiz) == "connect" and wiz.steps["connect"].state == StepState.READY
    # Next is only offered on SUCCESS
    assert wiz.steps["connect"].card.next.layout.display == "none"

    await connect(wiz, fake.token)
    step: Any = wiz.steps["connect"]
    assert step.state == StepState.SUCCESS
    assert DEMO_USERNAME in step.greeting.value and "Saved for next time" in step.greeting.value
    assert token_path().read_text().strip() == fake.token
    assert step.password.value == ""
    await to_next(wiz, "connect")

    project: Any = wiz.steps["project"]
    project.url.value = DIRTY
    assert PID in project.cleaned.value  # the cleaned URL shows while typing
    await click(wiz, project.use)
    assert project.state == StepState.SUCCESS
    assert "Nothing exported yet" in html_of(project.existing)
    await to_next(wiz, "project")

    analysis: Any = wiz.steps["analysis"]
    slugs = [value for _, value in analysis.select.options]
    assert slugs == ["20241108", "20241101-2", "20241101"]  # newest first, success only
    assert analysis.select.value == "20241108"  # named by the pasted URL
    await do_analysis(wiz)
    await to_next(wiz, "analysis")

    depth: Any = wiz.steps["depth"]
    assert depth.state == StepState.SUCCESS, error_of(wiz, "depth")
    assert depth.max_edges.value == 1_000_000
    assert "◀ chosen" in depth.chart.children[-1].value  # the table (after the chart when viz is there)
    await to_next(wiz, "depth")

    fields: Any = wiz.steps["fields"]
    defaults = ["pagetype", "is_compliant", "canonical_equal", "sitemaps_present", "depth", "impressions", "clicks"]
    assert list(fields.boxes)[:7] == defaults  # then every other field of the catalogue, unticked
    assert [k for k, box in fields.boxes.items() if box.value] == defaults
    fields.boxes["clicks"].value = False
    await do_fields(wiz)
    await to_next(wiz, "fields")

    export: Any = wiz.steps["export"]
    assert export.state == StepState.READY and "20241108" in export.plan.value
    await click(wiz, export.go)
    assert focus(wiz) == "result", error_of(wiz, "export")

    folder = tmp_path / "downloads" / "example-org" / "example.com"
    links, meta = folder / "example.com_20241108_links.csv", folder / "example.com_20241108_meta.csv"
    assert first_row(links) == ["source", "target"]
    assert first_row(meta) == [
        "id",
        "pagetype",
        "is_compliant",
        "canonical_equal",
        "sitemaps_present",
        "depth",
        "impressions",
    ]
    for row in export.rows.values():
        assert row.phase == "done" and row.fraction == 1.0 and "width:100%" in row.bar.value
        assert "poll" in row.text.value and "job" in row.text.value
    result: Any = wiz.steps["result"]
    assert result.state == StepState.SUCCESS
    assert "example.com_20241108_links.csv" in html_of(result.files)
    assert "downloads/example-org/example.com" in html_of(result.files)  # the folder, once
    assert "papermill" in html_of(result.next_steps) and "pd.read_csv" in html_of(result.next_steps)
    assert "-r analysis 20241108" in html_of(result.next_steps)
    assert isinstance(result.summary_box.children[-1], w.Accordion)  # the graph summary
    await click(wiz, result.view)
    assert "<iframe" in result.graph_box.children[0].value and result.state == StepState.SUCCESS
    assert len(fake.jobs_of_kind("links")) == 1 and len(fake.jobs_of_kind("meta")) == 1

    record = Sidecar(tmp_path / "state.json").pipeline(PID)
    assert record is not None
    assert record["steps"]["connect"] == {"username": DEMO_USERNAME}
    assert record["steps"]["export"]["state"] == "SUCCESS"
    assert [e["step"] for e in ParamLog(tmp_path / "state.jsonl").read(PID)] == [
        "connect", "project", "analysis", "depth", "fields", "export"
    ]  # fmt: skip
    # the token is in no state file and no widget
    state_files = files_text(tmp_path / "state.json", tmp_path / "state.jsonl",
                             tmp_path / "downloads" / "export_registry.json")  # fmt: skip
    assert fake.token not in state_files
    assert fake.token not in all_wizard_widgets(wiz)
    for path in tmp_path.rglob("*"):  # nowhere on disk but the token file
        if path.is_file() and path != token_path():
            assert fake.token.encode() not in path.read_bytes(), path

    # One mapping: the Result card's papermill command, `botify-graph reproduce` and the notebook's own
    # parameter handling agree on this pipeline, down to the folder and the API.
    shown = shlex.split(result.papermill())
    reproduced = reproduce(tmp_path / "state.json")
    assert shown == shlex.split(reproduced.command)
    parameters = dict(zip(shown[4::3], shown[5::3], strict=True))
    assert parameters == {k: str(v) for k, v in reproduced.parameters.items()}
    settings = notebook_settings(**{**parameters, "max_edges": int(parameters["max_edges"])}, home=tmp_path)
    answer = wiz.model.answer("export")
    assert settings.params == answer.to_params().validated()
    assert settings.params.fields == ("pagetype", "is_compliant", "canonical_equal", "sitemaps_present", "depth",
                                      "impressions")  # fmt: skip


async def test_resume_after_every_step_lands_on_the_first_unfinished_one(
    build: Callable[..., Wizard], fake: FakeBotify
) -> None:
    wiz = build()

    async def reopened(expected: str) -> Wizard:
        again = build()  # the token comes from the token file saved by step 1
        await again.wait()
        assert focus(again) == expected, [error_of(again, s) for s in STEPS]
        assert again.steps["connect"].state == StepState.SUCCESS or focus(again) == "connect"
        return again

    await connect(wiz, fake.token)
    again = await reopened("project")  # no project yet: nothing else is known
    assert text_of(again.steps["connect"].card.summary).count(DEMO_USERNAME) == 1
    await to_next(wiz, "connect")
    await do_project(wiz, DIRTY)
    again = await reopened("analysis")
    assert PID in again.steps["project"].card.summary.value
    assert again.steps["project"].url.value == PID  # type: ignore[attr-defined]
    assert again.steps["analysis"].state == StepState.READY  # its list was loaded on landing
    await to_next(wiz, "project")
    await do_analysis(wiz, "20241101")
    again = await reopened("depth")
    assert "20241101" in again.steps["analysis"].card.summary.value
    assert again.steps["depth"].state == StepState.SUCCESS  # sized on landing
    await to_next(wiz, "analysis")
    depth: Any = wiz.steps["depth"]
    depth.max_edges.value = 20_000
    await click(wiz, depth.size)
    again = await reopened("fields")
    assert "limit 20,000" in again.steps["depth"].card.summary.value
    assert again.steps["depth"].max_edges.value == 20_000  # type: ignore[attr-defined]
    await to_next(wiz, "depth")
    await do_fields(wiz)
    again = await reopened("export")
    assert again.steps["export"].state == StepState.READY
    assert "pagetype" in again.steps["fields"].card.summary.value
    await to_next(wiz, "fields")
    await click(wiz, wiz.steps["export"].go)  # type: ignore[attr-defined]
    assert focus(wiz) == "result"
    again = await reopened("result")
    assert again.steps["result"].state == StepState.SUCCESS
    assert "links" in again.steps["export"].card.summary.value
    assert len(fake.jobs) == 2


async def test_killed_mid_export_resumes_the_same_jobs(build: Callable[..., Wizard], fake: FakeBotify,
                                                       tmp_path: Path) -> None:  # fmt: skip
    first = build(sleep=stuck_sleep)
    await through_fields(first, fake.token)
    export: Any = first.steps["export"]
    export.go.click()
    registry = ExportRegistry(tmp_path / "downloads" / "export_registry.json")
    for _ in range(1000):  # until both jobs are created and recorded
        records = registry.records()
        if len(records) == 2 and all(r.job_id is not None and r.status == "CREATED" for r in records):
            break
        await asyncio.sleep(0.01)
    else:
        pytest.fail(f"the jobs were not recorded: {registry.records()}")
    assert export.running and export.go.disabled
    export.go.click()  # a second click while it runs starts nothing
    first.cancel()  # the kernel dies
    await first.wait()
    record = Sidecar(tmp_path / "state.json").pipeline(PID)
    assert record is not None and record["steps"]["export"]["state"] == "ACTIVE"
    job_ids = sorted(fake.jobs)

    second = build()  # a new kernel: the export restarts by itself
    await second.wait()
    assert focus(second) == "result", error_of(second, "export")
    assert sorted(fake.jobs) == job_ids
    assert len(fake.jobs_of_kind("links")) == 1 and len(fake.jobs_of_kind("meta")) == 1
    assert len(fake.requests_to("/jobs", method="POST")) == 2
    assert all(r.status == "DOWNLOADED" for r in registry.records())
    done = Sidecar(tmp_path / "state.json").pipeline(PID)
    assert done is not None and done["steps"]["export"]["state"] == "SUCCESS"
    assert text_of(second.steps["export"].card.summary).count("37,033") in (0, 1)
    assert all("resumed, not created again" in r.text.value for r in second.steps["export"].rows.values())


async def test_a_second_wizard_in_the_same_kernel_takes_the_export_over(
    build: Callable[..., Wizard], fake: FakeBotify, tmp_path: Path
) -> None:
    first = build(sleep=stuck_sleep)
    await through_fields(first, fake.token)
    first.steps["export"].go.click()  # type: ignore[attr-defined]
    registry = ExportRegistry(tmp_path / "downloads" / "export_registry.json")
    for _ in range(1000):
        if len(registry.records()) == 2 and all(r.status == "CREATED" for r in registry.records()):
            break
        await asyncio.sleep(0.01)
    second = build()  # the cell is run again while the first wizard still polls
    await second.wait()
    assert focus(second) == "result", error_of(second, "export")
    assert not first.steps["export"].running
    assert "followed by the wizard" in first.steps["export"].card.status.value
    assert len(fake.jobs) == 2


async def test_revert_clears_later_steps_and_keeps_earlier_answers(build: Callable[..., Wizard], fake: FakeBotify,
                                                                   tmp_path: Path) -> None:  # fmt: skip
    wiz = build()
    await through_fields(wiz, fake.token)
    sidecar = Sidecar(tmp_path / "state.json")
    depth: Any = wiz.steps["depth"]
    assert depth.card.change.layout.display != "none"
    assert wiz.steps["export"].card.change.layout.display == "none"  # the open card has no Change
    await click(wiz, depth.card.change)
    assert focus(wiz) == "depth"
    record = sidecar.pipeline(PID)
    assert record is not None
    assert set(record["steps"]) == {"connect", "project", "analysis"}
    assert wiz.steps["fields"].state == StepState.INIT and wiz.model.answer("fields") is None
    assert wiz.steps["project"].url.value == PID  # type: ignore[attr-defined]
    # the depth step is open again with its limit, waiting for a new one
    assert depth.state == StepState.READY and depth.max_edges.value == 1_000_000
    assert depth.card.next.layout.display == "none"
    depth.max_edges.value = 5_000
    await click(wiz, depth.size)
    assert depth.state == StepState.SUCCESS
    assert wiz.model.answer("depth").max_edges == 5_000
    assert wiz.model.answer("depth").depth < 7
    depth.max_edges.value = 4_000
    assert depth.state == StepState.READY  # a changed limit must be applied before Next
    assert depth.card.next.layout.display == "none"
    # a limit over what Botify allows is refused in the card
    depth.max_edges.value = 2_000_000
    await click(wiz, depth.size)
    assert depth.state == StepState.FAIL and "1,000,000" in error_of(wiz, "depth")


def visible_question(wiz: Wizard) -> str | None:
    """The text of a question the wizard asks where a person can see it: the toolbar, or an open card's body."""
    for step in wiz.step_list:
        confirm = step.card.confirm
        if confirm.asking and step.card.body.layout.display != "none":
            return str(confirm.text.value)
    return str(wiz.confirm.text.value) if wiz.confirm.asking else None


async def until_jobs(fake: FakeBotify, n: int = 2) -> None:
    for _ in range(1000):
        if len(fake.jobs) == n:
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"{n} jobs were not created: {len(fake.jobs)}")


async def test_going_back_past_a_running_export_asks_first(build: Callable[..., Wizard], fake: FakeBotify,
                                                           tmp_path: Path) -> None:  # fmt: skip
    """The question is asked where it can be seen (it used to go to the collapsed card's hidden body), before
    and after a reload."""
    wiz = build(sleep=stuck_sleep)
    await through_fields(wiz, fake.token)
    export: Any = wiz.steps["export"]
    export.go.click()
    await until_jobs(fake)
    fields = wiz.steps["fields"]
    fields.card.change.click()
    question = visible_question(wiz)
    assert question and "An export is running" in question and "step 5 (Fields)" in question
    assert export.running and focus(wiz) == "export"
    export.card.confirm.no.click()
    assert visible_question(wiz) is None and export.running

    wiz.cancel()  # a reload: a new kernel resumes the export, and the question is still seen
    await wiz.wait()
    again = build(sleep=stuck_sleep)
    for _ in range(1000):
        if again.steps["export"].running:
            break
        await asyncio.sleep(0.01)
    again.steps["depth"].card.change.click()
    question = visible_question(again)
    assert question and "step 4 (Depth)" in question and focus(again) == "export"
    again.steps["export"].card.confirm.yes.click()
    await again.wait()
    assert not again.steps["export"].running and focus(again) == "depth"
    record = Sidecar(tmp_path / "state.json").pipeline(PID)
    assert record is not None and "export" not in record["steps"] and "depth" not in record["steps"]
    assert len(fake.jobs) == 2  # the resumed export created nothing


async def test_finalize_blocks_edits_and_unfinalize_allows_them(build: Callable[..., Wizard], fake: FakeBotify,
                                                               tmp_path: Path) -> None:  # fmt: skip
    wiz = build()
    await through_fields(wiz, fake.token)
    assert wiz.finalize_button.layout.display == "none"  # nothing to finalize before the export
    await click(wiz, wiz.steps["export"].go)  # type: ignore[attr-defined]
    assert wiz.finalize_button.layout.display != "none"
    await click(wiz, wiz.finalize_button)
    sidecar = Sidecar(tmp_path / "state.json")
    assert sidecar.pipeline(PID)["finalized"] is True  # type: ignore[index]
    assert all(s.card.change.layout.display == "none" for s in wiz.step_list)
    assert wiz.steps["depth"].max_edges.disabled  # type: ignore[attr-defined]
    wiz.steps["depth"].card.change.click()  # even a click that gets through changes nothing
    assert "finalized" in error_of(wiz, "depth") and focus(wiz) == "result"
    assert "depth" in sidecar.pipeline(PID)["steps"]  # type: ignore[index]
    again = build()  # the lock holds in a new session
    await again.wait()
    assert again.model.finalized and focus(again) == "result"
    assert "finalized" in again.pipeline_label.value
    await click(again, again.unfinalize_button)
    assert sidecar.pipeline(PID)["finalized"] is False  # type: ignore[index]
    await click(again, again.steps["depth"].card.change)
    assert focus(again) == "depth" and "fields" not in sidecar.pipeline(PID)["steps"]  # type: ignore[index]


async def test_new_project_and_switching_pipelines_by_url(build: Callable[..., Wizard], fake: FakeBotify,
                                                          tmp_path: Path) -> None:  # fmt: skip
    wiz = build()
    await through_fields(wiz, fake.token)
    await click(wiz, wiz.new_button)
    project: Any = wiz.steps["project"]
    assert focus(wiz) == "project" and project.url.value == "" and wiz.model.pid is None
    assert wiz.steps["connect"].state == StepState.SUCCESS  # still connected
    reloaded = build()  # a page refresh before the new URL is pasted lands on the empty project step
    await reloaded.wait()
    assert reloaded.model.pid is None and focus(reloaded) == "project"
    await do_project(wiz, NO_GSC)
    assert wiz.model.pid == NO_GSC_PID
    await to_next(wiz, "project")
    await do_analysis(wiz)
    await to_next(wiz, "analysis")
    await to_next(wiz, "depth")
    fields: Any = wiz.steps["fields"]
    assert "impressions" not in fields.boxes and "clicks" not in fields.boxes  # no Search Console here
    assert "Search Console" in fields.missing.value
    sidecar = Sidecar(tmp_path / "state.json")
    assert set(sidecar.pipelines()) == {PID, NO_GSC_PID}
    # pasting the first project's (dirty) URL switches back to its pipeline, where it stopped
    await click(wiz, wiz.new_button)
    await do_project(wiz, DIRTY)
    assert wiz.model.pid == PID and sidecar.current() == PID
    assert focus(wiz) == "export" and "Switched" in wiz.message.value
    # and a new session opens the pipeline that was used last
    again = build()
    await again.wait()
    assert again.model.pid == PID and focus(again) == "export"


async def test_bad_token_fails_connect_and_is_never_kept(build: Callable[..., Wizard], tmp_path: Path) -> None:
    bad = "not-the-token-0123456789"
    wiz = build()
    await connect(wiz, bad)
    step: Any = wiz.steps["connect"]
    assert step.state == StepState.FAIL
    first = error_of(wiz, "connect")
    assert "rejected the token you pasted" in first and "paste it here" in first
    assert "BOTIFY_API_TOKEN" not in first  # the user never set it: the message names what was checked
    assert "Traceback" not in first
    # a second wrong paste says it was checked again, not the identical message
    await connect(wiz, bad + "x")
    second = error_of(wiz, "connect")
    assert second != first and "attempt 2" in second and "checked at" in second
    assert step.card.retry.layout.display != "none"
    assert bad not in all_wizard_widgets(wiz)
    assert not token_path().exists()
    assert wiz.token is None
    assert bad not in files_text(tmp_path / "state.json", tmp_path / "state.jsonl")


async def test_env_token_is_verified_on_build_and_not_saved(build: Callable[..., Wizard], fake: FakeBotify,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("BOTIFY_API_TOKEN", fake.token)
    wiz = build()
    await wiz.wait()
    assert focus(wiz) == "project"
    step: Any = wiz.steps["connect"]
    assert "BOTIFY_API_TOKEN" in step.greeting.value and DEMO_USERNAME in step.greeting.value
    assert not token_path().exists()
    assert fake.token not in all_wizard_widgets(wiz)


async def test_corrupt_sidecar_shows_the_file_and_keeps_it(build: Callable[..., Wizard], tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(b'{"schema_version": 1, "pipelines": {')
    before = path.read_bytes()
    wiz = build()
    await wiz.wait()
    text = all_widget_states(wiz.widget)
    assert str(path) in text and "corrupt" in text
    assert len(wiz.widget.children) == 2  # the title and the message: no steps
    assert path.read_bytes() == before


async def test_newer_sidecar_is_refused_with_its_name(build: Callable[..., Wizard], tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"schema_version": 99, "pipelines": {}}))
    before = path.read_bytes()
    wiz = build()
    text = all_widget_states(wiz.widget)
    assert str(path) in text and "schema_version 99" in text
    assert path.read_bytes() == before


async def test_invalid_url_shows_its_message_in_the_card(build: Callable[..., Wizard], fake: FakeBotify) -> None:
    wiz = build()
    await connect(wiz, fake.token)
    await to_next(wiz, "connect")
    project: Any = wiz.steps["project"]
    project.url.value = "https://example.com/not/botify"
    assert "not a Botify project URL" in project.cleaned.value
    await click(wiz, project.use)
    assert project.state == StepState.FAIL and "not a Botify project URL" in error_of(wiz, "project")
    project.url.value = DIRTY
    await click(wiz, project.card.retry)
    assert project.state == StepState.SUCCESS and error_of(wiz, "project") == ""


async def test_an_unexpected_error_in_a_task_is_a_message_in_its_card(
    build: Callable[..., Wizard], fake: FakeBotify, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botify_graph.wizard import steps

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    wiz = build()
    await connect(wiz, fake.token)
    await to_next(wiz, "connect")
    await do_project(wiz, DIRTY)
    with monkeypatch.context() as patch:
        patch.setattr(steps.api, "fetch_analyses_light", broken)
        await to_next(wiz, "project")
    analysis = wiz.steps["analysis"]
    assert analysis.state == StepState.FAIL
    assert "Something unexpected went wrong (RuntimeError: boom)" in error_of(wiz, "analysis")
    assert "Traceback" not in error_of(wiz, "analysis")
    await click(wiz, analysis.card.retry)
    assert analysis.state == StepState.READY and error_of(wiz, "analysis") == ""


async def test_exported_analysis_opens_its_files_without_exporting(
    build: Callable[..., Wizard], fake: FakeBotify
) -> None:
    wiz = build()
    await through_fields(wiz, fake.token)
    await click(wiz, wiz.steps["export"].go)  # type: ignore[attr-defined]
    await click(wiz, wiz.steps["project"].card.change)
    project: Any = wiz.steps["project"]
    await click(wiz, project.use)
    assert "example.com_20241108_links.csv" in html_of(project.existing) and "DOWNLOADED" in html_of(project.existing)
    await to_next(wiz, "project")
    analysis: Any = wiz.steps["analysis"]
    labels = dict((v, k) for k, v in analysis.select.options)
    assert "✓ exported" in labels["20241108"] and "✓ exported" not in labels["20241101"]
    analysis.select.value = "20241108"
    assert analysis.use.description == "Open the exported files"
    await click(wiz, analysis.use)
    assert focus(wiz) == "result"
    assert "already there" in html_of(wiz.steps["result"].files)  # type: ignore[attr-defined]
    assert len(fake.jobs) == 2  # nothing exported again


async def test_failed_job_shows_message_and_retry_starts_a_new_job(build: Callable[..., Wizard], fake: FakeBotify,
                                                                   tmp_path: Path) -> None:  # fmt: skip
    fake.scenario = Scenario(polls_to_done=1, fail_jobs=1, fail_match="outlinks_internal")
    wiz = build()
    await through_fields(wiz, fake.token)
    export: Any = wiz.steps["export"]
    await click(wiz, export.go)
    assert export.state == StepState.FAIL and "failed" in error_of(wiz, "export")
    assert "new Botify job" in export.card.retry.description
    record = Sidecar(tmp_path / "state.json").pipeline(PID)
    assert record is not None and record["steps"]["export"]["state"] == "FAIL"
    # a new session shows the failure too, with the same retry
    again = build()
    await again.wait()
    assert focus(again) == "export" and again.steps["export"].state == StepState.FAIL
    assert "failed" in error_of(again, "export")
    await click(again, again.steps["export"].card.retry)
    assert focus(again) == "result", error_of(again, "export")
    assert len(fake.jobs_of_kind("links")) == 2 and len(fake.jobs_of_kind("meta")) == 1
    assert ParamLog(tmp_path / "state.jsonl").latest_values(PID)["export"]["retry_failed"] is True


async def test_candidates_file_fills_the_url(build: Callable[..., Wizard], fake: FakeBotify, tmp_path: Path) -> None:
    candidates = tmp_path / "candidates.txt"
    candidates.write_text("example-org\n  example.com\n  ad hoc test\nother\n  x.y\n", encoding="utf-8")
    wiz = build(candidates_path=candidates)
    await connect(wiz, fake.token)
    await to_next(wiz, "connect")
    project: Any = wiz.steps["project"]
    assert [v for _, v in project.candidates.options] == ["", PID, "https://app.botify.com/other/x.y/"]
    project.candidates.value = PID
    assert project.url.value == PID
    await click(wiz, project.use)
    assert wiz.model.pid == PID


async def test_looks(build: Callable[..., Wizard]) -> None:
    wiz = build()
    assert isinstance(wizard(sidecar_path=wiz.sidecar.path, out_dir="unused"), w.VBox)
    assert wiz.widget.layout.max_width == "900px" and wiz.widget.layout.width == "100%"
    assert "application/vnd.jupyter.widget-view+json" in wiz._repr_mimebundle_()
    titles = [s.card.heading.value for s in wiz.step_list]
    assert all(f"{i + 1} · " in t for i, t in enumerate(titles))
    buttons = [x for x in json.loads(all_widget_states(wiz.widget)) if x.get("_model_name") == "ButtonModel"]
    assert buttons and all(not b.get("icon") for b in buttons)  # unicode symbols, no icon font


async def test_result_compares_two_exported_crawls(build: Callable[..., Wizard], fake: FakeBotify,
                                                   tmp_path: Path) -> None:  # fmt: skip
    wiz = build()
    await through_fields(wiz, fake.token)
    export: Any = wiz.steps["export"]
    await click(wiz, export.go)
    await wiz.wait(timeout=60)
    result: Any = wiz.steps["result"]
    assert result.state == StepState.SUCCESS
    # only one analysis exported: no comparison yet, a hint says how to get one
    assert result.compare_row.layout.display == "none" and "export another analysis" in result.compare_hint.value

    analysis: Any = wiz.steps["analysis"]
    await click(wiz, analysis.card.change)
    await do_analysis(wiz, "20241101")
    await to_next(wiz, "analysis")
    await to_next(wiz, "depth")
    await do_fields(wiz)
    await to_next(wiz, "fields")
    await click(wiz, export.go)
    await wiz.wait(timeout=60)
    assert result.state == StepState.SUCCESS, error_of(wiz, "result")
    assert result.compare_row.layout.display != "none"
    assert list(result.compare_with.options) == ["20241108"]
    await click(wiz, result.compare)
    assert result.state == StepState.SUCCESS, error_of(wiz, "result")
    shown = result.compare_box.children[0].value
    assert "20241101" in shown and "20241108" in shown
    assert "<h3>Depth changes</h3>" in shown  # both meta files carry the depth field
    report = tmp_path / "downloads" / "example-org" / "example.com" / "example.com_20241101_vs_20241108_compare.md"
    assert report.is_file()


# -- traps of the app (issue 11): each test failed before its fix --------------------------------------------

UNKNOWN = "https://app.botify.com/example-org/no-such-project.example/20241108/"
FOREIGN = "https://app.botify.com/another-org/their-site.example/"


@pytest.mark.parametrize(
    ("url", "status", "words"), [(UNKNOWN, "404", "has no project"), (FOREIGN, "403", "no access")]
)
async def test_unknown_project_after_new_project_shows_nothing_from_before(
    build: Callable[..., Wizard], fake: FakeBotify, tmp_path: Path, url: str, status: str, words: str
) -> None:
    """The old pipeline's analysis list used to stay, "Use this analysis" accepted it, and the error only came
    at the Depth step; the row limit kept the old pipeline's value."""
    wiz = build()
    await through_analysis(wiz, fake.token)
    depth: Any = wiz.steps["depth"]
    depth.max_edges.value = 20_000
    await click(wiz, depth.size)
    await to_next(wiz, "depth")
    assert focus(wiz) == "fields"

    await click(wiz, wiz.new_button)
    project: Any = wiz.steps["project"]
    analysis: Any = wiz.steps["analysis"]
    assert analysis.select.options == () and analysis.analyses == {}  # nothing of the old pipeline is kept
    await do_project(wiz, url)
    # the project is checked before the step succeeds: a clear message on the Project card, no switch
    assert project.state == StepState.FAIL and focus(wiz) == "project"
    message = error_of(wiz, "project")
    assert status in message and words in message and "Nothing was changed" in message
    assert wiz.model.pid is None and wiz.model.answer("project") is None
    assert project.card.next.layout.display == "none"
    assert Sidecar(tmp_path / "state.json").pipelines() == [PID]  # no record for the broken project
    assert analysis.select.options == () and analysis.use.disabled
    analysis.use.click()  # even a click that gets through accepts nothing
    assert wiz.model.answer("analysis") is None

    # a real project afterwards starts from Botify's default limit, not the previous pipeline's 20,000
    await do_project(wiz, NO_GSC)
    await to_next(wiz, "project")
    await do_analysis(wiz)
    await to_next(wiz, "analysis")
    assert depth.max_edges.value == 1_000_000 and wiz.model.answer("depth").max_edges == 1_000_000


async def test_a_failed_load_shows_no_answer_from_before(
    build: Callable[..., Wizard], fake: FakeBotify, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The general rule: a step whose loading failed, or whose inputs changed, shows nothing it made before."""
    from botify_graph.errors import ApiError
    from botify_graph.wizard import steps

    wiz = build()
    await through_fields(wiz, fake.token)
    analysis: Any = wiz.steps["analysis"]
    await click(wiz, analysis.card.change)  # the list is loaded again for the same project
    assert analysis.state == StepState.READY and len(analysis.select.options) == 3

    async def down(*args: Any, **kwargs: Any) -> Any:
        raise ApiError("Botify had a server error while listing analyses (503). Try again in a few minutes.")

    monkeypatch.setattr(steps.api, "fetch_analyses_light", down)
    await click(wiz, analysis.card.retry)
    assert analysis.state == StepState.FAIL and "503" in error_of(wiz, "analysis")
    assert analysis.select.options == () and analysis.info.value == "" and analysis.use.disabled
    await click(wiz, analysis.use)
    assert wiz.model.answer("analysis") is None and focus(wiz) == "analysis"

    # inputs changed under a card (its project answer replaced): the card is wiped before it is shown again
    monkeypatch.undo()
    await click(wiz, analysis.card.retry)
    assert analysis.state == StepState.READY and analysis.view_current
    wiz.model.answers["project"] = dataclasses.replace(wiz.model.answer("project"), analysis_hint="20241101")
    assert not analysis.view_current
    wiz.render()
    assert analysis.use.disabled
    with pytest.raises(ConfigError, match="made for other earlier answers"):
        analysis.on_use()
    assert analysis.select.options == ()


async def test_non_botify_url_error_shows_once_and_new_project_note_goes(
    build: Callable[..., Wizard], fake: FakeBotify
) -> None:
    wiz = build()
    await through_fields(wiz, fake.token)
    await click(wiz, wiz.new_button)
    assert "New project" in wiz.message.value
    project: Any = wiz.steps["project"]
    project.url.value = "https://example.com/not/botify"
    await click(wiz, project.use)
    assert project.state == StepState.FAIL
    assert all_widget_states(wiz.widget).count("not a Botify project URL") == 1  # the error box only
    project.url.value = NO_GSC  # typing again: the stale error goes
    assert project.state == StepState.READY and error_of(wiz, "project") == ""
    await click(wiz, project.use)
    assert wiz.message.value == ""  # "New project: paste its URL in step 2." is done with
    await click(wiz, wiz.new_button)
    await do_project(wiz, DIRTY)  # a saved pipeline: switched, and the note says so until another card opens
    assert "Switched" in wiz.message.value and focus(wiz) == "export"
    await click(wiz, wiz.steps["fields"].card.change)
    assert wiz.message.value == ""


async def test_progress_is_honest_while_botify_reports_nothing(build: Callable[..., Wizard], fake: FakeBotify) -> None:
    """The bar used to grow 5% per poll; Botify reports no progress, so it is indeterminate, with time and polls."""
    from botify_graph.pipeline import Event

    wiz = build(sleep=stuck_sleep)
    await through_fields(wiz, fake.token)
    export: Any = wiz.steps["export"]
    export.go.click()
    row = export.rows["links"]
    for _ in range(1000):
        if row.polls >= 1:
            break
        await asyncio.sleep(0.01)
    assert row.phase == "pending" and row.fraction is None
    assert "bg-pending" in row.bar.value and "@keyframes" in row.bar.value and "aria-valuenow" not in row.bar.value
    first = row.bar.value
    export.on_event(Event("job_status", "poll:links", "", 30.0, {"job_id": row.job_id, "status": "PROCESSING",
                                                                "polls": 7}))  # fmt: skip
    assert row.bar.value == first  # more polls do not fake progress
    text = html_of(row.text)
    assert "PROCESSING" in text and "7 polls" in text and "for " in text and "reports no progress" in text
    assert "job " in text
    # the download shows real bytes, and a real bar when the size is known
    export.on_event(Event("download_progress", "download:links", "", None, {"bytes": 512, "total": 2048}))
    assert row.fraction == 0.25 and 'aria-valuenow="25"' in row.bar.value and "of 2.0 KB" in html_of(row.text)
    export.on_event(Event("download_progress", "download:meta", "", None, {"bytes": 4096, "total": None}))
    assert export.rows["meta"].fraction is None and "4.0 KB" in html_of(export.rows["meta"].text)
    # what was checked before the jobs reads as done, not as the current step
    assert "Checked before the jobs" in export.prep.value and "graph sized ✓" in export.prep.value
    assert not export.prep.value.lstrip().startswith("✓ Depth")
    wiz.cancel()


async def test_export_time_is_the_whole_export_across_reloads(
    build: Callable[..., Wizard], fake: FakeBotify, tmp_path: Path
) -> None:
    """After a reload the Result card used to count only the resumed part."""
    from datetime import datetime, timedelta, timezone

    first = build(sleep=stuck_sleep)
    await through_fields(first, fake.token)
    first.steps["export"].go.click()  # type: ignore[attr-defined]
    await until_jobs(fake)
    first.cancel()  # the page is closed...
    await first.wait()
    sidecar = Sidecar(tmp_path / "state.json")
    record = sidecar.pipeline(PID)
    assert record is not None
    started = (datetime.now(timezone.utc) - timedelta(minutes=12)).isoformat()  # ...and the export began 12 min ago
    sidecar.save_step(PID, "export", {**record["steps"]["export"], "started": started})

    again = build()
    await again.wait()
    assert focus(again) == "result", error_of(again, "export")
    export = again.model.answer("export")
    assert export.started == started and export.finished and export.elapsed >= 12 * 60
    result: Any = again.steps["result"]
    summary = result.summary_box.children[0].value
    assert "export time" in summary and "12 min" in summary and started[:19].replace("T", " ") in summary


async def test_a_second_export_of_an_analysis_asks_and_keeps_the_first(
    build: Callable[..., Wizard], fake: FakeBotify, tmp_path: Path
) -> None:
    wiz = build()
    await through_fields(wiz, fake.token)
    export: Any = wiz.steps["export"]
    await click(wiz, export.go)
    assert focus(wiz) == "result"
    depth: Any = wiz.steps["depth"]
    await click(wiz, depth.card.change)
    depth.max_edges.value = 20_000
    await click(wiz, depth.size)
    await to_next(wiz, "depth")
    fields: Any = wiz.steps["fields"]
    fields.boxes["clicks"].value = False
    await do_fields(wiz)
    await to_next(wiz, "fields")

    await click(wiz, export.go)  # asks first: the same analysis was exported with other settings
    question = visible_question(wiz)
    assert question is not None and len(fake.jobs) == 2 and wiz.model.answer("export") is None
    assert "20241108 was already exported with limit 1,000,000 · 7 fields" in question
    assert "(limit 20,000 · 6 fields)" in question
    assert "example.com_20241108_links.limit1000000.csv" in question
    assert "example.com_20241108_meta.limit1000000-7fields-" in question
    export.card.confirm.no.click()
    await wiz.wait()
    assert len(fake.jobs) == 2 and focus(wiz) == "export"

    await click(wiz, export.go)
    export.card.confirm.yes.click()
    await wiz.wait(timeout=60)
    assert focus(wiz) == "result", error_of(wiz, "export")
    assert len(fake.jobs) == 4
    folder = tmp_path / "downloads" / "example-org" / "example.com"
    kept = sorted(p.name for p in folder.glob("example.com_20241108_*.limit*.csv"))
    assert len(kept) == 2 and kept[0] == "example.com_20241108_links.limit1000000.csv"
    result: Any = wiz.steps["result"]
    assert "kept beside it" in html_of(result.kept) and kept[0] in html_of(result.kept)
    assert "limit 1,000,000 · 7 fields" in html_of(result.kept)
    await click(wiz, wiz.steps["project"].card.change)
    await click(wiz, wiz.steps["project"].use)  # type: ignore[attr-defined]
    existing = html_of(wiz.steps["project"].existing)  # type: ignore[attr-defined]
    assert existing.count("(kept)") == 2 and "limit 20,000 · 6 fields" in existing


async def test_saved_pipelines_picker_and_start_from_these_settings(
    build: Callable[..., Wizard], fake: FakeBotify, tmp_path: Path
) -> None:
    wiz = build()
    await through_analysis(wiz, fake.token)
    depth: Any = wiz.steps["depth"]
    depth.max_edges.value = 30_000
    await click(wiz, depth.size)
    await to_next(wiz, "depth")
    fields: Any = wiz.steps["fields"]
    for name in ("impressions", "clicks", "sitemaps_present"):
        fields.boxes[name].value = False
    await do_fields(wiz)
    await to_next(wiz, "fields")
    await click(wiz, wiz.steps["export"].go)  # type: ignore[attr-defined]
    result: Any = wiz.steps["result"]
    assert focus(wiz) == "result" and result.fork.layout.display != "none"

    # "Start from these settings": a new pipeline with the same limit and fields, another project
    await click(wiz, result.fork)
    assert focus(wiz) == "project" and wiz.model.pid is None and "Starting from the settings" in wiz.message.value
    await do_project(wiz, NO_GSC)
    assert wiz.model.answer("project").max_edges == 30_000 and wiz.model.answer("project").source == PID
    await to_next(wiz, "project")
    await do_analysis(wiz)
    await to_next(wiz, "analysis")
    assert depth.max_edges.value == 30_000 and wiz.model.answer("depth").max_edges == 30_000
    await to_next(wiz, "depth")
    assert [n for n, box in fields.boxes.items() if box.value] == ["pagetype", "is_compliant", "canonical_equal",
                                                                    "depth"]  # fmt: skip
    await do_fields(wiz)
    await to_next(wiz, "fields")
    assert focus(wiz) == "export"

    # the picker of saved pipelines: no URL to paste again, and where each one stands
    await click(wiz, wiz.new_button)
    project: Any = wiz.steps["project"]
    assert project.saved.layout.display != "none"
    labels = dict((v, k) for k, v in project.saved.options)
    assert set(labels) == {"", PID, NO_GSC_PID}
    assert "exported" in labels[PID] and "20241108" in labels[PID] and "limit 30,000" in labels[PID]
    assert "at step 6 (Export)" in labels[NO_GSC_PID]
    project.saved.value = PID
    assert project.url.value == PID and project.use.description == "Open this pipeline"
    await click(wiz, project.use)
    assert wiz.model.pid == PID and focus(wiz) == "result"

    # the same project from its own settings: another analysis, same limit and fields
    await click(wiz, result.fork)
    await do_project(wiz, "https://app.botify.com/example-org/example.com/20241101/")
    assert wiz.model.pid == PID and focus(wiz) == "analysis" and "went back to step 3" in wiz.message.value
    analysis: Any = wiz.steps["analysis"]
    assert analysis.select.value == "20241101"
    await do_analysis(wiz)
    await to_next(wiz, "analysis")
    assert wiz.model.answer("depth").max_edges == 30_000
    assert len(fake.jobs) == 2  # nothing exported along the way


def test_the_wizard_spells_no_report_label() -> None:
    """Report labels (the depth table, the Result card's rows) live in render/labels.py: the wizard asks it."""
    from botify_graph.render import labels as L

    source = "".join(p.read_text(encoding="utf-8") for p in (Path(w_mod.__file__).parent).glob("*.py"))
    spelled = [*L.EXPORT_ROWS.values(), *L.DEPTH_TABLE_COLUMNS[1:], L.CHOSEN, L.OVER_LIMIT, L.KEPT_HEADING,
               "limit {limit:,} rows"]  # fmt: skip
    assert [label for label in spelled if f'"{label}"' in source or f"'{label}'" in source] == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/tmp/out/example.com_20241108_links.csv",
         "/<wbr>tmp/<wbr>out/<wbr>example.<wbr>com_<wbr>20241108_<wbr>links.<wbr>csv"),
        ("a-b <c>", "a-<wbr>b &lt;c&gt;"),
        ("nothing", "nothing"),
    ],
)  # fmt: skip
def test_paths_break_at_separators_not_mid_word(text: str, expected: str) -> None:
    """File paths and code blocks used to break mid-word ('…20241108 _links', '…2024110 8_meta')."""
    import html

    from botify_graph.wizard.view import breakable, code_block, link

    assert breakable(text) == expected
    assert breakable(text).replace("<wbr>", "") == html.escape(text)
    assert "word-break:normal" in code_block(text) and expected in code_block(text)
    assert expected in link(text, None) and expected in link(text, "x/y.csv")


def test_a_command_wraps_at_its_spaces_not_inside_its_options() -> None:
    from botify_graph.render.html import breakable

    assert breakable("out.ipynb -p max_edges --project-url x") == (
        "out.<wbr>ipynb -p max_<wbr>edges --project-<wbr>url x"
    )


def test_parse_candidates_reads_project_urls_too_such_as_a_batch_projects_file() -> None:
    text = "\n".join(
        [
            "https://app.botify.com/my-org/my-site.com/",
            "https://app.botify.com/my-org/my-shop.com/ max_edges=500000 meta_fields=pagetype   # settings ignored",
            "app.botify.com/other-org/their-blog.net/segmentation?filter=all#overview",
            "https://app.botify.com/my-org/my-site.com/20241108/",  # the same project again
            "https://app.botify.com/ad-hoc/adhoc-test/",  # named as a URL: kept (only org listings skip ad hoc)
            "https://example.com/not/botify",
            "  indented.after.url",  # no org to belong to
            "acme",
            "  shop",
        ]
    )
    assert parse_candidates(text) == [("my-org", "my-site.com"), ("my-org", "my-shop.com"),
                                      ("other-org", "their-blog.net"), ("ad-hoc", "adhoc-test"),
                                      ("acme", "shop")]  # fmt: skip
    example = Path(__file__).resolve().parents[1] / "templates" / "airflow" / "botify_graph_projects.example.txt"
    assert len(parse_candidates(example.read_text())) == 4


async def test_depth_one_over_the_limit_offers_the_complete_graph_and_the_cut(
    build: Callable[..., Wizard], fake: FakeBotify, tmp_path: Path
) -> None:
    wiz = build()
    await connect(wiz, fake.token)
    await to_next(wiz, "connect")
    await do_project(wiz, "https://app.botify.com/example-org/huge-home.example/")
    await to_next(wiz, "project")
    await do_analysis(wiz, "20241108")
    await to_next(wiz, "analysis")
    depth: Any = wiz.steps["depth"]
    assert depth.state == StepState.SUCCESS
    crawl = fake.site("example-org", "huge-home.example").crawl("20241108")
    limit = crawl.cumulative_edges()[1] - 1
    depth.max_edges.value = limit
    await click(wiz, depth.size)
    # not a dead end: the card shows what each way takes and offers both
    assert depth.state == StepState.READY and not error_of(wiz, "depth")
    assert "Depth 1 alone has" in depth.card.status.value
    assert "Complete graph" in depth.options.value and "credits" in depth.options.value
    assert depth.choices.layout.display != "none" and depth.cut.layout.display != "none"
    assert depth.card.next.layout.display == "none"
    await click(wiz, depth.cut)
    answer = wiz.model.answer("depth")
    assert depth.state == StepState.SUCCESS and answer.allow_cut and answer.edges == limit and not answer.complete
    # the complete graph needs an explicit confirmation that names its jobs and credits
    await click(wiz, depth.complete)
    assert depth.card.confirm.asking and "Botify export job" in depth.card.confirm.text.value
    assert "credits" in depth.card.confirm.text.value
    assert wiz.model.answer("depth").allow_cut  # nothing changed until it is confirmed
    await click(wiz, depth.card.confirm.no)
    assert not depth.card.confirm.asking and wiz.model.answer("depth").allow_cut
    await click(wiz, depth.complete)
    await click(wiz, depth.card.confirm.yes)
    answer = wiz.model.answer("depth")
    assert answer.complete and not answer.allow_cut and answer.jobs > 2 and answer.edges == crawl.edges_upto(99)
    await to_next(wiz, "depth")
    assert "Complete graph" in depth.card.summary.value
    await do_fields(wiz)
    await to_next(wiz, "fields")
    export: Any = wiz.steps["export"]
    assert f"{answer.jobs:,} Botify export jobs" in export.plan.value
    await click(wiz, export.go)
    assert export.state == StepState.SUCCESS or focus(wiz) == "result", error_of(wiz, "export")
    done = wiz.model.answer("export")
    assert done.complete and done.links.rows == crawl.edges_upto(99) and len(fake.jobs) == answer.jobs
    assert "parts downloaded" in export.rows["links"].status or export.rows["links"].status == "done"
    with open(done.links.path, newline="") as f:
        edges = {tuple(r) for r in list(csv.reader(f))[1:]}
    assert edges == {(crawl.url(s), crawl.url(t)) for s, t in crawl.edges()}
    # the papermill command that reproduces it says complete
    values = ParamLog(tmp_path / "state.jsonl").latest_values(PID.replace("example.com", "huge-home.example"))
    assert values["depth"]["complete"] is True


async def test_a_cut_export_is_followed_through_its_own_registry_record(
    build: Callable[..., Wizard], fake: FakeBotify
) -> None:
    # The pipeline records a cut export under mode "cut": the Export card must find that record (job id and
    # creation time for its progress rows), not look up a depth-limited one that does not exist.
    wiz = build()
    await connect(wiz, fake.token)
    await to_next(wiz, "connect")
    await do_project(wiz, "https://app.botify.com/example-org/huge-home.example/")
    await to_next(wiz, "project")
    await do_analysis(wiz, "20241108")
    await to_next(wiz, "analysis")
    depth: Any = wiz.steps["depth"]
    depth.max_edges.value = fake.site("example-org", "huge-home.example").crawl("20241108").cumulative_edges()[1] - 1
    await click(wiz, depth.size)
    await click(wiz, depth.cut)
    await to_next(wiz, "depth")
    await do_fields(wiz)
    await to_next(wiz, "fields")
    export: Any = wiz.steps["export"]
    await click(wiz, export.go)
    assert wiz.model.answer("export").allow_cut, error_of(wiz, "export")
    for kind in ("links", "meta"):
        record = export.record(kind)
        assert record is not None and record.options.get("mode") == "cut" and record.status == "DOWNLOADED"
        assert export.job_id(kind) == record.job_id and str(record.job_id) in {str(j) for j in fake.jobs}
    assert len(fake.jobs) == 2


async def test_connect_goes_on_without_the_profile_endpoint_and_the_project_step_checks_the_token(
    build: Callable[..., Wizard], fake: FakeBotify
) -> None:
    fake.scenario = fake.scenario.replace(profile="missing")
    wiz = build()
    await connect(wiz, fake.token)
    step: Any = wiz.steps["connect"]
    assert step.state == StepState.SUCCESS, error_of(wiz, "connect")
    assert "profile endpoint could not say" in step.greeting.value and "Project step" in step.greeting.value
    await to_next(wiz, "connect")
    await do_project(wiz, DIRTY)
    await to_next(wiz, "project")
    assert next(v for _, v in wiz.steps["analysis"].select.options) == "20241108"  # type: ignore[attr-defined]
    assert wiz.model.answer("connect").summary() == "Connected (user unknown)"

    token_path().unlink()  # a new session with nothing stored
    other = build(sidecar_path=wiz.sidecar.path.with_name("other.json"))
    await connect(other, "not-the-token-0123456789")  # the profile endpoint cannot tell a bad token ...
    await to_next(other, "connect")
    await do_project(other, DIRTY)  # ... the analyses list can
    assert "rejected the API token" in error_of(other, "project") and "step 1" in error_of(other, "project")


async def test_check_button_runs_the_doctor_without_creating_anything(
    build: Callable[..., Wizard], fake: FakeBotify
) -> None:
    wiz = build()
    step: Any = wiz.steps["connect"]
    step.password.value = fake.token
    await click(wiz, step.doctor)  # before any project: the token alone
    assert "The token works (user demo.user)" in step.findings.value and "An export should work" in step.findings.value
    assert step.password.value == ""
    await connect(wiz, fake.token)
    await to_next(wiz, "connect")
    await do_project(wiz, DIRTY)
    fake.scenario = fake.scenario.replace(absent_fields=("outlinks_internal.graph.url",))
    await click(wiz, step.doctor)
    assert "no outlinks_internal.graph.url" in step.findings.value and "would fail" in step.findings.value
    assert step.state == StepState.SUCCESS and fake.jobs == {}


async def test_trace_switch_records_the_wizards_requests_and_its_export(
    build: Callable[..., Wizard], fake: FakeBotify, tmp_path: Path
) -> None:
    wiz = build()
    step: Any = wiz.steps["connect"]
    assert step.tracing.value is False and wiz.trace is None
    step.tracing.value = True
    path = wiz.trace_path
    assert path.parent == tmp_path / "downloads" / "traces" and str(path) in step.trace_where.value
    await connect(wiz, fake.token)
    await to_next(wiz, "connect")
    await do_project(wiz, DIRTY)
    await to_next(wiz, "project")  # the project step checked the project, the analysis step lists the analyses
    step.tracing.value = False  # stop: nothing more is written
    await do_analysis(wiz)
    await to_next(wiz, "analysis")  # the depth step sizes the export: not recorded
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records[0]["type"] == "start" and records[0]["front_end"] == "wizard"
    assert [r["url"].rsplit("/v1/", 1)[1].split("?")[0] for r in records if r["type"] == "http"] == [
        "authentication/profile",
        "analyses/example-org/example.com/light",
        "analyses/example-org/example.com/light",
    ]
    assert fake.token not in path.read_text() and step.trace_where.value == ""

    traced = tmp_path / "given.jsonl"  # the notebook's trace_file parameter: on from the start
    wiz = build(sidecar_path=tmp_path / "s2.json", trace_file=traced)
    assert wiz.steps["connect"].tracing.value is True  # type: ignore[attr-defined]
    await through_fields(wiz, fake.token)
    await click(wiz, wiz.steps["export"].go)  # type: ignore[attr-defined]
    assert focus(wiz) == "result", error_of(wiz, "export")
    text = traced.read_text()
    assert '"kind": "step_succeeded", "step": "download:links"' in text  # the export's steps and requests
    assert sum('"type": "http"' in line for line in text.splitlines()) > 10 and fake.token not in text


async def test_a_read_only_sidecar_folder_is_a_message_not_a_crash(
    build: Callable[..., Wizard], fake: FakeBotify, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers import SmallDisk

    folder = tmp_path / "ro"
    with SmallDisk(folder, 1 << 20, monkeypatch) as disk:
        disk.read_only()
        wiz = build(sidecar_path=folder / "state.json")
        await wiz.wait()
        assert "cannot save its answers" in wiz.storage.value and str(folder) in wiz.storage.value
        await connect(wiz, fake.token)
        assert wiz.steps["connect"].state == StepState.SUCCESS
        await to_next(wiz, "connect")
        await do_project(wiz, DIRTY)
        assert wiz.steps["project"].state == StepState.FAIL
        assert f"{folder} cannot be written to" in error_of(wiz, "project")
        assert "Traceback" not in error_of(wiz, "project")


def _hrefs(html: str, cls: str | None = None) -> list[str]:
    import html as html_lib
    import re

    pattern = r'<a href="([^"]+)"' + (rf'[^>]*class="{cls}"' if cls else "")
    return [html_lib.unescape(h) for h in re.findall(pattern, html)]


async def test_the_result_card_links_each_file_and_opens_cosmograph(
    build: Callable[..., Wizard], fake: FakeBotify, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from urllib.parse import parse_qs, urlsplit

    import httpx

    from botify_graph.handoff import page_shelf

    # what a Jupyter server with botify_graph.serverext tells its kernels (base_url /user/me/)
    monkeypatch.setenv("BOTIFY_GRAPH_FILES_URL", "/user/me/botify-graph/files/")
    monkeypatch.setenv("BOTIFY_GRAPH_FILES_DIR", str(tmp_path / "downloads"))
    wiz = build()
    await through_fields(wiz, fake.token)
    await click(wiz, wiz.steps["export"].go)  # type: ignore[attr-defined]
    result: Any = wiz.steps["result"]
    html = result.files.value
    base = "/user/me/botify-graph/files/example-org/example.com/"
    downloads = _hrefs(html)
    assert base + "example.com_20241108_links.csv" in downloads
    assert base + "example.com_20241108_meta.csv" in downloads
    assert 'download="example.com_20241108_links.csv"' in html
    (cosmograph,) = _hrefs(html, "botify-graph-cosmograph")
    assert cosmograph.startswith("https://cosmograph.app/run/?")
    query = parse_qs(urlsplit(cosmograph).query)
    assert query["nodeColor"] == ["color-pagetype"]
    folder = tmp_path / "downloads" / "example-org" / "example.com"
    for name, kind in (("data", "links"), ("meta", "meta")):
        r = httpx.get(query[name][0], headers={"Origin": "https://cosmograph.app"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
        assert r.content == (folder / f"example.com_20241108_{kind}.csv").read_bytes()
    # another export shown (or the card cleared): these files are no longer served
    result.clear()
    try:
        assert httpx.get(query["data"][0]).status_code == 404
    except httpx.ConnectError:
        assert page_shelf()._server is None  # nothing else shown: the server stopped


async def test_without_the_servers_route_the_path_is_shown_instead_of_a_link(
    build: Callable[..., Wizard], fake: FakeBotify, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BOTIFY_GRAPH_FILES_URL", raising=False)
    monkeypatch.delenv("BOTIFY_GRAPH_FILES_DIR", raising=False)
    wiz = build()
    await through_fields(wiz, fake.token)
    await click(wiz, wiz.steps["export"].go)  # type: ignore[attr-defined]
    html = wiz.steps["result"].files.value  # type: ignore[attr-defined]
    assert "botify-graph/files" not in html and "example.com_20241108_links.csv</code>" in html
    assert _hrefs(html, "botify-graph-cosmograph")  # Cosmograph still opens: the kernel serves the files


async def test_the_project_step_lists_registry_exports_and_files_found_on_disk_with_links(
    build: Callable[..., Wizard], fake: FakeBotify, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOTIFY_GRAPH_FILES_URL", "/botify-graph/files/")
    monkeypatch.setenv("BOTIFY_GRAPH_FILES_DIR", str(tmp_path / "downloads"))
    folder = tmp_path / "downloads" / "example-org" / "example.com"
    folder.mkdir(parents=True)
    (folder / "example.com_20240901_links.csv").write_text("source,target\nhttps://e/,https://e/a\n")
    (folder / "example.com_20240901_meta.csv").write_text("id,pagetype\nhttps://e/,home\n")
    (folder / "example.com_20240901_links.csv.part").write_text("half")  # not an export
    (folder / "notes.csv").write_text("x\n")
    wiz = build()
    await connect(wiz, fake.token)
    await to_next(wiz, "connect")
    await do_project(wiz, DIRTY)
    html = wiz.steps["project"].existing.value  # type: ignore[attr-defined]
    assert "Already exported" in html and "on disk" in html  # no registry record, still listed
    assert "/botify-graph/files/example-org/example.com/example.com_20240901_links.csv" in _hrefs(html)
    assert "/botify-graph/files/example-org/example.com/example.com_20240901_meta.csv" in _hrefs(html)
    assert ".part" not in html and "notes.csv" not in html
    (cosmograph,) = _hrefs(html, "botify-graph-cosmograph")
    assert "meta=" in cosmograph


CHOSEN = ("http_code", "internal_page_rank.value", "metadata.title.content", "clicks", "search_console.avg_position")


CHOSEN_COLUMNS = ["id", "http_code", "internal_page_rank", "title", "clicks", "gsc_avg_position"]


async def to_fields(wiz: Wizard, token: str) -> Any:
    await through_analysis(wiz, token)
    await to_next(wiz, "depth")
    step: Any = wiz.steps["fields"]
    assert step.state == StepState.READY, error_of(wiz, "fields")
    return step


def tick(step: Any, keys: tuple[str, ...]) -> None:
    for key, box in step.boxes.items():
        box.value = key in keys


def shown(step: Any) -> list[str]:
    """The descriptions of the checkboxes the card shows now (after the search)."""
    return [c.description for c in step.list.children if isinstance(c, w.Checkbox)]


async def test_the_fields_card_groups_searches_and_sets_the_period(
    build: Callable[..., Wizard], fake: FakeBotify, tmp_path: Path
) -> None:
    wiz = build()
    step = await to_fields(wiz, fake.token)
    headers = [c.value for c in step.list.children if isinstance(c, w.HTML)]
    assert any(">defaults<" in h for h in headers) and any("crawl · metadata" in h for h in headers)
    assert any("search_console · main" in h for h in headers)
    step.search.value = "no such thing"
    assert shown(step) == [] and "No field matches" in step.list.children[0].value
    step.search.value = "page rank"  # every word, anywhere: the name (Internal PageRank), the field, the column
    by_words = shown(step)
    step.search.value = "PageRank"
    assert len(by_words) == 3 and shown(step) == by_words
    step.search.value = "internal_page_rank"
    assert [d.rsplit("(", 1)[1] for d in shown(step)] == [
        "internal_page_rank.value → internal_page_rank)",
        "internal_page_rank.position → internal_page_rank_position)",
        "internal_page_rank.raw → internal_page_rank_raw)",
    ]
    step.search.value = "h1"
    assert shown(step) == []  # multiple-valued: not among the fields that can be exported
    step.show_others.value = True
    assert any("multiple-valued" in d for d in shown(step)) and all(
        c.disabled for c in step.list.children if isinstance(c, w.Checkbox)
    )
    step.search.value = ""
    tick(step, CHOSEN)
    assert "5 of" in step.count.value
    step.gsc.value = "2024-11-01:2024-12-31"
    assert "2024-11-01 to 2024-11-17 (17 days)" in step.period.value and "⚠" in step.period.value
    step.gsc.value = "last month"
    assert "neither a number of days" in step.period.value
    step.gsc.value = "2024-11-01:2024-12-31"
    before = len([r for r in fake.requests if r.endpoint.endswith("/query")])
    await do_fields(wiz)
    assert step.state == StepState.SUCCESS, error_of(wiz, "fields")
    assert len([r for r in fake.requests if r.endpoint.endswith("/query")]) == before + 1  # the one-row check
    answer = wiz.model.answer("fields")
    assert answer.fields == CHOSEN and answer.gsc_period == "2024-11-01:2024-12-31"
    assert answer.period == ("2024-11-01", "2024-11-17") and "2024-11-17" in answer.period_note
    assert "Search Console 2024-11-01 to 2024-11-17" in answer.summary()
    await to_next(wiz, "fields")
    await click(wiz, wiz.steps["export"].go)
    assert focus(wiz) == "result", error_of(wiz, "export")
    meta = tmp_path / "downloads" / "example-org" / "example.com" / "example.com_20241108_meta.csv"
    assert first_row(meta) == CHOSEN_COLUMNS
    job = next(j for j in fake.jobs.values() if j.kind == "meta")
    assert job.payload["query"]["periods"] == [["2024-11-01", "2024-11-17"]]
    # the graph view colours and sizes by the exported columns the Result card offers
    choice = wiz.steps["result"].view_choice  # type: ignore[attr-defined]
    assert [v for _, v in choice.size.options] == ["inbound", "http_code", "internal_page_rank", "clicks",
                                                   "gsc_avg_position"]  # fmt: skip
    assert choice.color.value == "" and "title" in [v for _, v in choice.color.options]
    choice.color.value, choice.size.value = "http_code", "internal_page_rank"
    await click(wiz, wiz.steps["result"].view)  # type: ignore[attr-defined]
    frame = wiz.steps["result"].graph_box.children[0].value  # type: ignore[attr-defined]
    assert "Colour: http_code. Size: internal_page_rank." in frame
    # what the wizard made is what reproduce runs: the fields and the period go to papermill
    values = reproduce(tmp_path / "state.json").parameters
    assert values["meta_fields"] == ",".join(CHOSEN) and values["gsc_period"] == "2024-11-01:2024-12-31"
    # a new session shows the saved answer without asking for the catalogue
    again = build()
    await again.wait()
    saved: Any = again.steps["fields"]
    assert {k for k, b in saved.boxes.items() if b.value} == set(CHOSEN) and saved.gsc.value == answer.gsc_period


async def test_a_field_botify_refuses_is_named_on_the_card_and_nothing_is_exported(
    build: Callable[..., Wizard], fake: FakeBotify
) -> None:
    wiz = build()
    step = await to_fields(wiz, fake.token)
    tick(step, ("pagetype", "js.rendering.exec"))
    await do_fields(wiz)
    assert step.state == StepState.FAIL
    assert "refuses the field js.rendering.exec" in error_of(wiz, "fields") and "1034" in error_of(wiz, "fields")
    assert wiz.model.answer("fields") is None and fake.jobs == {}


@pytest.mark.slow
async def test_the_same_fields_give_the_same_columns_from_the_cli_papermill_and_the_wizard(
    build: Callable[..., Wizard],
    fake: FakeBotify,
    tmp_path: Path,
    venv_kernel: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import papermill as pm

    from botify_graph.cli import main

    typed = "clicks,title,search_console.avg_position,internal_page_rank.value,http_code"  # any order, a column name
    common = ["--project-url", PID, "--api-base", fake.base_url, "--max-edges", "20000", "--gsc-period", "90"]
    monkeypatch.setenv("BOTIFY_API_TOKEN", fake.token)
    assert await asyncio.to_thread(main, ["run", *common, "--out", str(tmp_path / "cli"), "--fields", typed]) == 0
    parameters = {"project_url": PID, "api_base": fake.base_url, "output_dir": str(tmp_path / "pm"),
                  "meta_fields": typed, "gsc_period": 90, "max_edges": 20000}  # fmt: skip
    root = str(Path(__file__).resolve().parents[1])
    await asyncio.to_thread(
        pm.execute_notebook, f"{root}/notebooks/link_graph.ipynb", str(tmp_path / "out.ipynb"),
        parameters=parameters, kernel_name=venv_kernel, progress_bar=False, cwd=root,
    )  # fmt: skip
    monkeypatch.delenv("BOTIFY_API_TOKEN")
    wiz = build()
    await through_analysis(wiz, fake.token)
    depth: Any = wiz.steps["depth"]
    depth.max_edges.value = 20000
    await click(wiz, depth.size)
    await to_next(wiz, "depth")
    step: Any = wiz.steps["fields"]
    tick(step, CHOSEN)
    step.gsc.value = "90"
    await do_fields(wiz)
    await to_next(wiz, "fields")
    await click(wiz, wiz.steps["export"].go)
    assert focus(wiz) == "result", error_of(wiz, "export")
    name = "example-org/example.com/example.com_20241108_meta.csv"
    headers = {where: first_row(tmp_path / where / name) for where in ("cli", "pm", "downloads")}
    assert headers == dict.fromkeys(("cli", "pm", "downloads"), CHOSEN_COLUMNS)
    files = {where: (tmp_path / where / name).read_bytes() for where in headers}
    assert files["cli"] == files["pm"] == files["downloads"]
    periods = {json.dumps(j.payload["query"]["periods"]) for j in fake.jobs.values() if j.kind == "meta"}
    assert periods == {json.dumps([["2024-08-11", "2024-11-08"]])}
