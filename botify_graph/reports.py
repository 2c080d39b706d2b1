"""The only writer of report files: compute (`graph`) → render (`render`) → place (`layout`).

    export_reports(result)          after an export: _summary.json/.md, _depth.svg, _graph.html beside the CSVs
    headless_report(result)         the same, and the text a headless run prints
    summary_report(out, url, ...)   the summary of an export already on disk (`botify-graph summary`)
    compare_exports(out, url, ...)  what changed between two exported analyses, _compare.json/.md
    export_files(out, url, ...)     which CSVs an analysis has in an output folder
    write_batch_results(out, ...)   what a batch did, row by row: {batch}_results.csv / .md

Every file name comes from `layout` (see its docstring for the list); every write is atomic, so a report is
either the old one or the new one, never half of each. The CSVs themselves are never touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import layout
from .errors import BotifyError
from .fsutil import atomic_write_json, atomic_write_text
from .graph.compare import GraphDiff, compare_graphs
from .graph.encode import encode_graph
from .graph.summary import GraphSummary, summarize, summarize_encoded
from .render.batch import ResultLine, results_csv, results_markdown
from .render.charts import depth_chart_svg
from .render.graphview import graph_view_html
from .render.markdown import diff_markdown, summary_markdown
from .render.progress import report_text
from .urls import ProjectRef, clean_url

if TYPE_CHECKING:  # pragma: no cover
    from .pipeline import ExportResult

__all__ = [
    "compare_exports",
    "export_files",
    "export_reports",
    "headless_report",
    "summary_report",
    "write_batch_results",
    "write_diff",
    "write_summary",
]


def export_files(
    out_dir: str | Path | None, project_url: str, analysis: str | None = None
) -> tuple[Path, Path | None, str]:
    """(links path, meta path or None, analysis slug) of an export already in `out_dir` (see layout.find_export).

    `out_dir=None` is the default output folder (`layout.out_dir`); `analysis=None` the newest one there.
    """
    return layout.find_export(layout.out_dir(out_dir), clean_url(project_url), analysis)


def write_summary(summary: GraphSummary, out: str | Path, ref: ProjectRef, analysis: str) -> tuple[Path, Path]:
    """Write `{project}_{analysis}_summary.json` and `.md` into the project's folder; return their paths."""
    json_path = layout.report_path(out, ref, analysis, "summary_json")
    md_path = layout.report_path(out, ref, analysis, "summary_md")
    atomic_write_json(json_path, summary.to_dict())
    atomic_write_text(md_path, summary_markdown(summary))
    return json_path, md_path


def write_diff(diff: GraphDiff, out: str | Path, ref: ProjectRef, old: str, new: str) -> tuple[Path, Path]:
    """Write `{project}_{old}_vs_{new}_compare.json` and `.md` into the project's folder; return their paths."""
    json_path, md_path = layout.compare_paths(out, ref, old, new)
    atomic_write_json(json_path, diff.to_dict())
    atomic_write_text(md_path, diff_markdown(diff))
    return json_path, md_path


def export_reports(result: ExportResult, *, top: int = 20, view: bool = True) -> tuple[GraphSummary, list[Path]]:
    """Summarise an export and write the report files beside its CSVs; return the summary and the paths.

    Writes the summary (`_summary.json` / `.md`), the depth chart (`_depth.svg`, when the depth is known)
    and, with `view=True`, an offline interactive view (`_graph.html`) that any browser opens.
    """
    ref, analysis = result.project, result.analysis.slug
    out = layout.out_dir_of(result.links.path, ref)
    g = encode_graph(result.links.path, result.meta.path)
    summary = summarize_encoded(g, top=top, depth=result.depth, gsc_period=result.gsc_period, gsc_note=result.gsc_note)
    written = list(write_summary(summary, out, ref, analysis))
    if result.depth is not None:
        svg_path = layout.report_path(out, ref, analysis, "depth_svg")
        atomic_write_text(svg_path, depth_chart_svg(result.depth, standalone=True))
        written.append(svg_path)
    if view:
        html_path = layout.report_path(out, ref, analysis, "graph_html")
        atomic_write_text(html_path, graph_view_html(g, title=f"{ref} — {analysis}"))
        written.append(html_path)
    return summary, written


def headless_report(result: ExportResult, *, top: int = 20, view: bool = True) -> str:
    """Write the report files (see `export_reports`) and return the full text report to print."""
    summary, written = export_reports(result, top=top, view=view)
    return report_text(result, summary, written)


def summary_report(
    out_dir: str | Path | None, project_url: str, analysis: str | None = None, *, top: int = 20
) -> tuple[GraphSummary, tuple[Path, Path], str]:
    """Summarise an analysis already exported into `out_dir` and write its summary files beside it.

    Returns the summary, the (JSON, Markdown) paths and the analysis slug (`analysis=None`: the newest).
    """
    out, ref = layout.out_dir(out_dir), clean_url(project_url)
    links, meta, analysis = layout.find_export(out, ref, analysis)
    period = _recorded_period(out, ref, analysis, meta)
    summary = summarize(links, meta, top=top, **period)
    return summary, write_summary(summary, out, ref, analysis), analysis


def _recorded_period(out: Path, ref: ProjectRef, analysis: str, meta: Path | None) -> dict[str, Any]:
    """The Search Console dates the registry recorded for the meta file on disk (none when it does not know)."""
    from .pipeline import recorded_period
    from .registry import ExportRegistry

    if meta is None:
        return {}
    registry = ExportRegistry(layout.registry_path(out))
    try:
        records = registry.downloads(ref.org, ref.project, analysis, "meta")
    except BotifyError:
        return {}  # an unreadable registry leaves the summary without the period, not without the summary
    for record in records:
        path = registry.file_path(record)
        if path is not None and path.resolve() == meta.resolve():
            return recorded_period(record)
    return {}


def compare_exports(
    out_dir: str | Path | None, project_url: str, old: str, new: str, *, top: int = 20, write: bool = True
) -> tuple[GraphDiff, list[Path]]:
    """Compare two analyses already exported into `out_dir`; write the report beside them when `write`."""
    out, ref = layout.out_dir(out_dir), clean_url(project_url)
    old_links, old_meta, _ = layout.find_export(out, ref, old)
    new_links, new_meta, _ = layout.find_export(out, ref, new)
    diff = compare_graphs(old_links, new_links, old_meta, new_meta, top=top, old_label=old, new_label=new)
    return diff, list(write_diff(diff, out, ref, old, new)) if write else []


def write_batch_results(
    out: str | Path, name: str, lines: Sequence[ResultLine], *, started: str, elapsed: float
) -> tuple[Path, Path]:
    """Write a batch's results, `{name}_results.csv` and `.md`, into the output folder; return their paths.

    Each run of the batch writes them anew (atomically): they say what the latest run did.
    """
    csv_path, md_path = layout.batch_results_paths(out, name)
    atomic_write_text(csv_path, results_csv(lines))
    atomic_write_text(md_path, results_markdown(lines, name=name, out=str(out), started=started, elapsed=elapsed))
    return csv_path, md_path
