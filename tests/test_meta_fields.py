"""Any field of the catalogue through run_export, against the fake API over real sockets: columns, values, the
Search Console period, and every refusal named before any job is created."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from botify_graph import api
from botify_graph.client import make_client
from botify_graph.errors import ConfigError
from botify_graph.fake import FakeBotify
from botify_graph.pipeline import Event, ExportParams, run_export
from botify_graph.urls import ProjectRef

URL = "https://app.botify.com/example-org/example.com/20241108/"
NO_GSC = "https://app.botify.com/example-org/no-gsc.example/"
EXTRA = (
    "http_code",
    "title",  # a column name: the catalogue finds metadata.title.content
    "internal_page_rank.value",
    "inlinks_internal.nb.unique",
    "search_engines.google.crawls.count",
    "search_console.avg_position",
    "clicks",
)
COLUMNS = [
    "id",
    "http_code",
    "inlinks_internal_nb_unique",
    "internal_page_rank",
    "title",
    "search_engines_google_crawls_count",
    "clicks",
    "gsc_avg_position",
]


async def no_wait(_: float) -> None:
    return None


def read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


async def export(fake: FakeBotify, out: Path, **kw: Any) -> tuple[Any, list[Event]]:
    events: list[Event] = []
    params = ExportParams(project_url=kw.pop("url", URL), out_dir=out, api_base=fake.base_url, max_edges=20_000, **kw)
    result = await run_export(params, token=fake.token, on_event=events.append, sleep=no_wait)
    return result, events


def queries_sent(fake: FakeBotify) -> list[dict[str, Any]]:
    return [r.body for r in fake.requests if r.endpoint.endswith("/query") and isinstance(r.body, dict)]


async def test_any_field_is_exported_under_its_column_with_the_sites_values(
    fake_api: FakeBotify, tmp_path: Path
) -> None:
    result, events = await export(fake_api, tmp_path, fields=EXTRA)
    assert result.fields == (
        "http_code",
        "inlinks_internal.nb.unique",
        "internal_page_rank.value",
        "metadata.title.content",
        "search_engines.google.crawls.count",
        "clicks",
        "search_console.avg_position",
    )
    header, rows = read(result.meta.path)
    assert header == COLUMNS
    crawl = fake_api.site("example-org", "example.com").crawl("20241108")
    index = {crawl.url(i): i for i in range(crawl.n_pages)}
    for row in rows[:: max(1, len(rows) // 50)]:
        i = index[row["id"]]
        assert int(row["http_code"]) == crawl.http_code(i)
        assert row["title"] == crawl.title(i)
        assert float(row["internal_page_rank"]) == crawl.pagerank_value(i)
        assert int(row["inlinks_internal_nb_unique"]) == crawl.inlinks_unique(i)
        assert row["search_engines_google_crawls_count"] == str(crawl.google_crawls(i))
        position = crawl.avg_position(i)
        assert row["gsc_avg_position"] == ("" if position is None else str(position))
    assert result.gsc_period == ("2024-10-10", "2024-11-08") and result.gsc_note == ""
    # one one-row query checked the extra fields before the jobs; the job asked for the same fields
    checks = [q for q in queries_sent(fake_api) if "http_code" in json.dumps(q)]
    assert len(checks) == 1
    meta_job = next(j for j in fake_api.jobs.values() if j.kind == "meta")
    assert meta_job.payload["query"]["periods"] == [["2024-10-10", "2024-11-08"]]
    assert any("Search Console 2024-10-10 to 2024-11-08" in e.message for e in events if e.step == "fields")


async def test_defaults_only_send_no_check_query_and_keep_their_columns(fake_api: FakeBotify, tmp_path: Path) -> None:
    result, _ = await export(fake_api, tmp_path, fields=("clicks", "pagetype"))
    assert read(result.meta.path)[0] == ["id", "pagetype", "clicks"]
    assert not [q for q in queries_sent(fake_api) if q["query"]["dimensions"][:1] == ["crawl.20241108.url"]]
    # an export reads the crawl's field list only (the wizard and `botify-graph fields` read every collection's)
    lists = [r.path for r in fake_api.requests if r.endpoint.endswith("/collections/{cid}")]
    assert [p.rsplit("/", 1)[1] for p in lists] == ["crawl.20241108"]


@pytest.mark.parametrize(
    ("url", "fields", "message", "asks"),
    [
        # the catalogue says so: no query, no job
        (URL, ("metadata.h1.contents",), r"'metadata.h1.contents' cannot be exported: multiple-valued", False),
        (URL, ("http_cod",), r"'http_cod' is not a field.*did you mean http_code", False),
        (URL, ("count_urls_crawl",), r"'count_urls_crawl' cannot be exported: an aggregate", False),
        (URL, ("log_analyzer.google.count_crawls",), r"log_analyzer.google.*does not join", False),
        (NO_GSC, ("search_console.ctr",), r"no Search Console data, so no search_console.ctr", False),
        (NO_GSC, ("search_engines.google.crawls.count",), r"'search_engines.google.crawls.count' is not", False),
        # listed, but Botify refuses it: named from the one-row query, still no job
        (URL, ("js.rendering.exec", "http_code"), r"refuses the field js.rendering.exec \(400, error_code 1034", True),
    ],
)  # fmt: skip
async def test_a_field_the_export_cannot_carry_is_named_and_no_job_is_created(
    fake_api: FakeBotify, tmp_path: Path, url: str, fields: tuple[str, ...], message: str, asks: bool
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        await export(fake_api, tmp_path, url=url, fields=fields)
    assert fake_api.jobs == {}
    assert not [r for r in fake_api.requests if r.endpoint.endswith("/jobs")]
    assert bool(queries_sent(fake_api)) is asks
    if asks:
        assert "http_code (" not in str(caught.value)  # the field Botify accepts is not blamed


async def test_a_period_is_part_of_the_export_and_a_clipped_one_says_so(fake_api: FakeBotify, tmp_path: Path) -> None:
    first, _ = await export(fake_api, tmp_path, fields=("clicks",))
    second, events = await export(fake_api, tmp_path, fields=("clicks",), gsc_period="2024-11-01:2024-12-31")
    assert not second.reused and len(fake_api.jobs) == 3  # another period is another meta export (same links)
    assert second.gsc_period == ("2024-11-01", "2024-11-17")  # the fake's Search Console ends on 2024-11-17
    assert "so the period is 2024-11-01 to 2024-11-17" in second.gsc_note
    assert any("so the period is" in e.message for e in events if e.kind == "info")
    kept = [p.name for p in first.meta.path.parent.glob("*_meta.*.csv")]
    assert len(kept) == 1  # the first period's file was kept under its variant's name
    meta_jobs = [j for j in fake_api.jobs.values() if j.kind == "meta"]
    assert [j.payload["query"]["periods"] for j in meta_jobs] == [
        [["2024-10-10", "2024-11-08"]],
        [["2024-11-01", "2024-11-17"]],
    ]
    again, _ = await export(fake_api, tmp_path, fields=("clicks",), gsc_period="2024-11-01:2024-12-31")
    assert again.reused and len(fake_api.jobs) == 3 and again.gsc_period == second.gsc_period
    with pytest.raises(ConfigError, match="no day in the data Search Console holds"):
        await export(fake_api, tmp_path / "x", fields=("clicks",), gsc_period="2020-01-01:2020-02-01")
    assert len(fake_api.jobs) == 3


async def test_the_catalogue_of_the_fake(fake_api: FakeBotify) -> None:
    async with make_client(fake_api.token, base_url=fake_api.base_url, rate=1000) as client:
        found = await api.available_meta_fields(client, ProjectRef("example-org", "example.com"), "20241108")
        bare = await api.available_meta_fields(client, ProjectRef("example-org", "no-gsc.example"), "20241108")
    catalog = found.catalog
    assert catalog is not None and bare.catalog is not None
    assert set(catalog.read) == {
        "crawl.20241108",
        "search_console",
        "log_analyzer.google",
        "actionboard_ml.20241108",
        "search_engines_orphans.20241108",
    }
    keys = {f.key for f in catalog.exportable}
    assert {
        "http_code",
        "internal_page_rank.position",
        "search_console.ctr",
        "search_engines.google.crawls.count",
    } <= keys
    assert "metadata.h1.contents" not in keys and catalog.get("metadata.h1.contents") is not None
    assert catalog.get("js.rendering.exec") is not None  # listed (Botify refuses it when asked)
    assert (catalog.gsc_start, catalog.gsc_end) == ("2023-11-01", "2024-11-17")
    assert found.fields == ("pagetype", "is_compliant", "canonical_equal", "sitemaps_present", "depth", "impressions",
                            "clicks")  # fmt: skip
    assert not bare.catalog.has_gsc and "impressions" not in bare.fields
    assert bare.catalog.get("search_engines.google.crawls.count") is None


def test_fields_command_prints_the_catalogue(
    fake_api: FakeBotify, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from botify_graph.cli import main

    monkeypatch.setenv("BOTIFY_API_TOKEN", fake_api.token)
    monkeypatch.setenv("BOTIFY_GRAPH_CONFIG_DIR", str(tmp_path))
    assert main(["fields", "--project-url", URL, "--api-base", fake_api.base_url]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Fields of example-org/example.com, analysis 20241108")
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert (
        "crawl · metadata" in lines["metadata.title.content"] and lines["metadata.title.content"].split()[-1] == "title"
    )
    assert lines["pagetype"].endswith("pagetype  (default)")
    assert "search_console · main" in lines["search_console.avg_position"]
    assert "gsc_avg_position" in lines["search_console.avg_position"]
    assert "metadata.h1.contents" not in lines and "--all lists them" in out
    assert "Search Console data: 2023-11-01 to 2024-11-17" in out
    assert main(["fields", "--project-url", URL, "--api-base", fake_api.base_url, "--all"]) == 0
    everything = capsys.readouterr().out
    assert "metadata.h1.contents" in everything and "multiple-valued" in everything
    assert main(["fields", "--project-url", NO_GSC, "--api-base", fake_api.base_url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["has_gsc"] is False and "impressions" not in data["defaults"]
    assert {f["key"] for f in data["fields"] if f["exportable"]} >= {"http_code", "internal_page_rank.value"}


def test_fields_command_takes_the_api_options_trace_and_rate(
    fake_api: FakeBotify, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # `fields` lists --trace and --rate in its --help (api_options): both must do what they say
    from botify_graph.cli import main

    monkeypatch.setenv("BOTIFY_API_TOKEN", fake_api.token)
    monkeypatch.setenv("BOTIFY_GRAPH_CONFIG_DIR", str(tmp_path))
    trace = tmp_path / "fields-trace.jsonl"
    args = ["fields", "--project-url", URL, "--api-base", fake_api.base_url]
    before = len(fake_api.requests)
    assert main([*args, "--trace", str(trace), "--rate", "20"]) == 0
    assert f"trace of the API requests written to {trace}" in capsys.readouterr().err
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    assert records[0]["type"] == "start" and records[0]["command"] == "fields"
    assert sum(r["type"] == "http" for r in records) == len(fake_api.requests) - before > 0
    assert fake_api.token not in trace.read_text()
    seen = len(fake_api.requests)
    assert main([*args, "--rate", "0"]) == 1  # a rate that is not positive is refused before any request
    assert "The request rate must be a positive number" in capsys.readouterr().err
    assert len(fake_api.requests) == seen


def test_cosmograph_command_names_a_column_the_meta_file_lacks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from sample_graphs import place

    from botify_graph.cli import main

    place(tmp_path, "20241108", [("https://www.example.com/", "https://www.example.com/b")], "id,pagetype\n")
    code = main(["cosmograph", "--project-url", URL, "--out", str(tmp_path), "--size-by", "pagetype"])
    assert code == 1
    assert "'pagetype' is not a number column of the meta file to size by (those are: none)" in capsys.readouterr().err


async def test_the_summary_says_which_search_console_days_it_covers(fake_api: FakeBotify, tmp_path: Path) -> None:
    from botify_graph.reports import export_reports, summary_report

    result, _ = await export(fake_api, tmp_path, fields=("clicks", "depth", "is_compliant"), gsc_period="7")
    summary, written = export_reports(result, view=False)
    assert summary.gsc_period == ["2024-11-02", "2024-11-08"] and summary.opportunities is not None
    md = next(p for p in written if p.suffix == ".md").read_text()
    assert "Search Console numbers (impressions, clicks, …) cover 2024-11-02 to 2024-11-08." in md
    assert "Opportunities: pages that deserve more internal links" in md
    again, _, _ = summary_report(tmp_path, URL)  # `botify-graph summary`: the dates come from the registry
    assert again.gsc_period == ["2024-11-02", "2024-11-08"]
    assert again.opportunities == summary.opportunities
