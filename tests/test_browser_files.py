"""The app's files in Chromium: the access token, download links, Open in Cosmograph, and a reload mid-export
that downloads each file once. `botify-graph app --candidates FILE` runs against a fake Botify API held by
this test process, so the test decides when the jobs finish and counts what its CDN served.

Screenshots go to `test-artifacts/browser/files/` (look at them: links visible, nothing past a card's edge).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from helpers import CHROMIUM, app_server

from botify_graph.fake import FakeBotify, Scenario

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browser" / "files"
PROJECT = "example-org / example.com"
FOLDER = Path("downloads") / "example-org" / "example.com"
NAMES = {"links": "example.com_20241108_links.csv", "meta": "example.com_20241108_meta.csv"}
RUNNING = Scenario(polls_to_done=1_000_000)  # the jobs run until the test lets them finish
FINISH = Scenario(polls_to_done=1)

if not Path(CHROMIUM).exists():  # pragma: no cover - scripts/test installs it, so CI runs these
    pytest.skip(f"{CHROMIUM} is missing: run scripts/install-browser (Debian's chromium).", allow_module_level=True)
pytest.importorskip("playwright", reason="playwright (the Python package) is not installed: scripts/bootstrap dev")


@dataclass
class App:
    proc: subprocess.Popen[str]
    url: str  # with the access token
    fake: FakeBotify
    state: Path
    output: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return str(httpx.URL(self.url).copy_with(query=None))

    def downloads(self) -> dict[str, int]:
        """Files the fake's CDN served, per kind (a download counts once the body is sent)."""
        return {k: sum(j.downloads for j in self.fake.jobs_of_kind(k)) for k in ("links", "meta")}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    state = tmp_path_factory.mktemp("app-files")
    candidates = state / "projects.txt"
    candidates.write_text(
        "# the projects this analyst looks after\n"
        "https://app.botify.com/example-org/example.com/ max_edges=1000000\n"
        "example-org\n  no-gsc.example\n"
    )
    with FakeBotify(scale=0.05, scenario=RUNNING) as fake:
        env = dict(
            BOTIFY_API_BASE=fake.base_url, BOTIFY_API_TOKEN=fake.token, BOTIFY_GRAPH_OUT=str(state / "downloads"),
            BOTIFY_GRAPH_STATE=str(state / "link_graph.state.json"), BOTIFY_GRAPH_CONFIG_DIR=str(state / "config"),
        )  # fmt: skip
        with app_server("--candidates", str(candidates), "--cull-idle", "120", env=env) as (proc, url, lines):
            yield App(proc, url, fake, state, lines)


@pytest.fixture(scope="module")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


async def _overflowing(page: Any) -> list[str]:
    """Elements of the wizard wider than their box (what would run past a card's edge)."""
    found: list[str] = await page.evaluate(
        """() => Array.from(document.querySelectorAll('.widget-html-content, .widget-html-content table'))
            .filter(el => el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1)
            .map(el => el.className + ': ' + el.textContent.slice(0, 80))"""
    )
    return found


async def _download(page: Any, link: Any) -> tuple[str, bytes]:
    async with page.expect_download() as info:
        await link.click()
    download = await info.value
    return download.suggested_filename, Path(await download.path()).read_bytes()


async def test_without_its_token_the_app_shows_no_wizard(app: App, browser: Any, artifacts: Path) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    response = await page.goto(app.base)
    assert "/login" in page.url and response is not None
    await page.screenshot(path=str(artifacts / "00-no-token.png"))
    assert await page.get_by_role("button", name="Log in").count() == 1  # it takes the token, nothing else
    assert not await page.get_by_text("Setup a Password").count()  # never stores a password in Jupyter's config
    assert not await page.get_by_text("Connected as").count()


async def test_reload_mid_export_then_download_and_open_cosmograph(app: App, browser: Any, artifacts: Path) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 1400}, accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    nxt = page.get_by_role("button", name="Next ›")
    n = [0]

    async def shot(name: str) -> None:
        n[0] += 1
        await page.screenshot(path=str(artifacts / f"{n[0]:02d}-{name}.png"), full_page=True)

    await page.goto(app.url)
    await page.get_by_text("Connected as demo.user").wait_for(timeout=60_000)
    # the projects of --candidates FILE are offered in the picker
    picker = page.locator("select").filter(has=page.locator("option", has_text=PROJECT))
    await picker.select_option(label=PROJECT)
    await page.get_by_role("button", name="Use this project").click()
    await page.get_by_text("Pipeline id:").wait_for()
    await shot("project-picked")
    await nxt.click()
    await page.get_by_text("finished analyses, newest first").wait_for(timeout=30_000)
    await page.get_by_role("button", name="Use this analysis").click()
    await nxt.click()
    await page.get_by_text("under the limit of").wait_for(timeout=30_000)  # sized on entry
    await nxt.click()
    try:
        await page.get_by_role("button", name="Use these fields").click(timeout=30_000)
    except Exception:
        await shot("failed-at-fields")
        raise
    await nxt.click()
    await page.get_by_role("button", name="▶ Start export").click(timeout=30_000)
    await page.get_by_text("PROCESSING").first.wait_for(timeout=30_000)
    await shot("export-running")
    jobs = {j.job_id for j in app.fake.jobs.values()}
    assert len(jobs) == 2

    # A reload mid-export: the closed page's kernel stops following within seconds (the app shuts it down
    # once its websocket is gone); meanwhile the new kernel waits for it, then takes the same jobs over.
    await page.reload()
    await page.get_by_text("is following this export").first.wait_for(timeout=60_000)
    await shot("export-waiting-for-the-old-page")
    t0 = time.monotonic()
    await page.get_by_text("resumed, not created again").first.wait_for(timeout=40_000)  # it took the same jobs over
    print(f"\nthe new page took the export over {time.monotonic() - t0:.1f} s after it started waiting")
    await shot("export-taken-over")
    app.fake.scenario = FINISH
    await page.get_by_text("Your link graph is ready").wait_for(timeout=90_000)
    assert {j.job_id for j in app.fake.jobs.values()} == jobs  # no job created again
    assert app.downloads() == {"links": 1, "meta": 1}  # one download per file, by the page that is open
    await shot("result")
    await page.locator("#rendered_cells").screenshot(path=str(artifacts / "result-card.png"))

    # each download link gives the whole file, as an attachment named like it
    for kind, name in NAMES.items():
        link = page.locator(f'a[download="{name}"]')
        assert await link.is_visible()
        suggested, body = await _download(page, link)
        assert suggested == name
        assert body == (app.state / FOLDER / name).read_bytes(), kind

    # Open in Cosmograph: cosmograph.app with data= and meta= on this kernel's 127.0.0.1 server, with CORS
    cosmograph = page.locator("a.botify-graph-cosmograph")
    assert await cosmograph.is_visible() and await cosmograph.get_attribute("target") == "_blank"
    href = await cosmograph.get_attribute("href")
    assert href and href.startswith("https://cosmograph.app/run/?")
    query = parse_qs(urlsplit(href).query)
    assert query["nodeColor"] == ["color-pagetype"]
    for param, kind in (("data", "links"), ("meta", "meta")):
        served = query[param][0]
        assert served.startswith("http://127.0.0.1:")
        r = httpx.get(served, headers={"Origin": "https://cosmograph.app"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
        assert r.content == (app.state / FOLDER / NAMES[kind]).read_bytes()
    assert not await _overflowing(page)

    # The Project step lists the export with its links (and one found on disk without a registry record)
    older = app.state / FOLDER / "example.com_20241101_links.csv"
    older.write_bytes((app.state / FOLDER / NAMES["links"]).read_bytes()[:200].rsplit(b"\n", 1)[0] + b"\n")
    await page.get_by_role("button", name="✎ Change").nth(1).click()  # back to step 2, Project
    await page.get_by_role("button", name="Use this project").click()
    await page.get_by_text("Already exported for this project").wait_for(timeout=30_000)
    await shot("project-existing-exports")
    table = page.locator("table", has=page.locator("a.botify-graph-cosmograph"))
    await table.screenshot(path=str(artifacts / "project-rows.png"))
    suggested, body = await _download(page, page.locator('a[download="example.com_20241101_links.csv"]').first)
    assert suggested == older.name and body == older.read_bytes()
    suggested, body = await _download(page, page.locator(f'a[download="{NAMES["meta"]}"]').first)
    assert body == (app.state / FOLDER / NAMES["meta"]).read_bytes()
    rows_cosmograph = await page.locator("a.botify-graph-cosmograph").first.get_attribute("href")
    assert rows_cosmograph and "meta=" in rows_cosmograph
    data = parse_qs(urlsplit(rows_cosmograph).query)["data"][0]
    assert httpx.get(data, headers={"Origin": "https://cosmograph.app"}).status_code == 200
    assert not await _overflowing(page)
    assert app.downloads() == {"links": 1, "meta": 1}  # still: opening files downloads nothing from Botify
    assert not errors, errors
