"""The trace: one JSON line per request and answer, fit for a bug report, and never the token.

The token is looked for in every encoding a trace could hold it in and in every run of 10 of its
characters, after a fake API that echoes it in headers and bodies ran a whole export through a traced client.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from botify_graph.client import make_client
from botify_graph.errors import ConfigError
from botify_graph.fake import FakeBotify, Scenario
from botify_graph.pipeline import ExportParams, run_export
from botify_graph.trace import SECRET, Trace, open_trace, public_url

TOKEN = "SECRET-TOKEN-canary-7f3a9c2e51d84b60"
URL = "https://app.botify.com/example-org/example.com/"
API = ("https", "api.botify.com")


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def leaked(text: str, token: str = TOKEN, run: int = 10) -> list[str]:
    """Every run of `run` characters of the token found in `text` (and the token itself)."""
    found = [token] if token in text else []
    return found + [token[i : i + run] for i in range(len(token) - run + 1) if token[i : i + run] in text]


async def no_wait(_: float) -> None:
    await asyncio.sleep(0)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://api.botify.com/v1/jobs?page=2&size=50", "https://api.botify.com/v1/jobs?page=2&size=50"),
        (
            "https://d1.cloudfront.net/exports/a/b/c/0123456789abcdef0123456789abcdef/example.com-2025-01-12.csv.gz",
            "https://d1.cloudfront.net/exports/a/b/c/<signature>/example.com-2025-01-12.csv.gz",
        ),
        (
            "https://bucket.s3.amazonaws.com/x.csv.gz?X-Amz-Signature=abc&X-Amz-Credential=def",
            "https://bucket.s3.amazonaws.com/x.csv.gz?<removed>",
        ),
        ("https://d1.cloudfront.net/csv_exports/9e107d9d372bb6826bd81d3542a419d6.zip", "https://d1.cloudfront.net/csv_exports/<signature>.zip"),
        ("/v1/jobs/123", "/v1/jobs/123"),
    ],
)  # fmt: skip
def test_public_url_drops_what_signs_a_download_link(url: str, shown: str) -> None:
    assert public_url(url, API) == shown


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        (f"Token {TOKEN}", f"Token {SECRET}"),
        (f"  {TOKEN}\n", f"  {SECRET}\n"),
        (f"prefix {TOKEN[:20]}", f"prefix {SECRET}"),  # a cut token
        (f"{TOKEN[5:25]} middle", f"{SECRET} middle"),
        (f"{TOKEN[:9]}", f"{TOKEN[:9]}"),  # 9 characters could be anything
        ("nothing to see", "nothing to see"),
    ],
)
def test_scrub_removes_the_token_and_its_pieces(text: str, scrubbed: str) -> None:
    trace = Trace(io.StringIO())
    trace.add_secret(f"  {TOKEN}\n")  # the token as typed, with whitespace around it
    assert trace.scrub(text) == scrubbed


def test_scrub_removes_the_encoded_forms_of_a_token() -> None:
    odd = 'tok/with+chars="and" spaces'
    trace = Trace(io.StringIO())
    trace.add_secret(odd)
    for form in (
        "tok%2Fwith%2Bchars%3D%22and%22%20spaces",
        "tok%2Fwith%2Bchars%3D%22and%22+spaces",
        'tok/with+chars=\\"and\\" spaces',
        odd,
    ):
        assert trace.scrub(f"<{form}>") == f"<{SECRET}>", form  # fmt: skip


def test_bodies_are_cut_and_binary_is_shown_as_its_first_bytes() -> None:
    trace = Trace(io.StringIO(), body_bytes=16)
    trace.add_secret(TOKEN)
    assert trace.body(b"", 0, API) == {"bytes": 0}
    assert trace.body(b'{"a": 1}', 8, API) == {"bytes": 8, "body": '{"a": 1}'}
    cut = trace.body(b"x" * 10 + TOKEN.encode(), 10 + len(TOKEN), API)
    assert cut == {"bytes": 10 + len(TOKEN), "body": "x" * 10 + SECRET[:6], "truncated": True}
    assert trace.body(b"\x1f\x8b\x08\x00" + b"\xff" * 40, 10_000, API) == {
        "bytes": 10_000,
        "binary": "1f8b0800" + "ff" * 12,
    }
    assert trace.body("é".encode() * 20, 40, API)["body"] == "é" * 8  # cut between characters, not inside one


def test_open_trace_appends_0600_and_none_means_no_trace(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "trace.jsonl"
    with open_trace(None) as none:
        assert none is None
    for _ in range(2):
        with open_trace(path) as trace:
            assert trace is not None
            trace.event("info", "x", "hello")
    assert [r["type"] for r in lines(path)] == ["start", "event", "start", "event"]
    assert path.stat().st_mode & 0o777 == 0o600
    (tmp_path / "dir.jsonl").mkdir()
    with pytest.raises(ConfigError, match="cannot be written"), open_trace(tmp_path / "dir.jsonl"):
        pass


async def test_every_exchange_is_a_line_and_retries_are_their_own(tmp_path: Path) -> None:
    answers = iter([httpx.Response(429), httpx.Response(200, json={"data": {"username": "u"}, "echo": TOKEN})])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers)

    path = tmp_path / "t.jsonl"
    with open_trace(path) as trace:
        async with make_client(
            TOKEN, base_url="https://api.example.test/v1", transport=httpx.MockTransport(handler), trace=trace,
            sleep=no_wait,
        ) as client:  # fmt: skip
            response = await client.get("authentication/profile", headers={"Cookie": "session=1"})
    assert response.json()["echo"] == TOKEN  # the caller gets the answer untouched
    http = [r for r in lines(path) if r["type"] == "http"]
    assert [r["status"] for r in http] == [429, 200] and [r["n"] for r in http] == [1, 2]
    assert http[1]["url"] == "https://api.example.test/v1/authentication/profile"
    assert http[1]["request"]["headers"]["authorization"] == "<removed>"
    assert http[1]["request"]["headers"]["cookie"] == "<removed>"
    assert http[1]["response"]["body"] == '{"data":{"username":"u"},"echo":"<token>"}'
    assert all(r["ms"] >= 0 and r["ms_total"] >= r["ms"] for r in http)
    assert leaked(path.read_text()) == []


async def test_a_failed_exchange_is_traced_with_its_error(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused while sending Token {TOKEN}")

    path = tmp_path / "t.jsonl"
    with open_trace(path) as trace:
        async with make_client(
            TOKEN, base_url="https://api.example.test/v1", transport=httpx.MockTransport(handler), trace=trace,
            sleep=no_wait, max_retries=1,
        ) as client:  # fmt: skip
            with pytest.raises(httpx.ConnectError):
                await client.get("x")
    http = [r for r in lines(path) if r["type"] == "http"]
    assert len(http) == 2 and all(r["error"].startswith("ConnectError: refused") for r in http)
    assert leaked(path.read_text()) == []


async def test_a_whole_export_traced_against_an_api_that_echoes_the_token(tmp_path: Path) -> None:
    """The acceptance test: whatever the API sends back, the token never reaches the trace."""
    scenario = Scenario(polls_to_done=2, echo_token=True, truncate_downloads=1, storm_429=1)
    path = tmp_path / "trace.jsonl"
    with FakeBotify(scale=0.02, scenario=scenario, token=TOKEN) as fake, open_trace(path) as trace:
        params = ExportParams(project_url=URL, out_dir=tmp_path / "out", api_base=fake.base_url, max_edges=20_000)
        async with make_client(TOKEN, base_url=fake.base_url, trace=trace, backoff_base=0.01, sleep=no_wait) as client:
            await run_export(params, client=client, sleep=no_wait)
        received = list(fake.requests)
        signatures = list(fake.app._url_tokens)
    text = path.read_text()
    records = lines(path)  # every line is JSON
    http = [r for r in records if r["type"] == "http"]
    assert len(http) == len(received)  # every request the server saw, 429s and the cut download included
    # the same answers (two jobs run at once, so the order in which both sides note them may differ)
    assert sorted(r["status"] for r in http) == sorted(r.status for r in received)
    assert any(r["response"]["headers"].get("x-echo-authorization") == "Token <token>" for r in http)
    assert any('"padded":"  <token>\\n"' in r["response"].get("body", "") for r in http)  # it was echoed...
    assert leaked(text) == []  # ...and scrubbed, whole and in pieces
    assert signatures and not [s for s in signatures if s in text]  # download links' signatures are gone
    downloads = [r for r in http if "/exports/" in r["url"]]
    assert downloads and all("<signature>" in r["url"] for r in downloads)
    assert all("binary" in r["response"] for r in downloads if r["status"] in (200, 206))
    jobs = [r for r in http if r["url"].endswith(("/jobs/5678901", "/jobs/5678902")) and r["status"] == 200]
    assert any("<signature>" in r["response"].get("body", "") for r in jobs)  # the link inside the job JSON too


async def test_run_export_records_its_steps_into_the_trace(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    with FakeBotify(scale=0.02, scenario=Scenario(polls_to_done=1), token=TOKEN) as fake, open_trace(path) as trace:
        params = ExportParams(project_url=URL, out_dir=tmp_path / "out", api_base=fake.base_url, max_edges=20_000)
        await run_export(params, token=TOKEN, trace=trace, sleep=no_wait)
    records = lines(path)
    steps = [(r["kind"], r["step"]) for r in records if r["type"] == "event"]
    assert ("step_succeeded", "connect") in steps and ("step_succeeded", "download:links") in steps
    assert not any(kind == "download_progress" for kind, _ in steps)
    assert sum(r["type"] == "http" for r in records) >= 10 and leaked(path.read_text()) == []
