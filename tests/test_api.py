"""api.available_meta_fields against scripted answers: field lists, probes and Search Console."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from botify_graph.api import available_meta_fields
from botify_graph.client import make_client
from botify_graph.urls import ProjectRef

PROJECT = ProjectRef("org", "site")
CRAWL = "crawl.20241108"


def api(collections: list[dict[str, Any]], detail: Any, probe_ok: set[str]) -> tuple[httpx.MockTransport, list[str]]:
    probed: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/collections"):
            return httpx.Response(200, json=collections)
        if path.endswith(f"/collections/{CRAWL}"):
            return (
                httpx.Response(404, json={"error": {"error_code": 1010}})
                if detail is None
                else httpx.Response(200, json=detail)
            )
        if path.endswith("/query"):
            field = json.loads(request.content)["query"]["dimensions"][0]
            probed.append(field)
            if field in probe_ok:
                return httpx.Response(200, json={"results": [], "next": None})
            return httpx.Response(400, json={"error": {"error_code": 1029, "message": "Field does not exist"}})
        return httpx.Response(404)

    return httpx.MockTransport(handler), probed


def detail(*ids: str) -> dict[str, Any]:
    return {"datasets": [{"id": "x", "fields": [{"id": i, "aliases": []} for i in ids]}]}


@pytest.mark.parametrize(
    ("collections", "detail_body", "probe_ok", "expected", "probes"),
    [
        # every crawl field listed, Search Console present: no probe at all
        (
            [{"id": CRAWL}, {"id": "search_console", "timestamped": True}],
            detail(
                *(
                    f"{CRAWL}.{s}"
                    for s in (
                        "segments.pagetype.value",
                        "compliant.is_compliant",
                        "canonical.to.equal",
                        "sitemaps.present",
                        "depth",
                    )
                )
            ),
            set(),
            ("pagetype", "is_compliant", "canonical_equal", "sitemaps_present", "depth", "impressions", "clicks"),
            0,
        ),
        # segmentation is global, so absent from the crawl's list: probed, and it exists
        (
            [{"id": CRAWL}],
            detail("compliant.is_compliant", "canonical.to.equal", "sitemaps.present", "depth"),
            {f"{CRAWL}.segments.pagetype.value"},
            ("pagetype", "is_compliant", "canonical_equal", "sitemaps_present", "depth"),
            1,
        ),
        # no field list at all: every crawl field is probed; the API refuses one
        (
            [],
            None,
            {f"{CRAWL}.segments.pagetype.value", f"{CRAWL}.compliant.is_compliant", f"{CRAWL}.sitemaps.present"},
            ("pagetype", "is_compliant", "sitemaps_present"),
            5,
        ),
    ],
)
async def test_available_meta_fields(collections: list[dict[str, Any]], detail_body: Any, probe_ok: set[str],
                                     expected: tuple[str, ...], probes: int) -> None:  # fmt: skip
    transport, probed = api(collections, detail_body, probe_ok)
    async with make_client("t", base_url="http://api.test/v1", transport=transport, rate=1000) as client:
        found = await available_meta_fields(client, PROJECT, "20241108")
    assert found.fields == expected
    assert len(probed) == probes


# -- job refusal (error 1058): no job was created, so the POST is sent again after a wait ----------------------

JOB = {"job_id": 7, "job_url": "/v1/jobs/7", "job_status": "CREATED"}
REFUSED = {"error": {"error_code": 1058, "message": "An advanced export is already running"}}


def jobs_api(answers: list[tuple[int, Any]]) -> tuple[httpx.MockTransport, list[str]]:
    """POST /jobs answers the scripted (status, body) in turn; records every request as 'METHOD path'."""
    sent: list[str] = []
    script = iter(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.method} {request.url.path}")
        if request.method == "POST":
            status, body = next(script)
            return httpx.Response(status, json=body)
        return httpx.Response(200, json={"count": 0, "next": None, "results": []})

    return httpx.MockTransport(handler), sent


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_a_refused_job_is_posted_again_after_a_wait_and_never_listed() -> None:
    from botify_graph.api import create_export_job

    transport, sent = jobs_api([(400, REFUSED), (400, {"error": {"error_code": "1058"}}), (201, JOB)])
    clock, said = Clock(), []
    async with make_client("t", base_url="http://api.test/v1", transport=transport, rate=1000) as client:
        job = await create_export_job(client, {"payload": {}}, on_refused=said.append, sleep=clock.sleep, clock=clock)
    assert job.job_id == 7
    assert sent == ["POST /v1/jobs"] * 3  # refused: nothing to look for, unlike a lost answer
    assert clock.slept == [10.0, 15.0] and len(said) == 2 and "nothing was created" in said[0]


async def test_refusals_that_never_end_say_what_to_do() -> None:
    from botify_graph.api import create_export_job
    from botify_graph.errors import JobRefused

    transport, _ = jobs_api([(400, REFUSED)] * 50)
    clock = Clock()
    async with make_client("t", base_url="http://api.test/v1", transport=transport, rate=1000) as client:
        with pytest.raises(JobRefused, match="--max-jobs 1") as info:
            await create_export_job(client, {"payload": {}}, sleep=clock.sleep, clock=clock, refused_wait_s=100)
        assert info.value.error_code == 1058 and sum(clock.slept) <= 100
        with pytest.raises(JobRefused):  # None: refused at once, for a caller that waits on its own
            await create_export_job(client, {"payload": {}}, sleep=clock.sleep, clock=clock, refused_wait_s=None)


async def test_other_client_errors_are_not_refusals() -> None:
    from botify_graph.api import create_export_job
    from botify_graph.errors import ApiError, JobRefused

    transport, sent = jobs_api([(400, {"error": {"error_code": 1020, "message": "Badly formatted request"}})])
    async with make_client("t", base_url="http://api.test/v1", transport=transport, rate=1000) as client:
        with pytest.raises(ApiError, match="1020") as info:
            await create_export_job(client, {"payload": {}})
    assert not isinstance(info.value, JobRefused) and sent == ["POST /v1/jobs"]


# -- the export plan: sizing queries only -----------------------------------------------------------------------


async def test_export_plan_sizes_every_way_of_exporting_and_creates_no_job(fake_api: Any) -> None:
    from botify_graph.api import export_plan

    ref = ProjectRef("example-org", "big.example")
    async with make_client(fake_api.token, base_url=fake_api.base_url) as client:
        over = await export_plan(client, ref, "20241108", 2_000)
        fake_api.requests.clear()
        plan = await export_plan(client, ref, "20241108", 8_000)
    crawl = fake_api.site("example-org", "big.example").crawl("20241108")
    assert over.depth1_over and over.depth is None  # depth 0+1 alone is over 2,000 links at this scale
    assert over.cut_rows[0] == 2_000
    assert plan.total_links == sum(crawl.edges_per_depth()) and plan.total_pages == crawl.n_pages
    assert plan.depth is not None and plan.depth.edges == crawl.edges_upto(plan.depth.depth)
    assert plan.feasible and plan.links.rows == plan.total_links and plan.meta.rows == crawl.n_pages
    assert all(p.estimate <= plan.links.target for p in (*plan.links.parts, *plan.meta.parts))
    assert plan.requests == len([r for r in fake_api.requests if r.path.endswith("/query")]) > 1
    assert not fake_api.jobs and not [r for r in fake_api.requests if r.path.endswith("/jobs")]


async def test_a_field_the_project_cannot_group_by_is_skipped_for_the_next_one() -> None:
    from botify_graph.api import plan_partitions
    from botify_graph.partition import sizing_key

    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        field = json.loads(request.content)["query"]["dimensions"][0]
        asked.append(field.rsplit(".", 1)[-1] if "pagetype" not in field else "pagetype")
        if "pagetype" in field:  # a project without segmentation
            return httpx.Response(400, json={"error": {"error_code": 1029, "message": "Field does not exist"}})
        return httpx.Response(200, json={"results": [{"dimensions": [v], "metrics": [300]} for v in (10, 20, 30)],
                                         "next": None})  # fmt: skip

    sizes: dict[str, list[tuple[Any, int]]] = {sizing_key("", "depth"): [(0, 10), (1, 900)]}
    transport = httpx.MockTransport(handler)
    async with make_client("t", base_url="http://api.test/v1", transport=transport, rate=1000) as client:
        plan = await plan_partitions(client, PROJECT, "20241108", "links", cap=700, margin=0.0, sizes=sizes)
    assert asked == ["pagetype", "total"]  # page type refused: on to the outlinks count
    assert plan.feasible and [p.id for p in plan.parts] == ["d0", "d1.o0", "d1.o1"]


@pytest.mark.parametrize(
    ("refuse", "message"),
    [
        # one field refused: named, and only it
        (lambda dims: any(d.endswith(".js.rendering.exec") for d in dims), r"refuses the field js.rendering.exec "),
        # each field is fine alone, not all together (error 1027: more than 10 fields, in the legacy export)
        (lambda dims: len(dims) > 2, r"refuses the meta query with the fields http_code, js.rendering.exec"),
    ],
)
async def test_check_meta_fields_names_what_botify_refuses(refuse: Any, message: str) -> None:
    from botify_graph.api import check_meta_fields
    from botify_graph.errors import ConfigError

    sent: list[list[str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        dims = json.loads(request.content)["query"]["dimensions"]
        sent.append(dims)
        assert request.url.params["size"] == "1" and "filters" not in json.loads(request.content)["query"]
        if refuse(dims):
            return httpx.Response(400, json={"error": {"error_code": 1034, "message": "Feature disabled"}})
        return httpx.Response(200, json={"results": [], "next": None})

    async with make_client("t", base_url="http://api.test/v1", transport=httpx.MockTransport(handler), rate=1000) as c:
        await check_meta_fields(c, PROJECT, "20241108", ("http_code",))
        with pytest.raises(ConfigError, match=message) as caught:
            await check_meta_fields(c, PROJECT, "20241108", ("http_code", "js.rendering.exec"))
    assert "no export job was created" in str(caught.value).lower()
    assert len(sent) == 4  # one check that passed; then the pair, and each field alone
    assert sent[1] == [f"{CRAWL}.url", f"{CRAWL}.http_code", f"{CRAWL}.js.rendering.exec"]
