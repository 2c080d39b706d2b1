"""Parsers: contract shapes in, our dataclasses out; malformed bodies become MalformedResponse."""

from __future__ import annotations

from typing import Any

import pytest

from botify_graph.errors import MalformedResponse
from botify_graph.models import Analysis, parse_analysis, parse_collections, parse_job, sort_analyses


def test_job_relative_absolute_and_missing_url() -> None:
    assert parse_job({"job_id": 5, "job_status": "CREATED", "job_url": "/v1/jobs/5"}).job_url == "/v1/jobs/5"
    absolute = "https://api.botify.com/v1/jobs/5"
    assert parse_job({"job_id": 5, "job_status": "CREATED", "job_url": absolute}).job_url == absolute
    assert parse_job({"job_id": "5", "job_status": "CREATED"}).job_url == "/v1/jobs/5"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"error": {"error_code": 1060, "message": "The export failed"}}, "The export failed (code 1060)"),
        ({"results": {"message": "quota"}}, "quota"),
        ({"results": None, "failure_reason": "boom"}, "boom"),
        ({"error": "plain text"}, "plain text"),
        ({}, None),
    ],
)
def test_failed_reason_from_wherever_it_is(body: dict[str, Any], reason: str | None) -> None:
    job = parse_job({"job_id": 1, "job_status": "FAILED", **body})
    assert job.status == "FAILED" and job.failure_reason == reason


def test_done_without_download_url_is_a_failure() -> None:
    job = parse_job({"job_id": 1, "job_status": "DONE", "results": None})
    assert job.status == "FAILED" and "download_url" in (job.failure_reason or "")


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "<html>",
        {"job_status": "DONE"},
        {"job_id": 1},
        {"job_id": 1, "job_status": "QUEUED"},
        {"job_id": True, "job_status": "DONE"},
        {"job_id": 1, "job_status": "DONE", "results": {"download_url": 3}},
    ],
)
def test_malformed_jobs(body: Any) -> None:
    with pytest.raises(MalformedResponse):
        parse_job(body)


def test_analyses_sorted_newest_first_with_suffixes() -> None:
    raw = [{"slug": "20241101"}, {"slug": "20241108"}, {"slug": "20241101-2"}]
    assert [a.slug for a in sort_analyses([parse_analysis(r) for r in raw])] == ["20241108", "20241101-2", "20241101"]
    assert Analysis("20241101-2").crawl_date is not None and Analysis("weird").crawl_date is None
    with pytest.raises(MalformedResponse):
        parse_analysis({"name": "no slug"})


def test_collections_list_or_envelope() -> None:
    listed = parse_collections([{"id": "search_console", "timestamped": True, "date_start": "2023-01-01"}])
    assert listed[0].timestamped and listed[0].date_start == "2023-01-01"
    assert parse_collections({"results": [{"id": "crawl.1"}]})[0].id == "crawl.1"
    with pytest.raises(MalformedResponse):
        parse_collections({"id": "crawl.1"})
