"""graph.summary: the streaming summary against hand-computed answers."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest
from sample_graphs import A, B, C, D, E, write_links

from botify_graph.depth import choose_depth
from botify_graph.graph.summary import degree_stats, summarize


def test_counts_of_a_small_graph(small: tuple[Path, Path]) -> None:
    s = summarize(*small, top=3)
    assert (s.pages, s.pages_in_links, s.edges, s.self_loops, s.self_loops_dropped) == (5, 4, 7, 1, True)
    assert (s.edges_counted, s.unique_edges, s.duplicate_edges, s.source_pages) == (6, 5, 1, 4)
    assert (s.pages_in_meta, s.meta_rows, s.pages_without_meta) == (4, 4, 1)  # D is linked but has no meta row
    assert any("dropped" in n for n in s.notes)


def test_degree_distributions(small: tuple[Path, Path]) -> None:
    s = summarize(*small)
    # inbound over every page: A 1 (from C), B 1, C 4 (A, B twice, D), D 0, E 0
    i = s.in_degree
    assert (i.pages, i.links, i.mean, i.median, i.max, i.zero) == (5, 6, 1.2, 1.0, 4, 2)
    assert [(b["bucket"], b["pages"]) for b in i.histogram] == [("0", 2), ("1", 2), ("2-3", 0), ("4-7", 1)]
    # outbound over the 4 pages that appear as a source: A 2, B 2, C 1, D 1
    o = s.out_degree
    assert (o.pages, o.links, o.mean, o.median, o.max, o.zero) == (4, 6, 1.5, 1.5, 2, 0)
    assert [(b["bucket"], b["pages"]) for b in o.histogram] == [("0", 0), ("1", 2), ("2-3", 2)]


def test_degree_stats_of_nothing() -> None:
    import numpy as np

    d = degree_stats(np.zeros(0, dtype=np.int64), "no pages")
    assert (d.pages, d.links, d.max, d.histogram) == (0, 0, 0, [])


def test_top_pages_break_ties_by_url(small: tuple[Path, Path]) -> None:
    s = summarize(*small, top=3)
    assert [(p["url"], p["inbound"], p["outbound"]) for p in s.top_pages] == [(C, 4, 1), (A, 1, 2), (B, 1, 2)]
    assert s.top_pages[0]["pagetype"] == "cat" and s.top_pages[0]["is_compliant"] is False
    assert s.top_pages[0]["impressions"] == 5 and s.top_pages[2]["impressions"] is None


def test_orphans_pagetypes_and_compliance(small: tuple[Path, Path]) -> None:
    s = summarize(*small)
    assert (s.orphans, s.orphan_share) == (1, 0.25)  # E; D has no inbound link but is not in the meta file
    assert [p["url"] for p in s.orphan_sample] == [E]
    assert s.pagetypes == [
        {"pagetype": "cat", "pages": 2, "share": 0.5, "inbound_links": 5, "orphans": 0},
        {"pagetype": "home", "pages": 1, "share": 0.25, "inbound_links": 1, "orphans": 0},
        {"pagetype": "product", "pages": 1, "share": 0.25, "inbound_links": 0, "orphans": 1},
    ]
    c = s.compliance
    assert c is not None
    assert (c["compliant_pages"], c["non_compliant_pages"], c["unknown_pages"]) == (2, 2, 0)
    assert c["non_compliant_linked_pages"] == 1  # C receives links, E does not
    assert c["non_compliant_linked_share"] == 0.5
    assert c["linked_pages_non_compliant_share"] == pytest.approx(1 / 3, abs=1e-6)  # of A, B, C
    assert (c["links_to_non_compliant"], c["links_to_non_compliant_share"]) == (4, pytest.approx(4 / 6, abs=1e-6))


def test_self_loops_kept_when_asked(small: tuple[Path, Path]) -> None:
    s = summarize(*small, drop_self_loops=False)
    assert (s.self_loops, s.self_loops_dropped, s.edges_counted, s.unique_edges) == (1, False, 7, 6)
    assert s.top_pages[1]["url"] == A and s.top_pages[1]["inbound"] == 2
    assert any("kept in the statistics" in n for n in s.notes)


def test_links_only_and_orphan_order_by_impressions(tmp_path: Path) -> None:
    links = write_links(tmp_path / "l.csv", [(A, B)])
    s = summarize(links)
    assert (s.pages, s.orphans, s.pagetypes, s.compliance) == (2, None, None, None)
    meta = tmp_path / "m.csv"
    meta.write_text(f"id,impressions\n{A},3\n{C},\n{D},9\n{E},3\n")
    s = summarize(links, meta)
    assert [p["url"] for p in s.orphan_sample] == [D, A, E, C]  # impressions desc, then URL; unknown last


def test_depth_table_is_carried(small: tuple[Path, Path]) -> None:
    choice = choose_depth({0: 3, 1: 4, 2: 50}, 10)
    s = summarize(*small, depth=choice)
    assert (s.chosen_depth, s.depth_limit, s.depth_expected_edges) == (1, 10, 7)
    assert [r["chosen"] for r in s.depth_table or []] == [False, True, False]


def test_to_dict_is_json(tmp_path: Path) -> None:
    odd = "https://www.example.com/a|b"
    s = summarize(write_links(tmp_path / "l.csv", [(A, odd), (B, odd)]))
    assert json.loads(json.dumps(s.to_dict(), allow_nan=False))["top_pages"][0]["url"] == odd


def _random_links(n_rows: int, seed: int = 3) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pages = [f"https://s.io/{i}" for i in range(300)]
    return [(rng.choice(pages[:60]), rng.choice(pages)) for _ in range(n_rows)]


@pytest.mark.parametrize("block_size", [64, 333, 4096])
def test_chunk_boundaries_do_not_change_the_summary(tmp_path: Path, block_size: int) -> None:
    rows = _random_links(3000)
    rows += [(rows[7][0], rows[7][0])]  # a self-loop
    links = write_links(tmp_path / "l.csv", rows)
    meta = tmp_path / "m.csv"
    meta.write_text(
        "id,pagetype,is_compliant\n"
        + "".join(f"https://s.io/{i},t{i % 4},{'True' if i % 3 else 'False'}\n" for i in range(0, 320, 2))
    )
    whole = summarize(links, meta, block_size=1 << 20).to_dict()
    assert summarize(links, meta, block_size=block_size).to_dict() == whole


def test_matches_a_plain_python_count(tmp_path: Path) -> None:
    rows = _random_links(5000, seed=11)
    s = summarize(write_links(tmp_path / "l.csv", rows), top=10, block_size=512)
    kept = [(a, b) for a, b in rows if a != b]
    inbound = Counter(b for _, b in kept)
    assert s.unique_edges == len(set(kept))
    assert s.pages == len({u for r in rows for u in r})
    expected = sorted(inbound.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert [(p["url"], p["inbound"]) for p in s.top_pages] == expected


def test_header_only_links_file(tmp_path: Path) -> None:
    s = summarize(write_links(tmp_path / "l.csv", []))
    assert (s.pages, s.edges, s.unique_edges, s.top_pages) == (0, 0, 0, [])


def _urls(rows: list[dict[str, object]]) -> list[object]:
    return [r["url"] for r in rows]


def test_opportunities_of_a_graph_built_by_hand(tmp_path: Path) -> None:
    from sample_graphs import P4, P5, P6, H, shop

    s = summarize(*shop(tmp_path))
    o = s.opportunities
    assert o is not None
    assert o["traffic"] == "clicks" and o["inlinks"] == "inlinks_internal_nb_unique"
    # Botify's inlinks of the 6 pages that have one: 40 30 25 3 2 1 → median 14; with clicks: P4, P5
    assert o["few_inlinks"] == 14.0
    assert o["under_linked"]["pages"] == 2 and _urls(o["under_linked"]["sample"]) == [P4, P5]
    # PageRank 9.5 7 6.5 2 1.5 1 0.5 → median 2; with clicks and at most 2: P4 (20), P6 (8), P5 (5)
    assert o["low_pagerank"]["threshold"] == 2.0
    assert o["low_pagerank"]["pages"] == 3 and _urls(o["low_pagerank"]["sample"]) == [P4, P6, P5]
    # depth >= 4 with clicks: P4 20, P6 8, P5 5 = 33 of the 183 clicks
    deep = o["deep"]
    assert (deep["min_depth"], deep["pages"], deep["traffic"], deep["share"]) == (4, 3, 33, round(33 / 183, 6))
    assert _urls(deep["sample"]) == [P4, P6, P5]
    # compliant, and no link of the file reaches it: P6 only (H is linked from P5; P3 is not compliant)
    assert o["unlinked_compliant"]["pages"] == 1 and _urls(o["unlinked_compliant"]["sample"]) == [P6]
    row = o["under_linked"]["sample"][0]
    assert row == {"url": P4, "inbound": 1, "pagetype": "product", "depth": 4, "clicks": 20, "impressions": 200,
                   "inlinks_internal_nb_unique": 2, "internal_page_rank": 1.5}  # fmt: skip
    assert "title" not in s.top_pages[0]  # the wide text columns stay out of the page tables
    assert s.meta_columns[-3:] == ["title", "impressions", "clicks"]

    # Without Botify's inlink count the links file's inbound links count: 1 2 2 2 1 1 0 → median 1
    o2 = summarize(*shop(tmp_path / "plain", without=("inlinks_internal_nb_unique",))).opportunities
    assert o2 is not None and o2["inlinks"] == "inbound" and o2["few_inlinks"] == 1.0
    assert _urls(o2["under_linked"]["sample"]) == [H, P4, P6, P5]
    # Without clicks, impressions rank: H 1000, P4 200, P6 80, P5 50 (P3's 300 come with 2 inbound links > 1)
    o3 = summarize(*shop(tmp_path / "imp", without=("clicks", "inlinks_internal_nb_unique"))).opportunities
    assert o3 is not None and o3["traffic"] == "impressions"
    assert _urls(o3["under_linked"]["sample"]) == [H, P4, P6, P5]


def test_opportunities_need_their_columns(tmp_path: Path, small: tuple[Path, Path]) -> None:
    # the small graph: impressions but no clicks, no depth, no inlink count, compliance known
    o = summarize(*small).opportunities
    assert o is not None and o["traffic"] == "impressions" and o["inlinks"] == "inbound"
    assert "low_pagerank" not in o and "deep" not in o
    assert o["unlinked_compliant"]["pages"] == 0  # E (only in the meta file) is not compliant
    only_types = tmp_path / "m.csv"
    only_types.write_text("id,pagetype\nhttps://www.example.com/,home\n")
    assert summarize(small[0], only_types).opportunities is None
    assert summarize(small[0]).opportunities is None
