"""`botify-graph app`: serve `notebooks/link_graph.ipynb` as a Voila app on 127.0.0.1.

    botify-graph app [--fake-api] [--port N] [--no-browser] [--candidates FILE] [--no-token]

Voila runs as a child process in this process group (`python -m botify_graph.appserver`: Voila's standalone
server plus the download route, the token from the environment and the page watch) with the code cells
hidden, tracebacks off (the wizard shows errors as messages in its cards), our own template
(`templates/voila/templates/botify-graph`: nothing from a CDN), a kernel shut down seconds after its page
has gone (reload, closed tab) and idle-kernel culling for the rest. Ctrl-C (or SIGTERM) stops Voila by its
PID, which shuts its kernels down, then the fake API.

Access: the app holds a Botify token that spends credits, so like JupyterLab it asks for a random token
in its URL (printed, and opened in the browser through a private redirect file so it never shows in a
process list); the browser keeps a login cookie afterwards. `--no-token` opts out, with a warning.

`--candidates FILE`: a projects file (see `wizard.parse_candidates`) offered in the wizard's project
picker; the kernels read its absolute path from $BOTIFY_GRAPH_CANDIDATES.

`--fake-api` starts the fake Botify API in this process (a thread) and points the app at it through the
environment: BOTIFY_API_BASE, BOTIFY_API_TOKEN (the fake's demo token), and a separate state folder for the
CSVs, the export registry, the wizard's sidecar and the token file, so a demo never touches real state.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import webbrowser
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from html import escape
from pathlib import Path
from types import FrameType
from typing import TextIO

import httpx

from .errors import ConfigError
from .layout import (
    API_BASE_VAR,
    APP_TOKEN_VAR,
    CANDIDATES_VAR,
    CONFIG_DIR_VAR,
    DEFAULT_OUT_NAME,
    HOME_VAR,
    NOTEBOOK,
    OUT_VAR,
    STATE_NAME,
    STATE_VAR,
    TOKEN_VAR,
    project_home,
)

__all__ = [
    "CULL_IDLE_S",
    "CULL_INTERVAL_S",
    "DEFAULT_PORT",
    "PAGE_GRACE_S",
    "TEMPLATE",
    "AppConfig",
    "app_environ",
    "check_candidates",
    "find_notebook",
    "free_port",
    "serve",
    "voila_command",
]

HOST = "127.0.0.1"
DEFAULT_PORT = 8866
TEMPLATE = "botify-graph"
CULL_IDLE_S = 900  # a kernel without a page (tab closed, curl, crashed browser) goes after 15 idle minutes
CULL_INTERVAL_S = 60
PAGE_GRACE_S = 10  # a kernel whose page has gone (reload, closed tab) is shut down after this many seconds
DEMO_SCALE = 0.05  # the fake's example.com at 5%: ~3,500 pages, ~95k links, a few seconds per export
TEMPLATES_DIR = "templates"


@dataclass(frozen=True)
class AppConfig:
    """What `serve` needs: the notebook, the port and what to point the app at."""

    notebook: Path
    port: int = DEFAULT_PORT
    open_browser: bool = True
    fake_api: bool = False
    fake_scenario: str = "default"
    fake_scale: float = DEMO_SCALE
    state_dir: Path | None = None  # --fake-api: where the demo's files go (default: a new temporary folder)
    cull_idle_s: int = CULL_IDLE_S
    cull_interval_s: int = CULL_INTERVAL_S
    page_grace_s: float = PAGE_GRACE_S
    token: bool = True  # False: --no-token, anyone who can reach the port can drive the app
    candidates: Path | None = None  # a projects file for the wizard's picker


def find_notebook(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Return the notebook to serve: `explicit`, else the project home's, else the one beside the package."""
    if explicit:
        path = Path(explicit).expanduser().resolve()
        if not path.is_file():
            raise ConfigError(f"No notebook at {path}.")
        return path
    for root in (project_home(), Path(__file__).resolve().parents[1]):
        candidate = root / NOTEBOOK
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"Cannot find {NOTEBOOK}: run botify-graph app from a botify-graph checkout (the folder with "
        "notebooks/ and templates/), or pass --notebook PATH."
    )


def template_root(notebook: Path) -> Path | None:
    """The folder to add to JUPYTER_PATH so Voila finds our template (`<repo>/templates`), if it is there."""
    root = notebook.resolve().parent.parent / TEMPLATES_DIR
    return root if (root / "voila" / "templates" / TEMPLATE / "index.html.j2").is_file() else None


def voila_command(
    notebook: Path,
    port: int,
    *,
    template: str | None = TEMPLATE,
    cull_idle_s: int = CULL_IDLE_S,
    cull_interval_s: int = CULL_INTERVAL_S,
    page_grace_s: float = PAGE_GRACE_S,
    python: str = sys.executable,
) -> list[str]:
    """The app server's command line: 127.0.0.1 only, sources stripped, no tracebacks, pageless kernels stopped."""
    cmd = [
        python, "-m", "botify_graph.appserver", str(notebook),
        "--no-browser",
        f"--Voila.ip={HOST}",
        f"--port={port}",
        "--Voila.port_retries=0",  # the port asked for, or fail: never a URL we did not print
        "--strip_sources=True",
        "--show_tracebacks=False",
        "--theme=light",
        "--Voila.log_level=ERROR",  # not "notebook is not trusted" on every page load
        f"--MappingKernelManager.cull_idle_timeout={cull_idle_s}",
        f"--MappingKernelManager.cull_interval={min(cull_interval_s, max(1, cull_idle_s // 2))}",
        "--MappingKernelManager.cull_connected=False",  # a page that is still open keeps its kernel
        "--MappingKernelManager.cull_busy=False",
        "--KernelManager.transport=ipc",  # kernels talk over Unix sockets in Voila's private folder, not TCP
        f"--AppVoila.page_grace_s={page_grace_s:g}",
        # the login page takes the token; it must not offer to store a password in the user's Jupyter config
        "--PasswordIdentityProvider.allow_password_change=False",
    ]  # fmt: skip
    if template:
        cmd.append(f"--template={template}")
    return cmd


def app_environ(
    base: Mapping[str, str],
    *,
    home: Path,
    templates: Path | None,
    api_base: str | None = None,
    token: str | None = None,
    state_dir: Path | None = None,
    app_token: str | None = None,
    candidates: Path | None = None,
) -> dict[str, str]:
    """The environment of the Voila process (and so of its kernels, except `app_token`: the server drops it)."""
    env = dict(base)
    env.pop(APP_TOKEN_VAR, None)
    if app_token:
        env[APP_TOKEN_VAR] = app_token
    if candidates is not None:
        env[CANDIDATES_VAR] = str(candidates.resolve())
    env[HOME_VAR] = str(home)
    env["PYTHONUNBUFFERED"] = "1"
    env["JUPYTER_PREFER_ENV_PATH"] = "1"  # the kernel of this Python environment, not a user-wide one
    if templates is not None:
        env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(templates), base.get("JUPYTER_PATH", "")) if p)
    if api_base is not None:
        env[API_BASE_VAR] = api_base
    if token is not None:
        env[TOKEN_VAR] = token
    if state_dir is not None:
        env[OUT_VAR] = str(state_dir / DEFAULT_OUT_NAME)
        env[STATE_VAR] = str(state_dir / STATE_NAME)
        env[CONFIG_DIR_VAR] = str(state_dir / "config")
    return env


def free_port(host: str = HOST) -> int:
    """A TCP port that is free right now on `host`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return True
    return False


def wait_until_serving(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Wait until Voila answers a static file (not the notebook: that would start a kernel)."""
    probe = url.rstrip("/") + "/voila/static/voila.js"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ConfigError(f"Voila stopped before serving (exit code {proc.returncode}); see its messages above.")
        try:
            if httpx.get(probe, timeout=2.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise ConfigError(f"Voila did not start serving {url} within {timeout:.0f} s.")


def stop_process(proc: subprocess.Popen[bytes], *, grace: float = 15.0) -> None:
    """Stop a child by its PID: SIGTERM (Voila then shuts its kernels down), SIGKILL after `grace` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def check_candidates(path: Path) -> Path:
    """The projects file for the picker, checked now rather than in every page: it must list a project."""
    from .wizard.model import parse_candidates

    path = path.expanduser().resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--candidates: cannot read {path} ({exc.strerror or exc}).") from None
    if not parse_candidates(text):
        raise ConfigError(
            f"--candidates: {path} lists no project. Write one project per line as a Botify URL "
            "(https://app.botify.com/ORG/PROJECT/), or org names flush left with their project slugs indented "
            "beneath; see docs/frontends.md."
        )
    return path


def open_browser(url: str, stack: ExitStack) -> None:
    """Open `url` through a private redirect file, so the token in it never shows in a process list."""
    folder = Path(tempfile.mkdtemp(prefix="botify-graph-open-"))  # mode 0700
    page = folder / "open.html"
    target = escape(url, quote=True)
    page.write_text(
        f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={target}">'
        f'<title>botify-graph</title><p>Opening <a href="{target}">botify-graph</a>…</p>',
        encoding="utf-8",
    )
    page.chmod(0o600)
    stack.callback(shutil.rmtree, folder, ignore_errors=True)
    webbrowser.open(page.as_uri())


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve(config: AppConfig, *, out: TextIO | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the app until Ctrl-C or until Voila exits; return an exit code."""
    out = out or sys.stdout
    base_env = dict(os.environ if environ is None else environ)
    notebook = config.notebook.resolve()
    home = notebook.parent.parent
    port = config.port or free_port()
    if _port_taken(port):
        raise ConfigError(f"Port {port} on {HOST} is in use: pick another with --port N (0 picks a free one).")
    url = f"http://{HOST}:{port}/"
    candidates = check_candidates(config.candidates) if config.candidates is not None else None
    app_token = secrets.token_urlsafe(32) if config.token else None
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        with ExitStack() as stack:
            api_base = token = None
            state_dir: Path | None = None
            if config.fake_api:
                from .fake import DEMO_TOKEN, SCENARIOS, FakeBotify

                if config.fake_scenario not in SCENARIOS:
                    raise ConfigError(f"Unknown scenario {config.fake_scenario!r}; choose from {', '.join(SCENARIOS)}.")
                fake = stack.enter_context(
                    FakeBotify(scale=config.fake_scale, scenario=SCENARIOS[config.fake_scenario])
                )
                api_base, token = fake.base_url, DEMO_TOKEN
                state_dir = (config.state_dir or Path(tempfile.mkdtemp(prefix="botify-graph-app-"))).resolve()
                state_dir.mkdir(parents=True, exist_ok=True)
                print(
                    f"Fake Botify API: {api_base} (scenario {config.fake_scenario}, scale {config.fake_scale})",
                    file=out,
                )
                print(f"Demo files:      {state_dir}", file=out)
                print(
                    "Try the project URL https://app.botify.com/example-org/example.com/ (any app URL of it works).",
                    file=out,
                )
            templates = template_root(notebook)
            env = app_environ(
                base_env,
                home=home,
                templates=templates,
                api_base=api_base,
                token=token,
                state_dir=state_dir,
                app_token=app_token,
                candidates=candidates,
            )
            cmd = voila_command(
                notebook,
                port,
                template=TEMPLATE if templates else None,
                cull_idle_s=config.cull_idle_s,
                cull_interval_s=config.cull_interval_s,
                page_grace_s=config.page_grace_s,
            )
            proc: subprocess.Popen[bytes] = subprocess.Popen(cmd, env=env, cwd=notebook.parent)
            stack.callback(stop_process, proc)
            print(f"Starting Voila (pid {proc.pid}) for {notebook} ...", file=out, flush=True)
            wait_until_serving(url, proc)
            if candidates is not None:
                print(f"Projects offered in the picker: {candidates}", file=out)
            if app_token is None:
                print(
                    "WARNING: --no-token: anyone who can reach this port can use the app and the Botify token it "
                    "holds (which spends export credits).",
                    file=out,
                )
            page = url + (f"?token={app_token}" if app_token else "")
            print(f"botify-graph app: {page}", file=out)
            print("Ctrl-C to stop.", file=out, flush=True)
            if config.open_browser:
                open_browser(page, stack)
            code = proc.wait()
            if code:
                print(f"Voila exited with code {code}.", file=out)
            return code
    except KeyboardInterrupt:
        print("\nbotify-graph app: stopped.", file=out, flush=True)
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
