"""The wizard's state on disk: a versioned JSON sidecar and an append-only JSONL parameter log.

The sidecar holds, per pipeline (a clean project URL), the data saved by each wizard step, so a kernel
restart, a page refresh or a new Voila session resumes where the user left off:

    {"schema_version": 1, "current": <pipeline id> | null,
     "pipelines": {<pipeline id>: {"created": iso, "updated": iso, "steps": {<step>: {...}}, "finalized": bool}}}

Every write takes the file lock, reads the file afresh, changes it and replaces it atomically. A corrupt or
newer-version file is an error naming the file (a corrupt one is copied aside first); it is never reset.

The parameter log gets one JSON line per step submission; it is the audit trail and can be turned back
into export settings (`export_settings`) and so into papermill parameters (`notebook.notebook_parameters`)
to rerun headless. Past `layout.PARAM_LOG_ROTATE_BYTES` it moves to a numbered file beside it
(`link_graph.state.0001.jsonl`, `…0002…`: oldest first) and a new one starts; nothing is ever deleted, and
`ParamLog.read` reads the numbered files, then the current one, as one history.
Neither file may hold the API token: `save_step` and `ParamLog.append` refuse anything that looks like it.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from . import layout
from .errors import ConfigError, StateFileError
from .fsutil import _fsync_dir, atomic_write_json, corrupt_file_error, file_lock, read_json, storage_error, utc_now_iso
from .token import ENV_VAR, load_token

__all__ = [
    "SCHEMA_VERSION",
    "STEPS",
    "ParamLog",
    "Sidecar",
    "ensure_no_secrets",
    "export_settings",
]

SCHEMA_VERSION = 1
STEPS = ("connect", "project", "analysis", "depth", "fields", "export", "result")
_SECRET_KEY_PARTS = ("token", "authorization", "password", "secret")


def _check_step(step: str) -> None:
    if step not in STEPS:
        raise ConfigError(f"Unknown wizard step {step!r}; the steps are {', '.join(STEPS)}.")


def ensure_no_secrets(data: Any, *, what: str) -> None:
    """Raise ConfigError if `data` has a key named like a credential or a value holding the API token.

    Keys are checked at every depth for "token", "authorization", "password" and "secret"; string values
    are compared with the token from BOTIFY_API_TOKEN or the token file. The message never shows the token.
    """
    try:
        token = load_token()
    except ConfigError:  # an unreadable token file must not block saving; the variable is still checked
        token = os.environ.get(ENV_VAR, "").strip() or None

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                name = str(key)
                if any(part in name.lower() for part in _SECRET_KEY_PARTS):
                    raise ConfigError(
                        f"Refusing to write {what}: the key {where}{name!r} looks like a credential, and "
                        f"credentials are never stored in state files. The token lives in {ENV_VAR} or the "
                        "token file only; remove that key."
                    )
                walk(value, f"{where}{name}.")
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}].")
        elif isinstance(node, str) and token and (node == token or (len(token) >= 8 and token in node)):
            place = where.rstrip(".") or "the value"
            raise ConfigError(
                f"Refusing to write {what}: {place} contains the API token, and the token is never stored in "
                "state files. Remove it from the data."
            )

    walk(data, "")


def _empty_doc() -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "current": None, "pipelines": {}}


class Sidecar:
    """The wizard's JSON sidecar file; every method reads the file afresh, every write is locked and atomic."""

    what = "wizard sidecar"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Sidecar({str(self.path)!r})"

    @contextmanager
    def locked(self, timeout: float = 30) -> Iterator[None]:
        """Hold the sidecar's file lock across a read-decide-write sequence (writes inside re-enter it)."""
        with file_lock(self.path, timeout=timeout):
            yield

    def load(self) -> dict[str, Any]:
        """Return the whole document; a missing file gives an empty one."""
        raw = read_json(self.path, what=self.what)
        if raw is None:
            return _empty_doc()
        return self._validate(raw)

    def _validate(self, raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise corrupt_file_error(self.path, self.what, f"expected a JSON object, found {type(raw).__name__}")
        version = raw.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise corrupt_file_error(self.path, self.what, "no integer schema_version")
        if version > SCHEMA_VERSION:
            raise StateFileError(
                self.path,
                f"the {self.what} has schema_version {version}, newer than the {SCHEMA_VERSION} this "
                "botify-graph understands. Upgrade botify-graph (pip install -U botify-graph), or point the "
                "wizard at another sidecar file.",
            )
        if version < 1:
            raise corrupt_file_error(self.path, self.what, f"schema_version {version} is not a known version")
        pipelines = raw.get("pipelines", {})
        if not isinstance(pipelines, dict):
            raise corrupt_file_error(self.path, self.what, "'pipelines' is not an object")
        for pid, record in pipelines.items():
            if not isinstance(record, dict) or not isinstance(record.get("steps", {}), dict):
                raise corrupt_file_error(self.path, self.what, f"pipeline {pid!r} is not an object with 'steps'")
            record.setdefault("steps", {})
            record.setdefault("finalized", False)
            record.setdefault("created", "")
            record.setdefault("updated", "")
        current = raw.get("current")
        if current is not None and not isinstance(current, str):
            raise corrupt_file_error(self.path, self.what, "'current' is neither a string nor null")
        raw["current"] = current
        raw["pipelines"] = pipelines
        return raw

    def _write(self, doc: dict[str, Any]) -> None:
        try:
            atomic_write_json(self.path, doc)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"The wizard data cannot be saved as JSON ({exc}); the sidecar was not changed."
            ) from None

    @staticmethod
    def _new_pipeline(now: str) -> dict[str, Any]:
        return {"created": now, "updated": now, "steps": {}, "finalized": False}

    def pipeline(self, pid: str) -> dict[str, Any] | None:
        """Return a copy of one pipeline's record, or None if there is none."""
        record = self.load()["pipelines"].get(pid)
        return copy.deepcopy(record) if record is not None else None

    def pipelines(self) -> list[str]:
        """Return the ids of all pipelines, oldest first."""
        return list(self.load()["pipelines"])

    def current(self) -> str | None:
        """Return the id of the pipeline the wizard was last on, or None."""
        current: str | None = self.load()["current"]
        return current

    def set_current(self, pid: str) -> None:
        """Make `pid` the current pipeline, creating its record if needed."""
        with self.locked():
            doc = self.load()
            if pid not in doc["pipelines"]:
                doc["pipelines"][pid] = self._new_pipeline(utc_now_iso())
            doc["current"] = pid
            self._write(doc)

    def clear_current(self) -> None:
        """No current pipeline ("New project"): the next session starts at the project step."""
        with self.locked():
            doc = self.load()
            if doc.get("current") is not None:
                doc["current"] = None
                self._write(doc)

    def save_step(self, pid: str, step: str, data: dict[str, Any]) -> dict[str, Any]:
        """Store `data` as the answer to `step` of pipeline `pid` (created if needed) and return a copy of it.

        Refused with ConfigError if the pipeline is finalized or the data holds a credential.
        """
        _check_step(step)
        if not isinstance(data, dict):
            raise ConfigError(f"Step data must be a dict, got {type(data).__name__}.")
        ensure_no_secrets(data, what=f"step {step!r} to the {self.what}")
        try:
            saved = json.loads(json.dumps(data, allow_nan=False))  # a JSON-shaped copy, as it will read back
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"The data of step {step!r} cannot be saved as JSON ({exc}); nothing was written."
            ) from None
        with self.locked():
            doc = self.load()
            now = utc_now_iso()
            record = doc["pipelines"].setdefault(pid, self._new_pipeline(now))
            if record.get("finalized"):
                raise ConfigError(
                    f"The pipeline {pid} is finalized, so its steps are read-only. Start a new pipeline, or "
                    "reopen this one first (Sidecar.set_finalized(pid, False)) if you mean to change it."
                )
            record["steps"][step] = saved
            record["updated"] = now
            self._write(doc)
        return copy.deepcopy(saved)

    def clear_steps_from(self, pid: str, step: str) -> None:
        """Revert to `step`: forget its data and that of every later step; earlier steps are kept."""
        _check_step(step)
        later = set(STEPS[STEPS.index(step) :])
        with self.locked():
            doc = self.load()
            record = doc["pipelines"].get(pid)
            if record is None:
                return
            if record.get("finalized"):
                raise ConfigError(
                    f"The pipeline {pid} is finalized, so its steps are read-only. Reopen it first "
                    "(Sidecar.set_finalized(pid, False)) to go back to an earlier step."
                )
            kept = {name: value for name, value in record["steps"].items() if name not in later}
            if kept == record["steps"]:
                return
            record["steps"] = kept
            record["updated"] = utc_now_iso()
            self._write(doc)

    def set_finalized(self, pid: str, value: bool) -> None:
        """Mark pipeline `pid` finalized (read-only) or reopen it; creates the record if needed."""
        with self.locked():
            doc = self.load()
            now = utc_now_iso()
            record = doc["pipelines"].setdefault(pid, self._new_pipeline(now))
            record["finalized"] = bool(value)
            record["updated"] = now
            self._write(doc)

    def first_unfinished_step(self, pid: str) -> str:
        """Return the first step without saved data ("connect" for an unknown pipeline, "result" once all are)."""
        record = self.load()["pipelines"].get(pid)
        steps = record["steps"] if record else {}
        for step in STEPS:
            if step not in steps:
                return step
        return STEPS[-1]


class ParamLog:
    """Append-only JSONL log of step submissions: {"ts", "pipeline", "step", "values"} per line.

    An append that would take the file past `rotate_bytes` first moves it to the next numbered file
    (`layout.param_log_rotated`); reading goes through every numbered file, oldest first, then this one.
    """

    what = "parameter log"

    def __init__(self, path: str | os.PathLike[str], *, rotate_bytes: int = layout.PARAM_LOG_ROTATE_BYTES) -> None:
        if rotate_bytes < 1:
            raise ConfigError(f"The parameter log's rotation size must be positive, got {rotate_bytes}.")
        self.path = Path(path)
        self.rotate_bytes = rotate_bytes

    def __repr__(self) -> str:
        return f"ParamLog({str(self.path)!r})"

    def append(self, pid: str, step: str, values: dict[str, Any]) -> None:
        """Append one submission, flushed and fsynced, under the log's lock."""
        _check_step(step)
        if not isinstance(values, dict):
            raise ConfigError(f"Step values must be a dict, got {type(values).__name__}.")
        ensure_no_secrets(values, what=f"step {step!r} to the {self.what}")
        entry = {"ts": utc_now_iso(), "pipeline": pid, "step": step, "values": values}
        try:
            line = json.dumps(entry, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n"
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"The step values cannot be logged as JSON ({exc}); nothing was written.") from None
        data = line.encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with file_lock(self.path):
                with open(self.path, "ab+") as handle:
                    end = self._heal_torn_tail(handle)
                if end and end + len(data) > self.rotate_bytes:
                    self._rotate()
                with open(self.path, "ab") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
        except OSError as exc:
            error = storage_error(exc, self.path, what=f"the {self.what} {self.path.name}", then="Nothing was logged.")
            if error is None:
                raise
            raise error from None

    def parts(self) -> list[Path]:
        """The files of the log, oldest first: the rotated ones, then the current one (whether or not it exists)."""
        return [path for _, path in layout.param_log_parts(self.path)] + [self.path]

    def _rotate(self) -> None:
        """Move the full log to the next numbered file (under the lock); the next append starts a new one."""
        numbers = [n for n, _ in layout.param_log_parts(self.path)]
        os.replace(self.path, layout.param_log_rotated(self.path, max(numbers, default=0) + 1))
        _fsync_dir(self.path.parent)

    @staticmethod
    def _heal_torn_tail(handle: BinaryIO) -> int:
        """If a crash left an unterminated last line, end it (valid JSON) or cut it off (a torn fragment).

        Returns the size of the file afterwards."""
        end = handle.seek(0, os.SEEK_END)
        if end == 0:
            return 0
        handle.seek(end - 1)
        if handle.read(1) == b"\n":
            return end
        start = end
        chunk = 4096
        while start > 0:
            step = min(chunk, start)
            handle.seek(start - step)
            block = handle.read(step)
            cut = block.rfind(b"\n")
            if cut >= 0:
                start = start - step + cut + 1
                break
            start -= step
        handle.seek(start)
        fragment = handle.read()
        try:
            complete = isinstance(json.loads(fragment.decode("utf-8")), dict)
        except ValueError:
            complete = False
        if not complete:
            handle.truncate(start)  # the same torn line `read` skips; appending after it would corrupt both
        else:
            handle.seek(0, os.SEEK_END)
            handle.write(b"\n")
        return handle.seek(0, os.SEEK_END)

    def read(self, pid: str | None = None) -> list[dict[str, Any]]:
        """Return the logged submissions, oldest first (rotated files included), optionally only those of `pid`.

        A torn last line of the current file (a crash mid-append) is skipped; a bad line anywhere else is a
        StateFileError naming its file. Reading takes no lock (a read-only folder is fine): a rotation that
        happens meanwhile is noticed and the read done again.
        """
        entries: list[dict[str, Any]] = []
        for _ in range(5):
            before = layout.param_log_parts(self.path)
            entries = []
            for path in [p for _, p in before]:
                entries += self._read_file(path, pid, torn_tail_ok=False)
            entries += self._read_file(self.path, pid, torn_tail_ok=True)
            if layout.param_log_parts(self.path) == before:
                break
        return entries

    def _read_file(self, path: Path, pid: str | None, *, torn_tail_ok: bool) -> list[dict[str, Any]]:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StateFileError(path, f"the {self.what} cannot be read ({exc.strerror or exc}).") from None
        lines = raw.split(b"\n")
        last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
        entries: list[dict[str, Any]] = []
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                entry = json.loads(line.decode("utf-8"))
                if not (
                    isinstance(entry, dict)
                    and isinstance(entry.get("step"), str)
                    and isinstance(entry.get("values"), dict)
                    and "pipeline" in entry
                ):
                    raise ValueError("not a log entry")
            except ValueError:
                if i == last and torn_tail_ok:
                    continue
                raise StateFileError(
                    path,
                    f"line {i + 1} of the {self.what} is not a valid entry. Fix or delete that line "
                    "(each line is one JSON object with ts, pipeline, step and values); nothing was changed.",
                ) from None
            if pid is None or entry["pipeline"] == pid:
                entries.append(entry)
        return entries

    def latest_values(self, pid: str) -> dict[str, dict[str, Any]]:
        """Return, for each step of pipeline `pid`, the values of its last submission."""
        latest: dict[str, dict[str, Any]] = {}
        for entry in self.read(pid):
            latest[entry["step"]] = entry["values"]
        return latest


#: ExportParams field <- (wizard step, key of its saved values)
_STEP_SETTINGS = {
    "project_url": ("project", "url"),
    "analysis": ("analysis", "slug"),
    "max_edges": ("depth", "max_edges"),
    "fields": ("fields", "fields"),
    "complete": ("depth", "complete"),
    "allow_cut": ("depth", "allow_cut"),
    "gsc_period": ("fields", "gsc_period"),
}
#: ExportParams fields only the export step's record names (where the files went, which API, how long to wait)
_EXPORT_SETTINGS = ("out_dir", "api_base", "poll_timeout_s")


def export_settings(values_by_step: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`ExportParams` keyword arguments from wizard answers (step -> saved or logged values).

    project.url -> project_url, analysis.slug -> analysis, depth.max_edges -> max_edges, fields.fields ->
    fields, fields.gsc_period -> gsc_period; the export step's record adds out_dir, api_base and poll_timeout_s,
    and fills in any of the first five that its step lacks. What no answer says is left out (the defaults apply).
    """

    def pick(step: str, key: str) -> Any:
        values = values_by_step.get(step)
        return values.get(key) if isinstance(values, dict) else None

    settings: dict[str, Any] = {}
    for name, (step, key) in _STEP_SETTINGS.items():
        value = pick(step, key)
        if value is None:
            value = pick("export", name)
        if value is not None:
            settings[name] = value
    for name in _EXPORT_SETTINGS:
        value = pick("export", name)
        if value not in (None, ""):
            settings[name] = value
    fields = settings.get("fields")
    if isinstance(fields, str):
        settings["fields"] = tuple(f.strip() for f in fields.split(",") if f.strip())
    elif isinstance(fields, list):
        settings["fields"] = tuple(str(f) for f in fields)
    return settings
