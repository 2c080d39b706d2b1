"""Charts as plain SVG strings (nothing fetched, nothing to install) and as text for a terminal.

depth_chart_svg(choice)     cumulative links per depth, the export limit, the chosen depth
depth_chart_text(choice)    the same for a terminal or a papermill log
histogram_svg(buckets)      a degree distribution in power-of-two buckets
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import labels as L
from .formats import compact

if TYPE_CHECKING:  # pragma: no cover
    from ..depth import DepthChoice

__all__ = ["SVG_NS", "depth_chart_svg", "depth_chart_text", "depth_rows", "depth_svg_rows", "histogram_svg"]

SVG_NS = "http://www.w3.org/2000/svg"  # a namespace name, only written into standalone .svg files
DepthRow = tuple[int, int, bool, bool]  # depth, cumulative links, fits, chosen


def depth_rows(table: Iterable[Mapping[str, Any]]) -> list[DepthRow]:
    """The chart's rows from the rows of `DepthChoice.table()` (or `GraphSummary.depth_table`, their copy)."""
    return [(int(r["depth"]), int(r["cumulative"]), bool(r["fits"]), bool(r["chosen"])) for r in table]


def _y_max(rows: Sequence[DepthRow], limit: int) -> float:
    top = max([c for _, c, _, _ in rows] + [1])
    return float(min(top, 2.5 * limit) if top > limit else limit) * 1.08


def _nice_step(span: float) -> float:
    raw = span / 4
    base = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    return next(base * m for m in (1, 2, 5, 10) if base * m >= raw)


Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def text_width(text: str, size: float = 11) -> float:
    """A generous estimate of a sans-serif text's width in pixels (no font metrics in a pure function)."""
    return len(text) * size * 0.62


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_label(
    width: float, line_y: float, obstacles: list[Box], *, x_min: float, x_max: float
) -> tuple[float, float]:
    """Where to write a label of `width` px beside a horizontal line at `line_y` without touching `obstacles`:
    (right end x, baseline y). Tried in order: just above the line, from the right end leftwards; just below
    it; else (None found) the right end above the line."""
    for baseline in (line_y - 5, line_y + 14):
        x_end = x_max
        while x_end - width >= x_min - 0.5:
            box = (x_end - width - 4, baseline - 12, x_end + 4, baseline + 4)
            if not any(_overlaps(box, o) for o in obstacles):
                return x_end, baseline
            x_end -= 4
    return x_max, line_y - 5


def depth_svg_rows(rows: Sequence[DepthRow], limit: int, *, width: int, height: int, standalone: bool) -> str:
    """The depth chart of (depth, cumulative, fits, chosen) rows (see `depth_chart_svg`).

    The limit's label is placed where it touches no bar, no value and no title (the line crosses the bars
    over the limit, so "on the line at the right end" would sit on them); failing that, under the chart.
    """
    left, right, top, bottom = 58, 16, 34, 40
    pw, ph = width - left - right, height - top - bottom
    ymax = _y_max(rows, limit)

    def y(v: float) -> float:
        return top + ph - min(v, ymax) / ymax * ph

    chosen = next((d for d, _, _, c in rows if c), None)
    title = L.DEPTH_CHART_TITLE + (L.DEPTH_CHART_CHOSEN.format(depth=chosen) if chosen is not None else "")
    ns = f' xmlns="{SVG_NS}"' if standalone else ""
    out = [
        f'<svg{ns} class="bg-depth-chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{html.escape(title)}" font-family="sans-serif" font-size="11" '
        'style="max-width:100%;height:auto">',
        f"<title>{html.escape(title)}</title>",
        f'<text x="{left}" y="16" font-size="13" font-weight="bold" fill="#222">{html.escape(title)}</text>',
    ]
    obstacles: list[Box] = [(left, 2, left + text_width(title, 13), 20)]
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
        label = L.DEPTH_CHART_BAR.format(depth=d, cumulative=c) + ("" if fits else f" ({L.OVER_LIMIT})")
        out.append(
            f'<rect class="bar {cls}" x="{x:.1f}" y="{by:.1f}" width="{bar:.1f}" height="{top + ph - by:.1f}" '
            f'fill="{fill}"><title>{html.escape(label)}</title></rect>'
        )
        obstacles.append((x, by, x + bar, top + ph))
        out.append(f'<text x="{x + bar / 2:.1f}" y="{top + ph + 14}" text-anchor="middle" fill="#333">{d}</text>')
        if is_chosen or c > ymax:
            mark = "▲ " if c > ymax else ""
            value = f"{mark}{compact(c)}"
            vy = max(by - 4, top - 2)
            half = text_width(value) / 2
            obstacles.append((x + bar / 2 - half, vy - 11, x + bar / 2 + half, vy + 3))
            out.append(
                f'<text x="{x + bar / 2:.1f}" y="{vy:.1f}" text-anchor="middle" fill="#222">{html.escape(value)}</text>'
            )
    ly = y(limit)
    out.append(
        f'<line class="limit" x1="{left}" x2="{left + pw}" y1="{ly:.1f}" y2="{ly:.1f}" stroke="#c0392b" '
        'stroke-width="1.5" stroke-dasharray="6 4"/>'
    )
    limit_text = L.DEPTH_CHART_LIMIT.format(limit=limit)
    lx, lyb = place_label(text_width(limit_text), ly, obstacles, x_min=left + 2, x_max=left + pw - 2)
    if any(
        _overlaps((lx - text_width(limit_text) - 2, lyb - 11, lx + 2, lyb + 3), o) for o in obstacles
    ):  # nowhere beside the line: under the chart, at the right, where the axis title is not
        lx, lyb = left + pw, height - 6
    out.append(
        f'<text class="limit-label" x="{lx:.1f}" y="{lyb:.1f}" text-anchor="end" fill="#c0392b">'
        f"{html.escape(limit_text)}</text>"
    )
    axis = html.escape(L.DEPTH_CHART_AXIS)
    out.append(f'<text x="{left + pw / 2:.1f}" y="{height - 6}" text-anchor="middle" fill="#555">{axis}</text>')
    out.append("</svg>")
    return "\n".join(out)


def depth_chart_svg(choice: DepthChoice, *, width: int = 640, height: int = 260, standalone: bool = False) -> str:
    """An inline SVG: cumulative links per depth as bars, the export limit as a dashed line, the chosen bar dark.

    `standalone=True` adds the SVG namespace so the text can be saved as an .svg file.
    """
    return depth_svg_rows(
        depth_rows(choice.table()), choice.max_edges, width=width, height=height, standalone=standalone
    )


def depth_chart_text(choice: DepthChoice, *, width: int = 40) -> str:
    """The depth chart for a terminal or a papermill log: one bar per depth, '|' marks the limit."""
    rows = depth_rows(choice.table())
    limit = choice.max_edges
    ymax = _y_max(rows, limit) / 1.08
    at = min(width, round(limit / ymax * width))
    lines = [L.DEPTH_TEXT_TITLE.format(limit=limit, depth=choice.depth), f"  {'depth':>5} {'cumulative':>12}"]
    for d, c, fits, is_chosen in rows:
        filled = min(width, round(min(c, ymax) / ymax * width))
        cells = ["#" if i < filled else " " for i in range(width + 1)]
        if cells[at] == " ":
            cells[at] = "|"
        text = "".join(cells).rstrip() + (">" if c > ymax else "")
        mark = f"  {L.CHOSEN}" if is_chosen else ("" if fits else f"  {L.OVER_LIMIT}")
        lines.append(f"  {d:>5} {c:>12,}  {text}{mark}")
    return "\n".join(lines)


def histogram_svg(buckets: Sequence[dict[str, Any]], *, height: int = 120) -> str:
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
        tip = html.escape(L.HISTOGRAM_BAR.format(bucket=b["bucket"], pages=b["pages"]))
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{height - 18 - h:.1f}" width="{max(slot - 2, 1):.1f}" height="{h:.1f}" '
            f'fill="#9cc0de"><title>{tip}</title></rect>'
        )
        parts.append(
            f'<text x="{x + slot / 2:.1f}" y="{height - 5}" text-anchor="middle" fill="#555">{b["low"]:,}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
