"""graph: the streaming summary against hand-computed answers, chunk boundaries, report files, loaders."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from pathlib import Path

import pytest

from botify_graph import graph
from botify_graph.depth import choose_depth
from botify_graph.errors import ConfigError
from botify_graph.graph import export_files, load_graph, summarize, write_report

A, B, C, D, E = (f"https://www.example.com/{p}" for p in ("", "b", "c", "d", "e"))

# A→B, A→C, A→A (self-loop), B→C twice (a duplicate), C→A, D→C.  E is only in the meta file.
LINKS = [(A, B), (A, C), (A, A), (B, C), (B, C), (C, A), (D, C)]
# D has no meta row; booleans in both spellings; B has no impressions.
META = (
    "id,pagetype,is_compliant,impressions\n"
    + "\n".join([f"{A},home,True,100", f"{B},cat,true,", f"{C},cat,False,5", f"{E},product,false,7"])
    + "\n"
)


def write_links(path: Path, links: list[tuple[str, str]]) -> Path:
    path.write_text("source,target\n" + "".join(f"{s},{t}\n" for s, t in links))
    return path


@pytest.fixture
def small(tmp_path: Path) -> tuple[Path, Path]:
    links = write_links(tmp_path / "site_20241108_links.csv", LINKS)
    meta = tmp_path / "site_20241108_meta.csv"
    meta.write_text(META)
    return links, meta


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
    assert "self-loops (kept in the statistics)" in s.to_markdown()


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
    assert "Links per depth (chosen depth 1" in s.to_markdown()


def test_to_dict_is_json_and_markdown_escapes_pipes(tmp_path: Path) -> None:
    odd = "https://www.example.com/a|b"
    s = summarize(write_links(tmp_path / "l.csv", [(A, odd), (B, odd)]))
    assert json.loads(json.dumps(s.to_dict(), allow_nan=False))["top_pages"][0]["url"] == odd
    assert "a\\|b" in s.to_markdown()


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


def test_bad_files_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        summarize(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("url,outlink\na,b\n")
    with pytest.raises(ConfigError, match="expected 'source,target'"):
        summarize(bad)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ConfigError, match="empty"):
        summarize(empty)
    meta = tmp_path / "meta.csv"
    meta.write_text("url,pagetype\n")
    with pytest.raises(ConfigError, match="no 'id' column"):
        summarize(write_links(tmp_path / "l.csv", [(A, B)]), meta)
    meta.write_text(f"id,impressions\n{A},lots\n")
    with pytest.raises(ConfigError, match=r"meta file .* cannot be read"):
        summarize(write_links(tmp_path / "l.csv", [(A, B)]), meta)


def test_header_only_links_file(tmp_path: Path) -> None:
    s = summarize(write_links(tmp_path / "l.csv", []))
    assert (s.pages, s.edges, s.unique_edges, s.top_pages) == (0, 0, 0, [])
    assert s.to_markdown()


def test_write_report_is_atomic_and_replaces(small: tuple[Path, Path], tmp_path: Path) -> None:
    s = summarize(*small)
    out = tmp_path / "reports"
    json_path, md_path = write_report(s, out, "site_20241108")
    assert (json_path.name, md_path.name) == ("site_20241108_summary.json", "site_20241108_summary.md")
    assert json.loads(json_path.read_text()) == s.to_dict()
    assert md_path.read_text().startswith("# Link graph summary")
    s2 = summarize(*small, top=1)
    write_report(s2, out, "site_20241108")
    assert json.loads(json_path.read_text())["top"] == 1
    assert sorted(p.name for p in out.iterdir()) == ["site_20241108_summary.json", "site_20241108_summary.md"]


def test_load_graph_networkx(small: tuple[Path, Path]) -> None:
    pytest.importorskip("networkx")
    g = load_graph(*small)
    assert g.number_of_nodes() == 5 and g.number_of_edges() == 6  # distinct pairs, the self-loop kept
    assert g[B][C]["weight"] == 2 and g.has_edge(A, A)
    assert g.nodes[A] == {"pagetype": "home", "is_compliant": True, "impressions": 100}
    assert g.nodes[B] == {"pagetype": "cat", "is_compliant": True}  # no impressions: left out
    assert g.nodes[D] == {}
    assert not load_graph(*small, drop_self_loops=True).has_edge(A, A)


def test_load_graph_pandas(small: tuple[Path, Path]) -> None:
    edges, nodes = load_graph(*small, as_="pandas")
    assert list(edges.columns) == ["source", "target"] and len(edges) == 7
    assert list(edges.iloc[2]) == [A, A]
    nodes = nodes.set_index("id")
    assert len(nodes) == 5
    assert nodes.loc[C, "in_links"] == 4 and nodes.loc[A, "in_links"] == 2  # the self-loop is counted here
    assert bool(nodes.loc[C, "is_compliant"]) is False and nodes.loc[A, "impressions"] == 100
    assert not bool(nodes.loc[D, "in_meta"]) and nodes.loc[E, "pagetype"] == "product"
    assert str(nodes["impressions"].dtype) == "Int64" and str(nodes["is_compliant"].dtype) == "boolean"
    edges2, nodes2 = load_graph(*small, as_="pandas", drop_self_loops=True)
    assert len(edges2) == 6 and nodes2.set_index("id").loc[A, "in_links"] == 1
    with pytest.raises(ConfigError):
        load_graph(*small, as_="igraph")  # type: ignore[arg-type]


def _place(out: Path, analysis: str, links: list[tuple[str, str]], meta: str | None = None) -> Path:
    folder = out / "example-org" / "example.com"
    folder.mkdir(parents=True, exist_ok=True)
    write_links(folder / f"example.com_{analysis}_links.csv", links)
    if meta is not None:
        (folder / f"example.com_{analysis}_meta.csv").write_text(meta)
    return folder


PROJECT = "https://app.botify.com/example-org/example.com/"


def test_export_files_picks_the_newest_and_names_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="botify-graph run --project-url"):
        export_files(tmp_path, PROJECT)
    folder = _place(tmp_path, "20241108", LINKS, META)
    _place(tmp_path, "20241108-2", LINKS)
    _place(tmp_path, "20240901", LINKS)
    links, meta, analysis = export_files(tmp_path, PROJECT)
    assert (analysis, links.name, meta) == ("20241108-2", "example.com_20241108-2_links.csv", None)
    assert export_files(tmp_path, PROJECT, "20241108")[1] == folder / "example.com_20241108_meta.csv"
    with pytest.raises(ConfigError, match=r"example.com_20230101_links.csv does not exist.*--analysis 20230101"):
        export_files(tmp_path, PROJECT, "20230101")


def test_summary_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from botify_graph.cli import main

    folder = _place(tmp_path, "20241108", LINKS, META)
    assert main(["summary", "--project-url", PROJECT, "--out", str(tmp_path), "--top", "2"]) == 0
    out = capsys.readouterr()
    assert "# Link graph summary" in out.out and "report written" in out.err
    assert (folder / "example.com_20241108_summary.json").is_file()
    assert main(["summary", "--project-url", PROJECT, "--out", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["edges"] == 7
    assert main(["summary", "--project-url", PROJECT, "--out", str(tmp_path), "--analysis", "20200101"]) == 1
    assert "botify-graph run" in capsys.readouterr().err


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
    text = graph.headless_report(result)
    folder = result.links.path.parent
    stem = f"example.com_{result.analysis.slug}"
    for suffix in ("_summary.json", "_summary.md", "_depth.svg", "_graph.html"):
        assert (folder / f"{stem}{suffix}").is_file(), suffix
    assert "◀ chosen" in text and "# Link graph summary" in text and "_graph.html" in text
    data = json.loads((folder / f"{stem}_summary.json").read_text())
    assert data["edges"] == result.links.rows and data["chosen_depth"] == result.depth.depth  # type: ignore[union-attr]
    assert data["pages_without_meta"] == 0  # the meta export covers every linked page
