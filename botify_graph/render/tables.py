"""The depth table as text (a terminal, `print(choice.table())`) and as HTML with bars (the wizard, a notebook).

Both take the rows of `DepthChoice.table()` (depth, edges, cumulative, fits, chosen) and the limit, so
nothing here imports the class that made them.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from . import labels as L

__all__ = ["depth_table_html", "depth_table_text"]

_TH = "text-align:left;padding:3px 10px;border-bottom:1px solid #ccc"


def depth_table_text(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows as an aligned text table: numbers right-aligned, the chosen depth and the limit marked."""
    body = [
        [
            f"{int(r['depth'])}",
            f"{int(r['edges']):,}",
            f"{int(r['cumulative']):,}",
            L.DEPTH_FITS[bool(r["fits"])],
            L.CHOSEN if r["chosen"] else ("" if r["fits"] else L.OVER_LIMIT),
        ]
        for r in rows
    ]
    headers = list(L.DEPTH_COLUMNS)
    widths = [max(len(c) for c in col) for col in zip(headers, *body, strict=True)]
    numeric = (True, True, True, False, False)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if right else c.ljust(w) for c, w, right in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(headers), *(line(c) for c in body)])


def depth_table_html(
    cumulative: Sequence[tuple[int, int]],
    per_depth: Sequence[tuple[int, int]],
    max_edges: int,
    chosen: int,
    *,
    bars: bool = True,
) -> str:
    """Links per depth (with a bar each unless `bars=False`), the limit line between the last fitting and the
    first over-limit row, and the chosen depth highlighted."""
    if not cumulative:
        return ""
    per = dict(per_depth)
    biggest = max(max(c for _, c in cumulative), 1)
    # scale to the data when the limit is far above it, so the bars stay visible
    top = biggest if max_edges > 1.25 * biggest else max(biggest, max_edges)
    limit_at = 100 * max_edges / top if max_edges <= top else None
    columns = 4 if bars else 3

    def limit_row(text: str) -> str:
        return (
            f'<tr><td colspan="{columns + 1}" style="padding:0 10px"><div style="border-top:2px dashed #c62828;'
            f'color:#c62828;font-size:0.85em">{html.escape(text)}</div></td></tr>'
        )

    rows = []
    limit_drawn = False
    for depth, cum in cumulative:
        fits = cum <= max_edges
        if not fits and not limit_drawn:
            rows.append(limit_row(L.DEPTH_LIMIT_ROW.format(limit=max_edges)))
            limit_drawn = True
        cells = [str(depth), f"{per.get(depth, 0):,}", f"{cum:,}"]
        if bars:
            color = "#2e7d32" if depth == chosen else ("#90caf9" if fits else "#ef9a9a")
            line = (
                f'<div style="position:absolute;top:-2px;left:{limit_at:.1f}%;height:16px;'
                'border-left:2px dashed #c62828"></div>'
                if limit_at is not None
                else ""
            )
            cells.append(
                '<div style="position:relative;height:12px;width:200px;max-width:30vw;background:#f5f5f5">'
                f'<div style="height:12px;width:{min(100.0, 100 * cum / top):.1f}%;background:{color}"></div>'
                f"{line}</div>"
            )
        mark = L.CHOSEN if depth == chosen else ("" if fits else L.OVER_LIMIT)
        cells.append(f'<span style="font-size:0.85em;white-space:nowrap">{html.escape(mark)}</span>')
        style = "background:#e8f5e9;font-weight:600;" if depth == chosen else ""
        rows.append("<tr>" + "".join(f'<td style="padding:2px 10px;{style}">{c}</td>' for c in cells) + "</tr>")
    if not limit_drawn:
        rows.append(limit_row(L.DEPTH_LIMIT_ALL_FIT.format(limit=max_edges)))
    headers = [*L.DEPTH_TABLE_COLUMNS, *([""] if bars else []), ""]
    head = "".join(f'<th style="{_TH}">{html.escape(h)}</th>' for h in headers)
    return (
        '<table class="bg-depth-table" style="border-collapse:collapse;font-size:0.92em;margin:4px 0">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
