"""`botify-graph app`: the Voila command line and environment (the browser tier runs the real thing)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import app_server

from botify_graph.app import (
    TEMPLATE,
    AppConfig,
    app_environ,
    check_candidates,
    find_notebook,
    free_port,
    serve,
    template_root,
    voila_command,
)
from botify_graph.appserver import PageWatch
from botify_graph.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "link_graph.ipynb"


def test_voila_serves_localhost_only_with_code_and_tracebacks_hidden_and_culls_idle_kernels() -> None:
    cmd = voila_command(NOTEBOOK, 8123, cull_idle_s=600, python="py")
    assert cmd[:4] == ["py", "-m", "botify_graph.appserver", str(NOTEBOOK)]  # Voila plus the app's own routes
    for flag in (
        "--no-browser",
        "--Voila.ip=127.0.0.1",
        "--port=8123",
        "--Voila.port_retries=0",
        "--strip_sources=True",
        "--show_tracebacks=False",
        "--MappingKernelManager.cull_idle_timeout=600",
        "--MappingKernelManager.cull_interval=60",
        "--MappingKernelManager.cull_connected=False",
        f"--template={TEMPLATE}",
        "--AppVoila.page_grace_s=10",
        "--PasswordIdentityProvider.allow_password_change=False",
    ):
        assert flag in cmd
    assert not [a for a in cmd if "token" in a.lower()]  # the access token never goes on a command line
    short = voila_command(NOTEBOOK, 8123, cull_idle_s=8, template=None)
    assert "--MappingKernelManager.cull_interval=4" in short  # checked often enough for a short timeout
    assert not [a for a in short if a.startswith("--template")]


def test_the_template_ships_with_the_repository_and_links_no_cdn() -> None:
    root = template_root(NOTEBOOK)
    assert root == ROOT / "templates"
    text = (root / "voila" / "templates" / TEMPLATE / "index.html.j2").read_text()
    assert not re.search(r"""(href|src)=["']?(https?:)?//""", text)  # Voila's lab template links jsdelivr


def test_the_app_environment_points_kernels_at_the_fake_and_a_separate_state_folder(tmp_path: Path) -> None:
    base = {"PATH": "/bin", "JUPYTER_PATH": "/elsewhere", "BOTIFY_API_TOKEN": "real"}
    env = app_environ(base, home=ROOT, templates=ROOT / "templates", api_base="http://127.0.0.1:1/v1",
                      token="fake-token", state_dir=tmp_path)  # fmt: skip
    assert env["BOTIFY_API_BASE"] == "http://127.0.0.1:1/v1" and env["BOTIFY_API_TOKEN"] == "fake-token"
    assert env["BOTIFY_GRAPH_OUT"] == str(tmp_path / "downloads")
    assert env["BOTIFY_GRAPH_STATE"] == str(tmp_path / "link_graph.state.json")
    assert env["BOTIFY_GRAPH_CONFIG_DIR"] == str(tmp_path / "config")  # a demo never overwrites the token file
    assert env["JUPYTER_PATH"].split(":") == [str(ROOT / "templates"), "/elsewhere"]
    assert env["BOTIFY_GRAPH_HOME"] == str(ROOT)
    real = app_environ(base, home=ROOT, templates=None)
    assert (
        real["BOTIFY_API_TOKEN"] == "real" and "BOTIFY_GRAPH_OUT" not in real and real["JUPYTER_PATH"] == "/elsewhere"
    )


def test_find_notebook(tmp_path: Path) -> None:
    assert find_notebook() == NOTEBOOK
    assert find_notebook(NOTEBOOK) == NOTEBOOK
    with pytest.raises(ConfigError, match="No notebook at"):
        find_notebook(tmp_path / "missing.ipynb")


def test_a_port_in_use_is_an_error_that_says_what_to_do() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(ConfigError, match=f"Port {port} .* is in use"):
            serve(AppConfig(notebook=NOTEBOOK, port=port, open_browser=False))


def test_the_access_token_and_the_candidates_go_through_the_environment(tmp_path: Path) -> None:
    projects = tmp_path / "projects.txt"
    projects.write_text("https://app.botify.com/acme/shop/\n")
    base = {"PATH": "/bin", "BOTIFY_GRAPH_APP_TOKEN": "stale"}
    env = app_environ(base, home=ROOT, templates=None, app_token="t0ken", candidates=projects)
    assert env["BOTIFY_GRAPH_APP_TOKEN"] == "t0ken"  # the app server reads it and removes it before any kernel
    assert env["BOTIFY_GRAPH_CANDIDATES"] == str(projects.resolve())
    assert "BOTIFY_GRAPH_APP_TOKEN" not in app_environ(base, home=ROOT, templates=None)  # --no-token


def test_a_candidates_file_must_list_a_project(tmp_path: Path) -> None:
    good = tmp_path / "projects.txt"
    good.write_text("# mine\nhttps://app.botify.com/acme/shop/ max_edges=5\nacme\n  blog\n")
    assert check_candidates(good) == good.resolve()
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n\n")
    with pytest.raises(ConfigError, match=r"lists no project\. Write one project per line"):
        check_candidates(empty)
    with pytest.raises(ConfigError, match="cannot read"):
        check_candidates(tmp_path / "missing.txt")
    with pytest.raises(ConfigError, match="lists no project"):
        serve(AppConfig(notebook=NOTEBOOK, port=free_port(), open_browser=False, candidates=empty))


# -- the page watch: a kernel whose page has gone is shut down (injected clock) ---------------------------


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_kernel_is_stopped_seconds_after_its_page_has_gone() -> None:
    clock = Clock()
    watch = PageWatch(page_grace_s=10, start_grace_s=120, clock=clock)
    assert watch.update({"k": 0}) == []  # starting: the page has not connected yet
    clock.t += 3
    assert watch.update({"k": 1}) == []  # the page connected
    clock.t += 600
    assert watch.update({"k": 1}) == []  # a long export with the page open (a hidden tab keeps its socket)
    assert watch.update({"k": 0}) == []  # reload or closed tab: the clock starts
    clock.t += 9.9
    assert watch.update({"k": 0}) == []
    clock.t += 0.1
    assert watch.update({"k": 0}) == ["k"]


def test_a_brief_disconnection_does_not_stop_the_kernel() -> None:
    clock = Clock()
    watch = PageWatch(page_grace_s=10, clock=clock)
    watch.update({"k": 1})
    watch.update({"k": 0})
    clock.t += 8
    assert watch.update({"k": 1}) == []  # the page's websocket reconnected
    clock.t += 8
    assert watch.update({"k": 0}) == []  # a new absence starts from zero
    clock.t += 9
    assert watch.update({"k": 0}) == []
    clock.t += 1
    assert watch.update({"k": 0}) == ["k"]


def test_a_kernel_no_page_ever_connected_to_goes_after_the_start_grace() -> None:
    clock = Clock()
    watch = PageWatch(page_grace_s=10, start_grace_s=120, clock=clock)
    assert watch.update({"curl": 0, "page": 0}) == []
    clock.t += 5
    watch.update({"curl": 0, "page": 1})
    clock.t += 115
    assert watch.update({"curl": 0, "page": 2}) == ["curl"]  # a second tab on one kernel is still its page


def test_kernels_that_are_gone_are_forgotten() -> None:
    clock = Clock()
    watch = PageWatch(page_grace_s=10, clock=clock)
    watch.update({"a": 1, "b": 1})
    watch.update({"b": 0})
    assert set(watch.first_seen) == {"b"}
    clock.t += 10
    assert watch.update({"b": 0}) == ["b"]
    watch.forget("b")
    assert watch.update({}) == [] and not watch.first_seen


# -- the app server itself, on 127.0.0.1 ----------------------------------------------------------------------


@contextlib.contextmanager
def _app(tmp_path: Path, *extra: str) -> Iterator[tuple[str, list[str]]]:
    """`botify-graph app EXTRA...` with its files in `tmp_path`: its URL and output lines."""
    env = dict(BOTIFY_GRAPH_OUT=str(tmp_path / "downloads"), BOTIFY_GRAPH_STATE=str(tmp_path / "state.json"),
               BOTIFY_GRAPH_CONFIG_DIR=str(tmp_path / "config"))  # fmt: skip
    with app_server(*extra, env=env) as (_, url, lines):
        yield url, lines


@pytest.mark.slow
def test_without_its_token_the_app_refuses_pages_kernels_and_files(tmp_path: Path) -> None:
    folder = tmp_path / "downloads" / "acme" / "shop"
    folder.mkdir(parents=True)
    (folder / "shop_20241108_links.csv").write_text("source,target\nhttps://s/,https://s/a\n")
    with _app(tmp_path) as (url, _):
        parts = httpx.URL(url)
        token = parts.params["token"]
        assert len(token) >= 32
        base = str(parts.copy_with(query=None))
        file_url = base + "botify-graph/files/acme/shop/shop_20241108_links.csv"
        with httpx.Client(timeout=60, follow_redirects=False) as anonymous:
            page = anonymous.get(base)
            assert page.status_code == 302 and "/login" in page.headers["location"]
            assert anonymous.get(file_url).status_code in (302, 403)
            assert anonymous.get(base + "api/kernels").status_code in (302, 403, 404, 405)
        with httpx.Client(timeout=60) as browser:
            page = browser.get(url)  # the printed URL: the token sets a login cookie
            assert page.status_code == 200 and "botify-graph" in page.text
            kernel = re.search(r'"kernelId": "([0-9a-f-]+)"', page.text)
            assert kernel, "no kernel id in the page"
            kernel_url = f"{base}api/kernels/{kernel.group(1)}"
            assert browser.get(kernel_url).status_code == 200  # with the cookie
            assert browser.get(file_url).content.startswith(b"source,target")
        with httpx.Client(timeout=60) as anonymous:
            assert anonymous.get(kernel_url).status_code == 403  # a kernel's id is not a key
            assert anonymous.get(kernel_url + "?token=wrong").status_code == 403


@pytest.mark.slow
def test_no_token_opts_out_with_a_warning(tmp_path: Path) -> None:
    with _app(tmp_path, "--no-token") as (url, lines):
        assert "token" not in url
        assert any("WARNING: --no-token" in line for line in lines)
        with httpx.Client(timeout=60) as anyone:
            assert anyone.get(url).status_code == 200


@pytest.mark.slow
async def test_a_kernel_whose_page_has_gone_is_shut_down_within_seconds(tmp_path: Path) -> None:
    """A page's websocket open for longer than the grace keeps its kernel; once it closes, the kernel goes."""
    from tornado.websocket import websocket_connect

    with _app(tmp_path, "--page-grace", "2") as (url, _):
        parts = httpx.URL(url)
        token, base = parts.params["token"], str(parts.copy_with(query=None))
        async with httpx.AsyncClient(timeout=60) as client:
            page = await client.get(url)
            kernel = re.search(r'"kernelId": "([0-9a-f-]+)"', page.text)
            assert kernel
            kernel_url = f"{base}api/kernels/{kernel.group(1)}?token={token}"
            ws = await websocket_connect(kernel_url.replace("http", "ws", 1).replace("?", "/channels?session_id=t&"))
            await asyncio.sleep(5)  # well past the grace: a connected page keeps its kernel
            model = (await client.get(kernel_url)).json()
            assert model["connections"] == 1
            ws.close()
            t0 = time.monotonic()
            while (await client.get(kernel_url)).status_code == 200:
                assert time.monotonic() - t0 < 15, "the kernel of a closed page was not shut down"
                await asyncio.sleep(0.25)
            print(f"\nkernel shut down {time.monotonic() - t0:.1f} s after its page closed (grace 2 s)")
