"""Where every file lives and what every default is. The library, the CLI, the notebook, the wizard, the app
and `reproduce` all ask this module; none of them spells a path, a file name or a default of its own.

Folders (each: the argument, else its environment variable, else the default):

    project home   $BOTIFY_GRAPH_HOME, else the nearest folder at or above the current one that holds
                   notebooks/link_graph.ipynb (the repository root), else the current folder
    output folder  argument (relative: to the current folder, or to `base` when a caller gives one),
                   else $BOTIFY_GRAPH_OUT (relative: to the project home), else <project home>/downloads
    API base       argument, else $BOTIFY_API_BASE, else https://api.botify.com/v1
    request rate   argument, else $BOTIFY_GRAPH_RATE, else 5 requests/s (Botify's limit per token): what one
                   process's client sends at most; N processes sharing a token take 5/N each
    sidecar        $BOTIFY_GRAPH_STATE (relative: to the project home), else notebooks/link_graph.state.json
                   under the project home; its parameter log is the same name with .jsonl, rotated at
                   PARAM_LOG_ROTATE_BYTES into `….{n}.jsonl` (n = 1, 2, ...: oldest first), every file kept

Files inside the output folder:

    export_registry.json                                     the export registry (every job and file)
    {org}/{project}/{project}_{analysis}_{kind}.csv          an export (kind: links | meta), the latest one
    {org}/{project}/{project}_{analysis}_{kind}.{variant}.csv   an earlier export of the same analysis made
                                                             with other settings, kept under a name that
                                                             says how it differs (`variant_tag`)
    {org}/{project}/.{project}_{analysis}_{kind}.{variant}.parts/{part}.csv
                                                             the partitions of a complete export (one job
                                                             each) until they are merged into the export
    {org}/{project}/{project}_{analysis}_summary.json / .md  the graph summary
    {org}/{project}/{project}_{analysis}_depth.svg           links per depth, the limit, the chosen depth
    {org}/{project}/{project}_{analysis}_graph.html          the offline interactive view
    {org}/{project}/{project}_{old}_vs_{new}_compare.json / .md   what changed between two crawls
    traces/{what}-{UTC time}.jsonl                           a trace of API requests the wizard was asked to
                                                             record (the CLI's --trace FILE goes where it says)
    {batch}_results.csv / .md                                what a batch did, row by row (`{batch}`: the stem
                                                             of its projects file, e.g. projects_results.csv)
    .export-locks/{key}.lock / .progress.json                 who follows each export record right now, and
                                                             how far its download is (`follow_lock_path`)

The Jupyter server (JupyterLab's extension `botify_graph.serverext`, the app's Voila) serves the export and
report files of one output folder, and nothing else in it (`downloadable`), at `{base_url}botify-graph/files/`;
it tells its kernels where through $BOTIFY_GRAPH_FILES_URL and $BOTIFY_GRAPH_FILES_DIR (`served_url`).

Nothing here touches the network; only `project_home` and `repo_root` look at the disk (for the notebook).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .errors import ConfigError, InvalidProjectURL
from .urls import ProjectRef, is_analysis_slug, is_valid_slug, validate_slug

__all__ = [
    "API_BASE_VAR",
    "API_RATE",
    "APP_TOKEN_VAR",
    "BATCH_MAX_JOBS",
    "CANDIDATES_VAR",
    "CONFIG_DIR_VAR",
    "DEFAULT_API_BASE",
    "DEFAULT_OUT_NAME",
    "DOWNLOAD_RESUMES",
    "FILES_DIR_VAR",
    "FILES_ROUTE",
    "FILES_URL_VAR",
    "FOLLOW_POLL_S",
    "GSC_DAYS",
    "HOME_VAR",
    "JOB_REFUSED_WAIT_S",
    "KINDS",
    "MANY_JOBS",
    "MAX_EXPORT_ROWS",
    "MAX_JOBS",
    "NOTEBOOK",
    "OUT_VAR",
    "PARAM_LOG_ROTATE_BYTES",
    "PARTITION_MARGIN",
    "POLL_TIMEOUT_S",
    "RATE_VAR",
    "REGISTRY_NAME",
    "REPORTS",
    "STATE_NAME",
    "STATE_VAR",
    "TOKEN_VAR",
    "TRACE_BODY_BYTES",
    "TRACE_DIR",
    "ExportName",
    "api_base",
    "api_rate",
    "batch_name",
    "batch_results_paths",
    "compare_paths",
    "downloadable",
    "export_filename",
    "export_path",
    "find_export",
    "follow_lock_path",
    "follow_progress_path",
    "local_analyses",
    "out_dir",
    "out_dir_of",
    "param_log_parts",
    "param_log_path",
    "param_log_rotated",
    "parse_export_filename",
    "partition_dir",
    "partition_path",
    "project_dir",
    "project_home",
    "registry_path",
    "repo_root",
    "report_path",
    "report_stem",
    "served_url",
    "sidecar_path",
    "trace_path",
    "variant_tag",
]

# -- environment variables (never notebook parameters, so nothing secret lands in an output notebook) --------
TOKEN_VAR = "BOTIFY_API_TOKEN"
API_BASE_VAR = "BOTIFY_API_BASE"
OUT_VAR = "BOTIFY_GRAPH_OUT"
STATE_VAR = "BOTIFY_GRAPH_STATE"
HOME_VAR = "BOTIFY_GRAPH_HOME"
CONFIG_DIR_VAR = "BOTIFY_GRAPH_CONFIG_DIR"
RATE_VAR = "BOTIFY_GRAPH_RATE"
CANDIDATES_VAR = "BOTIFY_GRAPH_CANDIDATES"  # the projects file of the wizard's picker (`botify-graph app --candidates`)
APP_TOKEN_VAR = "BOTIFY_GRAPH_APP_TOKEN"  # the app's access token, read (and dropped) by the app's Voila process
FILES_URL_VAR = "BOTIFY_GRAPH_FILES_URL"  # set by the Jupyter server for its kernels: URL path of the files route
FILES_DIR_VAR = "BOTIFY_GRAPH_FILES_DIR"  # set by the Jupyter server for its kernels: the output folder it serves

# -- defaults ------------------------------------------------------------------------------------------------
DEFAULT_API_BASE = "https://api.botify.com/v1"
DEFAULT_OUT_NAME = "downloads"
POLL_TIMEOUT_S = 3 * 3600.0  # seconds to wait for one export job; a rerun resumes the same job
MAX_EXPORT_ROWS = 1_000_000  # Botify's default cap on one export (rows)
KINDS = ("links", "meta")  # the two files of an export, in this order everywhere
MAX_JOBS = 2  # export jobs one run keeps running on Botify at once (Botify documents no limit)
PARTITION_MARGIN = 0.05  # a complete export packs each job to at most (1 - margin) x the row limit
MANY_JOBS = 50  # a complete export plan with more jobs than this says so loudly (it still runs)
JOB_REFUSED_WAIT_S = 3 * 3600.0  # how long to keep retrying a job POST that Botify refuses (another job runs)
DOWNLOAD_RESUMES = 5  # a broken or refused download is resumed (or restarted) this many times in one try
PARAM_LOG_ROTATE_BYTES = 1 << 20  # the parameter log moves to a numbered file beyond this size (~3,000 answers)
TRACE_BODY_BYTES = 2048  # request and response bodies in a trace are cut to this many bytes
BATCH_MAX_JOBS = 4  # export jobs a batch keeps running on Botify at once, across its projects
API_RATE = 5.0  # requests per second Botify allows per API token (shared/botify-api.md §8)
FOLLOW_POLL_S = 1.0  # how often a run that waits for another one's export reads the registry
GSC_DAYS = 30  # Search Console days a meta export sums, ending at the crawl date (--gsc-period changes it)

# -- names ---------------------------------------------------------------------------------------------------
NOTEBOOK = Path("notebooks") / "link_graph.ipynb"  # relative to the project home
STATE_NAME = "link_graph.state.json"  # the wizard's sidecar, beside the notebook
REGISTRY_NAME = "export_registry.json"
TRACE_DIR = "traces"  # inside the output folder: traces the wizard records
FOLLOW_LOCKS = ".export-locks"  # folder in the output folder: one lock file per export record being followed
FILES_ROUTE = "botify-graph/files/"  # after the Jupyter server's base_url: where it serves `downloadable` files
#: report file suffixes, after `{project}_{analysis}`
REPORTS = {
    "summary_json": "_summary.json",
    "summary_md": "_summary.md",
    "depth_svg": "_depth.svg",
    "graph_html": "_graph.html",
}
_COMPARE = {"compare_json": "_compare.json", "compare_md": "_compare.md"}
_BATCH_RESULTS = ("_results.csv", "_results.md")
DEFAULT_BATCH_NAME = "batch"  # results file stem of a batch given as rows, not as a file
_BATCH_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,79}$")


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


def api_rate(explicit: float | str | None = None, *, environ: Mapping[str, str] | None = None) -> float:
    """Requests per second one process sends at most: `explicit`, else $BOTIFY_GRAPH_RATE, else 5 (Botify's limit).

    Several processes that share a token share its 5 requests/s: give each 5/N. A value that is not a positive
    number is a ConfigError that names where it came from.
    """
    if explicit is not None and str(explicit).strip():
        value, where = explicit, "The request rate"
    else:
        env = _env(environ, RATE_VAR)
        if not env:
            return API_RATE
        value, where = env, f"{RATE_VAR}"
    try:
        rate = float(value)
    except (TypeError, ValueError):
        rate = float("nan")
    if isinstance(value, bool) or not rate > 0 or rate == float("inf"):
        raise ConfigError(
            f"{where} must be a positive number of requests per second (Botify allows {API_RATE:g} per token; "
            f"give each of N processes sharing a token {API_RATE:g}/N), got {value!r}."
        )
    return rate


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


def param_log_rotated(log: str | os.PathLike[str], n: int) -> Path:
    """The `n`th rotated part of a parameter log (1 is the oldest): `link_graph.state.jsonl` → `….0001.jsonl`."""
    path = Path(log)
    if n < 1:
        raise ValueError(f"Rotated parameter logs are numbered from 1, got {n}.")
    return path.with_name(f"{path.stem}.{n:04d}{path.suffix}")


def param_log_parts(log: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    """The rotated parts of a parameter log that exist, as (number, path), oldest first."""
    path = Path(log)
    found = []
    for candidate in path.parent.glob(f"{glob.escape(path.stem)}.*{glob.escape(path.suffix)}"):
        middle = candidate.name[len(path.stem) + 1 : len(candidate.name) - len(path.suffix)]
        if middle.isdigit() and int(middle) >= 1 and candidate == param_log_rotated(path, int(middle)):
            found.append((int(middle), candidate))
    return sorted(found)


def trace_path(out: str | os.PathLike[str], what: str, when: str) -> Path:
    """Where a trace the wizard records goes: `{out}/traces/{what}-{when}.jsonl` (`when`: a UTC time stamp)."""
    safe = _safe(f"{what}-{when}")
    return Path(out) / TRACE_DIR / f"{safe}.jsonl"


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


def partition_dir(out: str | os.PathLike[str], ref: ProjectRef, analysis: str, kind: str, variant: str) -> Path:
    """The hidden work folder of a complete export's partitions, beside the export it is merged into."""
    if not variant:
        raise ValueError("A partitioned export needs its variant tag.")
    return project_dir(out, ref) / ("." + export_filename(ref, analysis, kind, variant)[: -len(".csv")] + ".parts")


_PART = re.compile(r"^[a-z0-9][a-z0-9.-]{0,120}$")


def partition_path(
    out: str | os.PathLike[str], ref: ProjectRef, analysis: str, kind: str, variant: str, part: str
) -> Path:
    """Where one partition of a complete export is downloaded (`{partition_dir}/{part}.csv`)."""
    if not _PART.match(part):
        raise ValueError(f"Bad partition id {part!r}.")
    return partition_dir(out, ref, analysis, kind, variant) / f"{part}.csv"


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


def batch_name(projects_file: str | os.PathLike[str] | None) -> str:
    """The name a batch's results are filed under: its projects file's stem (made file-name safe), else `batch`."""
    if projects_file is None or not str(projects_file).strip():
        return DEFAULT_BATCH_NAME
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(projects_file).stem).strip(".-")
    return stem[:80] or DEFAULT_BATCH_NAME


def batch_results_paths(out: str | os.PathLike[str], name: str) -> tuple[Path, Path]:
    """(CSV, Markdown) paths of a batch's results, in the output folder: `{name}_results.csv` / `.md`."""
    if not _BATCH_NAME.match(name):
        raise ValueError(f"Bad batch name {name!r}; use layout.batch_name(projects_file).")
    root = Path(out)
    return root / (name + _BATCH_RESULTS[0]), root / (name + _BATCH_RESULTS[1])


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


# -- who follows an export, across processes -----------------------------------------------------------------


def _key_file(key: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._@#-]+", "~", key).strip(".")[:150]
    return f"{safe}.{hashlib.sha1(key.encode()).hexdigest()[:8]}"


def follow_lock_path(out: str | os.PathLike[str], key: str) -> Path:
    """The lock file held by the one process that follows (polls, downloads) the export record `key`."""
    return Path(out) / FOLLOW_LOCKS / f"{_key_file(key)}.lock"


def follow_progress_path(out: str | os.PathLike[str], key: str) -> Path:
    """Where that process says how far its download of `key` is, for the processes waiting for it."""
    return Path(out) / FOLLOW_LOCKS / f"{_key_file(key)}.progress.json"


# -- what the Jupyter server may serve ----------------------------------------------------------------------


def _is_report(name: str, project: str) -> bool:
    prefix = f"{project}_"
    if not name.startswith(prefix):
        return False
    rest = name[len(prefix) :]
    for suffix in (*REPORTS.values(), *_COMPARE.values()):
        if rest.endswith(suffix):
            middle = rest[: -len(suffix)]
            slugs = middle.split("_vs_") if suffix in _COMPARE.values() else [middle]
            return all(s and "_" not in s and (is_analysis_slug(s) or is_valid_slug(s)) for s in slugs)
    return False


def downloadable(out: str | os.PathLike[str], path: str | os.PathLike[str]) -> str | None:
    """`org/project/file` when `path` is an export or report file of a project folder of `out`, else None.

    Only these names are ever served (`{project}_{analysis}_{kind}[.{variant}].csv`, the REPORTS and compare
    files): never the registry, a lock, a part file, a hidden file or anything deeper or shallower. Pure:
    the caller checks that the file exists and is really inside `out` (symlinks).
    """
    root = Path(out).absolute()
    target = Path(path)
    target = target.absolute() if target.is_absolute() else root / target
    try:
        parts = target.relative_to(root).parts
    except ValueError:
        try:  # one of them was given through a symlink (e.g. a downloads folder linked to another disk)
            parts = target.parent.resolve().joinpath(target.name).relative_to(root.resolve()).parts
        except (ValueError, OSError):
            return None
    if len(parts) != 3:
        return None
    org, project, name = parts
    if not (is_valid_slug(org) and is_valid_slug(project)) or name.startswith("."):
        return None
    if parse_export_filename(name, project) is None and not _is_report(name, project):
        return None
    return f"{org}/{project}/{name}"


def served_url(path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None) -> str | None:
    """The URL path (from the server's root, base_url included) the Jupyter server this kernel belongs to serves
    `path` at, or None: no botify-graph file route in this server, or a file it does not serve."""
    base, folder = _env(environ, FILES_URL_VAR), _env(environ, FILES_DIR_VAR)
    if not base or not folder:
        return None
    rel = downloadable(folder, path)
    if rel is None:
        return None
    return base.rstrip("/") + "/" + quote(rel, safe="/")
