"""graph.compare: two small crawls with hand-computed differences, depth changes, chunk boundaries."""

from __future__ import annotations

import json
from pathlib import Path

from sample_graphs import A, B, C, D, E, meta_csv, write_links

from botify_graph.graph.compare import NO_DEPTH, compare_graphs


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


def test_chunk_boundaries_and_json(crawls: tuple[Path, Path, Path, Path]) -> None:
    whole = compare_graphs(*crawls).to_dict()
    assert compare_graphs(*crawls, block_size=64).to_dict() == whole
    assert json.loads(json.dumps(whole, allow_nan=False)) == whole


def test_samples_are_capped_at_top(tmp_path: Path) -> None:
    old = write_links(tmp_path / "o.csv", [(A, B)])
    new = write_links(tmp_path / "n.csv", [(A, f"{A}p{i}") for i in range(50)] + [(A, f"{A}p0")] * 3)
    d = compare_graphs(old, new, top=5)
    assert d.links_added == 50 and [r["target"] for r in d.added_sample] == [f"{A}p{i}" for i in range(5)]
    assert len(d.appeared_sample) == 5 and d.appeared_sample[0]["url"] == f"{A}p0"  # 4 inbound links
