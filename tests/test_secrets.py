"""The API token never leaves the Authorization header of requests to the API origin.

A recognisable token runs full exports (the CLI in a subprocess, and run_export in-process with every
logger at DEBUG, httpx and httpcore included); then every file the run wrote, its stdout/stderr, the log
records, the progress events and the errors of failing runs are searched for it. The papermill output
notebook is searched by tests/test_notebook.py.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import subprocess
import traceback
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import cli_env, run_argv

from botify_graph import errors
from botify_graph.client import RetryTransport, make_client
from botify_graph.fake import ALWAYS, FakeBotify, Scenario
from botify_graph.pipeline import Event, ExportParams, run_export

TOKEN = "SECRET-TOKEN-canary-7f3a9c2e51d84b60"
URL = "https://app.botify.com/example-org/example.com/"


@pytest.fixture
def fake() -> Iterator[FakeBotify]:
    with FakeBotify(scale=0.02, scenario=Scenario(polls_to_done=1), token=TOKEN) as server:
        yield server


def leaks(root: Path) -> list[str]:
    """Every file under `root` whose bytes contain the token (in any common encoding)."""
    needles = [TOKEN.encode(), TOKEN.encode("utf-16-le"), TOKEN[8:].encode()]
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if any(n in data for n in needles):
                found.append(str(path))
    return found


async def no_wait(_: float) -> None:
    await asyncio.sleep(0)


@pytest.mark.slow
def test_cli_export_writes_the_token_nowhere(fake: FakeBotify, tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = cli_env(TOKEN, tmp_path / "config")
    cmd = run_argv(fake.base_url, out, "--max-edges", "20000", project_url=URL)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name.endswith("_links.csv") for p in files) and any(p.name == "export_registry.json" for p in files)
    assert leaks(tmp_path) == []
    assert TOKEN not in done.stdout + done.stderr
    control = tmp_path / "control.txt"  # the search does find the token where it is
    control.write_text(f"x Token {TOKEN} x")
    assert leaks(tmp_path) == [str(control)]
    control.unlink()
    # the token did go where it belongs
    assert all(r.status != 401 for r in fake.requests)

    # A failing run (the token is rejected) explains itself without quoting the token.
    env["BOTIFY_API_TOKEN"] = TOKEN[::-1]
    failed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert failed.returncode == 1 and "401" in failed.stderr and "BOTIFY_API_TOKEN" in failed.stderr
    assert TOKEN[::-1] not in failed.stdout + failed.stderr and "Traceback" not in failed.stderr


async def test_in_process_export_logs_and_events_never_carry_the_token(
    fake: FakeBotify, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "botify_graph", "filelock", "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name)
    events: list[Event] = []
    params = ExportParams(project_url=URL, out_dir=tmp_path, api_base=fake.base_url, max_edges=20_000)
    result = await run_export(params, token=TOKEN, on_event=events.append, sleep=no_wait)

    assert any(r.name.startswith("httpcore") for r in caplog.records)  # DEBUG logging really was on
    assert any(r.name == "httpx" for r in caplog.records)
    for record in caplog.records:
        assert (
            TOKEN not in record.getMessage() and TOKEN not in repr(record.args) and TOKEN not in repr(record.__dict__)
        )
    assert TOKEN not in caplog.text
    for event in events:
        assert TOKEN not in repr(event)
    assert TOKEN not in repr(result)
    assert leaks(tmp_path) == []


async def test_errors_of_failing_runs_never_carry_the_token(fake: FakeBotify, tmp_path: Path) -> None:
    """Every way an export can fail here: the whole exception chain, formatted as a traceback, is clean."""

    async def failure(scenario: Scenario, token: str = TOKEN, url: str = URL) -> BaseException:
        fake.scenario = scenario
        fake.reset_counters()
        p = ExportParams(project_url=url, out_dir=tmp_path / str(len(seen)), api_base=fake.base_url, max_edges=20_000)
        async with make_client(token, base_url=fake.base_url, backoff_base=0.001, rate=1000) as client:
            with pytest.raises(errors.BotifyError) as info:
                await run_export(p, client=client, sleep=no_wait)
        seen.append(info.value)
        return info.value

    seen: list[BaseException] = []
    fast = Scenario(polls_to_done=1, rate_limit_qps=None)
    await failure(fast, token=TOKEN + "-revoked")  # 401
    await failure(fast.replace(storm_429=ALWAYS))  # RateLimited
    await failure(fast.replace(error_first_n=ALWAYS, error_body="html"))  # ApiError 503
    await failure(fast.replace(fail_jobs=ALWAYS))  # ExportJobFailed
    await failure(fast.replace(download_ttl_s=0.0))  # DownloadExpired
    await failure(fast.replace(truncate_downloads=ALWAYS))  # DownloadError
    await failure(fast, url="https://app.botify.com/other-org/example.com/")  # 403
    async with make_client(TOKEN, base_url="http://127.0.0.1:9/v1", backoff_base=0.001) as client:  # refused
        with pytest.raises(errors.TransportError) as info:
            await run_export(ExportParams(project_url=URL, out_dir=tmp_path / "x"), client=client, sleep=no_wait)
    seen.append(info.value)
    assert {type(e).__name__ for e in seen} >= {
        "AuthError",
        "RateLimited",
        "ApiError",
        "ExportJobFailed",
        "DownloadExpired",
        "DownloadError",
        "PermissionDenied",
        "TransportError",
    }
    for exc in seen:
        text = "".join(traceback.format_exception(exc))
        assert TOKEN not in text and TOKEN not in repr(exc) and TOKEN not in repr(vars(exc))
    assert leaks(tmp_path) == []


async def test_client_and_auth_reprs_hide_the_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401, json={"error": {"error_code": 1001, "message": "Not Authorized"}})

    async with make_client(
        TOKEN, base_url="https://api.example.test/v1", transport=httpx.MockTransport(handler), rate=1000
    ) as client:
        response = await client.get("authentication/profile")
        assert seen[0].headers["Authorization"] == f"Token {TOKEN}"  # sent where it belongs...
        assert isinstance(client._transport, RetryTransport)
        for obj in (
            client,
            client.auth,
            client._transport,
            client.headers,
            seen[0],
            seen[0].headers,
            response,
            response.request,
            response.request.headers,
        ):
            assert TOKEN not in repr(obj) and TOKEN not in str(obj)  # ...and shown nowhere
    for exc in (
        errors.AuthError("x", status=401, error_code=1001, url="/v1/authentication/profile"),
        errors.TransportError("x"),
        errors.StateFileError("/tmp/f.json", "corrupt"),
    ):
        assert TOKEN not in repr(vars(exc))


def test_no_error_class_takes_or_keeps_request_headers() -> None:
    # Errors are built from statuses, codes and server messages: none stores a request or its headers.
    for name in dir(errors):
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, BaseException) and cls.__module__ == errors.__name__:
            init = cls.__init__
            params = set(inspect.signature(init).parameters) if inspect.isfunction(init) else set()
            assert not {"request", "response", "headers", "token", "auth"} & params, name
