"""What several test files share: the `botify-graph` command line as a subprocess, its environment, and a
harness that starts worker processes at the same instant to race them on one file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_URL = "https://app.botify.com/example-org/example.com/"


def cli(*args: str) -> list[str]:
    """argv of `botify-graph ARGS...` run with this Python (no installed script needed)."""
    return [sys.executable, "-m", "botify_graph.cli", *args]


def run_argv(api_base: str, out: Path, *extra: str, project_url: str = DEMO_URL) -> list[str]:
    """argv of `botify-graph run` against `api_base` into `out`."""
    return cli("run", "--project-url", project_url, "--api-base", api_base, "--out", str(out), *extra)


def cli_env(token: str | None, config_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a CLI subprocess: this one, the token (or none), a private config folder."""
    env = {**os.environ, "BOTIFY_GRAPH_CONFIG_DIR": str(config_dir), **extra}
    env.pop("BOTIFY_API_TOKEN", None)
    if token is not None:
        env["BOTIFY_API_TOKEN"] = token
    return env


def race(script: str, *args: str, workers: int = 2, go: Path, timeout: float = 60) -> None:
    """Run `workers` copies of `python -c script go *args` that wait for the file `go`, then create it so
    they all start at once; fail with a worker's stderr if any exits non-zero."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(go), *args], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
        )
        for _ in range(workers)
    ]
    time.sleep(0.3)
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, err
