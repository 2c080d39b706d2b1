"""One follower per export: when two runs (kernels, tabs, batch runs) want the same export, exactly one polls
and downloads each file; the other waits on the registry, shows the same progress, uses the file, and takes
the same job over if the first one dies. Against the fake API over real sockets, in one process and in two."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers import ROOT, race

from botify_graph import layout
from botify_graph.fake import FakeBotify, Scenario
from botify_graph.pipeline import Event, ExportParams, _read_progress, _write_progress, run_export

URL = "https://app.botify.com/example-org/example.com/20241108/"

WORKER = """
import asyncio, json, os, sys, time
from pathlib import Path
go, base, out, token, reports, pause = sys.argv[1:7]
while not Path(go).exists():
    time.sleep(0.01)
from botify_graph.pipeline import ExportParams, run_export

def on_event(event):
    print(event.kind, event.step, event.message, flush=True)

async def main():
    async def sleep(seconds):
        await asyncio.sleep(min(seconds, float(pause)))
    params = ExportParams(project_url="URL", out_dir=out, api_base=base, max_edges=20_000)
    result = await run_export(params, token=token, on_event=on_event, sleep=sleep)
    Path(reports, f"{os.getpid()}.json").write_text(json.dumps({
        "files": [str(result.links.path), str(result.meta.path)],
        "jobs": [result.links.job_id, result.meta.job_id],
    }))

asyncio.run(main())
""".replace('"URL"', repr(URL))


def downloads(fake: FakeBotify) -> dict[str, int]:
    """Downloads served per kind, counted by the fake's CDN."""
    return {kind: sum(j.downloads for j in fake.jobs_of_kind(kind)) for kind in layout.KINDS}


async def test_two_runs_in_one_process_download_each_file_once(fake_api: FakeBotify, tmp_path: Path) -> None:
    fake_api.scenario = Scenario(polls_to_done=3)
    params = ExportParams(project_url=URL, out_dir=tmp_path, api_base=fake_api.base_url, max_edges=20_000)
    events: list[list[Event]] = [[], []]

    async def sleep(_: float) -> None:
        await asyncio.sleep(0.01)

    first, second = await asyncio.gather(
        *(run_export(params, token=fake_api.token, on_event=events[i].append, sleep=sleep) for i in range(2))
    )
    assert len(fake_api.jobs) == 2 and downloads(fake_api) == {"links": 1, "meta": 1}
    assert (first.links.path, first.meta.path) == (second.links.path, second.meta.path)
    assert (first.links.job_id, first.meta.job_id) == (second.links.job_id, second.meta.job_id)
    waited = [e for run in events for e in run if "is following this export" in e.message]
    assert sorted(e.step for e in waited) == ["export:links", "export:meta"]  # one run waited for each file
    waiter = next(run for run in events if any(e in run for e in waited))
    # the waiting run showed the same progress: job statuses with polls, then the file
    statuses = [e for e in waiter if e.kind == "job_status"]
    assert statuses and all({"job_id", "status", "polls"} <= set(e.data) for e in statuses)
    done = [e for e in waiter if e.kind == "step_succeeded" and e.step.startswith("download:")]
    assert len(done) == 2 and all("downloaded by the other session" in e.message for e in done)
    # nothing is left behind but the lock files (deleting those races with their next user)
    left = sorted(p.name for p in (tmp_path / ".export-locks").iterdir())
    assert left and all(name.endswith(".lock") for name in left)


def test_two_processes_download_each_file_once(fake_api: FakeBotify, tmp_path: Path) -> None:
    fake_api.scenario = Scenario(polls_to_done=4)
    reports = tmp_path / "reports"
    reports.mkdir()
    out = tmp_path / "out"
    race(WORKER, fake_api.base_url, str(out), fake_api.token, str(reports), "0.05", go=tmp_path / "go")
    results = [json.loads(p.read_text()) for p in reports.iterdir()]
    assert len(results) == 2 and results[0] == results[1]  # same files, same jobs
    assert len(fake_api.jobs) == 2 and downloads(fake_api) == {"links": 1, "meta": 1}
    for name in results[0]["files"]:
        assert Path(name).read_text().count("\n") > 100


def _wait_for(check: object, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_when_the_follower_dies_the_waiting_run_takes_the_same_jobs_over(fake_api: FakeBotify, tmp_path: Path) -> None:
    fake_api.scenario = Scenario(polls_to_done=10_000)  # the jobs run until the scenario changes
    reports, out, go = tmp_path / "reports", tmp_path / "out", tmp_path / "go"
    reports.mkdir()
    go.touch()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    argv = [sys.executable, "-c", WORKER, str(go), fake_api.base_url, str(out), fake_api.token, str(reports), "0.1"]
    first = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    second: subprocess.Popen[str] | None = None
    try:
        registry = out / layout.REGISTRY_NAME

        def polled() -> bool:
            if not registry.exists():
                return False
            records = json.loads(registry.read_text())["exports"].values()
            return len(records) == 2 and all(r["status"] == "PROCESSING" for r in records)

        _wait_for(polled, what="the first run to poll both jobs")
        second = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        seen: list[str] = []
        assert second.stdout is not None
        while sum("is following this export" in line for line in seen) < 2:
            line = second.stdout.readline()
            assert line, "the second run ended early:\n" + "".join(seen)
            seen.append(line)
        first.send_signal(signal.SIGKILL)  # the holder dies: the OS frees its locks
        first.wait(10)
        fake_api.scenario = Scenario(polls_to_done=1)
        rest, _ = second.communicate(timeout=60)
        output = "".join(seen) + rest
        assert second.returncode == 0, output
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert output.count("takes over the same job") == 2, output
    assert output.count("resuming job") == 2, output
    assert len(fake_api.jobs) == 2 and downloads(fake_api) == {"links": 1, "meta": 1}
    (result,) = [json.loads(p.read_text()) for p in reports.iterdir()]
    assert sorted(result["jobs"]) == sorted(fake_api.jobs)


def test_progress_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "x" / "p.progress.json"
    assert _read_progress(path) is None
    _write_progress(path, 1234, 5678)
    assert _read_progress(path) == (1234, 5678)
    _write_progress(path, 99, None)
    assert _read_progress(path) == (99, None)
    path.write_text("{not json")
    assert _read_progress(path) is None
