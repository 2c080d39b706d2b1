"""run_export end to end against the fake API over real sockets, and the demo command."""

from __future__ import annotations

import asyncio
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from botify_graph.errors import ConfigError, DepthTooLarge, InvalidProjectURL
from botify_graph.fake import FakeBotify, Scenario
from botify_graph.pipeline import Event, ExportParams, run_export

URL = "https://app.botify.com/example-org/example.com/20241108/segmentation?x=1#y"


async def no_wait(_: float) -> None:
    await asyncio.sleep(0)


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


async def export(fake: FakeBotify, out: Path, **kw: object) -> tuple[object, list[Event]]:
    events: list[Event] = []
    slots = kw.pop("job_slots", None)
    params = ExportParams(project_url=kw.pop("url", URL), out_dir=out, api_base=fake.base_url, **kw)  # type: ignore[arg-type]
    result = await run_export(params, token=fake.token, on_event=events.append, sleep=no_wait, job_slots=slots)  # type: ignore[arg-type]
    return result, events


async def test_full_export_matches_the_site(fake_api: FakeBotify, tmp_path: Path) -> None:
    result, events = await export(fake_api, tmp_path, analysis="", max_edges=20_000)
    crawl = fake_api.site("example-org", "example.com").crawl("20241108")
    depth = result.depth  # type: ignore[attr-defined]
    # the deepest depth under the limit, computed independently from the site
    expected_depth = max(d for d, c in enumerate(crawl.cumulative_edges()) if c <= 20_000)
    assert depth.depth <= expected_depth and depth.edges == crawl.edges_upto(expected_depth)
    assert depth.requests == 1  # one grouped query

    header, links = read_csv(result.links.path)  # type: ignore[attr-defined]
    assert header == ["source", "target"]
    assert len(links) == result.links.rows == depth.edges  # type: ignore[attr-defined]
    mheader, meta = read_csv(result.meta.path)  # type: ignore[attr-defined]
    assert mheader == [
        "id",
        "pagetype",
        "is_compliant",
        "canonical_equal",
        "sitemaps_present",
        "depth",
        "impressions",
        "clicks",
    ]
    described = {row[0] for row in meta}
    assert {u for row in links for u in row} <= described  # every page in the links file has attributes
    assert result.links.path.name == "example.com_20241108_links.csv"  # type: ignore[attr-defined]
    assert result.links.path.parent == (tmp_path / "example-org" / "example.com").resolve()  # type: ignore[attr-defined]

    kinds = [e.kind for e in events]
    assert "step_started" in kinds and "job_status" in kinds and "download_progress" in kinds
    assert not list(tmp_path.rglob("*.part"))
    assert len(fake_api.jobs) == 2


async def test_same_input_same_files_no_second_job(fake_api: FakeBotify, tmp_path: Path) -> None:
    first, _ = await export(fake_api, tmp_path, max_edges=20_000)
    before = first.links.path.read_bytes()  # type: ignore[attr-defined]
    second, events = await export(fake_api, tmp_path, max_edges=20_000)
    assert second.reused and len(fake_api.jobs) == 2  # type: ignore[attr-defined]
    assert second.links.path.read_bytes() == before  # type: ignore[attr-defined]
    assert any(e.step == "reuse" for e in events)
    registry = json.loads((tmp_path / "export_registry.json").read_text())
    assert {r["status"] for r in registry["exports"].values()} == {"DOWNLOADED"}


async def test_project_without_search_console_gets_no_gsc_columns(fake_api: FakeBotify, tmp_path: Path) -> None:
    result, _ = await export(
        fake_api, tmp_path, url="https://app.botify.com/example-org/no-gsc.example/", max_edges=20_000
    )
    header, _ = read_csv(result.meta.path)  # type: ignore[attr-defined]
    assert "impressions" not in header and "clicks" not in header
    job = next(j for j in fake_api.jobs.values() if "outlinks" not in json.dumps(j.payload))
    assert "search_console" not in json.dumps(job.payload)
    with pytest.raises(ConfigError, match="no impressions"):
        await export(
            fake_api, tmp_path / "x", url="https://app.botify.com/example-org/no-gsc.example/", fields=("impressions",)
        )


async def test_chosen_fields_only(fake_api: FakeBotify, tmp_path: Path) -> None:
    result, _ = await export(fake_api, tmp_path, fields=("clicks", "pagetype"), max_edges=20_000)
    header, rows = read_csv(result.meta.path)  # type: ignore[attr-defined]
    assert header == ["id", "pagetype", "clicks"] and rows


async def test_depth_one_overflow_exports_nothing(fake_api: FakeBotify, tmp_path: Path) -> None:
    with pytest.raises(DepthTooLarge, match="Even depth 1"):
        await export(fake_api, tmp_path, max_edges=10)
    assert fake_api.jobs == {}


async def test_bad_url_fails_before_any_request(fake_api: FakeBotify, tmp_path: Path) -> None:
    with pytest.raises(InvalidProjectURL):
        await export(fake_api, tmp_path, url="https://example.com/not-botify")
    assert fake_api.requests == []


async def test_verbose_headers_zip_and_sep_line_are_normalised(fake_api: FakeBotify, tmp_path: Path) -> None:
    fake_api.scenario = Scenario(polls_to_done=1, force_docs_formatter=True, force_zip=True)
    result, _ = await export(fake_api, tmp_path, max_edges=20_000)
    header, links = read_csv(result.links.path)  # type: ignore[attr-defined]
    assert header == ["source", "target"] and links[0][0].startswith("https://")
    assert len(links) == result.depth.edges  # type: ignore[attr-defined]


@pytest.mark.slow
def test_demo_command_end_to_end(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "botify_graph.cli", "demo", "--out", str(tmp_path), "--scale", "0.03"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "example-org" / "example.com"
    links = folder / "example.com_20241108_links.csv"
    meta = folder / "example.com_20241108_meta.csv"
    header, rows = read_csv(links)
    assert header == ["source", "target"]
    with FakeBotify(scale=0.03) as fake:
        crawl = fake.site("example-org", "example.com").crawl("20241108")
        assert len(rows) == crawl.edges_upto(int(proc.stdout.split("chosen depth")[1].split()[0]))
    _, meta_rows = read_csv(meta)
    assert {u for r in rows for u in r} <= {r[0] for r in meta_rows}
    assert str(links) in proc.stdout and "edges" in proc.stdout
    for suffix in ("_summary.json", "_summary.md", "_depth.svg", "_graph.html"):
        report = folder / f"example.com_20241108{suffix}"
        assert report.is_file() and str(report) in proc.stdout
    again = subprocess.run(
        [sys.executable, "-m", "botify_graph.cli", "demo", "--out", str(tmp_path), "--scale", "0.03"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0 and "already exported" in again.stdout


async def test_server_errors_on_job_creation_do_not_duplicate_jobs(fake_api: FakeBotify, tmp_path: Path) -> None:
    # The first request to every endpoint gets a 502 HTML page, the job POST included (the fake creates
    # no job then): the export completes with one job per kind.
    fake_api.scenario = Scenario(polls_to_done=1, error_first_n=1, error_status=502, error_body="html")
    result, _ = await export(fake_api, tmp_path, max_edges=20_000)
    assert result.links.rows == result.depth.edges  # type: ignore[attr-defined]
    assert len(fake_api.jobs_of_kind("links")) == 1 and len(fake_api.jobs_of_kind("meta")) == 1
    posts = [r.status for r in fake_api.requests if r.method == "POST" and r.path.endswith("/jobs")]
    assert posts[0] == 502 and posts.count(201) == 2  # the fault really hit job creation


async def test_analysis_named_in_the_url_is_used_unless_another_is_asked(fake_api: FakeBotify, tmp_path: Path) -> None:
    url = "https://app.botify.com/example-org/example.com/20241101-2/segmentation?x=1"
    result, _ = await export(fake_api, tmp_path, url=url, max_edges=20_000)  # analysis defaults to "latest"
    assert result.analysis.slug == "20241101-2"  # type: ignore[attr-defined]
    result, _ = await export(fake_api, tmp_path, url=url, analysis="20241101", max_edges=20_000)
    assert result.analysis.slug == "20241101"  # type: ignore[attr-defined]


async def test_one_broken_download_is_retried_in_the_same_run(fake_api: FakeBotify, tmp_path: Path) -> None:
    fake_api.scenario = Scenario(polls_to_done=1, corrupt_downloads=1)  # only the first download is corrupt
    result, events = await export(fake_api, tmp_path, max_edges=20_000)
    assert result.links.rows == result.depth.edges  # type: ignore[attr-defined]
    assert any("trying again" in e.message for e in events)
    assert len(fake_api.jobs) == 2 and not list(tmp_path.rglob("*.part"))


async def test_a_download_cut_short_is_resumed_where_it_stopped(fake_api: FakeBotify, tmp_path: Path) -> None:
    fake_api.scenario = Scenario(polls_to_done=1, truncate_downloads=1)  # the first transfer stops half-way
    result, events = await export(fake_api, tmp_path, max_edges=20_000)
    assert result.links.rows == result.depth.edges  # type: ignore[attr-defined]
    cdn = [r for r in fake_api.requests if r.server == "cdn"]
    assert [r.status for r in cdn].count(206) == 1 and len(cdn) == 3  # one cut, its rest by Range, the other file
    resumed = next(r for r in cdn if r.status == 206)
    assert resumed.range is not None and resumed.range.startswith("bytes=") and not resumed.range.startswith("bytes=0-")
    assert not any("trying again" in e.message for e in events)  # same link, no new poll
    assert len(fake_api.jobs) == 2 and not list(tmp_path.rglob("*.part"))


def test_the_library_reuses_what_the_cli_exported_from_any_folder(
    fake_api: FakeBotify, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's snippet, run in a kernel after the CLI exported: no job, no second copy."""
    from botify_graph.cli import main

    out = tmp_path / "exports"
    monkeypatch.setenv("BOTIFY_API_TOKEN", fake_api.token)
    monkeypatch.setenv("BOTIFY_GRAPH_CONFIG_DIR", str(tmp_path / "config"))
    assert main(["run", "--project-url", URL, "--api-base", fake_api.base_url, "--out", str(out)]) == 0
    jobs, files = len(fake_api.jobs), sorted(p for p in out.rglob("*") if p.is_file())
    assert jobs == 2

    kernel_folder = tmp_path / "repo" / "notebooks"  # a kernel's working folder, somewhere else
    kernel_folder.mkdir(parents=True)
    monkeypatch.chdir(kernel_folder)
    monkeypatch.setenv("BOTIFY_GRAPH_OUT", str(out))
    monkeypatch.setenv("BOTIFY_API_BASE", fake_api.base_url)
    result = asyncio.run(run_export(ExportParams(project_url=URL)))
    assert result.reused and len(fake_api.jobs) == jobs
    assert result.links.path == out.resolve() / "example-org" / "example.com" / "example.com_20241108_links.csv"
    assert sorted(p for p in out.rglob("*") if p.is_file()) == files
    assert not any(kernel_folder.rglob("*"))  # no downloads/ beside the kernel


async def test_other_settings_are_a_new_export_and_the_earlier_files_are_kept(
    fake_api: FakeBotify, tmp_path: Path
) -> None:
    first, _ = await export(fake_api, tmp_path, max_edges=20_000)
    links_before = first.links.path.read_bytes()  # type: ignore[attr-defined]
    meta_before = first.meta.path.read_bytes()  # type: ignore[attr-defined]
    second, events = await export(fake_api, tmp_path, max_edges=5_000, fields=("pagetype",))
    assert not second.reused and len(fake_api.jobs) == 4  # type: ignore[attr-defined]
    folder = first.links.path.parent  # type: ignore[attr-defined]
    kept = {p.name: p.read_bytes() for p in folder.glob("*.csv") if p.name.count(".") > 2}
    assert len(kept) == 2 and "example.com_20241108_links.limit20000.csv" in kept, sorted(kept)
    assert any(n.startswith("example.com_20241108_meta.limit20000-7fields-") for n in kept), sorted(kept)
    assert links_before in kept.values() and meta_before in kept.values()
    assert second.links.path == first.links.path and read_csv(second.meta.path)[0] == ["id", "pagetype"]  # type: ignore[attr-defined]
    assert sum("was kept as" in e.message for e in events) == 2

    # Asking for the first settings again opens the kept files: no job.
    again, _ = await export(fake_api, tmp_path, max_edges=20_000)
    assert again.reused and len(fake_api.jobs) == 4  # type: ignore[attr-defined]
    assert again.links.path.read_bytes() == links_before  # type: ignore[attr-defined]
    # The latest export keeps the plain names; the registry knows every file.
    registry = json.loads((tmp_path / "export_registry.json").read_text())
    assert registry["schema_version"] == 2 and len(registry["exports"]) == 4


class CountingSlots(asyncio.Semaphore):
    """A semaphore that remembers how many holders it had at once."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.held = self.peak = self.taken = 0

    async def acquire(self) -> bool:
        await super().acquire()
        self.held += 1
        self.taken += 1
        self.peak = max(self.peak, self.held)
        return True

    def release(self) -> None:
        self.held -= 1
        super().release()


async def test_job_slots_cap_the_jobs_running_at_once_across_runs(fake_api: FakeBotify, tmp_path: Path) -> None:
    fake_api.scenario = Scenario(polls_to_done=2)
    slots = CountingSlots(1)
    await asyncio.gather(
        export(fake_api, tmp_path, max_edges=20_000, job_slots=slots),
        export(fake_api, tmp_path, url="https://app.botify.com/example-org/no-gsc.example/", max_edges=20_000,
               job_slots=slots),
    )  # fmt: skip
    assert slots.taken == 4 and slots.peak == 1 and len(fake_api.jobs) == 4
    posts = sorted(j.created_t for j in fake_api.jobs.values())
    done = sorted(j.finished_t or 0 for j in fake_api.jobs.values())
    assert all(done[i] <= posts[i + 1] for i in range(3))  # each job was DONE before the next was created


async def test_every_event_also_goes_to_the_botify_graph_logger(
    fake_api: FakeBotify, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("DEBUG", logger="botify_graph"):
        await export(fake_api, tmp_path, max_edges=20_000)
    records = [r for r in caplog.records if r.name == "botify_graph.export"]
    text = "\n".join(r.getMessage() for r in records)
    assert "step_succeeded connect: Connected as" in text and "job_status poll:links" in text
    assert fake_api.token not in text
    import logging

    handlers = logging.getLogger("botify_graph").handlers  # the library installs no handler that emits
    assert all(isinstance(h, logging.NullHandler) for h in handlers)
