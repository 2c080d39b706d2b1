"""The benchmarks keep working: the quick mode runs and prints every figure. Timings are never asserted."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"


@pytest.fixture(scope="module", autouse=True)
def _benchmarks_on_path() -> None:
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))


def test_polling_simulation_prints_both_loops() -> None:
    import bench_export

    rows = bench_export.simulate_polling([10.0, 300.0], latency=0.1)
    out = io.StringIO()
    bench_export.print_polling(rows, 0.1, out)
    text = out.getvalue()
    assert "ours polls" in text and "base polls" in text
    assert "10 s" in text and "5 min" in text
    assert all(r.ours_polls > 0 and r.base_polls > 0 for r in rows)
    assert all(r.ours_worst >= r.ours_lag and r.base_worst >= r.base_lag for r in rows)


@pytest.mark.slow
def test_quick_mode_runs_and_prints_every_figure() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run_all.py"), "--quick"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    for heading in ("machine:", "python:", "1. end to end", "2. polling", "3. download", "4. start-up",
                    "5. many projects", "6. graph summary", "7. meta export", "summary"):  # fmt: skip
        assert heading in out
    for figure in (
        "depth discovery:",
        "export phase",
        "end to end",
        "polling (real)",
        "30 min",
        "speed ours / gzip -dc",
        "speed ours / zlib:",
        "speed ours / isal:",
        "export phase / slower job",
        "job) on disk",
        "worst s",
        "detection lag, virtual clock",
        "normalise / bare isal",
        "peak RSS ours / baseline",
        "from botify_graph import run_export",
        "Voila",
        "batch / longest project:",
        "longest project:",
        "batch of 3 projects, wall time",
        "batch: 429s, most requests in a second",
        "summary with opportunities on 50,000 links",
        "graph view data",
        "meta export of",
        "meta export, 20 fields vs 7, per row",
    ):
        assert figure in out, figure
    assert "failed" not in out
