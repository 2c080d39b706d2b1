"""Payload builders: exactly the shapes the contract documents, flags always explicit."""

from __future__ import annotations

from datetime import date

import pytest

from botify_graph import queries
from botify_graph.errors import ConfigError


def test_links_payload_shape() -> None:
    body = queries.links_export_payload("org", "example.com", "20241108", 3)
    assert body["job_type"] == "export"
    p = body["payload"]
    assert (p["username"], p["project"], p["connector"], p["formatter"]) == (
        "org",
        "example.com",
        "direct_download",
        "csv",
    )
    assert p["export_size"] == 1_000_000
    assert p["formatter_config"] == {
        "delimiter": ",",
        "print_header": True,
        "print_delimiter": False,
        "header_format": "slug",
    }
    q = p["query"]
    assert q["collections"] == ["crawl.20241108"]
    assert "periods" not in q
    assert q["query"]["dimensions"] == ["crawl.20241108.url", "crawl.20241108.outlinks_internal.graph.url"]
    assert q["query"]["metrics"] == []  # required even when empty
    assert q["query"]["filters"] == {"field": "crawl.20241108.depth", "predicate": "lte", "value": 3}


def test_meta_payload_without_gsc_has_no_periods() -> None:
    body = queries.meta_export_payload("org", "p", "20241108", 2, ("pagetype", "is_compliant"))
    q = body["payload"]["query"]
    assert q["collections"] == ["crawl.20241108"] and "periods" not in q
    assert q["query"]["dimensions"] == [
        "crawl.20241108.url",
        "crawl.20241108.segments.pagetype.value",
        "crawl.20241108.compliant.is_compliant",
    ]
    assert q["query"]["metrics"] == []
    assert q["query"]["filters"]["value"] == 3  # depth + 1: every link target is described


def test_meta_payload_with_gsc_adds_collection_and_periods() -> None:
    body = queries.meta_export_payload(
        "org", "p", "20241108", 2, ("clicks", "pagetype", "impressions"), period=["2024-10-10", "2024-11-08"]
    )
    q = body["payload"]["query"]
    assert q["collections"] == ["crawl.20241108", "search_console"]
    assert q["periods"] == [["2024-10-10", "2024-11-08"]]
    assert q["query"]["metrics"] == [
        "search_console.period_0.count_impressions",
        "search_console.period_0.count_clicks",
    ]
    with pytest.raises(ConfigError):
        queries.meta_export_payload("org", "p", "20241108", 2, ("clicks",))


def test_field_names_are_validated_and_ordered() -> None:
    assert queries.normalize_fields("clicks, pagetype") == ("pagetype", "clicks")
    assert queries.normalize_fields(None) == tuple(f.name for f in queries.META_FIELDS)
    assert queries.meta_columns(("clicks", "pagetype")) == ("id", "pagetype", "clicks")
    with pytest.raises(ConfigError, match="not a field name"):
        queries.normalize_fields(["page rank"])


def test_meta_payload_with_any_field_keeps_columns_and_query_in_step() -> None:
    fields = ("search_console.avg_position", "metadata.title.content", "clicks", "http_code", "pagetype")
    body = queries.meta_export_payload("org", "p", "20241108", 3, fields, period=["2024-10-10", "2024-11-08"])
    q = body["payload"]["query"]
    assert q["query"]["dimensions"] == [
        "crawl.20241108.url",
        "crawl.20241108.segments.pagetype.value",
        "crawl.20241108.http_code",
        "crawl.20241108.metadata.title.content",
    ]
    assert q["query"]["metrics"] == ["search_console.period_0.count_clicks", "search_console.period_0.avg_position"]
    # the file's columns are the query's dimensions then metrics, under the short names of the naming rule
    assert queries.meta_columns(fields) == ("id", "pagetype", "http_code", "title", "clicks", "gsc_avg_position")
    crawl_only = queries.meta_query("20241108", None, ("http_code",))
    assert crawl_only == {
        "collections": ["crawl.20241108"],
        "query": {"dimensions": ["crawl.20241108.url", "crawl.20241108.http_code"], "metrics": []},
    }


@pytest.mark.parametrize(
    ("crawl", "start", "end", "expected"),
    [
        (date(2024, 11, 8), None, None, ["2024-10-10", "2024-11-08"]),
        (date(2024, 11, 8), "2023-01-01", "2024-11-01", ["2024-10-03", "2024-11-01"]),  # GSC lags the crawl
        (date(2024, 11, 8), "2024-11-01", "2024-12-01", ["2024-11-01", "2024-11-08"]),  # young GSC property
    ],
)
def test_gsc_period(crawl: date, start: str | None, end: str | None, expected: list[str]) -> None:
    assert queries.gsc_period(crawl, start, end) == expected


def test_depth_queries() -> None:
    grouped = queries.depth_histogram_query("20241108")
    assert grouped["query"]["dimensions"] == ["crawl.20241108.depth"]
    assert grouped["query"]["metrics"] == [{"function": "sum", "args": ["crawl.20241108.outlinks_internal.nb.total"]}]
    one = queries.edges_upto_query("20241108", 4)
    assert one["query"]["dimensions"] == [] and one["query"]["filters"]["value"] == 4
