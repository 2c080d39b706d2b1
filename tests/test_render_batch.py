"""A batch as text (render/batch.py) and the table's state from events (batch.BatchBoard): pure, no API."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from botify_graph.batch import BatchBoard, BatchConsole, BatchEvent, RowResult
from botify_graph.pipeline import Event
from botify_graph.render.batch import (
    LiveTable,
    ResultLine,
    StatusRow,
    elapsed_text,
    results_csv,
    results_markdown,
    results_text,
    status_table,
)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, ""), (0, "0.0 s"), (12.34, "12.3 s"), (59.94, "59.9 s"), (125, "2 m 05 s"), (3725, "1 h 02 m")],
)
def test_elapsed_text(seconds: float | None, text: str) -> None:
    assert elapsed_text(seconds) == text


ROWS = [
    StatusRow("example-org/example.com", "20241108", "links job running 12 s, meta downloading", 1, None, 14.2),
    StatusRow("example-org/no-gsc.example", "", "waiting", 0, None, None),
    StatusRow("example-org/shop", "20241101", "exported", 0, 810_455, 75.0),
]


def test_status_table_aligns_columns_and_fits_the_width() -> None:
    text = status_table(ROWS, title="1 of 3 projects done", width=120)
    lines = text.splitlines()
    assert lines[0] == "1 of 3 projects done"
    assert lines[1].split() == ["project", "analysis", "step", "jobs", "rows", "elapsed"]
    assert lines[2].startswith("example-org/example.com     20241108  links job running 12 s, meta downloading")
    assert lines[4].endswith("810,455  1 m 15 s") and lines[3].rstrip().endswith("waiting")
    assert {len(line) for line in lines[1:]} <= set(range(106))
    narrow = status_table(ROWS, width=70).splitlines()
    assert all(len(line) <= 70 for line in narrow) and "…" in narrow[1]  # the step column gives way
    assert narrow[1].endswith("     1             14.2 s")


RESULTS = [
    ResultLine("o/a", "20241108", "exported", ("o/a/a_20241108_links.csv", "o/a/a_20241108_meta.csv"), 1200, ""),
    ResultLine("o/b", "", "failed", (), None, "Not found (404 | Project was not found)"),
    ResultLine("o/c", "20241101", "skipped", ("o/c/c_20241101_links.csv",), 7, "", ("no earlier analysis",)),
]


def test_results_csv_has_the_header_and_one_row_per_project() -> None:
    rows = list(csv.reader(io.StringIO(results_csv(RESULTS))))
    assert rows == [
        ["project", "analysis", "status", "files", "rows", "error"],
        ["o/a", "20241108", "exported", "o/a/a_20241108_links.csv; o/a/a_20241108_meta.csv", "1200", ""],
        ["o/b", "", "failed", "", "", "Not found (404 | Project was not found)"],
        ["o/c", "20241101", "skipped", "o/c/c_20241101_links.csv", "7", ""],
    ]


def test_results_markdown_counts_explains_and_escapes() -> None:
    md = results_markdown(RESULTS, name="weekly", out="/data", started="2026-11-30 06:00 UTC", elapsed=75)
    assert md.startswith("# Batch weekly: 2 of 3 projects succeeded\n\nStarted 2026-11-30 06:00 UTC, took 1 m 15 s.")
    assert "| project | analysis | status | files | rows | error |" in md
    assert "`o/a/a_20241108_links.csv`<br>`o/a/a_20241108_meta.csv` | 1,200 |" in md
    assert "404 \\| Project" in md  # a | in a message does not break the table
    assert "- exported: new files" in md and "- skipped:" in md and "- reused" not in md
    assert "files: relative to /data" in md and "## Notes\n\n- o/c: no earlier analysis" in md


def test_results_text_lists_files_and_errors_under_each_row() -> None:
    text = results_text(RESULTS)
    assert "  project  analysis  status     rows" in text
    assert "  o/a      20241108  exported  1,200\n      o/a/a_20241108_links.csv" in text
    assert "      Not found (404 | Project was not found)" in text and "      (no earlier analysis)" in text


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_live_table_redraws_in_place_on_a_terminal_and_keeps_lines_above() -> None:
    stream, clock = io.StringIO(), Clock()
    table = LiveTable(stream, tty=True, min_interval=0.25, clock=clock)
    table.show("title\nrow 1\nrow 2")
    table.show("title\nrow 1 bis\nrow 2")  # too soon: not drawn
    assert stream.getvalue() == "title\nrow 1\nrow 2"
    clock.now += 0.3
    table.show("title\nrow 1 ter\nrow 2")
    assert stream.getvalue().endswith("\r\x1b[2A\x1b[Jtitle\nrow 1 ter\nrow 2")
    table.line("✓ done")  # erase the block, print the line, draw the block again below it
    assert stream.getvalue().endswith("\r\x1b[2A\x1b[J✓ done\ntitle\nrow 1 ter\nrow 2")
    table.close()
    assert stream.getvalue().endswith("title\nrow 1 ter\nrow 2\n")


def test_live_table_off_a_terminal_writes_only_lines() -> None:
    stream = io.StringIO()
    table = LiveTable(stream, tty=False)
    table.show("title\nrow")
    table.line("✓ done")
    table.close()
    assert stream.getvalue() == "✓ done\n"


def ev(kind: str, step: str, message: str = "", elapsed: float | None = None, **data: object) -> BatchEvent:
    return BatchEvent("export", 0, "o/a", message, export=Event(kind, step, message, elapsed, dict(data)))


def test_the_board_follows_each_rows_steps_jobs_and_rows() -> None:
    clock = Clock()
    board = BatchBoard(clock)
    board.apply(BatchEvent("batch_started", -1, "", "", data={"max_jobs": 4, "projects": ["o/a", "o/b"]}))
    assert [(r.project, r.step, r.jobs, r.elapsed) for r in board.table()] == [
        ("o/a", "waiting", 0, None),
        ("o/b", "waiting", 0, None),
    ]
    board.apply(BatchEvent("row_started", 0, "o/a", ""))
    board.apply(ev("step_started", "connect"))
    assert board.table()[0].step == "connecting"
    board.apply(ev("step_succeeded", "analysis", "Analysis 20241108", 0.3, analysis="20241108"))
    board.apply(ev("step_started", "export:links"))
    board.apply(ev("step_started", "export:meta"))
    clock.now += 12
    board.apply(ev("job_status", "poll:links", "", 12.0, status="PROCESSING"))
    board.apply(ev("step_started", "download:meta"))
    row = board.table()[0]
    assert (row.analysis, row.step, row.jobs, row.elapsed) == (
        "20241108",
        "links job running 12 s, meta downloading",
        1,
        12,
    )
    assert board.title() == "0 of 2 projects done · 1 of 4 export jobs running · 12.0 s"
    board.apply(ev("step_succeeded", "download:links", "", 0.1, rows=1200, path="x"))
    assert board.table()[0].rows == 1200
    result = RowResult(1, "o/a", "u", "20241108", "exported", (Path("x"),), 1200)
    board.apply(BatchEvent("row_finished", 0, "o/a", "", result=result))
    board.apply(BatchEvent("row_finished", 1, "o/b", "", result=RowResult(2, "o/b", "u", "", "failed", error="x")))
    assert [(r.step, r.jobs) for r in board.table()] == [("exported", 0), ("failed", 0)]
    assert board.title().startswith("2 of 2 projects done (1 failed) · 0 of 4 export jobs running")


def test_the_console_throttles_job_status_lines_off_a_terminal() -> None:
    stream, clock = io.StringIO(), Clock()
    console = BatchConsole(stream, tty=False, heartbeat=60, clock=clock)
    console(BatchEvent("batch_started", -1, "", "1 project", data={"max_jobs": 2, "projects": ["o/a"]}))
    for _ in range(5):
        console(ev("job_status", "poll:links", "links: job 1 PROCESSING", 1.0))
        clock.now += 20
    console(ev("download_progress", "download:links", "links: 10 bytes"))
    console(ev("step_started", "depth", "Sizing"))
    console(ev("step_succeeded", "depth", "Depth 4: 810,455 links", 0.25))
    lines = stream.getvalue().splitlines()
    assert lines == [
        "botify-graph batch: 1 project",
        "  [o/a] · links: job 1 PROCESSING",
        "  [o/a] · links: job 1 PROCESSING",  # 80 s later: one line a minute at most
        "  [o/a] ✓ Depth 4: 810,455 links (0.2 s)",
    ]
