"""The layout module: every path, file name and default, decided once."""

from __future__ import annotations

from pathlib import Path

import pytest

from botify_graph import layout
from botify_graph.errors import ConfigError, InvalidProjectURL
from botify_graph.urls import ProjectRef

REF = ProjectRef("example-org", "example.com")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / layout.NOTEBOOK).parent.mkdir(parents=True)
    (tmp_path / layout.NOTEBOOK).write_text("{}")
    return tmp_path


def test_out_dir_argument_then_environment_then_downloads_at_the_repository_root(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo / "notebooks")  # a kernel's folder
    assert layout.out_dir(environ={}) == repo / "downloads"
    assert layout.out_dir(environ={"BOTIFY_GRAPH_OUT": "exports"}) == repo / "exports"
    assert layout.out_dir(environ={"BOTIFY_GRAPH_OUT": "/abs/out"}) == Path("/abs/out")
    assert layout.out_dir("here", environ={"BOTIFY_GRAPH_OUT": "exports"}) == repo / "notebooks" / "here"
    assert layout.out_dir("here", base=repo, environ={}) == repo / "here"
    assert layout.out_dir("  ", environ={}) == repo / "downloads"  # blank means "not given"
    assert layout.out_dir(environ={"BOTIFY_GRAPH_HOME": str(repo / "h")}) == repo / "h" / "downloads"


def test_out_dir_outside_a_repository_is_downloads_in_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert layout.out_dir(environ={}) == tmp_path.resolve() / "downloads"


@pytest.mark.parametrize(
    ("explicit", "environ", "expected"),
    [
        (None, {}, "https://api.botify.com/v1"),
        ("", {"BOTIFY_API_BASE": "http://127.0.0.1:1/v1"}, "http://127.0.0.1:1/v1"),
        ("http://x/v1", {"BOTIFY_API_BASE": "http://127.0.0.1:1/v1"}, "http://x/v1"),
    ],
)
def test_api_base(explicit: str | None, environ: dict, expected: str) -> None:
    assert layout.api_base(explicit, environ=environ) == expected


def test_sidecar_and_log_paths(repo: Path) -> None:
    assert layout.sidecar_path(repo, environ={}) == repo / "notebooks" / "link_graph.state.json"
    assert layout.sidecar_path(repo, environ={"BOTIFY_GRAPH_STATE": "s.json"}) == repo / "s.json"
    assert layout.param_log_path(repo / "s.json") == repo / "s.jsonl"


@pytest.mark.parametrize(
    ("analysis", "kind", "variant", "name"),
    [
        ("20241108", "links", "", "example.com_20241108_links.csv"),
        ("20241101-2", "meta", "", "example.com_20241101-2_meta.csv"),
        ("20241108", "links", "limit500000", "example.com_20241108_links.limit500000.csv"),
        (
            "20241108",
            "meta",
            "limit1000000-7fields-1a2b3c",
            "example.com_20241108_meta.limit1000000-7fields-1a2b3c.csv",
        ),
    ],
)
def test_export_file_names_round_trip(analysis: str, kind: str, variant: str, name: str) -> None:
    assert layout.export_filename(REF, analysis, kind, variant) == name
    assert layout.parse_export_filename(name, REF.project) == layout.ExportName(analysis, kind, variant)


@pytest.mark.parametrize(
    "name",
    ["example.com_20241108_summary.json", "other_20241108_links.csv", "example.com__links.csv", "example.com_x.csv"],
)
def test_other_file_names_are_not_exports(name: str) -> None:
    assert layout.parse_export_filename(name, REF.project) is None


def test_bad_names_are_refused() -> None:
    with pytest.raises(InvalidProjectURL):
        layout.export_filename(REF, "../x", "links")
    with pytest.raises(ValueError, match="kind"):
        layout.export_filename(REF, "20241108", "pages")
    with pytest.raises(ValueError, match="variant"):
        layout.export_filename(REF, "20241108", "links", "../x")


def test_local_analyses_and_find_export(tmp_path: Path) -> None:
    folder = layout.project_dir(tmp_path, REF)
    folder.mkdir(parents=True)
    for name in (
        "example.com_20241108_links.csv",
        "example.com_20241108_meta.csv",
        "example.com_20241101-2_links.csv",
        "example.com_20241001_links.limit5.csv",  # an earlier variant only: not the analysis' export
        "example.com_20241108_summary.json",
    ):
        (folder / name).write_text("x\n")
    assert layout.local_analyses(tmp_path, REF) == ["20241101-2", "20241108"]
    links, meta, slug = layout.find_export(tmp_path, REF)
    assert (links.name, meta and meta.name, slug) == (
        "example.com_20241108_links.csv",
        "example.com_20241108_meta.csv",
        "20241108",
    )
    assert layout.find_export(tmp_path, REF, "20241101-2")[1] is None
    with pytest.raises(ConfigError, match="botify-graph run"):
        layout.find_export(tmp_path, REF, "20241001")
    with pytest.raises(ConfigError, match="No links export"):
        layout.find_export(tmp_path, ProjectRef("example-org", "other"))


def test_out_dir_of_an_export_file(tmp_path: Path) -> None:
    path = layout.export_path(tmp_path / "out", REF, "20241108", "links")
    assert layout.out_dir_of(path, REF) == (tmp_path / "out").resolve()
    with pytest.raises(ConfigError, match=r"example-org/example\.com"):
        layout.out_dir_of(tmp_path / "elsewhere" / path.name, REF)


def test_report_names() -> None:
    assert layout.report_path("/o", REF, "20241108", "summary_md").name == "example.com_20241108_summary.md"
    assert layout.report_path("/o", REF, "20241108", "graph_html").name == "example.com_20241108_graph.html"
    j, m = layout.compare_paths("/o", REF, "20241001", "20241108")
    assert (j.name, m.name) == (
        "example.com_20241001_vs_20241108_compare.json",
        "example.com_20241001_vs_20241108_compare.md",
    )


def test_variant_tags_are_stable_readable_and_differ_with_the_settings() -> None:
    assert layout.variant_tag("links", max_edges=1_000_000) == "limit1000000"
    assert layout.variant_tag("links", max_edges=5, options={"mode": "complete"}) == "complete-limit5"
    a = layout.variant_tag("meta", max_edges=5, fields=("pagetype", "clicks"))
    assert a.startswith("limit5-2fields-") and a == layout.variant_tag(
        "meta", max_edges=5, fields=("pagetype", "clicks")
    )
    assert a != layout.variant_tag("meta", max_edges=5, fields=("clicks", "pagetype"))
    assert a != layout.variant_tag("meta", max_edges=5, fields=("pagetype", "clicks"), options={"period": ["a", "b"]})
    assert layout.parse_export_filename(layout.export_filename(REF, "20241108", "meta", a), REF.project)


def test_partitions_live_in_a_hidden_folder_beside_their_export(tmp_path: Path) -> None:
    ref = ProjectRef("org", "proj")
    folder = layout.partition_dir(tmp_path, ref, "20241108", "links", "complete-limit5")
    assert folder == layout.project_dir(tmp_path, ref) / ".proj_20241108_links.complete-limit5.parts"
    part = layout.partition_path(tmp_path, ref, "20241108", "links", "complete-limit5", "d3.t1")
    assert part == folder / "d3.t1.csv"
    assert layout.local_analyses(tmp_path, ref) == []  # never mistaken for an export
    for bad in ("", "../x", "D3", "a/b"):
        with pytest.raises(ValueError):
            layout.partition_path(tmp_path, ref, "20241108", "links", "complete-limit5", bad)
    with pytest.raises(ValueError):
        layout.partition_dir(tmp_path, ref, "20241108", "links", "")


def test_rotated_parameter_logs_are_numbered_oldest_first(tmp_path: Path) -> None:
    log = tmp_path / "link_graph.state.jsonl"
    assert layout.param_log_rotated(log, 1) == tmp_path / "link_graph.state.0001.jsonl"
    assert layout.param_log_rotated(log, 12345) == tmp_path / "link_graph.state.12345.jsonl"
    with pytest.raises(ValueError):
        layout.param_log_rotated(log, 0)
    for name in (
        "link_graph.state.0002.jsonl",
        "link_graph.state.0010.jsonl",
        "link_graph.state.0001.jsonl",
        "link_graph.state.x.jsonl",
        "link_graph.state.2.jsonl",
        "other.0003.jsonl",
        "link_graph.state.jsonl",
    ):
        (tmp_path / name).write_text("")  # fmt: skip
    assert [n for n, _ in layout.param_log_parts(log)] == [1, 2, 10]
    assert layout.param_log_parts(tmp_path / "w[1]*.jsonl") == []  # glob characters in the name are literal


def test_wizard_traces_go_to_the_traces_folder_of_the_output(tmp_path: Path) -> None:
    path = layout.trace_path(tmp_path, "wizard", "20261120T133501Z")
    assert path == tmp_path / layout.TRACE_DIR / "wizard-20261120t133501z.jsonl"


@pytest.mark.parametrize(
    ("explicit", "environ", "expected"),
    [
        (None, {}, 5.0),
        (None, {"BOTIFY_GRAPH_RATE": "2.5"}, 2.5),
        (1, {"BOTIFY_GRAPH_RATE": "2.5"}, 1.0),
        ("", {"BOTIFY_GRAPH_RATE": " 3 "}, 3.0),
    ],
)
def test_api_rate_argument_then_environment_then_botifys_limit(
    explicit: float | str | None, environ: dict, expected: float
) -> None:
    assert layout.api_rate(explicit, environ=environ) == expected


@pytest.mark.parametrize(
    ("explicit", "environ", "where"),
    [("0", {}, "The request rate"), (-1, {}, "The request rate"), ("nan", {}, "The request rate"),
     (True, {}, "The request rate"), (None, {"BOTIFY_GRAPH_RATE": "five"}, "BOTIFY_GRAPH_RATE")],
)  # fmt: skip
def test_a_bad_rate_says_where_it_came_from(explicit: object, environ: dict, where: str) -> None:
    with pytest.raises(ConfigError, match=f"^{where} must be a positive number of requests per second"):
        layout.api_rate(explicit, environ=environ)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("file", "name"),
    [(None, "batch"), ("", "batch"), ("/srv/weekly.txt", "weekly"), ("my projects.csv", "my-projects"),
     ("../x/.hidden.yaml", "hidden"), ("...", "batch"), ("a.b.c.csv", "a.b.c")],
)  # fmt: skip
def test_batch_results_are_named_after_the_projects_file(tmp_path: Path, file: str | None, name: str) -> None:
    assert layout.batch_name(file) == name
    assert layout.batch_results_paths(tmp_path, name) == (
        tmp_path / f"{name}_results.csv",
        tmp_path / f"{name}_results.md",
    )


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "x" * 81])
def test_a_bad_batch_name_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="Bad batch name"):
        layout.batch_results_paths(tmp_path, name)


@pytest.mark.parametrize(
    ("path", "served"),
    [
        ("example-org/example.com/example.com_20241108_links.csv", True),
        ("example-org/example.com/example.com_20241108_meta.csv", True),
        ("example-org/example.com/example.com_20241108_links.limit500-abc123.csv", True),  # an earlier variant
        ("example-org/example.com/example.com_20241108_summary.md", True),
        ("example-org/example.com/example.com_20241108_summary.json", True),
        ("example-org/example.com/example.com_20241108_depth.svg", True),
        ("example-org/example.com/example.com_20241108_graph.html", True),
        ("example-org/example.com/example.com_20241001_vs_20241108_compare.md", True),
        ("export_registry.json", False),  # signed download URLs: never served
        (".export-locks/x.lock", False),
        ("example-org/example.com/.example.com_20241108_links.csv.lock", False),
        ("example-org/example.com/example.com_20241108_links.csv.part", False),
        ("example-org/example.com/example.com_20241108_links.csv.download.part", False),
        ("example-org/example.com/other_20241108_links.csv", False),  # another project's name
        ("example-org/example.com", False),  # a folder: no listing
        ("example-org/example.com/", False),
        ("example-org/example.com/sub/example.com_20241108_links.csv", False),
        ("example-org/../example.com/example.com_20241108_links.csv", False),
        ("example-org/example.com/../example.com/example.com_20241108_links.csv", False),
        ("../example-org/example.com/example.com_20241108_links.csv", False),
        ("example-org/example.com/example.com_20241108_notes.txt", False),
        ("example-org/example.com/example.com__links.csv", False),
    ],
)
def test_only_export_and_report_files_are_downloadable(tmp_path: Path, path: str, served: bool) -> None:
    expected = path if served else None
    assert layout.downloadable(tmp_path, path) == expected
    assert layout.downloadable(tmp_path, tmp_path / path) == expected
    assert layout.downloadable(tmp_path / "elsewhere", tmp_path / path) is None


def test_downloadable_through_a_symlinked_output_folder(tmp_path: Path) -> None:
    real = tmp_path / "disk" / "downloads"
    (real / "o" / "p").mkdir(parents=True)
    (tmp_path / "downloads").symlink_to(real)
    assert layout.downloadable(tmp_path / "downloads", real / "o" / "p" / "p_20241108_links.csv") == (
        "o/p/p_20241108_links.csv"
    )


def test_served_url_comes_from_the_server_environment(tmp_path: Path) -> None:
    path = tmp_path / "o" / "p" / "p_20241108_links.csv"
    env = {layout.FILES_URL_VAR: "/user/me/botify-graph/files/", layout.FILES_DIR_VAR: str(tmp_path)}
    assert layout.served_url(path, environ=env) == "/user/me/botify-graph/files/o/p/p_20241108_links.csv"
    assert layout.served_url(tmp_path / "o" / "p" / "p_20241108_links x.csv", environ=env) is None
    assert layout.served_url(path, environ={}) is None  # a server without the route: no link
    assert layout.served_url(path, environ={**env, layout.FILES_DIR_VAR: str(tmp_path / "other")}) is None


def test_follow_lock_files_are_one_per_key_inside_the_output_folder(tmp_path: Path) -> None:
    keys = ["o/p/20241108/links@limit1000000", "o/p/20241108/links@limit5", "o/p/20241108/meta@x#d1-3", "a/b~c"]
    locks = [layout.follow_lock_path(tmp_path, k) for k in keys]
    assert len(set(locks)) == len(keys)
    assert all(p.parent == tmp_path / ".export-locks" and p.name.endswith(".lock") for p in locks)
    assert layout.follow_progress_path(tmp_path, keys[0]).name == locks[0].name[: -len(".lock")] + ".progress.json"
