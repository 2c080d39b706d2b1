"""See the graph where you are: the depth chart, the summary tables and an interactive view, all offline.

Everything here is generated in Python as plain SVG/HTML (and, for the graph view, ~200 lines of inline
JavaScript): no CDN, no front-end extension to install, nothing fetched at run time. Widgets are
`ipywidgets.HTML`, which JupyterLab and Voila both render; the same HTML is written to files by headless runs.

    depth_chart(choice)         cumulative links per depth, the export limit, the chosen depth  (+ _svg, _text)
    summary_widget(summary)     the GraphSummary as tables (the wizard's Result step)
    diff_widget(diff)           a GraphDiff as tables (the Result step's compare action)
    graph_view(links, meta)     force-directed view coloured by page type, sized by inbound links or
                                impressions; a sample of the most-linked pages when the graph is large

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
from typing import TYPE_CHECKING, Any

import numpy as np

from .graph import FLAG_COLUMNS, UNKNOWN_LABEL, EncodedGraph, GraphSummary, encode_graph, pct, sorted_unique, top_ids

if TYPE_CHECKING:  # pragma: no cover
    import ipywidgets

    from .compare import GraphDiff
    from .depth import DepthChoice

__all__ = [
    "depth_chart",
    "depth_chart_svg",
    "depth_chart_text",
    "diff_widget",
    "graph_view",
    "graph_view_data",
    "graph_view_html",
    "summary_widget",
]

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")
OTHER_COLOR, UNKNOWN_COLOR = "#8c939a", "#c9ced3"
SVG_NS = "http://www.w3.org/2000/svg"  # a namespace name, only written into standalone .svg files


def compact(n: float) -> str:
    """1_234_567 → '1.23M', 12_345 → '12.3k', 999 → '999'."""
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.3g}{unit}"
    return f"{n:.0f}"


# ---------------------------------------------------------------------------------------------------------
# Depth chart
# ---------------------------------------------------------------------------------------------------------


def _depth_rows(choice: DepthChoice) -> list[tuple[int, int, bool, bool]]:
    return [(int(r["depth"]), int(r["cumulative"]), bool(r["fits"]), bool(r["chosen"])) for r in choice.table()]


def _y_max(rows: Sequence[tuple[int, int, bool, bool]], limit: int) -> float:
    top = max([c for _, c, _, _ in rows] + [1])
    return float(min(top, 2.5 * limit) if top > limit else limit) * 1.08


def _nice_step(span: float) -> float:
    raw = span / 4
    base = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    return next(base * m for m in (1, 2, 5, 10) if base * m >= raw)


def _depth_svg(
    rows: Sequence[tuple[int, int, bool, bool]], limit: int, *, width: int, height: int, standalone: bool
) -> str:
    left, right, top, bottom = 58, 16, 30, 40
    pw, ph = width - left - right, height - top - bottom
    ymax = _y_max(rows, limit)

    def y(v: float) -> float:
        return top + ph - min(v, ymax) / ymax * ph

    chosen = next((d for d, _, _, c in rows if c), None)
    title = "Internal links up to each depth (cumulative)" + (f", chosen depth {chosen}" if chosen is not None else "")
    ns = f' xmlns="{SVG_NS}"' if standalone else ""
    out = [
        f'<svg{ns} class="bg-depth-chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{html.escape(title)}" font-family="sans-serif" font-size="11">',
        f"<title>{html.escape(title)}</title>",
        f'<text x="{left}" y="16" font-size="13" font-weight="bold" fill="#222">{html.escape(title)}</text>',
    ]
    step = _nice_step(ymax)
    tick = 0.0
    while tick <= ymax:
        ty = y(tick)
        out.append(f'<line class="grid" x1="{left}" x2="{left + pw}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#e6e6e6"/>')
        out.append(f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" fill="#555">{compact(tick)}</text>')
        tick += step
    n = max(len(rows), 1)
    slot = pw / n
    bar = max(2.0, slot * 0.7)
    for i, (d, c, fits, is_chosen) in enumerate(rows):
        x = left + i * slot + (slot - bar) / 2
        cls, fill = ("chosen", "#1f6fb2") if is_chosen else (("fits", "#9cc0de") if fits else ("over", "#e8a7a1"))
        by = y(c)
        label = f"depth {d}: {c:,} links at depth ≤ {d}" + ("" if fits else " (over the limit)")
        out.append(
            f'<rect class="bar {cls}" x="{x:.1f}" y="{by:.1f}" width="{bar:.1f}" height="{top + ph - by:.1f}" '
            f'fill="{fill}"><title>{html.escape(label)}</title></rect>'
        )
        out.append(f'<text x="{x + bar / 2:.1f}" y="{top + ph + 14}" text-anchor="middle" fill="#333">{d}</text>')
        if is_chosen or c > ymax:
            mark = "▲ " if c > ymax else ""
            out.append(
                f'<text x="{x + bar / 2:.1f}" y="{max(by - 4, top - 2):.1f}" text-anchor="middle" '
                f'fill="#222">{mark}{compact(c)}</text>'
            )
    ly = y(limit)
    out.append(
        f'<line class="limit" x1="{left}" x2="{left + pw}" y1="{ly:.1f}" y2="{ly:.1f}" stroke="#c0392b" '
        'stroke-width="1.5" stroke-dasharray="6 4"/>'
    )
    out.append(f'<text x="{left + pw}" y="{ly - 5:.1f}" text-anchor="end" fill="#c0392b">limit {limit:,}</text>')
    out.append(f'<text x="{left + pw / 2:.1f}" y="{height - 6}" text-anchor="middle" fill="#555">click depth</text>')
    out.append("</svg>")
    return "\n".join(out)


def depth_chart_svg(choice: DepthChoice, *, width: int = 640, height: int = 260, standalone: bool = False) -> str:
    """An inline SVG: cumulative links per depth as bars, the export limit as a dashed line, the chosen bar dark.

    `standalone=True` adds the SVG namespace so the text can be saved as an .svg file.
    """
    return _depth_svg(_depth_rows(choice), choice.max_edges, width=width, height=height, standalone=standalone)


def depth_chart(choice: DepthChoice) -> ipywidgets.HTML:
    """The depth chart as a widget (for the wizard's Depth step)."""
    import ipywidgets

    return ipywidgets.HTML(value=depth_chart_svg(choice))


def depth_chart_text(choice: DepthChoice, *, width: int = 40) -> str:
    """The depth chart for a terminal or a papermill log: one bar per depth, '|' marks the limit."""
    rows = _depth_rows(choice)
    limit = choice.max_edges
    ymax = _y_max(rows, limit) / 1.08
    at = min(width, round(limit / ymax * width))
    lines = [
        f"Internal links up to each depth (cumulative); limit {limit:,} (|), chosen depth {choice.depth} (◀)",
        f"  {'depth':>5} {'cumulative':>12}",
    ]
    for d, c, fits, is_chosen in rows:
        filled = min(width, round(min(c, ymax) / ymax * width))
        cells = ["#" if i < filled else " " for i in range(width + 1)]
        if cells[at] == " ":
            cells[at] = "|"
        text = "".join(cells).rstrip() + (">" if c > ymax else "")
        mark = "  ◀ chosen" if is_chosen else ("" if fits else "  over the limit")
        lines.append(f"  {d:>5} {c:>12,}  {text}{mark}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------
# Tables (summary, diff)
# ---------------------------------------------------------------------------------------------------------

_CSS = """<style>
.bg-report{font-family:sans-serif;font-size:13px;color:#222;max-width:980px}
.bg-report h3{margin:14px 0 6px;font-size:15px}
.bg-report table{border-collapse:collapse;margin:4px 0 8px}
.bg-report td,.bg-report th{border-bottom:1px solid #e3e3e3;padding:3px 8px;text-align:left;vertical-align:top}
.bg-report td.n,.bg-report th.n{text-align:right;font-variant-numeric:tabular-nums}
.bg-report td.u{max-width:560px;overflow-wrap:anywhere}
.bg-report .note{color:#666}
</style>"""


def _td(value: Any, key: str = "") -> str:
    if value is None:
        return "<td></td>"
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, (int, np.integer)):
        return f'<td class="n">{int(value):,}</td>'
    if isinstance(value, float):
        return f'<td class="n">{value:,.3g}</td>'
    cls = ' class="u"' if key in ("url", "source", "target") else ""
    return f"<td{cls}>{html.escape(str(value))}</td>"


def html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], keys: Sequence[str] | None = None) -> str:
    """An HTML table, every cell escaped; `keys` name the columns (URL columns wrap)."""
    keys = keys or headers
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_td(v, k) for v, k in zip(row, keys, strict=True)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pages_html(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="note">None.</p>'
    keys = list(rows[0])
    return html_table(keys, [[r.get(k) for k in keys] for r in rows], keys)


def _histogram_svg(buckets: list[dict[str, Any]], *, height: int = 120) -> str:
    """Bars per power-of-two bucket, each labelled with its lower bound (the tooltip names the bucket)."""
    if not buckets:
        return ""
    width = max(420, 44 * len(buckets) + 10)
    top = max(b["pages"] for b in buckets) or 1
    slot = (width - 10) / len(buckets)
    parts = [f'<svg class="bg-histogram" width="{width}" height="{height}" font-family="sans-serif" font-size="10">']
    for i, b in enumerate(buckets):
        h = (height - 30) * b["pages"] / top
        x = 5 + i * slot
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{height - 18 - h:.1f}" width="{max(slot - 2, 1):.1f}" height="{h:.1f}" '
            f'fill="#9cc0de"><title>{html.escape(b["bucket"])} links: {b["pages"]:,} pages</title></rect>'
        )
        parts.append(
            f'<text x="{x + slot / 2:.1f}" y="{height - 5}" text-anchor="middle" fill="#555">{b["low"]:,}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def summary_html(s: GraphSummary) -> str:
    """The summary as an HTML fragment (tables, the in-degree histogram and, if known, the depth chart)."""
    loops = "dropped from" if s.self_loops_dropped else "kept in"
    counts = [
        ["pages (links ∪ meta)", s.pages],
        ["pages with outlinks", s.source_pages],
        ["links (rows)", s.edges],
        [f"self-loops ({loops} the statistics)", s.self_loops],
        ["unique links", s.unique_edges],
        ["duplicate links", s.duplicate_edges],
    ]
    if s.pages_in_meta is not None:
        counts += [
            ["pages in the meta file", s.pages_in_meta],
            ["linked pages without meta", s.pages_without_meta],
            ["orphans at this depth", s.orphans],
        ]
    out = [_CSS, '<div class="bg-report">', "<h3>Link graph</h3>", html_table(["", "count"], counts)]
    if s.depth_table and s.depth_limit is not None:
        rows = [(int(r["depth"]), int(r["cumulative"]), bool(r["fits"]), bool(r["chosen"])) for r in s.depth_table]
        out.append(_depth_svg(rows, s.depth_limit, width=640, height=240, standalone=False))
    for title, d in (("Inbound links per page", s.in_degree), ("Outbound links per page", s.out_degree)):
        out.append(f"<h3>{title}</h3>")
        out.append(
            f'<p class="note">Over {d.pages:,} {html.escape(d.over)}: mean {d.mean:g}, median {d.median:g}, '
            f"p90 {d.p90:g}, p99 {d.p99:g}, max {d.max:,}; {d.zero:,} with none.</p>"
        )
        out.append(_histogram_svg(d.histogram))
    out += [f"<h3>Most-linked pages (top {s.top})</h3>", _pages_html(s.top_pages)]
    if s.orphans is not None:
        out.append("<h3>Orphans at this depth</h3>")
        out.append(
            f'<p class="note">{s.orphans:,} of {s.pages_in_meta:,} pages of the meta file '
            f"({pct(s.orphan_share)}) receive no link in the export.</p>"
        )
        out.append(_pages_html(s.orphan_sample))
    if s.pagetypes is not None:
        out.append("<h3>Pages per page type</h3>")
        out.append(
            html_table(
                ["page type", "pages", "share", "inbound links", "orphans"],
                [[r["pagetype"], r["pages"], pct(r["share"]), r["inbound_links"], r["orphans"]] for r in s.pagetypes],
            )
        )
    if s.compliance is not None:
        c = s.compliance
        out.append("<h3>Compliance</h3>")
        out.append(
            html_table(
                ["", "value"],
                [
                    ["compliant pages", c["compliant_pages"]],
                    ["non-compliant pages", c["non_compliant_pages"]],
                    ["non-compliant pages receiving links", c["non_compliant_linked_pages"]],
                    ["… share of the non-compliant pages", pct(c["non_compliant_linked_share"])],
                    ["… share of the linked pages", pct(c["linked_pages_non_compliant_share"])],
                    ["links to non-compliant pages", c["links_to_non_compliant"]],
                    ["… share of the links", pct(c["links_to_non_compliant_share"])],
                ],
            )
        )
    out += [f'<p class="note">{html.escape(n)}</p>' for n in s.notes]
    out.append("</div>")
    return "\n".join(out)


def summary_widget(summary: GraphSummary) -> ipywidgets.HTML:
    """The summary as a widget of tables (for the wizard's Result step)."""
    import ipywidgets

    return ipywidgets.HTML(value=summary_html(summary))


def diff_html(d: GraphDiff) -> str:
    """A GraphDiff as an HTML fragment."""
    out = [
        _CSS,
        '<div class="bg-report">',
        f"<h3>What changed: {html.escape(d.old_label)} → {html.escape(d.new_label)}</h3>",
    ]
    out.append(
        html_table(
            ["", d.old_label, d.new_label, "added", "removed", "in both"],
            [
                ["distinct links", d.old_edges, d.new_edges, d.links_added, d.links_removed, d.links_kept],
                ["pages", d.old_pages, d.new_pages, d.pages_appeared, d.pages_disappeared, d.pages_kept],
            ],
        )
    )
    sections: list[tuple[str, list[dict[str, Any]]]] = [
        ("Gained the most inbound links", d.gained),
        ("Lost the most inbound links", d.lost),
        ("Pages that appeared", d.appeared_sample),
        ("Pages that disappeared", d.disappeared_sample),
    ]
    for title, rows in sections:
        if rows:
            out += [
                f"<h3>{title}</h3>",
                html_table(
                    ["url", d.old_label, d.new_label, "change"],
                    [[r["url"], r["old_inbound"], r["new_inbound"], f"{r['change']:+,}"] for r in rows],
                    ["url", "old", "new", "change"],
                ),
            ]
    for title, links in (("Links added", d.added_sample), ("Links removed", d.removed_sample)):
        if links:
            out += [
                f"<h3>{title} (first {len(links)})</h3>",
                html_table(["source", "target"], [[r["source"], r["target"]] for r in links]),
            ]
    if d.depth is not None:
        dd = d.depth
        out.append(
            f"<h3>Depth changes</h3><p>{dd['deeper']:,} deeper, {dd['shallower']:,} shallower, "
            f"{dd['same']:,} unchanged of {dd['pages_compared']:,} pages.</p>"
        )
    out += [f'<p class="note">{html.escape(n)}</p>' for n in d.notes]
    out.append("</div>")
    return "\n".join(out)


def diff_widget(diff: GraphDiff) -> ipywidgets.HTML:
    """A GraphDiff as a widget of tables."""
    import ipywidgets

    return ipywidgets.HTML(value=diff_html(diff))


# ---------------------------------------------------------------------------------------------------------
# Graph view
# ---------------------------------------------------------------------------------------------------------


def _groups(g: EncodedGraph, pages: np.ndarray, color_by: str | None) -> tuple[list[int], list[dict[str, Any]], str]:
    """(group index per shown page, groups [{label, color, pages}], what the colour means)."""
    meta = g.meta
    if (
        color_by is None
        or meta is None
        or (color_by != "pagetype" and color_by not in meta.flags)
        or (color_by == "pagetype" and meta.pagetype is None)
    ):
        return [0] * len(pages), [{"label": "page", "color": PALETTE[0], "pages": len(pages)}], "none"
    if color_by == "pagetype":
        labels = [meta.pagetype_of(int(p)) or UNKNOWN_LABEL for p in pages]
    else:
        flag = meta.flags[color_by]
        labels = [
            UNKNOWN_LABEL if not meta.present[p] else {1: "yes", 0: "no"}.get(int(flag[p]), "unknown") for p in pages
        ]
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    named = [lb for lb in sorted(counts, key=lambda lb: (-counts[lb], lb)) if lb != UNKNOWN_LABEL]
    if color_by in FLAG_COLUMNS:
        named = [lb for lb in ("yes", "no", "unknown") if lb in counts]
    shown, rest = named[: len(PALETTE)], named[len(PALETTE) :]
    flag_colors = {"yes": PALETTE[4], "no": PALETTE[2], "unknown": OTHER_COLOR}
    groups: list[dict[str, Any]] = [
        {"label": lb, "color": flag_colors[lb] if color_by in FLAG_COLUMNS else PALETTE[i], "pages": counts[lb]}
        for i, lb in enumerate(shown)
    ]
    index = {grp["label"]: i for i, grp in enumerate(groups)}
    if rest:
        index.update({lb: len(groups) for lb in rest})
        groups.append({"label": "other", "color": OTHER_COLOR, "pages": sum(counts[lb] for lb in rest)})
    if UNKNOWN_LABEL in counts:
        index[UNKNOWN_LABEL] = len(groups)
        groups.append({"label": UNKNOWN_LABEL, "color": UNKNOWN_COLOR, "pages": counts[UNKNOWN_LABEL]})
    return [index[lb] for lb in labels], groups, color_by


def graph_view_data(
    g: EncodedGraph,
    *,
    max_nodes: int = 2000,
    max_links: int = 20_000,
    color_by: str | None = "pagetype",
    size_by: str = "inbound",
) -> dict[str, Any]:
    """What the view draws: the most-linked pages (all if they fit), the links among them, groups and sizes."""
    inbound, _ = g.degrees()
    present = g.pages_mask()
    total_pages = int(present.sum())
    chosen = top_ids(inbound, g.urls, max_nodes, present)
    index = np.full(g.size, -1, dtype=np.int64)
    index[chosen] = np.arange(len(chosen))
    s, t = g.links()
    keep = (index[s] >= 0) & (index[t] >= 0)
    k = max(len(chosen), 1)
    pairs = sorted_unique(index[s[keep]] * k + index[t[keep]])
    among = len(pairs)
    if among > max_links:
        pairs = np.sort(np.random.default_rng(0).choice(pairs, size=max_links, replace=False))
    sizes_from = "inbound links"
    values = inbound[chosen].astype(np.float64)
    notes = []
    if size_by == "impressions":
        if g.meta is not None and "impressions" in g.meta.numbers:
            values = np.nan_to_num(g.meta.numbers["impressions"][chosen], nan=0.0)
            sizes_from = "impressions"
        else:
            notes.append("No impressions in the meta file: sized by inbound links.")
    elif size_by != "inbound":
        notes.append(f"Unknown size_by {size_by!r}: sized by inbound links.")
    vmax = float(values.max()) if len(values) else 0.0
    radius = 2.5 + 9.0 * np.sqrt(values / vmax) if vmax > 0 else np.full(len(chosen), 3.0)
    group, groups, colour = _groups(g, chosen, color_by)
    sample = len(chosen) < total_pages or among > len(pairs)
    caption = (
        f"{len(chosen):,} of {total_pages:,} pages"
        + (" (the most-linked)" if len(chosen) < total_pages else "")
        + (
            f", {len(pairs):,} of the {among:,} distinct links among them"
            if among > len(pairs)
            else f", the {among:,} distinct links among them"
        )
        + (f" — a sample: the view shows at most {max_nodes:,} pages and {max_links:,} links." if sample else ".")
    )
    impressions = g.meta.numbers.get("impressions") if g.meta is not None else None
    return {
        "nodes": {
            "url": g.url_list(chosen),
            "group": group,
            "r": [round(float(r), 2) for r in radius],
            "inbound": [int(v) for v in inbound[chosen]],
            "impressions": None
            if impressions is None
            else [None if math.isnan(v) else int(v) for v in impressions[chosen].tolist()],
        },
        "links": np.column_stack([pairs // k, pairs % k]).ravel().astype(int).tolist(),
        "groups": groups,
        "color_by": colour,
        "size_by": sizes_from,
        "sample": sample,
        "pages_total": total_pages,
        "links_total": among,
        "caption": caption,
        "notes": notes,
    }


_VIEW_CSS = """
body{margin:0;font-family:sans-serif;font-size:12px;color:#222;background:#fff}
#cap{padding:4px 8px;color:#444}
#wrap{position:relative;height:__H__px;border-top:1px solid #eee;border-bottom:1px solid #eee}
canvas{display:block;width:100%;height:100%;cursor:grab}
#tip{position:absolute;display:none;pointer-events:none;background:rgba(255,255,255,.96);border:1px solid #bbb;
 border-radius:4px;padding:4px 6px;max-width:520px;overflow-wrap:anywhere;box-shadow:0 1px 4px rgba(0,0,0,.15)}
#legend{padding:4px 8px}
#legend span{display:inline-block;margin-right:12px;white-space:nowrap}
#legend i{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:4px;vertical-align:-1px}
"""

# A small force layout drawn on a canvas. Positions start on a sunflower spiral (most-linked pages in the
# middle); each tick applies springs along links (stiffness 1 / smaller degree, the lighter end moves more),
# repulsion between pages closer than CELL (found through a uniform grid, so a tick is ~linear), and a weak
# pull to the centre; velocities decay and the temperature `alpha` cools until the layout stops.
_VIEW_JS = r"""
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("graph-data").textContent);
  var U = D.nodes.url, G = D.nodes.group, R = D.nodes.r, IN = D.nodes.inbound, IMP = D.nodes.impressions;
  var N = U.length, L = D.links, M = L.length / 2;
  var canvas = document.getElementById("view"), ctx = canvas.getContext("2d"), tip = document.getElementById("tip");
  var x = new Float64Array(N), y = new Float64Array(N), vx = new Float64Array(N), vy = new Float64Array(N);
  var deg = new Float64Array(N), i, k;
  for (k = 0; k < M; k++) { deg[L[2 * k]]++; deg[L[2 * k + 1]]++; }
  for (i = 0; i < N; i++) {
    var rr = 9 * Math.sqrt(i + 0.5), a = i * 2.39996;
    x[i] = rr * Math.cos(a); y[i] = rr * Math.sin(a);
  }
  var CELL = 48, REST = 36, CHARGE = 80, GRAVITY = 0.015;
  var alpha = 1, running = N > 0, view = { k: 1, tx: 0, ty: 0 }, moved = false, hover = -1, pinned = false;
  var W = 0, H = 0, dpr = window.devicePixelRatio || 1, queued = false;

  function tick() {
    var s, t, dx, dy, d, f, w;
    for (k = 0; k < M; k++) {
      s = L[2 * k]; t = L[2 * k + 1];
      dx = x[t] + vx[t] - x[s] - vx[s]; dy = y[t] + vy[t] - y[s] - vy[s];
      d = Math.sqrt(dx * dx + dy * dy) || 0.01;
      f = (d - REST) / d * alpha * 0.6 / Math.max(1, Math.min(deg[s], deg[t]));
      dx *= f; dy *= f; w = deg[s] / (deg[s] + deg[t]);
      vx[t] -= dx * w; vy[t] -= dy * w; vx[s] += dx * (1 - w); vy[s] += dy * (1 - w);
    }
    var cells = new Map(), cx, cy, key, list, j, d2, n2, ox, oy;
    for (i = 0; i < N; i++) {
      key = Math.floor(x[i] / CELL) * 1048576 + Math.floor(y[i] / CELL);
      list = cells.get(key); if (list) list.push(i); else cells.set(key, [i]);
    }
    for (i = 0; i < N; i++) {
      cx = Math.floor(x[i] / CELL); cy = Math.floor(y[i] / CELL);
      for (ox = -1; ox <= 1; ox++) for (oy = -1; oy <= 1; oy++) {
        list = cells.get((cx + ox) * 1048576 + cy + oy); if (!list) continue;
        for (n2 = 0; n2 < list.length; n2++) {
          j = list[n2]; if (j <= i) continue;
          dx = x[j] - x[i]; dy = y[j] - y[i]; d2 = dx * dx + dy * dy;
          if (d2 > CELL * CELL) continue;
          if (d2 < 1) { dx = (i % 7) - 3 + 0.5; dy = (j % 5) - 2 + 0.5; d2 = dx * dx + dy * dy; }
          f = CHARGE * alpha / d2;
          vx[i] -= dx * f; vy[i] -= dy * f; vx[j] += dx * f; vy[j] += dy * f;
        }
      }
    }
    for (i = 0; i < N; i++) {
      vx[i] = (vx[i] - x[i] * GRAVITY * alpha) * 0.6; vy[i] = (vy[i] - y[i] * GRAVITY * alpha) * 0.6;
      x[i] += vx[i]; y[i] += vy[i];
    }
    alpha *= 0.985;
    if (alpha < 0.004) running = false;
  }

  function fit() {
    if (!N) return;
    var x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (i = 0; i < N; i++) {
      x0 = Math.min(x0, x[i]); x1 = Math.max(x1, x[i]); y0 = Math.min(y0, y[i]); y1 = Math.max(y1, y[i]);
    }
    var kk = Math.min((W - 30) / Math.max(x1 - x0, 1), (H - 30) / Math.max(y1 - y0, 1), 4);
    view.k = kk; view.tx = W / 2 - kk * (x0 + x1) / 2; view.ty = H / 2 - kk * (y0 + y1) / 2;
  }

  function draw() {
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    ctx.setTransform(dpr * view.k, 0, 0, dpr * view.k, dpr * view.tx, dpr * view.ty);
    var s, t, g;
    ctx.lineWidth = 0.7 / view.k; ctx.strokeStyle = "rgba(110,120,130,0.22)"; ctx.beginPath();
    for (k = 0; k < M; k++) { s = L[2 * k]; t = L[2 * k + 1]; ctx.moveTo(x[s], y[s]); ctx.lineTo(x[t], y[t]); }
    ctx.stroke();
    if (hover >= 0) {
      ctx.lineWidth = 1.4 / view.k; ctx.strokeStyle = "rgba(20,20,20,0.75)"; ctx.beginPath();
      for (k = 0; k < M; k++) {
        s = L[2 * k]; t = L[2 * k + 1];
        if (s === hover || t === hover) { ctx.moveTo(x[s], y[s]); ctx.lineTo(x[t], y[t]); }
      }
      ctx.stroke();
    }
    for (g = 0; g < D.groups.length; g++) {
      ctx.fillStyle = D.groups[g].color; ctx.beginPath();
      for (i = 0; i < N; i++) {
        if (G[i] !== g) continue;
        var r = R[i] / view.k; ctx.moveTo(x[i] + r, y[i]); ctx.arc(x[i], y[i], r, 0, 2 * Math.PI);
      }
      ctx.fill();
    }
    if (hover >= 0) {
      ctx.lineWidth = 2 / view.k; ctx.strokeStyle = "#111"; ctx.beginPath();
      ctx.arc(x[hover], y[hover], (R[hover] + 2) / view.k, 0, 2 * Math.PI); ctx.stroke();
    }
  }

  function frame() {
    queued = false;
    if (!W || !H) return;  // not laid out yet (hidden): resize() schedules again
    if (running) { tick(); if (N < 1500) tick(); if (!moved) fit(); }
    draw();
    if (running) schedule();
  }
  function schedule() { if (!queued) { queued = true; window.requestAnimationFrame(frame); } }

  function resize() {
    W = canvas.clientWidth; H = canvas.clientHeight;
    canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
    if (!moved) fit();
    schedule();
  }

  function nearest(mx, my) {
    var best = -1, bd = Infinity, sx, sy, dd;
    for (i = 0; i < N; i++) {
      sx = x[i] * view.k + view.tx - mx; sy = y[i] * view.k + view.ty - my; dd = sx * sx + sy * sy;
      if (dd < bd && dd <= (R[i] + 4) * (R[i] + 4)) { bd = dd; best = i; }
    }
    return best;
  }

  function showTip(n, mx, my) {
    if (n < 0) { tip.style.display = "none"; return; }
    var lines = [U[n], D.groups[G[n]].label + " · " + IN[n].toLocaleString() + " inbound links"];
    if (IMP && IMP[n] !== null) lines.push(IMP[n].toLocaleString() + " impressions");
    tip.textContent = "";
    lines.forEach(function (text, n2) {
      var el = document.createElement(n2 ? "div" : "b"); el.textContent = text; tip.appendChild(el);
    });
    tip.style.display = "block";
    tip.style.left = Math.min(mx + 12, Math.max(0, W - tip.offsetWidth - 4)) + "px";
    tip.style.top = (my + 14 + tip.offsetHeight > H ? my - tip.offsetHeight - 8 : my + 14) + "px";
  }

  var drag = null;
  canvas.addEventListener("mousedown", function (e) {
    drag = { x: e.offsetX, y: e.offsetY, tx: view.tx, ty: view.ty, far: false }; canvas.style.cursor = "grabbing";
  });
  window.addEventListener("mouseup", function (e) {
    if (drag && !drag.far) {
      pinned = hover >= 0 && !pinned;
      if (!pinned) showTip(nearest(e.offsetX, e.offsetY), e.offsetX, e.offsetY);
    }
    drag = null; canvas.style.cursor = "grab";
  });
  canvas.addEventListener("mousemove", function (e) {
    if (drag) {
      var dx = e.offsetX - drag.x, dy = e.offsetY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) { drag.far = true; moved = true; }
      if (drag.far) { view.tx = drag.tx + dx; view.ty = drag.ty + dy; schedule(); return; }
    }
    if (pinned) return;
    var n = nearest(e.offsetX, e.offsetY);
    if (n !== hover) { hover = n; schedule(); }
    showTip(n, e.offsetX, e.offsetY);
  });
  canvas.addEventListener("mouseleave", function () { if (!pinned) { hover = -1; showTip(-1); schedule(); } });
  canvas.addEventListener("wheel", function (e) {
    e.preventDefault();
    var f = Math.exp(-e.deltaY * 0.0015), kk = Math.max(0.02, Math.min(50, view.k * f));
    view.tx = e.offsetX - (e.offsetX - view.tx) * kk / view.k;
    view.ty = e.offsetY - (e.offsetY - view.ty) * kk / view.k;
    view.k = kk; moved = true; schedule();
  }, { passive: false });
  canvas.addEventListener("dblclick", function () { moved = false; fit(); schedule(); });
  window.addEventListener("resize", resize);
  if (window.ResizeObserver) new ResizeObserver(resize).observe(canvas);  // e.g. shown after a hidden tab
  resize();
})();
"""

_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"


def graph_view_html(
    graph: EncodedGraph | str | Path,
    meta_path: str | Path | None = None,
    *,
    max_nodes: int = 2000,
    max_links: int = 20_000,
    color_by: str | None = "pagetype",
    size_by: str = "inbound",
    title: str = "Link graph",
    height: int = 520,
) -> str:
    """A self-contained HTML page with the interactive view (no external asset; a CSP forbids fetching any)."""
    g = graph if isinstance(graph, EncodedGraph) else encode_graph(graph, meta_path)
    data = graph_view_data(g, max_nodes=max_nodes, max_links=max_links, color_by=color_by, size_by=size_by)
    payload = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e")
    payload = payload.replace("&", "\\u0026")
    colour = {"none": "", "pagetype": "page type"}.get(data["color_by"], data["color_by"])
    legend = "".join(
        f'<span><i style="background:{grp["color"]}"></i>{html.escape(grp["label"])} ({grp["pages"]:,})</span>'
        for grp in data["groups"]
    )
    how = (f"Colour: {html.escape(colour)}. " if colour else "") + f"Size: {html.escape(data['size_by'])}. "
    caption = (
        f"<b>{html.escape(title)}</b> — {html.escape(data['caption'])} {how}"
        "Scroll to zoom, drag to pan, hover for the URL, click to pin it, double-click to fit."
        + "".join(f" {html.escape(n)}" for n in data["notes"])
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        f"<title>{html.escape(title)}</title><style>{_VIEW_CSS.replace('__H__', str(int(height)))}</style></head>\n"
        f'<body><div id="cap">{caption}</div>'
        '<div id="wrap"><canvas id="view"></canvas><div id="tip"></div></div>'
        f'<div id="legend">{legend}</div>\n'
        f'<script type="application/json" id="graph-data">{payload}</script>\n'
        f"<script>{_VIEW_JS}</script>\n</body></html>\n"
    )


def graph_view(
    links_path: str | Path | EncodedGraph,
    meta_path: str | Path | None = None,
    *,
    max_nodes: int = 2000,
    max_links: int = 20_000,
    color_by: str | None = "pagetype",
    size_by: str = "inbound",
    title: str = "Link graph",
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
        '<iframe class="bg-graph-view" title="link graph" sandbox="allow-scripts" '
        f'style="width:100%;height:{int(height) + 90}px;border:0" srcdoc="{html.escape(doc, quote=True)}"></iframe>'
    )
    return ipywidgets.HTML(value=frame, layout=ipywidgets.Layout(width="100%"))
