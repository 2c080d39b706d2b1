"""A batch as text: the live status table (redrawn in place on a terminal), plain lines, and the results.

Strings only, plus `LiveTable`, which writes them to a stream the way `progress.TextReporter` does: on a
terminal the table is redrawn in place (at most every `min_interval` seconds) with finished rows' lines
printed above it; anywhere else (a log, papermill, Airflow) only the plain lines are written.
"""

from __future__ import annotations

import csv
import io
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from . import labels as L
from .formats import cell_text
from .markdown import md_table

__all__ = [
    "LiveTable",
    "ResultLine",
    "StatusRow",
    "elapsed_text",
    "results_csv",
    "results_markdown",
    "results_text",
    "status_table",
]


def elapsed_text(seconds: float | None) -> str:
    """12.34 → '12.3 s', 125 → '2 m 05 s', 3725 → '1 h 02 m'; None → ''."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    s = round(seconds)
    if s < 3600:
        return f"{s // 60} m {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} m"


@dataclass(frozen=True)
class StatusRow:
    """One line of the live table."""

    project: str
    analysis: str
    step: str
    jobs: int
    rows: int | None
    elapsed: float | None


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def status_table(rows: Sequence[StatusRow], *, title: str = "", width: int = 100) -> str:
    """The live table as fixed-width text, no wider than `width` (the step column gives way first)."""
    cells = [
        (r.project, r.analysis, r.step, str(r.jobs) if r.jobs else "", cell_text(r.rows), elapsed_text(r.elapsed))
        for r in rows
    ]
    headers = L.BATCH_STATUS_COLUMNS
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(headers)]
    widths[0] = min(widths[0], 40)
    fixed = sum(w for i, w in enumerate(widths) if i != 2) + 2 * (len(widths) - 1)
    widths[2] = max(len(headers[2]), min(widths[2], width - fixed))
    right = {3, 4, 5}

    def line(values: Sequence[str]) -> str:
        parts = [
            _fit(v, w).rjust(w) if i in right else _fit(v, w).ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()[:width]

    out = [title[:width]] if title else []
    out.append(line(headers))
    out.extend(line(c) for c in cells)
    return "\n".join(out)


@dataclass(frozen=True)
class ResultLine:
    """One row of a batch's results, as the results file shows it."""

    project: str
    analysis: str
    status: str
    files: tuple[str, ...]
    rows: int | None
    error: str
    notes: tuple[str, ...] = ()


def _result_cells(r: ResultLine, files_sep: str) -> list[str]:
    return [r.project, r.analysis, r.status, files_sep.join(r.files), "" if r.rows is None else str(r.rows), r.error]


def results_csv(rows: Sequence[ResultLine]) -> str:
    """The results as CSV: a header row (project,analysis,status,files,rows,error), files separated by '; '."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(L.BATCH_RESULT_COLUMNS)
    writer.writerows(_result_cells(r, "; ") for r in rows)
    return buffer.getvalue()


def results_markdown(rows: Sequence[ResultLine], *, name: str, out: str, started: str, elapsed: float) -> str:
    """The results as a Markdown report: a title with the count, the table, what each status means, notes."""
    ok = sum(1 for r in rows if r.status != "failed")
    table = md_table(
        L.BATCH_RESULT_COLUMNS,
        [[r.project, r.analysis, r.status, "<br>".join(f"`{f}`" for f in r.files), r.rows, r.error] for r in rows],
    )
    used = [s for s in L.BATCH_STATUSES if any(r.status == s for r in rows)]
    legend = [f"- {L.BATCH_STATUSES[s]}" for s in used] + [f"- {L.BATCH_ROWS}", f"- {L.BATCH_FILES.format(out=out)}"]
    parts = [
        "# " + L.BATCH_TITLE.format(name=name, ok=ok, total=len(rows)),
        L.BATCH_WHEN.format(started=started, elapsed=elapsed_text(elapsed)),
        table,
        "\n".join(legend),
    ]
    notes = [f"- {r.project}: {n}" for r in rows for n in r.notes]
    if notes:
        parts += [f"## {L.BATCH_NOTES}", "\n".join(notes)]
    return "\n\n".join(parts) + "\n"


def results_text(rows: Sequence[ResultLine], *, width: int = 100) -> str:
    """The results for a terminal or a log: one aligned line per row, then each row's error or notes."""
    headers = (*L.BATCH_RESULT_COLUMNS[:3], "rows")
    cells = [(r.project, r.analysis, r.status, cell_text(r.rows)) for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if i == 3 else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True))
        )

    out = ["  " + line(headers).rstrip()]
    for r, c in zip(rows, cells, strict=True):
        out.append(("  " + line(c).rstrip())[:width])
        if r.error:
            out.append(f"      {r.error}")
        for f in r.files:
            out.append(f"      {f}")
        out.extend(f"      ({n})" for n in r.notes)
    return "\n".join(out)


class LiveTable:
    """A block of text kept at the bottom of a terminal, redrawn in place; plain lines elsewhere."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        min_interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.min_interval = min_interval
        self.clock = clock
        self._shown = 0  # lines of the block on screen
        self._block = ""
        self._drawn_at = -1e9

    @property
    def width(self) -> int:
        return shutil.get_terminal_size((100, 20)).columns - 1

    def _erase(self) -> None:
        if self._shown:
            self.stream.write(f"\r\033[{self._shown - 1}A\033[J" if self._shown > 1 else "\r\033[J")
            self._shown = 0

    def _draw(self) -> None:
        if self._block:
            self.stream.write(self._block)
            self._shown = self._block.count("\n") + 1
        self._drawn_at = self.clock()

    def show(self, block: str, *, force: bool = False) -> None:
        """Put `block` at the bottom of a terminal (no more often than `min_interval` unless `force`)."""
        self._block = block
        if not self.tty or (not force and self.clock() - self._drawn_at < self.min_interval):
            return
        self._erase()
        self._draw()
        self.stream.flush()

    def line(self, text: str) -> None:
        """A line that stays: above the block on a terminal, on its own elsewhere."""
        self._erase()
        self.stream.write(text + "\n")
        if self.tty:
            self._draw()
        self.stream.flush()

    def close(self) -> None:
        """Leave the last block on a terminal, ending its line."""
        if self.tty and self._block:
            self._erase()
            self._draw()
            self.stream.write("\n")
            self._shown = 0
        self.stream.flush()
