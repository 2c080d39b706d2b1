"""render.markdown: the summary and the diff as Markdown; cells escaped."""

from __future__ import annotations

from pathlib import Path

from sample_graphs import A, B, write_links

from botify_graph.depth import choose_depth
from botify_graph.graph.compare import NO_DEPTH, compare_graphs
from botify_graph.graph.summary import summarize
from botify_graph.render.markdown import diff_markdown, md_table, report_markdown, summary_markdown


def test_md_table_escapes_cells() -> None:
    assert md_table(["a", "b"], [["x|y", 1234], [None, True]]) == (
        "| a | b |\n|---|---|\n| x\\|y | 1,234 |\n|  | yes |"
    )
    assert md_table(["a"], [["two\nlines"]]).endswith("| two lines |")


def test_summary_markdown(small: tuple[Path, Path]) -> None:
    md = summary_markdown(summarize(*small, depth=choose_depth({0: 3, 1: 4, 2: 50}, 10)))
    assert md.startswith("# Link graph summary\n\n- links file: `") and md.endswith("\n") and not md.endswith("\n\n")
    assert "## Links per depth (chosen depth 1, limit 10)" in md
    assert "| 1 | 4 | 7 | yes | ◀ |" in md  # the depth table: depth, links at depth, cumulative, fits, chosen
    assert "| self-loops (dropped from the statistics) | 1 |" in md
    assert "### Inbound links per page\n\nOver 5 pages of links ∪ meta: mean 1.2, median 1, p90" in md
    assert "| links | pages |\n|---|---|\n| 0 | 2 |" in md  # the histogram's numbers
    assert "First 1 (by impressions, then URL):" in md
    assert "| non-compliant pages receiving links | 1 |" in md and "| … share of the links counted | 66.7% |" in md
    assert "<svg" not in md


def test_self_loops_kept_and_escaping(small: tuple[Path, Path], tmp_path: Path) -> None:
    assert "self-loops (kept in the statistics)" in summary_markdown(summarize(*small, drop_self_loops=False))
    odd = "https://www.example.com/a|b"
    assert "a\\|b" in summary_markdown(summarize(write_links(tmp_path / "l.csv", [(A, odd), (B, odd)])))
    assert "No links." in summary_markdown(summarize(write_links(tmp_path / "e.csv", [])))


def test_diff_markdown(crawls: tuple[Path, Path, Path, Path]) -> None:
    d = compare_graphs(*crawls, old_label="20241001", new_label="20241108")
    md = diff_markdown(d)
    assert md.startswith("# What changed: 20241001 → 20241108\n\n- old: `")
    assert "|  | 20241001 | 20241108 | added | removed | in both |" in md
    assert "| distinct links (self-loops left out) | 4 | 4 | 2 | 2 | 2 |" in md
    assert "1 pages present in both crawls gained inbound links, 1 lost some." in md
    assert "## Links added (first 2, in the new file's order)" in md
    assert "| https://www.example.com/ | 1 | 2 | +1 |" in md
    assert NO_DEPTH in md and "## Depth changes" not in md
    assert report_markdown(d) == md and report_markdown(summarize(crawls[0])).startswith("# Link graph summary")
