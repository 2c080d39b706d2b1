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

from ..render import labels as L
from ..render.formats import human_bytes
from ..render.html import breakable
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


#: a long path or command wraps at the break points `breakable` marks, and mid-word only as a last resort
WRAP = "white-space:pre-wrap;word-break:normal;overflow-wrap:break-word"


def code(text: object) -> str:
    """Inline code that wraps at separators."""
    return f'<code style="{WRAP}">{breakable(text)}</code>'


def code_block(text: str) -> str:
    """A block of code (a command, a snippet) that wraps at separators, never past the card's edge."""
    return (
        f'<pre style="margin:4px 0;padding:6px;background:#f5f5f5;max-width:100%;box-sizing:border-box;{WRAP}">'
        f"{breakable(text)}</pre>"
    )


def link(text: str, href: str | None) -> str:
    """An <a> to a relative path when there is one, else the path as code (both wrap at separators)."""
    if href:
        return (
            f'<a href="{esc(href)}" target="_blank" rel="noopener" '
            f'style="color:#1565c0;text-decoration:underline;{WRAP}">{breakable(text)}</a>'
        )
    return code(text)


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
        '<table style="border-collapse:collapse;font-size:0.92em;margin:4px 0;line-height:1.4">'
        f"{thead}<tbody>{''.join(body)}</tbody></table>"
    )


def settings_text(max_edges: int, fields: Sequence[str] | None = None) -> str:
    """The settings an export was requested with: 'limit 1,000,000 · 7 fields' ('limit 30,000' for links)."""
    if fields is None:
        return f"limit {max_edges:,}"
    count = L.FIELD_COUNT[len(fields) == 1].format(n=len(fields))
    return L.SETTINGS.format(limit=max_edges, fields=count)


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
        self.text.value = f'<div style="margin-right:10px;line-height:1.45">⚠ {esc(text)}</div>'
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


#: Styles the inline ones cannot say (shown once, in the wizard's title). An HTML widget's content may be
#: narrower than its widest line (a wide table then scrolls inside its `.t` box, a path wraps): nothing makes a
#: card wider than the page. A card's one-line summary ends in an ellipsis instead of running under Change.
CARD_CSS = (
    "<style>.bg-card .widget-html-content{min-width:0;max-width:100%}"
    ".bg-summary .widget-html-content{overflow:hidden}</style>"
)


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
        self.summary = w.HTML(layout=w.Layout(flex="1 1 auto", overflow="hidden", min_width="0"))
        self.summary.add_class("bg-summary")  # CARD_CSS lets it shrink, so a long summary ends in "…"
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
        self.box.add_class("bg-card")  # the browser tests check that nothing runs past a card's edge
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
            f'<div style="color:{"#9e9e9e" if dim else "#424242"};white-space:nowrap;overflow:hidden;'
            f'text-overflow:ellipsis" title="{esc(summary)}">{esc(summary)}</div>'
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


#: the animation of a bar whose end is unknown (CSS only, no asset); still for people who ask for less motion
_PENDING_CSS = (
    "<style>@keyframes bg-pending{0%{left:-35%}100%{left:100%}}"
    "@media (prefers-reduced-motion:reduce){.bg-pending{animation:none!important;left:0!important;width:100%!important;"
    "opacity:.45}}</style>"
)
_BAR_COLORS = {
    "pending": "#64b5f6",
    "download": "#1e88e5",
    "parts": "#1e88e5",
    "done": "#43a047",
    "failed": "#e53935",
}


def bar_html(phase: str, fraction: float | None = None) -> str:
    """A progress bar: `pending` (Botify reports no progress: an animated, indeterminate bar), `download` with a
    `fraction` when the size is known (else indeterminate), `done`, `failed`, or `waiting` (an empty track)."""
    track = (
        '<div class="bg-bar" style="position:relative;overflow:hidden;height:10px;border-radius:5px;'
        'background:#e8edf2;width:100%;min-width:120px" role="progressbar"{aria}>{inner}</div>'
    )
    color = _BAR_COLORS.get(phase, "#90a4ae")
    if phase in ("done", "failed"):
        inner = f'<div style="height:100%;width:100%;background:{color}"></div>'
        return track.format(aria=' aria-valuenow="100" aria-valuemin="0" aria-valuemax="100"', inner=inner)
    if phase in ("download", "parts") and fraction is not None:
        pct = max(0.0, min(1.0, fraction)) * 100
        inner = f'<div style="height:100%;width:{pct:.1f}%;background:{color}"></div>'
        return track.format(aria=f' aria-valuenow="{pct:.0f}" aria-valuemin="0" aria-valuemax="100"', inner=inner)
    if phase in ("pending", "download"):
        inner = (
            f'<div class="bg-pending" style="position:absolute;top:0;left:-35%;width:35%;height:100%;'
            f"border-radius:5px;background:repeating-linear-gradient(45deg,{color} 0 6px,#90caf9 6px 12px);"
            'animation:bg-pending 1.6s ease-in-out infinite"></div>'
        )
        return _PENDING_CSS + track.format(aria=' aria-busy="true"', inner=inner)
    return track.format(aria="", inner="")


def duration(seconds: float) -> str:
    """42 → '42 s', 125 → '2 min 05 s', 3725 → '1 h 02 min'."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class ProgressRow:
    """One export job's progress: name, bar, and a status text (job · state · time · polls · bytes).

    While Botify only says CREATED or PROCESSING the bar is indeterminate (it reports no progress), and the
    text says how long the job has run and how many times it was asked; during the download the bytes are
    real, and so is the bar when the size is known. `clock` gives the wall time (seconds since the epoch).
    """

    def __init__(self, kind: str, clock: Callable[[], float] = time.time) -> None:
        self.kind = kind
        self.clock = clock
        self.label = w.HTML(f"<b>{esc(kind)}</b>", layout=w.Layout(width="60px", min_width="60px"))
        self.bar = w.HTML(layout=w.Layout(width="30%", min_width="120px", margin="0 4px"))
        self.text = w.HTML(layout=w.Layout(flex="1 1 0%", min_width="0", margin="0 0 0 10px"))
        self.box = w.HBox(
            [self.label, self.bar, self.text], layout=w.Layout(align_items="center", width="auto", max_width="100%")
        )
        self.reset()

    def reset(self) -> None:
        self.phase = "waiting"  # waiting | pending | download | parts (of a complete export) | done | failed
        self.parts: tuple[int, int] = (0, 0)  # a complete export: (parts downloaded, parts in all)
        self.status = "waiting"
        self.job_id: object = None
        self.since: float | None = None  # when the job was created (wall clock), for its running time
        self.polls = 0
        self.bytes = 0
        self.total: int | None = None
        self.note = ""
        self.resumed = False  # the job was recorded by an earlier run and followed again, not created again
        self._drawn = 0.0
        self.render()

    @property
    def fraction(self) -> float | None:
        """How much of the file is downloaded, when its size is known."""
        if self.phase == "done":
            return 1.0
        if self.phase == "download" and self.total:
            return self.bytes / self.total
        if self.phase == "parts" and self.parts[1]:
            return self.parts[0] / self.parts[1]
        return None

    def due(self, every: float = 0.25) -> bool:
        """True at most once per `every` seconds (throttles download redraws)."""
        now = time.monotonic()
        if now - self._drawn < every:
            return False
        self._drawn = now
        return True

    def render(self) -> None:
        self.bar.value = bar_html(self.phase, self.fraction)
        if self.phase == "waiting":
            self.text.value = '<span style="color:#757575">waiting</span>'
            return
        parts = []
        if self.job_id is not None:
            parts.append(f"job {esc(self.job_id)}")
        parts.append(f"<b>{esc(self.status)}</b>")
        if self.since is not None and self.phase == "pending":
            parts.append(f"for {duration(self.clock() - self.since)}")
        if self.polls:
            parts.append(f"{self.polls} poll{'s' if self.polls != 1 else ''}")
        if self.phase == "pending" and self.status in ("CREATED", "PROCESSING"):
            parts.append('<span style="color:#757575">Botify reports no progress</span>')
        if self.bytes:
            size = human_bytes(self.bytes) + (f" of {human_bytes(self.total)}" if self.total else "")
            parts.append(f"↓ {size}")
        if self.resumed:
            parts.append("resumed, not created again")
        if self.note:
            parts.append(breakable(self.note))
        self.text.value = f'<div style="line-height:1.4;{WRAP}">{" · ".join(parts)}</div>'
