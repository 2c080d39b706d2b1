"""compare: two small crawls with hand-computed differences, depth changes, chunk boundaries, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from botify_graph.compare import NO_DEPTH, compare_exports, compare_graphs

A, B, C, D, E = (f"https://www.example.com/{p}" for p in ("", "b", "c", "d", "e"))
PROJECT = "https://app.botify.com/example-org/example.com/"

# old: A→B, A→C, B→C, C→A, A→A (self-loop)        meta: A, B, C, E
# new: A→B, A→D, D→C, C→A, C→A (a duplicate)      meta: A, B, C, D
OLD = [(A, B), (A, C), (B, C), (C, A), (A, A)]
NEW = [(A, B), (A, D), (D, C), (C, A), (C, A)]


def links_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("source,target\n" + "".join(f"{s},{t}\n" for s, t in rows))
    return path


def meta_csv(path: Path, pages: dict[str, int | None]) -> Path:
    """pages: url → depth (None: the file has no depth column)."""
    with_depth = any(d is not None for d in pages.values())
    head = "id,pagetype" + (",depth" if with_depth else "")
    rows = [f"{u},t" + (f",{d}" if with_depth else "") for u, d in pages.items()]
    path.write_text(head + "\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture
def crawls(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    return (
        links_csv(tmp_path / "old_links.csv", OLD),
        links_csv(tmp_path / "new_links.csv", NEW),
        meta_csv(tmp_path / "old_meta.csv", dict.fromkeys((A, B, C, E))),
        meta_csv(tmp_path / "new_meta.csv", dict.fromkeys((A, B, C, D))),
    )


def test_links_added_and_removed(crawls: tuple[Path, Path, Path, Path]) -> None:
    d = compare_graphs(*crawls)
    assert (d.old_edges, d.new_edges, d.links_kept, d.links_added, d.links_removed) == (4, 4, 2, 2, 2)
    assert d.added_sample == [{"source": A, "target": D}, {"source": D, "target": C}]  # new file order
    assert d.removed_sample == [{"source": A, "target": C}, {"source": B, "target": C}]  # old file order


def test_pages_appeared_disappeared(crawls: tuple[Path, Path, Path, Path]) -> None:
    d = compare_graphs(*crawls)
    assert (d.old_pages, d.new_pages, d.pages_kept, d.pages_appeared, d.pages_disappeared) == (4, 4, 3, 1, 1)
    assert d.appeared_sample == [{"url": D, "old_inbound": 0, "new_inbound": 1, "change": 1}]
    assert d.disappeared_sample == [{"url": E, "old_inbound": 0, "new_inbound": 0, "change": 0}]


def test_gained_and_lost_inbound_links(crawls: tuple[Path, Path, Path, Path]) -> None:
    # inbound old: A 1, B 1, C 2;  new: A 2 (C→A twice), B 1, C 1 (from D)
    d = compare_graphs(*crawls)
    assert d.gained == [{"url": A, "old_inbound": 1, "new_inbound": 2, "change": 1}]
    assert d.lost == [{"url": C, "old_inbound": 2, "new_inbound": 1, "change": -1}]
    assert (d.pages_gained, d.pages_lost) == (1, 1)


def test_without_depth_the_diff_says_so(crawls: tuple[Path, Path, Path, Path]) -> None:
    d = compare_graphs(*crawls)
    assert d.depth is None and NO_DEPTH in d.notes
    assert NO_DEPTH in d.to_markdown()
    d = compare_graphs(crawls[0], crawls[1])  # no meta at all: pages come from the links only
    assert d.depth is None and (d.old_pages, d.new_pages) == (3, 4)


def test_depth_changes_when_both_metas_have_one(crawls: tuple[Path, Path, Path, Path], tmp_path: Path) -> None:
    old_meta = meta_csv(tmp_path / "od.csv", {A: 0, B: 1, C: 1, E: 2})
    new_meta = meta_csv(tmp_path / "nd.csv", {A: 0, B: 2, C: 1, D: 1})
    d = compare_graphs(crawls[0], crawls[1], old_meta, new_meta)
    assert d.depth is not None and NO_DEPTH not in d.notes
    assert {k: d.depth[k] for k in ("pages_compared", "deeper", "shallower", "same")} == {
        "pages_compared": 3,
        "deeper": 1,
        "shallower": 0,
        "same": 2,
    }
    assert d.depth["deeper_sample"] == [{"url": B, "old_depth": 1, "new_depth": 2, "change": 1}]
    assert "## Depth changes" in d.to_markdown()


def test_chunk_boundaries_and_json(crawls: tuple[Path, Path, Path, Path]) -> None:
    whole = compare_graphs(*crawls).to_dict()
    assert compare_graphs(*crawls, block_size=64).to_dict() == whole
    assert json.loads(json.dumps(whole, allow_nan=False)) == whole


def test_samples_are_capped_at_top(tmp_path: Path) -> None:
    old = links_csv(tmp_path / "o.csv", [(A, B)])
    new = links_csv(tmp_path / "n.csv", [(A, f"{A}p{i}") for i in range(50)] + [(A, f"{A}p0")] * 3)
    d = compare_graphs(old, new, top=5)
    assert d.links_added == 50 and [r["target"] for r in d.added_sample] == [f"{A}p{i}" for i in range(5)]
    assert len(d.appeared_sample) == 5 and d.appeared_sample[0]["url"] == f"{A}p0"  # 4 inbound links


def _place(out: Path, analysis: str, links: list[tuple[str, str]]) -> Path:
    folder = out / "example-org" / "example.com"
    folder.mkdir(parents=True, exist_ok=True)
    return links_csv(folder / f"example.com_{analysis}_links.csv", links)


def test_compare_exports_writes_the_report(tmp_path: Path) -> None:
    _place(tmp_path, "20241001", OLD)
    _place(tmp_path, "20241108", NEW)
    diff, paths = compare_exports(tmp_path, PROJECT, "20241001", "20241108")
    assert [p.name for p in paths] == [
        "example.com_20241001_vs_20241108_compare.json",
        "example.com_20241001_vs_20241108_compare.md",
    ]
    assert json.loads(paths[0].read_text())["links_added"] == diff.links_added == 2
    assert "# What changed: 20241001 → 20241108" in paths[1].read_text()


def test_compare_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from botify_graph.cli import main

    _place(tmp_path, "20241001", OLD)
    args = ["compare", "--project-url", PROJECT, "--out", str(tmp_path), "--old", "20241001", "--new", "20241108"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "example.com_20241108_links.csv does not exist" in err
    assert "botify-graph run --project-url https://app.botify.com/example-org/example.com/" in err
    assert "--analysis 20241108" in err
    _place(tmp_path, "20241108", NEW)
    assert main(args) == 0
    assert "Links added" in capsys.readouterr().out
    assert main([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["links_removed"] == 2
