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
