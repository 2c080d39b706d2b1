"""What several test files share: the `botify-graph` command line as a subprocess, its environment, the app
server (`botify-graph app`) and a Jupyter server started and stopped by PID, and a harness that starts
worker processes at the same instant to race them on one file."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from botify_graph.app import free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]
DEMO_URL = "https://app.botify.com/example-org/example.com/"
#: Debian's chromium, driven by Playwright (which cannot download its own browser here), and the flags that keep
#: it from reaching out to the network on its own (the `browser` fixture in conftest.py launches it).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]  # fmt: skip


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


#: The line `botify-graph app` prints once Voila serves: its URL (with `?token=...` unless --no-token).
APP_URL = r"botify-graph app: (\S+)"


@contextlib.contextmanager
def app_server(
    *args: str, env: dict[str, str] | None = None, url: str = APP_URL, timeout: float = 90
) -> Iterator[tuple[subprocess.Popen[str], str, list[str]]]:
    """`botify-graph app --no-browser --port PORT ARGS...` until the block ends, then stopped by `stop_group`.

    It runs with this environment less every BOTIFY_* variable, plus `env`, in its own process group; a
    thread collects its output lines. Yields (the process, the first group of the first line that matches
    `url`, the lines so far and to come) once that line is printed; fails with the output if it is not.
    """
    cmd = cli("app", "--no-browser", "--port", str(free_port()), *args)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("BOTIFY_")}
    full_env.update(PYTHONUNBUFFERED="1", **(env or {}))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # fmt: skip
    lines: list[str] = []

    def drain() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))

    threading.Thread(target=drain, daemon=True).start()
    try:
        deadline = time.monotonic() + timeout
        while not (found := [m.group(1) for line in list(lines) if (m := re.match(url, line))]):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the app did not print its URL:\n" + "\n".join(lines))
            time.sleep(0.1)
        yield proc, found[0], lines
    finally:
        stop_group(proc)


def stop_group(proc: subprocess.Popen[str], grace: float = 30) -> None:
    """SIGTERM a server started with start_new_session by PID (the app stops Voila, whose kernels shut down),
    SIGKILL its process group after `grace` seconds or once it has gone, then reap it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait(10)


@contextlib.contextmanager
def jupyter_server(
    module: str,
    home: Path,
    token: str,
    base_url: str,
    *args: str,
    env: dict[str, str],
    timeout: float = 60,
    grace: float = 15,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`python -m MODULE` (jupyter_server, jupyterlab) on 127.0.0.1 serving `home` under `base_url` with `token`,
    until the block ends; stopped by PID (SIGKILL after `grace` seconds). Yields (its URL, the process) once its
    api/status answers; fails with the end of its stderr if it stops first or `timeout` passes."""
    port = free_port()
    cmd = [
        sys.executable, "-m", module, "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--ServerApp.token={token}",
        f"--ServerApp.root_dir={home}", f"--ServerApp.base_url={base_url}", *args,
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=home, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}{base_url}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert proc.poll() is None, (proc.stderr.read() if proc.stderr else b"").decode()[-3000:]
            try:
                if httpx.get(url + "api/status", headers={"Authorization": f"token {token}"}).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{module} did not start"
            time.sleep(0.2)
        yield url, proc
    finally:
        stop_process(proc, grace=grace)


def wait_for(
    what: str, ready: Callable[[], bool], proc: subprocess.Popen[str], timeout: float = 60, every: float = 0.001
) -> None:
    """Poll `ready` every `every` seconds until true; fail if the process ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the process ended (exit {proc.returncode}) before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(every)


def kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the process and check that it died of it."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


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


class SmallDisk:
    """A folder that holds only so many bytes, or none at all: the full disk and the read-only folder.

    Where this process may mount (root on Linux, as in CI) it is a real tmpfs mounted on `folder`, so writes
    fail with the kernel's own ENOSPC / EROFS, even for root. Elsewhere the same failures are injected at
    the `open` / `os.open` / `os.fdopen` calls for paths under `folder` (`mode` says which one is in use).
    Use it as a context manager; `resize`, `leave_free` and `read_only` change it while it is in use.
    """

    def __init__(self, folder: Path, size: int, monkeypatch: object) -> None:
        self.folder = folder
        self.size = size
        self.monkeypatch = monkeypatch
        self.mode = ""
        self._ro = False
        self._left = size

    def __enter__(self) -> SmallDisk:
        self.folder.mkdir(parents=True, exist_ok=True)
        if sys.platform == "linux" and self._mount("-t", "tmpfs", "-o", f"size={self.size}", "tmpfs"):
            self.mode = "tmpfs"
        else:
            self.mode = "injected"
            self._inject()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.mode == "tmpfs":
            subprocess.run(["umount", "-l", str(self.folder)], check=False, capture_output=True)

    def _mount(self, *args: str) -> bool:
        try:
            done = subprocess.run(["mount", *args, str(self.folder)], capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return False
        return done.returncode == 0

    def resize(self, size: int) -> None:
        """Make room for `size` bytes in all (and writable again)."""
        self.size, self._ro = size, False
        if self.mode == "tmpfs":
            assert self._mount("-o", f"remount,rw,size={size}")
        else:
            self._left = size - self._used()

    def leave_free(self, free: int) -> None:
        """Shrink the disk to what it holds now plus `free` bytes."""
        if self.mode == "tmpfs":
            import shutil

            used = shutil.disk_usage(self.folder).used
            assert self._mount("-o", f"remount,size={max(used + free, 4096)}")
        else:
            self._left = free

    def read_only(self) -> None:
        """Nothing can be written or created in the folder any more (what it holds stays readable)."""
        self._ro = True
        if self.mode == "tmpfs":
            assert self._mount("-o", "remount,ro")

    def _used(self) -> int:
        return sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())

    # -- the fallback: failures injected for paths under the folder --------------------------------------

    def _inside(self, path: object) -> bool:
        try:
            return Path(os.fspath(path)).absolute().is_relative_to(self.folder.absolute())  # type: ignore[arg-type]
        except TypeError:
            return False

    def _inject(self) -> None:
        import builtins
        import errno

        disk = self
        real_open, real_os_open, real_fdopen = builtins.open, os.open, os.fdopen
        fds: set[int] = set()

        class Limited:
            def __init__(self, handle: object) -> None:
                self._handle = handle

            def write(self, data: bytes) -> int:
                if len(data) > disk._left:
                    raise OSError(errno.ENOSPC, "No space left on device")
                disk._left -= len(data)
                return self._handle.write(data)  # type: ignore[attr-defined, no-any-return]

            def __enter__(self) -> Limited:
                return self

            def __exit__(self, *exc: object) -> None:
                self._handle.close()  # type: ignore[attr-defined]

            def __getattr__(self, name: str) -> object:
                return getattr(self._handle, name)

        def writing(mode: str) -> bool:
            return any(c in mode for c in "wax+")

        def fake_open(file: object, mode: str = "r", *args: object, **kwargs: object) -> object:
            if isinstance(file, int) or not disk._inside(file) or not writing(mode):
                return real_open(file, mode, *args, **kwargs)  # type: ignore[call-overload]
            if disk._ro:
                raise OSError(errno.EROFS, "Read-only file system", str(file))
            return Limited(real_open(file, mode, *args, **kwargs))  # type: ignore[call-overload]

        def fake_os_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
            wants = flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
            if wants and disk._inside(path) and disk._ro:
                raise OSError(errno.EROFS, "Read-only file system", str(path))
            fd = real_os_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]
            if wants and disk._inside(path):
                fds.add(fd)
            return fd

        def fake_fdopen(fd: int, mode: str = "r", *args: object, **kwargs: object) -> object:
            handle = real_fdopen(fd, mode, *args, **kwargs)  # type: ignore[call-overload]
            return Limited(handle) if fd in fds and writing(mode) else handle

        self.monkeypatch.setattr(builtins, "open", fake_open)  # type: ignore[attr-defined]
        self.monkeypatch.setattr(os, "open", fake_os_open)  # type: ignore[attr-defined]
        self.monkeypatch.setattr(os, "fdopen", fake_fdopen)  # type: ignore[attr-defined]
