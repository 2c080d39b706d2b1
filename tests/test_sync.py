"""Blocking wrappers (nest_asyncio2's one use): from a script, from inside a running loop, never beside the
wizard. Each case runs in its own interpreter: the patch is process-wide, so it must not leak into pytest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, cli_env

from botify_graph.fake import FakeBotify

PRELUDE = """
import asyncio, sys
from botify_graph.pipeline import ExportParams
from botify_graph.sync import nested_loop_patched, run_export_sync, run_sync
base, out = sys.argv[1], sys.argv[2]
params = ExportParams(project_url="https://app.botify.com/example-org/example.com/", max_edges=20000,
                      out_dir=out, api_base=base)
"""


def run(script: str, fake: FakeBotify, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PRELUDE + script, fake.base_url, str(tmp_path / "out")],
        env=cli_env(fake.token, tmp_path / "config"),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_in_a_script_it_is_asyncio_run_and_patches_nothing(fake_api: FakeBotify, tmp_path: Path) -> None:
    done = run("r = run_export_sync(params)\nprint(r.links.rows > 0, nested_loop_patched())", fake_api, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"]


def test_inside_a_running_loop_it_patches_that_loop_and_runs(fake_api: FakeBotify, tmp_path: Path) -> None:
    script = """
def plain_function():                       # what a notebook user calls from a cell: no await possible
    return run_export_sync(params)

async def cell():
    first = plain_function()
    second = run_sync(asyncio.sleep(0, result="again"))   # the patched loop is re-entered again
    return first, second

first, second = asyncio.run(cell())
print(first.links.rows > 0, second, nested_loop_patched())
"""
    done = run(script, fake_api, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "again", "True"]


@pytest.mark.parametrize("order", ["wizard first", "patch first"])
def test_never_beside_the_wizard(fake_api: FakeBotify, tmp_path: Path, order: str) -> None:
    script = f"""
from botify_graph.wizard import Wizard

async def cell():
    if {order == "wizard first"!r}:
        Wizard(sidecar_path=out + "/s.json", out_dir=out, api_base=base)
        try:
            run_export_sync(params)
        except Exception as exc:
            print("refused:", exc)
    else:
        run_sync(asyncio.sleep(0))
        wiz = Wizard(sidecar_path=out + "/s.json", out_dir=out, api_base=base)
        print("refused:", wiz.error)

asyncio.run(cell())
"""
    done = run(script, fake_api, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("refused:") and "await" in done.stdout, done.stdout
    assert not (tmp_path / "out" / "example-org").exists()  # nothing was exported
