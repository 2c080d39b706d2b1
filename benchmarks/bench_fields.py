"""Does a meta export with 20 fields cost, per row, what the 7 default fields cost?

    python benchmarks/bench_fields.py [--quick] [--scale X] [--repeat K]

Against one fake Botify API (`example.com`, scale 1.0: depth 4 fits 1M links, so the meta export covers the
51,842 pages at depth <= 5, the "52k-page demo site"), `run_export` exports the links once, then the meta file
with the seven default fields and with twenty (the seven, twelve crawl fields and two more Search Console
metrics: the fields `botify-graph fields` lists for the demo site), `repeat` times each, alternating. Per row:

- our side of the export: the download and normalise step (`download:meta`, from the pipeline's events) and the
  fields phase (catalogue, and for 20 fields the one-row check query);
- reading the meta file into the summary's arrays (`graph.encode`, every column typed);
- the fake's own time to write the file (its job), shown apart: it is the fake's cost, not ours.

Figures are printed with the 20/7 ratio per row; they are never asserted. `--quick`: scale 0.05, one run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from botify_graph.fake import FakeBotify, Scenario
from botify_graph.pipeline import Event, ExportParams, run_export

PROJECT_URL = "https://app.botify.com/example-org/example.com/20241108/"
SEVEN = ("pagetype", "is_compliant", "canonical_equal", "sitemaps_present", "depth", "impressions", "clicks")
TWENTY = (
    *SEVEN,
    "http_code",
    "metadata.title.content",
    "metadata.description.content",
    "compliant.main_reason",
    "compliant.detailed_reason",
    "internal_page_rank.value",
    "internal_page_rank.position",
    "internal_page_rank.raw",
    "inlinks_internal.nb.unique",
    "outlinks_internal.nb.total",
    "search_engines.google.crawls.count",
    "search_console.ctr",
    "search_console.avg_position",
)


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(min(seconds, 0.01))


async def _export(fake: FakeBotify, out: Path, fields: tuple[str, ...], max_edges: int) -> dict[str, float]:
    events: list[Event] = []
    params = ExportParams(PROJECT_URL, fields=fields, out_dir=out, api_base=fake.base_url, max_edges=max_edges)
    result = await run_export(params, token=fake.token, on_event=events.append, sleep=_sleep)
    took = {e.step: e.elapsed or 0.0 for e in events if e.kind == "step_succeeded"}
    job = fake.jobs[int(result.meta.job_id)]  # type: ignore[arg-type]
    from botify_graph.graph.encode import encode_graph

    one_link = out / "one_link.csv"  # the meta file's own cost, not the links file's
    one_link.write_text("source,target\nhttps://www.example.com/,https://www.example.com/\n")
    encode = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        encode_graph(one_link, result.meta.path)
        encode = min(encode, time.perf_counter() - start)
    return {
        "rows": result.meta.rows,
        "bytes": result.meta.path.stat().st_size,
        "download": took["download:meta"],
        "fields": took["fields"],
        "encode": encode,
        "fake": (job.ready_t or job.created_t) - job.created_t,
    }


def _drop_meta(out: Path) -> None:
    """Forget the meta exports so the next run exports again (the links stay, and are reused)."""
    import json

    registry = out / "export_registry.json"
    data = json.loads(registry.read_text())
    data["exports"] = {k: v for k, v in data["exports"].items() if "/meta@" not in k}
    registry.write_text(json.dumps(data))
    for path in out.rglob("*_meta*.csv"):
        path.unlink()


async def measure(scale: float, repeat: int) -> dict[str, list[dict[str, float]]]:
    """`repeat` meta exports with 7 and with 20 fields, alternating, against one fake."""
    runs: dict[str, list[dict[str, float]]] = {"7": [], "20": []}
    with FakeBotify(scale=scale, scenario=Scenario(polls_to_done=1)) as fake, tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        await _export(fake, out, SEVEN, 1_000_000)  # the links (and PageRank) once, outside the figures
        _drop_meta(out)
        for _ in range(repeat):
            for name, fields in (("7", SEVEN), ("20", TWENTY)):
                runs[name].append(await _export(fake, out, fields, 1_000_000))
                _drop_meta(out)
    return runs


def report(runs: dict[str, list[dict[str, float]]]) -> str:
    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    rows = {n: med(n, "rows") for n in runs}
    lines = [
        f"meta export of {int(rows['7']):,} pages, median of {len(runs['7'])} run(s) each",
        f"{'':34} {'7 fields':>12} {'20 fields':>12} {'20 / 7 per row':>15}",
    ]
    for key, label, unit in (
        ("bytes", "file size", "MB"),
        ("download", "download + normalise (ours)", "s"),
        ("encode", "read into the summary's arrays", "s"),  # best of 3
        ("fake", "the fake writing the file", "s"),
        ("fields", "fields phase, once per export", "s"),  # requests at 5/s: not a cost per row
    ):
        a, b = med("7", key), med("20", key)
        scale = 1e6 if unit == "MB" else 1.0
        ratio = f"{(b / rows['20']) / (a / rows['7']):14.2f}x" if a and key != "fields" else f"{'-':>15}"
        lines.append(f"{label:34} {a / scale:11.3f}{unit[0]} {b / scale:11.3f}{unit[0]} {ratio}")
    per_row = {n: med(n, "download") / rows[n] * 1e6 for n in runs}
    per_byte = (med("20", "download") / med("20", "bytes")) / (med("7", "download") / med("7", "bytes"))
    lines.append(
        f"\nper row, download + normalise: {per_row['7']:.2f} µs with 7 fields, {per_row['20']:.2f} µs with 20 "
        f"({per_row['20'] / per_row['7']:.2f}x per row, {per_byte:.2f}x per byte of CSV)"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="scale 0.05 and one run: seconds, for CI")
    parser.add_argument("--scale", type=float, default=1.0, help="size of the fake site (1.0: 52k meta rows)")
    parser.add_argument("--repeat", type=int, default=3, help="meta exports of each kind (the median is shown)")
    args = parser.parse_args()
    scale, repeat = (0.05, 1) if args.quick else (args.scale, args.repeat)
    print(report(asyncio.run(measure(scale, repeat))))


if __name__ == "__main__":
    main()
