"""`botify-graph app`: the Voila command line and environment (the browser tier runs the real thing)."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from botify_graph.app import (
    TEMPLATE,
    AppConfig,
    app_environ,
    find_notebook,
    serve,
    template_root,
    voila_command,
)
from botify_graph.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "link_graph.ipynb"


def test_voila_serves_localhost_only_with_code_and_tracebacks_hidden_and_culls_idle_kernels() -> None:
    cmd = voila_command(NOTEBOOK, 8123, cull_idle_s=600, python="py")
    assert cmd[:4] == ["py", "-m", "voila", str(NOTEBOOK)]
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
    ):
        assert flag in cmd
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
