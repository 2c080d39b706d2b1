"""The one mapping from export settings to notebook parameters, and the papermill command built from it."""

from __future__ import annotations

import shlex
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from botify_graph import layout
from botify_graph.pipeline import ExportParams
from botify_graph.reproduce import notebook_parameters, papermill_command

PID = "https://app.botify.com/example-org/example.com/"
ROOT = Path(__file__).resolve().parents[1]


def test_notebook_parameters_leave_out_what_is_at_the_notebooks_defaults() -> None:
    assert notebook_parameters(ExportParams(project_url=PID)) == {"project_url": PID, "max_edges": 1_000_000}
    full = ExportParams(
        project_url=PID,
        analysis="20240101",
        max_edges=5000,
        fields=("pagetype", "clicks"),
        gsc_period="2024-10-01:2024-10-31",
        out_dir="/data/out",
        api_base="http://127.0.0.1:9/v1",
        poll_timeout_s=60,
        retry_failed=True,
    )
    assert notebook_parameters(full) == {
        "project_url": PID,
        "analysis": "20240101",
        "max_edges": 5000,
        "meta_fields": "pagetype,clicks",
        "gsc_period": "2024-10-01:2024-10-31",
        "output_dir": "/data/out",
        "api_base": "http://127.0.0.1:9/v1",
        "poll_timeout_s": 60,
        "retry_failed": True,
    }
    botify = ExportParams(project_url=PID, api_base=layout.DEFAULT_API_BASE, poll_timeout_s=layout.POLL_TIMEOUT_S)
    assert "api_base" not in notebook_parameters(botify) and "poll_timeout_s" not in notebook_parameters(botify)


def test_every_notebook_parameter_the_mapping_writes_exists_in_the_notebook() -> None:
    import nbformat

    nb = nbformat.read(ROOT / layout.NOTEBOOK, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    declared = {line.split(":", 1)[0].strip() for line in cell.source.splitlines() if ":" in line}
    full = ExportParams(PID, "20240101", 5, ("pagetype",), "/o", "http://x/v1", 60.0, True)
    assert set(notebook_parameters(full)) <= declared
    complete = ExportParams(PID, max_edges=200_000, complete=True, max_jobs=3)
    assert notebook_parameters(complete) == {"project_url": PID, "max_edges": 200_000, "complete": True, "max_jobs": 3}
    assert set(notebook_parameters(complete)) <= declared
    cut = notebook_parameters(ExportParams(PID, allow_cut=True))
    assert cut["allow_cut"] is True and "complete" not in cut and set(cut) <= declared


def test_papermill_command_quotes_and_keeps_types() -> None:
    params = {
        "project_url": PID + "?a=1&b=2",
        "analysis": "20240101",
        "max_edges": 100000,
        "meta_fields": "a,b c",
        "dry_run": True,
        "skip": None,
    }
    command = papermill_command(params)
    assert shlex.split(command) == [
        "papermill", "notebooks/link_graph.ipynb", "out.ipynb",
        "-r", "project_url", PID + "?a=1&b=2",
        "-r", "analysis", "20240101",
        "-p", "max_edges", "100000",
        "-r", "meta_fields", "a,b c",
        "-p", "dry_run", "True",
    ]  # fmt: skip
    assert "'" + PID + "?a=1&b=2'" in command
    custom = papermill_command({"xs": [1, 2]}, notebook="nb.ipynb", output="runs/o ut.ipynb")
    assert shlex.split(custom) == ["papermill", "nb.ipynb", "runs/o ut.ipynb", "-y", '{"xs": [1, 2]}']


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), st.text() | st.integers() | st.booleans()))
def test_papermill_command_round_trips_through_the_shell(params: dict) -> None:
    expected = []
    for name, value in params.items():
        flag = "-r" if isinstance(value, str) else "-p"
        expected += [flag, name, value if isinstance(value, str) else str(value)]
    assert shlex.split(papermill_command(params))[3:] == expected
