"""The download route (`botify_graph.serverext`) in a real Jupyter server on 127.0.0.1, loaded the way
JupyterLab loads it: from the jupyter_server_config.d file installed into this environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from helpers import jupyter_server

from botify_graph import layout
from botify_graph.serverext import _jupyter_server_extension_points, export_kernel_env, served_folder

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "test-token-0123456789abcdef"
FOLDER = "example-org/example.com"
LINKS = f"{FOLDER}/example.com_20241108_links.csv"
BIG = f"{FOLDER}/example.com_20241001_links.csv"
BIG_BYTES = 64 << 20


@dataclass
class Server:
    url: str
    out: Path
    proc: subprocess.Popen[bytes]

    def get(self, path: str, *, auth: bool = True, headers: dict[str, str] | None = None) -> httpx.Response:
        sent = {"Authorization": f"token {TOKEN}"} if auth else {}
        return httpx.get(self.url + path, headers={**sent, **(headers or {})}, follow_redirects=False)


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("home")
    out = home / "downloads"
    (out / FOLDER).mkdir(parents=True)
    (out / LINKS).write_bytes(b"source,target\nhttps://e.com/,https://e.com/a\n")
    with (out / BIG).open("wb") as f:
        line = b"https://example.com/a/rather/long/path/to/a/page,https://example.com/another/long/page/path\n"
        f.write(b"source,target\n" + line * (BIG_BYTES // len(line)))
    (out / layout.REGISTRY_NAME).write_text('{"schema_version": 2, "exports": {}}')
    (out / FOLDER / "example.com_20241108_summary.md").write_text("# summary\n")
    (out / FOLDER / "example.com_20241108_graph.html").write_text("<script>alert(1)</script>")
    (out / FOLDER / "example.com_20241108_meta.csv.part").write_text("half")
    secret = home / "secret.csv"
    secret.write_text("id\nsecret\n")
    (out / FOLDER / "example.com_20241109_links.csv").symlink_to(secret)  # an export name leading out: refused
    (out / FOLDER / "example.com_20241110_links.csv").symlink_to(out / LINKS)  # inside the folder: fine
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOTIFY_", "JUPYTER_TOKEN"))}
    env.update(BOTIFY_GRAPH_HOME=str(home), JUPYTER_PREFER_ENV_PATH="1")
    env.pop("JUPYTER_CONFIG_DIR", None)
    with jupyter_server("jupyter_server", home, TOKEN, "/base/", env=env) as (url, proc):
        yield Server(url, out, proc)


def test_the_extension_is_installed_for_jupyter_servers_in_this_environment() -> None:
    config = Path(sys.prefix) / "etc" / "jupyter" / "jupyter_server_config.d" / "botify_graph.json"
    assert config.is_file(), "run scripts/bootstrap (an editable install does not place data files)"
    shipped = ROOT / "jupyter-config" / "jupyter_server_config.d" / "botify_graph.json"
    assert json.loads(config.read_text()) == json.loads(shipped.read_text())
    assert json.loads(shipped.read_text())["ServerApp"]["jpserver_extensions"] == {"botify_graph.serverext": True}
    assert _jupyter_server_extension_points() == [{"module": "botify_graph.serverext"}]


def test_an_export_downloads_whole_as_an_attachment(server: Server) -> None:
    r = server.get(layout.FILES_ROUTE + LINKS)
    assert r.status_code == 200
    assert r.content == (server.out / LINKS).read_bytes()
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == "attachment; filename*=utf-8''example.com_20241108_links.csv"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"].endswith("; sandbox")
    assert int(r.headers["content-length"]) == len(r.content)


def test_head_and_range(server: Server) -> None:
    r = httpx.head(server.url + layout.FILES_ROUTE + LINKS, headers={"Authorization": f"token {TOKEN}"})
    assert r.status_code == 200 and r.content == b"" and int(r.headers["content-length"]) > 0
    part = server.get(layout.FILES_ROUTE + LINKS, headers={"Range": "bytes=0-5"})
    assert part.status_code == 206 and part.content == b"source"


def test_reports_download_and_an_html_report_cannot_script_the_server(server: Server) -> None:
    md = server.get(layout.FILES_ROUTE + FOLDER + "/example.com_20241108_summary.md")
    assert md.status_code == 200 and md.headers["content-type"] == "text/markdown; charset=utf-8"
    html = server.get(layout.FILES_ROUTE + FOLDER + "/example.com_20241108_graph.html")
    assert html.status_code == 200 and html.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in html.headers["content-security-policy"]


def test_a_symlink_inside_the_folder_is_served(server: Server) -> None:
    r = server.get(layout.FILES_ROUTE + FOLDER + "/example.com_20241110_links.csv")
    assert r.status_code == 200 and r.content == (server.out / LINKS).read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "export_registry.json",
        "",
        "example-org/",
        FOLDER,
        FOLDER + "/",
        FOLDER + "/example.com_20241108_meta.csv.part",
        FOLDER + "/example.com_20241109_links.csv",  # a symlink to a file outside the folder
        FOLDER + "/example.com_20241108_meta.csv",  # a name it would serve, but no such file
        "../secret.csv",
        "%2e%2e/secret.csv",
        "example-org/example.com/..%2F..%2F..%2Fsecret.csv",
        "example-org%2Fexample.com%2F..%2F..%2Fexport_registry.json",
        "example-org/example.com/%2e%2e/%2e%2e/export_registry.json",
        FOLDER + "/..%2F..%2Fexport_registry.json",
        "..%2F" * 6 + "etc/passwd",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
    ],
)
def test_nothing_else_is_served(server: Server, path: str) -> None:
    r = server.get(layout.FILES_ROUTE + path)
    assert r.status_code in (403, 404), (path, r.status_code, r.text[:200])  # 403: the server's own `..` guard
    assert b"secret" not in r.content and b"schema_version" not in r.content


def test_an_encoded_slash_between_valid_parts_is_the_same_file(server: Server) -> None:
    r = server.get(layout.FILES_ROUTE + LINKS.replace("/", "%2F"))
    assert r.status_code in (200, 404)  # tornado may decode it; either way only that one file could come back
    if r.status_code == 200:
        assert r.content == (server.out / LINKS).read_bytes()


def test_without_the_servers_login_nothing_is_served(server: Server) -> None:
    r = server.get(layout.FILES_ROUTE + LINKS, auth=False)
    assert r.status_code in (302, 403)
    assert b"https://e.com" not in r.content
    if r.status_code == 302:
        assert "/login" in r.headers["location"]
    assert server.get(layout.FILES_ROUTE + LINKS + f"?token={TOKEN}", auth=False).status_code == 200


def test_other_methods_are_refused(server: Server) -> None:
    headers = {"Authorization": f"token {TOKEN}"}
    for method in ("POST", "PUT", "DELETE"):
        r = httpx.request(method, server.url + layout.FILES_ROUTE + LINKS, headers=headers)
        assert r.status_code == 405, method
    assert (server.out / LINKS).exists()


def test_a_big_file_is_streamed_not_read_into_memory(server: Server) -> None:
    """The server's memory while it sends a 64 MiB file (printed), against the file's size."""
    before = _rss_kb(server.proc.pid)
    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_kb(server.proc.pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    got = 0
    try:
        with httpx.stream(
            "GET", server.url + layout.FILES_ROUTE + BIG, headers={"Authorization": f"token {TOKEN}"}
        ) as r:
            assert r.status_code == 200
            for chunk in r.iter_raw(1 << 16):
                got += len(chunk)
                time.sleep(0.0002)  # a slower reader than the disk: a server that buffered would grow
    finally:
        stop.set()
        sampler.join()
    size = (server.out / BIG).stat().st_size
    grew = (peak[0] - before) * 1024
    print(f"\nserved {size / 2**20:.0f} MiB; server RSS {before / 1024:.0f} MiB → peak {peak[0] / 1024:.0f} MiB "
          f"(+{grew / 2**20:.1f} MiB, {grew / size:.1%} of the file)")  # fmt: skip
    assert got == size
    assert grew < size / 4, "the server held a large part of the file in memory"


def test_kernels_learn_the_route_and_folder_from_the_server_environment(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    export_kernel_env("/user/me/", tmp_path, env)
    assert env == {layout.FILES_URL_VAR: "/user/me/botify-graph/files/", layout.FILES_DIR_VAR: str(tmp_path)}
    path = tmp_path / "o" / "p" / "p_20241108_meta.csv"
    assert layout.served_url(path, environ=env) == "/user/me/botify-graph/files/o/p/p_20241108_meta.csv"


def test_the_served_folder_is_the_one_kernels_of_the_checkout_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in (layout.HOME_VAR, layout.OUT_VAR):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / layout.NOTEBOOK).parent.mkdir(parents=True)
    (tmp_path / layout.NOTEBOOK).write_text("{}")
    assert served_folder(tmp_path) == tmp_path / "downloads"
    # a kernel runs in notebooks/: the same layout rule finds the same folder
    assert layout.out_dir(home=layout.project_home(tmp_path / "notebooks")) == served_folder(tmp_path)
    monkeypatch.setenv(layout.OUT_VAR, str(tmp_path / "elsewhere"))
    assert served_folder(tmp_path) == tmp_path / "elsewhere"
