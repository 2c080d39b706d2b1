"""Charts as plain SVG strings (nothing fetched, nothing to install) and as text for a terminal.

depth_chart_svg(choice)     cumulative links per depth, the export limit, the chosen depth
depth_chart_text(choice)    the same for a terminal or a papermill log
histogram_svg(buckets)      a degree distribution in power-of-two buckets
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import labels as L
from .formats import compact

if TYPE_CHECKING:  # pragma: no cover
    from ..depth import DepthChoice

__all__ = ["SVG_NS", "depth_chart_svg", "depth_chart_text", "depth_svg_rows", "histogram_svg"]

SVG_NS = "http://www.w3.org/2000/svg"  # a namespace name, only written into standalone .svg files
DepthRow = tuple[int, int, bool, bool]  # depth, cumulative links, fits, chosen


def _depth_rows(choice: DepthChoice) -> list[DepthRow]:
    return [(int(r["depth"]), int(r["cumulative"]), bool(r["fits"]), bool(r["chosen"])) for r in choice.table()]


def _y_max(rows: Sequence[DepthRow], limit: int) -> float:
    top = max([c for _, c, _, _ in rows] + [1])
    return float(min(top, 2.5 * limit) if top > limit else limit) * 1.08


def _nice_step(span: float) -> float:
    raw = span / 4
    base = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    return next(base * m for m in (1, 2, 5, 10) if base * m >= raw)


def depth_svg_rows(rows: Sequence[DepthRow], limit: int, *, width: int, height: int, standalone: bool) -> str:
    """The depth chart of (depth, cumulative, fits, chosen) rows (see `depth_chart_svg`)."""
    left, right, top, bottom = 58, 16, 30, 40
    pw, ph = width - left - right, height - top - bottom
    ymax = _y_max(rows, limit)

    def y(v: float) -> float:
        return top + ph - min(v, ymax) / ymax * ph

    chosen = next((d for d, _, _, c in rows if c), None)
    title = L.DEPTH_CHART_TITLE + (L.DEPTH_CHART_CHOSEN.format(depth=chosen) if chosen is not None else "")
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
        label = L.DEPTH_CHART_BAR.format(depth=d, cumulative=c) + ("" if fits else f" ({L.OVER_LIMIT})")
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
    limit_text = html.escape(L.DEPTH_CHART_LIMIT.format(limit=limit))
    out.append(f'<text x="{left + pw}" y="{ly - 5:.1f}" text-anchor="end" fill="#c0392b">{limit_text}</text>')
    axis = html.escape(L.DEPTH_CHART_AXIS)
    out.append(f'<text x="{left + pw / 2:.1f}" y="{height - 6}" text-anchor="middle" fill="#555">{axis}</text>')
    out.append("</svg>")
    return "\n".join(out)


def depth_chart_svg(choice: DepthChoice, *, width: int = 640, height: int = 260, standalone: bool = False) -> str:
    """An inline SVG: cumulative links per depth as bars, the export limit as a dashed line, the chosen bar dark.

    `standalone=True` adds the SVG namespace so the text can be saved as an .svg file.
    """
    return depth_svg_rows(_depth_rows(choice), choice.max_edges, width=width, height=height, standalone=standalone)


def depth_chart_text(choice: DepthChoice, *, width: int = 40) -> str:
    """The depth chart for a terminal or a papermill log: one bar per depth, '|' marks the limit."""
    rows = _depth_rows(choice)
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
