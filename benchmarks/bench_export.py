"""botify-graph's export next to the original approach (benchmarks/baseline.py), against the same fake API.

    python benchmarks/bench_export.py [--quick] [--latency LO HI] [--links-seconds S] [--meta-seconds S]

Two measurements:

- **End to end.** One fake Botify API (real HTTP on 127.0.0.1, `latency_ms` per request, jobs that take
  `job_seconds_links` / `job_seconds_meta` to finish, 5 requests/s per endpoint) serves both runs, one after
  the other: `run_export` first, then the baseline. Requests are counted per phase from the fake's own request
  log; times come from each run's clock; "detection lag" is how long after a job could answer DONE (its
  duration has passed and its file is written, by the fake's own clock) the client knew it.
- **Polling, on a virtual clock.** `poll_job` (the backoff schedule) and the baseline's fixed 3 s loop poll a
  job that turns DONE after 10 s ... 30 min, through an `httpx.MockTransport` whose requests take `latency`
  of virtual time; sleeps advance the clock instead of waiting, so a 30-minute job takes milliseconds.

Figures are printed, never asserted. `run_all.py` runs this with the download and start-up benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import filecmp
import itertools
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import baseline

from botify_graph.fake import FakeBotify, RequestRecord, Scenario
from botify_graph.jobs import poll_delay, poll_job
from botify_graph.pipeline import Event, ExportParams, run_export

PROJECT_URL = "https://app.botify.com/example-org/example.com/"
ORG, PROJECT = "example-org", "example.com"

PHASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("profile", ("GET /authentication/profile",)),
    ("analyses", ("GET /analyses/{org}/{project}/light",)),
    ("fields", ("GET /projects/{org}/{project}/collections", "GET /projects/{org}/{project}/collections/{cid}")),
    ("depth", ("POST /projects/{org}/{project}/query",)),
    ("job creation", ("POST /jobs",)),
    ("polling", ("GET /jobs/{job_id}",)),
    ("job listing", ("GET /jobs",)),
    ("download", ("GET /exports/...",)),
)


@dataclass(frozen=True)
class Setup:
    """The fake and the jobs both approaches run against."""

    scale: float = 1.0
    latency_ms: tuple[float, float] = (80.0, 150.0)
    links_seconds: float = 20.0
    meta_seconds: float = 8.0
    max_edges: int = 1_000_000

    def scenario(self) -> Scenario:
        return Scenario(
            polls_to_done=1,
            latency_ms=self.latency_ms,
            job_seconds_links=self.links_seconds,
            job_seconds_meta=self.meta_seconds,
        )


@dataclass
class JobFigures:
    """One export job of one run."""

    kind: str
    seconds: float  # how long the fake kept it PROCESSING at least
    polls: int
    lag: float  # seconds between "could answer DONE" and the client knowing it


@dataclass
class RunFigures:
    """One approach's end-to-end run."""

    name: str
    wall: float
    requests: dict[str, int]
    throttled: int  # 429 answers
    phase_seconds: dict[str, float]  # profile, analyses, fields, depth, export (links+meta, all of it)
    depth: int
    depth_requests: int
    jobs: list[JobFigures] = field(default_factory=list)
    links_rows: int = 0
    meta_rows: int = 0
    links_seconds: float = 0.0  # download + normalise of the links file
    links_detail: str = ""
    on_disk: dict[str, float] = field(default_factory=dict)  # kind → its file on disk, s after its export began


@dataclass
class EndToEnd:
    setup: Setup
    ours: RunFigures
    base: RunFigures
    outputs: list[str] = field(default_factory=list)  # how the two runs' files compare, one line per kind


def compare_outputs(pairs: dict[str, tuple[Path, Path]]) -> list[str]:
    """For each kind, whether both runs wrote the same file, else how many lines differ and one example."""
    out = []
    for kind, (mine, theirs) in pairs.items():
        if filecmp.cmp(mine, theirs, shallow=False):
            out.append(f"{kind}: identical files")
            continue
        with open(mine, encoding="utf-8") as a, open(theirs, encoding="utf-8") as b:
            lines = list(itertools.zip_longest(a, b, fillvalue=""))
        differ = [(x.rstrip(), y.rstrip()) for x, y in lines if x != y]
        example = f", e.g. {differ[0][0]!r} (ours) vs {differ[0][1]!r} (baseline)" if differ else ""
        out.append(f"{kind}: {len(differ):,} of {len(lines):,} lines differ{example}")
    return out


def count_phases(records: Sequence[RequestRecord]) -> tuple[dict[str, int], int]:
    """Requests per phase (429s included: they were sent) and how many were answered 429."""
    by_endpoint = Counter(r.endpoint for r in records)
    counts = {name: sum(by_endpoint[e] for e in endpoints) for name, endpoints in PHASES}
    known = {e for _, endpoints in PHASES for e in endpoints}
    counts["other"] = sum(n for e, n in by_endpoint.items() if e not in known)
    counts["total"] = len(records)
    return counts, sum(1 for r in records if r.status == 429)


def _job_figures(
    fake: FakeBotify, records: Sequence[RequestRecord], job_ids: Sequence[int], seen: dict[int, float]
) -> list[JobFigures]:
    out = []
    for job_id in job_ids:
        job = fake.jobs[job_id]
        seconds = fake.scenario.seconds_for(job.kind)
        could = max(job.created_t + seconds, job.ready_t or job.created_t)
        polls = sum(
            1 for r in records if r.endpoint == "GET /jobs/{job_id}" and r.path.rstrip("/").endswith(str(job_id))
        )
        out.append(JobFigures(job.kind, seconds, polls, seen.get(job_id, float("nan")) - could))
    return sorted(out, key=lambda j: j.kind)


async def _ours(fake: FakeBotify, out: Path, setup: Setup) -> tuple[float, list[tuple[float, Event]], Any]:
    events: list[tuple[float, Event]] = []
    t0 = time.monotonic()
    result = await run_export(
        ExportParams(project_url=PROJECT_URL, max_edges=setup.max_edges, out_dir=out, api_base=fake.base_url),
        token=fake.token,
        on_event=lambda e: events.append((time.monotonic(), e)),
    )
    return time.monotonic() - t0, events, result


def _step_spans(events: list[tuple[float, Event]]) -> dict[str, tuple[float, float]]:
    spans: dict[str, tuple[float, float]] = {}
    for t, e in events:
        if e.kind == "step_started":
            spans[e.step] = (t, t)
        elif e.kind in ("step_succeeded", "step_failed") and e.step in spans:
            spans[e.step] = (spans[e.step][0], t)
    return spans


def run_end_to_end(setup: Setup) -> EndToEnd:
    """Run botify-graph's export, then the baseline, against one fake API; return both runs' figures."""
    with FakeBotify(scale=setup.scale, scenario=setup.scenario()) as fake, tempfile.TemporaryDirectory() as tmp:
        site = fake.site(ORG, PROJECT)
        site.crawl(site.latest.slug).cumulative_edges()  # build the synthetic crawl before anything is timed
        # -- botify-graph
        first = len(fake.requests)
        wall, events, result = asyncio.run(_ours(fake, Path(tmp) / "ours", setup))
        records = fake.requests[first:]
        counts, throttled = count_phases(records)
        spans = _step_spans(events)
        seen = {
            int(e.data["job_id"]): t for t, e in events if e.kind == "job_status" and e.data.get("status") == "DONE"
        }
        export_start = min(s for k, (s, _) in spans.items() if k.startswith("export:"))
        export_end = max(e for k, (_, e) in spans.items() if k.startswith("download:"))
        links_span = spans["download:links"]
        ours = RunFigures(
            name="botify-graph",
            wall=wall,
            requests=counts,
            throttled=throttled,
            phase_seconds={
                "profile": spans["connect"][1] - spans["connect"][0],
                "analyses": spans["analysis"][1] - spans["analysis"][0],
                "fields": spans["fields"][1] - spans["fields"][0],
                "depth": spans["depth"][1] - spans["depth"][0],
                "export": export_end - export_start,
            },
            depth=result.depth.depth,
            depth_requests=counts["depth"],
            jobs=_job_figures(fake, records, [int(result.links.job_id), int(result.meta.job_id)], seen),
            links_rows=result.links.rows,
            meta_rows=result.meta.rows,
            links_seconds=links_span[1] - links_span[0],
            links_detail="streamed and normalised in one pass",
            on_disk={k: spans[f"download:{k}"][1] - spans[f"export:{k}"][0] for k in ("links", "meta")},
        )
        # -- the baseline
        first = len(fake.requests)
        t0 = time.monotonic()
        base = asyncio.run(
            baseline.run_baseline(
                fake.base_url,
                fake.token,
                PROJECT_URL,
                out_dir=Path(tmp) / "baseline",
                max_edges=setup.max_edges,
                fields=result.fields,
            )
        )
        base_wall = time.monotonic() - t0
        records = fake.requests[first:]
        counts, throttled = count_phases(records)
        links, meta = base.kinds["links"], base.kinds["meta"]
        seen_base = {int(k.job_id): k.done_seen for k in (links, meta) if k.job_id is not None and k.done_seen}
        base_fig = RunFigures(
            name="baseline",
            wall=base_wall,
            requests=counts,
            throttled=throttled,
            phase_seconds={
                **{k: base.phases[k] for k in ("profile", "analyses", "fields", "depth")},
                "export": base.phases["links"] + base.phases["meta"],
            },
            depth=base.depth,
            depth_requests=counts["depth"],
            jobs=_job_figures(fake, records, [int(links.job_id or 0), int(meta.job_id or 0)], seen_base),
            links_rows=links.rows,
            meta_rows=meta.rows,
            links_seconds=links.download + links.decompress + links.pandas,
            links_detail=f"download {links.download:.2f} s + gunzip {links.decompress:.2f} s "
            f"+ pandas {links.pandas:.2f} s",
            on_disk={"links": base.phases["links"], "meta": base.phases["links"] + base.phases["meta"]},
        )
        outputs = compare_outputs({"links": (result.links.path, base.links), "meta": (result.meta.path, base.meta)})
    return EndToEnd(setup, ours, base_fig, outputs)


# --- polling on a virtual clock ---------------------------------------------------------------------------


class VirtualTime:
    """A clock that only moves when something sleeps or a request takes its latency."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


@dataclass(frozen=True)
class PollFigures:
    job_seconds: float
    ours_polls: int
    ours_lag: float  # a job that turns DONE exactly at job_seconds
    base_polls: int
    base_lag: float
    ours_worst: float = 0.0  # the worst lag over jobs that end anywhere in the poll gap after job_seconds
    base_worst: float = 0.0


def _job_transport(
    vt: VirtualTime, done_at: float, latency: float, arrivals: list[float] | None = None
) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        vt.now += latency / 2  # the request travels...
        if arrivals is not None:
            arrivals.append(vt.now)
        done = vt.now >= done_at
        vt.now += latency / 2  # ...and the answer comes back
        body: dict[str, Any] = {"job_id": 1, "job_url": "/v1/jobs/1", "job_status": "DONE" if done else "PROCESSING"}
        if done:
            body["results"] = {"download_url": "https://cdn.example/export.csv.gz"}
        return httpx.Response(200, json=body)

    return httpx.MockTransport(handle)


def _worst_lag(arrivals: Sequence[float], start: float, end: float, latency: float) -> float:
    """The worst lag of a loop whose polls reached the server at `arrivals`, over jobs ending in [start, end].

    Neither loop's timing depends on when the job ends (until it ends), so the worst job ends just after a poll
    arrived, and is seen by the next one, an answer's trip later.
    """
    ends = [start] + [a + 1e-9 for a in arrivals if start <= a < end]
    return max(next(a for a in arrivals if a >= e) + latency / 2 - e for e in ends)


async def _simulate(job_seconds: float, latency: float) -> PollFigures:
    """Polls and lag for a job of exactly `job_seconds`; the worst lag over jobs ending within one poll gap."""
    from botify_graph.client import make_client

    ours_gap = poll_delay(job_seconds) + latency
    base_gap = baseline.POLL_INTERVAL_S + latency
    vt, arrivals = VirtualTime(), []
    async with make_client(
        "t",
        base_url="https://api.example/v1",
        transport=_job_transport(vt, job_seconds, latency),
        sleep=vt.sleep,
        rate=1e6,
    ) as client:
        polls = 0

        def count(_: object) -> None:
            nonlocal polls
            polls += 1

        await poll_job(client, "/v1/jobs/1", sleep=vt.sleep, clock=vt.clock, on_progress=count)
        ours = (polls, vt.now - job_seconds)
        vt = VirtualTime()  # the same loop on a job that ends later, to see when its polls arrive
        longer = _job_transport(vt, job_seconds + 2 * ours_gap, latency, arrivals)
        async with make_client("t", base_url="https://api.example/v1", transport=longer, sleep=vt.sleep, rate=1e6) as c:
            await poll_job(c, "/v1/jobs/1", sleep=vt.sleep, clock=vt.clock)
    ours_worst = _worst_lag(arrivals, job_seconds, job_seconds + ours_gap, latency)
    vt = VirtualTime()
    transport = _job_transport(vt, job_seconds, latency)
    async with httpx.AsyncClient(base_url="https://api.example/v1/", transport=transport) as plain:
        api = baseline.Polite(plain, rate=None, sleep=vt.sleep, clock=vt.clock)
        _, base_polls = await baseline.poll_fixed(api, "jobs/1", sleep=vt.sleep, clock=vt.clock)
    base = (base_polls, vt.now - job_seconds)
    vt, arrivals = VirtualTime(), []
    transport = _job_transport(vt, job_seconds + 2 * base_gap, latency, arrivals)
    async with httpx.AsyncClient(base_url="https://api.example/v1/", transport=transport) as plain:
        api = baseline.Polite(plain, rate=None, sleep=vt.sleep, clock=vt.clock)
        await baseline.poll_fixed(api, "jobs/1", sleep=vt.sleep, clock=vt.clock)
    base_worst = _worst_lag(arrivals, job_seconds, job_seconds + base_gap, latency)
    return PollFigures(job_seconds, ours[0], ours[1], base[0], base[1], ours_worst, base_worst)


def simulate_polling(job_seconds: Sequence[float], latency: float) -> list[PollFigures]:
    """Polls and detection lag of both loops for jobs of these lengths (virtual time: instant)."""
    return [asyncio.run(_simulate(s, latency)) for s in job_seconds]


# --- printing -----------------------------------------------------------------------------------------------


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b else "-"


def print_end_to_end(e2e: EndToEnd, out: Any = None) -> None:
    out = out or sys.stdout
    s, ours, base = e2e.setup, e2e.ours, e2e.base

    def p(text: str = "") -> None:
        print(text, file=out)

    p(
        f"fake API: example.com at scale {s.scale}, {s.latency_ms[0]:.0f}-{s.latency_ms[1]:.0f} ms per request, "
        f"links job {s.links_seconds:.0f} s, meta job {s.meta_seconds:.0f} s, 5 requests/s per endpoint"
    )
    p(
        f"both exported depth {ours.depth}: {ours.links_rows:,} links, {ours.meta_rows:,} pages"
        + (
            ""
            if (ours.depth, ours.links_rows) == (base.depth, base.links_rows)
            else f" (baseline: depth {base.depth}, {base.links_rows:,} links)"
        )
    )
    for line in e2e.outputs:
        p(f"  {line}")
    p()
    p(f"{'requests':<16} {'botify-graph':>13} {'baseline':>10}")
    for name in [n for n, _ in PHASES] + ["other", "total"]:
        n_ours, n_base = ours.requests.get(name, 0), base.requests.get(name, 0)
        if n_ours or n_base or name == "total":
            p(f"{name:<16} {n_ours:>13} {n_base:>10}")
    p(f"{'(429 answers)':<16} {ours.throttled:>13} {base.throttled:>10}")
    p()
    p(f"{'seconds':<16} {'botify-graph':>13} {'baseline':>10} {'ratio':>7}")
    for name in ("profile", "analyses", "fields", "depth", "export"):
        t_ours, t_base = ours.phase_seconds[name], base.phase_seconds[name]
        p(f"{name:<16} {t_ours:>13.2f} {t_base:>10.2f} {_ratio(t_base, t_ours):>7}")
    p(f"{'end to end':<16} {ours.wall:>13.2f} {base.wall:>10.2f} {_ratio(base.wall, ours.wall):>7}")
    p()
    p(
        f"depth discovery: {ours.depth_requests} request(s) in {ours.phase_seconds['depth']:.2f} s "
        f"vs {base.depth_requests} in {base.phase_seconds['depth']:.2f} s"
    )
    slower, total = max(s.links_seconds, s.meta_seconds), s.links_seconds + s.meta_seconds
    p(
        f"export phase (jobs, polling, downloads): {ours.phase_seconds['export']:.1f} s, the slower job alone being "
        f"{slower:.0f} s; baseline {base.phase_seconds['export']:.1f} s, the two jobs' sum being {total:.0f} s"
    )
    base_export = base.phase_seconds["export"]
    p(
        f"export phase / slower job: {ours.phase_seconds['export'] / slower:.2f} (baseline: "
        f"{base_export / slower:.2f}; against the two jobs' sum {base_export / total:.2f})"
    )
    for kind, seconds in (("links", s.links_seconds), ("meta", s.meta_seconds)):
        p(
            f"{kind} file ({seconds:.0f} s job) on disk {ours.on_disk[kind]:.1f} s after its export began "
            f"({ours.on_disk[kind] / seconds:.2f}x the job); baseline {base.on_disk[kind]:.1f} s"
        )
    p(
        f"links file ({ours.links_rows:,} rows) download + normalise: {ours.links_seconds:.2f} s "
        f"({ours.links_detail}) vs {base.links_seconds:.2f} s ({base.links_detail})"
    )
    p()
    p(f"{'polling (real)':<16} {'job s':>6} {'ours polls':>11} {'lag s':>6} {'base polls':>11} {'lag s':>6}")
    for j_ours, j_base in zip(ours.jobs, base.jobs, strict=True):
        p(
            f"{j_ours.kind:<16} {j_ours.seconds:>6.0f} {j_ours.polls:>11} {j_ours.lag:>6.1f} "
            f"{j_base.polls:>11} {j_base.lag:>6.1f}"
        )


def print_polling(rows: Sequence[PollFigures], latency: float, out: Any = None) -> None:
    out = out or sys.stdout
    print(f"polling one job on a virtual clock ({latency * 1000:.0f} ms per request; baseline: every 3 s)", file=out)
    print(
        "lag: the job turns DONE exactly at its length; worst: the worst lag over jobs ending anywhere in the\n"
        "poll gap that follows (a job that ends just after a poll); polls: for the exact length",
        file=out,
    )
    print(
        f"{'job length':>12} {'ours polls':>11} {'lag s':>6} {'worst s':>8} {'worst/len':>10} "
        f"{'base polls':>11} {'lag s':>6} {'worst s':>8} {'ours/base polls':>16}",
        file=out,
    )
    for r in rows:
        length = f"{r.job_seconds:.0f} s" if r.job_seconds < 120 else f"{r.job_seconds / 60:.0f} min"
        print(
            f"{length:>12} {r.ours_polls:>11} {r.ours_lag:>6.1f} {r.ours_worst:>8.1f} "
            f"{r.ours_worst / r.job_seconds:>9.0%} {r.base_polls:>11} {r.base_lag:>6.1f} {r.base_worst:>8.1f} "
            f"{r.ours_polls / r.base_polls:>15.2f}x",
            file=out,
        )


QUICK = Setup(scale=0.05, latency_ms=(20.0, 40.0), links_seconds=3.0, meta_seconds=2.0)
FULL = Setup()
POLL_JOBS = (10.0, 60.0, 300.0, 1800.0)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small site, low latency, short jobs (seconds)")
    parser.add_argument("--scale", type=float, default=None, help="size of the fake site (full: 1.0)")
    parser.add_argument(
        "--latency",
        type=float,
        nargs=2,
        metavar=("LO", "HI"),
        default=None,
        help="API latency range in ms (full: 80 150)",
    )
    parser.add_argument("--links-seconds", type=float, default=None, help="links job duration (full: 20)")
    parser.add_argument("--meta-seconds", type=float, default=None, help="meta job duration (full: 8)")
    args = parser.parse_args(argv)
    setup = setup_from_args(args)
    print_end_to_end(run_end_to_end(setup))
    print()
    latency = sum(setup.latency_ms) / 2000
    print_polling(simulate_polling(POLL_JOBS, latency), latency)


def setup_from_args(args: argparse.Namespace) -> Setup:
    """The Setup of --quick or full mode, with any knob given on the command line."""
    setup = QUICK if args.quick else FULL
    changes: dict[str, Any] = {}
    if args.scale is not None:
        changes["scale"] = args.scale
    if args.latency is not None:
        changes["latency_ms"] = (args.latency[0], args.latency[1])
    if args.links_seconds is not None:
        changes["links_seconds"] = args.links_seconds
    if args.meta_seconds is not None:
        changes["meta_seconds"] = args.meta_seconds
    return Setup(**{**setup.__dict__, **changes})


if __name__ == "__main__":
    main()
