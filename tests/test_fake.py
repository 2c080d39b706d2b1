"""The fake Botify API, exercised over real sockets with plain httpx."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from botify_graph.errors import ConfigError
from botify_graph.fake import (
    ALWAYS,
    DEMO_TOKEN,
    SCENARIOS,
    BqlError,
    Crawl,
    FakeBotify,
    Scenario,
    Site,
    compile_query,
    serve,
)
from botify_graph.fake.site import PROJECTS

ORG, PROJECT, ANALYSIS = "example-org", "example.com", "20241108"
CRAWL = f"crawl.{ANALYSIS}"
QUERY = f"/projects/{ORG}/{PROJECT}/query"
QUIET = Scenario(polls_to_done=1, rate_limit_qps=None)  # no QPS limit: tests may fire fast


@pytest.fixture
def fake() -> Iterator[FakeBotify]:
    with FakeBotify(scale=0.02, scenario=QUIET) as f:
        yield f


@pytest.fixture(scope="module")
def shared() -> Iterator[FakeBotify]:
    """Read-only tests share one server (no rate limit)."""
    with FakeBotify(scale=0.02, scenario=QUIET) as f:
        yield f


@pytest.fixture(scope="module")
def crawl(shared: FakeBotify) -> Crawl:
    return shared.site(ORG, PROJECT).crawl(ANALYSIS)


HTTP = httpx.Client(timeout=30)  # one pool for the module: building a client costs ~20 ms


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    HTTP.close()


class Api:
    """The API of one fake with (or without) the token; `with api(fake) as c:` reads well in tests."""

    def __init__(self, fake: FakeBotify, token: str | None) -> None:
        self.base = fake.base_url
        self.headers = {"Authorization": f"Token {token}"} if token else {}

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def _url(self, url: str) -> str:
        return url if url.startswith("http") else self.base + url

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return HTTP.get(self._url(url), headers=self.headers, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        return HTTP.post(self._url(url), headers=headers, **kw)


def api(fake: FakeBotify, token: str | None = DEMO_TOKEN) -> Api:
    return Api(fake, token)


def bql(dimensions: list[Any], metrics: list[Any], **query: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"collections": [CRAWL], "query": {"dimensions": dimensions, "metrics": metrics, **query}}
    return body


def run_query(fake: FakeBotify, body: dict[str, Any], **params: Any) -> httpx.Response:
    with api(fake) as c:
        return c.post(QUERY, json=body, params=params)


def links_job(depth: int, **payload: Any) -> dict[str, Any]:
    return {
        "job_type": "export",
        "payload": {
            "username": ORG,
            "project": PROJECT,
            "connector": "direct_download",
            "formatter": "csv",
            "export_size": 1_000_000,
            "query": bql(
                [f"{CRAWL}.url", f"{CRAWL}.outlinks_internal.graph.url"],
                [],
                filters={"field": f"{CRAWL}.depth", "predicate": "lte", "value": depth},
            ),
            **payload,
        },
    }


def meta_job(depth: int, **payload: Any) -> dict[str, Any]:
    body = {
        "collections": [CRAWL, "search_console"],
        "periods": [["2024-10-10", "2024-11-08"]],
        "query": {
            "dimensions": [f"{CRAWL}.url", "segments.pagetype.value", f"{CRAWL}.compliant.is_compliant"],
            "metrics": ["search_console.period_0.count_impressions", "search_console.period_0.count_clicks"],
            "filters": {"field": f"{CRAWL}.depth", "predicate": "lte", "value": depth},
        },
    }
    return {"job_type": "export", "payload": {"username": ORG, "project": PROJECT, "query": body, **payload}}


def finish(fake: FakeBotify, c: Api, created: dict[str, Any], max_polls: int = 50) -> dict[str, Any]:
    """Poll a job (joining its relative job_url to the API origin) until DONE or FAILED."""
    url = fake.origin + created["job_url"]
    for _ in range(max_polls):
        job = c.get(url).json()
        if job["job_status"] in ("DONE", "FAILED"):
            return job
        time.sleep(0.02)
    raise AssertionError("job never finished")


def export(fake: FakeBotify, body: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    with api(fake) as c:
        created = c.post("/jobs", json=body)
        assert created.status_code == 201, created.text
        job = finish(fake, c, created.json())
    assert job["job_status"] == "DONE", job
    got = HTTP.get(job["results"]["download_url"])
    assert got.status_code == 200
    return job, got.content


def csv_text(data: bytes) -> str:
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data).decode()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".csv")]
        return zf.read(name).decode()


# -- the synthetic site -------------------------------------------------------------------------------


def test_site_links_are_distinct_within_one_depth_and_counted(crawl: Crawl) -> None:
    self_loops = 0
    for i in range(crawl.n_pages):
        targets = crawl.targets(i)
        assert len(targets) == len(set(targets)) == crawl.outlinks(i)
        assert all(crawl.depth(t) <= crawl.depth(i) + 1 for t in targets)
        self_loops += i in targets
    assert 0 < self_loops < crawl.n_pages // 10
    assert sum(crawl.edges_per_depth()) == sum(1 for _ in crawl.edges())
    assert len(set(crawl.urls)) == crawl.n_pages


def test_site_is_deterministic_and_analyses_differ() -> None:
    spec = PROJECTS[(ORG, PROJECT)]
    a, b = Site(ORG, PROJECT, spec, 0.02).crawl(), Site(ORG, PROJECT, spec, 0.02).crawl()
    assert a.urls == b.urls and a.targets(5) == b.targets(5) and a.edges_per_depth() == b.edges_per_depth()
    other = Site(ORG, PROJECT, spec, 0.02).crawl("20241101")
    assert other.n_pages < a.n_pages


def test_site_at_full_scale_crosses_a_million_links_mid_way() -> None:
    crawl = Site(ORG, PROJECT, PROJECTS[(ORG, PROJECT)], 1.0).crawl(ANALYSIS)
    cumulative = crawl.cumulative_edges()
    assert 1_500_000 <= cumulative[-1] <= 2_000_000
    assert cumulative[4] <= 1_000_000 < cumulative[5]
    assert cumulative[-1] == cumulative[-2]  # the crawl's max depth adds nothing: a plateau


def test_huge_home_overflows_at_depth_one() -> None:
    crawl = Site(ORG, "huge-home.example", PROJECTS[(ORG, "huge-home.example")], 0.02).crawl()
    assert crawl.cumulative_edges()[1] > 10_000  # a client with max_edges=10_000 must refuse every depth


def test_failed_and_running_analyses_have_no_crawl(shared: FakeBotify) -> None:
    with pytest.raises(KeyError):
        shared.site(ORG, PROJECT).crawl("20241025")


# -- auth, profile, projects --------------------------------------------------------------------------


def test_profile_answers_the_username(shared: FakeBotify) -> None:
    with api(shared) as c:
        r = c.get("/authentication/profile")
    assert r.status_code == 200
    assert r.json()["data"]["username"] == "demo.user"
    assert set(r.json()) == {"data"}


@pytest.mark.parametrize("token", [None, "0123456789abcdef0123456789abcdef01234567"])
def test_missing_or_wrong_token_is_401(shared: FakeBotify, token: str | None) -> None:
    with api(shared, token) as c:
        r = c.get("/authentication/profile")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Token"
    assert r.json() == {"error": {"error_code": 1001, "message": "Not Authorized"}}


def test_token_keyword_is_case_insensitive_but_bearer_is_not(shared: FakeBotify) -> None:
    url = shared.base_url + "/authentication/profile"
    assert HTTP.get(url, headers={"Authorization": f"token {DEMO_TOKEN}"}).status_code == 200
    assert HTTP.get(url, headers={"Authorization": f"Bearer {DEMO_TOKEN}"}).status_code == 401


def test_demo_token_is_not_mistaken_for_a_real_one() -> None:
    assert not (len(DEMO_TOKEN) == 40 and all(ch in "0123456789abcdef" for ch in DEMO_TOKEN))


def test_foreign_org_is_403_and_unknown_project_404(shared: FakeBotify) -> None:
    with api(shared) as c:
        foreign = c.get("/analyses/other-org/example.com/light")
        missing = c.get(f"/analyses/{ORG}/nope.example/light")
        unknown_route = c.get("/nothing/here")
    assert foreign.status_code == 403 and foreign.json()["error"]["error_code"] == 1002
    assert missing.status_code == 404 and missing.json()["error"]["error_code"] == 1010
    assert unknown_route.status_code == 404 and "error" in unknown_route.json()


def test_projects_list(shared: FakeBotify) -> None:
    with api(shared) as c:
        body = c.get(f"/projects/{ORG}").json()
    assert {p["slug"] for p in body["results"]} >= {"example.com", "no-gsc.example", "huge-home.example"}


# -- analyses ------------------------------------------------------------------------------------------


def test_light_lists_success_analyses_newest_first(shared: FakeBotify) -> None:
    with api(shared) as c:
        body = c.get(f"/analyses/{ORG}/{PROJECT}/light").json()
    assert set(body) == {"count", "next", "previous", "page", "size", "results"}
    assert [a["slug"] for a in body["results"]] == ["20241108", "20241101-2", "20241101"]
    assert body["count"] == 3 and body["next"] is None and body["previous"] is None and body["page"] == 1
    first = body["results"][0]
    assert first["status"] == "success" and first["name"] == "2024 Nov. 8th"
    assert first["url"] == f"https://app.botify.com/{ORG}/{PROJECT}/20241108/"


def test_light_only_success_false_shows_failed_and_crawling(shared: FakeBotify) -> None:
    with api(shared) as c:
        body = c.get(f"/analyses/{ORG}/{PROJECT}/light", params={"only_success": "false"}).json()
    assert [(a["slug"], a["status"]) for a in body["results"]] == [
        ("20241115", "crawling"),
        ("20241108", "success"),
        ("20241101-2", "success"),
        ("20241101", "success"),
        ("20241025", "failed"),
    ]


def test_light_paginates_with_absolute_next(shared: FakeBotify) -> None:
    slugs, pages = [], 0
    url: str | None = f"{shared.base_url}/analyses/{ORG}/{PROJECT}/light?size=2&only_success=false"
    with api(shared) as c:
        while url:
            body = c.get(url).json()
            assert body["size"] == 2
            slugs += [a["slug"] for a in body["results"]]
            pages += 1
            url = body["next"]
            assert url is None or url.startswith(shared.origin + "/v1/analyses/")
        assert c.get(f"/analyses/{ORG}/{PROJECT}/light", params={"page": 9}).status_code == 404
    assert pages == 3 and len(slugs) == 5


def test_max_page_size_forces_pagination(fake: FakeBotify) -> None:
    fake.scenario = QUIET.replace(max_page_size=2)
    with api(fake) as c:
        body = c.get(f"/analyses/{ORG}/{PROJECT}/light", params={"size": 100}).json()
        second = c.get(body["next"]).json()
    assert body["size"] == 2 and len(body["results"]) == 2
    assert second["previous"] == f"{fake.base_url}/analyses/{ORG}/{PROJECT}/light?size=100"  # DRF drops page=1


# -- collections ----------------------------------------------------------------------------------------


def test_collections_is_a_bare_list(shared: FakeBotify) -> None:
    with api(shared) as c:
        items = c.get(f"/projects/{ORG}/{PROJECT}/collections").json()
        no_gsc = c.get(f"/projects/{ORG}/no-gsc.example/collections").json()
    assert isinstance(items, list)
    ids = [i["id"] for i in items]
    assert ids[:3] == ["crawl.20241108", "crawl.20241101-2", "crawl.20241101"]
    gsc = next(i for i in items if i["id"] == "search_console")
    assert gsc["timestamped"] is True and gsc["date_start"] <= gsc["date_end"]
    assert "search_console" not in [i["id"] for i in no_gsc]


def test_collection_fields_carry_prefixed_ids_aliases_and_kind(shared: FakeBotify) -> None:
    with api(shared) as c:
        body = c.get(f"/projects/{ORG}/{PROJECT}/collections/{CRAWL}").json()
        gsc = c.get(f"/projects/{ORG}/{PROJECT}/collections/search_console").json()
        missing = c.get(f"/projects/{ORG}/{PROJECT}/collections/crawl.19990101")
    fields = {f["id"]: f for d in body["datasets"] for f in d["fields"]}
    depth = fields[f"{CRAWL}.depth"]
    assert depth["aliases"] == ["depth"] and depth["kind"] == "dimension"
    assert fields[f"{CRAWL}.outlinks_internal.graph.url"]["multiple"] is True
    assert fields[f"{CRAWL}.count_urls_crawl"]["kind"] == "metric"
    assert {f["aliases"][0] for d in gsc["datasets"] for f in d["fields"]} >= {"count_impressions", "count_clicks"}
    assert missing.status_code == 404


# -- /query ------------------------------------------------------------------------------------------


def test_grouped_depth_sums_equal_per_page_totals(shared: FakeBotify, crawl: Crawl) -> None:
    body = bql([f"{CRAWL}.depth"], [{"function": "sum", "args": [f"{CRAWL}.outlinks_internal.nb.total"]}])
    r = run_query(shared, body)
    assert r.status_code == 200
    got = {row["dimensions"][0]: row["metrics"][0] for row in r.json()["results"]}
    assert got == dict(enumerate(crawl.edges_per_depth()))
    assert "count" not in r.json()


def test_unsorted_groups_come_biggest_first(shared: FakeBotify, crawl: Crawl) -> None:
    r = run_query(shared, bql([f"{CRAWL}.depth"], [f"{CRAWL}.count_urls_crawl"]))
    counts = [row["metrics"][0] for row in r.json()["results"]]
    assert counts == sorted(counts, reverse=True)
    assert sorted(counts) == sorted(crawl.sizes)


def test_no_dimension_query_returns_one_row(shared: FakeBotify, crawl: Crawl) -> None:
    body = bql(
        [],
        [{"function": "sum", "args": [f"{CRAWL}.outlinks_internal.nb.total"]}],
        filters={"field": f"{CRAWL}.depth", "predicate": "lte", "value": 3},
    )
    results = run_query(shared, body).json()["results"]
    assert results == [{"dimensions": [], "metrics": [crawl.edges_upto(3)]}]
    empty = bql([], [{"sum": f"{CRAWL}.outlinks_internal.nb.total"}], filters={"field": f"{CRAWL}.depth", "value": 99})
    assert run_query(shared, empty).json()["results"] == [{"dimensions": [], "metrics": [0]}]


@pytest.mark.parametrize(
    "sort",
    [
        [0],
        [{"index": 0}],
        [{"index": 0, "type": "dimensions", "order": "asc"}],
        [{"field": f"{CRAWL}.depth", "order": "asc"}],
    ],
)
def test_sort_forms_ascending(shared: FakeBotify, sort: list[Any]) -> None:
    body = bql([f"{CRAWL}.depth"], [{"field": f"{CRAWL}.count_urls_crawl"}], sort=sort)
    depths = [row["dimensions"][0] for row in run_query(shared, body).json()["results"]]
    assert depths == sorted(depths)


def test_sort_on_metric_descending(shared: FakeBotify) -> None:
    body = bql(
        [f"{CRAWL}.depth"],
        [{"sum": f"{CRAWL}.outlinks_internal.nb.total"}],
        sort=[{"type": "metrics", "index": 0, "order": "desc"}],
    )
    sums = [row["metrics"][0] for row in run_query(shared, body).json()["results"]]
    assert sums == sorted(sums, reverse=True)


def test_count_only_with_the_count_flag(shared: FakeBotify, crawl: Crawl) -> None:
    body = bql([f"{CRAWL}.url"], [], filters={"field": f"{CRAWL}.depth", "predicate": "lte", "value": 2})
    with api(shared) as c:
        r = c.post(QUERY + "?count", json=body)
    assert r.json()["count"] == crawl.pages_upto(2)


def test_query_pagination_default_cap_and_absolute_next(shared: FakeBotify, crawl: Crawl) -> None:
    body = bql([f"{CRAWL}.url"], [f"{CRAWL}.count_urls_crawl"])
    with api(shared) as c:
        first = c.post(QUERY, json=body).json()
        assert first["size"] == 500 and len(first["results"]) == 500
        capped = c.post(QUERY, params={"size": 5000}, json=body).json()
        assert capped["size"] == 2000
        urls, url = [], f"{shared.base_url}{QUERY[0:]}?size=400"
        while url:
            page = c.post(url, json=body).json()
            urls += [row["dimensions"][0] for row in page["results"]]
            url = page["next"]
            assert url is None or url.startswith("http://127.0.0.1:")
    assert urls == crawl.urls


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"field": f"{CRAWL}.depth", "value": 2}, lambda c, i: c.depth(i) == 2),
        ({"field": f"{CRAWL}.depth", "predicate": "between", "value": [2, 3]}, lambda c, i: 2 <= c.depth(i) <= 3),
        ({"field": "url", "predicate": "contains", "value": "/p/"}, lambda c, i: "/p/" in c.url(i)),
        ({"field": f"{CRAWL}.url", "predicate": "starts", "value": "https://www.example.com/tag/"},
         lambda c, i: c.url(i).startswith("https://www.example.com/tag/")),
        ({"field": "url", "predicate": "ends", "value": ".html"}, lambda c, i: c.url(i).endswith(".html")),
        ({"field": "url", "predicate": "re", "value": r"/blog/201[5-7]/"}, lambda c, i: "/blog/201" in c.url(i)
         and c.url(i).split("/blog/")[1][:4] in ("2015", "2016", "2017")),
        ({"field": f"{CRAWL}.compliant.is_compliant", "value": False}, lambda c, i: not c.is_compliant(i)),
        ({"field": f"{CRAWL}.canonical.to.equal", "predicate": "exists"},
         lambda c, i: c.canonical_equal(i) is not None),
        ({"and": [{"field": f"{CRAWL}.depth", "predicate": "gte", "value": 3},
                  {"not": {"field": "segments.pagetype.value", "value": "product"}}]},
         lambda c, i: c.depth(i) >= 3 and c.pagetype(i) != "product"),
        ({"or": [{"field": "segments.pagetype.value", "value": "home"},
                 {"field": f"{CRAWL}.http_code", "predicate": "gt", "value": 300}]},
         lambda c, i: c.pagetype(i) == "home" or c.http_code(i) > 300),
        ({"field": f"{CRAWL}.outlinks_internal.graph.url", "predicate": "any.eq", "value": "https://www.example.com/"},
         lambda c, i: 0 in c.targets(i)),
    ],
)  # fmt: skip
def test_filters(shared: FakeBotify, crawl: Crawl, filters: dict[str, Any], expected: Any) -> None:
    body = bql([], [f"{CRAWL}.count_urls_crawl"], filters=filters)
    r = run_query(shared, body)
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["metrics"] == [sum(1 for i in range(crawl.n_pages) if expected(crawl, i))]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (bql([f"{CRAWL}.nope"], []), 1029),
        (bql(["depth"], []), 1029),  # not a global field
        (bql(["crawl.20241025.depth"], []), 1029),  # not in `collections`
        ({"collections": ["crawl.20241025"], "query": {"dimensions": ["url"], "metrics": []}}, 1029),  # failed
        ({"collections": [CRAWL], "query": {"dimensions": [f"{CRAWL}.depth"]}}, 1022),  # metrics missing
        ({"collections": [CRAWL], "query": {"metrics": []}}, 1022),
        ({"query": {"dimensions": [], "metrics": []}}, 1020),
        (bql([f"{CRAWL}.depth"], [f"{CRAWL}.outlinks_internal.nb.total"]), 1022),  # a dimension as a metric
        (bql([], [f"{CRAWL}.count_urls_crawl"], filters={"field": "url", "predicate": "in", "value": ["a"]}), 1022),
        (bql([], [f"{CRAWL}.count_urls_crawl"], filters={"field": f"{CRAWL}.depth", "value": "2"}), 1022),
        (bql([], [f"{CRAWL}.count_urls_crawl"], filters={"field": "url", "predicate": "re", "value": "("}), 1057),
        (bql([f"{CRAWL}.depth"], [{"function": "median", "args": [f"{CRAWL}.depth"]}]), 1022),
        (bql([f"{CRAWL}.depth"], [], sort=[{"field": "url"}]), 1022),
        (bql([], ["search_console.period_0.count_clicks"]), 1029),  # search_console not in collections
        ({"collections": [CRAWL, "search_console"],
          "query": {"dimensions": ["url"], "metrics": ["search_console.period_0.count_clicks"]}}, 1022),  # no periods
        (bql([f"{CRAWL}.url", f"{CRAWL}.outlinks_internal.graph.url"], []), 1043),  # too big for /query
    ],
)  # fmt: skip
def test_bad_queries_are_400_with_a_code(shared: FakeBotify, body: dict[str, Any], code: int) -> None:
    r = run_query(shared, body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["error_code"] == code


def test_invalid_json_is_400(shared: FakeBotify) -> None:
    with api(shared) as c:
        r = c.post(QUERY, content=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["error_code"] == 1020


def test_small_multi_valued_query_is_flattened(shared: FakeBotify, crawl: Crawl) -> None:
    body = bql(
        [f"{CRAWL}.url", f"{CRAWL}.outlinks_internal.graph.url"],
        [],
        filters={"field": f"{CRAWL}.depth", "predicate": "lte", "value": 1},
    )
    rows = [row["dimensions"] for row in run_query(shared, body).json()["results"]]
    expected = [[crawl.url(s), crawl.url(t)] for s, t in crawl.edges(1)]
    assert rows == expected


def test_search_console_metrics_join_the_crawl(shared: FakeBotify, crawl: Crawl) -> None:
    body = {
        "collections": [CRAWL, "search_console"],
        "periods": [["2024-10-10", "2024-11-08"]],
        "query": {
            "dimensions": ["url"],
            "metrics": [
                "search_console.period_0.count_impressions",
                {"field": "search_console.period_0.count_clicks", "name": "Clicks"},
                "search_console.period_0.ctr",
                "search_console.period_0.avg_position",
            ],
            "filters": {"field": f"{CRAWL}.depth", "predicate": "lte", "value": 2},
        },
    }
    results = run_query(shared, body).json()["results"]
    assert len(results) == crawl.pages_upto(2)
    for n, row in enumerate(results):
        assert row["metrics"][:2] == [crawl.impressions(n), crawl.clicks_of(n)]
    assert any(row["metrics"][0] is None for row in results) and results[0]["metrics"][0] > 0
    gsc_only = {"collections": ["search_console"], "periods": body["periods"],
                "query": {"dimensions": ["url"], "metrics": ["search_console.period_0.count_clicks"]}}  # fmt: skip
    with api(shared) as c:
        count = c.post(QUERY + "?count", json=gsc_only).json()["count"]
    assert count == sum(1 for i in range(crawl.n_pages) if crawl.has_gsc(i))


def test_compile_query_is_usable_without_a_server(crawl: Crawl) -> None:
    site = Site(ORG, PROJECT, PROJECTS[(ORG, PROJECT)], 0.02)
    plan = compile_query(bql([f"{CRAWL}.depth"], [{"count": f"{CRAWL}.url"}], sort=[0]), site)
    assert [m[0] for _, m in plan.rows()] == crawl.sizes
    with pytest.raises(BqlError) as info:
        compile_query(bql(["nope"], []), site)
    assert info.value.code == 1029


# -- jobs ---------------------------------------------------------------------------------------------


def test_job_lifecycle_created_processing_done(fake: FakeBotify, crawl: Crawl) -> None:
    fake.scenario = QUIET.replace(polls_to_done=3)
    with api(fake) as c:
        created = c.post("/jobs", json=links_job(2))
        assert created.status_code == 201
        job = created.json()
        assert job["job_status"] == "CREATED" and job["results"] is None
        assert job["job_url"] == f"/v1/jobs/{job['job_id']}" and isinstance(job["job_id"], int)
        fake.wait_for_job_file(job["job_id"])
        statuses = [c.get(fake.origin + job["job_url"]).json()["job_status"] for _ in range(4)]
        done = c.get(fake.origin + job["job_url"]).json()
    assert statuses == ["PROCESSING", "PROCESSING", "DONE", "DONE"]
    url = done["results"]["download_url"]
    assert url.startswith(fake.cdn_url) and not url.startswith(fake.origin) and url.endswith(".csv.gz")
    assert "nb_lines" not in done["results"]
    assert set(fake.jobs) == {job["job_id"]} and fake.jobs[job["job_id"]].kind == "links"


def test_job_payload_is_echoed_with_docs_defaults(fake: FakeBotify) -> None:
    with api(fake) as c:
        payload = c.post("/jobs", json=links_job(2, extra_config={"filetype": "zip"})).json()["payload"]
    assert payload["formatter_config"] == {
        "delimiter": ",",
        "print_header": True,
        "header_format": "verbose",
        "print_delimiter": True,
    }
    assert payload["extra_config"] == {"compression": "zip"}
    assert payload["sort_url_id"] is False and payload["export_job_name"] is None


def test_observed_defaults_and_explicit_values_win(fake: FakeBotify) -> None:
    fake.scenario = QUIET.replace(formatter_defaults="observed")
    with api(fake) as c:
        bare = c.post("/jobs", json=links_job(2)).json()["payload"]["formatter_config"]
        explicit = c.post("/jobs", json=links_job(2, formatter_config={"print_header": True})).json()
    assert (bare["print_header"], bare["print_delimiter"], bare["header_format"]) == (False, False, "verbose")
    assert explicit["payload"]["formatter_config"]["print_header"] is True
    _, data = export(fake, links_job(1))
    lines = csv_text(data).splitlines()
    assert not lines[0].startswith("sep=") and lines[0].startswith("https://")


@pytest.mark.parametrize(
    ("formatter_config", "first_lines"),
    [
        ({"print_header": True, "print_delimiter": True, "header_format": "verbose"},
         ["sep=,", "Full URL,Internal Outlinks URL"]),
        ({"print_header": True, "print_delimiter": False, "header_format": "slug"},
         ["url,outlinks_internal.graph.url"]),
        ({"print_header": True, "print_delimiter": False, "header_format": "collection_slug"},
         [f"{CRAWL}.url,{CRAWL}.outlinks_internal.graph.url"]),
        ({"print_header": False, "print_delimiter": True, "delimiter": ";"}, ["sep=;"]),
    ],
)  # fmt: skip
def test_export_layout_follows_formatter_config(
    fake: FakeBotify, crawl: Crawl, formatter_config: dict[str, Any], first_lines: list[str]
) -> None:
    _, data = export(fake, links_job(3, formatter_config=formatter_config))
    text = csv_text(data)
    lines = text.split("\r\n")
    assert lines[: len(first_lines)] == first_lines
    rows = list(csv.reader(io.StringIO(text), delimiter=formatter_config.get("delimiter", ",")))
    data_rows = rows[len(first_lines) :] if formatter_config["print_header"] else rows[1:]
    assert len(data_rows) == crawl.edges_upto(3)
    assert [tuple(r) for r in data_rows] == [(crawl.url(s), crawl.url(t)) for s, t in crawl.edges(3)]


def test_export_rows_equal_the_grouped_edge_sum(fake: FakeBotify, crawl: Crawl) -> None:
    body = bql(
        [],
        [{"function": "sum", "args": [f"{CRAWL}.outlinks_internal.nb.total"]}],
        filters={"field": f"{CRAWL}.depth", "predicate": "lte", "value": 4},
    )
    expected = run_query(fake, body).json()["results"][0]["metrics"][0]
    fake.scenario = QUIET.replace(nb_lines=True)
    job, data = export(fake, links_job(4, formatter_config={"print_header": False, "print_delimiter": False}))
    assert len(csv_text(data).splitlines()) == expected == job["results"]["nb_lines"]


@pytest.mark.parametrize("extra_config", [{"filetype": "zip"}, {"compression": "zip"}])
def test_zip_exports_hold_one_csv(fake: FakeBotify, extra_config: dict[str, str]) -> None:
    job, data = export(fake, links_job(1, extra_config=extra_config))
    assert job["results"]["download_url"].endswith(".zip") and data[:2] == b"PK"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert len(zf.namelist()) == 1 and zf.namelist()[0].endswith(".csv")


def test_meta_export_has_gsc_columns_booleans_and_empty_nulls(fake: FakeBotify, crawl: Crawl) -> None:
    job, data = export(fake, meta_job(2, formatter_config={"print_delimiter": False}))
    rows = list(csv.reader(io.StringIO(csv_text(data))))
    assert rows[0] == ["Full URL", "Pagetype (Segment)", "Is Compliant", "Impressions", "Clicks"]
    assert len(rows) - 1 == crawl.pages_upto(2)
    assert rows[1] == [crawl.url(0), "home", "True", str(crawl.impressions(0)), str(crawl.clicks_of(0))]
    assert {r[2] for r in rows[1:]} <= {"True", "False"} and any(r[3] == "" for r in rows[1:])
    assert fake.jobs[job["job_id"]].kind == "meta"


def test_export_size_caps_rows_and_above_a_million_is_400(fake: FakeBotify) -> None:
    _, data = export(fake, links_job(3, export_size=100, formatter_config={"print_header": False}))
    assert len(csv_text(data).splitlines()) == 101  # sep= line + 100 rows
    with api(fake) as c:
        r = c.post("/jobs", json=links_job(3, export_size=1_000_001))
    assert r.status_code == 400 and len(fake.jobs) == 1


@pytest.mark.parametrize(
    ("mutate", "status", "code"),
    [
        (lambda b: b["payload"]["query"]["query"]["dimensions"].append(f"{CRAWL}.nope"), 400, 1029),
        (lambda b: b["payload"]["query"]["query"].pop("metrics"), 400, 1022),
        (lambda b: b.update(job_type="logs_urls_export"), 400, 1020),
        (lambda b: b["payload"].update(formatter_config={"header_format": "pretty"}), 400, 1020),
        (lambda b: b["payload"].update(username="other-org"), 403, 1002),
        (lambda b: b["payload"].update(project="nope.example"), 404, 1010),
    ],
)
def test_bad_job_payloads_create_nothing(fake: FakeBotify, mutate: Any, status: int, code: int) -> None:
    body = links_job(2)
    mutate(body)
    with api(fake) as c:
        r = c.post("/jobs", json=body)
    assert (r.status_code, r.json()["error"]["error_code"]) == (status, code)
    assert fake.jobs == {}


def test_jobs_are_not_idempotent_and_list_newest_first(fake: FakeBotify) -> None:
    with api(fake) as c:
        ids = [c.post("/jobs", json=links_job(2)).json()["job_id"] for _ in range(2)]
        c.post("/jobs", json=meta_job(2))
        listing = c.get("/jobs", params={"job_type": "export", "project": PROJECT, "size": 2}).json()
        rest = c.get(listing["next"]).json()
        other = c.get("/jobs", params={"project": "no-gsc.example"}).json()
        missing = c.get("/jobs/99")
    assert ids[1] == ids[0] + 1 and len(fake.jobs) == 3
    listed = [j["job_id"] for j in listing["results"] + rest["results"]]
    assert listed == sorted(fake.jobs, reverse=True) and listing["count"] == 3
    assert other["count"] == 0
    assert missing.status_code == 404
    assert len(fake.jobs_of_kind("links")) == 2 and len(fake.jobs_of_kind("meta")) == 1


def test_every_done_poll_issues_a_fresh_download_url(fake: FakeBotify) -> None:
    with api(fake) as c:
        created = c.post("/jobs", json=links_job(1)).json()
        first = finish(fake, c, created)["results"]["download_url"]
        second = finish(fake, c, created)["results"]["download_url"]
    assert first != second
    assert HTTP.get(first).status_code == 200 == HTTP.get(second, headers={"Authorization": "Token x"}).status_code


def test_job_seconds_keeps_a_job_processing(fake: FakeBotify) -> None:
    fake.scenario = QUIET.replace(polls_to_done=0, job_seconds=0.5)
    with api(fake) as c:
        created = c.post("/jobs", json=links_job(1)).json()
        assert c.get(fake.origin + created["job_url"]).json()["job_status"] == "PROCESSING"
        time.sleep(0.55)
        fake.wait_for_job_file(created["job_id"])
        assert c.get(fake.origin + created["job_url"]).json()["job_status"] == "DONE"


def test_job_seconds_can_differ_per_kind(fake: FakeBotify) -> None:
    fake.scenario = QUIET.replace(polls_to_done=0, job_seconds=0.0, job_seconds_links=30.0, job_seconds_meta=0.0)
    assert fake.scenario.seconds_for("links") == 30.0 and fake.scenario.seconds_for("meta") == 0.0
    with api(fake) as c:
        links = c.post("/jobs", json=links_job(1)).json()
        meta = c.post("/jobs", json=meta_job(1)).json()
        fake.wait_for_job_file(meta["job_id"])
        assert fake.jobs[meta["job_id"]].ready_t is not None  # when its file was written
        assert c.get(fake.origin + meta["job_url"]).json()["job_status"] == "DONE"
        assert c.get(fake.origin + links["job_url"]).json()["job_status"] == "PROCESSING"


# -- faults -------------------------------------------------------------------------------------------


def test_fixture_is_rate_limited_at_5_per_second_per_endpoint(fake_api: FakeBotify) -> None:
    with api(fake_api) as c:
        statuses = [c.get("/authentication/profile").status_code for _ in range(8)]
        other = c.get(f"/analyses/{ORG}/{PROJECT}/light")
        r = c.get("/authentication/profile")
    assert statuses[:5] == [200] * 5 and 429 in statuses[5:]
    assert other.status_code == 200  # another endpoint has its own window
    if r.status_code == 429:
        assert r.json() == {"error": {"error_code": 1053, "message": "Too many requests"}}
        assert "retry-after" not in r.headers
    time.sleep(1.05)
    with api(fake_api) as c:
        assert c.get("/authentication/profile").status_code == 200


def test_retry_after_is_optional(fake: FakeBotify) -> None:
    fake.scenario = QUIET.replace(rate_limit_qps=2, retry_after=True)
    with api(fake) as c:
        responses = [c.get("/authentication/profile") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert int(responses[2].headers["retry-after"]) >= 1


def test_429_storm_hits_the_first_requests_of_each_endpoint(fake: FakeBotify) -> None:
    fake.scenario = QUIET.replace(storm_429=2)
    with api(fake) as c:
        profile = [c.get("/authentication/profile").status_code for _ in range(3)]
        light = [c.get(f"/analyses/{ORG}/{PROJECT}/light").status_code for _ in range(3)]
    assert profile == light == [429, 429, 200]


@pytest.mark.parametrize(
    ("error_body", "content_type", "marker"),
    [("text", "text/plain", "Service Unavailable"), ("html", "text/html", "<html>"),
     ("envelope", "application/json", "1000")],
)  # fmt: skip
def test_first_requests_get_5xx(fake: FakeBotify, error_body: str, content_type: str, marker: str) -> None:
    fake.scenario = QUIET.replace(error_first_n=1, error_body=error_body)
    with api(fake) as c:
        first, second = c.get("/authentication/profile"), c.get("/authentication/profile")
    assert first.status_code == 503 and first.headers["content-type"].startswith(content_type)
    assert marker in first.text
    assert second.status_code == 200


def test_every_nth_request_fails(fake: FakeBotify) -> None:
    fake.scenario = QUIET.replace(error_every_n=3, error_status=502)
    with api(fake) as c:
        statuses = [c.get("/authentication/profile").status_code for _ in range(6)]
    assert statuses == [200, 200, 502, 200, 200, 502]


def test_dropped_job_post_still_creates_the_job(fake: FakeBotify) -> None:
    fake.scenario = QUIET.replace(drop_job_posts=1)
    with api(fake) as c:
        with pytest.raises(httpx.TransportError):
            c.post("/jobs", json=links_job(2))
        (job_id,) = fake.jobs
        listed = c.get("/jobs", params={"project": PROJECT}).json()["results"]
        again = c.post("/jobs", json=links_job(2))
    assert [j["job_id"] for j in listed] == [job_id] and fake.jobs[job_id].dropped
    assert again.status_code == 201 and len(fake.jobs) == 2
    assert [r.status for r in fake.requests_to("/jobs", "POST")] == [0, 201]


@pytest.mark.parametrize(
    ("location", "where"),
    [("error", lambda j: j["error"]["error_code"] == 1060 and j["results"] is None),
     ("results", lambda j: j["results"]["message"] and "error" not in j),
     ("failure_reason", lambda j: isinstance(j["failure_reason"], str) and j["results"] is None)],
)  # fmt: skip
def test_failed_jobs_carry_their_reason_where_configured(fake: FakeBotify, location: str, where: Any) -> None:
    fake.scenario = QUIET.replace(fail_jobs=1, failure_location=location)
    with api(fake) as c:
        failed = finish(fake, c, c.post("/jobs", json=links_job(2)).json())
        ok = finish(fake, c, c.post("/jobs", json=links_job(2)).json())
    assert failed["job_status"] == "FAILED" and where(failed)
    assert ok["job_status"] == "DONE"


def test_fail_match_fails_only_link_jobs(fake: FakeBotify) -> None:
    fake.scenario = QUIET.replace(fail_jobs=ALWAYS, fail_match="outlinks_internal")
    with api(fake) as c:
        links = finish(fake, c, c.post("/jobs", json=links_job(2)).json())
        meta = finish(fake, c, c.post("/jobs", json=meta_job(2)).json())
    assert (links["job_status"], meta["job_status"]) == ("FAILED", "DONE")


def test_expired_download_then_fresh_url_from_a_new_poll(fake: FakeBotify) -> None:
    fake.scenario = QUIET.replace(expire_first_n_downloads=1)
    with api(fake) as c:
        created = c.post("/jobs", json=links_job(1)).json()
        stale = finish(fake, c, created)["results"]["download_url"]
        denied = HTTP.get(stale)
        fresh = finish(fake, c, created)["results"]["download_url"]
    assert denied.status_code == 403 and "<Code>AccessDenied</Code>" in denied.text
    assert HTTP.get(stale).status_code == 403  # a burned URL stays dead
    assert HTTP.get(fresh).status_code == 200


def test_download_ttl(fake: FakeBotify) -> None:
    fake.scenario = QUIET.replace(download_ttl_s=0.2)
    with api(fake) as c:
        url = finish(fake, c, c.post("/jobs", json=links_job(1)).json())["results"]["download_url"]
    assert HTTP.get(url).status_code == 200
    time.sleep(0.25)
    assert HTTP.get(url).status_code == 403


def test_truncated_download_breaks_the_read(fake: FakeBotify) -> None:
    fake.scenario = QUIET.replace(truncate_downloads=1)
    with api(fake) as c:
        url = finish(fake, c, c.post("/jobs", json=links_job(3)).json())["results"]["download_url"]
    with pytest.raises(httpx.TransportError):
        HTTP.get(url)
    assert gzip.decompress(HTTP.get(url).content)  # only the first download is cut


def test_corrupt_gzip_keeps_its_magic_bytes(fake: FakeBotify) -> None:
    fake.scenario = QUIET.replace(corrupt_downloads=ALWAYS)
    with api(fake) as c:
        url = finish(fake, c, c.post("/jobs", json=links_job(3)).json())["results"]["download_url"]
    data = HTTP.get(url).content
    assert data[:2] == b"\x1f\x8b"
    with pytest.raises((OSError, EOFError, zipfile.BadZipFile, ValueError)):
        gzip.decompress(data)


def test_zip_without_csv(fake: FakeBotify) -> None:
    fake.scenario = SCENARIOS["zip-without-csv"].replace(polls_to_done=1, rate_limit_qps=None)
    job, data = export(fake, links_job(1))
    assert job["results"]["download_url"].endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert not any(n.endswith(".csv") for n in zf.namelist())


def test_force_zip_and_force_docs_formatter_ignore_the_request(fake: FakeBotify) -> None:
    fake.scenario = QUIET.replace(force_zip=True, force_docs_formatter=True)
    asked = {"print_header": True, "print_delimiter": False, "header_format": "slug"}
    job, data = export(fake, links_job(1, formatter_config=asked, extra_config={"compression": "gzip"}))
    assert data[:2] == b"PK"
    assert csv_text(data).splitlines()[:2] == ["sep=,", "Full URL,Internal Outlinks URL"]
    assert job["payload"]["formatter_config"]["header_format"] == "slug"  # the echo shows what was asked


def test_latency(fake: FakeBotify) -> None:
    fake.scenario = QUIET.replace(latency_ms=(60.0, 80.0))
    with api(fake) as c:
        started = time.monotonic()
        c.get("/authentication/profile")
    assert time.monotonic() - started >= 0.06


def test_requests_are_recorded(fake: FakeBotify) -> None:
    with api(fake) as c:
        c.post(QUERY, params={"size": 10}, json=bql([f"{CRAWL}.depth"], [f"{CRAWL}.count_urls_crawl"]))
    (rec,) = fake.requests_to("/query", "POST")
    assert (rec.status, rec.query, rec.server, rec.endpoint) == (
        200,
        {"size": "10"},
        "api",
        "POST /projects/{org}/{project}/query",
    )
    assert rec.body["collections"] == [CRAWL]


def test_scenarios_cover_the_named_presets() -> None:
    names = {"default", "rate-limit", "rate-limit-retry-after", "flaky", "drop-on-create", "failed-job",
             "expired-download", "slow", "zip", "verbose-sep", "observed-defaults", "truncated-download",
             "corrupt-gzip", "zip-without-csv", "html-errors", "latency"}  # fmt: skip
    assert names <= set(SCENARIOS)
    assert SCENARIOS["default"] == Scenario()
    with pytest.raises(ValueError):
        Scenario(failure_location="nowhere")


def test_serve_rejects_unknown_scenarios() -> None:
    with pytest.raises(ConfigError):
        serve(0, "no-such-scenario", 0.02)


def test_serve_runs_until_interrupted() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = f"from botify_graph.fake import serve; serve({port}, 'default', 0.02)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                r = HTTP.get(
                    f"http://127.0.0.1:{port}/v1/authentication/profile",
                    headers={"Authorization": f"Token {DEMO_TOKEN}"},
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.05)
        assert r.status_code == 200
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0 and out == b"" and err == b""


def test_stop_closes_the_listeners() -> None:
    fake = FakeBotify(scale=0.02, scenario=QUIET).start()
    url = fake.base_url + "/authentication/profile"
    with httpx.Client(headers={"Authorization": f"Token {fake.token}"}) as c:
        assert c.get(url).status_code == 200
        fake.stop()
        with pytest.raises(httpx.TransportError):
            c.get(url)


def test_json_bodies_are_json(shared: FakeBotify) -> None:
    with api(shared) as c:
        r = c.get("/authentication/profile")
    assert r.headers["content-type"] == "application/json" and json.loads(r.content)


def test_wait_returns_once_stopped() -> None:
    fake = FakeBotify(scale=0.02, scenario=QUIET).start()
    assert fake.wait(timeout=0.05) is False
    threading.Timer(0.1, fake.stop).start()
    assert fake.wait(timeout=5) is True


# -- big sites: a small export cap, partition filters, one job at a time, an undercounting size ---------------


def test_the_big_site_has_depth_one_over_a_small_cap() -> None:
    spec = PROJECTS[(ORG, "big.example")]
    site = Site(ORG, "big.example", spec, 0.05)
    crawl = site.crawl(ANALYSIS)
    assert crawl.cumulative_edges()[1] > 10_000 and sum(crawl.edges_per_depth()) > 200_000
    # at scale 1.0 (not built here: 25 s): ~4.4M links, depth 0+1 over 200,000 and depth 3 over 1,000,000
    ratio = 1 / 0.05
    assert crawl.edges_per_depth()[3] * ratio > 1_000_000 and crawl.cumulative_edges()[1] * ratio > 200_000


def test_exports_honour_partition_filters_and_stop_at_export_size(fake: FakeBotify) -> None:
    big = f"/projects/{ORG}/big.example/query"
    crawl = fake.site(ORG, "big.example").crawl(ANALYSIS)
    where = {
        "and": [
            {"field": f"{CRAWL}.depth", "predicate": "between", "value": [2, 3]},
            {
                "or": [
                    {"field": f"{CRAWL}.segments.pagetype.value", "predicate": "eq", "value": "product"},
                    {"not": {"field": f"{CRAWL}.segments.pagetype.value", "predicate": "exists"}},
                ]
            },
            {"field": f"{CRAWL}.outlinks_internal.nb.total", "predicate": "gte", "value": 30},
        ]
    }
    pages = [
        i
        for i in range(crawl.n_pages)
        if 2 <= crawl.depth(i) <= 3 and crawl.pagetype(i) == "product" and crawl.outlinks(i) >= 30
    ]
    with api(fake) as c:
        sized = c.post(big, json=bql([], [{"function": "sum", "args": [f"{CRAWL}.outlinks_internal.nb.total"]}],
                                     filters=where)).json()  # fmt: skip
    expected = sum(crawl.outlinks(i) for i in pages)
    assert sized["results"][0]["metrics"][0] == expected > 1_000
    body = links_job(9, export_size=1_000, formatter_config={"print_header": False, "print_delimiter": False})
    body["payload"]["project"] = "big.example"
    body["payload"]["query"]["query"]["filters"] = where
    _, data = export(fake, body)
    rows = list(csv.reader(io.StringIO(csv_text(data))))
    assert len(rows) == 1_000  # cut at export_size
    assert {r[0] for r in rows} <= {crawl.url(i) for i in pages}


def test_a_small_export_cap_refuses_bigger_jobs(fake: FakeBotify) -> None:
    fake.scenario = QUIET.replace(max_export_size=500)
    with api(fake) as c:
        refused = c.post("/jobs", json=links_job(1, export_size=501))
        ok = c.post("/jobs", json=links_job(1, export_size=500))
        default = c.post("/jobs", json={**links_job(1), "payload": {**links_job(1)["payload"]}})
    assert refused.status_code == 400 and refused.json()["error"]["error_code"] == 1020
    assert ok.status_code == 201
    assert default.status_code == 400  # asked for 1,000,000: over this cap
    assert len(fake.jobs) == 1


def test_a_second_running_job_is_refused_with_1058(fake: FakeBotify) -> None:
    fake.scenario = QUIET.replace(max_running_jobs=1, job_seconds=0.6)
    with api(fake) as c:
        first = c.post("/jobs", json=links_job(1))
        second = c.post("/jobs", json=meta_job(1))
        assert first.status_code == 201
        assert (second.status_code, second.json()["error"]["error_code"]) == (400, 1058)
        assert len(fake.jobs) == 1  # the refused one was never created
        time.sleep(0.65)
        fake.wait_for_job_file(first.json()["job_id"])  # finished on Botify's side, polled or not
        assert c.post("/jobs", json=meta_job(1)).status_code == 201


def test_outlinks_undercount_makes_sizing_lower_than_the_export(fake: FakeBotify, crawl: Crawl) -> None:
    total = bql([], [{"function": "sum", "args": [f"{CRAWL}.outlinks_internal.nb.total"]}])
    honest = run_query(fake, total).json()["results"][0]["metrics"][0]
    fake.scenario = QUIET.replace(outlinks_undercount=0.3)
    low = run_query(fake, total).json()["results"][0]["metrics"][0]
    assert honest == sum(crawl.edges_per_depth()) and low < honest * 0.75
    _, data = export(fake, links_job(9, formatter_config={"print_header": False, "print_delimiter": False}))
    assert len(csv_text(data).splitlines()) == honest  # the export still holds every link


# -- the switches the doctor, the trace and the untried faults need ----------------------------------------


@pytest.mark.parametrize(
    ("profile", "status", "has_username"),
    [("ok", 200, True), ("missing", 404, False), ("not-allowed", 405, False), ("refused", 403, False),
     ("no-username", 200, False)],
)  # fmt: skip
def test_profile_switch(fake: FakeBotify, profile: str, status: int, has_username: bool) -> None:
    fake.scenario = QUIET.replace(profile=profile)
    with api(fake) as c:
        r = c.get("/authentication/profile")
        assert c.get(f"/analyses/{ORG}/{PROJECT}/light").status_code == 200  # the documented call still works
    assert r.status_code == status
    assert ("username" in r.json().get("data", {})) is has_username
    with api(fake, "wrong") as c:  # the token is checked first, except where there is no such route
        assert c.get("/authentication/profile").status_code == (404 if profile == "missing" else 401)


def test_echo_token_puts_the_token_in_headers_and_bodies(fake: FakeBotify) -> None:
    fake.scenario = QUIET.replace(echo_token=True)
    with api(fake) as c:
        r = c.get(f"/analyses/{ORG}/{PROJECT}/light")
        listed = c.get(f"/projects/{ORG}/{PROJECT}/collections")
    assert r.headers["x-echo-authorization"] == f"Token {DEMO_TOKEN}"
    assert r.json()["echo"]["padded"] == f"  {DEMO_TOKEN}\n" and r.json()["results"]  # the answer is still there
    assert isinstance(listed.json(), list)  # a bare list has no room for it


def test_revoke_token_after_polls(fake: FakeBotify) -> None:
    fake.scenario = QUIET.replace(polls_to_done=10, revoke_token_after_polls=2)
    with api(fake) as c:
        created = c.post("/jobs", json=links_job(1)).json()
        url = fake.origin + created["job_url"]
        assert [c.get(url).status_code for _ in range(3)] == [200, 200, 401]
        assert c.get("/authentication/profile").status_code == 401
    assert fake.token_revoked
    with api(fake, fake.new_token) as c:
        assert c.get(url).json()["job_id"] == created["job_id"]  # the same job, with the new token


def test_envelope_switches(fake: FakeBotify) -> None:
    light = f"/analyses/{ORG}/{PROJECT}/light"
    fake.scenario = QUIET.replace(light_shape="list")
    with api(fake) as c:
        assert isinstance(c.get(light).json(), list)
    fake.scenario = QUIET.replace(light_shape="no-next", max_page_size=2)
    with api(fake) as c:
        body = c.get(light).json()
    assert "next" not in body and body["count"] > len(body["results"]) == 2
    fake.scenario = QUIET.replace(odd_analysis_status="done")
    with api(fake) as c:
        statuses = [a["status"] for a in c.get(light).json()["results"]]
    assert statuses[0] == "done" and set(statuses[1:]) == {"success"}
    fake.scenario = QUIET.replace(collections_shape="object")
    with api(fake) as c:
        assert isinstance(c.get(f"/projects/{ORG}/{PROJECT}/collections").json()["collections"], list)


def test_hidden_and_absent_fields(fake: FakeBotify) -> None:
    fake.scenario = QUIET.replace(hide_fields=("sitemaps.present",), absent_fields=("canonical.to.equal",))
    with api(fake) as c:
        body = c.get(f"/projects/{ORG}/{PROJECT}/collections/{CRAWL}").json()
        listed = {f["aliases"][0] for ds in body["datasets"] for f in ds["fields"]}
        hidden = c.post(QUERY, json=bql([f"{CRAWL}.sitemaps.present"], []), params={"size": 1})
        absent = c.post(QUERY, json=bql([f"{CRAWL}.canonical.to.equal"], []), params={"size": 1})
        job = c.post("/jobs", json=links_job(1) | {"payload": {**links_job(1)["payload"], "query": bql(
            [f"{CRAWL}.url", f"{CRAWL}.canonical.to.equal"], [])}})  # fmt: skip
    assert "sitemaps.present" not in listed and "canonical.to.equal" not in listed and "depth" in listed
    assert hidden.status_code == 200
    assert absent.status_code == 400 and absent.json()["error"]["error_code"] == 1029
    assert job.status_code == 400 and not fake.jobs


def download_url(fake: FakeBotify) -> str:
    with api(fake) as c:
        created = c.post("/jobs", json=links_job(2)).json()
        url: str = finish(fake, c, created)["results"]["download_url"]
    return url


@pytest.mark.parametrize("retry_after", [False, True])
def test_cdn_429_then_503(fake: FakeBotify, retry_after: bool) -> None:
    fake.scenario = QUIET.replace(cdn_429=1, cdn_503=2, cdn_retry_after=retry_after)
    url = download_url(fake)
    answers = [HTTP.get(url) for _ in range(4)]
    assert [r.status_code for r in answers] == [429, 503, 503, 200]
    assert all(("retry-after" in r.headers) is retry_after for r in answers[:3])
    assert answers[0].headers["content-type"] == "application/xml"


def test_cdn_ranges(fake: FakeBotify) -> None:
    url = download_url(fake)
    whole = HTTP.get(url)
    size, etag = len(whole.content), whole.headers["etag"]
    assert whole.headers["accept-ranges"] == "bytes"
    part = HTTP.get(url, headers={"Range": "bytes=100-", "If-Range": etag})
    assert part.status_code == 206 and part.content == whole.content[100:]
    assert part.headers["content-range"] == f"bytes 100-{size - 1}/{size}"
    stale = HTTP.get(url, headers={"Range": "bytes=100-", "If-Range": '"another-file"'})
    assert stale.status_code == 200 and stale.content == whole.content  # the file changed: all of it
    assert HTTP.get(url, headers={"Range": f"bytes={size}-"}).status_code == 416
    fake.scenario = QUIET.replace(cdn_ranges=False)
    ignored = HTTP.get(url, headers={"Range": "bytes=100-"})
    assert ignored.status_code == 200 and ignored.content == whole.content and "accept-ranges" not in ignored.headers
    ranged = [r.range for r in fake.requests if r.server == "cdn"]
    assert ranged == [None, "bytes=100-", "bytes=100-", f"bytes={size}-", "bytes=100-"]


def test_a_cut_range_sends_half_of_what_was_asked(fake: FakeBotify) -> None:
    fake.scenario = QUIET.replace(truncate_downloads=ALWAYS)
    url = download_url(fake)
    with httpx.Client() as c, c.stream("GET", url, headers={"Range": "bytes=1000-"}) as r:
        got = b""
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in r.iter_raw():
                got += chunk
        size = int(r.headers["content-range"].rsplit("/", 1)[1])
    assert r.status_code == 206 and len(got) == (size - 1000) // 2
