"""`botify-graph`: a thin command line over the library (anything it does, the library does)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from . import __version__
from .errors import BotifyError
from .queries import MAX_EXPORT_ROWS, META_BY_NAME

DEMO_URL = "app.botify.com/example-org/example.com/20241108/segmentation?filter=all#overview"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="botify-graph",
        description="Export a site's internal link graph (links + page attributes) from the Botify API.",
    )
    p.add_argument("--version", action="version", version=f"botify-graph {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="run a complete export against the built-in fake Botify API")
    demo.add_argument("--out", default="downloads", help="output folder (default: downloads/)")
    demo.add_argument("--scale", type=float, default=1.0, help="size of the fake site (default 1.0: ~1M links)")
    demo.add_argument("--max-edges", type=int, default=MAX_EXPORT_ROWS, help="export row limit")

    run = sub.add_parser("run", help="export from the Botify API (token from BOTIFY_API_TOKEN)")
    run.add_argument("--project-url", required=True, help="any Botify project URL, copied from the browser")
    run.add_argument("--analysis", default="latest", help="analysis slug (e.g. 20241108) or 'latest'")
    run.add_argument("--max-edges", type=int, default=MAX_EXPORT_ROWS, help="export row limit (default 1000000)")
    run.add_argument("--fields", default=None,
                     help=f"comma-separated meta fields (default: all the project has): {','.join(META_BY_NAME)}")
    run.add_argument("--out", default="downloads", help="output folder (default: downloads/)")
    run.add_argument("--api-base", default=None, help="API base URL (default https://api.botify.com/v1)")
    run.add_argument("--poll-timeout", type=float, default=3 * 3600, help="seconds to wait for a job (default 3 h)")
    run.add_argument("--retry-failed", action="store_true", help="start a new job where the last one FAILED")

    fake = sub.add_parser("fake-api", help="serve the fake Botify API on 127.0.0.1 until Ctrl-C")
    fake.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    fake.add_argument("--scenario", default="default", help="fault scenario (see botify_graph.fake.SCENARIOS)")
    fake.add_argument("--scale", type=float, default=1.0, help="size of the synthetic sites")
    return p


def _reporter():  # type: ignore[no-untyped-def]
    from .report import TextReporter

    return TextReporter(sys.stdout)


async def _export(params, token: str, *, pages_from_meta: bool = True) -> int:  # type: ignore[no-untyped-def]
    from .pipeline import run_export
    from .report import summary_text

    reporter = _reporter()
    try:
        result = await run_export(params, token=token, on_event=reporter)
    finally:
        reporter.close()
    print(summary_text(result, pages=result.meta.rows if pages_from_meta else None))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .fake import FakeBotify
    from .pipeline import ExportParams

    print(f"Starting the fake Botify API (scale {args.scale}) on 127.0.0.1 ...", flush=True)
    with FakeBotify(scale=args.scale) as fake:
        print(f"Fake API at {fake.base_url}; exporting {DEMO_URL}", flush=True)
        params = ExportParams(project_url=DEMO_URL, analysis="", max_edges=args.max_edges, out_dir=args.out,
                              api_base=fake.base_url)
        return asyncio.run(_export(params, fake.token))


def _cmd_run(args: argparse.Namespace) -> int:
    from .client import DEFAULT_BASE_URL
    from .errors import ConfigError
    from .pipeline import ExportParams
    from .token import load_token

    token = load_token()
    if not token:
        raise ConfigError("No API token: set BOTIFY_API_TOKEN (or save one with the wizard) and run again.")
    params = ExportParams(
        project_url=args.project_url, analysis=args.analysis, max_edges=args.max_edges,
        fields=None if args.fields is None else tuple(f.strip() for f in args.fields.split(",") if f.strip()),
        out_dir=args.out, api_base=args.api_base or os.environ.get("BOTIFY_API_BASE") or DEFAULT_BASE_URL,
        poll_timeout_s=args.poll_timeout, retry_failed=args.retry_failed,
    )
    return asyncio.run(_export(params, token))


def _cmd_fake(args: argparse.Namespace) -> int:
    from .fake import DEMO_TOKEN, SCENARIOS, FakeBotify

    if args.scenario not in SCENARIOS:
        raise BotifyError(f"Unknown scenario {args.scenario!r}; choose from {', '.join(SCENARIOS)}.")
    with FakeBotify(scale=args.scale, scenario=SCENARIOS[args.scenario], port=args.port) as fake:
        print(f"Fake Botify API: {fake.base_url}")
        print(f"Token:           {DEMO_TOKEN}")
        print(f"Scenario:        {args.scenario}")
        print("Try: BOTIFY_API_TOKEN=<token> botify-graph run --api-base <url> "
              "--project-url https://app.botify.com/example-org/example.com/")
        print("Ctrl-C to stop.", flush=True)
        try:
            fake.wait()
        except KeyboardInterrupt:
            pass
    return 0


COMMANDS = {"demo": _cmd_demo, "run": _cmd_run, "fake-api": _cmd_fake}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `botify-graph` command."""
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except BotifyError as exc:
        print(f"botify-graph: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nbotify-graph: interrupted. Run the same command again to resume where it stopped.",
              file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"botify-graph: error: {exc.strerror or exc} ({getattr(exc, 'filename', '') or ''})", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

