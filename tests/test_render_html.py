"""render.html: the summary and the diff as HTML fragments; every value escaped, the stylesheet included."""

from __future__ import annotations

import html
from pathlib import Path

from botify_graph.depth import choose_depth
from botify_graph.graph.compare import compare_graphs
from botify_graph.graph.summary import summarize
from botify_graph.render.html import asset_text, diff_html, html_table, summary_html

HUB = "https://www.example.com/"


def test_html_table() -> None:
    table = html_table(["url", "n"], [["<b>/x.y", 1234], [None, 0.5]])
    assert table == (
        '<div class="t"><table><thead><tr><th>url</th><th>n</th></tr></thead><tbody>'
        '<tr><td class="u">&lt;b&gt;/<wbr>x.<wbr>y</td><td class="n">1,234</td></tr>'
        '<tr><td></td><td class="n">0.5</td></tr></tbody></table></div>'
    )  # a URL wraps at its separators; a wide table scrolls inside its container


def test_summary_html(site_graph: tuple[Path, Path]) -> None:
    choice = choose_depth({0: 40, 1: 3_000, 2: 90_000, 3: 700_000, 4: 2_500_000, 5: 900_000}, 1_000_000)
    value = summary_html(summarize(*site_graph, depth=choice))
    assert value.startswith(f"<style>{asset_text('report.css')}</style>")
    for part in (
        "<table",
        "Most-linked pages",
        "Orphans at this depth",
        "Pages per page type",
        "Compliance",
        'class="bg-histogram"',
        'class="bg-depth-chart"',
        "<h4>Inbound links per page</h4>",
    ):
        assert part in value, part
    assert html.escape(f"{HUB}p10") in value.replace("<wbr>", "")


def test_tables_escape_what_they_show(tmp_path: Path) -> None:
    links = tmp_path / "l.csv"
    links.write_text('source,target\nhttps://e.com/,"https://e.com/<script>alert(1)</script>"\n')
    value = summary_html(summarize(links))
    assert "<script>alert" not in value and "&lt;script&gt;alert(1)&lt;/<wbr>script&gt;" in value


def test_diff_html(crawls: tuple[Path, Path, Path, Path]) -> None:
    value = diff_html(compare_graphs(*crawls, old_label="<old>", new_label="new"))
    assert "<h3>What changed: &lt;old&gt; → new</h3>" in value and "<table" in value
    assert '<td class="u">https:/<wbr>/<wbr>www.<wbr>example.<wbr>com/<wbr>d</td>' in value  # wrap at separators
    assert '<ul class="note"><li>Depth changes need' in value
