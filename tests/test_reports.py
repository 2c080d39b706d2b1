"""reports: the one writer of report files; names from layout, atomic writes, the CLI commands that use it."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from sample_graphs import LINKS, META, NEW, OLD, PROJECT, place

from botify_graph import layout, reports
from botify_graph.errors import ConfigError
from botify_graph.graph.summary import summarize
from botify_graph.render.markdown import summary_markdown
from botify_graph.urls import clean_url

REF = clean_url(PROJECT)


def test_export_files_picks_the_newest_and_names_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="botify-graph run --project-url"):
        reports.export_files(tmp_path, PROJECT)
    folder = place(tmp_path, "20241108", LINKS, META)
    place(tmp_path, "20241108-2", LINKS)
    place(tmp_path, "20240901", LINKS)
    links, meta, analysis = reports.export_files(tmp_path, PROJECT)
    assert (analysis, links.name, meta) == ("20241108-2", "example.com_20241108-2_links.csv", None)
    assert reports.export_files(tmp_path, PROJECT, "20241108")[1] == folder / "example.com_20241108_meta.csv"
    with pytest.raises(ConfigError, match=r"example.com_20230101_links.csv does not exist.*--analysis 20230101"):
        reports.export_files(tmp_path, PROJECT, "20230101")


def test_export_files_follows_the_layout_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No folder given: $BOTIFY_GRAPH_OUT, as for every front end."""
    place(tmp_path / "elsewhere", "20241108", LINKS)
    monkeypatch.setenv(layout.OUT_VAR, str(tmp_path / "elsewhere"))
    assert reports.export_files(None, PROJECT)[2] == "20241108"


def test_write_summary_is_atomic_and_replaces(small: tuple[Path, Path], tmp_path: Path) -> None:
    s = summarize(*small)
    out = tmp_path / "reports"
    json_path, md_path = reports.write_summary(s, out, REF, "20241108")
    assert (json_path, md_path) == (
        layout.report_path(out, REF, "20241108", "summary_json"),
        layout.report_path(out, REF, "20241108", "summary_md"),
    )
    assert json.loads(json_path.read_text()) == s.to_dict()
    assert md_path.read_text() == summary_markdown(s) and md_path.read_text().startswith("# Link graph summary")
    s2 = summarize(*small, top=1)
    reports.write_summary(s2, out, REF, "20241108")
    assert json.loads(json_path.read_text())["top"] == 1
    assert sorted(os.listdir(json_path.parent)) == [
        "example.com_20241108_summary.json",
        "example.com_20241108_summary.md",
    ]


def test_summary_report_and_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from botify_graph.cli import main

    folder = place(tmp_path, "20241108", LINKS, META)
    summary, paths, analysis = reports.summary_report(tmp_path, PROJECT, top=2)
    assert analysis == "20241108" and summary.top == 2
    assert [p.name for p in paths] == ["example.com_20241108_summary.json", "example.com_20241108_summary.md"]
    assert main(["summary", "--project-url", PROJECT, "--out", str(tmp_path), "--top", "2"]) == 0
    out = capsys.readouterr()
    assert out.out == summary_markdown(summary) and "report written" in out.err
    assert (folder / "example.com_20241108_summary.json").is_file()
    assert main(["summary", "--project-url", PROJECT, "--out", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["edges"] == 7
    assert main(["summary", "--project-url", PROJECT, "--out", str(tmp_path), "--analysis", "20200101"]) == 1
    assert "botify-graph run" in capsys.readouterr().err


def test_compare_exports_writes_the_report(tmp_path: Path) -> None:
    place(tmp_path, "20241001", OLD)
    place(tmp_path, "20241108", NEW)
    diff, paths = reports.compare_exports(tmp_path, PROJECT, "20241001", "20241108")
    assert paths == list(layout.compare_paths(tmp_path, REF, "20241001", "20241108"))
    assert [p.name for p in paths] == [
        "example.com_20241001_vs_20241108_compare.json",
        "example.com_20241001_vs_20241108_compare.md",
    ]
    assert json.loads(paths[0].read_text())["links_added"] == diff.links_added == 2
    assert "# What changed: 20241001 → 20241108" in paths[1].read_text()
    again, none = reports.compare_exports(tmp_path, PROJECT, "20241001", "20241108", write=False)
    assert none == [] and again.to_dict() == diff.to_dict()


def test_compare_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from botify_graph.cli import main

    place(tmp_path, "20241001", OLD)
    args = ["compare", "--project-url", PROJECT, "--out", str(tmp_path), "--old", "20241001", "--new", "20241108"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "example.com_20241108_links.csv does not exist" in err
    assert "botify-graph run --project-url https://app.botify.com/example-org/example.com/" in err
    assert "--analysis 20241108" in err
    place(tmp_path, "20241108", NEW)
    assert main(args) == 0
    assert "Links added" in capsys.readouterr().out
    assert main([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["links_removed"] == 2


async def test_headless_report_after_a_fake_export(fake_api: object, tmp_path: Path) -> None:
    from botify_graph.fake import FakeBotify
    from botify_graph.pipeline import ExportParams, run_export

    assert isinstance(fake_api, FakeBotify)

    async def no_wait(_: float) -> None:
        await asyncio.sleep(0)

    params = ExportParams(
        project_url=PROJECT + "20241108/", analysis="", max_edges=20_000, out_dir=tmp_path, api_base=fake_api.base_url
    )
    result = await run_export(params, token=fake_api.token, sleep=no_wait)
    text = reports.headless_report(result)
    slug = result.analysis.slug
    for what in layout.REPORTS:
        assert layout.report_path(tmp_path, REF, slug, what).is_file(), what
    assert "◀ chosen" in text and "# Link graph summary" in text and "_graph.html" in text
    data = json.loads(layout.report_path(tmp_path, REF, slug, "summary_json").read_text())
    assert data["edges"] == result.links.rows and data["chosen_depth"] == result.depth.depth  # type: ignore[union-attr]
    assert data["pages_without_meta"] == 0  # the meta export covers every linked page
    summary, written = reports.export_reports(result, view=False)
    assert [p.name.rsplit("_", 1)[1] for p in written] == ["summary.json", "summary.md", "depth.svg"]
    assert layout.report_path(tmp_path, REF, slug, "depth_svg").read_text().startswith('<svg xmlns="http')
    assert summary.chosen_depth == result.depth.depth  # type: ignore[union-attr]
