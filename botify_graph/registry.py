"""The export registry: which Botify export job and local file belong to which export request.

One JSON file (`layout.registry_path`: `downloads/export_registry.json` by default) makes job creation
idempotent across kernels, processes and sessions: before creating a job, look up its key; record "CREATING"
before the POST so an interrupted request is known about; record the job id, status, download URL and final
file as they come.

    {"schema_version": 2, "exports": {"org/project/analysis/kind@variant[#part]": {...ExportRecord fields...}}}

The key names the settings the export was requested with (`layout.variant_tag`: the row limit, the fields,
other options), so an export of the same analysis with other settings is another record with its own job,
never a replacement of the first one. The latest export of an analysis has the plain file name; `install`
moves an earlier one that held that name to its variant's name first (and says so), so no file is ever
silently replaced. Version 1 files (keys without a variant) are read and rewritten as version 2.

Reads are fresh from disk every time. Writes take the file lock, read afresh, change and replace the file
atomically. Hold `ExportRegistry.locked()` across a read-decide-write sequence; `put` and `update` inside
it re-enter the same lock. A corrupt or newer-version file is an error naming the file, never a reset.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import StateFileError
from .fsutil import atomic_write_json, corrupt_file_error, file_lock, read_json, utc_now_iso
from .layout import KINDS, export_path, variant_tag
from .urls import ProjectRef

__all__ = ["KINDS", "SCHEMA_VERSION", "STATUSES", "ExportRecord", "ExportRegistry", "registry_key"]

SCHEMA_VERSION = 2
#: CREATING: POST sent, no answer yet. DONE: the job is done but its file not downloaded yet.
#: GONE: the recorded job no longer exists on Botify's side (a new one will be created).
#: SPLIT: a partition that came back cut at the row limit; its rows are exported again by smaller partitions.
STATUSES = ("CREATING", "CREATED", "PROCESSING", "DONE", "FAILED", "DOWNLOADED", "GONE", "SPLIT")
_KEY_FIELDS = ("org", "project", "analysis", "kind", "variant", "part")
_WHAT = "export registry"


def registry_key(org: str, project: str, analysis: str, kind: str, variant: str = "", part: str = "") -> str:
    """Return the registry key "org/project/analysis/kind@variant#part" (without the empty parts)."""
    return f"{org}/{project}/{analysis}/{kind}" + (f"@{variant}" if variant else "") + (f"#{part}" if part else "")


@dataclass
class ExportRecord:
    """One export request and what became of it."""

    org: str
    project: str
    analysis: str
    kind: str  # "links" | "meta"
    depth: int
    max_edges: int
    fields: tuple[str, ...]  # () for links
    status: str  # one of STATUSES
    job_id: int | str | None = None
    job_url: str | None = None
    download_url: str | None = None
    file: str | None = None  # the final CSV, relative to the registry's folder when inside it
    rows: int | None = None
    failure_reason: str | None = None
    created: str = ""  # ISO-8601 UTC
    updated: str = ""  # ISO-8601 UTC
    polls: int = 0
    variant: str = ""  # layout.variant_tag of the settings this export was requested with
    part: str = ""  # one partition of an export made of several jobs ("" for a single-job export)
    # other settings: those in the variant (e.g. gsc_period), and for a meta export what its Search Console
    # period resolved to when the job was created (gsc_dates, gsc_note), which the summary reports
    options: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fields = tuple(self.fields)
        self.options = dict(self.options)

    @property
    def key(self) -> str:
        """The registry key of this record."""
        return registry_key(self.org, self.project, self.analysis, self.kind, self.variant, self.part)

    @property
    def ref(self) -> ProjectRef:
        """The project this export belongs to."""
        return ProjectRef(self.org, self.project)

    def matches(self, depth: int, max_edges: int, fields: Sequence[str]) -> bool:
        """Say whether this record was made for the same depth, edge limit and fields (in the same order)."""
        return self.depth == depth and self.max_edges == max_edges and self.fields == tuple(fields)

    def to_json(self) -> dict[str, Any]:
        """Return the record as a JSON-ready dict."""
        data = dataclasses.asdict(self)
        data["fields"] = list(self.fields)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExportRecord:
        """Build a record from its JSON dict; unknown keys are ignored. Raises ValueError if it is malformed."""
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in data.items() if k in names}
        for name in ("org", "project", "analysis", "kind", "status"):
            if not isinstance(known.get(name), str):
                raise ValueError(f"{name!r} is missing or not a string")
        for name in ("depth", "max_edges"):
            value = known.get(name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name!r} is missing or not an integer")
        fields = known.get("fields", [])
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise ValueError("'fields' is not a list of strings")
        known["fields"] = tuple(fields)
        for name in ("variant", "part"):
            if not isinstance(known.get(name, ""), str):
                raise ValueError(f"{name!r} is not a string")
        if not isinstance(known.get("options", {}), dict):
            raise ValueError("'options' is not an object")
        return cls(**known)

    @classmethod
    def from_v1(cls, data: dict[str, Any]) -> ExportRecord:
        """A version-1 record (no variant in its key): its variant is computed from its settings."""
        record = cls.from_json(data)
        tag = variant_tag(record.kind, max_edges=record.max_edges, fields=record.fields)
        return dataclasses.replace(record, variant=tag)


def _check(record: ExportRecord) -> None:
    if record.kind not in KINDS:
        raise ValueError(f"Unknown export kind {record.kind!r}; expected one of {', '.join(KINDS)}.")
    if record.status not in STATUSES:
        raise ValueError(f"Unknown export status {record.status!r}; expected one of {', '.join(STATUSES)}.")


class ExportRegistry:
    """The export registry file; nothing is read until a method is called."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ExportRegistry({str(self.path)!r})"

    @contextmanager
    def locked(self, timeout: float = 30) -> Iterator[None]:
        """Hold the registry's file lock across a read-decide-write sequence (re-entrant in one thread)."""
        with file_lock(self.path, timeout=timeout):
            yield

    def _load(self) -> dict[str, dict[str, Any]]:
        """Return the raw `exports` mapping, validated, from a fresh read of the file."""
        raw = read_json(self.path, what=_WHAT)
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise corrupt_file_error(self.path, _WHAT, f"expected a JSON object, found {type(raw).__name__}")
        version = raw.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise corrupt_file_error(self.path, _WHAT, "no valid schema_version")
        if version > SCHEMA_VERSION:
            raise StateFileError(
                self.path,
                f"the {_WHAT} has schema_version {version}, newer than the {SCHEMA_VERSION} this botify-graph "
                "understands. Upgrade botify-graph (pip install -U botify-graph), or use another downloads folder.",
            )
        exports = raw.get("exports", {})
        if not isinstance(exports, dict) or not all(isinstance(v, dict) for v in exports.values()):
            raise corrupt_file_error(self.path, _WHAT, "'exports' is not an object of records")
        if version == 1:
            exports = self._migrate_v1(exports)
        for key, data in exports.items():
            self._record(key, data)  # every record must be readable, so a write never carries a bad one along
        return exports

    def _migrate_v1(self, exports: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Re-key version-1 records under their variant (the file is rewritten as version 2 on the next write)."""
        out: dict[str, dict[str, Any]] = {}
        for key, data in exports.items():
            try:
                record = ExportRecord.from_v1(data)
            except (TypeError, ValueError) as exc:
                raise corrupt_file_error(self.path, _WHAT, f"record {key!r}: {exc}") from None
            if registry_key(record.org, record.project, record.analysis, record.kind) != key:
                raise corrupt_file_error(self.path, _WHAT, f"record {key!r} describes {record.key!r}")
            out[record.key] = {**data, **record.to_json()}
        return out

    def _record(self, key: str, data: dict[str, Any]) -> ExportRecord:
        try:
            record = ExportRecord.from_json(data)
        except (TypeError, ValueError) as exc:
            raise corrupt_file_error(self.path, _WHAT, f"record {key!r}: {exc}") from None
        if record.key != key:
            raise corrupt_file_error(self.path, _WHAT, f"record {key!r} describes {record.key!r}")
        return record

    def _save(self, exports: dict[str, dict[str, Any]]) -> None:
        atomic_write_json(self.path, {"schema_version": SCHEMA_VERSION, "exports": exports})

    def get(self, key: str) -> ExportRecord | None:
        """Return the record stored under `key`, read afresh from disk, or None."""
        data = self._load().get(key)
        return None if data is None else self._record(key, data)

    def records(
        self,
        *,
        org: str | None = None,
        project: str | None = None,
        analysis: str | None = None,
        kind: str | None = None,
    ) -> list[ExportRecord]:
        """Return every record (in the file's order), optionally only those of one org/project/analysis/kind."""
        found = [self._record(key, data) for key, data in self._load().items()]
        return [
            r
            for r in found
            if (org is None or r.org == org)
            and (project is None or r.project == project)
            and (analysis is None or r.analysis == analysis)
            and (kind is None or r.kind == kind)
        ]

    def downloads(self, org: str, project: str, analysis: str, kind: str) -> list[ExportRecord]:
        """The whole-export records (no partitions) of one analysis and kind whose file is on disk: the one
        holding the plain file name (the latest export) first, then the others, most recently updated first."""
        found = [
            r
            for r in self.records(org=org, project=project, analysis=analysis, kind=kind)
            if not r.part and self.downloaded_file(r) is not None
        ]
        plain = export_path(self.path.parent, ProjectRef(org, project), analysis, kind).absolute()
        found.sort(key=lambda r: r.updated, reverse=True)
        found.sort(key=lambda r: self.file_path(r) != plain)  # stable: the plain name first
        return found

    def _store(self, exports: dict[str, dict[str, Any]], record: ExportRecord) -> ExportRecord:
        now = utc_now_iso()
        stored = dataclasses.replace(record, created=record.created or now, updated=now)
        # keep keys this version does not know about, written by a newer release of the same schema
        exports[stored.key] = {**exports.get(stored.key, {}), **stored.to_json()}
        self._save(exports)
        return stored

    def put(self, record: ExportRecord) -> ExportRecord:
        """Store `record` under its key (replacing any previous one) and return it with created/updated set."""
        _check(record)
        with self.locked():
            return self._store(self._load(), record)

    def update(self, key: str, **changes: Any) -> ExportRecord:
        """Change some fields of the record under `key` and return it; ValueError if there is none."""
        names = {f.name for f in dataclasses.fields(ExportRecord)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ValueError(f"ExportRecord has no field(s) {', '.join(unknown)}.")
        moved = sorted(set(changes) & set(_KEY_FIELDS))
        if moved:
            raise ValueError(f"{', '.join(moved)} make up the registry key and cannot be updated; put a new record.")
        with self.locked():
            exports = self._load()
            if key not in exports:
                raise ValueError(f"No export record {key!r} in {self.path}.")
            record = dataclasses.replace(self._record(key, exports[key]), **changes)
            _check(record)
            return self._store(exports, record)

    def install(
        self, key: str, part: str | os.PathLike[str], dest: str | os.PathLike[str], **changes: Any
    ) -> Path | None:
        """Move the finished file `part` onto `dest` and record it as the DOWNLOADED file of `key`.

        Whatever already sits at `dest` is moved aside first: to its record's variant name when a record
        holds it (that record follows it), else to `….earlier-<UTC time>.csv`. Returns where the earlier
        file went, or None. All of it happens under the registry's lock, so two runs installing files of
        different settings at once each keep theirs.
        """
        dest = Path(dest).absolute()
        with self.locked():
            exports = self._load()
            if key not in exports:
                raise ValueError(f"No export record {key!r} in {self.path}.")
            moved = self._move_aside(exports, dest, keep=key) if dest.exists() else None
            os.replace(part, dest)
            record = dataclasses.replace(
                self._record(key, exports[key]), status="DOWNLOADED", file=self.relative_file(dest), **changes
            )
            _check(record)
            self._store(exports, record)
        return moved

    def _move_aside(self, exports: dict[str, dict[str, Any]], dest: Path, *, keep: str) -> Path:
        """Move the file at `dest` to a free name that says what it is; update the record that holds it."""
        holder = next(
            (
                self._record(k, data)
                for k, data in exports.items()
                if k != keep and data.get("file") and self.file_path(self._record(k, data)) == dest
            ),
            None,
        )
        if holder is not None:
            target = export_path(self.path.parent, holder.ref, holder.analysis, holder.kind, holder.variant)
        else:
            stamp = utc_now_iso().replace("-", "").replace(":", "").replace(".", "").lower()
            target = dest.with_name(f"{dest.stem}.earlier-{stamp}.csv")
        n = 1
        base = target
        while target.exists():
            n += 1
            target = base.with_name(f"{base.stem}-{n}.csv")
        os.replace(dest, target)
        if holder is not None:
            exports[holder.key] = {**exports[holder.key], "file": self.relative_file(target), "updated": utc_now_iso()}
        return target

    def downloaded_file(self, record: ExportRecord | None) -> Path | None:
        """The file of a DOWNLOADED record if it is still on disk, else None."""
        if record is None or record.status != "DOWNLOADED":
            return None
        path = self.file_path(record)
        return path if path is not None and path.is_file() else None

    def file_path(self, record: ExportRecord) -> Path | None:
        """Return the absolute path of `record.file`, or None if the record has no file yet."""
        if not record.file:
            return None
        path = Path(record.file)
        if not path.is_absolute():
            path = self.path.parent / path
        return path.absolute()

    def relative_file(self, path: str | os.PathLike[str]) -> str:
        """Return what to store in `ExportRecord.file` for `path`: relative to the registry's folder if inside it."""
        target = Path(path).absolute()
        folder = self.path.parent.absolute()
        try:
            return target.relative_to(folder).as_posix()
        except ValueError:
            return str(target)
