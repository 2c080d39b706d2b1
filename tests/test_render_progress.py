"""render.progress: live bars on a terminal, plain lines elsewhere, and the one-screen summary."""

from __future__ import annotations

import io
from pathlib import Path

from botify_graph.graph.summary import summarize
from botify_graph.pipeline import Event
from botify_graph.render.progress import TextReporter, bar, brief_text, pending_bar


def test_bars() -> None:
    assert bar(0.5, 10) == "[#####-----]"
    assert bar(2.0, 4) == "[####]" and bar(-1, 4) == "[----]"
    frames = [pending_bar(i, 8) for i in range(12)]
    assert all(len(f) == 10 and f.count("=") == 3 for f in frames)
    assert len(set(frames)) > 3  # it moves


def events() -> list[Event]:
    return [
        Event("step_started", "connect", "Checking the API token"),
        Event("step_succeeded", "connect", "Connected as u", 0.1),
        Event("job_status", "poll:links", "links: job 1 PROCESSING after 2 s (1 poll)", 2.0,
              {"job_id": 1, "status": "PROCESSING", "polls": 1}),
        Event("download_progress", "download:links", "links: 10 bytes", None, {"bytes": 50, "total": 100}),
        Event("download_progress", "download:links", "links: 10 bytes", None, {"bytes": 100, "total": 100}),
        Event("step_succeeded", "download:links", "links: 3 rows", 0.2),
    ]  # fmt: skip


def test_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    reporter = TextReporter(out, tty=False, clock=lambda: 0.0)
    for e in events():
        reporter(e)
    text = out.getvalue()
    assert "\r" not in text and "\x1b" not in text
    assert "✓ Connected as u (0.1 s)" in text and "links: job 1 PROCESSING after 2 s (1 poll)" in text
    assert "100% of 100 B" in text  # the last download line is always printed


def test_live_status_line_on_a_terminal() -> None:
    out = io.StringIO()
    reporter = TextReporter(out, tty=True)
    for e in events()[:4]:
        reporter(e)
    text = out.getvalue()
    assert "\r\x1b[K" in text  # redrawn in place
    assert "links [-===--------] processing 2s (1 poll)" in text
    assert "links ↓ [######------] 50% of 100 B" in text
    reporter.close()


def test_brief_text(small: tuple[Path, Path]) -> None:
    text = brief_text(summarize(*small))
    assert "self-loops    1 (left out of the statistics, kept in the file)" in text
    assert "orphans       1 pages" in text and "most linked   https://www.example.com/c (4 inbound links)" in text
