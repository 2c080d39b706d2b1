"""render.charts: the depth chart (SVG and text) and the degree histograms are self-contained."""

from __future__ import annotations

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
