"""fields: keys as typed, the column-naming rule, the catalogue parsed from field lists, the Search Console period."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from botify_graph import fields as F
from botify_graph.errors import ConfigError

CRAWL = "crawl.20241108"


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("pagetype", "pagetype"),
        ("  clicks ", "clicks"),
        ("segments.pagetype.value", "pagetype"),  # a default's Botify name is the default
        (f"{CRAWL}.segments.pagetype.value", "pagetype"),
        ("compliant.is_compliant", "is_compliant"),
        ("search_console.count_impressions", "impressions"),
        ("search_console.period_0.count_clicks", "clicks"),
        ("http_code", "http_code"),
        (f"{CRAWL}.http_code", "http_code"),
        ("crawl.20241101-2.metadata.title.content", "metadata.title.content"),
        ("internal_page_rank.value", "internal_page_rank.value"),
        ("search_console.avg_position", "search_console.avg_position"),
        ("search_console.period_3.ctr", "search_console.ctr"),
        ("search_engines.google.crawls.count", "search_engines.google.crawls.count"),
        ("title", "title"),  # a column name: the catalogue resolves it (see test_catalog_resolves)
    ],
)
def test_field_key(typed: str, key: str) -> None:
    assert F.field_key(typed) == key


@pytest.mark.parametrize("typed", ["", "colour!", "a..b", ".depth", "depth.", "a b", "metadata/title", "é"])
def test_field_key_refuses_what_no_field_is_called(typed: str) -> None:
    with pytest.raises(ConfigError, match="not a field name"):
        F.field_key(typed)


@pytest.mark.parametrize(
    ("key", "column"),
    [
        ("pagetype", "pagetype"),
        ("depth", "depth"),
        ("impressions", "impressions"),
        ("http_code", "http_code"),
        ("metadata.title.content", "title"),
        ("metadata.description.content", "description"),
        ("metadata.h1.contents", "h1"),
        ("internal_page_rank.value", "internal_page_rank"),
        ("internal_page_rank.position", "internal_page_rank_position"),
        ("internal_page_rank.raw", "internal_page_rank_raw"),
        ("inlinks_internal.nb.unique", "inlinks_internal_nb_unique"),
        ("compliant.main_reason", "compliant_main_reason"),
        ("segments.country.value", "segments_country"),
        ("search_console.ctr", "gsc_ctr"),
        ("search_console.avg_position", "gsc_avg_position"),
        ("search_console.count_sessions", "gsc_sessions"),
        ("search_engines.google.crawls.count", "search_engines_google_crawls_count"),
        ("Some-Field.Value", "some_field"),
        ("404_pages", "f_404_pages"),
        ("value", "value"),  # a one-segment name keeps its segment
    ],
)
def test_column_name(key: str, column: str) -> None:
    assert F.column_name(key) == column


@pytest.mark.parametrize(
    ("keys", "columns"),
    [
        (("pagetype", "clicks"), ("pagetype", "clicks")),
        (("id",), ("id_2",)),  # never the URL column
        (("source", "target"), ("source_2", "target_2")),
        (("metadata.title.content", "metadata.title"), ("title", "title_2")),  # unique, in key order
        (("impressions.value",), ("impressions_2",)),  # a default's name is reserved, even when not chosen
        (("title", "metadata.title.content", "metadata.title"), ("title", "title_2", "title_3")),
    ],
)
def test_column_names_are_unique(keys: tuple[str, ...], columns: tuple[str, ...]) -> None:
    assert F.column_names(keys) == columns


def test_sort_keys_is_canonical() -> None:
    given = ["search_console.ctr", "http_code", "clicks", "metadata.title.content", "pagetype", "impressions"]
    expected = ("pagetype", "http_code", "metadata.title.content", "impressions", "clicks", "search_console.ctr")
    assert F.sort_keys(given) == expected
    assert F.sort_keys(reversed(given)) == expected
    assert F.field_keys("clicks, http_code,,pagetype") == ("pagetype", "http_code", "clicks")
    assert F.field_keys(None) is None
    assert F.field_keys(["clicks", "search_console.count_clicks"]) == ("clicks",)  # the same field once


def _field(fid: str, **kw: Any) -> dict[str, Any]:
    return {"id": fid, "name": kw.pop("name", fid), "type": "string", "kind": "dimension", "multiple": False, **kw}


CRAWL_LIST = {
    "datasets": [
        {
            "id": f"{CRAWL}.main",
            "name": "main",
            "fields": [
                _field(f"{CRAWL}.url", name="Full URL"),
                _field(f"{CRAWL}.depth", type="integer", group="main"),
                _field(f"{CRAWL}.http_code", type="integer"),
                _field("metadata.title.content", name="Title", group="metadata"),  # a bare id: read the same
                _field(f"{CRAWL}.metadata.h1.contents", multiple=True, group="metadata"),
                _field(f"{CRAWL}.count_urls_crawl", kind="metric", type="integer"),
                _field(f"{CRAWL}.internal_page_rank.value", type="float", group="internal_page_rank", deprecated=True),
                {"name": "no id"},
                "not a field",
                _field(f"{CRAWL}.bad id"),
            ],
        },
        "not a dataset",
        {"name": "segments", "fields": [_field("segments.pagetype.value", group=None)]},
    ]
}
GSC_LIST = {
    "datasets": [
        {
            "name": "main",
            "fields": [
                _field("search_console.url"),
                _field("search_console.count_impressions", kind="metric", type="integer"),
                _field("search_console.period_0.avg_position", kind="metric", type="float"),
            ],
        }
    ]
}


def test_parse_crawl_field_list() -> None:
    parsed = {f.key: f for f in F.parse_field_list(CRAWL_LIST, CRAWL, analysis="20241108")}
    assert list(parsed) == [
        "url",
        "depth",
        "http_code",
        "metadata.title.content",
        "metadata.h1.contents",
        "count_urls_crawl",
        "internal_page_rank.value",
        "pagetype",
    ]
    assert parsed["http_code"].exportable and parsed["http_code"].type == "integer"
    assert parsed["http_code"].group == "main"  # the dataset's name when the field has no group
    assert parsed["metadata.title.content"].column == "title" and parsed["metadata.title.content"].name == "Title"
    assert not parsed["url"].exportable and "id column" in parsed["url"].why_not
    h1 = parsed["metadata.h1.contents"]
    assert h1.multiple and not h1.exportable and "multiple-valued" in h1.why_not
    assert not parsed["count_urls_crawl"].exportable and "metric" in parsed["count_urls_crawl"].why_not
    assert parsed["internal_page_rank.value"].deprecated and parsed["internal_page_rank.value"].exportable
    assert parsed["pagetype"].default and parsed["pagetype"].group == "segments"
    assert parsed["depth"].default


def test_parse_search_console_and_other_lists() -> None:
    gsc = {f.key: f for f in F.parse_field_list(GSC_LIST, "search_console", analysis="20241108", timestamped=True)}
    assert set(gsc) == {"search_console.url", "impressions", "search_console.avg_position"}
    assert gsc["impressions"].default and gsc["impressions"].source == "gsc"
    assert (
        gsc["search_console.avg_position"].column == "gsc_avg_position"
        and gsc["search_console.avg_position"].exportable
    )
    assert not gsc["search_console.url"].exportable
    logs = F.parse_field_list(
        {"datasets": [{"fields": [_field("log_analyzer.google.count_crawls", kind="metric")]}]},
        "log_analyzer.google",
        analysis="20241108",
        timestamped=True,
    )
    assert [(f.key, f.source, f.exportable) for f in logs] == [("log_analyzer.google.count_crawls", "other", False)]
    assert "does not join" in logs[0].why_not
    other_crawl = F.parse_field_list(CRAWL_LIST, "crawl.20241101", analysis="20241108")
    assert all(f.source == "other" and not f.exportable for f in other_crawl)


@pytest.mark.parametrize("body", [None, [], {"datasets": "x"}, {"datasets": [{"fields": "x"}]}, "text"])
def test_parse_field_list_of_another_shape_is_empty(body: Any) -> None:
    assert F.parse_field_list(body, CRAWL, analysis="20241108") == []


def _catalog() -> F.FieldCatalog:
    fields = F.parse_field_list(CRAWL_LIST, CRAWL, analysis="20241108")
    fields += F.parse_field_list(GSC_LIST, "search_console", analysis="20241108", timestamped=True)
    return F.FieldCatalog("20241108", tuple(fields), read=(CRAWL, "search_console"), has_gsc=True)


@pytest.mark.parametrize(
    ("typed", "keys"),
    [
        (["http_code", "title"], ("http_code", "metadata.title.content")),  # a column name finds its field
        ([f"{CRAWL}.depth", "search_console.avg_position"], ("depth", "search_console.avg_position")),
        (["internal_page_rank"], ("internal_page_rank.value",)),
    ],
)
def test_catalog_resolves(typed: list[str], keys: tuple[str, ...]) -> None:
    assert _catalog().resolve(typed) == keys


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (["http_cod"], r"'http_cod' is not a field.*did you mean http_code"),
        (["metadata.h1.contents"], r"'metadata.h1.contents' cannot be exported: multiple-valued"),
        (["url"], r"'url' cannot be exported: the page URL"),
        (["count_urls_crawl", "pagerank"], r"count_urls_crawl.*metric.*'pagerank' is not a field"),
    ],
)
def test_catalog_names_every_field_it_refuses(typed: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        _catalog().resolve(typed)
    assert "botify-graph fields" in str(caught.value)


def test_catalog_groups_and_round_trip() -> None:
    catalog = _catalog()
    labels = [label for label, _ in catalog.groups(exportable_only=True)]
    assert labels == ["crawl · main", "crawl · metadata", "crawl · internal_page_rank", "crawl · segments",
                      "search_console · main"]  # fmt: skip
    again = F.catalog_from_json(F.catalog_to_json(catalog))
    assert again == catalog and again.get("http_code") == catalog.get("http_code")


@pytest.mark.parametrize(
    ("typed", "spec"),
    [
        (None, None),
        ("", None),
        ("30", None),  # the default, spelled out
        (30, None),
        (90.0, "90"),
        (" 7 ", "7"),
        ("2024-10-01:2024-10-31", "2024-10-01:2024-10-31"),
        (" 2024-10-01 : 2024-10-01 ", "2024-10-01:2024-10-01"),
    ],
)
def test_parse_gsc_period(typed: Any, spec: str | None) -> None:
    assert F.parse_gsc_period(typed, 30) == spec


@pytest.mark.parametrize(
    "typed", ["0", "-3", "99999", "2024-10-31:2024-10-01", "2024-10-01", "2024-1-1:2024-2-1", "last month", True]
)
def test_parse_gsc_period_refuses(typed: Any) -> None:
    with pytest.raises(ConfigError, match="Search Console period"):
        F.parse_gsc_period(typed, 30)


CRAWL_DAY = date(2024, 11, 8)


@pytest.mark.parametrize(
    ("spec", "start", "end", "dates", "clipped"),
    [
        (None, "2023-01-01", "2024-11-30", ["2024-10-10", "2024-11-08"], False),
        ("90", "2023-01-01", "2024-11-30", ["2024-08-11", "2024-11-08"], False),
        (None, "2023-01-01", "2024-11-01", ["2024-10-03", "2024-11-01"], True),  # GSC lags the crawl
        (None, "2024-11-01", "2024-12-01", ["2024-11-01", "2024-11-08"], True),  # a young GSC property
        ("2024-10-01:2024-10-31", "2023-01-01", "2024-11-30", ["2024-10-01", "2024-10-31"], False),
        ("2024-10-01:2024-12-31", "2023-01-01", "2024-11-17", ["2024-10-01", "2024-11-17"], True),
        ("2022-10-01:2023-02-01", "2023-01-01", "2024-11-17", ["2023-01-01", "2023-02-01"], True),
        ("2024-10-01:2024-10-31", None, None, ["2024-10-01", "2024-10-31"], False),  # no range known
    ],
)
def test_resolve_gsc_period(spec: str | None, start: str, end: str, dates: list[str], clipped: bool) -> None:
    period = F.resolve_gsc_period(spec, CRAWL_DAY, start, end, default_days=30)
    assert period.dates == dates
    assert period.clipped is clipped
    if clipped:
        assert "Search Console holds" in period.note


def test_resolve_gsc_period_outside_the_data_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"no day in the data Search Console holds \(2023-01-01 to 2024-11-17\)"):
        F.resolve_gsc_period("2020-01-01:2020-12-31", CRAWL_DAY, "2023-01-01", "2024-11-17", default_days=30)
    described = F.resolve_gsc_period(None, CRAWL_DAY, None, None, default_days=30).describe()
    assert described == "2024-10-10 to 2024-11-08 (30 days)"
