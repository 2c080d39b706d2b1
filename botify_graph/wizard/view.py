"""The wizard's look: cards with a numbered title, a state badge and a one-line summary, and HTML helpers.

Only ipywidgets and inline styles: no CDN assets, no icon fonts (unicode symbols instead of `icon=`),
so it looks the same in JupyterLab, in Voila offline and in a static render. Every text that came from
a person or an API goes through `esc`.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w

from ..render.formats import human_bytes
from .model import StepState

MAX_WIDTH = "900px"
GAP = "8px"
DESC = {"description_width": "initial"}

COLORS = {
    StepState.INIT: "#9e9e9e",
    StepState.READY: "#1565c0",
    StepState.ACTIVE: "#ef6c00",
    StepState.SUCCESS: "#2e7d32",
    StepState.FAIL: "#c62828",
}
BADGES = {
    StepState.INIT: "○",
    StepState.READY: "●",
    StepState.ACTIVE: "…",
    StepState.SUCCESS: "✓",
    StepState.FAIL: "✗",
}


def esc(text: object) -> str:
    """HTML-escape anything for display."""
    return html.escape(str(text), quote=True)


def note(text: str, *, color: str = "#555") -> str:
    """A small paragraph of already-escaped HTML."""
    return f'<div style="color:{color};font-size:0.92em;line-height:1.45;margin:2px 0">{text}</div>'


def error_html(message: str) -> str:
    """The error box of a card: a readable message, never a traceback."""
    return (
        '<div style="border-left:4px solid #c62828;background:#fdecea;color:#611a15;padding:6px 10px;'
        f'margin:4px 0;white-space:pre-wrap;line-height:1.45">✗ {esc(message)}</div>'
    )


def ok_html(text: str) -> str:
    """A success line (already-escaped HTML)."""
    return f'<div style="color:#1b5e20;margin:2px 0;line-height:1.45">✓ {text}</div>'


def link(text: str, href: str | None) -> str:
    """An <a> to a relative path when there is one, else the path as code."""
    if href:
        return (
            f'<a href="{esc(href)}" target="_blank" rel="noopener" '
            f'style="color:#1565c0;text-decoration:underline">{esc(text)}</a>'
        )
    return f"<code>{esc(text)}</code>"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, highlight: Sequence[bool] = ()) -> str:
    """A compact HTML table; cells are already-escaped HTML; highlighted rows are tinted."""
    th = "".join(f'<th style="text-align:left;padding:3px 10px;border-bottom:1px solid #ccc">{h}</th>' for h in headers)
    body = []
    for i, row in enumerate(rows):
        bg = "background:#e8f5e9;font-weight:600;" if i < len(highlight) and highlight[i] else ""
        tds = "".join(f'<td style="padding:3px 10px;{bg}">{c}</td>' for c in row)
        body.append(f"<tr>{tds}</tr>")
    thead = f"<thead><tr>{th}</tr></thead>" if any(headers) else ""
    return (
        '<table style="border-collapse:collapse;font-size:0.92em;margin:4px 0">'
        f"{thead}<tbody>{''.join(body)}</tbody></table>"
    )


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
            f'color:#c62828;font-size:0.85em">{text}</div></td></tr>'
        )

    rows = []
    limit_drawn = False
    for depth, cum in cumulative:
        fits = cum <= max_edges
        if not fits and not limit_drawn:
            rows.append(limit_row(f"limit {max_edges:,} rows"))
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
                '<div style="position:relative;height:12px;width:200px;background:#f5f5f5">'
                f'<div style="height:12px;width:{min(100.0, 100 * cum / top):.1f}%;background:{color}"></div>'
                f"{line}</div>"
            )
        mark = "◀ chosen" if depth == chosen else ("" if fits else "over the limit")
        cells.append(f'<span style="font-size:0.85em;white-space:nowrap">{mark}</span>')
        style = "background:#e8f5e9;font-weight:600;" if depth == chosen else ""
        rows.append("<tr>" + "".join(f'<td style="padding:2px 10px;{style}">{c}</td>' for c in cells) + "</tr>")
    if not limit_drawn:
        rows.append(limit_row(f"limit {max_edges:,} rows (the whole graph fits)"))
    headers = ["depth", "links at depth", "links up to depth"] + ([""] if bars else []) + [""]
    head = "".join(
        f'<th style="text-align:left;padding:3px 10px;border-bottom:1px solid #ccc">{h}</th>' for h in headers
    )
    return (
        '<table style="border-collapse:collapse;font-size:0.92em;margin:4px 0">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def button(label: str, *, primary: bool = False, tooltip: str = "", width: str = "auto") -> w.Button:
    """A button with a unicode label (no icon font)."""
    return w.Button(
        description=label,
        button_style="primary" if primary else "",
        tooltip=tooltip or label,
        layout=w.Layout(width=width, min_width="90px", align_self="flex-start"),
    )


def show(widget: w.DOMWidget, visible: bool) -> None:
    """Show or hide a widget without removing it from the layout tree."""
    widget.layout.display = None if visible else "none"


class Confirm:
    """A hidden question row: `ask(text, on_yes)` shows it; either answer hides it again."""

    def __init__(self, yes: str = "Yes", no: str = "Cancel") -> None:
        self.text = w.HTML()
        self.yes = button(yes)
        self.yes.button_style = "danger"
        self.no = button(no)
        self.box = w.HBox(
            [self.text, self.yes, self.no],
            layout=w.Layout(
                display="none",
                align_items="center",
                flex_flow="row wrap",
                padding="4px 8px",
                margin="4px 0",
                border="1px solid #ffb74d",
                width="100%",
            ),
        )
        self._on_yes: Callable[[], None] | None = None
        self.yes.on_click(self._yes)
        self.no.on_click(self._no)

    def ask(self, text: str, on_yes: Callable[[], None], *, yes: str | None = None) -> None:
        self.text.value = f'<span style="margin-right:10px">⚠ {esc(text)}</span>'
        if yes:
            self.yes.description = yes
        self._on_yes = on_yes
        show(self.box, True)

    @property
    def asking(self) -> bool:
        return self.box.layout.display != "none"

    def hide(self) -> None:
        self._on_yes = None
        show(self.box, False)

    def _yes(self, _: Any = None) -> None:
        action, self._on_yes = self._on_yes, None
        show(self.box, False)
        if action is not None:
            action()

    def _no(self, _: Any = None) -> None:
        self.hide()


class Card:
    """One step's card: header (badge, number and title, summary, Change), body, messages and actions.

    A collapsed card is its header only. The body holds the step's own widgets; `status` is an info line,
    `error` the card's error area, and the action row carries Retry and Next.
    """

    def __init__(self, number: int, title: str) -> None:
        self.number = number
        self.title = title
        self.state = StepState.INIT
        self.badge = w.HTML(layout=w.Layout(width="28px", min_width="28px"))
        self.heading = w.HTML(layout=w.Layout(min_width="150px"))
        self.summary = w.HTML(layout=w.Layout(flex="1 1 auto", overflow="hidden"))
        self.change = button("✎ Change", tooltip="Go back to this step (later steps are cleared)")
        self.header = w.HBox(
            [self.badge, self.heading, self.summary, self.change],
            layout=w.Layout(align_items="center", width="100%", padding="2px 4px"),
        )
        self.content = w.VBox(layout=w.Layout(width="100%"))
        self.status = w.HTML()
        self.error = w.HTML()
        self.retry = button("↻ Retry")
        self.next = button("Next ›", primary=True)
        self.actions = w.HBox([self.retry, self.next], layout=w.Layout(margin="6px 0 0 0", flex_flow="row wrap"))
        self.confirm = Confirm()
        self.body = w.VBox(
            [self.content, self.status, self.error, self.confirm.box, self.actions],
            layout=w.Layout(width="100%", padding="0 8px 6px 36px"),
        )
        self.box = w.VBox(
            [self.header, self.body],
            layout=w.Layout(
                width="100%",
                margin=f"0 0 {GAP} 0",
                padding="4px",
                border="1px solid #e0e0e0",
                border_left="4px solid #9e9e9e",
            ),
        )
        self.render(StepState.INIT, expanded=False, summary="", can_change=False)

    def set_content(self, children: Sequence[w.Widget]) -> None:
        self.content.children = tuple(children)

    def render(self, state: StepState, *, expanded: bool, summary: str, can_change: bool, dim: bool = False) -> None:
        """Draw the header for `state`, show or hide the body, and the Change button."""
        self.state = state
        color = COLORS[state]
        self.badge.value = (
            f'<span style="display:inline-block;width:22px;height:22px;border-radius:11px;background:{color};'
            f'color:white;text-align:center;line-height:22px;font-weight:700">{BADGES[state]}</span>'
        )
        weight = "700" if expanded else "600"
        fade = "#9e9e9e" if (state == StepState.INIT or dim) else "#212121"
        self.heading.value = (
            f'<span style="font-weight:{weight};color:{fade};font-size:1.05em">{self.number} · {esc(self.title)}</span>'
        )
        self.summary.value = (
            f'<span style="color:{"#9e9e9e" if dim else "#424242"};white-space:nowrap">{esc(summary)}</span>'
            if summary and not expanded
            else ""
        )
        show(self.change, can_change)
        show(self.body, expanded)
        self.box.layout.border_left = f"4px solid {color}"
        self.box.layout.border = "1px solid #bdbdbd" if expanded else "1px solid #e0e0e0"
        self.box.layout.border_left = f"4px solid {color}"

    def set_error(self, message: str | None) -> None:
        self.error.value = error_html(message) if message else ""

    def set_status(self, html_text: str) -> None:
        self.status.value = html_text


class ProgressRow:
    """One export job's progress: name, bar, and a status text (state · elapsed · polls · bytes)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.label = w.HTML(f"<b>{esc(kind)}</b>", layout=w.Layout(width="60px", min_width="60px"))
        self.bar = w.IntProgress(value=0, min=0, max=100, layout=w.Layout(width="35%", min_width="160px"))
        self.text = w.HTML(layout=w.Layout(flex="1 1 auto", margin="0 0 0 10px"))
        self.box = w.HBox([self.label, self.bar, self.text], layout=w.Layout(align_items="center", width="100%"))
        self.reset()

    def reset(self) -> None:
        self.status = "waiting"
        self.job_id: object = None
        self.elapsed: float | None = None
        self.polls = 0
        self.bytes = 0
        self.total: int | None = None
        self.note = ""
        self._drawn = 0.0
        self.bar.value = 0
        self.bar.bar_style = ""
        self.text.value = '<span style="color:#757575">waiting</span>'

    def due(self, every: float = 0.25) -> bool:
        """True at most once per `every` seconds (throttles download redraws)."""
        now = time.monotonic()
        if now - self._drawn < every:
            return False
        self._drawn = now
        return True

    def render(self) -> None:
        parts = []
        if self.job_id is not None:
            parts.append(f"job {esc(self.job_id)}")
        parts.append(f"<b>{esc(self.status)}</b>")
        if self.elapsed is not None:
            parts.append(f"{self.elapsed:.0f} s")
        if self.polls:
            parts.append(f"{self.polls} poll{'s' if self.polls != 1 else ''}")
        if self.bytes:
            size = human_bytes(self.bytes) + (f" of {human_bytes(self.total)}" if self.total else "")
            parts.append(f"↓ {size}")
        if self.note:
            parts.append(esc(self.note))
        self.text.value = " · ".join(parts)
