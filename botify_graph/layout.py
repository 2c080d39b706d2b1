"""Where every file lives and what every default is. The library, the CLI, the notebook, the wizard, the app
and `reproduce` all ask this module; none of them spells a path, a file name or a default of its own.

Folders (each: the argument, else its environment variable, else the default):

    project home   $BOTIFY_GRAPH_HOME, else the nearest folder at or above the current one that holds
                   notebooks/link_graph.ipynb (the repository root), else the current folder
    output folder  argument (relative: to the current folder, or to `base` when a caller gives one),
                   else $BOTIFY_GRAPH_OUT (relative: to the project home), else <project home>/downloads
    API base       argument, else $BOTIFY_API_BASE, else https://api.botify.com/v1
    sidecar        $BOTIFY_GRAPH_STATE (relative: to the project home), else notebooks/link_graph.state.json
                   under the project home; its parameter log is the same name with .jsonl

Files inside the output folder:

    export_registry.json                                     the export registry (every job and file)
    {org}/{project}/{project}_{analysis}_{kind}.csv          an export (kind: links | meta), the latest one
    {org}/{project}/{project}_{analysis}_{kind}.{variant}.csv   an earlier export of the same analysis made
                                                             with other settings, kept under a name that
                                                             says how it differs (`variant_tag`)
    {org}/{project}/{project}_{analysis}_summary.json / .md  the graph summary
    {org}/{project}/{project}_{analysis}_depth.svg           links per depth, the limit, the chosen depth
    {org}/{project}/{project}_{analysis}_graph.html          the offline interactive view
    {org}/{project}/{project}_{old}_vs_{new}_compare.json / .md   what changed between two crawls

Nothing here touches the network; only `project_home` and `repo_root` look at the disk (for the notebook).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, InvalidProjectURL
from .urls import ProjectRef, is_analysis_slug, is_valid_slug, validate_slug

__all__ = [
    "API_BASE_VAR",
    "CONFIG_DIR_VAR",
    "DEFAULT_API_BASE",
    "DEFAULT_OUT_NAME",
    "GSC_DAYS",
    "HOME_VAR",
    "KINDS",
    "MAX_EXPORT_ROWS",
    "MAX_JOBS",
    "NOTEBOOK",
    "OUT_VAR",
    "POLL_TIMEOUT_S",
    "REGISTRY_NAME",
    "REPORTS",
    "STATE_NAME",
    "STATE_VAR",
    "TOKEN_VAR",
    "ExportName",
    "api_base",
    "compare_paths",
    "export_filename",
    "export_path",
    "find_export",
    "local_analyses",
    "out_dir",
    "out_dir_of",
    "param_log_path",
    "parse_export_filename",
    "project_dir",
    "project_home",
    "registry_path",
    "repo_root",
    "report_path",
    "report_stem",
    "sidecar_path",
    "variant_tag",
]

# -- environment variables (never notebook parameters, so nothing secret lands in an output notebook) --------
TOKEN_VAR = "BOTIFY_API_TOKEN"
API_BASE_VAR = "BOTIFY_API_BASE"
OUT_VAR = "BOTIFY_GRAPH_OUT"
STATE_VAR = "BOTIFY_GRAPH_STATE"
HOME_VAR = "BOTIFY_GRAPH_HOME"
CONFIG_DIR_VAR = "BOTIFY_GRAPH_CONFIG_DIR"

# -- defaults ------------------------------------------------------------------------------------------------
DEFAULT_API_BASE = "https://api.botify.com/v1"
DEFAULT_OUT_NAME = "downloads"
POLL_TIMEOUT_S = 3 * 3600.0  # seconds to wait for one export job; a rerun resumes the same job
MAX_EXPORT_ROWS = 1_000_000  # Botify's default cap on one export (rows)
KINDS = ("links", "meta")  # the two files of an export, in this order everywhere
MAX_JOBS = 2  # export jobs one run keeps running on Botify at once (Botify documents no limit)
GSC_DAYS = 30  # Search Console days a meta export sums, ending at the crawl date (--gsc-period changes it)

# -- names ---------------------------------------------------------------------------------------------------
NOTEBOOK = Path("notebooks") / "link_graph.ipynb"  # relative to the project home
STATE_NAME = "link_graph.state.json"  # the wizard's sidecar, beside the notebook
REGISTRY_NAME = "export_registry.json"
#: report file suffixes, after `{project}_{analysis}`
REPORTS = {
    "summary_json": "_summary.json",
    "summary_md": "_summary.md",
    "depth_svg": "_depth.svg",
    "graph_html": "_graph.html",
}
_COMPARE = {"compare_json": "_compare.json", "compare_md": "_compare.md"}


def _env(environ: Mapping[str, str] | None, name: str) -> str:
    return (os.environ if environ is None else environ).get(name, "").strip()


def repo_root(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest folder at or above `start` (default: the current folder) holding notebooks/link_graph.ipynb."""
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / NOTEBOOK).is_file():
            return folder
    return None


def project_home(start: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None) -> Path:
    """The folder relative paths are resolved against: $BOTIFY_GRAPH_HOME, else the repository root, else `start`."""
    explicit = _env(environ, HOME_VAR)
    if explicit:
        return Path(explicit).expanduser().resolve()
    here = Path(start if start is not None else os.getcwd()).resolve()
    return repo_root(here) or here


def _anchored(path: str | os.PathLike[str], anchor: Path) -> Path:
    p = Path(path).expanduser()
    return (p if p.is_absolute() else anchor / p).absolute()


def out_dir(
    explicit: str | os.PathLike[str] | None = None,
    *,
    base: str | os.PathLike[str] | None = None,
    home: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """The output folder, absolute: `explicit`, else $BOTIFY_GRAPH_OUT, else `downloads/` in the project home.

    A relative `explicit` is taken from `base` (default: the current folder: what a path typed in a shell or
    in Python means); a relative $BOTIFY_GRAPH_OUT from the project home (the variable is set once for
    kernels that each run in another folder).
    """
    if explicit is not None and str(explicit).strip():
        return _anchored(explicit, Path(base).absolute() if base is not None else Path.cwd())
    home = home or project_home(environ=environ)
    env = _env(environ, OUT_VAR)
    if env:
        return _anchored(env, home)
    return home / DEFAULT_OUT_NAME


def api_base(explicit: str | None = None, *, environ: Mapping[str, str] | None = None) -> str:
    """The API base URL: `explicit`, else $BOTIFY_API_BASE, else Botify's."""
    if explicit is not None and str(explicit).strip():
        return str(explicit).strip()
    return _env(environ, API_BASE_VAR) or DEFAULT_API_BASE


def sidecar_path(home: Path | None = None, *, environ: Mapping[str, str] | None = None) -> Path:
    """The wizard's sidecar: $BOTIFY_GRAPH_STATE, else `link_graph.state.json` beside the notebook."""
    home = home or project_home(environ=environ)
    explicit = _env(environ, STATE_VAR)
    if explicit:
        return _anchored(explicit, home)
    return home / NOTEBOOK.parent / STATE_NAME


def param_log_path(sidecar: str | os.PathLike[str]) -> Path:
    """The parameter log that goes with a sidecar: the sidecar's name with `.jsonl`."""
    return Path(sidecar).with_suffix(".jsonl")


def registry_path(out: str | os.PathLike[str]) -> Path:
    """The export registry of an output folder."""
    return Path(out) / REGISTRY_NAME


def project_dir(out: str | os.PathLike[str], ref: ProjectRef) -> Path:
    """The folder that holds a project's files: `{out}/{org}/{project}`, never outside `out`."""
    root = Path(out).resolve()
    folder = (root / validate_slug(ref.org, "Organisation") / validate_slug(ref.project, "Project")).resolve()
    if root not in folder.parents:
        raise InvalidProjectURL(f"{ref} would be stored outside {root}; refusing.")
    return folder


def out_dir_of(export: str | os.PathLike[str], ref: ProjectRef) -> Path:
    """The output folder an export file of `ref` lies in (the inverse of `export_path`), so reports go beside it."""
    folder = Path(export).resolve().parent
    out = folder.parent.parent
    if folder.parent == folder or project_dir(out, ref) != folder:
        raise ConfigError(f"{export} is not in a folder {ref.org}/{ref.project} of an output folder.")
    return out


def _check_analysis(analysis: str) -> str:
    if not is_analysis_slug(analysis) and not is_valid_slug(analysis):
        raise InvalidProjectURL(f"Analysis {analysis!r} is not a valid analysis slug (like 20241108 or 20241108-2).")
    return analysis


_VARIANT = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}$")


def export_filename(ref: ProjectRef, analysis: str, kind: str, variant: str = "") -> str:
    """`{project}_{analysis}_{kind}.csv`, or `….{variant}.csv` for an earlier export kept beside the latest."""
    if kind not in KINDS:
        raise ValueError(f"Unknown export kind {kind!r}; expected one of {', '.join(KINDS)}.")
    _check_analysis(analysis)
    if variant and not _VARIANT.match(variant):
        raise ValueError(f"Bad variant tag {variant!r}.")
    return f"{ref.project}_{analysis}_{kind}" + (f".{variant}" if variant else "") + ".csv"


def export_path(out: str | os.PathLike[str], ref: ProjectRef, analysis: str, kind: str, variant: str = "") -> Path:
    """Where an export file lives (see `export_filename`)."""
    return project_dir(out, ref) / export_filename(ref, analysis, kind, variant)


@dataclass(frozen=True)
class ExportName:
    """What an export file's name says."""

    analysis: str
    kind: str
    variant: str  # "" for the latest export of the analysis


def parse_export_filename(name: str, project: str) -> ExportName | None:
    """Read `{project}_{analysis}_{kind}[.{variant}].csv` back; None for any other file name."""
    prefix = f"{project}_"
    if not name.startswith(prefix) or not name.endswith(".csv"):
        return None
    middle = name[len(prefix) : -len(".csv")]
    stem, _, variant = middle.partition(".")
    if variant and not _VARIANT.match(variant):
        return None
    for kind in KINDS:
        if stem.endswith(f"_{kind}"):
            analysis = stem[: -len(f"_{kind}")]
            if analysis and (is_analysis_slug(analysis) or is_valid_slug(analysis)) and "_" not in analysis:
                return ExportName(analysis, kind, variant)
    return None


def _analysis_order(slug: str) -> tuple[str, int, str]:
    head, _, tail = slug.partition("-")
    return (head, int(tail) if tail.isdigit() else 0, slug)


def local_analyses(out: str | os.PathLike[str], ref: ProjectRef, kind: str = "links") -> list[str]:
    """Analyses with a latest `kind` file in `{out}/{org}/{project}/`, oldest first."""
    folder = project_dir(out, ref)
    if not folder.is_dir():
        return []
    found = set()
    for path in folder.glob(f"{ref.project}_*_{kind}.csv"):
        parsed = parse_export_filename(path.name, ref.project)
        if parsed is not None and parsed.kind == kind and not parsed.variant:
            found.add(parsed.analysis)
    return sorted(found, key=_analysis_order)


def find_export(
    out: str | os.PathLike[str], ref: ProjectRef, analysis: str | None = None
) -> tuple[Path, Path | None, str]:
    """(links path, meta path or None, analysis slug) of the latest export of an analysis already in `out`.

    `analysis=None` picks the newest analysis with a links file. A missing links file is a ConfigError that
    names the file and the command that exports it.
    """
    run = f"botify-graph run --project-url {ref.url} --out {out}"
    if analysis is None:
        known = local_analyses(out, ref)
        if not known:
            raise ConfigError(
                f"No links export of {ref} in {project_dir(out, ref)}. Export one first: {run} "
                "(add --analysis SLUG for an older crawl)."
            )
        analysis = known[-1]
    links = export_path(out, ref, analysis, "links")
    meta = export_path(out, ref, analysis, "meta")
    if not links.is_file():
        raise ConfigError(
            f"No links export for analysis {analysis}: {links} does not exist. "
            f"Export it first: {run} --analysis {analysis}"
        )
    return links, (meta if meta.is_file() else None), analysis


def report_stem(ref: ProjectRef, analysis: str) -> str:
    """`{project}_{analysis}`: what report file names start with."""
    return f"{ref.project}_{_check_analysis(analysis)}"


def report_path(out: str | os.PathLike[str], ref: ProjectRef, analysis: str, what: str) -> Path:
    """The report file `what` (a key of REPORTS) of an analysis."""
    if what not in REPORTS:
        raise ValueError(f"Unknown report {what!r}; expected one of {', '.join(REPORTS)}.")
    return project_dir(out, ref) / (report_stem(ref, analysis) + REPORTS[what])


def compare_paths(out: str | os.PathLike[str], ref: ProjectRef, old: str, new: str) -> tuple[Path, Path]:
    """(JSON, Markdown) paths of the comparison of two analyses."""
    stem = f"{ref.project}_{_check_analysis(old)}_vs_{_check_analysis(new)}"
    folder = project_dir(out, ref)
    return folder / (stem + _COMPARE["compare_json"]), folder / (stem + _COMPARE["compare_md"])


def variant_tag(
    kind: str, *, max_edges: int, fields: Sequence[str] = (), options: Mapping[str, Any] | None = None
) -> str:
    """A short, stable, file-name-safe tag of the settings an export was requested with.

    links: `limit1000000` (plus each option, e.g. `complete-limit1000000`); meta: the same plus the number
    of fields and a hash of the fields and options (`limit1000000-7fields-1a2b3c`). Two requests with the same
    tag produce the same file; a new tag is a new export, and the earlier file is kept under its own tag.
    """
    if kind not in KINDS:
        raise ValueError(f"Unknown export kind {kind!r}; expected one of {', '.join(KINDS)}.")
    opts = dict(options or {})
    mode = str(opts.pop("mode", "") or "")
    head = (f"{mode}-" if mode and mode != "depth" else "") + f"limit{int(max_edges)}"
    if kind == "links" and not opts:
        return _safe(head)
    digest = hashlib.sha1(
        json.dumps({"fields": list(fields), "options": opts}, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()[:6]
    if kind == "links":
        return _safe(f"{head}-{digest}")
    return _safe(f"{head}-{len(fields)}fields-{digest}")


def _safe(tag: str) -> str:
    tag = re.sub(r"[^a-z0-9-]+", "-", tag.lower()).strip("-")
    return tag[:80] or "default"
