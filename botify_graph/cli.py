"""`botify-graph`: a thin command line over the library (anything it does, the library does)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from . import layout
from ._version import __version__
from .errors import BotifyError

if TYPE_CHECKING:
    from .graph.compare import GraphDiff
    from .graph.summary import GraphSummary
    from .pipeline import ExportParams
    from .render.progress import TextReporter
    from .trace import Trace
from .queries import META_BY_NAME

MAX_EXPORT_ROWS = layout.MAX_EXPORT_ROWS

DEMO_URL = "app.botify.com/example-org/example.com/20241108/segmentation?filter=all#overview"


def api_options(parser: argparse.ArgumentParser) -> None:
    """The options of every command that talks to the Botify API (one place, so they never drift apart)."""
    parser.add_argument(
        "--api-base", default=None, help=f"API base URL (default: $BOTIFY_API_BASE, else {layout.DEFAULT_API_BASE})"
    )
    parser.add_argument(
        "--trace",
        default=None,
        metavar="FILE",
        help="append a JSON Lines record of every API request and answer to FILE, without the token, to attach "
        "to a bug report",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        metavar="N",
        help=f"requests per second this process sends at most (default: ${layout.RATE_VAR}, else "
        f"{layout.API_RATE:g}, Botify's limit per token; N processes sharing a token: {layout.API_RATE:g}/N each)",
    )


@contextlib.contextmanager
def traced(args: argparse.Namespace) -> Iterator[Trace | None]:
    """The trace a command's --trace asks for (None without one); says on stderr where it went.

    Commands that talk to the API open it around their work and hand it to `make_client(..., trace=)` or
    `run_export(..., trace=)`.
    """
    from .trace import open_trace

    with open_trace(getattr(args, "trace", None), command=args.command) as trace:
        try:
            yield trace
        finally:
            if trace is not None:
                print(f"# trace of the API requests written to {trace.path}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="botify-graph",
        description="Export a site's internal link graph (links + page attributes) from the Botify API.",
    )
    p.add_argument("--version", action="version", version=f"botify-graph {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="run a complete export against the built-in fake Botify API")
    demo.add_argument(
        "--out", default=None, help="output folder (default: $BOTIFY_GRAPH_OUT, else downloads/ at the repository root)"
    )
    demo.add_argument("--scale", type=float, default=1.0, help="size of the fake site (default 1.0: ~1M links)")
    demo.add_argument("--max-edges", type=int, default=MAX_EXPORT_ROWS, help="export row limit")

    run = sub.add_parser("run", help="export from the Botify API (token from BOTIFY_API_TOKEN)")
    run.add_argument("--project-url", required=True, help="any Botify project URL, copied from the browser")
    run.add_argument(
        "--analysis",
        default="latest",
        help="analysis slug (e.g. 20241108); default: the one in the URL, else the newest",
    )
    run.add_argument("--max-edges", type=int, default=MAX_EXPORT_ROWS, help="export row limit (default 1000000)")
    run.add_argument(
        "--fields",
        default=None,
        help=f"comma-separated meta fields: short names ({','.join(META_BY_NAME)}) or any field as Botify names it "
        "(http_code, metadata.title.content, search_console.avg_position, internal_page_rank.value; "
        "`botify-graph fields` lists them); default: the short ones the project has",
    )
    run.add_argument(
        "--gsc-period",
        default=None,
        metavar="DAYS|START:END",
        help=f"Search Console period: a number of days ending at the crawl date (default {layout.GSC_DAYS}) or "
        "START:END dates (2024-10-01:2024-10-31); clipped to the dates Search Console holds",
    )
    run.add_argument(
        "--out", default=None, help="output folder (default: $BOTIFY_GRAPH_OUT, else downloads/ at the repository root)"
    )
    api_options(run)
    run.add_argument(
        "--poll-timeout", type=float, default=layout.POLL_TIMEOUT_S, help="seconds to wait for a job (default 3 h)"
    )
    run.add_argument("--retry-failed", action="store_true", help="start a new job where the last one FAILED")
    how = run.add_mutually_exclusive_group()
    how.add_argument(
        "--complete",
        action="store_true",
        help="export every link at every depth in as many jobs as it takes (the plan is printed first)",
    )
    how.add_argument(
        "--allow-cut",
        action="store_true",
        help="when depth 1 alone is over the limit, export it cut at the limit (the graph then lacks links)",
    )
    run.add_argument(
        "--max-jobs",
        type=int,
        default=layout.MAX_JOBS,
        help=f"export jobs running on Botify at once (default {layout.MAX_JOBS})",
    )

    plan = sub.add_parser(
        "plan", help="what a normal and a complete export would take (jobs, rows, credits); creates no job"
    )
    plan.add_argument("--project-url", required=True, help="any Botify project URL, copied from the browser")
    plan.add_argument(
        "--analysis",
        default="latest",
        help="analysis slug (e.g. 20241108); default: the one in the URL, else the newest",
    )
    plan.add_argument("--max-edges", type=int, default=MAX_EXPORT_ROWS, help="export row limit (default 1000000)")
    plan.add_argument("--complete", action="store_true", help="list every job of the complete export")
    plan.add_argument(
        "--max-jobs",
        type=int,
        default=layout.MAX_JOBS,
        help=f"export jobs a complete run would keep running at once (default {layout.MAX_JOBS})",
    )
    api_options(plan)

    doc = sub.add_parser(
        "doctor", help="check that an export would work (token, project, fields, sizing) without spending a credit"
    )
    doc.add_argument("--project-url", required=True, help="any Botify project URL, copied from the browser")
    doc.add_argument(
        "--analysis", default="latest", help="analysis slug (default: the one in the URL, else the newest)"
    )
    doc.add_argument("--max-edges", type=int, default=MAX_EXPORT_ROWS, help="export row limit (default 1000000)")
    doc.add_argument("--out", default=None, help="output folder to check for room (default: as `run`)")
    api_options(doc)
    doc.add_argument("--json", action="store_true", help="print the findings as JSON")

    batch = sub.add_parser(
        "batch",
        help="export many projects listed in a file, under one rate limit (token from BOTIFY_API_TOKEN)",
        description="Export every project of FILE in one process: one rate limit for all (never more than "
        "--rate requests/s in total), at most --max-jobs export jobs at once, a failing project fails its own "
        "row only. Writes {FILE stem}_results.csv and .md into the output folder; exits 0 only when every "
        "row succeeded. Run it again to resume or reuse: no job is ever created twice.",
        epilog="FILE: one Botify project URL per line, optionally followed by key=value settings "
        "(analysis, max_edges, fields, poll_timeout_s, retry_failed); or organisation slugs flush left with "
        "project slugs indented beneath; or a .csv with a header row (project_url, then any of the settings); "
        "or a .yaml list of URLs or of mappings with those keys. '#' starts a comment.",
    )
    batch.add_argument("file", metavar="FILE", help="the projects file (.txt, .csv, .yaml)")
    batch.add_argument(
        "--out", default=None, help="output folder (default: $BOTIFY_GRAPH_OUT, else downloads/ at the repository root)"
    )
    batch.add_argument(
        "--max-jobs",
        type=int,
        default=layout.BATCH_MAX_JOBS,
        metavar="N",
        help=f"export jobs running on Botify at once, across projects (default {layout.BATCH_MAX_JOBS})",
    )
    batch.add_argument(
        "--new-only",
        action="store_true",
        help="per project, export the newest analysis only if it is not exported yet (skip it otherwise)",
    )
    batch.add_argument(
        "--compare",
        action="store_true",
        help="write what changed since the previous analysis exported in the output folder (_compare.md/.json)",
    )
    api_options(batch)

    flds = sub.add_parser(
        "fields", help="list every field a project's analysis has: group, type, the column it becomes"
    )
    flds.add_argument("--project-url", required=True, help="any Botify project URL, copied from the browser")
    flds.add_argument(
        "--analysis", default="latest", help="analysis slug (default: the one in the URL, else the newest)"
    )
    flds.add_argument("--all", action="store_true", help="also list the fields that cannot be exported, and why")
    flds.add_argument("--json", action="store_true", help="print the catalogue as JSON")
    api_options(flds)

    fake = sub.add_parser("fake-api", help="serve the fake Botify API on 127.0.0.1 until Ctrl-C")
    fake.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    fake.add_argument("--scenario", default="default", help="fault scenario (see botify_graph.fake.SCENARIOS)")
    fake.add_argument("--scale", type=float, default=1.0, help="size of the synthetic sites")

    app = sub.add_parser("app", help="serve the notebook as a Voila app on 127.0.0.1 until Ctrl-C")
    app.add_argument("--fake-api", action="store_true", help="start the fake Botify API and point the app at it")
    app.add_argument("--port", type=int, default=8866, help="port (default 8866; 0 picks a free one)")
    app.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    app.add_argument("--notebook", default=None, help="notebook to serve (default: notebooks/link_graph.ipynb)")
    app.add_argument("--scenario", default="default", help="with --fake-api: fault scenario of the fake")
    app.add_argument("--scale", type=float, default=0.05, help="with --fake-api: size of the fake sites (default 0.05)")
    app.add_argument(
        "--state-dir",
        default=None,
        help="with --fake-api: folder for the demo's CSVs, registry and wizard state (default: a new temporary folder)",
    )
    app.add_argument(
        "--cull-idle",
        type=int,
        default=900,
        help="shut down kernels without an open page after this many idle seconds (default 900)",
    )
    app.add_argument(
        "--candidates",
        default=None,
        metavar="FILE",
        help="a projects file (one Botify project URL per line, or orgs with their projects indented) "
        "offered in the wizard's project picker",
    )
    app.add_argument(
        "--page-grace",
        type=float,
        default=None,
        metavar="SECONDS",
        help="shut a kernel down this many seconds after its page has gone (reload, closed tab; default 10)",
    )
    app.add_argument(
        "--no-token",
        action="store_true",
        help="serve without the access token in the URL (anyone who can reach the port can use the app)",
    )

    rep = sub.add_parser("reproduce", help="turn a wizard session into a papermill command (and parameters file)")
    rep.add_argument(
        "--sidecar",
        default=None,
        help="the wizard's sidecar (default: $BOTIFY_GRAPH_STATE or notebooks/link_graph.state.json)",
    )
    rep.add_argument(
        "--log", default=None, help="its parameter log (default: the sidecar with .jsonl, e.g. link_graph.state.jsonl)"
    )
    rep.add_argument("--pipeline", default=None, help="any URL of the project (default: the wizard's current one)")
    rep.add_argument(
        "--write",
        default=None,
        metavar="FILE",
        help="also write the parameters to FILE (.yaml/.yml or .json) and use papermill -f FILE",
    )
    rep.add_argument("--api-base", default=None, help="add api_base to the parameters (e.g. a fake API's URL)")
    rep.add_argument("--output-dir", default=None, help="add output_dir to the parameters")
    rep.add_argument("--output", default="out.ipynb", help="the output notebook in the command (default out.ipynb)")

    summ = sub.add_parser("summary", help="summarise an exported link graph (writes _summary.json/.md next to it)")
    summ.add_argument("--project-url", required=True, help="any Botify project URL, copied from the browser")
    summ.add_argument("--analysis", default=None, help="analysis slug (default: the newest one exported)")
    summ.add_argument("--out", default=None, help="output folder the export is in (default: as `run`)")
    summ.add_argument("--top", type=int, default=20, help="rows in the top-pages tables (default 20)")
    summ.add_argument("--json", action="store_true", help="print JSON instead of Markdown")

    cmp = sub.add_parser("compare", help="what changed between the link graphs of two exported analyses")
    cmp.add_argument("--project-url", required=True, help="any Botify project URL, copied from the browser")
    cmp.add_argument("--old", required=True, help="the older analysis slug (e.g. 20241001)")
    cmp.add_argument("--new", required=True, help="the newer analysis slug (e.g. 20241108)")
    cmp.add_argument("--out", default=None, help="output folder the exports are in (default: as `run`)")
    cmp.add_argument("--top", type=int, default=20, help="rows per table (default 20)")
    cmp.add_argument("--json", action="store_true", help="print JSON instead of Markdown")

    cosmo = sub.add_parser(
        "cosmograph",
        aliases=["serve-csv"],
        help="serve an export's CSVs on 127.0.0.1 and print the cosmograph.app link to open",
    )
    cosmo.add_argument("--project-url", required=True, help="any Botify project URL, copied from the browser")
    cosmo.add_argument("--analysis", default=None, help="analysis slug (default: the newest one exported)")
    cosmo.add_argument("--out", default=None, help="output folder the export is in (default: as `run`)")
    cosmo.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    cosmo.add_argument(
        "--color-by", default=None, help="meta column to colour nodes by (default: pagetype when the file has it)"
    )
    cosmo.add_argument(
        "--size-by", default=None, help="meta column to size nodes by (e.g. impressions, internal_page_rank)"
    )
    return p


def _reporter() -> TextReporter:
    from .render.progress import TextReporter

    return TextReporter(sys.stdout)


async def _export(params: ExportParams, token: str, trace: Trace | None = None) -> int:
    from .pipeline import run_export
    from .render.progress import brief_text, summary_text
    from .reports import export_reports

    reporter = _reporter()
    try:
        result = await run_export(params, token=token, on_event=reporter, trace=trace)
    finally:
        reporter.close()
    summary, written = await asyncio.to_thread(export_reports, result)
    print(summary_text(result, pages=summary.pages))
    print(brief_text(summary))
    print("  reports:")
    for path in written:
        print(f"    {path}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .fake import FakeBotify
    from .pipeline import ExportParams

    print(f"Starting the fake Botify API (scale {args.scale}) on 127.0.0.1 ...", flush=True)
    with FakeBotify(scale=args.scale) as fake:
        print(f"Fake API at {fake.base_url}; exporting {DEMO_URL}", flush=True)
        params = ExportParams(
            project_url=DEMO_URL, analysis="", max_edges=args.max_edges, out_dir=args.out, api_base=fake.base_url
        )
        return asyncio.run(_export(params, fake.token))


def _token() -> str:
    from .errors import ConfigError
    from .token import load_token

    token = load_token()
    if not token:
        raise ConfigError("No API token: set BOTIFY_API_TOKEN (or save one with the wizard) and run again.")
    return token


def _cmd_run(args: argparse.Namespace) -> int:
    from .pipeline import ExportParams

    token = _token()
    params = ExportParams(
        project_url=args.project_url,
        analysis=args.analysis,
        max_edges=args.max_edges,
        fields=None if args.fields is None else tuple(f.strip() for f in args.fields.split(",") if f.strip()),
        gsc_period=args.gsc_period,
        out_dir=args.out,
        api_base=args.api_base,
        poll_timeout_s=args.poll_timeout,
        retry_failed=args.retry_failed,
        max_jobs=args.max_jobs,
        complete=args.complete,
        allow_cut=args.allow_cut,
        rate=args.rate,
    )
    with traced(args) as trace:
        return asyncio.run(_export(params, token, trace))


def _cmd_doctor(args: argparse.Namespace) -> int:
    from .client import make_client
    from .doctor import run_doctor
    from .pipeline import ExportParams
    from .urls import clean_url

    token = _token()
    params = ExportParams(
        project_url=args.project_url, analysis=args.analysis, max_edges=args.max_edges, out_dir=args.out,
        api_base=args.api_base, rate=args.rate,
    ).validated()  # fmt: skip
    ref = clean_url(params.project_url)

    async def check(trace: Trace | None) -> int:
        async with make_client(token, base_url=str(params.api_base), rate=params.rate, trace=trace) as client:
            report = await run_doctor(
                client, ref, analysis=params.analysis, max_edges=params.max_edges, out_dir=params.out_dir
            )
        if args.json:
            import json

            print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        else:
            print(report.to_text())
        return 0 if report.ok else 1

    with traced(args) as trace:
        return asyncio.run(check(trace))


def _cmd_plan(args: argparse.Namespace) -> int:
    from .pipeline import ExportParams

    token = _token()
    params = ExportParams(
        project_url=args.project_url,
        analysis=args.analysis,
        max_edges=args.max_edges,
        api_base=args.api_base,
        max_jobs=args.max_jobs,
        rate=args.rate,
    ).validated()
    with traced(args) as trace:
        print(asyncio.run(_plan(params, token, every_job=args.complete, trace=trace)))
    return 0


async def _plan(params: ExportParams, token: str, *, every_job: bool, trace: Trace | None = None) -> str:
    from . import api
    from .client import make_client
    from .pipeline import wanted_analysis
    from .render import partition as partition_view
    from .urls import clean_url

    ref = clean_url(params.project_url)
    async with make_client(token, base_url=str(params.api_base), rate=params.rate, trace=trace) as client:
        analysis = await api.resolve_analysis(client, ref, wanted_analysis(ref, params.analysis))
        plan = await api.export_plan(client, ref, analysis, params.max_edges)
    text = partition_view.plan_text(
        plan, max_jobs=params.max_jobs, many=layout.MANY_JOBS, show_parts=None if every_job else 12
    )
    return f"{ref} — {text}\n\nNothing was exported: no job created, no credit spent ({plan.requests} sizing queries)."


def _cmd_batch(args: argparse.Namespace) -> int:
    from .batch import BatchConsole, run_batch

    token = _token()
    console = BatchConsole(sys.stdout)
    try:
        with traced(args) as trace:
            result = asyncio.run(
                run_batch(
                    args.file,
                    out_dir=args.out,
                    api_base=args.api_base,
                    rate=args.rate,
                    max_jobs=args.max_jobs,
                    new_only=args.new_only,
                    compare=args.compare,
                    token=token,
                    on_event=console,
                    trace=trace,
                )
            )
    finally:
        console.close()
    print(console.results(result), flush=True)
    if not result.ok:
        print(
            f"botify-graph: {len(result.failed)} of {len(result.rows)} projects failed (see above); run the same "
            "command again once fixed: what succeeded is reused, not exported again.",
            file=sys.stderr,
        )
        return 1
    return 0


async def _catalog(args: argparse.Namespace, token: str, trace: Trace | None) -> int:
    from . import api
    from .client import make_client
    from .fields import catalog_to_json
    from .pipeline import wanted_analysis
    from .render.catalog import catalog_text
    from .urls import clean_url

    ref = clean_url(args.project_url)
    async with make_client(token, base_url=layout.api_base(args.api_base), rate=args.rate, trace=trace) as client:
        analysis = await api.resolve_analysis(client, ref, wanted_analysis(ref, args.analysis))
        found = await api.available_meta_fields(client, ref, analysis)
    assert found.catalog is not None
    if args.json:
        import json

        data = {"project": ref.url, "defaults": list(found.fields), **catalog_to_json(found.catalog)}
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        text = catalog_text(found.catalog, str(ref), defaults=found.fields, all_fields=args.all, days=layout.GSC_DAYS)
        print(text, end="")
    return 0


def _cmd_fields(args: argparse.Namespace) -> int:
    token = _token()
    with traced(args) as trace:
        return asyncio.run(_catalog(args, token, trace))


def _cmd_fake(args: argparse.Namespace) -> int:
    from .fake import DEMO_TOKEN, SCENARIOS, FakeBotify

    if args.scenario not in SCENARIOS:
        raise BotifyError(f"Unknown scenario {args.scenario!r}; choose from {', '.join(SCENARIOS)}.")
    with FakeBotify(scale=args.scale, scenario=SCENARIOS[args.scenario], port=args.port) as fake:
        print(f"Fake Botify API: {fake.base_url}")
        print(f"Token:           {DEMO_TOKEN}")
        print(f"Scenario:        {args.scenario}")
        print(
            "Try: BOTIFY_API_TOKEN=<token> botify-graph run --api-base <url> "
            "--project-url https://app.botify.com/example-org/example.com/"
        )
        print("Ctrl-C to stop.", flush=True)
        try:
            fake.wait()
        except KeyboardInterrupt:
            pass
    return 0


def _cmd_app(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .app import AppConfig, find_notebook, serve

    config = AppConfig(
        notebook=find_notebook(args.notebook),
        port=args.port,
        open_browser=not args.no_browser,
        fake_api=args.fake_api,
        fake_scenario=args.scenario,
        fake_scale=args.scale,
        state_dir=Path(args.state_dir) if args.state_dir else None,
        cull_idle_s=args.cull_idle,
        token=not args.no_token,
        **({"page_grace_s": args.page_grace} if args.page_grace is not None else {}),
        candidates=Path(args.candidates) if args.candidates else None,
    )
    return serve(config)


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import layout
    from .reproduce import reproduce

    sidecar = Path(args.sidecar) if args.sidecar else layout.sidecar_path()
    result = reproduce(
        sidecar,
        pipeline=args.pipeline,
        param_log=Path(args.log) if args.log else None,
        extra={"api_base": args.api_base, "output_dir": args.output_dir},
        params_file=Path(args.write) if args.write else None,
        output=args.output,
    )
    print(f"# pipeline {result.pipeline} (from {sidecar})", file=sys.stderr)
    if result.params_file is not None:
        print(f"# parameters written to {result.params_file}", file=sys.stderr)
    print("# run with BOTIFY_API_TOKEN set; the token is never a parameter", file=sys.stderr)
    print(result.command)
    return 0


def _print_report(report: GraphSummary | GraphDiff, *, as_json: bool) -> None:
    """A summary or a comparison on stdout, as JSON or as Markdown."""
    if as_json:
        import json

        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        from .render.markdown import report_markdown

        print(report_markdown(report), end="")


def _cmd_summary(args: argparse.Namespace) -> int:
    from .reports import summary_report

    summary, paths, analysis = summary_report(args.out, args.project_url, args.analysis, top=args.top)
    _print_report(summary, as_json=args.json)
    print(f"# analysis {analysis}; report written to {paths[0]} and {paths[1]}", file=sys.stderr)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from .reports import compare_exports

    diff, paths = compare_exports(args.out, args.project_url, args.old, args.new, top=args.top)
    _print_report(diff, as_json=args.json)
    print(f"# report written to {paths[0]} and {paths[1]}", file=sys.stderr)
    return 0


def _cmd_cosmograph(args: argparse.Namespace) -> int:
    from .handoff import check_view_columns, serve_for_cosmograph
    from .reports import export_files

    links, meta, analysis = export_files(args.out, args.project_url, args.analysis)
    if meta is not None:
        check_view_columns(meta, color_by=args.color_by, size_by=args.size_by)
    color_by = args.color_by if args.color_by is not None else "pagetype"
    server, url = serve_for_cosmograph(links, meta, port=args.port, color_by=color_by, size_by=args.size_by)
    try:
        print(f"Serving analysis {analysis} on {server.base_url} (127.0.0.1 only):")
        print(f"  {links}" + (f"\n  {meta}" if meta else ""))
        print("Open this link in a browser on this machine (it loads Cosmograph, which fetches the files from here):")
        print(f"\n  {url}\n")
        print("Ctrl-C to stop.", flush=True)
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


COMMANDS = {
    "demo": _cmd_demo,
    "run": _cmd_run,
    "plan": _cmd_plan,
    "doctor": _cmd_doctor,
    "batch": _cmd_batch,
    "fields": _cmd_fields,
    "fake-api": _cmd_fake,
    "app": _cmd_app,
    "reproduce": _cmd_reproduce,
    "summary": _cmd_summary,
    "compare": _cmd_compare,
    "cosmograph": _cmd_cosmograph,
    "serve-csv": _cmd_cosmograph,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `botify-graph` command."""
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except BotifyError as exc:
        print(f"botify-graph: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nbotify-graph: interrupted. Run the same command again to resume where it stopped.", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"botify-graph: error: {exc.strerror or exc} ({getattr(exc, 'filename', '') or ''})", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
