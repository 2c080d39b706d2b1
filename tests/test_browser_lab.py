"""The wizard's download links in JupyterLab (not the app): `jupyter lab` with a base_url, the notebook run in
Chromium, an exported file downloaded through the link the kernel rendered.

JupyterLab loads `botify_graph.serverext` from the config file installed into this environment, exactly as a
user's `jupyter lab` does. The notebook is a copy in a temporary project folder, so Lab writes nothing into
the repository. Screenshots go to `test-artifacts/browser/lab/`.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import CHROMIUM, jupyter_server

from botify_graph.fake import FakeBotify, Scenario
from botify_graph.pipeline import ExportParams, ExportResult
from botify_graph.sync import run_sync

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browser" / "lab"
TOKEN = "lab-test-token-0123456789"
BASE = "/lab-base/"  # a server under a prefix, as behind JupyterHub: links must carry it

if not Path(CHROMIUM).exists():  # pragma: no cover
    pytest.skip(f"{CHROMIUM} is missing: run scripts/install-browser (Debian's chromium).", allow_module_level=True)
pytest.importorskip("playwright", reason="playwright (the Python package) is not installed: scripts/bootstrap dev")


@dataclass
class Lab:
    url: str
    home: Path
    export: ExportResult


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    home = tmp_path_factory.mktemp("lab-home")
    (home / "notebooks").mkdir()
    shutil.copy2(ROOT / "notebooks" / "link_graph.ipynb", home / "notebooks" / "link_graph.ipynb")
    with FakeBotify(scale=0.02, scenario=Scenario(polls_to_done=1)) as fake:
        from botify_graph.pipeline import run_export

        params = ExportParams(project_url="https://app.botify.com/example-org/example.com/20241108/",
                              out_dir=home / "downloads", api_base=fake.base_url)  # fmt: skip
        export = run_sync(run_export(params, token=fake.token))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOTIFY_", "JUPYTER_"))}
        env.update(
            BOTIFY_API_BASE=fake.base_url, BOTIFY_API_TOKEN=fake.token, BOTIFY_GRAPH_CONFIG_DIR=str(home / "config"),
            JUPYTER_PREFER_ENV_PATH="1", JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
            JUPYTER_RUNTIME_DIR=str(home / ".runtime"), JUPYTER_DATA_DIR=str(home / ".data"),
        )  # fmt: skip
        lab_options = ("--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                       f"--LabApp.workspaces_dir={home / '.workspaces'}")  # fmt: skip
        with jupyter_server("jupyterlab", home, TOKEN, BASE, *lab_options, env=env, timeout=90, grace=20) as (url, _):
            yield Lab(url, home, export)


async def test_the_download_link_works_in_jupyterlab(lab: Lab, browser: Any) -> None:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    page = await browser.new_page(viewport={"width": 1400, "height": 1200}, accept_downloads=True)
    await page.goto(f"{lab.url}lab/tree/notebooks/link_graph.ipynb?token={TOKEN}")
    await page.locator(".jp-Notebook").first.wait_for(timeout=90_000)
    await page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| Idle")).wait_for(timeout=90_000)  # kernel up
    try:
        for attempt in range(3):  # a Run All clicked while Lab still settles can be lost: try again
            await page.get_by_role("menuitem", name="Run", exact=True).click()
            await page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            try:
                await page.get_by_text("Connected as demo.user").wait_for(timeout=30_000 * (attempt + 1))
                break
            except Exception:
                if attempt == 2:
                    raise
    except Exception:
        await page.screenshot(path=str(ARTIFACTS / "failed.png"))
        raise
    await page.get_by_placeholder("https://app.botify.com/your-org/your-project/").fill(
        "https://app.botify.com/example-org/example.com/"
    )
    await page.get_by_role("button", name="Use this project").click()
    await page.get_by_text("Already exported for this project").wait_for(timeout=30_000)
    link = page.locator('a[download="example.com_20241108_links.csv"]').first
    await link.scroll_into_view_if_needed()
    await page.screenshot(path=str(ARTIFACTS / "lab-project-rows.png"))
    href = await link.get_attribute("href")
    assert href == f"{BASE}botify-graph/files/example-org/example.com/example.com_20241108_links.csv"
    async with page.expect_download() as info:
        await link.click()
    download = await info.value
    assert download.suggested_filename == "example.com_20241108_links.csv"
    assert Path(await download.path()).read_bytes() == lab.export.links.path.read_bytes()
    assert (await page.locator("a.botify-graph-cosmograph").first.get_attribute("href") or "").startswith(
        "https://cosmograph.app/run/?data=http%3A%2F%2F127.0.0.1%3A"
    )
