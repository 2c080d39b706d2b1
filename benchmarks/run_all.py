"""Every benchmark of botify-graph against the original approach, in one run, with the machine they ran on.

    .venv/bin/python benchmarks/run_all.py           # full: a few minutes, the figures in docs/performance.md
    .venv/bin/python benchmarks/run_all.py --quick   # CI: a small site, short jobs, ~50k-row download, < 1 min

1. end to end against one fake Botify API, botify-graph's `run_export` then the baseline (bench_export.py);
2. polling a 10 s ... 30 min job on a virtual clock (bench_export.py);
3. download + normalise of a large links export next to `gzip -dc`, bare zlib and pandas (bench_download.py,
   in its own processes so that peak memory is each one's own);
4. start-up: import times and the Voila app's first wizard in headless Chromium (bench_startup.py);
5. many projects: one batch under one rate limit against each project alone (bench_batch.py);
6. the graph summary with its opportunities, the comparison and the view on 1M links (bench_graph.py; the 10M
   figures are `bench_graph.py --big`, a few minutes, not run here);
7. a meta export with 20 fields against the 7 defaults, per row, on the demo site (bench_fields.py).

A summary against the targets of issues 6, 12, 14 and 16 closes the report. Figures are printed, never asserted:
they depend on the machine and on what else runs on it (the load average is printed at the top and at the end).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import bench_batch  # noqa: E402
import bench_export  # noqa: E402
import bench_startup  # noqa: E402


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gb() -> str:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GB"
    except OSError:
        pass
    return "?"


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def machine() -> str:
    """One paragraph on where the figures come from."""
    from botify_graph import __version__

    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    rev = commit.stdout.strip() if commit.returncode == 0 else "?"
    return "\n".join(
        [
            f"machine: {_cpu_model()}, {os.cpu_count()} cores, {_ram_gb()} RAM, {platform.system()} "
            f"{platform.release()}",
            f"python:  {platform.python_version()} ({sys.executable})",
            f"botify-graph {__version__} at commit {rev}; {time.strftime('%Y-%m-%d %H:%M %Z')}; load average {_load()}",
        ]
    )


def _section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 100 - len(title)), flush=True)


def download_bench(quick: bool) -> str:
    """Run bench_download.py in its own process (so its children's memory is theirs); return its report."""
    return _script("bench_download.py", ["--quick"] if quick else ["--rows", "1000000", "--repeat", "3"])


def _script(name: str, args: list[str]) -> str:
    """Run one benchmark script in its own process; return its report (or why it failed)."""
    proc = subprocess.run(
        [sys.executable, str(HERE / name), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if proc.returncode != 0:
        return f"{name} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
    return proc.stdout


def _find(pattern: str, text: str) -> str | None:
    m = re.search(pattern, text)
    return m.group(1) if m else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the CI mode: small, short, under a minute")
    parser.add_argument("--no-voila", action="store_true", help="skip the Voila page loads (no browser needed)")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    started = time.monotonic()
    print(f"botify-graph benchmarks ({mode} mode): .venv/bin/python benchmarks/run_all.py{' --quick' * args.quick}")
    print(machine(), flush=True)

    setup = bench_export.QUICK if args.quick else bench_export.FULL
    _section("1. end to end: botify-graph vs the original approach, same fake API")
    e2e = bench_export.run_end_to_end(setup)
    bench_export.print_end_to_end(e2e)

    _section("2. polling, on a virtual clock")
    latency = sum(setup.latency_ms) / 2000
    polls = bench_export.simulate_polling(bench_export.POLL_JOBS, latency)
    bench_export.print_polling(polls, latency)

    _section("3. download + normalise of a links export (bench_download.py)")
    download = download_bench(args.quick)
    print(download.rstrip(), flush=True)

    _section("4. start-up")
    repeat = 5 if args.quick else 10
    imports = bench_startup.import_times(repeat)
    bench_startup.print_imports(imports, repeat)
    print()
    loads = 0 if args.no_voila else (1 if args.quick else 5)
    voila = bench_startup.voila_times(loads) if loads else "--no-voila"
    bench_startup.print_voila(voila)

    _section("5. many projects: one batch under one rate limit vs each project alone (bench_batch.py)")
    batch = bench_batch.run_batch_bench(bench_batch.QUICK if args.quick else bench_batch.FULL)
    bench_batch.print_batch(batch)

    _section("6. graph summary, comparison and view (bench_graph.py)")
    graph = _script("bench_graph.py", ["--quick"] if args.quick else ["--repeat", "3"])
    print(graph.rstrip(), flush=True)

    _section("7. meta export: 20 fields against the 7 defaults (bench_fields.py)")
    fields = _script("bench_fields.py", ["--quick"] if args.quick else ["--repeat", "3"])
    print(fields.rstrip(), flush=True)

    _section("summary (targets from issues 6, 12, 14 and 16)")
    print(summary(e2e, polls, download, imports, voila, batch, graph, fields))
    print(f"\n{mode} run took {time.monotonic() - started:.0f} s; load average now {_load()}")
    return 0


def _length(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def summary(
    e2e: bench_export.EndToEnd,
    polls: Sequence[bench_export.PollFigures],
    download: str,
    imports: Sequence[tuple[str, float]],
    voila: bench_startup.VoilaFigures | str,
    batch: bench_batch.BatchFigures | None = None,
    graph: str = "",
    fields: str = "",
) -> str:
    """The headline figures, one line each, next to what issues 6, 12, 14 and 16 asked for."""
    ours, base, s = e2e.ours, e2e.base, e2e.setup
    longest = max(polls, key=lambda p: p.job_seconds)
    slower = max(s.links_seconds, s.meta_seconds)
    slow_kind = "links" if s.links_seconds >= s.meta_seconds else "meta"
    rows = [
        ("requests, total", f"{ours.requests['total']} vs {base.requests['total']}", "fewer"),
        (
            "end-to-end wall time",
            f"{ours.wall:.1f} s vs {base.wall:.1f} s ({base.wall / ours.wall:.2f}x faster)",
            "faster",
        ),
        (
            "depth discovery",
            f"{ours.depth_requests} request, {ours.phase_seconds['depth']:.2f} s vs "
            f"{base.depth_requests} requests, {base.phase_seconds['depth']:.2f} s",
            "1 request",
        ),
        (
            "export phase",
            f"{ours.phase_seconds['export']:.1f} s (slower job {slower:.0f}"
            f" s) vs {base.phase_seconds['export']:.1f} s (sum {s.links_seconds + s.meta_seconds:.0f} s)",
            "≈ the slower job",
        ),
        (
            "export phase / slower job",
            f"{ours.phase_seconds['export'] / slower:.2f} vs {base.phase_seconds['export'] / slower:.2f}",
            "≤ 1.10",
        ),
        (
            f"{slower:.0f} s job's file on disk after",
            f"{ours.on_disk[slow_kind]:.1f} s vs {base.on_disk[slow_kind]:.1f} s",
            f"≤ {slower * 1.1:.1f} s",
        ),
        (
            f"polls, {longest.job_seconds / 60:.0f}-min job",
            f"{longest.ours_polls} vs {longest.base_polls} ({longest.ours_polls / longest.base_polls:.2f}x)",
            "≤ 0.25x every 3 s",
        ),
        (
            "detection lag, virtual clock",
            ", ".join(f"{_length(p.job_seconds)} {p.ours_lag:.1f} (worst {p.ours_worst:.1f})" for p in polls) + " s",
            "≤ ~10% of the job, ≤ 15 s",
        ),
        (
            "detection lag, end to end",
            ", ".join(f"{j.kind} {j.lag:.1f} s" for j in ours.jobs)
            + " vs "
            + ", ".join(f"{j.kind} {j.lag:.1f} s" for j in base.jobs),
            "-",
        ),
    ]
    gzip_ratio = _find(r"speed ours / gzip -dc: ([\d.]+x)", download)
    zlib_ratio = _find(r"speed ours / zlib: ([\d.]+x)", download)
    lib = _find(r"inflates gzip with (\w+)", download)
    lib_ratio = _find(rf"speed ours / {lib}: ([\d.]+x)", download) if lib and lib != "zlib" else None
    crlf_ratio = _find(r"speed ours on the CRLF file / zlib: ([\d.]+x)", download)
    rss = _find(r"peak RSS ours / baseline: ([^\n(]+)", download)
    generated = _find(r"generated ([\d,]+ rows: [\d.]+ MB CSV)", download)
    if gzip_ratio or zlib_ratio:
        rows.append(
            (
                f"normalise speed ({generated or '?'})",
                f"{zlib_ratio or '?'} bare stdlib zlib, {gzip_ratio or '?'} gzip -dc",
                "≥ 1.5x zlib",
            )
        )
    if lib_ratio:
        rows.append((f"normalise / bare {lib} (gzip library)", lib_ratio, "-"))
    if crlf_ratio:
        rows.append(("normalise, CRLF file / bare zlib", crlf_ratio, "-"))
    if rss:
        rows.append(("peak RSS ours / pandas baseline", rss.strip(), "flat, < ~150 MB"))
    bare = imports[0][1]
    by_label = dict(imports)
    rows.append(
        ("import botify_graph", f"{(by_label['import botify_graph'] - bare) * 1000:.0f} ms over python", "cheap")
    )
    rows.append(
        (
            "from botify_graph import run_export",
            f"{(by_label['from botify_graph import run_export'] - bare) * 1000:.0f} ms over python",
            "lazy",
        )
    )
    opportunities = _find(r"(summary with opportunities on [\d,]+ links: [^\n(]+)", graph)
    if opportunities:
        rows.append((opportunities.split(": ", 1)[0], opportunities.split(": ", 1)[1].strip(), "1M: < 1.5 s, < 300 MB"))
    per_row = _find(r"per row, download \+ normalise: ([^\n]+)", fields)
    if per_row:
        rows.append(("meta export, 20 fields vs 7, per row", per_row.strip(), "as fast per row"))
    if isinstance(voila, bench_startup.VoilaFigures):
        rows.append(
            (
                "Voila: page → first wizard card",
                f"{statistics.median(voila.first_card):.2f} s median (app start {voila.app_start:.1f} s)",
                "-",
            )
        )
    if batch is not None and batch.batch is not None:
        run, longest = batch.batch, batch.longest
        rows.append(
            (
                f"batch of {len(batch.singles)} projects, wall time",
                f"{run.wall:.1f} s vs longest project alone {longest.wall:.1f} s ({run.wall / longest.wall:.2f}x), "
                f"vs all one after the other {batch.total:.1f} s ({run.wall / batch.total:.2f}x)",
                "≈ the longest, not the sum",
            )
        )
        throttled = run.throttled + sum(r.throttled for r in batch.singles)
        rows.append(
            (
                "batch: 429s, most requests in a second",
                f"{throttled} (every run), {run.peak} per second at most, {run.requests} requests",
                "0, ≤ 5",
            )
        )
    out = io.StringIO()
    width = max(len(r[0]) for r in rows) + 2
    column = max(62, *(len(r[1]) + 1 for r in rows))
    print(f"{'':{width}}{'botify-graph vs baseline':{column}} target", file=out)
    for name, value, target in rows:
        print(f"{name:{width}}{value:{column}} {target}", file=out)
    return out.getvalue().rstrip()


if __name__ == "__main__":
    sys.exit(main())
