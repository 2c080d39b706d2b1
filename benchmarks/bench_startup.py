"""Start-up costs: `import botify_graph`, `from botify_graph import run_export`, and the Voila app's first wizard.

    python benchmarks/bench_startup.py [--quick] [--repeat N] [--loads N]

- Imports: each command runs in a fresh interpreter `--repeat` times (default 10); the median wall time is
  printed next to `python -c pass`, and the difference is the import's own cost.
- Voila: `botify-graph app --fake-api` is started (the time until it serves is "app start"), then headless
  Chromium (Playwright, Debian's /usr/bin/chromium) loads the page `--loads` times (default 5); for each load,
  the time until the wizard's first card ("1 · Connect") shows and until its first input can be typed into
  (with the fake's token in the environment, Connect passes by itself and that input is the Project URL).
  Every page load starts a kernel; they all stop with the app. Skipped, with the reason, if Playwright or
  Chromium is missing.

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
IMPORTS = (
    ("python -c pass", "pass"),
    ("import botify_graph", "import botify_graph"),
    ("from botify_graph import run_export", "from botify_graph import run_export"),
    ("import pandas (baseline's first need)", "import pandas"),
)


def import_times(repeat: int) -> list[tuple[str, float]]:
    """Median wall seconds of each IMPORTS command in a fresh interpreter."""
    env = dict(os.environ)
    out = []
    for label, code in IMPORTS:
        subprocess.run([sys.executable, "-c", code], check=True, env=env)  # warm the disk cache and .pyc files
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, env=env)
            times.append(time.perf_counter() - t)
        out.append((label, statistics.median(times)))
    return out


@dataclass(frozen=True)
class VoilaFigures:
    app_start: float  # `botify-graph app` started → serving
    first_card: list[float]  # page requested → "1 · Connect" visible, per load
    usable: list[float]  # page requested → the open card's first input visible and enabled, per load


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install playwright)"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (scripts/install-browser)"
    return None


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def voila_times(loads: int, *, timeout: float = 90.0) -> VoilaFigures | str:
    """Time `botify-graph app --fake-api` and `loads` page loads; a string says why it was skipped."""
    missing = _browser_missing()
    if missing:
        return missing
    from playwright.sync_api import sync_playwright

    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="bench-voila-") as tmp, open(Path(tmp) / "app.log", "w+") as log:
        cmd = [
            sys.executable,
            "-m",
            "botify_graph.cli",
            "app",
            "--fake-api",
            "--no-browser",
            f"--port={port}",
            f"--state-dir={tmp}/state",
        ]
        t0 = time.monotonic()
        app = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT)
        try:
            assert app.stdout is not None
            for line in app.stdout:
                if line.startswith("botify-graph app:"):
                    url = line.split(":", 1)[1].strip()  # with the app's access token
                    break
            else:
                log.seek(0)
                return f"the app exited before serving: {log.read()[-500:]}"
            app_start = time.monotonic() - t0
            first, usable = [], []
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
                try:
                    for _ in range(loads):
                        page = browser.new_page()
                        t = time.monotonic()
                        page.goto(url, wait_until="commit", timeout=timeout * 1000)
                        page.get_by_text("1 · Connect").first.wait_for(timeout=timeout * 1000)
                        first.append(time.monotonic() - t)
                        page.locator(
                            "input[type=text]:visible:enabled, input[type=password]:visible:enabled"
                        ).first.wait_for(timeout=timeout * 1000)
                        usable.append(time.monotonic() - t)
                        page.close()
                finally:
                    browser.close()
            return VoilaFigures(app_start, first, usable)
        finally:
            app.send_signal(signal.SIGTERM)  # the app stops Voila (and its kernels), then the fake API
            try:
                app.wait(30)
            except subprocess.TimeoutExpired:
                app.kill()
                app.wait(5)


def print_imports(rows: Sequence[tuple[str, float]], repeat: int, out: Any = None) -> None:
    out = out or sys.stdout
    bare = rows[0][1]
    print(f"imports: median of {repeat} fresh interpreters", file=out)
    print(f"{'':42} {'wall ms':>8} {'over python':>12}", file=out)
    for label, seconds in rows:
        extra = f"{(seconds - bare) * 1000:12.0f}" if label != rows[0][0] else f"{'-':>12}"
        print(f"{label:42} {seconds * 1000:8.0f} {extra}", file=out)


def print_voila(result: VoilaFigures | str, out: Any = None) -> None:
    out = out or sys.stdout
    if isinstance(result, str):
        print(f"Voila: skipped ({result})", file=out)
        return
    n = len(result.first_card)
    print(f"Voila (`botify-graph app --fake-api`, headless Chromium, {n} page load(s)):", file=out)
    print(f"  app start → serving            {result.app_start:6.2f} s", file=out)
    for label, values in (("page → first card shown", result.first_card), ("page → first input usable", result.usable)):
        spread = f"  (min {min(values):.2f}, max {max(values):.2f})" if n > 1 else ""
        print(f"  {label:30} {statistics.median(values):6.2f} s median{spread}", file=out)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5 interpreters per import, one page load")
    parser.add_argument("--repeat", type=int, default=None, help="interpreters per import command (default 10)")
    parser.add_argument("--loads", type=int, default=None, help="Voila page loads (default 5; 0 skips Voila)")
    args = parser.parse_args(argv)
    repeat = args.repeat or (5 if args.quick else 10)
    loads = args.loads if args.loads is not None else (1 if args.quick else 5)
    print_imports(import_times(repeat), repeat)
    print()
    print_voila(voila_times(loads) if loads else "--loads 0")


if __name__ == "__main__":
    main()
