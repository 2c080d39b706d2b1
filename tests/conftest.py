"""Shared fixtures: the fake Botify API over real sockets, and small link graphs (see sample_graphs.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import CHROMIUM, CHROMIUM_FLAGS
from sample_graphs import LINKS, META, NEW, OLD, A, B, C, D, E, meta_csv, site, write_links

from botify_graph.fake import FakeBotify, Scenario


@pytest.fixture
def small(tmp_path: Path) -> tuple[Path, Path]:
    """(links, meta) of sample_graphs.LINKS and META."""
    links = write_links(tmp_path / "site_20241108_links.csv", LINKS)
    meta = tmp_path / "site_20241108_meta.csv"
    meta.write_text(META)
    return links, meta


@pytest.fixture
def crawls(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """(old links, new links, old meta, new meta) of sample_graphs.OLD and NEW, without depths."""
    return (
        write_links(tmp_path / "old_links.csv", OLD),
        write_links(tmp_path / "new_links.csv", NEW),
        meta_csv(tmp_path / "old_meta.csv", dict.fromkeys((A, B, C, E))),
        meta_csv(tmp_path / "new_meta.csv", dict.fromkeys((A, B, C, D))),
    )


@pytest.fixture
def site_graph(tmp_path: Path) -> tuple[Path, Path]:
    """(links, meta) of sample_graphs.site: a hub and 30 pages."""
    return site(tmp_path)


@pytest.fixture
def fake_api() -> Iterator[FakeBotify]:
    """A fresh fake Botify API at scale 0.02 (~1.4k pages); jobs are DONE on the first poll.

    Everything else is contract-normal, including 5 requests/s per endpoint. Change the behaviour with
    `fake_api.scenario = Scenario(...)`; read `fake_api.requests` / `fake_api.jobs` to assert on traffic.
    """
    with FakeBotify(scale=0.02, scenario=Scenario(polls_to_done=1)) as fake:
        yield fake


@pytest.fixture(scope="session")
def fake_api_session() -> Iterator[FakeBotify]:
    """One fake API for the whole session, for read-only tests: do not change its scenario."""
    with FakeBotify(scale=0.02, scenario=Scenario(polls_to_done=1)) as fake:
        yield fake


@pytest.fixture(scope="session")
def venv_kernel() -> str:
    """The name of a kernel that runs this Python environment (with botify_graph), for papermill.

    ipykernel's wheel installs a `python3` kernelspec into the environment whose `python` argv jupyter_client
    swaps for `sys.executable`; if another one shadows it, install ours into the environment (--sys-prefix).
    """
    import os
    import subprocess
    import sys
    from pathlib import Path

    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    os.environ.setdefault("JUPYTER_PREFER_ENV_PATH", "1")
    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
        ours = Path(spec.resource_dir).resolve().is_relative_to(Path(sys.prefix).resolve())
        ok = ours or spec.argv[0] in {"python", "python3", sys.executable}
    except NoSuchKernel:
        ok = False
    if not ok:
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix"], check=True, capture_output=True)
    return "python3"


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """A headless Chromium for the browser tier (`scripts/install-browser` installs it)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            await b.close()
