"""render.document and render.labels: one report, built once, says the same words in Markdown and in HTML."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from sample_graphs import A, B, C, D, E, meta_csv

from botify_graph.depth import choose_depth
from botify_graph.graph.compare import GraphDiff, compare_graphs
from botify_graph.graph.summary import GraphSummary, summarize
from botify_graph.render import labels as L
from botify_graph.render.document import (
    Block,
    Bullets,
    Figure,
    Files,
    Heading,
    Paragraph,
    Table,
    diff_document,
    summary_document,
)
from botify_graph.render.html import diff_html, summary_html
from botify_graph.render.markdown import diff_markdown, summary_markdown


@pytest.fixture
def summary(small: tuple[Path, Path]) -> GraphSummary:
    return summarize(*small, depth=choose_depth({0: 3, 1: 4, 2: 50}, 10))


@pytest.fixture
def diff(crawls: tuple[Path, Path, Path, Path], tmp_path: Path) -> GraphDiff:
    old_meta = meta_csv(tmp_path / "od.csv", {A: 0, B: 1, C: 1, E: 2})
    new_meta = meta_csv(tmp_path / "nd.csv", {A: 0, B: 2, C: 0, D: 1})
    return compare_graphs(crawls[0], crawls[1], old_meta, new_meta, old_label="20241001", new_label="20241108")


def words(blocks: list[Block]) -> list[str]:
    """Every text a reader sees in the blocks, apart from the cells' values and the figures (a chart in HTML)."""
    out: list[str] = []
    for b in blocks:
        if isinstance(b, (Heading, Paragraph)):
            out.append(b.text)
        elif isinstance(b, Bullets):
            out += b.items
        elif isinstance(b, Files):
            out += [label for label, _ in b.items]
        elif isinstance(b, Table):
            out += [h for h in b.headers if h] + [str(r[0]) for r in b.rows if isinstance(r[0], str)]
    return out


def visible_html(text: str) -> str:
    """What a browser shows: tags and the stylesheet dropped, entities decoded."""
    text = re.sub(r"<style>.*?</style>", "", text, flags=re.S).replace("<wbr>", "")  # a break, not a character
    return html.unescape(re.sub(r"<[^>]+>", " ", text))


def test_the_summary_says_the_same_in_markdown_and_html(summary: GraphSummary) -> None:
    blocks = summary_document(summary)
    md, page = summary_markdown(summary), visible_html(summary_html(summary))
    said = words(blocks)
    assert len(said) > 40
    for text in said:
        assert text in md, text
        assert text in page, text
    for label in [*L.COUNTS.values(), *L.META_COUNTS.values(), *L.COMPLIANCE.values(), *L.PAGETYPE_COLUMNS]:
        shown = label.format(kept=L.SELF_LOOPS_KEPT[True])
        assert shown in md and shown in page, shown


def test_the_diff_says_the_same_in_markdown_and_html(diff: GraphDiff) -> None:
    blocks = diff_document(diff)
    md, page = diff_markdown(diff), visible_html(diff_html(diff))
    said = words(blocks)
    assert len(said) > 15
    for text in said:
        assert text in md, text
        assert text in page, text
    headings = [b.text for b in blocks if isinstance(b, Heading)]
    assert headings == [
        "What changed: 20241001 → 20241108",
        "Pages that gained the most inbound links (top 20)",
        "Pages that lost the most inbound links (top 20)",
        "Pages that appeared (most-linked first)",
        "Pages that disappeared (most-linked first)",
        "Links added (first 2, in the new file's order)",
        "Links removed (first 2, in the old file's order)",
        "Depth changes",
        "Deeper",
        "Shallower",
    ]


def test_summary_blocks_in_order(summary: GraphSummary) -> None:
    headings = [(b.level, b.text) for b in summary_document(summary) if isinstance(b, Heading)]
    assert headings == [
        (1, "Link graph summary"),
        (2, "Links per depth (chosen depth 1, limit 10)"),
        (2, "Degrees"),
        (3, "Inbound links per page"),
        (3, "Outbound links per page"),
        (2, "Most-linked pages (top 20)"),
        (2, "Orphans at this depth"),
        (2, "Pages per page type"),
        (2, "Compliance"),
        (2, "Opportunities: pages that deserve more internal links"),
        (3, "Traffic but few internal inlinks"),
        (3, "Compliant pages no link reaches"),
        (2, "Notes"),
    ]
    figures = [b for b in summary_document(summary) if isinstance(b, Figure)]
    assert [f.svg.split(" ", 2)[1] for f in figures] == [
        'class="bg-depth-chart"',
        'class="bg-histogram"',
        'class="bg-histogram"',
    ]
    counts = next(b for b in summary_document(summary) if isinstance(b, Table))
    assert counts.rows[4] == ("self-loops (dropped from the statistics)", 1)
    assert counts.rows[-1] == ("orphans at this depth", 1)


def test_a_links_only_summary_has_no_meta_sections(tmp_path: Path) -> None:
    from sample_graphs import write_links

    s = summarize(write_links(tmp_path / "l.csv", []))
    headings = [b.text for b in summary_document(s) if isinstance(b, Heading)]
    assert headings == [
        "Link graph summary",
        "Degrees",
        "Inbound links per page",
        "Outbound links per page",
        "Most-linked pages (top 20)",
        "Notes",
    ]
    assert Paragraph(L.NO_LINKS) in summary_document(s)


def test_the_opportunities_say_the_same_in_markdown_and_html(tmp_path: Path) -> None:
    from sample_graphs import shop

    s = summarize(*shop(tmp_path), gsc_period=("2024-10-10", "2024-11-08"))
    md, page = summary_markdown(s), visible_html(summary_html(s))
    for text in words(summary_document(s)):
        assert text in md and text in page, text
    for label in (L.OPP_UNDER_LINKED, L.OPP_LOW_PAGERANK, L.OPP_DEEP, L.OPP_UNLINKED, L.OPPORTUNITIES_HEADING):
        assert label in md and label in page, label
    assert "Search Console numbers (impressions, clicks, …) cover 2024-10-10 to 2024-11-08." in md
    assert "2 pages earn clicks yet have at most 14 internal inlinks (the median page's; Botify's unique" in md
    assert "3 pages at depth 4 or deeper earn 33 clicks (18.0% of all)." in md
    assert "1 compliant pages receive no link in the links file" in md
    assert "| https://shop.example/p4 | 1 | product | 4 | 20 | 200 | 2 | 1.5 |" in md
