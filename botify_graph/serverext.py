"""Download links served by the Jupyter server the page came from (JupyterLab, Jupyter Notebook 7, the app).

    GET {base_url}botify-graph/files/{org}/{project}/{file}     the file, as an attachment, streamed

The wizard's download links point here. One route, one folder: the output folder (`layout.out_dir`, resolved
the way kernels resolve it: $BOTIFY_GRAPH_OUT, else `downloads/` in the project home found from the server's
root folder or $BOTIFY_GRAPH_HOME). Inside it only the files `layout.downloadable` names are served: the
export CSVs (`{project}_{analysis}_{kind}[.{variant}].csv`) and the report files, directly in a project
folder. Never the registry (it holds signed download URLs), a lock, a part file or a hidden file; no
directory listing; a path with `..`, an encoded slash, a symlink leading out of the folder or any other
name is a 404. Every answer needs the server's login (token or cookie) like the server's own `/files/`.

Files are streamed in 64 KiB pieces by tornado's StaticFileHandler (Range and HEAD work, nothing is read
into memory), as attachments (`Content-Disposition`), with a Content-Type per kind, `nosniff` and a
sandboxing Content-Security-Policy, so an HTML report opened from here cannot script the Jupyter server.

How the server tells its kernels where the route and the folder are: on load it sets $BOTIFY_GRAPH_FILES_URL
(base_url included) and $BOTIFY_GRAPH_FILES_DIR in its own environment, which every kernel it starts
inherits (`layout.served_url` reads them); a kernel of a server without this extension gets no link.

Enabled for JupyterLab by `jupyter-config/jupyter_server_config.d/botify_graph.json`, which the package
installs into `<prefix>/etc/jupyter/jupyter_server_config.d/` (`jupyter server extension list` shows it);
`botify-graph app` (Voila's standalone server, which loads no server extension) adds the same route itself
(`botify_graph.appserver`).
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from . import layout

__all__ = ["DownloadHandler", "export_kernel_env", "file_handlers", "served_folder"]

CONTENT_TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
}


class DownloadHandler(JupyterHandler, web.StaticFileHandler):
    """GET/HEAD one `layout.downloadable` file of the output folder, as an attachment."""

    auth_resource = "contents"

    @property
    def content_security_policy(self) -> str:
        # an HTML or SVG report opened from here runs in a unique origin: it cannot reach the Jupyter server
        return super().content_security_policy + "; sandbox"

    @web.authenticated
    @authorized
    async def head(self, path: str) -> None:  # type: ignore[override]
        await web.StaticFileHandler.get(self, path, include_body=False)

    @web.authenticated
    @authorized
    async def get(self, path: str, include_body: bool = True) -> None:  # type: ignore[override]
        await web.StaticFileHandler.get(self, path, include_body=include_body)

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        """Only a `downloadable` name, as a regular file really inside the folder; anything else is 404."""
        relative = (self.path or "").replace(os.sep, "/")
        if layout.downloadable(root, relative) != relative:
            raise web.HTTPError(404)
        real_root = os.path.realpath(root)
        real = os.path.realpath(absolute_path)
        if os.path.commonpath([real_root, real]) != real_root or not os.path.isfile(real):
            raise web.HTTPError(404)
        return absolute_path

    def set_extra_headers(self, path: str) -> None:
        self.set_attachment_header(Path(path).name)
        self.set_header("Cache-Control", "no-cache")  # a newer export may take the same name: revalidate

    def get_content_type(self) -> str:
        name = Path(self.absolute_path or "").name
        suffix = Path(name).suffix.lower()
        return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"

    def compute_etag(self) -> str | None:
        return None  # tornado would hash the whole file on every request; Last-Modified is enough

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # a short plain answer (the server's HTML error pages need settings Voila's standalone server lacks)
        self.clear_header("Content-Disposition")
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{status_code} {self._reason}\n")


def served_folder(root_dir: str | os.PathLike[str] | None = None) -> Path:
    """The output folder a server whose root folder is `root_dir` serves (what its kernels will use)."""
    return layout.out_dir(home=layout.project_home(root_dir))


def file_handlers(base_url: str, folder: str | os.PathLike[str]) -> list[tuple[str, type, dict[str, Any]]]:
    """The tornado route of the download links, under `base_url`."""
    pattern = url_path_join(base_url, layout.FILES_ROUTE) + "(.*)"
    return [(pattern, DownloadHandler, {"path": str(folder)})]


def export_kernel_env(base_url: str, folder: str | os.PathLike[str], environ: Any = None) -> None:
    """Tell the kernels this server starts (they inherit its environment) where the files route and folder are."""
    env = os.environ if environ is None else environ
    env[layout.FILES_URL_VAR] = url_path_join(base_url, layout.FILES_ROUTE)
    env[layout.FILES_DIR_VAR] = str(folder)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "botify_graph.serverext"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Add the download route to a Jupyter server (JupyterLab, Notebook 7, `jupyter server`)."""
    folder = served_folder(serverapp.root_dir)
    serverapp.web_app.add_handlers(".*$", file_handlers(serverapp.base_url, folder))
    export_kernel_env(serverapp.base_url, folder)
    serverapp.log.info(
        "botify-graph: download links serve %s at %s", folder, url_path_join(serverapp.base_url, layout.FILES_ROUTE)
    )
    if layout.repo_root(serverapp.root_dir) is None and not os.environ.get(layout.HOME_VAR):
        serverapp.log.info(
            "botify-graph: %s is not in a botify-graph checkout: kernels of notebooks elsewhere may write to "
            "another output folder (no download link then). Start the server from the checkout, or set %s or %s.",
            serverapp.root_dir,
            layout.HOME_VAR,
            layout.OUT_VAR,
        )
