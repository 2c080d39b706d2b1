"""Tests for the sidecar, the parameter log, papermill reproduction, and the fsutil helpers under them."""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
from pathlib import Path

import pytest
from helpers import race
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botify_graph import fsutil
from botify_graph.errors import ConfigError, StateFileError
from botify_graph.state import STEPS, ParamLog, Sidecar, export_settings

ROOT = Path(__file__).resolve().parents[1]
PID = "https://app.botify.com/acme/shop"
TOKEN = "s3cr3t-token-0123456789abcdef"


@pytest.fixture(autouse=True)
def _isolated_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the real token file and variable out of every test."""
    monkeypatch.setenv("BOTIFY_GRAPH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("BOTIFY_API_TOKEN", raising=False)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# -- fsutil --------------------------------------------------------------------------------------------


def test_atomic_write_round_trip_and_no_temp_left(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "doc.json"
    fsutil.atomic_write_json(target, {"a": [1, 2], "é": "ü"})
    assert json.loads(target.read_text(encoding="utf-8")) == {"a": [1, 2], "é": "ü"}
    assert leftovers(target.parent) == []


def test_failed_replace_keeps_old_file_and_removes_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "doc.json"
    fsutil.atomic_write_json(target, {"v": 1})

    def boom(src: object, dst: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk on fire"):
        fsutil.atomic_write_json(target, {"v": 2})
    assert json.loads(target.read_text()) == {"v": 1}
    assert leftovers(tmp_path) == []


def test_unserialisable_value_leaves_file_untouched(tmp_path: Path) -> None:
    target = tmp_path / "doc.json"
    fsutil.atomic_write_json(target, {"v": 1})
    with pytest.raises(ValueError):
        fsutil.atomic_write_json(target, {"v": float("nan")})
    assert json.loads(target.read_text()) == {"v": 1}
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_atomic_write_keeps_existing_mode(tmp_path: Path) -> None:
    target = tmp_path / "doc.txt"
    fsutil.atomic_write_text(target, "one")
    os.chmod(target, 0o640)
    fsutil.atomic_write_text(target, "two")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.read_text() == "two"


def test_read_json_missing_is_none(tmp_path: Path) -> None:
    assert fsutil.read_json(tmp_path / "nope.json", what="thing") is None


def test_read_json_corrupt_backs_up_and_names_both(tmp_path: Path) -> None:
    target = tmp_path / "doc.json"
    target.write_text('{"broken": ', encoding="utf-8")
    with pytest.raises(StateFileError) as info:
        fsutil.read_json(target, what="wizard sidecar")
    backups = list(tmp_path.glob("doc.json.corrupt-*"))
    assert len(backups) == 1
    assert backups[0].read_text() == '{"broken": '
    assert target.read_text() == '{"broken": '
    message = str(info.value)
    assert str(target) in message and backups[0].name in message
    assert "wizard sidecar" in message and "move it away" in message


def test_read_json_not_utf8_is_corrupt(tmp_path: Path) -> None:
    target = tmp_path / "doc.json"
    target.write_bytes(b"\xff\xfe{}")
    with pytest.raises(StateFileError, match="not UTF-8"):
        fsutil.read_json(target, what="thing")


def test_file_lock_is_reentrant_in_one_thread(tmp_path: Path) -> None:
    target = tmp_path / "doc.json"
    with fsutil.file_lock(target, timeout=1), fsutil.file_lock(target, timeout=1):
        fsutil.atomic_write_text(target, "inside")
    assert target.read_text() == "inside"


def test_file_lock_timeout_says_what_to_do(tmp_path: Path) -> None:
    target = tmp_path / "doc.json"
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with fsutil.file_lock(target):
            held.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(5)
        with pytest.raises(StateFileError) as info, fsutil.file_lock(target, timeout=0.2):
            pass
        assert "another process" in str(info.value) and "doc.json.lock" in str(info.value)
    finally:
        release.set()
        thread.join()


# -- Sidecar -------------------------------------------------------------------------------------------


def test_missing_sidecar_is_an_empty_document(tmp_path: Path) -> None:
    side = Sidecar(tmp_path / "wizard.json")
    assert side.load() == {"schema_version": 1, "current": None, "pipelines": {}}
    assert side.current() is None and side.pipelines() == [] and side.pipeline(PID) is None
    assert not (tmp_path / "wizard.json").exists()


def test_sidecar_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "wizard.json"
    side = Sidecar(path)
    side.set_current(PID)
    saved = side.save_step(PID, "project", {"url": PID, "org": "acme", "nested": {"ok": [1, 2]}})
    assert saved == {"url": PID, "org": "acme", "nested": {"ok": [1, 2]}}

    again = Sidecar(path)  # a new kernel
    assert again.current() == PID
    assert again.pipelines() == [PID]
    record = again.pipeline(PID)
    assert record is not None
    assert record["steps"] == {"project": saved}
    assert record["finalized"] is False
    assert record["created"].endswith("Z") and record["updated"] >= record["created"]
    doc = json.loads(path.read_text())
    assert doc["schema_version"] == 1 and doc["current"] == PID


def test_pipeline_returns_a_copy(tmp_path: Path) -> None:
    side = Sidecar(tmp_path / "wizard.json")
    side.save_step(PID, "connect", {"user": "ann"})
    record = side.pipeline(PID)
    assert record is not None
    record["steps"]["connect"]["user"] = "bob"
    assert side.pipeline(PID)["steps"]["connect"] == {"user": "ann"}  # type: ignore[index]


def test_first_unfinished_step(tmp_path: Path) -> None:
    side = Sidecar(tmp_path / "wizard.json")
    assert side.first_unfinished_step("unknown") == "connect"
    side.save_step(PID, "connect", {})
    side.save_step(PID, "project", {"url": PID})
    assert side.first_unfinished_step(PID) == "analysis"
    side.save_step(PID, "depth", {"depth": 2})  # a gap: analysis still missing
    assert side.first_unfinished_step(PID) == "analysis"
    for step in STEPS:
        side.save_step(PID, step, {})
    assert side.first_unfinished_step(PID) == "result"


def test_revert_clears_that_step_and_later_ones_only(tmp_path: Path) -> None:
    side = Sidecar(tmp_path / "wizard.json")
    other = "https://app.botify.com/acme/blog"
    for step in STEPS:
        side.save_step(PID, step, {"step": step})
        side.save_step(other, step, {"step": step})
    side.clear_steps_from(PID, "depth")
    record = side.pipeline(PID)
    assert record is not None
    assert list(record["steps"]) == ["connect", "project", "analysis"]
    assert side.first_unfinished_step(PID) == "depth"
    assert len(side.pipeline(other)["steps"]) == len(STEPS)  # type: ignore[index]
    side.clear_steps_from(PID, "connect")
    assert side.pipeline(PID)["steps"] == {}  # type: ignore[index]
    side.clear_steps_from("unknown", "connect")  # no-op, no error


def test_finalized_pipeline_is_read_only_until_reopened(tmp_path: Path) -> None:
    side = Sidecar(tmp_path / "wizard.json")
    side.save_step(PID, "connect", {"user": "ann"})
    side.set_finalized(PID, True)
    before = (tmp_path / "wizard.json").read_text()
    with pytest.raises(ConfigError, match="finalized"):
        side.save_step(PID, "project", {"url": PID})
    with pytest.raises(ConfigError, match="finalized"):
        side.clear_steps_from(PID, "connect")
    assert (tmp_path / "wizard.json").read_text() == before
    side.set_finalized(PID, False)
    side.save_step(PID, "project", {"url": PID})
    assert side.first_unfinished_step(PID) == "analysis"


def test_unknown_step_and_non_dict_data_are_refused(tmp_path: Path) -> None:
    side = Sidecar(tmp_path / "wizard.json")
    with pytest.raises(ConfigError, match="Unknown wizard step"):
        side.save_step(PID, "bogus", {})
    with pytest.raises(ConfigError, match="dict"):
        side.save_step(PID, "connect", ["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="JSON"):
        side.save_step(PID, "connect", {"when": object()})
    assert not (tmp_path / "wizard.json").exists()


@pytest.mark.parametrize(
    "data",
    [
        {"token": "abc"},
        {"api_token": "abc"},
        {"headers": {"Authorization": "Token abc"}},
        {"list": [{"password": "x"}]},
        {"client_secret": "x"},
    ],
)
def test_save_step_refuses_credential_keys(tmp_path: Path, data: dict) -> None:
    side = Sidecar(tmp_path / "wizard.json")
    with pytest.raises(ConfigError, match="credential"):
        side.save_step(PID, "connect", data)
    assert not (tmp_path / "wizard.json").exists()


def test_save_step_refuses_the_token_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOTIFY_API_TOKEN", TOKEN)
    side = Sidecar(tmp_path / "wizard.json")
    for data in ({"user": TOKEN}, {"deep": [{"x": TOKEN}]}, {"header": f"Token {TOKEN}"}):
        with pytest.raises(ConfigError) as info:
            side.save_step(PID, "connect", data)
        assert TOKEN not in str(info.value)
    assert not (tmp_path / "wizard.json").exists()
    side.save_step(PID, "connect", {"user": "ann"})  # ordinary data is fine


def test_save_step_refuses_the_token_from_the_token_file(tmp_path: Path) -> None:
    from botify_graph.token import save_token

    save_token(TOKEN)
    with pytest.raises(ConfigError):
        Sidecar(tmp_path / "wizard.json").save_step(PID, "connect", {"user": TOKEN})


def test_corrupt_sidecar_is_reported_backed_up_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "wizard.json"
    path.write_text("{not json", encoding="utf-8")
    side = Sidecar(path)
    with pytest.raises(StateFileError) as info:
        side.save_step(PID, "connect", {})
    assert str(path) in str(info.value)
    backups = list(tmp_path.glob("wizard.json.corrupt-*"))
    assert backups and backups[0].name in str(info.value)
    assert path.read_text() == "{not json"
    with pytest.raises(StateFileError):
        side.load()


@pytest.mark.parametrize("doc", [[1, 2], {"pipelines": {}}, {"schema_version": 1, "pipelines": []}])
def test_wrong_shape_is_corrupt(tmp_path: Path, doc: object) -> None:
    path = tmp_path / "wizard.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(StateFileError, match="corrupt"):
        Sidecar(path).load()
    assert json.loads(path.read_text()) == doc


def test_newer_sidecar_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "wizard.json"
    text = json.dumps({"schema_version": 2, "current": None, "pipelines": {}, "new": True})
    path.write_text(text)
    with pytest.raises(StateFileError, match="Upgrade botify-graph"):
        Sidecar(path).save_step(PID, "connect", {})
    assert path.read_text() == text
    assert not list(tmp_path.glob("*.corrupt-*"))


def test_failed_save_keeps_previous_sidecar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "wizard.json"
    side = Sidecar(path)
    side.save_step(PID, "connect", {"user": "ann"})
    before = path.read_text()

    def boom(src: object, dst: object) -> None:
        raise OSError("no space left")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        side.save_step(PID, "project", {"url": PID})
    monkeypatch.undo()
    assert path.read_text() == before
    assert leftovers(tmp_path) == []


# -- ParamLog ------------------------------------------------------------------------------------------


def test_param_log_round_trip(tmp_path: Path) -> None:
    log = ParamLog(tmp_path / "logs" / "params.jsonl")
    assert log.read() == []
    log.append(PID, "project", {"url": PID})
    log.append(PID, "depth", {"max_edges": 1000})
    log.append("other", "project", {"url": "other"})
    log.append(PID, "depth", {"max_edges": 5000})
    entries = log.read()
    assert [e["step"] for e in entries] == ["project", "depth", "project", "depth"]
    assert set(entries[0]) == {"ts", "pipeline", "step", "values"}
    assert [e["pipeline"] for e in log.read(PID)] == [PID, PID, PID]
    assert log.latest_values(PID) == {"project": {"url": PID}, "depth": {"max_edges": 5000}}
    assert all(line.startswith("{") for line in (tmp_path / "logs" / "params.jsonl").read_text().splitlines())


def test_param_log_refuses_tokens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOTIFY_API_TOKEN", TOKEN)
    log = ParamLog(tmp_path / "params.jsonl")
    with pytest.raises(ConfigError, match="credential"):
        log.append(PID, "connect", {"token": "x"})
    with pytest.raises(ConfigError) as info:
        log.append(PID, "connect", {"value": TOKEN})
    assert TOKEN not in str(info.value)
    assert log.read() == []


def test_param_log_skips_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "params.jsonl"
    log = ParamLog(path)
    log.append(PID, "project", {"url": PID})
    with open(path, "ab") as handle:
        handle.write(b'{"ts": "2024-01-01T00:00:00Z", "pipeline": "x", "st')
    assert [e["step"] for e in log.read()] == ["project"]
    log.append(PID, "depth", {"max_edges": 10})  # appending after a crash cuts the fragment off
    assert [e["step"] for e in log.read()] == ["project", "depth"]
    assert b'"st\n' not in path.read_bytes()


def test_param_log_append_terminates_a_complete_unterminated_line(tmp_path: Path) -> None:
    path = tmp_path / "params.jsonl"
    path.write_text(json.dumps({"ts": "t", "pipeline": PID, "step": "connect", "values": {}}))
    log = ParamLog(path)
    log.append(PID, "project", {"url": PID})
    assert [e["step"] for e in log.read()] == ["connect", "project"]


def test_param_log_refuses_corruption_in_the_middle(tmp_path: Path) -> None:
    path = tmp_path / "params.jsonl"
    log = ParamLog(path)
    log.append(PID, "project", {"url": PID})
    with open(path, "ab") as handle:
        handle.write(b"garbage\n")
    log.append(PID, "depth", {"max_edges": 10})
    before = path.read_bytes()
    with pytest.raises(StateFileError) as info:
        log.read()
    assert "line 2" in str(info.value) and str(path) in str(info.value)
    assert path.read_bytes() == before


def test_param_log_rotates_at_its_size_and_reads_as_one_history(tmp_path: Path) -> None:
    path = tmp_path / "link_graph.state.jsonl"
    log = ParamLog(path, rotate_bytes=400)
    for i in range(30):
        log.append(PID if i % 3 else "other", "depth", {"max_edges": i})
    parts = log.parts()
    assert len(parts) >= 5 and parts[0].name == "link_graph.state.0001.jsonl" and parts[-1] == path
    assert all(p.stat().st_size <= 400 for p in parts)  # each file stops before the line that would pass it
    assert [e["values"]["max_edges"] for e in log.read()] == list(range(30))  # oldest first, nothing lost
    assert log.latest_values(PID) == {"depth": {"max_edges": 29}}
    assert [e["values"]["max_edges"] for e in log.read("other")] == list(range(0, 30, 3))
    assert ParamLog(path).read() == log.read()  # any reader, whatever its rotation size
    big = ParamLog(tmp_path / "big.jsonl", rotate_bytes=10)
    big.append(PID, "project", {"url": PID})  # a line longer than the size still goes in
    big.append(PID, "depth", {"max_edges": 1})
    assert len(big.parts()) == 2 and [e["step"] for e in big.read()] == ["project", "depth"]


def test_a_torn_line_is_healed_before_its_file_is_rotated(tmp_path: Path) -> None:
    path = tmp_path / "params.jsonl"
    log = ParamLog(path, rotate_bytes=200)
    log.append(PID, "project", {"url": PID})
    with open(path, "ab") as handle:
        handle.write(b'{"ts": "2024-01-01T00:00:00Z", "pipeline": "x", "st')  # a crash mid-append
    for i in range(5):
        log.append(PID, "depth", {"max_edges": i})
    assert [e["step"] for e in log.read()] == ["project"] + ["depth"] * 5
    rotated = log.parts()[0]
    rotated.write_bytes(rotated.read_bytes() + b"garbage\n")
    with pytest.raises(StateFileError) as info:  # a rotated file has no torn tail to forgive
        log.read()
    assert str(rotated) in str(info.value)


def test_param_log_on_a_read_only_folder_reads_and_refuses_to_append_with_the_folder_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers import SmallDisk

    from botify_graph.errors import StorageError

    folder = tmp_path / "ro"
    with SmallDisk(folder, 1 << 20, monkeypatch) as disk:
        log = ParamLog(folder / "params.jsonl", rotate_bytes=150)
        for i in range(4):
            log.append(PID, "depth", {"max_edges": i})
        disk.read_only()
        assert [e["values"]["max_edges"] for e in log.read()] == [0, 1, 2, 3]
        with pytest.raises(StorageError, match=f"{folder} cannot be written to ") as info:
            log.append(PID, "depth", {"max_edges": 4})
        assert info.value.folder == str(folder)


# -- wizard answers → export settings --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({}, {}),
        ({"project": {"url": PID}}, {"project_url": PID}),
        (
            {
                "connect": {"user": "ann"},
                "project": {"url": PID},
                "analysis": {"slug": "20240101"},
                "depth": {"depth": 3, "max_edges": 100000},
                "fields": {"fields": ["pagetype", "clicks"]},
            },
            {"project_url": PID, "analysis": "20240101", "max_edges": 100000, "fields": ("pagetype", "clicks")},
        ),
        ({"fields": {"fields": []}}, {"fields": ()}),
        ({"depth": {"depth": 2}, "analysis": {}}, {}),
        (
            {"depth": {"max_edges": 5}, "export": {"max_edges": 9, "out_dir": "/o", "api_base": "http://x/v1"}},
            {"max_edges": 5, "out_dir": "/o", "api_base": "http://x/v1"},
        ),
        ({"export": {"analysis": "20240101", "poll_timeout_s": 60}}, {"analysis": "20240101", "poll_timeout_s": 60}),
    ],
)
def test_export_settings_from_wizard_answers(answers: dict, expected: dict) -> None:
    assert export_settings(answers) == expected


def test_export_settings_from_the_log(tmp_path: Path) -> None:
    log = ParamLog(tmp_path / "params.jsonl")
    log.append(PID, "project", {"url": PID})
    log.append(PID, "depth", {"max_edges": 10})
    log.append(PID, "depth", {"max_edges": 20})
    assert export_settings(log.latest_values(PID)) == {"project_url": PID, "max_edges": 20}


# -- two real processes --------------------------------------------------------------------------------

WORKER = r"""
import sys, time
from pathlib import Path
from botify_graph.state import ParamLog, Sidecar

go, path, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
while not go.exists():
    time.sleep(0.005)
side = Sidecar(path / "wizard.json")
log = ParamLog(path / "params.jsonl", **({"rotate_bytes": int(sys.argv[4])} if len(sys.argv) > 4 else {}))
for i in range(n):
    with side.locked():
        record = side.pipeline("p")
        count = record["steps"]["depth"]["count"] if record and "depth" in record["steps"] else 0
        side.save_step("p", "depth", {"count": count + 1})
    log.append("p", "depth", {"i": i})
"""


def test_two_processes_lose_no_sidecar_update_or_log_line(tmp_path: Path) -> None:
    race(WORKER, str(tmp_path), "50", go=tmp_path / "go")
    side = Sidecar(tmp_path / "wizard.json")
    assert side.pipeline("p")["steps"]["depth"] == {"count": 100}  # type: ignore[index]
    assert len(ParamLog(tmp_path / "params.jsonl").read()) == 100
    assert leftovers(tmp_path) == []


def test_two_processes_rotating_the_parameter_log_lose_no_line(tmp_path: Path) -> None:
    race(WORKER, str(tmp_path), "40", "300", go=tmp_path / "go")
    log = ParamLog(tmp_path / "params.jsonl")
    entries = log.read()
    assert len(entries) == 80 and len(log.parts()) > 10
    by_worker = [e["values"]["i"] for e in entries]
    assert sorted(by_worker) == sorted(list(range(40)) * 2)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.recursive(st.none() | st.booleans() | st.integers() | st.text(), lambda c: st.lists(c, max_size=3)))
def test_sidecar_step_data_round_trips(tmp_path: Path, data: object) -> None:
    side = Sidecar(tmp_path / "prop.json")
    side.save_step(PID, "fields", {"value": data})
    assert side.pipeline(PID)["steps"]["fields"] == {"value": data}  # type: ignore[index]


def test_clear_current_keeps_the_pipelines(tmp_path: Path) -> None:
    sidecar = Sidecar(tmp_path / "s.json")
    sidecar.set_current("https://app.botify.com/o/p/")
    sidecar.clear_current()
    assert sidecar.current() is None and sidecar.pipelines() == ["https://app.botify.com/o/p/"]
