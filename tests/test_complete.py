"""Complete exports end to end against the fake's big site with a small export cap: the merged file is the
whole edge list, no job is over the cap, a cut partition is split again, a refused job is waited out, a rerun
creates nothing; `plan` creates no job; depth 1 over the limit with --allow-cut; the merge itself."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from botify_graph import cli
from botify_graph.download import merge_exports
from botify_graph.errors import ConfigError, DepthTooLarge, DownloadError
from botify_graph.fake import FakeBotify, Scenario
from botify_graph.pipeline import Event, ExportParams, ExportResult, run_export

BIG = "https://app.botify.com/example-org/big.example/"
CAP = 10_000  # at scale 0.05 the big site has ~220k links and depth 0+1 alone ~11k: over this cap
FAST = Scenario(polls_to_done=1, rate_limit_qps=None, max_export_size=CAP)


@pytest.fixture
def fake() -> Iterator[FakeBotify]:
    with FakeBotify(scale=0.05, scenario=FAST) as f:
        yield f


async def no_wait(_: float) -> None:
    await asyncio.sleep(0)


async def short_wait(seconds: float) -> None:
    await asyncio.sleep(min(seconds, 0.05))


async def export(fake: FakeBotify, out: Path, **kw: Any) -> tuple[ExportResult, list[Event]]:
    events: list[Event] = []
    sleep = kw.pop("sleep", no_wait)
    kw.setdefault("max_edges", CAP)
    params = ExportParams(project_url=BIG, out_dir=out, api_base=fake.base_url, **kw)
    result = await run_export(params, token=fake.token, on_event=events.append, sleep=sleep)
    return result, events


def rows(path: Path) -> list[tuple[str, ...]]:
    with path.open(newline="") as f:
        return [tuple(r) for r in csv.reader(f)]


def whole_edge_list(fake: FakeBotify) -> set[tuple[str, str]]:
    crawl = fake.site("example-org", "big.example").crawl("20241108")
    return {(crawl.url(s), crawl.url(t)) for s, t in crawl.edges()}


def registry(out: Path) -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads((out / "export_registry.json").read_text())["exports"]
    return data


def posts(fake: FakeBotify) -> list[int]:
    return [r.status for r in fake.requests if r.method == "POST" and r.path.endswith("/jobs")]


def assert_the_whole_graph(fake: FakeBotify, result: ExportResult) -> None:
    links = rows(result.links.path)
    assert links[0] == ("source", "target")
    edges = links[1:]
    expected = whole_edge_list(fake)
    assert len(edges) == len(set(edges)) == len(expected) == result.links.rows  # no row twice, none missing
    assert set(edges) == expected
    meta = rows(result.meta.path)
    pages = {r[0] for r in meta[1:]}
    crawl = fake.site("example-org", "big.example").crawl("20241108")
    assert len(meta) - 1 == len(pages) == crawl.n_pages  # one row per page, every page
    assert {u for edge in edges for u in edge} <= pages  # the meta file covers every page any link names
    for job in fake.jobs.values():
        assert job.payload["export_size"] <= CAP and (job.nb_lines or 0) <= CAP  # no job over the cap


async def test_complete_export_is_the_whole_edge_list_and_a_rerun_creates_nothing(
    fake: FakeBotify, tmp_path: Path
) -> None:
    result, events = await export(fake, tmp_path, complete=True)
    assert_the_whole_graph(fake, result)
    plan = result.plan
    assert plan is not None and plan.depth1_over  # a depth-limited export was impossible
    assert len(fake.jobs) == plan.complete_jobs == plan.links.jobs + plan.meta.jobs > 20
    assert all(0 < (j.nb_lines or 0) < CAP for j in fake.jobs.values())  # packed under the cap: none cut
    # the plan was announced before the first job was created
    first_job = next(i for i, e in enumerate(events) if e.step.startswith("export:"))
    announced = next(i for i, e in enumerate(events) if e.step == "plan" and e.kind == "info")
    assert announced < first_job and "jobs" in events[announced].message and "credits" in events[announced].message
    assert result.depth is not None and result.depth.whole_graph and not result.cut
    # one registry record per partition, and one per merged file (its usual name)
    records = registry(tmp_path)
    parts = [r for r in records.values() if r["part"]]
    assert len(parts) == plan.complete_jobs and {r["status"] for r in parts} == {"DOWNLOADED"}
    merged = {r["kind"]: r for r in records.values() if not r["part"]}
    assert {r["variant"].split("-")[0] for r in merged.values()} == {"complete"}
    assert merged["links"]["rows"] == result.links.rows and merged["links"]["options"]["mode"] == "complete"
    assert result.links.path.name == "big.example_20241108_links.csv"
    assert not [p for p in tmp_path.rglob("*") if ".parts" in str(p)]  # the partitions are merged and gone
    assert not list(tmp_path.rglob("*.part"))

    before = len(fake.requests)
    again, events = await export(fake, tmp_path, complete=True)
    assert again.reused and len(fake.jobs) == plan.complete_jobs
    assert not [r for r in fake.requests[before:] if r.path.endswith("/jobs") or r.path.endswith("/query")]
    # the same analysis without --complete is another export (its depth-1 overflow is not hidden by these files)
    with pytest.raises(DepthTooLarge, match="--complete"):
        await export(fake, tmp_path)


async def test_a_partition_that_comes_back_cut_is_split_again(fake: FakeBotify, tmp_path: Path) -> None:
    # sizing (outlinks_internal.nb.total) says 30% fewer links than the exports hold: jobs come back cut
    fake.scenario = FAST.replace(outlinks_undercount=0.3, max_export_size=40_000)
    result, events = await export(fake, tmp_path, complete=True, max_edges=40_000)
    cut_jobs = [j for j in fake.jobs.values() if j.nb_lines == 40_000]
    assert cut_jobs, "the scenario was meant to cut some jobs"
    assert [e for e in events if "came back cut" in e.message]
    splits = [r for r in registry(tmp_path).values() if r["status"] == "SPLIT"]
    assert len(splits) == len(cut_jobs) and all(r["rows"] == 40_000 for r in splits)
    links = rows(result.links.path)[1:]
    assert len(links) == len(set(links)) and set(links) == whole_edge_list(fake)  # never silently short
    # a rerun splits nothing again and creates nothing
    jobs = len(fake.jobs)
    again, _ = await export(fake, tmp_path, complete=True, max_edges=40_000)
    assert again.reused and len(fake.jobs) == jobs


async def test_a_refused_second_job_is_waited_out(fake: FakeBotify, tmp_path: Path) -> None:
    fake.scenario = FAST.replace(max_running_jobs=1, job_seconds=0.2, max_export_size=60_000)
    result, events = await export(fake, tmp_path, complete=True, max_edges=60_000, max_jobs=2, sleep=short_wait)
    statuses = posts(fake)
    assert 400 in statuses, "the second concurrent job was meant to be refused"
    assert statuses.count(201) == len(fake.jobs) == result.plan.complete_jobs  # type: ignore[union-attr]
    assert [e for e in events if "refused" in e.message]
    links = rows(result.links.path)[1:]
    assert set(links) == whole_edge_list(fake) and len(links) == len(set(links))


async def test_depth_one_over_the_limit_can_be_exported_cut(fake: FakeBotify, tmp_path: Path) -> None:
    from botify_graph.render.progress import summary_text
    from botify_graph.reports import export_reports

    with pytest.raises(DepthTooLarge, match="--allow-cut") as info:
        await export(fake, tmp_path)
    assert "--complete" in str(info.value) and not fake.jobs  # never a dead end, and nothing spent
    result, _ = await export(fake, tmp_path, allow_cut=True)
    assert result.cut and result.depth is not None and result.depth.depth == 1
    assert result.links.rows == CAP  # Botify stopped the export at the limit
    crawl = fake.site("example-org", "big.example").crawl("20241108")
    assert result.meta.rows == crawl.pages_upto(2)
    assert "CUT" in summary_text(result)
    summary, _ = export_reports(result, view=False)
    assert any("CUT" in n and "--complete" in n for n in summary.notes)
    assert result.links.path.name == "big.example_20241108_links.csv"
    assert {r["variant"].split("-")[0] for r in registry(tmp_path).values()} == {"cut"}
    # the cut files are never mistaken for an uncut export: without --allow-cut the overflow is said again
    with pytest.raises(DepthTooLarge):
        await export(fake, tmp_path)
    again, _ = await export(fake, tmp_path, allow_cut=True)
    assert again.reused and len(fake.jobs) == 2


def test_complete_and_allow_cut_exclude_each_other(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="exclude each other"):
        ExportParams(project_url=BIG, out_dir=tmp_path, complete=True, allow_cut=True).validated()
    with pytest.raises(SystemExit):
        cli.main(["run", "--project-url", BIG, "--complete", "--allow-cut"])


# -- the command line ---------------------------------------------------------------------------------------------


def test_plan_creates_no_job_and_says_what_each_export_takes(
    fake: FakeBotify, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BOTIFY_API_TOKEN", fake.token)
    code = cli.main(["plan", "--project-url", BIG, "--api-base", fake.base_url, "--max-edges", str(CAP)])
    out = capsys.readouterr().out
    assert code == 0
    assert not fake.jobs and not posts(fake)
    assert "Depth-limited export: not possible" in out and "--allow-cut" in out
    assert "Complete graph (--complete)" in out and "credits" in out and "jobs" in out
    assert "… and" in out and "no job created, no credit spent" in out
    code = cli.main(["plan", "--project-url", BIG, "--api-base", fake.base_url, "--max-edges", str(CAP), "--complete"])
    listed = capsys.readouterr().out
    assert code == 0 and "… and" not in listed and "d3.t0.o0" in listed and not fake.jobs


def test_plan_makes_many_jobs_obvious(
    fake: FakeBotify, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BOTIFY_API_TOKEN", fake.token)
    fake.scenario = FAST.replace(max_export_size=4_000)
    assert cli.main(["plan", "--project-url", BIG, "--api-base", fake.base_url, "--max-edges", "4000"]) == 0
    assert "⚠" in capsys.readouterr().out  # over 50 jobs: said loudly, still allowed


@pytest.mark.slow  # real poll waits: the CLI sleeps like it would against Botify
def test_run_complete_prints_the_plan_before_any_job(
    fake: FakeBotify, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BOTIFY_API_TOKEN", fake.token)
    fake.scenario = FAST.replace(max_export_size=60_000)
    argv = ["run", "--project-url", BIG, "--api-base", fake.base_url, "--out", str(tmp_path), "--max-edges", "60000"]
    code = cli.main([*argv, "--complete", "--max-jobs", "3"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.index("Complete graph (--complete)") < out.index("Starting the links#")
    assert "At most 3 jobs run at once" in out and "the complete graph in" in out
    assert len(rows(tmp_path / "example-org" / "big.example" / "big.example_20241108_links.csv")) - 1 == len(
        whole_edge_list(fake)
    )


def test_run_without_complete_says_depth_one_is_over_and_offers_both_ways(
    fake: FakeBotify, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BOTIFY_API_TOKEN", fake.token)
    code = cli.main(["run", "--project-url", BIG, "--api-base", fake.base_url, "--out", str(tmp_path),
                     "--max-edges", str(CAP)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "--complete" in err and "--allow-cut" in err and "botify-graph plan" in err
    assert not fake.jobs


# -- merging ---------------------------------------------------------------------------------------------------------


async def test_merge_concatenates_under_one_header_and_refuses_a_stranger(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    a.write_bytes(b"source,target\nx,y\n")
    b.write_bytes(b'source,target\n"u,1",v\nv,w')  # no newline at the end: never glued to the next row
    c.write_bytes(b"id,pagetype\nx,home\n")
    dest = tmp_path / "out.csv"
    assert await merge_exports([a, b, a], dest, columns=("source", "target")) == 4
    assert dest.read_bytes() == b'source,target\nx,y\n"u,1",v\nv,w\nx,y\n'
    before = dest.read_bytes()
    with pytest.raises(DownloadError, match="header"):
        await merge_exports([a, c], dest, columns=("source", "target"))
    assert dest.read_bytes() == before and not list(tmp_path.glob("*.part"))
