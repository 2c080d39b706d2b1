"""render.charts: the depth chart (SVG and text) and the degree histograms are self-contained."""

from __future__ import annotations

import pytest

from botify_graph.depth import choose_depth
from botify_graph.render import charts

CHOICE = choose_depth({0: 40, 1: 3_000, 2: 90_000, 3: 700_000, 4: 2_500_000, 5: 900_000}, 1_000_000)


def test_depth_chart_svg() -> None:
    svg = charts.depth_chart_svg(CHOICE)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert svg.count('<rect class="bar') == 6
    assert svg.count('class="bar chosen"') == 1 and svg.count('class="bar over"') == 2
    assert 'class="limit"' in svg and "limit 1,000,000" in svg and "chosen depth 3" in svg
    assert "▲ 3.29M" in svg  # bars far over the limit are clipped and labelled
    assert "xmlns" not in svg and "http" not in svg and "<script" not in svg
    assert f'xmlns="{charts.SVG_NS}"' in charts.depth_chart_svg(CHOICE, standalone=True)


def test_depth_chart_text() -> None:
    text = charts.depth_chart_text(CHOICE, width=40)
    lines = text.splitlines()
    assert len(lines) == 2 + 6
    assert lines[0].startswith("Internal links up to each depth") and "chosen depth 3" in lines[0]
    chosen = next(line for line in lines if "◀ chosen" in line)
    assert (chosen.split()[0] == "3" and "700,000" in chosen) or "793,040" in chosen
    assert sum("over the limit" in line for line in lines) == 2
    assert all("|" in line or ">" in line for line in lines[2:])  # the limit mark, or a bar through it
    assert lines[-1].rstrip().endswith("over the limit") and ">" in lines[-1]


def test_histogram_svg() -> None:
    buckets = [
        {"bucket": "0", "low": 0, "high": 0, "pages": 2},
        {"bucket": "1", "low": 1, "high": 1, "pages": 4},
        {"bucket": "2-3", "low": 2, "high": 3, "pages": 0},
    ]
    svg = charts.histogram_svg(buckets)
    assert svg.startswith('<svg class="bg-histogram"') and svg.count("<rect") == 3
    assert "<title>2-3 links: 0 pages</title>" in svg and "http" not in svg
    assert charts.histogram_svg([]) == ""


def _boxes(svg: str) -> tuple[list[tuple[float, float, float, float]], tuple[float, float, float, float]]:
    """The bars and value labels of a depth chart, and the limit label's box (width estimated as charts does)."""
    import re

    bars = [
        (float(x), float(y), float(x) + float(w), float(y) + float(h))
        for x, y, w, h in re.findall(
            r'<rect class="bar[^"]*" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" '
            r'height="([\d.]+)"',
            svg,
        )
    ]
    values = [
        (float(x) - charts.text_width(t) / 2, float(y) - 11, float(x) + charts.text_width(t) / 2, float(y) + 3)
        for x, y, t in re.findall(r'<text x="([\d.]+)" y="([\d.]+)" text-anchor="middle" fill="#222">([^<]+)<', svg)
    ]
    m = re.search(r'<text class="limit-label" x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]+)<', svg)
    assert m, "no limit label"
    x, y, text = float(m.group(1)), float(m.group(2)), m.group(3)
    return bars + values, (x - charts.text_width(text), y - 11, x, y + 3)


@pytest.mark.parametrize(
    "per_depth",
    [
        {0: 30, 1: 900, 2: 3000, 3: 6000, 4: 8000, 5: 6000, 6: 4000, 7: 2500, 8: 1500},  # the issue: depth 8 ~ limit
        {0: 30, 1: 900, 2: 3000, 3: 6000, 4: 8000, 5: 6000, 6: 5900, 7: 25000, 8: 90000},  # chosen just under it
        {0: 40, 1: 3_000, 2: 9_000},  # the whole graph fits, far under the limit
        {0: 1, 1: 29_000, 2: 30_000, 3: 40_000},  # every slot near the line
    ],
)
def test_the_limit_label_touches_no_bar(per_depth: dict[int, int]) -> None:
    """The "limit 30,000" label used to sit on the depth-8 bar (it was always at the line's right end)."""
    svg = charts.depth_chart_svg(choose_depth(per_depth, 30_000))
    obstacles, label = _boxes(svg)
    for o in obstacles:
        assert not (label[0] < o[2] and o[0] < label[2] and label[1] < o[3] and o[1] < label[3]), (label, o)
