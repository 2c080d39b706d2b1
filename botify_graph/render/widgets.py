"""The charts, reports and graph view as `ipywidgets.HTML`, which JupyterLab and Voila both render.

ipywidgets is imported when a widget is made, never when this module is; nothing below `render` imports it.

    depth_chart(choice)         the depth chart (the wizard's Depth step)
    summary_widget(summary)     a GraphSummary as tables (the wizard's Result step)
    diff_widget(diff)           a GraphDiff as tables (the Result step's compare action)
    graph_view(links, meta)     the interactive view in a sandboxed iframe
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from . import labels as L
from .charts import depth_chart_svg
from .graphview import graph_view_html
from .html import diff_html, summary_html

if TYPE_CHECKING:  # pragma: no cover
    import ipywidgets

    from ..depth import DepthChoice
    from ..graph.compare import GraphDiff
    from ..graph.encode import EncodedGraph
    from ..graph.summary import GraphSummary

__all__ = ["depth_chart", "diff_widget", "graph_view", "graph_view_frame", "summary_widget"]


def depth_chart(choice: DepthChoice) -> ipywidgets.HTML:
    """The depth chart as a widget (for the wizard's Depth step)."""
    import ipywidgets

    return ipywidgets.HTML(value=depth_chart_svg(choice))


def summary_widget(summary: GraphSummary) -> ipywidgets.HTML:
    """The summary as a widget of tables (for the wizard's Result step)."""
    import ipywidgets

    return ipywidgets.HTML(value=summary_html(summary))


def diff_widget(diff: GraphDiff) -> ipywidgets.HTML:
    """A GraphDiff as a widget of tables."""
    import ipywidgets

    return ipywidgets.HTML(value=diff_html(diff))


def graph_view(
    links_path: str | Path | EncodedGraph,
    meta_path: str | Path | None = None,
    *,
    max_nodes: int = 2000,
    max_links: int = 20_000,
    color_by: str | None = "pagetype",
    size_by: str = "inbound",
    title: str = L.VIEW_TITLE,
    height: int = 520,
) -> ipywidgets.HTML:
    """The interactive view as a widget: an iframe whose `srcdoc` is `graph_view_html(...)` (works in Voila)."""
    doc = graph_view_html(
        links_path,
        meta_path,
        max_nodes=max_nodes,
        max_links=max_links,
        color_by=color_by,
        size_by=size_by,
        title=title,
        height=height,
    )
    return graph_view_frame(doc, height=height)


def graph_view_frame(doc: str, *, height: int = 520) -> ipywidgets.HTML:
    """Wrap a `graph_view_html` page in a sandboxed iframe widget (scripts run, nothing else is allowed)."""
    import ipywidgets

    frame = (
        f'<iframe class="bg-graph-view" title="{html.escape(L.VIEW_FRAME)}" sandbox="allow-scripts" '
        f'style="width:100%;height:{int(height) + 90}px;border:0" srcdoc="{html.escape(doc, quote=True)}"></iframe>'
    )
    return ipywidgets.HTML(value=frame, layout=ipywidgets.Layout(width="100%"))
