"""Text for a terminal or a papermill log: export events as live bars or plain lines, and the results.

Used by the CLI and by headless (papermill) notebook runs; the wizard renders the same events
with widgets.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from . import labels as L
from .charts import depth_chart_text
from .formats import human_bytes, plural
from .markdown import summary_markdown

if TYPE_CHECKING:  # pragma: no cover
    from ..graph.summary import GraphSummary
    from ..pipeline import Event, ExportResult

__all__ = ["TextReporter", "bar", "brief_text", "pending_bar", "report_text", "summary_text"]


def bar(fraction: float, width: int = 20) -> str:
    """A text progress bar: [#########-----------]."""
    fraction = min(1.0, max(0.0, fraction))
    filled = round(fraction * width)
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def pending_bar(step: int, width: int = 20) -> str:
    """A bar for work of unknown length: a block that moves one cell per poll, [---===------]."""
    block = 3
    span = width - block
    pos = step % (2 * span) if span > 0 else 0
    pos = pos if pos <= span else 2 * span - pos
    return "[" + "-" * pos + "=" * block + "-" * (width - block - pos) + "]"


class TextReporter:
    """Turns pipeline events into text. `tty=True`: one live status line redrawn in place."""

    def __init__(
        self, stream: TextIO | None = None, *, tty: bool | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.clock = clock
        self.status: dict[str, str] = {}
        self._last_plain: dict[str, float] = {}
        self._line_shown = False

    def __call__(self, event: Event) -> None:
        kind = event.step.split(":", 1)[-1] if ":" in event.step else None
        if event.kind == "job_status" and kind:
            polls = int(event.data.get("polls", 0))
            status = str(event.data.get("status", "?"))
            waiting = pending_bar(polls, 12) if status in ("CREATED", "PROCESSING") else bar(1.0, 12)
            self.status[kind] = f"{kind} {waiting} {status.lower()} {event.elapsed or 0:.0f}s ({plural(polls, 'poll')})"
            if self.tty:
                self._redraw()
            else:
                self._print(f"  {event.message}")
            return
        if event.kind == "download_progress" and kind:
            done, total = event.data.get("bytes", 0), event.data.get("total")
            text = f"{kind} ↓ {human_bytes(done)}"
            if total:
                text = f"{kind} ↓ {bar(done / total, 12)} {done * 100 // max(total, 1)}% of {human_bytes(total)}"
            self.status[kind] = text
            if self.tty:
                self._redraw()
            else:
                now = self.clock()
                if now - self._last_plain.get(kind, -1e9) >= 2.0 or (total and done >= total):
                    self._last_plain[kind] = now
                    self._print(f"  {text}")
            return
        if event.kind == "step_succeeded" and kind:
            self.status.pop(kind, None)
        mark = {"step_started": "→", "step_succeeded": "✓", "step_failed": "✗", "info": "·"}.get(event.kind, "·")
        took = f" ({event.elapsed:.1f} s)" if event.elapsed is not None and event.kind != "step_started" else ""
        self._print(f"{mark} {event.message}{took}")

    def _clear(self) -> None:
        if self.tty and self._line_shown:
            self.stream.write("\r\033[K")
            self._line_shown = False

    def _print(self, text: str) -> None:
        self._clear()
        self.stream.write(text + "\n")
        if self.tty and self.status:
            self._redraw()
        self.stream.flush()

    def _redraw(self) -> None:
        width = shutil.get_terminal_size((100, 20)).columns - 1
        line = "  " + " | ".join(self.status[k] for k in sorted(self.status))
        self.stream.write("\r\033[K" + line[:width])
        self.stream.flush()
        self._line_shown = True

    def close(self) -> None:
        self._clear()
        self.stream.flush()


def summary_text(result: ExportResult, *, pages: int | None = None) -> str:
    """A one-screen summary of an export: project, analysis, depth table, files."""
    lines = [
        "",
        f"botify-graph: {result.project} — analysis {result.analysis.slug}"
        + (" (already exported: nothing was re-exported)" if result.reused else ""),
        f"  project URL   {result.project.url}",
        f"  user          {result.username or 'unknown (the token was checked with the analyses list)'}",
    ]
    if result.depth is not None:
        d = result.depth
        lines.append(
            f"  chosen depth  {d.depth}  ({d.edges:,} links, limit {d.max_edges:,}"
            + ("; the whole graph fits" if d.whole_graph and result.plan is None else "")
            + (f"; the complete graph in {result.plan.complete_jobs} jobs" if result.plan is not None else "")
            + f"; {plural(d.requests, 'sizing request')})"
        )
        if d.cut:
            lines.append(
                f"  CUT           depth {d.depth} alone is over the limit: the links file stops at "
                f"{d.max_edges:,} rows and lacks links (--complete exports them all)"
            )
        lines.append("  links per depth:")
        lines.append("    depth        links   cumulative")
        for row in d.table():
            over = not row["fits"] and result.plan is None  # a complete export has no depth limit
            mark = f"  {L.CHOSEN}" if row["chosen"] else (f"  {L.OVER_LIMIT}" if over else "")
            lines.append(f"    {row['depth']:>5} {row['edges']:>12,} {row['cumulative']:>12,}{mark}")
    lines.append(f"  meta fields   {', '.join(result.fields) or '(url only)'}")
    if result.gsc_period is not None:
        start, end = result.gsc_period
        lines.append(f"  Search Console {start} to {end}" + (f"  ({result.gsc_note})" if result.gsc_note else ""))
    if pages is not None:
        lines.append(f"  pages         {pages:,}")
    lines.append(f"  edges         {result.links.rows:,}")
    lines.append("  files:")
    for k in (result.links, result.meta):
        lines.append(f"    {k.kind:<5} {k.rows:>10,} rows  {k.path}")
    lines.append(f"  done in {result.elapsed:.1f} s")
    return "\n".join(lines)


def brief_text(summary: GraphSummary) -> str:
    """A few lines of the summary for a one-screen terminal report."""
    lines = [
        f"  self-loops    {summary.self_loops:,} ({'left out of' if summary.self_loops_dropped else 'kept in'} "
        "the statistics, kept in the file)"
    ]
    if summary.orphans is not None:
        lines.append(f"  orphans       {summary.orphans:,} pages in the meta file receive no link at this depth")
    if summary.top_pages:
        first = summary.top_pages[0]
        lines.append(f"  most linked   {first['url']} ({first['inbound']:,} inbound links)")
    o = summary.opportunities or {}
    if "under_linked" in o:
        lines.append(
            f"  opportunities {o['under_linked']['pages']:,} pages earn {o['traffic']} with few internal inlinks "
            "(the summary lists them)"
        )
    return "\n".join(lines)


def report_text(result: ExportResult, summary: GraphSummary, written: Sequence[Path]) -> str:
    """What a headless run prints after the export: the depth chart, the summary, the report files."""
    parts = []
    if result.depth is not None:
        parts.append(depth_chart_text(result.depth))
    parts.append(summary_markdown(summary))
    parts.append("Report files:\n" + "\n".join(f"  {p}" for p in written))
    return "\n\n".join(parts)
