"""Bad input from every side: malformed API answers, hostile names, and bad command-line parameters.

- Every api.* function, fed malformed answers (missing keys, wrong types, HTML pages with 200 or 502, NaN)
  through httpx.MockTransport, fails with our errors (MalformedResponse, ApiError, ...), never with a
  KeyError, TypeError or AttributeError: a table of readable cases, then hypothesis-generated bodies.
- The path the pipeline builds for an export never leaves the output folder, whatever the URL and the
  analysis slug the API sends (hypothesis).
- `botify-graph run` with bad parameters, a missing token, an unreachable API or a corrupt state file
  prints one line that says what to do and exits non-zero, without a traceback (real subprocesses).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import cli, cli_env, run_argv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botify_graph import api, queries
from botify_graph.client import make_client
from botify_graph.errors import BotifyError, InvalidProjectURL
from botify_graph.fake import FakeBotify, Scenario
from botify_graph.jobs import poll_job
from botify_graph.layout import REGISTRY_NAME, export_filename, project_dir
from botify_graph.models import Analysis
from botify_graph.urls import ProjectRef, clean_url, is_valid_slug

REF = ProjectRef("example-org", "example.com")
PAYLOAD = queries.links_export_payload("example-org", "example.com", "20241108", 3, 20_000)


# --- malformed API answers ------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def _meta_fields_and_period(c: httpx.AsyncClient) -> object:
    found = await api.available_meta_fields(c, REF, "20241108")
    return found, found.period(Analysis("20241108"))


def _poll(c: httpx.AsyncClient) -> Awaitable[object]:
    clock = Clock()
    return poll_job(c, "/v1/jobs/5", sleep=clock.sleep, clock=lambda: clock.now, timeout_s=60)


CALLS: dict[str, Callable[[httpx.AsyncClient], Awaitable[object]]] = {
    "verify_token": api.verify_token,
    "fetch_analyses_light": lambda c: api.fetch_analyses_light(c, REF),
    "resolve_analysis": lambda c: api.resolve_analysis(c, REF, "20241108"),
    "fetch_collections": lambda c: api.fetch_collections(c, REF),
    "available_meta_fields": _meta_fields_and_period,
    "query": lambda c: api.query(c, REF, queries.depth_histogram_query("20241108")),
    "edges_per_depth": lambda c: api.edges_per_depth(c, REF, "20241108"),
    "find_optimal_depth": lambda c: api.find_optimal_depth(c, REF, "20241108", 20_000),
    "find_existing_job": lambda c: api.find_existing_job(c, PAYLOAD),
    "create_export_job": lambda c: api.create_export_job(c, PAYLOAD),
    "get_job": lambda c: api.get_job(c, "/v1/jobs/5"),
    "poll_job": _poll,
}


def answer(status: int, body: bytes, content_type: str = "application/json") -> httpx.MockTransport:
    """A transport that answers every request the same way."""
    return httpx.MockTransport(
        lambda request: httpx.Response(status, content=body, headers={"Content-Type": content_type})
    )


async def call(name: str, transport: httpx.AsyncBaseTransport) -> BaseException | None:
    """Run api function `name` against `transport`; return the exception it raised, if any."""

    async def no_sleep(_: float) -> None:
        return None

    async with make_client(
        "t", base_url="https://api.example.test/v1", transport=transport, rate=10_000, sleep=no_sleep
    ) as client:
        try:
            await CALLS[name](client)
        except BotifyError as exc:
            return exc
    return None


NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><center><h1>502 Bad Gateway</h1>"
    b"</center><hr><center>nginx</center></body></html>\r\n"
)
J = json.dumps
MALFORMED: dict[str, tuple[int, bytes, str]] = {
    "html-200": (200, b"<!doctype html><html><body>Sign in to Botify</body></html>", "text/html"),
    "html-502": (502, NGINX_502, "text/html"),
    "empty-200": (200, b"", "application/json"),
    "truncated-json": (200, b'{"results": [{"slug": "2024', "application/json"),
    "null": (200, b"null", "application/json"),
    "list": (200, b"[1, 2, 3]", "application/json"),
    "string": (200, J("ok").encode(), "application/json"),
    "empty-object": (200, b"{}", "application/json"),
    "results-not-list": (200, J({"results": {"a": 1}, "next": None}).encode(), "application/json"),
    "results-of-junk": (200, J({"results": [1, None, "x", []], "next": None}).encode(), "application/json"),
    "next-not-string": (200, J({"results": [], "next": 5}).encode(), "application/json"),
    "data-wrong-type": (200, J({"data": ["username"]}).encode(), "application/json"),
    "username-number": (200, J({"data": {"username": 5}}).encode(), "application/json"),
    "rows-wrong-type": (
        200,
        J({"results": [{"dimensions": "x", "metrics": 3}], "next": None}).encode(),
        "application/json",
    ),
    "metric-string": (
        200,
        J({"results": [{"dimensions": [1], "metrics": ["many"]}], "next": None}).encode(),
        "application/json",
    ),
    "metric-nan": (200, b'{"results": [{"dimensions": [1], "metrics": [NaN]}], "next": null}', "application/json"),
    "metric-infinity": (
        200,
        b'{"results": [{"dimensions": [Infinity], "metrics": [Infinity]}], "next": null}',
        "application/json",
    ),
    "metric-huge-int": (
        200,
        b'{"results": [{"dimensions": [1], "metrics": [1' + b"0" * 400 + b']}], "next": null}',
        "application/json",
    ),
    "job-id-object": (200, J({"job_id": {"id": 1}, "job_status": "DONE"}).encode(), "application/json"),
    "job-status-unknown": (200, J({"job_id": 5, "job_status": "WEIRD"}).encode(), "application/json"),
    "job-status-number": (200, J({"job_id": 5, "job_status": 3}).encode(), "application/json"),
    "download-url-number": (
        200,
        J({"job_id": 5, "job_status": "DONE", "results": {"download_url": 7}}).encode(),
        "application/json",
    ),
    "collection-dates-wrong": (
        200,
        J([{"id": "search_console", "date_start": 20241101, "date_end": "soon"}, {"id": "crawl.20241108"}]).encode(),
        "application/json",
    ),
    "collection-id-missing": (200, J([{"name": "crawl"}]).encode(), "application/json"),
    "error-envelope-junk": (400, J({"error": {"error_code": [], "message": {"m": 1}}}).encode(), "application/json"),
    "error-string": (500, J({"error": "boom"}).encode(), "application/json"),
    "detail-number": (404, J({"detail": 5}).encode(), "application/json"),
    "401-html": (401, b"<html>Unauthorized</html>", "text/html"),
    "403-empty": (403, b"", "text/plain"),
}


@pytest.mark.parametrize("name", list(CALLS))
async def test_malformed_answers_raise_our_errors(name: str) -> None:
    outcomes = {}
    for case, (status, body, ctype) in MALFORMED.items():
        try:
            outcomes[case] = await call(name, answer(status, body, ctype))
        except Exception as exc:  # anything that is not a BotifyError is the bug this test is for
            pytest.fail(f"{name} on {case!r}: {type(exc).__name__}: {exc}")
    # Pages that cannot be this endpoint's answer must be refused, not taken for an empty result.
    for case in ("html-200", "html-502", "empty-200", "truncated-json", "null", "401-html", "403-empty"):
        assert outcomes[case] is not None, f"{name} accepted {case!r}"
    assert type(outcomes["401-html"]).__name__ == "AuthError"
    assert type(outcomes["403-empty"]).__name__ == "PermissionDenied"


def test_html_pages_are_reported_as_what_they_are() -> None:
    exc = asyncio.run(call("verify_token", answer(200, MALFORMED["html-200"][1], "text/html")))
    assert exc is not None and "non-JSON" in str(exc) and "API base URL may be wrong" in str(exc)
    exc = asyncio.run(call("verify_token", answer(502, NGINX_502, "text/html")))
    assert exc is not None and "502" in str(exc) and "<" not in str(exc)


KEYS = [
    "results",
    "next",
    "data",
    "username",
    "slug",
    "job_id",
    "job_status",
    "job_url",
    "dimensions",
    "metrics",
    "error",
    "message",
    "error_code",
    "download_url",
    "id",
    "datasets",
    "fields",
    "payload",
    "date_start",
    "date_end",
    "count",
    "detail",
    "failure_reason",
    "status",
    "date_created",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "DONE",
            "FAILED",
            "PROCESSING",
            "20241108",
            "crawl.20241108",
            "search_console",
            "/v1/jobs/5",
            "https://cdn.test/f.csv.gz",
            "2024-11-01",
            "http://api.example.test/v1/jobs?page=2",
        ]
    ),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=6),
    max_leaves=25,
)


@pytest.mark.parametrize("name", list(CALLS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(status=st.sampled_from([200, 200, 200, 201, 400, 401, 403, 404, 500, 502]), body=JSON_VALUES)
def test_generated_answers_raise_only_our_errors(name: str, status: int, body: Any) -> None:
    raw = json.dumps(body).encode()  # NaN and Infinity included: Python's json reads them
    asyncio.run(call(name, answer(status, raw)))  # returns or raises BotifyError; anything else fails


# --- paths ----------------------------------------------------------------------------------------------

_segment = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=30)
_slugs = st.one_of(_segment, st.sampled_from(["20241108", "20241101-2", "..", ".", "../..", "a/b", "a\\b", "x" * 101]))


@settings(max_examples=300, deadline=None)
@given(org=_segment, project=_segment, analysis=_slugs, kind=st.sampled_from(["links", "meta"]))
def test_export_paths_never_leave_the_output_folder(org: str, project: str, analysis: str, kind: str) -> None:
    # What the pipeline does: folder = project_dir(out, clean_url(url)); dest = folder / export_filename(...),
    # where `analysis` is whatever slug the API answered.
    root = Path("/tmp/botify-graph-out").resolve()
    try:
        ref = clean_url(f"https://app.botify.com/{org}/{project}/")
        dest = project_dir(root, ref) / export_filename(ref, analysis, kind)
    except InvalidProjectURL:
        return
    assert dest.resolve().parent.parent.parent == root
    assert dest.name == f"{ref.project}_{analysis}_{kind}.csv"
    assert "/" not in dest.name and "\\" not in dest.name and is_valid_slug(ref.project)


@settings(max_examples=300, deadline=None)
@given(analysis=_slugs)
def test_export_filename_accepts_only_safe_analysis_slugs(analysis: str) -> None:
    try:
        name = export_filename(ProjectRef("org", "proj"), analysis, "links")
    except InvalidProjectURL as exc:
        assert "analysis slug" in str(exc)
        return
    assert name.startswith("proj_") and name.endswith("_links.csv")
    assert ".." not in analysis and "/" not in analysis and "\\" not in analysis and "\x00" not in analysis


# --- the command line -----------------------------------------------------------------------------------

URL = "https://app.botify.com/example-org/example.com/"


@pytest.fixture
def fake() -> Iterator[FakeBotify]:
    with FakeBotify(scale=0.02, scenario=Scenario(polls_to_done=1)) as server:
        yield server


@pytest.mark.slow
def test_bad_command_lines_fail_with_one_line(fake: FakeBotify, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / REGISTRY_NAME).write_text('{"schema_version": 1, "exports": {')
    sidecar = tmp_path / "wizard.state.json"
    sidecar.write_text('{"schema_version": 1, "pipelines": ')
    base = run_argv(fake.base_url, tmp_path / "out", project_url=URL)[3:]
    cases: dict[str, tuple[list[str], str, int]] = {
        "negative max-edges": ([*base, "--max-edges", "-5"], "max_edges must be a positive whole number", 1),
        "max-edges not a number": ([*base, "--max-edges", "lots"], "invalid int value: 'lots'", 2),
        "unknown field": ([*base, "--fields", "bogus"], "'bogus' is not a field of this project's analysis", 1),
        "not a field name": ([*base, "--fields", "page type"], "'page type' is not a field name", 1),
        "bad period": ([*base, "--gsc-period", "last month"], "Search Console period 'last month' is neither", 1),
        "zero poll timeout": ([*base, "--poll-timeout", "0"], "poll_timeout_s must be positive", 1),
        "not a Botify URL": (
            ["run", "--project-url", "https://example.com/x/y/", "--api-base", fake.base_url],
            "is not a Botify project URL",
            1,
        ),
        "path in the URL": (
            ["run", "--project-url", "https://app.botify.com/org/..%2F..%2Fetc/"],
            "not a valid Botify slug",
            1,
        ),
        "API base not a URL": ([*base[:3], "--api-base", "api.botify.com"], "must start with http:// or https://", 1),
        "unknown analysis": ([*base, "--analysis", "19990101"], "Analysis '19990101' is not a finished analysis", 1),
        "unreachable API": (
            [*base[:3], "--api-base", "http://127.0.0.1:9/v1"],
            "Could not talk to the Botify API at 127.0.0.1",
            1,
        ),
        "wrong token": ([*base, "--max-edges", "20000"], "Botify rejected the API token", 1),
        "corrupt registry": (
            [*base[:-1], str(corrupt)],
            f"{corrupt / REGISTRY_NAME}: the export registry is corrupt",
            1,
        ),
        "corrupt sidecar": (["reproduce", "--sidecar", str(sidecar)], f"{sidecar}: the wizard sidecar is corrupt", 1),
        "missing token": ([*base], "No API token: set BOTIFY_API_TOKEN", 1),
        "unknown command": (["export-everything"], "invalid choice: 'export-everything'", 2),
    }
    env = cli_env(fake.token, tmp_path / "config")
    env.pop("BOTIFY_API_BASE", None)
    procs = {}
    for case, (argv, _, _) in cases.items():  # all at once: "unreachable API" spends its retry budget (~8 s)
        case_env = dict(env)
        if case == "missing token":
            del case_env["BOTIFY_API_TOKEN"]
        if case == "wrong token":
            case_env["BOTIFY_API_TOKEN"] = "not-the-token"
        procs[case] = subprocess.Popen(
            cli(*argv),
            env=case_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )
    for case, proc in procs.items():
        _, expected, code = cases[case]
        _, stderr = proc.communicate(timeout=120)
        lines = stderr.strip().splitlines()
        assert proc.returncode == code, (case, stderr)
        assert "Traceback" not in stderr, (case, stderr)
        assert expected in lines[-1], (case, stderr)
        if code == 1:  # our own errors: exactly one line
            assert len(lines) == 1 and lines[0].startswith("botify-graph: error: "), (case, stderr)
    assert fake.jobs == {}  # no bad input got as far as creating a job
    assert (corrupt / REGISTRY_NAME).read_text() == '{"schema_version": 1, "exports": {'  # kept, not reset
    assert len(list(corrupt.glob(f"{REGISTRY_NAME}.corrupt-*"))) == 1  # and copied aside
    assert sidecar.read_text() == '{"schema_version": 1, "pipelines": '
    assert len(list(tmp_path.glob("wizard.state.json.corrupt-*"))) == 1
