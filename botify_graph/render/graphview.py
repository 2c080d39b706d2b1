"""The interactive graph view as one self-contained HTML page: a canvas, a small force layout, no network.

`graph.sample` picks the pages and links; this module colours them (by any column of the meta file: a category
or flag by its values, a number by five ranges of it), sizes them (by inbound links or any number column),
words the caption and writes the page around `assets/graphview.js` and `assets/graphview.css` (package
files, read at run time). `widgets.graph_view` shows the page in an
iframe; `reports` writes it to `_graph.html`.

Why our own view rather than the `cosmograph` widget, and what else exists (November 2026):

- `cosmograph` (anywidget, WebGL, millions of nodes) is GPL-3.0-or-later, so it can at most be an optional
  extra of this MIT package, and its bundle references cdn.jsdelivr.net (duckdb-wasm), so it may not work
  offline. The Cosmograph *web app* stays one click away: `handoff.serve_for_cosmograph` (no GPL code runs
  in our process, and the whole graph is shown there, not a sample).
- ipysigma (MIT, sigma.js/WebGL) is the strongest permissive alternative for large graphs, but it is one more
  dependency with its own front-end extension that every Lab and Voila install must carry.
- ipycytoscape (BSD) has the same extension cost and slows down past a few thousand nodes; pyvis writes HTML
  that loads vis-network from a CDN unless told to inline it; plotly/bokeh need a layout computed in Python.
- Ours: an `<iframe srcdoc>` inside an `ipywidgets.HTML`, with a Content-Security-Policy that forbids any
  network request, a canvas and a small force simulation (springs on links, grid-limited repulsion, gravity).
  It needs nothing installed and runs the same in Lab, Voila and a browser opening the saved `_graph.html`.
  A 2D canvas stays smooth up to a few thousand nodes and ~20,000 links, hence the top-N sample; the
  caption always says when the view is a sample.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..graph.encode import EncodedGraph, encode_graph
from ..graph.sample import colour_keys, view_sample
from . import labels as L
from .formats import compact
from .html import asset_text

__all__ = ["PALETTE", "RAMP", "graph_view_data", "graph_view_html"]

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")
RAMP = ("#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c")  # low → high, for a number column
OTHER_COLOR, UNKNOWN_COLOR = "#8c939a", "#c9ced3"
_FLAG_COLORS = {L.VIEW_FLAG[1]: PALETTE[4], L.VIEW_FLAG[0]: PALETTE[2], L.VIEW_FLAG[-1]: OTHER_COLOR}
_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"


def _groups(
    g: EncodedGraph, pages: Sequence[int], color_by: str | None
) -> tuple[list[int], list[dict[str, Any]], str, list[str]]:
    """(group index per shown page, groups [{label, color, pages}], what the colour means, notes)."""
    keys = colour_keys(g, list(pages), color_by)
    if keys.kind is None or color_by is None:
        notes = [L.VIEW_NO_COLOUR_COLUMN.format(column=color_by)] if color_by and color_by != "pagetype" else []
        one = [{"label": L.VIEW_ALL_PAGES, "color": PALETTE[0], "pages": len(pages)}]
        return [0] * len(pages), one, "none", notes
    unknown, missing = L.VIEW_NOT_IN_META, L.VIEW_FLAG[-1]  # no meta row; a row without a value
    order: list[str] | None = None  # a fixed legend order (flags, number ranges), else by count
    colours: dict[str, str] = {}
    if keys.kind == "flag":
        labels = [
            L.VIEW_FLAG.get(int(v), missing) if p else unknown for v, p in zip(keys.values, keys.present, strict=True)
        ]
        order, colours = list(L.VIEW_FLAG.values()), _FLAG_COLORS
    elif keys.kind == "number":
        order = [
            L.VIEW_BIN_ONE.format(value=compact(lo))
            if lo == hi
            else L.VIEW_BIN.format(low=compact(lo), high=compact(hi))
            for lo, hi in keys.ranges
        ]
        labels = [
            order[int(v)] if int(v) >= 0 else (missing if p else unknown)
            for v, p in zip(keys.values, keys.present, strict=True)
        ]
        colours = dict(zip(order, RAMP[len(RAMP) - len(order) :] if len(order) < len(RAMP) else RAMP, strict=False))
    else:
        labels = [
            str(v) if v is not None else (missing if p else unknown)
            for v, p in zip(keys.values, keys.present, strict=True)
        ]
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    if order is not None:
        shown, rest = [lb for lb in dict.fromkeys(order) if lb in counts], []
    else:
        named = [lb for lb in sorted(counts, key=lambda lb: (-counts[lb], lb)) if lb not in (unknown, missing)]
        shown, rest = named[: len(PALETTE)], named[len(PALETTE) :]
    groups: list[dict[str, Any]] = [
        {"label": lb, "color": colours.get(lb, PALETTE[i % len(PALETTE)]), "pages": counts[lb]}
        for i, lb in enumerate(shown)
    ]
    index = {grp["label"]: i for i, grp in enumerate(groups)}
    if rest:
        index.update({lb: len(groups) for lb in rest})
        groups.append({"label": L.VIEW_OTHER, "color": OTHER_COLOR, "pages": sum(counts[lb] for lb in rest)})
    for label in (missing, unknown):
        if label in counts and label not in index:
            index[label] = len(groups)
            groups.append({"label": label, "color": UNKNOWN_COLOR, "pages": counts[label]})
    return [index[lb] for lb in labels], groups, color_by, []


def graph_view_data(
    g: EncodedGraph,
    *,
    max_nodes: int = 2000,
    max_links: int = 20_000,
    color_by: str | None = "pagetype",
    size_by: str = "inbound",
) -> dict[str, Any]:
    """What the view draws: the most-linked pages (all if they fit), the links among them, groups and sizes."""
    view = view_sample(g, max_nodes=max_nodes, max_links=max_links, size_by=size_by)
    notes = []
    if view.sized_by != size_by:
        kind = g.meta.kind(size_by) if g.meta is not None else None
        notes.append((L.VIEW_NO_COLUMN if kind is None else L.VIEW_NOT_A_NUMBER).format(column=size_by))
    vmax = max(view.size, default=0.0)
    radius = [2.5 + 9.0 * math.sqrt(v / vmax) if vmax > 0 else 3.0 for v in view.size]
    group, groups, colour, colour_notes = _groups(g, view.pages, color_by)
    notes += colour_notes
    shown, among, drawn = len(view.pages), view.links_among, view.links_drawn
    caption = (
        L.VIEW_PAGES.format(shown=shown, total=view.pages_total)
        + (L.VIEW_MOST_LINKED if shown < view.pages_total else "")
        + (
            L.VIEW_LINKS_SAMPLED.format(drawn=drawn, among=among)
            if among > drawn
            else L.VIEW_LINKS_ALL.format(among=among)
        )
        + (L.VIEW_SAMPLE.format(max_nodes=max_nodes, max_links=max_links) if view.sample else ".")
    )
    return {
        "nodes": {
            "url": view.urls,
            "group": group,
            "r": [round(r, 2) for r in radius],
            "inbound": view.inbound,
            "impressions": view.impressions,
            "value": view.size_values,  # the sized column's values (None when sized by inbound links)
        },
        "links": view.links,
        "groups": groups,
        "color_by": colour,
        "size_by": L.VIEW_SIZE_BY.get(view.sized_by, view.sized_by),
        "sample": view.sample,
        "pages_total": view.pages_total,
        "links_total": among,
        "caption": caption,
        "notes": notes,
        "words": {
            "inbound": L.VIEW_SIZE_BY["inbound"],
            "impressions": L.VIEW_SIZE_BY["impressions"],
            "value": L.VIEW_SIZE_BY.get(view.sized_by, view.sized_by),
        },
    }


def _json_for_script(data: Any) -> str:
    """JSON that cannot close the <script> element it sits in."""
    text = json.dumps(data, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def graph_view_html(
    graph: EncodedGraph | str | Path,
    meta_path: str | Path | None = None,
    *,
    max_nodes: int = 2000,
    max_links: int = 20_000,
    color_by: str | None = "pagetype",
    size_by: str = "inbound",
    title: str = L.VIEW_TITLE,
    height: int = 520,
) -> str:
    """A self-contained HTML page with the interactive view (no external asset; a CSP forbids fetching any)."""
    g = graph if isinstance(graph, EncodedGraph) else encode_graph(graph, meta_path)
    data = graph_view_data(g, max_nodes=max_nodes, max_links=max_links, color_by=color_by, size_by=size_by)
    colour = "" if data["color_by"] == "none" else L.VIEW_COLOUR_BY.get(data["color_by"], data["color_by"])
    legend = "".join(
        f'<span><i style="background:{grp["color"]}"></i>{html.escape(grp["label"])} ({grp["pages"]:,})</span>'
        for grp in data["groups"]
    )
    how = (L.VIEW_COLOUR.format(what=colour) if colour else "") + L.VIEW_SIZE.format(what=data["size_by"])
    caption = (
        f"<b>{html.escape(title)}</b> — {html.escape(data['caption'])} {html.escape(how)}{html.escape(L.VIEW_HELP)}"
        + "".join(f" {html.escape(n)}" for n in data["notes"])
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        f"<title>{html.escape(title)}</title><style>{asset_text('graphview.css')}</style></head>\n"
        f'<body><div id="cap">{caption}</div>'
        f'<div id="wrap" style="height:{int(height)}px"><canvas id="view"></canvas><div id="tip"></div></div>'
        f'<div id="legend">{legend}</div>\n'
        f'<script type="application/json" id="graph-data">{_json_for_script(data)}</script>\n'
        f"<script>{asset_text('graphview.js')}</script>\n</body></html>\n"
    )
