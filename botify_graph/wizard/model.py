"""The wizard's model: one plain dataclass per step, the pipeline they make up, and pure helpers.

Nothing here imports ipywidgets or touches the network. Answers go to and come from the sidecar as
JSON dicts (`to_json` / `from_json`); the view only renders them. A step's answer read back from a
sidecar that lacks a required key counts as "not answered", so the wizard lands on that step again
instead of crashing on it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from .. import layout
from ..depth import DepthChoice
from ..errors import ConfigError
from ..fields import field_key, parse_gsc_period
from ..jobs import parse_timestamp
from ..layout import export_path
from ..pipeline import ExportParams, export_variant
from ..projects import parse_candidates
from ..queries import MAX_EXPORT_ROWS, META_BY_NAME
from ..registry import KINDS, ExportRecord, ExportRegistry
from ..state import STEPS
from ..urls import ProjectRef

__all__ = [
    "ANSWER_TYPES",
    "STEPS",
    "AnalysisAnswer",
    "ConnectAnswer",
    "DepthAnswer",
    "ExportAnswer",
    "FieldsAnswer",
    "FileAnswer",
    "KeptFile",
    "PipelineModel",
    "ProjectAnswer",
    "ResultAnswer",
    "StepState",
    "exported_analyses",
    "files_to_keep",
    "kept_files",
    "parse_candidates",
    "pipeline_status",
    "seconds_between",
    "shown_path",
]


class StepState(str, Enum):
    """Where one step stands: INIT (not reachable yet), READY (waiting for input), ACTIVE (working),
    SUCCESS (answered), FAIL (the last attempt failed; its message is in the card)."""

    INIT = "INIT"
    READY = "READY"
    ACTIVE = "ACTIVE"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("not an integer")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("not a string")
    return value


def _read(kind: Any, value: Any) -> Any:
    """`value` from a sidecar dict as the type `kind` (an annotation); ValueError if it cannot be."""
    if kind is str:
        return _str(value)
    if kind is int:
        return _int(value)
    if kind is bool:
        return bool(value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("not a number")
        return float(value)
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if value is None:
            return None
        for option in inner:
            try:
                return _read(option, value)
            except (TypeError, ValueError):
                continue
        if len(inner) == 1 and inner[0] is str:
            return None  # an unusable optional text is "not given"
        raise ValueError(f"not any of {inner}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError("not a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_read(args[0], v) for v in value)
        if len(value) != len(args):
            raise ValueError("wrong length")
        return tuple(_read(a, v) for a, v in zip(args, value, strict=True))
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        if not isinstance(value, dict):
            raise ValueError("not an object")
        return kind.from_json(value)  # type: ignore[attr-defined]
    return value


class JsonAnswer:
    """`to_json` / `from_json` from the dataclass fields: what the sidecar holds, and how it is read back.

    A field without a default is required (its absence makes the answer unusable: that step is asked again);
    an optional text that is unusable reads as None. `check()` adds rules a type cannot say.
    """

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(json.dumps(dataclasses.asdict(self)))  # type: ignore[call-overload]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Any:
        if not isinstance(data, dict):
            raise ValueError("not an object")
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if f.name not in data:
                if required:
                    raise ValueError(f"{f.name} is missing")
                continue
            try:
                values[f.name] = _read(hints[f.name], data[f.name])
            except (TypeError, ValueError):
                if required:
                    raise
        answer = cls(**values)
        answer.check()
        return answer

    def check(self) -> None:
        """Raise ValueError if the answer breaks a rule its field types cannot express."""


@dataclass(frozen=True)
class ConnectAnswer(JsonAnswer):
    """Step 1: who the token belongs to. The token itself is never part of any answer."""

    username: str  # "" when Botify's (undocumented) profile endpoint could not say

    def summary(self) -> str:
        return f"Connected as {self.username}" if self.username else "Connected (user unknown)"


@dataclass(frozen=True)
class ProjectAnswer(JsonAnswer):
    """Step 2: the project; `url` is the clean project URL and the pipeline id.

    A pipeline started from another one's settings ("Start from these settings") carries them here: the
    Depth step starts from `max_edges` and the Fields step from `fields`, and `source` names that pipeline.
    """

    url: str
    org: str
    project: str
    analysis_hint: str | None = None  # an analysis slug the pasted URL named, preselected in step 3
    max_edges: int | None = None
    fields: tuple[str, ...] | None = None
    source: str | None = None

    def check(self) -> None:
        if self.fields is not None and not all(f in META_BY_NAME for f in self.fields):
            raise ValueError("bad fields")

    @property
    def preset(self) -> bool:
        return self.max_edges is not None or self.fields is not None

    def summary(self) -> str:
        return self.url + (f" (settings from {self.source})" if self.source and self.source != self.url else "")


@dataclass(frozen=True)
class AnalysisAnswer(JsonAnswer):
    """Step 3: the analysis; `exported` when its two files already existed and were opened as they are."""

    slug: str
    name: str | None = None
    date: str | None = None
    exported: bool = False

    def summary(self) -> str:
        text = self.slug + (f" ({self.name})" if self.name and self.name != self.slug else "")
        return text + (" · already exported" if self.exported else "")


@dataclass(frozen=True)
class DepthAnswer(JsonAnswer):
    """Step 4: the row limit and what to export: the depth it allows, the complete graph, or depth 1 cut."""

    max_edges: int
    depth: int
    edges: int
    whole_graph: bool = False
    per_depth: tuple[tuple[int, int], ...] = ()
    cumulative: tuple[tuple[int, int], ...] = ()
    reused: bool = False  # taken from an earlier export's registry record
    complete: bool = False  # every link at every depth, in `jobs` jobs (confirmed on the card)
    allow_cut: bool = False  # depth 1 alone is over the limit: exported cut at it
    jobs: int = 0  # export jobs the choice takes (0: not sized)
    credits: float = 0.0  # Botify export credits it takes, about

    def check(self) -> None:
        if self.complete and self.allow_cut:
            raise ValueError("complete and cut")

    def choice(self) -> DepthChoice | None:
        """The DepthChoice this answer was made from (for the chart and the summary), if its table was kept."""
        if not self.cumulative:
            return None
        return DepthChoice(
            depth=self.depth,
            edges=self.edges,
            max_edges=self.max_edges,
            per_depth=self.per_depth,
            cumulative=self.cumulative,
            whole_graph=self.whole_graph,
            cut=self.allow_cut,
        )

    def summary(self) -> str:
        if self.complete:
            jobs = f" in {self.jobs:,} jobs" if self.jobs else ""
            return f"Complete graph: {self.edges:,} links{jobs} (at most {self.max_edges:,} rows a job)"
        if self.allow_cut:
            return f"Depth {self.depth} cut at {self.max_edges:,} links (the graph lacks links)"
        text = f"Depth {self.depth}: {self.edges:,} links (limit {self.max_edges:,})"
        if self.whole_graph:
            text += ", the whole graph"
        return text


@dataclass(frozen=True)
class FieldsAnswer(JsonAnswer):
    """Step 5: the meta fields to export (keys, canonical order) and the Search Console period.

    `available`: the default fields the analysis has; `gsc_period`: the period asked for (None: the default);
    `period`: the dates it resolved to when the card was answered, and `period_note` why they differ.
    """

    fields: tuple[str, ...]
    available: tuple[str, ...] = ()
    gsc_period: str | None = None
    period: tuple[str, str] | None = None
    period_note: str = ""

    def check(self) -> None:
        try:
            if any(field_key(f) != f for f in self.fields):
                raise ValueError("a field is not in its canonical form")
            if parse_gsc_period(self.gsc_period, layout.GSC_DAYS) != self.gsc_period:
                raise ValueError("a Search Console period not in its normal form")
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    def summary(self) -> str:
        text = ", ".join(self.fields) if self.fields else "URL only (no page attributes)"
        if self.period is not None:
            text += f" · Search Console {self.period[0]} to {self.period[1]}"
        return text


@dataclass(frozen=True)
class FileAnswer(JsonAnswer):
    """One exported file."""

    path: str
    rows: int
    job_id: int | str | None = None
    reused: bool = False


EXPORT_STATES = ("ACTIVE", "SUCCESS", "FAIL")


@dataclass(frozen=True)
class ExportAnswer(JsonAnswer):
    """Step 6: the run_export parameters and how the run stands.

    Saved as ACTIVE before the export task starts, so a new kernel sees a running export and restarts
    the same `run_export` (which resumes the recorded jobs); then SUCCESS with the files, or FAIL.
    """

    state: str
    project_url: str
    analysis: str
    max_edges: int
    fields: tuple[str, ...]
    out_dir: str
    api_base: str
    poll_timeout_s: float
    started: str = ""
    retry_failed: bool = False
    complete: bool = False
    allow_cut: bool = False
    gsc_period: str | None = None
    links: FileAnswer | None = None
    meta: FileAnswer | None = None
    depth: int | None = None
    error: str | None = None
    job_failed: bool = False  # the failure was Botify reporting the job FAILED: a retry starts a new job
    elapsed: float | None = None  # seconds from `started` to `finished`: the whole export, across reloads
    finished: str = ""

    def check(self) -> None:
        if self.state not in EXPORT_STATES:
            raise ValueError("unknown export state")
        if self.poll_timeout_s <= 0:
            raise ValueError("bad poll timeout")
        if self.state == "SUCCESS" and (self.links is None or self.meta is None):
            raise ValueError("a finished export without files")

    def to_params(self) -> ExportParams:
        """The `run_export` parameters of this export."""
        return ExportParams(
            project_url=self.project_url,
            analysis=self.analysis,
            max_edges=self.max_edges,
            fields=self.fields,
            gsc_period=self.gsc_period,
            out_dir=self.out_dir,
            api_base=self.api_base,
            poll_timeout_s=self.poll_timeout_s,
            retry_failed=self.retry_failed,
            complete=self.complete,
            allow_cut=self.allow_cut,
        )

    def params_json(self) -> dict[str, Any]:
        """The parameters only (what the parameter log records)."""
        data = self.to_json()
        keys = ("project_url", "analysis", "max_edges", "fields", "out_dir", "api_base", "poll_timeout_s")
        return {k: data[k] for k in (*keys, "retry_failed", "complete", "allow_cut", "gsc_period")}

    @property
    def done(self) -> bool:
        return self.state == "SUCCESS"

    def summary(self) -> str:
        if self.state == "SUCCESS" and self.links and self.meta:
            how = "opened the existing files" if self.links.reused and self.meta.reused else "exported"
            return f"{how}: {self.links.rows:,} links, {self.meta.rows:,} pages"
        if self.state == "ACTIVE":
            return "running…"
        return f"failed: {self.error or 'unknown error'}"


@dataclass(frozen=True)
class ResultAnswer(JsonAnswer):
    """Step 7: the files the user was shown."""

    links: str
    meta: str
    links_rows: int
    meta_rows: int

    def summary(self) -> str:
        return f"{Path(self.links).name}, {Path(self.meta).name}"


Answer = ConnectAnswer | ProjectAnswer | AnalysisAnswer | DepthAnswer | FieldsAnswer | ExportAnswer | ResultAnswer

ANSWER_TYPES: dict[str, Any] = {
    "connect": ConnectAnswer,
    "project": ProjectAnswer,
    "analysis": AnalysisAnswer,
    "depth": DepthAnswer,
    "fields": FieldsAnswer,
    "export": ExportAnswer,
    "result": ResultAnswer,
}


def seconds_between(started: str, finished: str) -> float | None:
    """Seconds from one ISO-8601 time to another (None when either is missing or unreadable)."""
    a, b = parse_timestamp(started), parse_timestamp(finished)
    return None if a is None or b is None else max(0.0, (b - a).total_seconds())


def parse_answer(step: str, data: Any) -> Any:
    """The answer of `step` from its sidecar dict, or None when it is absent or unusable."""
    if not isinstance(data, dict):
        return None
    try:
        return ANSWER_TYPES[step].from_json(data)
    except (KeyError, TypeError, ValueError):
        return None


def is_complete(step: str, answer: Any) -> bool:
    """A step is finished when it has an answer (for the export: a SUCCESS one)."""
    if answer is None:
        return False
    return not (step == "export" and not answer.done)


@dataclass
class PipelineModel:
    """One pipeline (a project URL) as the wizard holds it: the answers of its steps, and whether it is locked."""

    pid: str | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    finalized: bool = False

    @classmethod
    def from_record(cls, pid: str, record: dict[str, Any] | None) -> PipelineModel:
        """Build from a sidecar pipeline record; answers after the first missing or unusable one are dropped."""
        model = cls(pid=pid, finalized=bool(record and record.get("finalized")))
        steps = record.get("steps", {}) if record else {}
        connect = parse_answer("connect", steps.get("connect"))
        if connect is not None:  # who connected last; every session checks its own token anyway
            model.answers["connect"] = connect
        for step in STEPS[1:]:
            answer = parse_answer(step, steps.get(step))
            if answer is None:
                break
            model.answers[step] = answer
            if not is_complete(step, answer):
                break
        return model

    def answer(self, step: str) -> Any:
        return self.answers.get(step)

    def landing(self, after: int = -1) -> int:
        """Index of the first unfinished step after index `after` (the result step once all are done)."""
        for i, step in enumerate(STEPS):
            if i > after and not is_complete(step, self.answers.get(step)):
                return i
        return len(STEPS) - 1

    def forget_from(self, step: str) -> None:
        """Drop the answers of `step` and every later step."""
        for later in STEPS[STEPS.index(step) :]:
            self.answers.pop(later, None)

    def export_params(self) -> dict[str, Any]:
        """What the earlier answers say to export (analysis, limit, fields); missing ones are left out."""
        out: dict[str, Any] = {}
        if (p := self.answers.get("project")) is not None:
            out["project_url"] = p.url
        if (a := self.answers.get("analysis")) is not None:
            out["analysis"] = a.slug
        if (d := self.answers.get("depth")) is not None:
            out["max_edges"] = d.max_edges
            out["complete"] = d.complete
            out["allow_cut"] = d.allow_cut
        if (f := self.answers.get("fields")) is not None:
            out["fields"] = f.fields
            if f.gsc_period is not None:
                out["gsc_period"] = f.gsc_period
        return out


# -- pure helpers ---------------------------------------------------------------------------------------


def exported_analyses(registry: ExportRegistry, org: str, project: str) -> dict[str, dict[str, ExportRecord]]:
    """Analyses whose links AND meta files are downloaded and present: slug -> {kind: record}.

    With several exports of one analysis (other settings, kept under their variant names) the latest meta
    file is taken, and the links file made with the same row limit (the latest links file otherwise).
    """
    out: dict[str, dict[str, ExportRecord]] = {}
    for slug in sorted({r.analysis for r in registry.records(org=org, project=project)}):
        meta = registry.downloads(org, project, slug, "meta")
        links = registry.downloads(org, project, slug, "links")
        if meta and links:
            same = [r for r in links if r.max_edges == meta[0].max_edges]
            out[slug] = {"links": (same or links)[0], "meta": meta[0]}
    return out


@dataclass(frozen=True)
class KeptFile:
    """An earlier export of an analysis that another export moves aside (or has moved) to its variant's name."""

    kind: str
    record: ExportRecord
    path: Path  # where it goes (or is)


def files_to_keep(
    registry: ExportRegistry, ref: ProjectRef, analysis: str, max_edges: int, fields: tuple[str, ...]
) -> list[KeptFile]:
    """The files an export of `analysis` with these settings would move aside: per kind, the latest file (the
    plain name) when it was made with other settings and no file of these settings is there to reuse."""
    out: list[KeptFile] = []
    for kind in KINDS:
        found = registry.downloads(ref.org, ref.project, analysis, kind)
        wanted = export_variant(kind, max_edges, fields)
        if not found or any(r.variant == wanted for r in found):
            continue  # nothing there, or these settings' file is reused as it is
        latest = found[0]
        plain = export_path(registry.path.parent, ref, analysis, kind).absolute()
        if registry.file_path(latest) == plain:
            out.append(KeptFile(kind, latest, export_path(registry.path.parent, ref, analysis, kind, latest.variant)))
    return out


def kept_files(registry: ExportRegistry, ref: ProjectRef, analysis: str) -> list[KeptFile]:
    """The earlier exports of an analysis kept beside the latest one (their files are on disk)."""
    out = []
    for kind in KINDS:
        for record in registry.downloads(ref.org, ref.project, analysis, kind)[1:]:
            path = registry.file_path(record)
            if path is not None:
                out.append(KeptFile(kind, record, path))
    return out


def pipeline_status(record: dict[str, Any] | None) -> str:
    """Where a saved pipeline stands, in a few words (for the picker of saved pipelines)."""
    steps = record.get("steps", {}) if isinstance(record, dict) else {}
    model = PipelineModel.from_record("", record)
    analysis = model.answer("analysis")
    depth = model.answer("depth")
    export = model.answer("export")
    parts = []
    if isinstance(export, ExportAnswer):
        parts.append({"SUCCESS": "exported", "ACTIVE": "export running", "FAIL": "export failed"}[export.state])
    else:
        index = model.landing(after=0)
        parts.append(f"at step {index + 1} ({STEPS[index].capitalize()})" if steps else "empty")
    if analysis is not None:
        parts.append(analysis.slug)
    if depth is not None:
        parts.append(f"limit {depth.max_edges:,}")
    if isinstance(record, dict) and record.get("finalized"):
        parts.append("finalized")
    return " · ".join(parts)


def shown_path(path: str | os.PathLike[str], base: str | os.PathLike[str]) -> tuple[str, str | None]:
    """(text to show, relative link or None): a file under `base` (the notebook's folder) gets a link."""
    target = Path(path).absolute()
    try:
        rel = target.relative_to(Path(base).absolute()).as_posix()
    except ValueError:
        return str(target), None
    return rel, rel


def clamp_max_edges(value: Any) -> int:
    """The row limit a person typed, checked: a whole number from 1 to the Botify export limit."""
    from ..errors import ConfigError

    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"The row limit must be a whole number, got {value!r}.")
    if value < 1:
        raise ConfigError("The row limit must be at least 1.")
    if value > MAX_EXPORT_ROWS:
        raise ConfigError(
            f"Botify exports at most {MAX_EXPORT_ROWS:,} rows per job, so the limit cannot be {value:,}. "
            f"Use {MAX_EXPORT_ROWS:,} or less."
        )
    return value
