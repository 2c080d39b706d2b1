"""`botify-graph doctor`: the pure checks as tables, then the runner and the command against the fake API,
one difference at a time, proving each time that nothing was created."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import SmallDisk, cli, cli_env

from botify_graph.client import make_client
from botify_graph.depth import choose_depth
from botify_graph.doctor import (
    Answer,
    DoctorReport,
    Finding,
    Observations,
    Output,
    collections_findings,
    diagnose,
    fields_findings,
    jobs_finding,
    output_finding,
    profile_finding,
    run_doctor,
    sizing_findings,
    token_finding,
    token_only_findings,
)
from botify_graph.fake import FakeBotify, Scenario
from botify_graph.models import Analysis
from botify_graph.urls import ProjectRef, clean_url

REF = ProjectRef("example-org", "example.com")
URL = "https://app.botify.com/example-org/example.com/"
PROFILE_OK = Answer("GET /authentication/profile", 200, {"data": {"username": "first.last"}})
LIGHT = "GET /analyses/example-org/example.com/light"
ANALYSIS = Analysis("20241108", name="2024 Nov. 8th", status="success", urls_done=1000)
ENVELOPE = {"count": 1, "next": None, "previous": None, "page": 1, "size": 100, "results": [{"slug": "20241108"}]}


def answer(status: int | None, body: Any = None, request: str = "GET /x", **kw: Any) -> Answer:
    return Answer(request, status, body, **kw)


def observed(**changes: Any) -> Observations:
    base: dict[str, Any] = dict(
        project=REF, api_base="https://api.botify.com/v1", max_edges=1000, wanted=None, profile=PROFILE_OK,
        light=answer(200, ENVELOPE, LIGHT), analysis=ANALYSIS,
    )  # fmt: skip
    return Observations(**{**base, **changes})


def levels(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.check, f.level) for f in findings]


# --- the pure checks ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "level", "words"),
    [
        (200, "ok", "works for example-org/example.com (user first.last)"),
        (401, "fail", "rejects the token"),
        (403, "fail", "cannot see example-org/example.com"),
        (404, "fail", "no project"),
        (503, "fail", "expected 200"),
        (None, "fail", "check your network"),
    ],
)
def test_the_token_is_judged_by_the_analyses_list(status: int | None, level: str, words: str) -> None:
    light = answer(status, ENVELOPE if status == 200 else {"error": {"error_code": 1, "message": "m"}}, LIGHT)
    found = token_finding(light, PROFILE_OK, REF)
    assert found.level == level and words in f"{found.found} {found.differs} {found.todo}"


@pytest.mark.parametrize(
    ("profile", "token_works", "words"),
    [
        (answer(404, {"error": {"error_code": 1000, "message": "Not found."}}), True, "not there"),
        (answer(405), True, "not there"),
        (answer(401), True, "refuses (401) a token the analyses list accepts"),
        (answer(403), True, "refuses (403)"),
        (answer(200, {"data": {"email": "x"}}), True, 'expected {"data": {"username"'),
        (answer(200, [1, 2]), True, "got a list of 2"),
        (answer(502, text="Bad Gateway"), True, "expected 200"),
        (answer(None, error="ConnectError: refused"), True, "expected 200"),
    ],
)
def test_the_undocumented_profile_endpoint_is_never_worse_than_a_warning(
    profile: Answer, token_works: bool, words: str
) -> None:
    found = profile_finding(profile, token_works)
    assert found.level == "warn" and words in found.differs
    assert "analyses list" in found.todo  # and says the token is checked there instead
    assert profile_finding(PROFILE_OK, True).level == "ok"


def test_without_a_project_only_the_token_is_checked() -> None:
    assert levels(token_only_findings(PROFILE_OK)) == [("token", "ok")]
    assert levels(token_only_findings(answer(401))) == [("token", "fail")]
    assert levels(token_only_findings(answer(404))) == [("profile", "warn"), ("token", "warn")]
    assert "choose a project" in token_only_findings(answer(405))[1].todo


@pytest.mark.parametrize(
    ("body", "analysis", "expected", "words"),
    [
        (ENVELOPE, ANALYSIS, [("analyses", "ok"), ("analysis", "ok")], "reads as documented"),
        ([{"slug": "20241108"}], None, [("analyses", "fail")], "expected the paginated envelope"),
        ({"results": "x"}, None, [("analyses", "fail")], "answered an object with results"),
        (
            {"count": 40, "previous": None, "results": [{"slug": "20241108", "status": "success"}]},
            ANALYSIS,
            [("analyses", "warn"), ("analysis", "ok")],
            "sees 1 of 40 analyses",
        ),
        (
            {
                **ENVELOPE,
                "results": [{"slug": "20241108", "status": "done"}, {"slug": "20241101", "status": "success"}],
            },
            Analysis("20241101"),
            [("analyses", "warn"), ("analysis", "ok")],
            "newest analysis '20241108' says 'done', so the tool skips it",
        ),
        (ENVELOPE, None, [("analyses", "ok"), ("analysis", "fail")], "Analysis 'x' is not"),
    ],
)
def test_analyses_list_envelope_statuses_and_choice(
    body: Any, analysis: Analysis | None, expected: list[tuple[str, str]], words: str
) -> None:
    from botify_graph.doctor import analyses_findings

    obs = observed(light=answer(200, body, LIGHT), analysis=analysis, analysis_error="Analysis 'x' is not here.")
    found = analyses_findings(obs)
    if expected[-1] == ("analysis", "fail"):
        found = [Finding("analyses", "ok", "-"), *found]
    assert levels(found)[: len(expected)] == expected
    assert words in " ".join(f"{f.found} {f.differs}" for f in found)


@pytest.mark.parametrize(
    ("body", "expected", "words"),
    [
        ([{"id": "crawl.20241108"}, {"id": "search_console"}], [("collections", "ok")], "and search_console"),
        ([{"id": "crawl.20241108"}], [("collections", "ok")], "no impressions or clicks"),
        ({"results": [{"id": "crawl.20241108"}]}, [("collections", "warn"), ("collections", "ok")], "bare list"),
        ({"collections": [{"id": "crawl.20241108"}]}, [("collections", "fail")], "Swagger says one object"),
        ([{"id": "crawl.20241101"}], [("collections", "fail")], "crawl.20241108 is not among the 1"),
    ],
)
def test_collections(body: Any, expected: list[tuple[str, str]], words: str) -> None:
    found = collections_findings(observed(collections=answer(200, body)))
    assert levels(found) == expected and words in " ".join(f"{f.found} {f.differs}" for f in found)


def fields_body(*slugs: str, prefixed: bool = True) -> dict[str, Any]:
    fields = [{"id": f"crawl.20241108.{s}" if prefixed else s} for s in slugs]
    return {"datasets": [{"id": "d", "fields": fields}]}


LINKS = ("url", "depth", "outlinks_internal.graph.url", "outlinks_internal.nb.total")


@pytest.mark.parametrize(
    ("body", "probes", "expected", "words"),
    [
        (fields_body(*LINKS), {}, [("fields", "ok")], "as full ids like crawl.20241108.depth"),
        (fields_body(*LINKS, prefixed=False), {}, [("fields", "ok")], "as bare slugs"),
        (fields_body("url", "depth"), {"outlinks_internal.graph.url": True, "outlinks_internal.nb.total": True},
         [("fields", "warn")], "queries accept them: outlinks_internal.graph.url"),
        (fields_body("url", "depth", "outlinks_internal.nb.total"), {"outlinks_internal.graph.url": False},
         [("fields", "fail")], "has no outlinks_internal.graph.url"),
        ({"fields": []}, dict.fromkeys(LINKS, True), [("fields", "warn"), ("fields", "warn")],
         "expected {\"datasets\""),
    ],
)  # fmt: skip
def test_fields(body: Any, probes: dict[str, bool], expected: list[tuple[str, str]], words: str) -> None:
    found = fields_findings(observed(fields=answer(200, body), probes=probes, meta_fields=("pagetype",)))
    assert levels(found)[:-1] == expected and found[-1].check == "meta"
    assert words in " ".join(f"{f.found} {f.differs}" for f in found)


def test_meta_fields() -> None:
    ok = fields_findings(observed(fields=answer(200, fields_body(*LINKS)), meta_fields=("pagetype", "depth")))[-1]
    assert ok.level == "ok" and "not available: is_compliant" in ok.found
    none = fields_findings(observed(fields=answer(200, fields_body(*LINKS)), meta_fields=()))[-1]
    assert none.level == "warn"
    failed = fields_findings(observed(fields=answer(200, fields_body(*LINKS)), meta_error="boom"))[-1]
    assert failed.level == "fail" and failed.found == "boom"


CHOICE = choose_depth({0: 10, 1: 100, 2: 1000}, 500)


@pytest.mark.parametrize(
    ("sizing", "choice", "error", "expected"),
    [
        (answer(200, {"next": None, "results": []}), CHOICE, "", [("depth", "ok")]),
        (answer(200, {"results": []}), CHOICE, "", [("sizing", "warn"), ("depth", "ok")]),
        (answer(200, [1]), CHOICE, "", [("sizing", "warn"), ("depth", "ok")]),
        (answer(400, {"error": {"error_code": 1022, "message": "bad"}}), CHOICE, "",
         [("sizing", "warn"), ("depth", "ok")]),
        (answer(200, {"next": None, "results": []}), None, "Even depth 1 has 9 links, over the export limit of 5",
         [("depth", "fail")]),
    ],
)  # fmt: skip
def test_sizing(sizing: Answer, choice: Any, error: str, expected: list[tuple[str, str]]) -> None:
    found = sizing_findings(observed(sizing=sizing, choice=choice, sizing_error=error))
    assert levels(found) == expected
    if choice is None:
        assert "raise --max-edges" in found[-1].todo
    else:
        assert "Depth 1: 110 of the crawl's 1,110 internal links fit the limit of 500 rows" in found[-1].found


def test_jobs_and_output() -> None:
    assert levels(jobs_finding(answer(200, {"next": None, "results": [{"job_status": "DONE"}]}))) == [("jobs", "ok")]
    odd = jobs_finding(answer(200, {"next": None, "results": [{"job_status": "SUCCESS"}]}))
    assert levels(odd) == [("jobs", "warn")] and "SUCCESS" in odd[0].found
    assert levels(jobs_finding(answer(403))) == [("jobs", "warn")]
    assert levels(output_finding(Output("/o", True, 10**9), 10**6)) == [("output", "ok")]
    assert levels(output_finding(Output("/o", True, 10**5), 10**6)) == [("output", "fail")]
    assert levels(output_finding(Output("/o", False, 10**9, "read-only"), 0)) == [("output", "fail")]


def test_a_rejected_token_stops_the_checks_and_the_report_reads_well() -> None:
    obs = observed(light=answer(401, {"error": {"error_code": 1001, "message": "Not Authorized"}}, LIGHT))
    findings = diagnose(obs)
    assert levels(findings) == [("token", "fail"), ("profile", "ok")]
    report = DoctorReport(REF, obs.api_base, None, tuple(findings))
    text = report.to_text()
    assert not report.ok and "fail  token" in text and "an export would fail: 1 problem" in text
    assert "no credit was spent" in text and "--trace FILE" in text
    assert json.loads(json.dumps(report.to_dict()))["ok"] is False


# --- against the fake API -----------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeBotify]:
    with FakeBotify(scale=0.02, scenario=Scenario(polls_to_done=1, rate_limit_qps=None)) as server:
        yield server


async def doctor(fake: FakeBotify, tmp_path: Path, token: str | None = None, **kw: Any) -> DoctorReport:
    async with make_client(token or fake.token, base_url=fake.base_url, rate=1000, backoff_base=0.01) as client:
        return await run_doctor(client, clean_url(URL), out_dir=tmp_path / "out", **kw)


def creates_nothing(fake: FakeBotify) -> None:
    assert fake.jobs == {}
    assert not [r for r in fake.requests if r.method == "POST" and not r.path.endswith("/query")]


async def test_a_healthy_project_is_all_ok_and_nothing_is_created(fake: FakeBotify, tmp_path: Path) -> None:
    report = await doctor(fake, tmp_path, max_edges=20_000)
    assert report.ok and report.counts() == {"ok": 10, "warn": 0, "fail": 0}, report.to_text()
    assert [f.check for f in report.findings] == [
        "token", "profile", "analyses", "analysis", "collections", "fields", "meta", "depth", "jobs", "output",
    ]  # fmt: skip
    assert report.analysis == "20241108"
    creates_nothing(fake)


@pytest.mark.parametrize(
    ("knobs", "kw", "check", "level", "words"),
    [
        ({"profile": "missing"}, {}, "profile", "warn", "answered 404"),
        ({"profile": "no-username"}, {}, "profile", "warn", "without data.username"),
        ({"light_shape": "list"}, {}, "analyses", "fail", "expected the paginated envelope"),
        ({"light_shape": "no-next", "max_page_size": 2}, {}, "analyses", "warn", "sees 2 of 3 analyses"),
        ({"odd_analysis_status": "done"}, {}, "analyses", "warn", "says 'done', so the tool skips it"),
        ({"collections_shape": "object"}, {}, "collections", "fail", "Swagger says one object"),
        ({"hide_fields": ("depth",)}, {}, "fields", "warn", "queries accept them: depth"),
        ({"absent_fields": ("outlinks_internal.graph.url",)}, {}, "fields", "fail", "no outlinks_internal.graph.url"),
        ({}, {"max_edges": 5}, "depth", "fail", "over the export limit of 5"),
        ({}, {"analysis": "20991231"}, "analysis", "fail", "'20991231' is not a finished analysis"),
    ],
)  # fmt: skip
async def test_each_difference_is_reported(
    fake: FakeBotify, tmp_path: Path, knobs: dict[str, Any], kw: dict[str, Any], check: str, level: str, words: str
) -> None:
    fake.scenario = fake.scenario.replace(**knobs)
    report = await doctor(fake, tmp_path, **kw)
    hits = [f for f in report.findings if f.check == check and f.level == level]
    assert hits and any(words in f"{f.found} {f.differs}" for f in hits), report.to_text()
    assert report.ok is (not any(f.level == "fail" for f in report.findings))
    creates_nothing(fake)


async def test_a_wrong_token_and_a_foreign_project_fail_first(fake: FakeBotify, tmp_path: Path) -> None:
    report = await doctor(fake, tmp_path, token="wrong")
    assert levels(list(report.findings))[0] == ("token", "fail") and not report.ok
    async with make_client(fake.token, base_url=fake.base_url, rate=1000) as client:
        report = await run_doctor(client, ProjectRef("other-org", "x"), out_dir=tmp_path)
    assert report.findings[0].level == "fail" and "cannot see other-org/x" in report.findings[0].differs
    creates_nothing(fake)


async def test_an_output_folder_that_cannot_take_the_files_fails(
    fake: FakeBotify, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SmallDisk(tmp_path / "out", 1 << 20, monkeypatch) as disk:
        (tmp_path / "out" / "example-org" / "example.com").mkdir(parents=True)
        small = await doctor(fake, tmp_path)
        disk.read_only()
        ro = await doctor(fake, tmp_path)
    found = {f.check: f for f in small.findings}["output"]
    if disk.mode == "tmpfs":  # a real 1 MB disk: too small for the export
        assert found.level == "fail" and "the export needs about" in found.found
    assert {f.check: f for f in ro.findings}["output"].level == "fail"


def test_the_command_exits_1_when_an_export_would_fail_and_writes_a_trace(fake: FakeBotify, tmp_path: Path) -> None:
    trace = tmp_path / "doctor-trace.jsonl"
    base = cli("doctor", "--project-url", URL, "--api-base", fake.base_url, "--out", str(tmp_path / "out"))
    env = cli_env(fake.token, tmp_path / "config")
    good = subprocess.run([*base, "--trace", str(trace)], env=env, capture_output=True, text=True, timeout=120)
    assert good.returncode == 0, good.stderr
    assert "Result: an export should work." in good.stdout and f"trace of the API requests written to {trace}" in (
        good.stderr
    )
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    assert records[0]["type"] == "start" and records[0]["command"] == "doctor"
    assert sum(r["type"] == "http" for r in records) == len(fake.requests)
    assert fake.token not in trace.read_text()

    fake.scenario = fake.scenario.replace(absent_fields=("outlinks_internal.graph.url",))
    bad = subprocess.run([*base, "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and json.loads(bad.stdout)["ok"] is False
    creates_nothing(fake)
