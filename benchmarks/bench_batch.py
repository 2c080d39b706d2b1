"""A batch of projects in one process against the same projects one at a time, on one fake API with latency.

    python benchmarks/bench_batch.py [--quick] [--projects N] [--latency LO HI] [--links-seconds S]
                                     [--meta-seconds S] [--max-jobs N] [--alone largest]

The fake API (real HTTP on 127.0.0.1, `latency_ms` per request, 5 requests/s per endpoint answered 429 beyond,
jobs that take `job_seconds_links` / `job_seconds_meta`) serves N synthetic projects of different sizes.
First each project alone (`run_batch` of that one row: its own client, its own 5 requests/s, a fresh output
folder), one after the other (`--alone largest`: only the largest project, the longest by construction since
every job lasts as long: for long jobs, where running all of them alone takes too long; the sum is then
estimated from it); then all of them in one `run_batch` (one client, so one limiter for every
project, and `--max-jobs` export jobs at once across projects); in full mode also with the default cap on
jobs. Every run does the same work: token check, sizing, two jobs, downloads, reports.

Printed: each single run's wall time and requests, the longest and the sum; the batch's wall time, its
ratio to both, its requests, the most it sent in any one second and the most jobs it had running at once,
and the 429s of every run (the fake counts them). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from botify_graph import layout
from botify_graph.batch import BatchResult, run_batch
from botify_graph.fake import FakeBotify, RequestRecord, Scenario, SiteSpec
from botify_graph.projects import ProjectRow, parse_projects

ORG = "example-org"


@dataclass(frozen=True)
class BatchSetup:
    """The fake and the projects every run exports."""

    projects: int = 8
    scale: float = 0.05
    latency_ms: tuple[float, float] = (80.0, 150.0)
    links_seconds: float = 20.0
    meta_seconds: float = 8.0
    max_jobs: int = 16  # every job of every project at once: what the batch's wall time can be at best
    capped: bool = True  # also run the batch with the default cap on jobs (layout.BATCH_MAX_JOBS)
    alone: str = "all"  # which projects run alone: "all", or "largest" (the sum is then estimated)

    def scenario(self) -> Scenario:
        return Scenario(
            polls_to_done=1,
            latency_ms=self.latency_ms,
            job_seconds_links=self.links_seconds,
            job_seconds_meta=self.meta_seconds,
        )


FULL = BatchSetup()
QUICK = BatchSetup(projects=3, scale=0.02, latency_ms=(10.0, 30.0), links_seconds=2.0, meta_seconds=1.0, capped=False)


def sites(n: int) -> dict[tuple[str, str], SiteSpec]:
    """N sites of the demo's shape, from about half to about 1.5 times its size; every other one without GSC."""
    base = (1, 40, 800, 6000, 20000, 25000, 12000, 4000, 1500)
    degree = (41, 36, 32, 30, 30, 28, 25, 20, 0)
    out = {}
    for i in range(n):
        factor = 0.5 + i / max(1, n - 1)
        sizes = (1, *(max(1, round(s * factor)) for s in base[1:]))
        out[(ORG, f"bench-{i + 1}.example")] = SiteSpec(
            host=f"https://www.bench-{i + 1}.example", depth_sizes=sizes, degree=degree, gsc=i % 2 == 0
        )
    return out


def api_of(records: Sequence[RequestRecord]) -> list[RequestRecord]:
    return [r for r in records if r.server == "api"]


def peak_per_second(records: Sequence[RequestRecord]) -> int:
    """The most requests that reached the server within any one second."""
    times = sorted(r.t for r in records)
    peak = j = 0
    for i, t in enumerate(times):
        while times[j] <= t - 1.0:
            j += 1
        peak = max(peak, i - j + 1)
    return peak


def jobs_at_once(fake: FakeBotify, job_ids: Sequence[int]) -> int:
    """The most of these export jobs that were running at once (from the POST until the job said DONE)."""
    moments = []
    for job_id in job_ids:
        job = fake.jobs[job_id]
        moments += [(job.created_t, 1), (job.finished_t or float("inf"), -1)]
    running = peak = 0
    for _, change in sorted(moments):
        running += change
        peak = max(peak, running)
    return peak


@dataclass
class Run:
    """One run_batch: of one project alone, or of all of them."""

    label: str
    wall: float
    requests: int
    throttled: int  # 429 answers
    peak: int  # most requests in any one second
    jobs: int  # jobs created
    jobs_at_once: int
    ok: bool
    max_jobs: int


@dataclass
class BatchFigures:
    setup: BatchSetup
    singles: list[Run] = field(default_factory=list)
    batch: Run | None = None
    capped: Run | None = None

    @property
    def longest(self) -> Run:
        return max(self.singles, key=lambda r: r.wall)

    @property
    def total(self) -> float:
        """The sum of the projects' wall times alone (estimated as N × the largest's with --alone largest)."""
        if self.setup.alone == "largest":
            return self.setup.projects * self.longest.wall
        return sum(r.wall for r in self.singles)


def _measure(
    fake: FakeBotify, label: str, rows: Sequence[ProjectRow], out: Path, max_jobs: int, rate: float
) -> tuple[Run, BatchResult]:
    first, jobs_before = len(fake.requests), set(fake.jobs)
    t0 = time.monotonic()
    result = asyncio.run(
        run_batch(list(rows), out_dir=out, api_base=fake.base_url, token=fake.token, max_jobs=max_jobs, rate=rate)
    )
    wall = time.monotonic() - t0
    records = api_of(fake.requests[first:])
    new_jobs = sorted(set(fake.jobs) - jobs_before)
    run = Run(
        label=label,
        wall=wall,
        requests=len(records),
        throttled=sum(1 for r in records if r.status == 429),
        peak=peak_per_second(records),
        jobs=len(new_jobs),
        jobs_at_once=jobs_at_once(fake, new_jobs),
        ok=result.ok,
        max_jobs=max_jobs,
    )
    return run, result


def run_batch_bench(setup: BatchSetup) -> BatchFigures:
    """Each project alone, then all of them in one batch (and with the default cap), on one fake API."""
    figures = BatchFigures(setup)
    specs = sites(setup.projects)
    text = "".join(f"https://app.botify.com/{org}/{project}/\n" for org, project in specs)
    rows = parse_projects(text, "bench.txt").check()
    with (
        FakeBotify(scale=setup.scale, scenario=setup.scenario(), sites=specs) as fake,
        tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp,
    ):
        for org, project in specs:  # build every synthetic crawl before anything is timed
            site = fake.site(org, project)
            site.crawl(site.latest.slug).cumulative_edges()
        rate = layout.API_RATE
        alone = list(enumerate(rows)) if setup.alone == "all" else [(len(rows) - 1, rows[-1])]  # the largest
        for i, row in alone:
            run, _ = _measure(fake, row.ref.project, [row], Path(tmp) / f"single-{i}", setup.max_jobs, rate)
            figures.singles.append(run)
        figures.batch, _ = _measure(fake, "batch", rows, Path(tmp) / "batch", setup.max_jobs, rate)
        if setup.capped:
            default = layout.BATCH_MAX_JOBS
            figures.capped, _ = _measure(
                fake, f"batch, --max-jobs {default}", rows, Path(tmp) / "capped", default, rate
            )
    return figures


def print_batch(f: BatchFigures, out: TextIO = sys.stdout) -> None:
    s = f.setup
    print(
        f"{s.projects} projects (bench-1.example ... bench-{s.projects}.example, scale {s.scale}), fake API "
        f"{s.latency_ms[0]:.0f}-{s.latency_ms[1]:.0f} ms per request, 5 requests/s per endpoint (429 beyond), "
        f"links jobs {s.links_seconds:g} s, meta jobs {s.meta_seconds:g} s",
        file=out,
    )
    print("each project alone, one after the other (its own client: 5 requests/s):", file=out)
    print(f"  {'project':<22} {'wall s':>7} {'requests':>9} {'max/s':>6} {'429':>4}", file=out)
    for r in f.singles:
        print(f"  {r.label:<22} {r.wall:>7.1f} {r.requests:>9} {r.peak:>6} {r.throttled:>4}", file=out)
    longest = f.longest
    estimated = " (estimated: projects × the largest's, which alone ran)" if s.alone == "largest" else ""
    print(
        f"  longest project: {longest.wall:.1f} s ({longest.label}); sum of all: {f.total:.1f} s{estimated}", file=out
    )
    for run in (f.batch, f.capped):
        if run is None:
            continue
        print(f"{run.label} (one process, one limiter for every project, --max-jobs {run.max_jobs}):", file=out)
        print(
            f"  wall {run.wall:.1f} s; {run.requests} API requests, at most {run.peak} in any second, "
            f"{run.throttled} answered 429; {run.jobs} jobs, at most {run.jobs_at_once} at once; "
            f"{'every project exported' if run.ok else 'some projects failed'}",
            file=out,
        )
        print(
            f"  batch / longest project: {run.wall / longest.wall:.2f}; batch / sum: {run.wall / f.total:.2f}; "
            f"sum / batch: {f.total / run.wall:.1f}x",
            file=out,
        )
        print(
            f"  the rate's floor: {run.requests} requests at 5/s = {run.requests / layout.API_RATE:.1f} s "
            f"(alone: {sum(r.requests for r in f.singles)} requests in all)",
            file=out,
        )
    throttled = sum(r.throttled for r in f.singles) + sum(r.throttled for r in (f.batch, f.capped) if r)
    print(f"429 answers, every run together: {throttled}", file=out)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 small projects, low latency, jobs of seconds")
    parser.add_argument("--projects", type=int, default=None, help="how many projects (full: 8)")
    parser.add_argument("--latency", type=float, nargs=2, metavar=("LO", "HI"), default=None, help="ms (80 150)")
    parser.add_argument("--links-seconds", type=float, default=None, help="links job duration (full: 20)")
    parser.add_argument("--meta-seconds", type=float, default=None, help="meta job duration (full: 8)")
    parser.add_argument("--max-jobs", type=int, default=None, help="the batch's cap on jobs (full: 16)")
    parser.add_argument("--alone", choices=("all", "largest"), default=None, help="projects run alone (all)")
    parser.add_argument("--no-capped", action="store_true", help="skip the batch with the default cap on jobs")
    args = parser.parse_args(argv)
    setup = QUICK if args.quick else FULL
    changes: dict[str, Any] = {}
    if args.projects is not None:
        changes["projects"] = args.projects
    if args.latency is not None:
        changes["latency_ms"] = (args.latency[0], args.latency[1])
    if args.links_seconds is not None:
        changes["links_seconds"] = args.links_seconds
    if args.meta_seconds is not None:
        changes["meta_seconds"] = args.meta_seconds
    if args.max_jobs is not None:
        changes["max_jobs"] = args.max_jobs
    if args.alone is not None:
        changes["alone"] = args.alone
    if args.no_capped:
        changes["capped"] = False
    print_batch(run_batch_bench(replace(setup, **changes)))


if __name__ == "__main__":
    main()
