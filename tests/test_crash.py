"""Crashes and concurrency with real processes: `botify-graph run` killed with SIGKILL mid-poll and
mid-download, and two `botify-graph run` processes on the same project at once.

The fake Botify API runs in the test process; the CLI runs as a subprocess against it. The moment to
kill is found by watching the export registry and the output folder, never by sleeping a guessed time.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import cli_env, kill, run_argv, wait_for

from botify_graph.fake import ALWAYS, FakeBotify, Scenario
from botify_graph.layout import REGISTRY_NAME

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")]

URL = "https://app.botify.com/example-org/example.com/"
KINDS = ("links", "meta")


def cli(fake: FakeBotify, out: Path, *extra: str) -> list[str]:
    return run_argv(fake.base_url, out, *extra, project_url=URL)


def env(fake: FakeBotify, tmp_path: Path) -> dict[str, str]:
    return cli_env(fake.token, tmp_path / "config")


def statuses(out: Path) -> dict[str, str]:
    try:
        doc = json.loads((out / REGISTRY_NAME).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return {rec["kind"]: rec["status"] for rec in doc["exports"].values()}


def records(out: Path) -> dict[str, dict[str, Any]]:
    doc = json.loads((out / REGISTRY_NAME).read_text())
    return {rec["kind"]: rec for rec in doc["exports"].values()}


def run(fake: FakeBotify, out: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli(fake, out, *extra), env=env(fake, tmp_path), capture_output=True, text=True, timeout=180)


def files(out: Path) -> dict[str, Path]:
    folder = out / "example-org" / "example.com"
    return {kind: folder / f"example.com_20241108_{kind}.csv" for kind in KINDS}


def assert_complete(fake: FakeBotify, out: Path) -> None:
    """The links file holds exactly the site's edges up to the recorded depth; no part file is left."""
    rec = records(out)
    assert {r["status"] for r in rec.values()} == {"DOWNLOADED"}
    paths = files(out)
    with paths["links"].open(newline="") as f:
        links = list(csv.reader(f))
    with paths["meta"].open(newline="") as f:
        meta = list(csv.reader(f))
    crawl = fake.site("example-org", "example.com").crawl("20241108")
    assert links[0] == ["source", "target"] and len(links) - 1 == crawl.edges_upto(rec["links"]["depth"])
    assert rec["links"]["rows"] == len(links) - 1 and rec["meta"]["rows"] == len(meta) - 1
    assert {u for row in links[1:] for u in row} <= {row[0] for row in meta[1:]}
    assert not list(out.rglob("*.part")), "a part file was left behind"


def job_ids(fake: FakeBotify) -> dict[str, list[int]]:
    return {kind: sorted(j.job_id for j in fake.jobs_of_kind(kind)) for kind in KINDS}


def test_sigkill_mid_poll_resumes_the_same_jobs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    trace = tmp_path / "trace.jsonl"
    with FakeBotify(scale=0.02, scenario=Scenario(polls_to_done=ALWAYS)) as fake:
        proc = subprocess.Popen(
            cli(fake, out, "--trace", str(trace)),
            env=env(fake, tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for("both jobs polled", lambda: statuses(out) == {"links": "PROCESSING", "meta": "PROCESSING"}, proc)
        kill(proc)
        before = job_ids(fake)
        assert all(len(v) == 1 for v in before.values())
        # the trace of the killed run is readable to its last line, and already holds the polls
        records = [json.loads(line) for line in trace.read_text().splitlines()]
        polls = [r for r in records if r["type"] == "http" and "/jobs/" in r["url"] and r["method"] == "GET"]
        assert records[0]["type"] == "start" and len(polls) >= 2 and fake.token not in trace.read_text()

        fake.scenario = Scenario(polls_to_done=1)
        done = run(fake, out, tmp_path)
        assert done.returncode == 0, done.stderr
        assert "resuming job" in done.stdout
        assert job_ids(fake) == before  # no new job: the killed run's jobs were resumed
        assert_complete(fake, out)


def test_sigkill_mid_download_rerun_completes_without_stray_parts(tmp_path: Path) -> None:
    # A site big enough (~5 MB gzip, ~50 MB of CSV) that downloading and normalising take a few hundred ms.
    out = tmp_path / "out"
    parts = [p.with_name(p.name + suffix) for p in files(out).values() for suffix in (".download.part", ".part")]
    with FakeBotify(scale=0.3, scenario=Scenario(polls_to_done=1)) as fake:
        proc = subprocess.Popen(
            cli(fake, out), env=env(fake, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        wait_for("a part file", lambda: any(p.exists() for p in parts[:2]), proc)  # the links download
        kill(proc)
        assert any(p.exists() for p in parts), "the kill was meant to land mid-download"
        assert statuses(out)["links"] == "DONE"  # polled, not downloaded
        assert not files(out)["links"].exists()  # no half-written final file
        before = job_ids(fake)

        done = run(fake, out, tmp_path)
        assert done.returncode == 0, done.stderr
        assert job_ids(fake) == before
        assert_complete(fake, out)


def test_two_processes_on_one_project_share_the_jobs(tmp_path: Path) -> None:
    # Both runs start together; jobs take ~3 s, so both poll them and download at about the same moment.
    out = tmp_path / "out"
    with FakeBotify(scale=0.3, scenario=Scenario(polls_to_done=1, job_seconds=3.0)) as fake:
        procs = [
            subprocess.Popen(
                cli(fake, out), env=env(fake, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        results = [p.communicate(timeout=180) for p in procs]
        for p, (_, stderr) in zip(procs, results, strict=True):
            assert p.returncode == 0, stderr
        assert {kind: len(v) for kind, v in job_ids(fake).items()} == {"links": 1, "meta": 1}
        assert len([r for r in fake.requests if r.method == "POST" and r.path.endswith("/jobs")]) == 2
        for stdout, _ in results:
            for path in files(out).values():
                assert str(path.resolve()) in stdout or str(path) in stdout
        assert_complete(fake, out)


BIG = "https://app.botify.com/example-org/big.example/"


def part_records(out: Path) -> list[dict[str, Any]]:
    try:
        doc = json.loads((out / REGISTRY_NAME).read_text())
    except (FileNotFoundError, ValueError):
        return []
    return [rec for rec in doc["exports"].values() if rec.get("part")]


def job_posts(fake: FakeBotify) -> int:
    return len([r for r in fake.requests if r.method == "POST" and r.path.endswith("/jobs")])


def test_sigkill_mid_complete_export_resumes_only_the_missing_partitions(tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ("--complete", "--max-edges", "40000")
    scenario = Scenario(polls_to_done=1, max_export_size=40_000)
    with FakeBotify(scale=0.05, scenario=scenario) as fake:
        complete = run_argv(fake.base_url, out, *argv, project_url=BIG)
        proc = subprocess.Popen(
            complete, env=env(fake, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        downloaded = lambda: sum(r["status"] == "DOWNLOADED" for r in part_records(out)) >= 2  # noqa: E731
        wait_for("two partitions downloaded", downloaded, proc)
        kill(proc)
        before = {r["part"]: r["job_id"] for r in part_records(out) if r["job_id"] is not None}
        created = len(fake.jobs)
        assert job_posts(fake) == created  # one POST per job so far
        assert 2 <= len(before) <= created

        done = subprocess.run(complete, env=env(fake, tmp_path), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        parts = part_records(out)
        total = len(parts)
        assert total > created, "the kill was meant to land before every partition had a job"
        assert job_posts(fake) - created == total - created == len(fake.jobs) - created  # only the missing ones
        assert {r["part"]: r["job_id"] for r in parts if r["part"] in before} == before  # resumed, not redone
        crawl = fake.site("example-org", "big.example").crawl("20241108")
        links = out / "example-org" / "big.example" / "big.example_20241108_links.csv"
        with links.open(newline="") as f:
            edges = [tuple(r) for r in csv.reader(f)][1:]
        assert len(edges) == len(set(edges)) and set(edges) == {(crawl.url(s), crawl.url(t)) for s, t in crawl.edges()}
        assert not list(out.rglob("*.part"))

        posts = job_posts(fake)
        again = subprocess.run(complete, env=env(fake, tmp_path), capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        assert job_posts(fake) == posts and "nothing was re-exported" in again.stdout  # a rerun creates nothing


def test_two_complete_runs_at_once_share_every_partition(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with FakeBotify(scale=0.05, scenario=Scenario(polls_to_done=1, max_export_size=40_000, job_seconds=1.0)) as fake:
        complete = run_argv(fake.base_url, out, "--complete", "--max-edges", "40000", project_url=BIG)
        procs = [
            subprocess.Popen(
                complete, env=env(fake, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        results = [p.communicate(timeout=300) for p in procs]
        for p, (_, stderr) in zip(procs, results, strict=True):
            assert p.returncode == 0, stderr
        parts = part_records(out)
        assert len(fake.jobs) == job_posts(fake) == len(parts)  # every partition created once, whoever ran it
        crawl = fake.site("example-org", "big.example").crawl("20241108")
        links = out / "example-org" / "big.example" / "big.example_20241108_links.csv"
        with links.open(newline="") as f:
            edges = [tuple(r) for r in csv.reader(f)][1:]
        assert len(edges) == len(set(edges)) and set(edges) == {(crawl.url(s), crawl.url(t)) for s, t in crawl.edges()}
        assert not [p for p in out.rglob("*") if ".parts" in p.name or p.suffix == ".part" or "earlier" in p.name]


def test_two_processes_with_different_settings_keep_their_own_files_and_records(tmp_path: Path) -> None:
    # Two runs of the same analysis at once, one with a row limit of 200,000 and one of 50,000: each makes its
    # own two jobs, and whichever installs last holds the plain file names; the other's files are moved to
    # names that say their settings. Every file stays whole and every record points at its own file.
    out = tmp_path / "out"
    limits = ("200000", "50000")
    with FakeBotify(scale=0.3, scenario=Scenario(polls_to_done=1, job_seconds=3.0)) as fake:
        procs = [
            subprocess.Popen(
                cli(fake, out, "--max-edges", limit),
                env=env(fake, tmp_path),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for limit in limits
        ]
        results = [p.communicate(timeout=240) for p in procs]
        for p, (_, stderr) in zip(procs, results, strict=True):
            assert p.returncode == 0, stderr
        assert {kind: len(v) for kind, v in job_ids(fake).items()} == {"links": 2, "meta": 2}
        crawl = fake.site("example-org", "example.com").crawl("20241108")
        doc = json.loads((out / REGISTRY_NAME).read_text())["exports"]
        assert len(doc) == 4 and {rec["status"] for rec in doc.values()} == {"DOWNLOADED"}
        assert {rec["max_edges"] for rec in doc.values()} == {int(limit) for limit in limits}
        files_of = {out / rec["file"] for rec in doc.values()}
        assert len(files_of) == 4  # four records, four files
        for rec in doc.values():
            path = out / rec["file"]
            with path.open(newline="") as f:
                rows = list(csv.reader(f))
            assert rec["rows"] == len(rows) - 1, rec
            if rec["kind"] == "links":  # exactly the links of its own depth, so nothing of the other run
                assert rows[0] == ["source", "target"] and len(rows) - 1 == crawl.edges_upto(rec["depth"])
                assert len(rows) - 1 <= rec["max_edges"]
        plain = set(files(out).values())
        assert plain <= files_of  # the plain names belong to one of the runs ...
        by_limit = {rec["max_edges"] for rec in doc.values() if out / rec["file"] in plain}
        assert len(by_limit) == 1  # ... to the same run for both kinds
        csvs = {p for p in out.rglob("*.csv")}
        assert csvs == files_of  # nothing else: no stray or half-written file
        assert not list(out.rglob("*.part"))
