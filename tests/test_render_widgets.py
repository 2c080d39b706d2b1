"""render.widgets: the charts and reports as ipywidgets.HTML, holding exactly the rendered HTML."""

from __future__ import annotations

from pathlib import Path

import ipywidgets

from botify_graph.depth import choose_depth
from botify_graph.graph.compare import compare_graphs
from botify_graph.graph.summary import summarize
from botify_graph.render import widgets
from botify_graph.render.charts import depth_chart_svg
from botify_graph.render.graphview import graph_view_html
from botify_graph.render.html import diff_html, summary_html

CHOICE = choose_depth({0: 40, 1: 3_000, 2: 90_000}, 10_000)


def test_widgets_wrap_the_rendered_html(site_graph: tuple[Path, Path]) -> None:
    depth = widgets.depth_chart(CHOICE)
    assert isinstance(depth, ipywidgets.HTML) and depth.value == depth_chart_svg(CHOICE)
    s = summarize(*site_graph)
    assert widgets.summary_widget(s).value == summary_html(s)
    d = compare_graphs(site_graph[0], site_graph[0], site_graph[1], site_graph[1])
    shown = widgets.diff_widget(d)
    assert isinstance(shown, ipywidgets.HTML) and shown.value == diff_html(d) and "What changed" in shown.value


def test_graph_view_frame(site_graph: tuple[Path, Path]) -> None:
    doc = graph_view_html(*site_graph, height=300)
    frame = widgets.graph_view_frame(doc, height=300)
    assert 'style="width:100%;height:390px;border:0"' in frame.value and "&lt;canvas" in frame.value
    assert widgets.graph_view(*site_graph, height=300).value == frame.value
