"""The export files the wizard lists, with their download and Cosmograph links (Result card, Project step).

A download link points at the Jupyter server the page came from (`layout.served_url`: the route that
`botify_graph.serverext` adds to JupyterLab and `botify-graph app` adds to Voila), as a path from the
server's root, so it works whatever the page's own URL is; a server without that route, or a file outside
the folder it serves, gets the file's path instead of a link. "Open in Cosmograph" links come from the
kernel's `handoff.page_shelf()`: the two CSVs served on 127.0.0.1 for as long as the page shows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import layout
from ..handoff import page_shelf
from ..registry import ExportRecord, ExportRegistry
from ..urls import ProjectRef
from .view import esc

__all__ = ["ExportFile", "cosmograph_links", "download_link", "open_link", "project_exports", "report_files"]

LINK_STYLE = "color:#1565c0;text-decoration:underline"
BUTTON_STYLE = (
    "display:inline-block;padding:4px 12px;margin:4px 0;border-radius:4px;background:#1565c0;color:#fff;"
    "text-decoration:none;font-weight:600"
)


@dataclass(frozen=True)
class ExportFile:
    """One export file of a project, from the registry or found on disk."""

    analysis: str
    kind: str
    path: Path
    rows: int | None
    status: str  # the registry's status, "file missing", or "on disk" for a file the registry does not know
    latest: bool  # it holds the plain name of its analysis and kind (not an earlier variant)
    record: ExportRecord | None = None  # the registry's record (its settings), None for a file found on disk

    @property
    def present(self) -> bool:
        return self.path.is_file()


def project_exports(registry: ExportRegistry, ref: ProjectRef) -> list[ExportFile]:
    """Every export of `ref` the registry records, plus the export files in the project's folder it does not
    (copied in, or made by an older version): newest analysis first, links before meta, latest first."""
    out = registry.path.parent
    found: list[ExportFile] = []
    known: set[Path] = set()
    for r in registry.records(org=ref.org, project=ref.project):
        if r.part:
            continue
        path = registry.file_path(r) or layout.export_path(out, ref, r.analysis, r.kind)
        status = r.status if r.status != "DOWNLOADED" or path.is_file() else "file missing"
        plain = layout.export_path(out, ref, r.analysis, r.kind).absolute()
        found.append(ExportFile(r.analysis, r.kind, path, r.rows, status, path == plain, r))
        known.add(path)
    folder = layout.project_dir(out, ref)
    if folder.is_dir():
        for path in sorted(folder.glob(f"{ref.project}_*.csv")):
            name = layout.parse_export_filename(path.name, ref.project)
            if name is not None and path.absolute() not in known and path.is_file():
                found.append(ExportFile(name.analysis, name.kind, path.absolute(), None, "on disk", not name.variant))
    order = {k: i for i, k in enumerate(layout.KINDS)}
    found.sort(key=lambda f: (f.path.name, not f.latest))
    found.sort(key=lambda f: (not f.latest, order.get(f.kind, 9)))
    found.sort(key=lambda f: layout._analysis_order(f.analysis), reverse=True)
    return found


def report_files(out: str | Path, ref: ProjectRef, analysis: str) -> list[Path]:
    """The report files of an analysis that exist (summary, depth chart, graph view)."""
    paths = [layout.report_path(out, ref, analysis, what) for what in layout.REPORTS]
    return [p for p in paths if p.is_file()]


def download_link(path: str | Path, text: str | None = None) -> str:
    """An <a download> to the file on the Jupyter server, or the path as code when it is not served."""
    target = Path(path)
    label = text or target.name
    url = layout.served_url(target)
    if url is None or not target.is_file():
        shown = esc(target if text is None else label)
        return f'<code title="{esc(target)}" style="word-break:break-all">{shown}</code>'
    return (
        f'<a href="{esc(url)}" download="{esc(target.name)}" target="_blank" rel="noopener" '
        f'title="Download {esc(target.name)}" style="{LINK_STYLE}">⬇ {esc(label)}</a>'
    )


def open_link(url: str, text: str = "Open in Cosmograph ↗", *, button: bool = False) -> str:
    """A link that opens in a new tab (the Cosmograph web app)."""
    style = BUTTON_STYLE if button else LINK_STYLE
    return (
        f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer" class="botify-graph-cosmograph" '
        f'title="Opens cosmograph.app, which loads the two CSVs from this computer (127.0.0.1)" '
        f'style="{style}">{esc(text)}</a>'
    )


def cosmograph_links(owner: str, pairs: Sequence[tuple[Path, Path | None]]) -> list[str | None]:
    """Serve these (links, meta) pairs for Cosmograph instead of what `owner` showed before; their links."""
    try:
        return page_shelf().show(owner, pairs)
    except OSError:  # no port to bind: the links stay out, the files are still there
        return [None] * len(pairs)
