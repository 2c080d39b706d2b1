"""Projects files: which Botify projects a batch, the Airflow recipe and the wizard's picker work on.

One parser for every form such a file takes, picked by its suffix:

    .csv          a header row, then one project per row. Columns: project_url (required), then any of
                  analysis, max_edges, fields, gsc_period, poll_timeout_s, retry_failed; an empty cell is the default.
    .yaml / .yml  a list; each item a project URL, or a mapping with the same keys.
    anything else text, one project per line, in either of two forms (they may be mixed):

                      https://app.botify.com/my-org/my-site.com/  max_edges=500000 fields=pagetype,depth
                      my-org                  an organisation slug, flush left ...
                        my-shop.com           ... and its project slugs indented beneath it
                        my-blog.net analysis=20241108

                  A line is a Botify project URL (anything with a `/`, as copied from the browser) or an
                  indented project slug under the organisation above it, then optional `key=value`
                  settings. `#` at the start of a line or after a space starts a comment (a URL's own
                  `#fragment` is kept). In the organisation form, projects whose name says "ad hoc"
                  (adhoc, ad-hoc, ad_hoc) are left out: they are one-off crawls, not sites to follow.

Settings, the same in every form: `analysis` (a slug such as 20241108, or latest: the one named in the
URL, else the newest), `max_edges` (export row limit), `fields` (comma-separated meta fields;
`meta_fields`, the notebook's name, is accepted too), `gsc_period`, `poll_timeout_s`, `retry_failed`.

`read_projects(path)` reads a file; `ProjectList.rows` are the projects, `ProjectList.problems` what could
not be read, each naming its line. A batch or a scheduler calls `.check()` (a ProjectsFileError naming the
file and every bad line, before anything is sent); the wizard's picker shows what it can read and skips the
rest (`parse_candidates`). Pure apart from `read_projects`, which only reads the file.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BotifyError, ConfigError
from .pipeline import ExportParams
from .queries import normalize_fields
from .urls import ProjectRef, clean_url, is_analysis_slug, is_valid_slug

__all__ = [
    "SETTINGS",
    "LineProblem",
    "ProjectList",
    "ProjectRow",
    "ProjectsFileError",
    "flag",
    "parse_candidates",
    "parse_fields",
    "parse_projects",
    "read_projects",
    "seconds",
    "whole",
]

#: what a row may set besides its project, in the order files and tables show them
SETTINGS = ("analysis", "max_edges", "fields", "gsc_period", "poll_timeout_s", "retry_failed")
_ALIASES = {"meta_fields": "fields"}  # the notebook parameter's name
_ADHOC = re.compile(r"ad[\s_.-]*hoc", re.IGNORECASE)
_KEY_VALUE = re.compile(r"^[A-Za-z_]\w*=")
MAX_PROBLEMS_SHOWN = 20


class ProjectsFileError(ConfigError):
    """A projects file that cannot be read as a list of Botify projects; the message names file and lines."""


# -- values as people write them (also the notebook's parameters: `notebook` uses these) ------------------


def whole(value: Any, name: str) -> int:
    """A whole number from an int, an integral float or text such as "1_000_000" / "1,000,000"."""
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a whole number, got {value!r}.")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.replace("_", "").replace(",", "").strip())
        except ValueError:
            pass
    raise ConfigError(f"{name} must be a whole number, got {value!r}.")


def seconds(value: Any, name: str) -> float:
    """A number of seconds from a number or its text."""
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}.") from None
    if math.isnan(number):
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}.")
    return number


def flag(value: Any, name: str) -> bool:
    """True/False from a bool or text (true/false, 1/0, yes/no; empty is False)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes"}:
        return True
    if text in {"false", "0", "no", ""}:
        return False
    raise ConfigError(f"{name} must be True or False, got {value!r}.")


def parse_fields(meta_fields: Any, name: str = "meta_fields") -> tuple[str, ...] | None:
    """'pagetype, clicks' or ['pagetype', 'clicks'] → ('pagetype', 'clicks'); '' or None → None (all of them)."""
    if meta_fields is None:
        return None
    if isinstance(meta_fields, (list, tuple)):
        items = [str(f).strip() for f in meta_fields]
    elif isinstance(meta_fields, str):
        items = [f.strip() for f in meta_fields.split(",")]
    else:
        raise ConfigError(f"{name} must be comma-separated field names, got {meta_fields!r}.")
    items = [f for f in items if f]
    return tuple(items) or None


# -- rows ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectRow:
    """One project of a projects file and the settings its line gives (None: the run's default)."""

    project_url: str  # as written in the file
    ref: ProjectRef
    line: int  # 1-based line of the file it came from
    analysis: str = "latest"
    max_edges: int | None = None
    fields: tuple[str, ...] | None = None
    gsc_period: str | None = None
    poll_timeout_s: float | None = None
    retry_failed: bool | None = None

    @property
    def project(self) -> str:
        """`org/project`."""
        return str(self.ref)

    def settings(self) -> dict[str, Any]:
        """The settings this row gives (the others are left to the run)."""
        values = {name: getattr(self, name) for name in SETTINGS}
        if values["analysis"] == "latest":
            del values["analysis"]
        return {k: v for k, v in values.items() if v is not None}

    def params(self, **common: Any) -> ExportParams:
        """The export settings of this row: `common` (out_dir, api_base, rate, …), then the row's own."""
        return ExportParams(**{**common, "project_url": self.project_url, **self.settings()})


@dataclass(frozen=True)
class LineProblem:
    """Something on one line of a projects file that is not a project (line 0: the file as a whole)."""

    line: int
    message: str


@dataclass(frozen=True)
class ProjectList:
    """What a projects file lists: its projects, what could not be read, and what was left out on purpose."""

    source: str
    rows: tuple[ProjectRow, ...] = ()
    problems: tuple[LineProblem, ...] = ()
    skipped: tuple[LineProblem, ...] = ()  # "ad hoc" projects of the organisation form

    def check(self) -> list[ProjectRow]:
        """The rows, or a ProjectsFileError that names the file and each bad line (and what to do)."""
        problems = list(self.problems)
        if not problems and not self.rows:
            problems.append(
                LineProblem(0, "lists no project: write one Botify project URL per line (see botify-graph batch -h)")
            )
        if not problems:
            return list(self.rows)
        lines = [f"{self.source}, line {p.line}: {p.message}" if p.line else f"{self.source} {p.message}"
                 for p in problems[:MAX_PROBLEMS_SHOWN]]  # fmt: skip
        if len(problems) > MAX_PROBLEMS_SHOWN:
            lines.append(f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more")
        if len(lines) == 1:
            raise ProjectsFileError(lines[0] + ("" if lines[0].endswith(".") else "."))
        raise ProjectsFileError(f"{self.source} cannot be read ({len(problems)} problems):\n  " + "\n  ".join(lines))


class _Bad(Exception):
    """One line's problem, raised inside the parser and collected as a LineProblem."""


def _setting(key: str, value: Any) -> tuple[str, Any]:
    """(canonical name, typed value) of one `key=value`, or _Bad saying what is wrong with it."""
    name = _ALIASES.get(key, key)
    if name not in SETTINGS:
        raise _Bad(f"unknown setting {key!r}; use {', '.join(SETTINGS)}")
    try:
        if name == "analysis":
            text = str(value).strip()
            if text != "latest" and not (is_analysis_slug(text) or is_valid_slug(text)):
                raise ConfigError(f"analysis must be an analysis slug such as 20241108 (or latest), got {value!r}.")
            return name, text
        if name == "max_edges":
            number = whole(value, "max_edges")
            if number < 1:
                raise ConfigError(f"max_edges must be at least 1, got {value!r}.")
            return name, number
        if name == "fields":
            fields = parse_fields(value, key)
            return name, None if fields is None else normalize_fields(fields)
        if name == "gsc_period":
            from . import layout
            from .fields import parse_gsc_period

            return name, parse_gsc_period(str(value).strip() or None, layout.GSC_DAYS)
        if name == "poll_timeout_s":
            timeout = seconds(value, "poll_timeout_s")
            if timeout <= 0:
                raise ConfigError(f"poll_timeout_s must be positive, got {value!r}.")
            return name, timeout
        return name, flag(value, name)
    except ConfigError as exc:
        raise _Bad(str(exc).rstrip(".")) from None


def _row(url: str, line: int, settings: Iterable[tuple[str, Any]]) -> ProjectRow:
    try:
        ref = clean_url(url)
    except BotifyError as exc:
        raise _Bad(f"{str(exc).rstrip('.')}") from None
    values: dict[str, Any] = {}
    for key, value in settings:
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        name, typed = _setting(key, value)
        if name in values:
            raise _Bad(f"{name} is set twice")
        values[name] = typed
    return ProjectRow(project_url=url.strip(), ref=ref, line=line, **values)


def _pairs(items: list[str]) -> list[tuple[str, str]]:
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise _Bad(f"{item!r} is not key=value")
        out.append((key, value))
    return out


def _text_rows(text: str, add: _Collector) -> None:
    """The line forms: `URL [key=value ...]`, `org` flush left, `  project [key=value ...]` indented."""
    org: tuple[str, int] | None = None  # (slug, line) of the organisation above
    orphan: tuple[str, int] | None = None  # an organisation with no project beneath it (yet)
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.split(r"\s#", raw, maxsplit=1)[0].strip()  # a URL's own #fragment is kept
        if not line or line.startswith("#"):
            continue
        tokens = line.split()
        with add(number):
            if "/" in tokens[0]:
                add.row(_row(tokens[0], number, _pairs(tokens[1:])))
                continue
            names = list(itertools.takewhile(lambda t: not _KEY_VALUE.match(t), tokens))
            settings = tokens[len(names) :]
            name = " ".join(names)
            if not names:
                raise _Bad("the line must start with a Botify project URL (or a project slug under its organisation)")
            if not raw[:1].isspace():
                if orphan is not None:
                    add.problem(orphan[1], _no_project(orphan[0]))
                org = orphan = None
                if settings or len(names) > 1:
                    raise _Bad(f"{line!r} is neither a Botify project URL nor an organisation slug alone on its line")
                if not is_valid_slug(name):
                    raise _Bad(f"{name!r} is not an organisation slug (letters, digits, '.', '_', '-')")
                org = orphan = (name, number)
                continue
            if org is None:
                raise _Bad(f"project {name!r} is not under an organisation (write the org flush left above it)")
            orphan = None
            if _ADHOC.search(name):
                add.skip(number, f"{org[0]}/{name}: an ad hoc project")
                continue
            if len(names) > 1 or not is_valid_slug(name):
                raise _Bad(f"{name!r} is not a project slug (letters, digits, '.', '_', '-')")
            add.row(_row(ProjectRef(org[0], name).url, number, _pairs(settings)))
    if orphan is not None:
        add.problem(orphan[1], _no_project(orphan[0]))


def _no_project(org: str) -> str:
    return f"organisation {org!r} has no project beneath it: indent its project slugs, or write project URLs"


def _csv_rows(text: str, add: _Collector) -> None:
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    for cells in reader:
        number = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        with add(number):
            if header is None:
                header = [c.strip().lower().lstrip("\ufeff") for c in cells]
                known = {"project_url", *SETTINGS, *_ALIASES}
                unknown = [c for c in header if c not in known]
                if "project_url" not in header:
                    header = []
                    raise _Bad(f"the header row needs a project_url column (and may have {', '.join(SETTINGS)})")
                if unknown:
                    raise _Bad(
                        f"unknown column(s) {', '.join(map(repr, unknown))}; use project_url, {', '.join(SETTINGS)}"
                    )
                if len(set(header)) != len(header):
                    raise _Bad("a column is named twice in the header row")
                continue
            if not header:
                continue
            if len(cells) > len(header):
                raise _Bad(f"{len(cells)} cells for {len(header)} columns")
            values = dict(zip(header, (c.strip() for c in cells), strict=False))
            url = values.pop("project_url", "")
            if not url:
                raise _Bad("no project_url")
            add.row(_row(url, number, values.items()))
    if header is None:
        add.problem(0, "has no header row: the first row names the columns (project_url, analysis, ...)")


def _yaml_rows(text: str, add: _Collector) -> None:
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return
        if not isinstance(root, yaml.SequenceNode):
            add.problem(
                root.start_mark.line + 1, "the file must be a YAML list of projects (- https://app.botify.com/...)"
            )
            return
        for node in root.value:
            number = node.start_mark.line + 1
            with add(number):
                item = loader.construct_object(node, deep=True)
                if isinstance(item, str):
                    add.row(_row(item, number, ()))
                    continue
                if not isinstance(item, Mapping):
                    raise _Bad("each item is a project URL or a mapping with project_url: ...")
                values = {str(k): v for k, v in item.items()}
                url = values.pop("project_url", None)
                if not isinstance(url, str) or not url.strip():
                    raise _Bad("no project_url")
                if isinstance(values.get("analysis"), int):
                    values["analysis"] = str(values["analysis"])  # 20241108 unquoted is a number in YAML
                add.row(_row(url, number, values.items()))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        add.problem(mark.line + 1 if mark is not None else 0, f"is not valid YAML ({getattr(exc, 'problem', exc)})")
    finally:
        loader.dispose()


class _Collector:
    """Gathers rows and per-line problems; `with collector(line):` turns a _Bad into a LineProblem."""

    def __init__(self) -> None:
        self.rows: list[ProjectRow] = []
        self.problems: list[LineProblem] = []
        self.skipped: list[LineProblem] = []
        self._line = 0

    def __call__(self, line: int) -> _Collector:
        self._line = line
        return self

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if isinstance(exc, _Bad):
            self.problem(self._line, str(exc))
            return True
        return False

    def row(self, row: ProjectRow) -> None:
        self.rows.append(row)

    def problem(self, line: int, message: str) -> None:
        self.problems.append(LineProblem(line, message))

    def skip(self, line: int, message: str) -> None:
        self.skipped.append(LineProblem(line, message))


def _form(source: str, form: str | None) -> str:
    if form is not None:
        if form not in ("csv", "yaml", "text"):
            raise ValueError(f"form must be csv, yaml or text, not {form!r}")
        return form
    suffix = Path(source).suffix.lower()
    return "csv" if suffix == ".csv" else "yaml" if suffix in (".yaml", ".yml") else "text"


def parse_projects(text: str, source: str = "projects file", *, form: str | None = None) -> ProjectList:
    """Read a projects file's text (its form from `form`, else from `source`'s suffix: .csv, .yaml/.yml, text).

    Never raises for what the file says: bad lines become `problems` (see `ProjectList.check`). The same
    project listed twice with the same settings is a problem too (a batch would export it twice at once).
    """
    add = _Collector()
    {"csv": _csv_rows, "yaml": _yaml_rows, "text": _text_rows}[_form(source, form)](text, add)
    seen: dict[tuple[str, tuple[tuple[str, Any], ...], str | None], int] = {}
    for row in add.rows:
        key = (row.project, tuple(sorted(row.settings().items())), row.ref.analysis)
        if key in seen:
            add.problem(row.line, f"{row.project} is listed twice with the same settings (first on line {seen[key]})")
        else:
            seen[key] = row.line
    problems = sorted(add.problems, key=lambda p: p.line)
    return ProjectList(source, tuple(add.rows), tuple(problems), tuple(add.skipped))


def read_projects(path: str | os.PathLike[str], *, form: str | None = None) -> ProjectList:
    """Read a projects file (OSError if it cannot be opened; a ProjectsFileError if it is not text)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ProjectsFileError(f"{p} is not a UTF-8 text file: save it as UTF-8 (CSV, YAML or text).") from None
    return parse_projects(text, str(p), form=form)


def parse_candidates(text: str, source: str = "candidates", *, form: str | None = None) -> list[tuple[str, str]]:
    """(org, project) pairs a file lists, for the wizard's picker: what cannot be read is left out, quietly."""
    out: list[tuple[str, str]] = []
    for row in parse_projects(text, source, form=form).rows:
        pair = (row.ref.org, row.ref.project)
        if pair not in out:
            out.append(pair)
    return out
