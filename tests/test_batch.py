"""botify-graph batch against the fake API: many projects, one rate limit, one cap on jobs, failures isolated.

In-process (`run_batch`) for what the fake records (requests, jobs, their times), the CLI as a subprocess for
exit codes and output, and a SIGKILL mid-batch that the next run resumes without a second job.
"""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import cli, cli_env, kill, wait_for

from botify_graph.batch import BatchConsole, BatchEvent, BatchResult, run_batch
from botify_graph.errors import AuthError, ConfigError
from botify_graph.fake import ALWAYS, FakeBotify, RequestRecord, Scenario
from botify_graph.layout import REGISTRY_NAME

ORG = "example-org"
APP = f"https://app.botify.com/{ORG}"
PROJECTS = f"""# a batch of the fake's projects, and one it does not have
{APP}/example.com/ max_edges=20000
{ORG}
  no-gsc.example max_edges=20000
  huge-home.example max_edges=30000 fields=pagetype,depth
  does-not-exist.example
"""
GOOD = ("example.com", "no-gsc.example", "huge-home.example")
FULL_META = ["id", "pagetype", "is_compliant", "canonical_equal", "sitemaps_present", "depth", "impressions", "clicks"]


async def no_wait(_: float) -> None:
    await asyncio.sleep(0)


def write(tmp_path: Path, text: str = PROJECTS, name: str = "projects.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def api_requests(fake: FakeBotify, since: float = 0.0) -> list[RequestRecord]:
    return [r for r in list(fake.requests) if r.server == "api" and r.t >= since]


def peak_per_second(records: list[RequestRecord]) -> int:
    """The most requests that reached the server within any one second."""
    times = sorted(r.t for r in records)
    peak = j = 0
    for i, t in enumerate(times):
        while times[j] <= t - 1.0:
            j += 1
        peak = max(peak, i - j + 1)
    return peak


def most_jobs_at_once(fake: FakeBotify) -> int:
    """The most export jobs that were running on the fake at once (from each job's POST until it said DONE)."""
    moments = []
    for job in list(fake.jobs.values()):
        moments.append((job.created_t, 1))
        moments.append((job.finished_t if job.finished_t is not None else float("inf"), -1))
    running = peak = 0
    for _, change in sorted(moments):  # at a tie, -1 sorts first: a job that ended frees its slot first
        running += change
        peak = max(peak, running)
    return peak


def header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as f:
        return next(csv.reader(f))


def results_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


async def batch(fake: FakeBotify, file: Path | list[Any], out: Path, **kw: Any) -> tuple[BatchResult, list[BatchEvent]]:
    events: list[BatchEvent] = []
    kw.setdefault("sleep", no_wait)
    result = await run_batch(file, out_dir=out, api_base=fake.base_url, token=fake.token, on_event=events.append, **kw)
    return result, events


# -- one batch, several projects -------------------------------------------------------------------------


async def test_a_batch_exports_every_project_but_the_unknown_one_within_5_requests_per_second(
    fake_api: FakeBotify, tmp_path: Path
) -> None:
    fake_api.scenario = Scenario(polls_to_done=1, job_seconds=1.0)  # jobs that last: the cap on jobs shows
    out = tmp_path / "out"
    t0 = time.monotonic()
    result, events = await batch(fake_api, write(tmp_path), out, max_jobs=2, sleep=asyncio.sleep)

    assert not result.ok
    assert [(r.project, r.status) for r in result.rows] == [
        (f"{ORG}/example.com", "exported"),
        (f"{ORG}/no-gsc.example", "exported"),
        (f"{ORG}/huge-home.example", "exported"),
        (f"{ORG}/does-not-exist.example", "failed"),
    ]
    unknown = result.rows[3]
    assert "404 Project was not found" in unknown.error and unknown.files == () and unknown.line == 6
    for r in result.rows[:3]:
        links = r.files[0]
        assert (
            len(r.files) == 2
            and header(links) == ["source", "target"]
            and r.rows == sum(1 for _ in links.open()) - 1 > 0
        )
        assert r.analysis == "20241108" and links.name == f"{r.project.split('/')[1]}_20241108_links.csv"
    assert header(result.rows[0].files[1]) == FULL_META
    assert header(result.rows[1].files[1]) == FULL_META[:6]  # no Search Console: no impressions, clicks
    assert header(result.rows[2].files[1]) == ["id", "pagetype", "depth"]  # the fields its line asked for
    assert (out / ORG / "example.com" / "example.com_20241108_summary.md").is_file()  # reports, as `run` writes

    # Botify's limit held: no 429, never more than 5 requests in any second, over all endpoints together
    requests = api_requests(fake_api, t0)
    assert not [r for r in requests if r.status == 429]
    assert peak_per_second(requests) <= 5
    # at most --max-jobs export jobs on Botify at once, across projects; and the cap was reached
    assert len(fake_api.jobs) == 6 and most_jobs_at_once(fake_api) == 2
    assert len(api_requests(fake_api, t0)) == len(requests)

    # the results file, named after the projects file, beside the outputs
    assert (result.results_csv, result.results_md) == (out / "projects_results.csv", out / "projects_results.md")
    table = results_rows(result.results_csv)
    assert list(table[0]) == ["project", "analysis", "status", "files", "rows", "error"]
    assert [(t["project"], t["status"]) for t in table] == [(r.project, r.status) for r in result.rows]
    assert table[0]["files"] == (
        f"{ORG}/example.com/example.com_20241108_links.csv; {ORG}/example.com/example.com_20241108_meta.csv"
    )
    assert table[0]["rows"] == str(result.rows[0].rows) and "404" in table[3]["error"]
    md = result.results_md.read_text(encoding="utf-8")
    assert "3 of 4 projects succeeded" in md and "| example-org/does-not-exist.example |" in md

    # the event stream: the batch, each row's start and end, each export's own events
    kinds = [e.kind for e in events]
    assert kinds[0] == "batch_started" and kinds[-1] == "batch_finished"
    assert kinds.count("row_started") == kinds.count("row_finished") == 4
    exports = [e for e in events if e.kind == "export" and e.project == f"{ORG}/no-gsc.example"]
    assert {e.export.step for e in exports if e.export} >= {"analysis", "depth", "export:links"}
    # the token was checked once for the batch, not once per project
    assert [r.endpoint for r in requests].count("GET /authentication/profile") == 1
    assert kinds[1] == "connected" and "connect" not in {e.export.step for e in events if e.export}


async def test_a_rerun_creates_no_job_and_reuses_every_file(fake_api: FakeBotify, tmp_path: Path) -> None:
    file, out = write(tmp_path), tmp_path / "out"
    await batch(fake_api, file, out)
    jobs = sorted(fake_api.jobs)
    files = sorted(out.rglob("*.csv"))
    stamps = {p: p.stat().st_mtime_ns for p in files if "_results" not in p.name}

    again, _ = await batch(fake_api, file, out)
    assert sorted(fake_api.jobs) == jobs  # no job created
    assert [r.status for r in again.rows] == ["reused", "reused", "reused", "failed"]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # no file rewritten


async def test_new_only_exports_the_new_crawl_compares_it_then_skips_it(fake_api: FakeBotify, tmp_path: Path) -> None:
    out = tmp_path / "out"
    weekly = write(tmp_path, f"{APP}/example.com/ max_edges=20000\n{APP}/no-gsc.example/ max_edges=20000\n")
    # last week: an older crawl of example.com was exported
    older = write(tmp_path, f"{APP}/example.com/ analysis=20241101 max_edges=20000\n", "older.txt")
    first, _ = await batch(fake_api, older, out)
    assert first.ok and first.rows[0].analysis == "20241101"

    # this week: the newest crawl of each project is new, and example.com's is compared with the older one
    week, _ = await batch(fake_api, weekly, out, new_only=True, compare=True)
    assert week.ok and [(r.analysis, r.status) for r in week.rows] == [("20241108", "exported")] * 2
    com, gsc = week.rows
    assert com.compared_with == "20241101" and gsc.compared_with is None
    compare_md = out / ORG / "example.com" / "example.com_20241101_vs_20241108_compare.md"
    assert com.files[-1] == compare_md and compare_md.is_file()
    assert (out / ORG / "example.com" / "example.com_20241101_vs_20241108_compare.json").is_file()
    assert any("nothing to compare" in n for n in gsc.notes)
    stamp = compare_md.stat().st_mtime_ns

    # next week, no new crawl: nothing exported, nothing created, only the analyses listed
    jobs, t0 = len(fake_api.jobs), time.monotonic()
    again, _ = await batch(fake_api, weekly, out, new_only=True, compare=True)
    assert again.ok and [r.status for r in again.rows] == ["skipped", "skipped"]
    assert len(fake_api.jobs) == jobs
    sent = sorted({r.endpoint for r in api_requests(fake_api, t0)})
    assert sent == ["GET /analyses/{org}/{project}/light", "GET /authentication/profile"]
    assert again.rows[0].files == (*com.files[:2], compare_md) and compare_md.stat().st_mtime_ns == stamp
    assert results_rows(again.results_csv)[0]["status"] == "skipped"


async def test_new_only_skips_a_crawl_exported_with_other_settings(fake_api: FakeBotify, tmp_path: Path) -> None:
    out = tmp_path / "out"
    await batch(fake_api, write(tmp_path, f"{APP}/no-gsc.example/ max_edges=20000\n"), out)
    jobs = len(fake_api.jobs)
    other = write(tmp_path, f"{APP}/no-gsc.example/ max_edges=5000\n", "other.txt")
    skipped, _ = await batch(fake_api, other, out, new_only=True)
    assert skipped.rows[0].status == "skipped" and len(fake_api.jobs) == jobs
    exported, _ = await batch(fake_api, other, out)  # without --new-only, other settings are another export
    assert exported.rows[0].status == "exported" and len(fake_api.jobs) == jobs + 2


async def test_rows_of_the_same_project_run_one_after_the_other(fake_api: FakeBotify, tmp_path: Path) -> None:
    text = f"{APP}/no-gsc.example/ max_edges=20000\n{APP}/no-gsc.example/20241108/ max_edges=20000\n"
    result, events = await batch(fake_api, write(tmp_path, text), tmp_path / "out")
    assert [r.status for r in result.rows] == ["exported", "reused"]  # the same export, never two jobs
    assert len(fake_api.jobs) == 2
    order = [(e.kind, e.row) for e in events if e.kind in ("row_started", "row_finished")]
    assert order == [("row_started", 0), ("row_finished", 0), ("row_started", 1), ("row_finished", 1)]


async def test_rows_from_python_and_defaults_for_rows_that_give_none(fake_api: FakeBotify, tmp_path: Path) -> None:
    from botify_graph.projects import parse_projects

    rows = parse_projects(f"{APP}/no-gsc.example/\n{APP}/example.com/ max_edges=20000 fields=depth\n").check()
    result, _ = await batch(fake_api, rows, tmp_path / "out", defaults={"max_edges": 20_000, "fields": ("pagetype",)})
    assert result.ok and result.name == "batch" and result.results_csv.name == "batch_results.csv"
    assert header(result.rows[0].files[1]) == ["id", "pagetype"] and header(result.rows[1].files[1]) == ["id", "depth"]


# -- before anything is sent -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{APP}/example.com/ max_edges=ten\n", r"projects.txt, line 1: max_edges must be a whole number"),
        (f"{APP}/example.com/\n{APP}/x/ max_edges=999999999999\n", r"line 2: max_edges .* far above"),
        ("", "lists no project"),
    ],
)
async def test_a_bad_projects_file_fails_before_any_request(
    fake_api: FakeBotify, tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        await batch(fake_api, write(tmp_path, text), tmp_path / "out")
    assert fake_api.requests == [] and not (tmp_path / "out").exists()


async def test_a_missing_file_bad_max_jobs_or_refused_token_stop_the_batch(
    fake_api: FakeBotify, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        await batch(fake_api, tmp_path / "nope.txt", tmp_path / "out")
    with pytest.raises(ConfigError, match="max_jobs"):
        await batch(fake_api, write(tmp_path), tmp_path / "out", max_jobs=0)
    assert fake_api.requests == []
    with pytest.raises(AuthError):
        await run_batch(write(tmp_path), out_dir=tmp_path / "out", api_base=fake_api.base_url, token="wrong")
    # one token check (the profile, then the documented analyses list it falls back to), not one per project
    assert [r.status for r in fake_api.requests] == [401, 401] and not fake_api.jobs


# -- logging ---------------------------------------------------------------------------------------------


async def test_everything_is_logged_under_botify_graph_never_the_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "SECRET-batch-token-0123456789abcdef"
    with FakeBotify(scale=0.02, scenario=Scenario(polls_to_done=1), token=secret) as fake:
        for name in ("", "botify_graph", "httpx", "httpcore"):
            caplog.set_level(logging.DEBUG, logger=name)
        result, _ = await batch(fake, write(tmp_path), tmp_path / "out")
    assert not result.ok
    names = {r.name for r in caplog.records}
    assert {"botify_graph.batch", "botify_graph.export", "httpx"} <= names
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert secret not in text and secret not in caplog.text
    assert all(secret not in repr(r.args) and secret not in repr(r.__dict__) for r in caplog.records)
    batch_lines = [r for r in caplog.records if r.name == "botify_graph.batch"]
    assert any("[example-org/does-not-exist.example] row_finished" in r.getMessage() for r in batch_lines)
    assert any(r.levelno == logging.WARNING and "does-not-exist" in r.getMessage() for r in batch_lines)
    export = [r for r in caplog.records if r.name == "botify_graph.export"]
    assert any(r.getMessage().startswith("[example-org/no-gsc.example] step_succeeded depth") for r in export)
    assert {getattr(r, "botify_project", None) for r in export} >= {f"{ORG}/{p}" for p in GOOD}
    for name in ("botify_graph", "botify_graph.batch", "botify_graph.export"):
        # the library installs no handler that outputs anything (a NullHandler keeps the last resort quiet)
        assert all(type(h) is logging.NullHandler for h in logging.getLogger(name).handlers)
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert result.results_md in written and not [p for p in written if secret.encode() in p.read_bytes()]


def test_the_library_installs_no_log_handler_anywhere() -> None:
    package = Path(__file__).resolve().parents[1] / "botify_graph"
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "basicConfig" not in text, path
        if "addHandler(" in text:  # only the NullHandler that keeps Python's last-resort handler quiet
            assert path.name == "__init__.py" and "addHandler(logging.NullHandler())" in text


# -- the console -----------------------------------------------------------------------------------------


async def test_plain_lines_off_a_terminal(fake_api: FakeBotify, tmp_path: Path) -> None:
    import io

    stream = io.StringIO()
    console = BatchConsole(stream, tty=False)
    result = await run_batch(write(tmp_path), out_dir=tmp_path / "out", api_base=fake_api.base_url,
                             token=fake_api.token, on_event=console, sleep=no_wait)  # fmt: skip
    console.close()
    text = stream.getvalue() + console.results(result)
    assert "\x1b[" not in text
    assert "botify-graph batch: 4 projects from" in text
    assert f"✗ {ORG}/does-not-exist.example: failed: Not found" in text
    assert re.search(rf"✓ {ORG}/example.com 20241108: exported, [\d,]+ links", text)
    assert text.count("✓ Connected as demo.user") == 1
    assert "Batch projects: 3 of 4 projects succeeded" in text and str(result.results_csv) in text


# -- the command line ------------------------------------------------------------------------------------


def run_cli(fake: FakeBotify, tmp_path: Path, file: Path, *extra: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    argv = cli("batch", str(file), "--api-base", fake.base_url, "--out", str(tmp_path / "out"), *extra)
    return subprocess.run(argv, env=cli_env(fake.token, tmp_path / "config"), capture_output=True, text=True,
                          timeout=180, **kw)  # fmt: skip


@pytest.mark.slow
def test_cli_exits_1_when_a_project_failed_and_0_when_all_succeeded(fake_api: FakeBotify, tmp_path: Path) -> None:
    done = run_cli(fake_api, tmp_path, write(tmp_path), "--max-jobs", "3")
    assert done.returncode == 1, done.stderr
    assert "1 of 4 projects failed" in done.stderr and "Traceback" not in done.stderr
    assert "at most 3 export jobs at once, 5 requests/s" in done.stdout
    assert "does-not-exist.example" in done.stdout and "\x1b[" not in done.stdout
    assert (tmp_path / "out" / "projects_results.md").is_file()
    assert done.stderr.count("step_failed") == 0  # shown once, by the console, not again by a log handler

    good = write(
        tmp_path, f"project_url,max_edges\n{APP}/example.com/,20000\n{APP}/no-gsc.example/,20000\n", "good.csv"
    )
    again = run_cli(fake_api, tmp_path, good, "--rate", "2")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "2 requests/s" in again.stdout and "reused" in again.stdout
    assert [r["status"] for r in results_rows(tmp_path / "out" / "good_results.csv")] == ["reused", "reused"]

    bad = run_cli(fake_api, tmp_path, write(tmp_path, f"{APP}/example.com/ depth=3\n", "bad.txt"))
    assert bad.returncode == 1 and "bad.txt, line 1: unknown setting 'depth'" in bad.stderr


def registry_statuses(out: Path) -> dict[str, str]:
    try:
        doc = json.loads((out / REGISTRY_NAME).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return {key: rec["status"] for key, rec in doc["exports"].items()}


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_mid_batch_resumes_every_job_without_a_second_one(tmp_path: Path) -> None:
    file = write(tmp_path, f"{APP}/example.com/ max_edges=20000\n{APP}/no-gsc.example/ max_edges=20000\n")
    out = tmp_path / "out"
    with FakeBotify(scale=0.02, scenario=Scenario(polls_to_done=ALWAYS)) as fake:
        argv = cli("batch", str(file), "--api-base", fake.base_url, "--out", str(out), "--max-jobs", "3")
        env = cli_env(fake.token, tmp_path / "config")
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # killed while 3 jobs run on Botify and the 4th waits for a slot
        wait_for("3 jobs processing", lambda: list(registry_statuses(out).values()).count("PROCESSING") == 3, proc,
                 timeout=90, every=0.005)  # fmt: skip
        kill(proc)
        before = {j.job_id: j.kind for j in fake.jobs.values()}
        assert len(before) == 3 and not list(out.rglob("*_links.csv"))

        fake.scenario = Scenario(polls_to_done=1)
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.count("resuming job") == 3
        assert len(fake.jobs) == 4 and all(fake.jobs[j].kind == k for j, k in before.items())  # one new: the 4th
        payloads = [json.dumps(j.payload, sort_keys=True) for j in fake.jobs.values()]
        assert len(set(payloads)) == 4  # no export was paid for twice
        assert set(registry_statuses(out).values()) == {"DOWNLOADED"}
        for project in ("example.com", "no-gsc.example"):
            assert header(out / ORG / project / f"{project}_20241108_links.csv") == ["source", "target"]
