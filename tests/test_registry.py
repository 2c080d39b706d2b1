"""Tests for the export registry: records, fresh reads, locking, corrupt and newer files, two processes."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from helpers import race

from botify_graph.errors import StateFileError
from botify_graph.registry import ExportRecord, ExportRegistry, registry_key

ROOT = Path(__file__).resolve().parents[1]


def links(**over: object) -> ExportRecord:
    base: dict = dict(
        org="acme", project="shop", analysis="20240101", kind="links", depth=3, max_edges=100000, fields=()
    )
    base["status"] = "CREATING"
    base.update(over)
    return ExportRecord(**base)


def meta(**over: object) -> ExportRecord:
    return links(kind="meta", fields=("metadata.title.content", "http_code"), **over)


@pytest.fixture
def reg(tmp_path: Path) -> ExportRegistry:
    return ExportRegistry(tmp_path / "downloads" / "export_registry.json")


def test_key_and_matches() -> None:
    record = meta()
    assert record.key == "acme/shop/20240101/meta" == registry_key("acme", "shop", "20240101", "meta")
    assert record.matches(3, 100000, ["metadata.title.content", "http_code"])
    assert record.matches(3, 100000, ("metadata.title.content", "http_code"))
    assert not record.matches(2, 100000, ("metadata.title.content", "http_code"))
    assert not record.matches(3, 5000, ("metadata.title.content", "http_code"))
    assert not record.matches(3, 100000, ("http_code",))
    assert links().matches(3, 100000, ())


def test_the_key_names_the_settings_variant_and_the_partition() -> None:
    assert registry_key("o", "p", "20240101", "links", "limit5") == "o/p/20240101/links@limit5"
    assert registry_key("o", "p", "20240101", "links", "limit5", "d3") == "o/p/20240101/links@limit5#d3"
    assert links(variant="limit100000").key == "acme/shop/20240101/links@limit100000"


def test_a_version_1_registry_is_read_under_variant_keys_and_rewritten_as_version_2(reg: ExportRegistry) -> None:
    old = {k: v for k, v in meta(status="DOWNLOADED", file="acme/shop/x_meta.csv").to_json().items()}
    for name in ("variant", "part", "options"):
        old.pop(name)
    reg.path.parent.mkdir(parents=True)
    reg.path.write_text(json.dumps({"schema_version": 1, "exports": {"acme/shop/20240101/meta": old}}))
    [record] = reg.records()
    assert record.variant == "limit100000-2fields-" + record.variant.rsplit("-", 1)[1]
    assert record.key == f"acme/shop/20240101/meta@{record.variant}" and record.file == "acme/shop/x_meta.csv"
    reg.update(record.key, rows=5)
    doc = json.loads(reg.path.read_text())
    assert doc["schema_version"] == 2 and list(doc["exports"]) == [record.key]


def test_install_moves_an_earlier_export_aside_and_never_replaces_it(reg: ExportRegistry, tmp_path: Path) -> None:
    folder = reg.path.parent / "acme" / "shop"
    folder.mkdir(parents=True)
    dest = folder / "shop_20240101_links.csv"
    first = reg.put(links(variant="limit100000", status="DONE"))
    part = tmp_path / "first.part"
    part.write_text("source,target\na,b\n")
    assert reg.install(first.key, part, dest, rows=1) is None
    assert reg.get(first.key).file == "acme/shop/shop_20240101_links.csv"  # type: ignore[union-attr]
    assert reg.downloads("acme", "shop", "20240101", "links")[0].key == first.key

    second = reg.put(links(variant="limit500", max_edges=500, status="DONE"))
    part.write_text("source,target\nc,d\n")
    aside = reg.install(second.key, part, dest, rows=1)
    assert aside == folder / "shop_20240101_links.limit100000.csv"
    assert aside.read_text() == "source,target\na,b\n" and dest.read_text() == "source,target\nc,d\n"
    assert reg.get(first.key).file == "acme/shop/shop_20240101_links.limit100000.csv"  # type: ignore[union-attr]
    assert [r.key for r in reg.downloads("acme", "shop", "20240101", "links")] == [second.key, first.key]

    stray = folder / "shop_20240101_meta.csv"  # a file no record holds is kept too, under a dated name
    stray.write_text("id\nx\n")
    third = reg.put(meta(variant="limit100000-2fields-abc", status="DONE"))
    part.write_text("id\ny\n")
    kept = reg.install(third.key, part, stray, rows=1)
    assert kept is not None and kept.name.startswith("shop_20240101_meta.earlier-") and kept.read_text() == "id\nx\n"


def test_nothing_is_read_or_written_until_used(tmp_path: Path) -> None:
    path = tmp_path / "downloads" / "export_registry.json"
    reg = ExportRegistry(path)
    assert reg.get("acme/shop/20240101/links") is None
    assert reg.records() == []
    assert not path.parent.exists()


def test_put_get_round_trip(reg: ExportRegistry) -> None:
    stored = reg.put(meta())
    assert stored.created and stored.updated and stored.created.endswith("Z")
    got = reg.get(stored.key)
    assert got == stored
    assert isinstance(got.fields, tuple)
    doc = json.loads(reg.path.read_text())
    assert doc["schema_version"] == 2
    assert doc["exports"][stored.key]["fields"] == ["metadata.title.content", "http_code"]
    assert doc["exports"][stored.key]["status"] == "CREATING"


def test_put_replaces_and_keeps_created(reg: ExportRegistry) -> None:
    first = reg.put(links())
    time.sleep(0.002)
    second = reg.put(links(status="CREATED", job_id=42, created=first.created))
    assert second.created == first.created and second.updated > first.updated
    assert reg.get(first.key) == second
    assert len(reg.records()) == 1


def test_update_changes_fields_and_refreshes_updated(reg: ExportRegistry) -> None:
    first = reg.put(links())
    time.sleep(0.002)
    done = reg.update(first.key, status="DONE", job_id="j-1", download_url="https://x/y.csv.gz", polls=4)
    assert (done.status, done.job_id, done.download_url, done.polls) == ("DONE", "j-1", "https://x/y.csv.gz", 4)
    assert done.created == first.created and done.updated > first.updated
    assert reg.get(first.key) == done


def test_update_refusals(reg: ExportRegistry) -> None:
    with pytest.raises(ValueError, match="No export record"):
        reg.update("acme/shop/20240101/links", status="DONE")
    key = reg.put(links()).key
    with pytest.raises(ValueError, match="no field"):
        reg.update(key, colour="red")
    with pytest.raises(ValueError, match="registry key"):
        reg.update(key, analysis="20240202")
    with pytest.raises(ValueError, match="status"):
        reg.update(key, status="WEIRD")
    with pytest.raises(ValueError, match="kind"):
        reg.put(links(kind="images"))
    assert reg.get(key).status == "CREATING"  # type: ignore[union-attr]


def test_records_filters(reg: ExportRegistry) -> None:
    reg.put(links())
    reg.put(meta())
    reg.put(links(analysis="20240202"))
    reg.put(links(project="blog"))
    reg.put(links(org="other"))
    assert len(reg.records()) == 5
    assert len(reg.records(org="acme")) == 4
    assert len(reg.records(org="acme", project="shop")) == 3
    assert [r.kind for r in reg.records(org="acme", project="shop", analysis="20240101")] == ["links", "meta"]
    assert reg.records(analysis="nope") == []


def test_file_paths(reg: ExportRegistry, tmp_path: Path) -> None:
    assert reg.file_path(links()) is None
    inside = reg.path.parent / "acme" / "links.csv"
    rel = reg.relative_file(inside)
    assert rel == "acme/links.csv"
    stored = reg.put(links(status="DOWNLOADED", file=rel, rows=12))
    assert reg.file_path(stored) == inside.absolute()
    outside = tmp_path / "elsewhere" / "x.csv"
    assert reg.relative_file(outside) == str(outside.absolute())
    assert reg.file_path(links(file=str(outside))) == outside.absolute()


def test_fresh_reads_between_instances(tmp_path: Path) -> None:
    path = tmp_path / "export_registry.json"
    one, two = ExportRegistry(path), ExportRegistry(path)
    key = one.put(links()).key
    assert two.get(key).status == "CREATING"  # type: ignore[union-attr]
    two.update(key, status="PROCESSING")
    assert one.get(key).status == "PROCESSING"  # type: ignore[union-attr]


def test_locked_is_reentrant_for_put_and_update(reg: ExportRegistry) -> None:
    with reg.locked():
        assert reg.get(links().key) is None
        key = reg.put(links()).key
        with reg.locked():
            reg.update(key, status="CREATED", job_id=7)
    assert reg.get(key).job_id == 7  # type: ignore[union-attr]
    with ExportRegistry(reg.path).locked():  # another instance on the same file, same thread
        reg.update(key, polls=1)


def test_unknown_record_keys_are_tolerated_and_kept(reg: ExportRegistry) -> None:
    key = reg.put(links()).key
    doc = json.loads(reg.path.read_text())
    doc["exports"][key]["future_field"] = {"x": 1}
    doc["future_top_level"] = True  # not kept: the top level belongs to this version
    reg.path.write_text(json.dumps(doc))
    assert reg.get(key).status == "CREATING"  # type: ignore[union-attr]
    reg.update(key, status="CREATED")
    assert json.loads(reg.path.read_text())["exports"][key]["future_field"] == {"x": 1}


def test_newer_registry_is_refused_and_kept(reg: ExportRegistry) -> None:
    reg.path.parent.mkdir(parents=True)
    text = json.dumps({"schema_version": 3, "exports": {}})
    reg.path.write_text(text)
    with pytest.raises(StateFileError, match="Upgrade botify-graph"):
        reg.get("a/b/c/links")
    with pytest.raises(StateFileError, match="Upgrade botify-graph"):
        reg.put(links())
    assert reg.path.read_text() == text


@pytest.mark.parametrize(
    "text",
    [
        "{oops",
        "[]",
        json.dumps({"exports": {}}),
        json.dumps({"schema_version": 1, "exports": []}),
        json.dumps({"schema_version": 1, "exports": {"k": {"org": "acme"}}}),
        json.dumps({"schema_version": 1, "exports": {links().key: {**links().to_json(), "depth": "3"}}}),
        json.dumps({"schema_version": 1, "exports": {"a/b/c/links": links().to_json()}}),
    ],
)
def test_corrupt_registry_is_reported_backed_up_and_kept(reg: ExportRegistry, text: str) -> None:
    reg.path.parent.mkdir(parents=True)
    reg.path.write_text(text)
    with pytest.raises(StateFileError) as info:
        reg.records()
    backups = list(reg.path.parent.glob("export_registry.json.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_text() == text
    assert str(reg.path) in str(info.value) and backups[0].name in str(info.value)
    assert reg.path.read_text() == text
    with pytest.raises(StateFileError):
        reg.put(links())
    assert reg.path.read_text() == text


def test_failed_write_keeps_previous_registry(reg: ExportRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    key = reg.put(links()).key
    before = reg.path.read_text()

    def boom(src: object, dst: object) -> None:
        raise OSError("read-only file system")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        reg.update(key, status="CREATED")
    monkeypatch.undo()
    assert reg.path.read_text() == before
    assert not [p for p in reg.path.parent.iterdir() if p.name.endswith(".tmp")]


WORKER = r"""
import sys, time
from pathlib import Path
from botify_graph.registry import ExportRegistry

go, reg, n, key = Path(sys.argv[1]), ExportRegistry(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
while not go.exists():
    time.sleep(0.005)
for _ in range(n):
    with reg.locked():
        record = reg.get(key)
        reg.update(key, polls=record.polls + 1)
"""


def test_two_processes_lose_no_update(reg: ExportRegistry, tmp_path: Path) -> None:
    key = reg.put(links()).key
    race(WORKER, str(reg.path), "50", key, go=tmp_path / "go")
    assert reg.get(key).polls == 100  # type: ignore[union-attr]


def test_downloaded_file_only_for_a_downloaded_record_whose_file_is_there(tmp_path: Path) -> None:
    reg = ExportRegistry(tmp_path / "export_registry.json")
    csv = tmp_path / "o" / "p" / "p_20241108_links.csv"
    record = reg.put(
        ExportRecord(
            org="o",
            project="p",
            analysis="20241108",
            kind="links",
            depth=2,
            max_edges=10,
            fields=(),
            status="DONE",
            file=reg.relative_file(csv),
        )
    )
    assert reg.downloaded_file(None) is None
    assert reg.downloaded_file(record) is None  # not downloaded yet
    record = reg.update(record.key, status="DOWNLOADED")
    assert reg.downloaded_file(record) is None  # downloaded, but the file was deleted since
    csv.parent.mkdir(parents=True)
    csv.write_text("source,target\n")
    assert reg.downloaded_file(record) == csv.resolve()
