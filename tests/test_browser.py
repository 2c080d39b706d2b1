"""The notebook as an app: `botify-graph app --fake-api` served by Voila, driven in Debian's Chromium.

One subprocess per module (stopped by PID, then its process group); Playwright's async API outside any
kernel. Screenshots of every step go to `test-artifacts/browser/` (git-ignored; CI keeps them).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import CHROMIUM, app_server, stop_group

from botify_graph.app import free_port

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
DIRTY_URL = "  app.botify.com/example-org/example.com/20241108/segmentation?filter=all#overview "
PLACEHOLDER = "https://app.botify.com/your-org/your-project/"

if not Path(CHROMIUM).exists():  # pragma: no cover - scripts/test installs it, so CI runs these
    pytest.skip(f"{CHROMIUM} is missing: run scripts/install-browser (Debian's chromium).", allow_module_level=True)
pytest.importorskip("playwright", reason="playwright (the Python package) is not installed: scripts/bootstrap dev")


@dataclass
class App:
    """A running `botify-graph app --fake-api`: its URL, the fake API's and the demo's state folder."""

    proc: subprocess.Popen[str]
    url: str
    api_base: str
    state_dir: Path
    output: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        """The app's URL without its access token (what someone without the token would try)."""
        return str(httpx.URL(self.url).copy_with(query=None))

    def jobs(self) -> list[dict[str, Any]]:
        """Every export job the fake API knows about (GET /jobs, as a client would list them)."""
        from botify_graph.fake import DEMO_TOKEN

        r = httpx.get(f"{self.api_base}/jobs", params={"size": 100}, headers={"Authorization": f"Token {DEMO_TOKEN}"})
        r.raise_for_status()
        results: list[dict[str, Any]] = r.json()["results"]
        return results

    def registry(self) -> dict[str, Any]:
        path = self.state_dir / "downloads" / "export_registry.json"
        exports: dict[str, Any] = json.loads(path.read_text())["exports"] if path.exists() else {}
        return exports


@contextlib.contextmanager
def running_app(state_dir: Path, *extra: str) -> Iterator[App]:
    """`botify-graph app --fake-api` (plus `extra` options) until the block ends; stopped by PID."""
    with app_server(
        "--fake-api", "--state-dir", str(state_dir), "--cull-idle", "8", *extra,
        url=r"botify-graph app: (http://127\.0\.0\.1:\d+/\?token=\S+)",  # the browser then keeps a login cookie
    ) as (proc, url, lines):  # fmt: skip
        api_base = next((m.group(1) for line in lines if (m := re.match(r"Fake Botify API: (\S+)", line))), None)
        assert api_base, "the app did not print the fake API's URL:\n" + "\n".join(lines)
        yield App(proc, url, api_base, state_dir, lines)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """Jobs of 20 s ("slow"): a reload mid-export must find them still running. With the default scenario's
    few seconds, the old page's kernel (alive for --page-grace after its page went) could finish them before a
    loaded machine had started the new page's kernel, leaving nothing to resume (a CI-only failure)."""
    with running_app(tmp_path_factory.mktemp("app-state"), "--scenario", "slow") as running:
        yield running


@pytest.fixture(scope="module")
def slow_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """Jobs that take 8 polls and 20 s: time to reload and click during an export."""
    with running_app(tmp_path_factory.mktemp("slow-app-state"), "--scenario", "slow") as running:
        yield running


@pytest.fixture(scope="module")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


#: Everything visible inside a wizard card that runs past the card's left or right edge (what an ancestor inside
#: the card clips, e.g. a scrolled table, does not count: it cannot be seen past the edge).
OUTSIDE_CARDS_JS = """
() => {
  const out = [];
  for (const card of document.querySelectorAll('.bg-card')) {
    const box = card.getBoundingClientRect();
    if (!box.width) continue;
    const style = getComputedStyle(card);  // the inside of the card's border is its edge
    const c = {left: box.left + parseFloat(style.borderLeftWidth),
               right: box.right - parseFloat(style.borderRightWidth)};
    for (const el of card.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (!r.width || !r.height) continue;
      let clipped = false;
      for (let a = el.parentElement; a && a !== card; a = a.parentElement) {
        const s = getComputedStyle(a);
        if (s.overflowX !== 'visible' && a.getBoundingClientRect().right <= c.right + 1) { clipped = true; break; }
      }
      if (!clipped && (r.right > c.right + 1 || r.left < c.left - 1)) {
        out.push(`${el.tagName}.${el.className} [${Math.round(r.left)}, ${Math.round(r.right)}] outside `
                 + `[${Math.round(c.left)}, ${Math.round(c.right)}]: ${(el.textContent || '').slice(0, 60)}`);
      }
    }
  }
  return out;
}
"""


class Shots:
    """Screenshots in order; each one also checks that nothing runs past a card's edge (`problems`)."""

    def __init__(self, page: Any, folder: Path, prefix: str = "") -> None:
        self.page, self.folder, self.n, self.prefix = page, folder, 0, prefix
        self.problems: list[str] = []

    async def __call__(self, name: str, element: Any = None) -> None:
        self.n += 1
        path = str(self.folder / f"{self.prefix}{self.n:02d}-{name}.png")
        await (element or self.page).screenshot(path=path)
        self.problems += [f"{name}: {p}" for p in await self.page.evaluate(OUTSIDE_CARDS_JS)]


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as f:
        return next(csv.reader(f))


async def test_wizard_flow_with_a_reload_during_the_export(app: App, browser: Any, artifacts: Path) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 1400})
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(httpx.URL(r.url).host))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    shot = Shots(page, artifacts)
    nxt = page.get_by_role("button", name="Next ›")

    await page.goto(app.url)
    # step 1 is verified on its own: the app gave the kernel the fake's token through the environment
    await page.get_by_text("Connected as demo.user").wait_for(timeout=60_000)
    assert await page.title() == "botify-graph"
    assert "notebook_settings(" not in await page.content()  # code cells are stripped
    await shot("connect")

    await page.get_by_placeholder(PLACEHOLDER).fill(DIRTY_URL)
    await page.get_by_role("button", name="Use this project").click()
    await page.get_by_text("Pipeline id:").wait_for()
    await shot("project")
    await nxt.click()

    await page.get_by_text("finished analyses, newest first").wait_for(timeout=30_000)
    await shot("analysis")
    await page.get_by_role("button", name="Use this analysis").click()
    await nxt.click()

    await page.get_by_role("button", name="Size the graph").click()
    await page.get_by_text("under the limit of").wait_for(timeout=30_000)
    await page.locator("svg text", has_text="Internal links up to each depth").first.wait_for()  # the depth chart
    await shot("depth")
    await nxt.click()

    await page.get_by_role("button", name="Use these fields").wait_for(timeout=30_000)
    await page.get_by_text("Reading the fields this project has").wait_for(state="hidden", timeout=30_000)
    await shot("fields")
    await page.get_by_role("button", name="Use these fields").click()
    await nxt.click()

    start = page.get_by_role("button", name="▶ Start export")
    await start.wait_for(timeout=30_000)
    await shot("export-ready")
    await start.click()
    # both jobs exist and are still running (the fake answers DONE after 8 polls and 20 s)
    await page.get_by_text("PROCESSING").first.wait_for(timeout=30_000)
    await shot("export-running")
    before = {k: r["job_id"] for k, r in app.registry().items()}
    assert sorted(r["kind"] for r in app.registry().values()) == ["links", "meta"]  # keys: kind@variant
    assert all(r["status"] in ("CREATED", "PROCESSING") for r in app.registry().values())

    await page.reload()  # a new page load: a new kernel, which only has the sidecar and the registry
    await page.get_by_text("Connected as demo.user").wait_for(timeout=60_000)
    # the new kernel waits for the old page's kernel (shut down seconds after its page went), then resumes
    resumed = page.get_by_text("resumed, not created again").or_(page.get_by_text("is following this export"))
    await resumed.first.wait_for(timeout=30_000)
    await shot("export-resumed")

    await page.get_by_text("Your link graph is ready").wait_for(timeout=90_000)
    await shot("result")
    await page.locator("#rendered_cells").screenshot(path=str(artifacts / "result-full.png"))
    await page.get_by_text("Graph summary:").click()  # the accordion opens: its tables stay inside the card
    for heading in ("Link graph summary", "Most-linked pages (top 20)", "Pages per page type"):
        place = page.get_by_text(heading, exact=True).first
        await place.scroll_into_view_if_needed()
        await place.evaluate("e => e.scrollIntoView({block: 'start'})")
        await shot("result-summary-" + heading.split()[0].lower())

    # the interactive graph view renders in the app, offline
    await page.get_by_role("button", name="Show the graph").click()
    view = page.locator("iframe[title='link graph']")
    await view.wait_for(timeout=60_000)
    await view.content_frame.locator("canvas").first.wait_for(timeout=30_000)
    await view.scroll_into_view_if_needed()
    await page.wait_for_timeout(2_000)  # let the layout settle before the picture
    await view.screenshot(path=str(artifacts / "graph-view.png"))

    # the same two jobs, resumed, not created again
    assert {k: r["job_id"] for k, r in app.registry().items()} == before
    assert all(r["status"] == "DOWNLOADED" for r in app.registry().values())
    assert len(app.jobs()) == 2
    folder = app.state_dir / "downloads" / "example-org" / "example.com"
    assert _header(folder / "example.com_20241108_links.csv") == ["source", "target"]
    assert _header(folder / "example.com_20241108_meta.csv")[:2] == ["id", "pagetype"]

    # nothing but the app itself: no CDN fonts, scripts or styles
    assert hosts == {"127.0.0.1"}, hosts
    assert not errors, errors  # no uncaught JavaScript error on the page
    assert not shot.problems, "\n".join(shot.problems)


def card(page: Any, title: str) -> Any:
    """The wizard card whose heading is `title` (e.g. "5 · Fields")."""
    return page.locator(".bg-card").filter(has=page.get_by_text(title, exact=True))


async def test_no_stale_analysis_and_change_asks_during_an_export(slow_app: App, browser: Any, artifacts: Path) -> None:
    """An unknown project after "+ New project" shows no old analysis; "✎ Change" during an export shows its
    question, before and after a reload. A narrower window than the first test's: nothing runs past a card."""
    page = await browser.new_page(viewport={"width": 800, "height": 1400})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    shot = Shots(page, artifacts, prefix="stale-")
    nxt = page.get_by_role("button", name="Next ›")
    await page.goto(slow_app.url)
    await page.get_by_text("Connected as demo.user").wait_for(timeout=60_000)
    await page.get_by_placeholder(PLACEHOLDER).fill(DIRTY_URL)
    await page.get_by_role("button", name="Use this project").click()
    await page.get_by_text("Pipeline id:").wait_for()
    await nxt.click()
    await page.get_by_text("finished analyses, newest first").wait_for(timeout=30_000)
    assert await page.get_by_text("2024 Nov. 8th").count() == 1

    await page.get_by_role("button", name="+ New project").click()
    await page.get_by_placeholder(PLACEHOLDER).fill("https://app.botify.com/example-org/no-such-project.example/")
    await page.get_by_role("button", name="Use this project").click()
    await page.get_by_text("Botify has no project example-org/no-such-project.example (404)").wait_for(timeout=30_000)
    await shot("unknown-project")
    assert await page.get_by_text("2024 Nov. 8th").count() == 0  # no old analysis anywhere on the page
    assert await card(page, "3 · Analysis").locator("option").count() == 0
    assert not await nxt.is_visible()

    # back to the real project (a saved pipeline: opened from the picker) and on to a running export
    picker = page.get_by_label("Open a saved pipeline")
    labels = await picker.locator("option").evaluate_all("options => options.map(o => o.textContent)")
    wanted = next(i for i, x in enumerate(labels) if "example-org / example.com " in x.replace("\xa0", " "))
    await picker.select_option(index=wanted)  # ipywidgets writes the labels with non-breaking spaces
    await page.get_by_role("button", name="Open this pipeline").click()
    await page.get_by_text("finished analyses, newest first").wait_for(timeout=30_000)
    await page.get_by_role("button", name="Use this analysis").click()
    await nxt.click()
    await page.get_by_text("under the limit of").wait_for(timeout=30_000)
    await nxt.click()
    await page.get_by_role("button", name="Use these fields").click()
    await nxt.click()
    await page.get_by_role("button", name="▶ Start export").click()
    await page.get_by_text("Botify reports no progress").first.wait_for(timeout=30_000)
    await shot("export-running")

    await card(page, "5 · Fields").get_by_role("button", name="✎ Change").click()
    question = page.get_by_text("An export is running. Going back to step 5 (Fields)")
    await question.wait_for(timeout=10_000)  # visible: it used to be in the collapsed card's hidden body
    await shot("change-asks")
    await page.get_by_role("button", name="Cancel").first.click()
    await question.wait_for(state="hidden")

    await page.reload()  # a new kernel resumes the export; the question is still seen
    await page.get_by_text("resumed, not created again").first.wait_for(timeout=60_000)
    await card(page, "4 · Depth").get_by_role("button", name="✎ Change").click()
    question = page.get_by_text("An export is running. Going back to step 4 (Depth)")
    await question.wait_for(timeout=10_000)
    await shot("change-asks-after-reload")
    await page.get_by_role("button", name="Go back").click()
    await page.get_by_role("button", name="Size the graph").wait_for(timeout=30_000)
    await shot("went-back")
    assert len(slow_app.jobs()) == 2  # the reload resumed the jobs; going back created none
    assert not errors, errors
    assert not shot.problems, "\n".join(shot.problems)


async def test_the_wizard_session_reruns_headless_into_the_same_files(
    app: App, venv_kernel: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a person clicked in the app, replayed by papermill (`botify-graph reproduce`), gives the same CSVs."""
    import papermill as pm

    from botify_graph.fake import DEMO_TOKEN
    from botify_graph.reproduce import reproduce

    sidecar = app.state_dir / "link_graph.state.json"
    if not sidecar.exists():
        pytest.skip("needs the wizard flow above to have run")
    run = reproduce(sidecar, extra={"output_dir": str(tmp_path / "batch")})
    assert run.parameters["api_base"] == app.api_base and run.parameters["analysis"] == "20241108"
    monkeypatch.setenv("BOTIFY_API_TOKEN", DEMO_TOKEN)
    await asyncio.to_thread(
        pm.execute_notebook, str(ROOT / "notebooks" / "link_graph.ipynb"), str(tmp_path / "out.ipynb"),
        parameters=run.parameters, kernel_name=venv_kernel, progress_bar=False, cwd=str(ROOT),
    )  # fmt: skip
    for kind in ("links", "meta"):
        name = f"example-org/example.com/example.com_20241108_{kind}.csv"
        wizard_file, batch_file = app.state_dir / "downloads" / name, tmp_path / "batch" / name
        assert wizard_file.read_bytes() == batch_file.read_bytes(), kind
    assert DEMO_TOKEN not in (tmp_path / "out.ipynb").read_text()


async def test_idle_kernels_are_culled(app: App) -> None:
    """A page load without a browser (a curl, a closed tab) leaves a kernel: culling shuts it down."""
    async with httpx.AsyncClient(timeout=60) as client:
        html = (await client.get(app.url)).text
        kernel = re.search(r'"kernelId": "([0-9a-f-]+)"', html)
        assert kernel, "no kernel id in the page"
        url = f"{app.base}api/kernels/{kernel.group(1)}"  # the client holds the login cookie from app.url
        assert (await client.get(url)).status_code == 200
        deadline = time.monotonic() + 40  # --cull-idle 8: idle 8 s, checked every 4 s
        while (await client.get(url)).status_code == 200:
            assert time.monotonic() < deadline, "the idle kernel was not culled"
            await asyncio.sleep(0.5)


async def test_jupyterlab_opens_the_notebook_unmodified_and_saves_it_without_outputs(
    venv_kernel: str, browser: Any, artifacts: Path, tmp_path: Path
) -> None:
    """JupyterLab used to mark notebooks/link_graph.ipynb modified as soon as it was opened (the kernel's
    language_info), so a save wrote the wizard's output into the repository's notebook."""
    from botify_graph.hygiene import problems

    repo = tmp_path / "repo"  # a copy of the repository's notebook where layout finds a repository
    (repo / "notebooks").mkdir(parents=True)
    committed = json.loads((ROOT / "notebooks" / "link_graph.ipynb").read_text(encoding="utf-8"))
    here = sys.version.split()[0]
    if committed["metadata"]["language_info"]["version"] != here:  # pragma: no cover - another Python than 3.11.7
        committed["metadata"]["language_info"]["version"] = here  # what the committed file would say for it
    path = repo / "notebooks" / "link_graph.ipynb"
    path.write_text(json.dumps(committed, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    before = json.loads(path.read_text(encoding="utf-8"))

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTIFY_")}
    env.update(JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"), JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "ws"),
               BOTIFY_GRAPH_HOME=str(repo), BOTIFY_GRAPH_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_PREFER_ENV_PATH="1")  # fmt: skip
    lab = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={repo}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    log: list[str] = []
    threading.Thread(target=lambda: log.extend(lab.stdout or []), daemon=True).start()
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/status", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and lab.poll() is None, "JupyterLab did not start:\n" + "".join(log)
            await asyncio.sleep(0.5)
        assert any("saved without outputs" in line for line in log), "the hygiene extension is not enabled:" + (
            " run scripts/bootstrap\n" + "".join(log)
        )
        page = await browser.new_page(viewport={"width": 1280, "height": 1000})
        await page.goto(f"{base}/lab/tree/notebooks/link_graph.ipynb")
        status = page.locator(".jp-Notebook-ExecutionIndicator").first
        await page.wait_for_function(
            "() => document.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status === 'idle'",
            timeout=60_000,
        )
        await page.wait_for_timeout(3_000)  # the kernel's info has arrived and been applied
        dirty = page.locator(".lm-TabBar-tab.jp-mod-dirty")
        assert await dirty.count() == 0, "opening the notebook marked it modified"
        await page.screenshot(path=str(artifacts / "lab-01-opened.png"))

        await page.get_by_role("menuitem", name="Run").click()
        await page.get_by_text("Run All Cells", exact=True).click()
        await page.get_by_text("1 · Connect").first.wait_for(timeout=60_000)  # the wizard is an output now
        assert await status.get_attribute("data-status") in ("idle", "busy")
        await page.keyboard.press("Control+s")
        await page.wait_for_timeout(2_000)
        await page.get_by_text("1 · Connect").first.scroll_into_view_if_needed()
        await page.screenshot(path=str(artifacts / "lab-02-wizard-saved.png"))
        assert await page.evaluate(OUTSIDE_CARDS_JS) == []  # nothing past a card's edge in Lab either
        assert await page.locator(".jp-Dialog").count() == 0  # no "file changed on disk" conflict
        saved = json.loads(path.read_text(encoding="utf-8"))
        assert problems(saved) == []
        assert all(not c.get("outputs") for c in saved["cells"]) and "widgets" not in saved["metadata"]
        assert saved["metadata"] == before["metadata"] and saved["cells"] == before["cells"]
    finally:
        stop_group(lab, grace=20)
