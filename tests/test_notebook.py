"""The notebook as a batch job: papermill runs of notebooks/link_graph.ipynb against the fake API.

The fast tests at the top check `botify_graph.notebook` (parameter handling, paths, reproduce); the
ones marked `slow` execute the real notebooks in a kernel of this Python environment.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from botify_graph.errors import ConfigError
from botify_graph.layout import NOTEBOOK, param_log_path, project_home
from botify_graph.notebook import notebook_settings, parse_fields
from botify_graph.reproduce import reproduce
from botify_graph.state import Sidecar

ROOT = Path(__file__).resolve().parents[1]
LINK_GRAPH = ROOT / NOTEBOOK
FUNCTIONS = ROOT / "templates" / "botify_functions.ipynb"
PROJECT = "https://app.botify.com/example-org/example.com/20241108/segmentation?filter=all#overview"
BIG = "https://app.botify.com/example-org/big.example/"
PID = "https://app.botify.com/example-org/example.com/"
PARAMETERS = (
    "project_url", "analysis", "max_edges", "meta_fields", "gsc_period", "output_dir", "api_base", "poll_timeout_s",
    "retry_failed", "complete", "allow_cut", "max_jobs", "api_rate", "trace_file", "candidates_file", "new_only",
    "compare", "mode",
)  # fmt: skip


# -- fast: parameters, paths, reproduce ------------------------------------------------------------------


def test_mode_auto_is_headless_exactly_when_a_project_url_is_given(tmp_path: Path) -> None:
    assert notebook_settings(home=tmp_path, environ={}).mode == "wizard"
    assert notebook_settings(project_url=PROJECT, home=tmp_path, environ={}).mode == "headless"
    assert notebook_settings(project_url=PROJECT, mode="wizard", home=tmp_path, environ={}).mode == "wizard"
    with pytest.raises(ConfigError, match="needs a project"):
        notebook_settings(mode="headless", home=tmp_path, environ={})
    with pytest.raises(ConfigError, match="mode must be one of"):
        notebook_settings(mode="batch", home=tmp_path, environ={})


def test_empty_parameters_fall_back_to_the_environment_then_the_defaults(tmp_path: Path) -> None:
    env = {"BOTIFY_API_BASE": "http://127.0.0.1:9/v1", "BOTIFY_GRAPH_OUT": "elsewhere"}
    s = notebook_settings(project_url=PROJECT, home=tmp_path, environ=env)
    assert s.params.api_base == "http://127.0.0.1:9/v1"
    assert s.out_dir == tmp_path / "elsewhere"
    s = notebook_settings(project_url=PROJECT, home=tmp_path, environ={})
    assert s.params.api_base == "https://api.botify.com/v1"
    assert s.out_dir == tmp_path / "downloads"
    assert s.sidecar == tmp_path / "notebooks" / "link_graph.state.json"
    assert s.param_log == tmp_path / "notebooks" / "link_graph.state.jsonl"
    s = notebook_settings(project_url=PROJECT, output_dir=str(tmp_path / "abs"), api_base="http://x/v1",
                          home=tmp_path, environ=env)  # fmt: skip
    assert (s.out_dir, s.params.api_base) == (tmp_path / "abs", "http://x/v1")


def test_papermill_values_are_coerced_to_the_declared_types(tmp_path: Path) -> None:
    # `-p analysis 20241108` arrives as an int, `-r max_edges 5000` as a str
    s = notebook_settings(project_url=PROJECT, analysis=20241108, max_edges="5_000", poll_timeout_s="60",
                          retry_failed="true", meta_fields="pagetype, clicks", home=tmp_path, environ={})  # fmt: skip
    p = s.params
    assert (p.analysis, p.max_edges, p.poll_timeout_s, p.retry_failed) == ("20241108", 5000, 60.0, True)
    assert p.fields == ("pagetype", "clicks")
    with pytest.raises(ConfigError, match="max_edges"):
        notebook_settings(project_url=PROJECT, max_edges="lots", home=tmp_path, environ={})
    s = notebook_settings(project_url=PROJECT, complete="true", max_jobs="3", home=tmp_path, environ={})
    assert (s.params.complete, s.params.allow_cut, s.params.max_jobs) == (True, False, 3)
    assert notebook_settings(project_url=PROJECT, allow_cut=True, home=tmp_path, environ={}).params.allow_cut
    with pytest.raises(ConfigError, match="exclude each other"):
        notebook_settings(project_url=PROJECT, complete=True, allow_cut=True, home=tmp_path, environ={})
    with pytest.raises(ConfigError, match="not a field name"):
        notebook_settings(project_url=PROJECT, meta_fields="colour!", home=tmp_path, environ={})
    # any field as Botify names it; the days of Search Console as papermill's -p gives them (an int)
    s = notebook_settings(project_url=PROJECT, meta_fields="search_console.count_clicks, http_code", gsc_period=90,
                          home=tmp_path, environ={})  # fmt: skip
    assert (s.params.fields, s.params.gsc_period) == (("http_code", "clicks"), "90")
    with pytest.raises(ConfigError, match="Search Console period"):
        notebook_settings(project_url=PROJECT, gsc_period="last month", home=tmp_path, environ={})


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", None), (None, None), (" , ", None), ("pagetype", ("pagetype",)), (["clicks", " impressions"],
     ("clicks", "impressions"))],
)  # fmt: skip
def test_parse_fields(value: Any, expected: tuple[str, ...] | None) -> None:
    assert parse_fields(value) == expected


def test_candidates_file_is_resolved_from_the_home_and_must_exist(tmp_path: Path) -> None:
    (tmp_path / "projects.txt").write_text("example-org\n  example.com\n")
    assert notebook_settings(candidates_file="projects.txt", home=tmp_path, environ={}).candidates_file == (
        tmp_path / "projects.txt"
    )
    assert notebook_settings(home=tmp_path, environ={}).candidates_file is None
    with pytest.raises(ConfigError, match="is not a file"):
        notebook_settings(candidates_file="nope.txt", home=tmp_path, environ={})


def test_trace_file_is_resolved_from_the_home(tmp_path: Path) -> None:
    assert notebook_settings(home=tmp_path, environ={}).trace_file is None
    s = notebook_settings(trace_file="traces/t.jsonl", project_url=PROJECT, home=tmp_path, environ={})
    assert s.trace_file == tmp_path / "traces" / "t.jsonl"
    assert notebook_settings(trace_file=str(tmp_path / "abs.jsonl"), home=tmp_path, environ={}).trace_file == (
        tmp_path / "abs.jsonl"
    )


def test_headless_with_a_candidates_file_and_no_project_url_is_a_batch(tmp_path: Path) -> None:
    (tmp_path / "projects.txt").write_text("example-org\n  example.com\n")
    s = notebook_settings(candidates_file="projects.txt", mode="headless", new_only="true", compare=True,
                          api_rate="2.5", max_edges=20_000, home=tmp_path, environ={})  # fmt: skip
    assert s.batch and s.headless and s.new_only and s.compare and s.params.rate == 2.5
    assert s.params.max_edges == 20_000  # the default of rows that give none
    wizard = notebook_settings(candidates_file="projects.txt", home=tmp_path, environ={})
    assert wizard.mode == "wizard" and not wizard.batch  # auto: the wizard, with the file in its picker
    single = notebook_settings(project_url=PROJECT, candidates_file="projects.txt", home=tmp_path, environ={})
    assert single.headless and not single.batch  # a project_url is one export
    assert notebook_settings(project_url=PROJECT, api_rate=0, home=tmp_path, environ={}).params.rate is None
    with pytest.raises(ConfigError, match="api_rate"):
        notebook_settings(project_url=PROJECT, api_rate="fast", home=tmp_path, environ={})
    with pytest.raises(ConfigError, match="The request rate must be a positive number"):
        notebook_settings(project_url=PROJECT, api_rate=-1, home=tmp_path, environ={})
    with pytest.raises(ConfigError, match="candidates_file <projects file>"):
        notebook_settings(mode="headless", home=tmp_path, environ={})


def test_the_app_passes_its_candidates_file_through_the_environment(tmp_path: Path) -> None:
    """`botify-graph app --candidates FILE` sets BOTIFY_GRAPH_CANDIDATES; the parameter, when given, wins."""
    (tmp_path / "app.txt").write_text("https://app.botify.com/acme/shop/\n")
    (tmp_path / "mine.txt").write_text("acme\n  blog\n")
    env = {"BOTIFY_GRAPH_CANDIDATES": str(tmp_path / "app.txt")}
    assert notebook_settings(home=tmp_path, environ=env).candidates_file == tmp_path / "app.txt"
    assert notebook_settings(candidates_file="mine.txt", home=tmp_path, environ=env).candidates_file == (
        tmp_path / "mine.txt"
    )
    # a batch run never needs the picker: a stale variable does not stop it
    stale = {"BOTIFY_GRAPH_CANDIDATES": str(tmp_path / "gone.txt")}
    headless = notebook_settings(project_url="https://app.botify.com/acme/shop/", home=tmp_path, environ=stale)
    assert headless.candidates_file is None
    with pytest.raises(ConfigError, match=r"BOTIFY_GRAPH_CANDIDATES .*gone\.txt is not a file"):
        notebook_settings(home=tmp_path, environ=stale)


def test_project_home_is_the_folder_holding_the_notebook_from_anywhere_below_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BOTIFY_GRAPH_HOME", raising=False)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / NOTEBOOK).write_text("{}")
    assert project_home(tmp_path) == tmp_path.resolve()
    assert project_home(tmp_path / "notebooks") == tmp_path.resolve()  # Voila and Lab run here
    elsewhere = tmp_path.parent / f"elsewhere-{uuid.uuid4().hex}"
    elsewhere.mkdir()
    assert project_home(elsewhere) == elsewhere.resolve()
    monkeypatch.setenv("BOTIFY_GRAPH_HOME", str(tmp_path))
    assert project_home(elsewhere) == tmp_path.resolve()


def _wizard_session(tmp_path: Path) -> Path:
    from botify_graph.state import ParamLog, Sidecar

    sidecar = tmp_path / "link_graph.state.json"
    side, log = Sidecar(sidecar), ParamLog(param_log_path(sidecar))
    pid = "https://app.botify.com/example-org/example.com/"
    side.set_current(pid)
    answers = {
        "project": {"url": pid},
        "analysis": {"slug": "20241101-2"},
        "depth": {"max_edges": 20_000},
        "fields": {"fields": ["pagetype", "is_compliant"]},
    }
    for step, values in answers.items():
        side.save_step(pid, step, values)
        log.append(pid, step, values)
    log.append(pid, "analysis", {"slug": "20241108"})  # the person went back and picked another analysis
    return sidecar


def test_reproduce_turns_the_parameter_log_into_a_papermill_command(tmp_path: Path) -> None:
    sidecar = _wizard_session(tmp_path)
    r = reproduce(sidecar, extra={"api_base": "http://127.0.0.1:1/v1", "output_dir": None})
    assert r.pipeline == "https://app.botify.com/example-org/example.com/"
    assert r.parameters == {
        "project_url": "https://app.botify.com/example-org/example.com/",
        "analysis": "20241108",
        "max_edges": 20_000,
        "meta_fields": "pagetype,is_compliant",
        "api_base": "http://127.0.0.1:1/v1",
    }
    assert r.command.startswith("papermill notebooks/link_graph.ipynb out.ipynb ")
    assert "-r analysis 20241108" in r.command  # raw: stays a string, not the int 20241108
    assert "-p max_edges 20000" in r.command


def test_reproduce_takes_where_files_went_and_which_api_from_the_export_step(tmp_path: Path) -> None:
    from botify_graph.state import ParamLog

    sidecar = _wizard_session(tmp_path)
    export = {
        "project_url": "https://app.botify.com/example-org/example.com/", "analysis": "20241108", "max_edges": 20_000,
        "fields": ["pagetype", "is_compliant"], "out_dir": "/data/botify", "api_base": "http://127.0.0.1:1/v1",
        "poll_timeout_s": 10800.0, "retry_failed": False,
    }  # fmt: skip
    ParamLog(param_log_path(sidecar)).append("https://app.botify.com/example-org/example.com/", "export", export)
    params = reproduce(sidecar).parameters
    assert params["output_dir"] == "/data/botify" and params["api_base"] == "http://127.0.0.1:1/v1"
    assert "poll_timeout_s" not in params and "retry_failed" not in params  # defaults stay out of the command
    assert reproduce(sidecar, extra={"output_dir": "elsewhere"}).parameters["output_dir"] == "elsewhere"


def test_reproduce_writes_a_parameters_file(tmp_path: Path) -> None:
    import yaml

    sidecar = _wizard_session(tmp_path)
    r = reproduce(sidecar, pipeline="app.botify.com/example-org/example.com/20241108/", params_file=tmp_path / "p.yaml")
    assert r.command.endswith(f"-f {tmp_path / 'p.yaml'}")
    assert yaml.safe_load((tmp_path / "p.yaml").read_text())["analysis"] == "20241108"
    reproduce(sidecar, params_file=tmp_path / "p.json")
    assert json.loads((tmp_path / "p.json").read_text())["max_edges"] == 20_000


def test_reproduce_explains_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no current pipeline"):
        reproduce(tmp_path / "none.state.json")
    sidecar = _wizard_session(tmp_path)
    with pytest.raises(
        ConfigError, match=re.escape("Known pipelines: https://app.botify.com/example-org/example.com/")
    ):
        reproduce(sidecar, pipeline="https://app.botify.com/example-org/other/")


def test_cli_reproduce_prints_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from botify_graph.cli import main

    sidecar = _wizard_session(tmp_path)
    assert main(["reproduce", "--sidecar", str(sidecar), "--write", str(tmp_path / "p.yaml")]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == f"papermill notebooks/link_graph.ipynb out.ipynb -f {tmp_path / 'p.yaml'}"
    assert "BOTIFY_API_TOKEN" in err


def test_reproduce_reads_the_answers_across_rotated_parameter_logs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from botify_graph.cli import main
    from botify_graph.state import ParamLog

    sidecar = tmp_path / "link_graph.state.json"
    Sidecar(sidecar).set_current(PID)
    log = ParamLog(param_log_path(sidecar), rotate_bytes=200)
    log.append(PID, "project", {"url": PID})
    for max_edges in range(1000, 9000, 1000):  # enough answers to rotate the log several times
        log.append(PID, "depth", {"max_edges": max_edges})
    log.append(PID, "analysis", {"slug": "20241101"})
    assert len(log.parts()) > 3 and "project" not in log.parts()[-1].read_text()  # the project step is history
    assert reproduce(sidecar).parameters == {"project_url": PID, "analysis": "20241101", "max_edges": 8000}
    assert main(["reproduce", "--sidecar", str(sidecar)]) == 0
    assert "-r analysis 20241101 -p max_edges 8000" in capsys.readouterr().out


def test_reproduce_on_a_read_only_or_broken_sidecar_folder_prints_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers import SmallDisk

    from botify_graph.cli import main

    folder = tmp_path / "ro"
    with SmallDisk(folder, 1 << 20, monkeypatch) as disk:
        sidecar = _wizard_session(folder)
        disk.read_only()
        assert main(["reproduce", "--sidecar", str(sidecar)]) == 0  # reading needs no write
        capsys.readouterr()
        assert main(["reproduce", "--sidecar", str(sidecar), "--write", str(folder / "p.yaml")]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"botify-graph: error: {folder} cannot be written to") and "p.yaml" in err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    broken = tmp_path / "broken.state.json"
    broken.mkdir()  # a sidecar that cannot be read, whoever runs this (root included)
    assert main(["reproduce", "--sidecar", str(broken)]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith(f"botify-graph: error: {broken}: the wizard sidecar cannot be read")
        and len(err.strip().splitlines()) == 1
    )


def test_committed_notebooks_have_no_outputs_and_a_parameters_cell() -> None:
    for path in (LINK_GRAPH, FUNCTIONS):
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert all(not c["outputs"] and c["execution_count"] is None for c in code), path
        assert [c for c in code if "parameters" in c["metadata"].get("tags", [])], path
        assert nb["metadata"]["kernelspec"]["name"] == "python3"


# -- slow: papermill ----------------------------------------------------------------------------------------


@pytest.fixture
def secret() -> str:
    return f"tok-{uuid.uuid4().hex}"


@pytest.fixture
def fake(secret: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A small fake API whose jobs are DONE at the first poll, and its token in BOTIFY_API_TOKEN only."""
    from botify_graph.fake import FakeBotify, Scenario

    monkeypatch.setenv("BOTIFY_API_TOKEN", secret)
    monkeypatch.setenv("BOTIFY_GRAPH_CONFIG_DIR", "/nonexistent-botify-graph-config")
    for name in ("BOTIFY_API_BASE", "BOTIFY_GRAPH_OUT", "BOTIFY_GRAPH_STATE", "BOTIFY_GRAPH_HOME"):
        monkeypatch.delenv(name, raising=False)
    with FakeBotify(scale=0.02, scenario=Scenario(polls_to_done=1), token=secret) as server:
        yield server


def _execute(path: Path, out: Path, kernel: str, **parameters: Any) -> Any:
    import papermill as pm

    return pm.execute_notebook(
        str(path), str(out), parameters=parameters, kernel_name=kernel, progress_bar=False, cwd=str(ROOT)
    )


def _stdout(nb: Any) -> str:
    return "".join(o.get("text", "") for c in nb["cells"] for o in c.get("outputs", []) if o.get("name") == "stdout")


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as f:
        return next(csv.reader(f))


@pytest.mark.slow
def test_help_notebook_documents_every_parameter() -> None:
    done = subprocess.run([sys.executable, "-m", "papermill", "--help-notebook", str(LINK_GRAPH)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    for name in PARAMETERS:
        line = next((ln for ln in done.stdout.splitlines() if ln.strip().startswith(f"{name}:")), None)
        assert line is not None, f"{name} missing from --help-notebook:\n{done.stdout}"
    help_text = " ".join(done.stdout.split())
    for words in ("any Botify URL of the project", "analysis slug", "export row limit", "comma-separated page",
                  "folder for the CSVs", "Botify API base URL", "seconds to wait", "start a new export job",
                  "headless when project_url is set", "JSON Lines trace of every API request"):  # fmt: skip
        assert words in help_text


@pytest.mark.slow
def test_headless_run_writes_both_csvs_and_never_the_token(
    fake: Any, secret: str, tmp_path: Path, venv_kernel: str
) -> None:
    out_nb = tmp_path / "out.ipynb"
    trace = tmp_path / "trace.jsonl"
    nb = _execute(LINK_GRAPH, out_nb, venv_kernel, project_url=PROJECT, api_base=fake.base_url,
                  output_dir=str(tmp_path / "dl"), analysis=20241108, trace_file=str(trace))  # fmt: skip
    folder = tmp_path / "dl" / "example-org" / "example.com"
    links, meta = folder / "example.com_20241108_links.csv", folder / "example.com_20241108_meta.csv"
    assert _header(links) == ["source", "target"]
    assert _header(meta) == ["id", "pagetype", "is_compliant", "canonical_equal", "sitemaps_present",
                             "depth", "impressions", "clicks"]  # fmt: skip
    text = _stdout(nb)
    assert "✓ Connected as demo.user" in text and "chosen depth" in text and str(links) in text
    assert "\x1b[" not in text  # plain text, no terminal control codes
    assert "Internal links up to each depth" in text  # the depth chart, as text
    assert (folder / "example.com_20241108_summary.md").is_file() and "example.com_20241108_summary.md" in text
    assert len(fake.jobs) == 2
    assert secret not in out_nb.read_text()
    records = [json.loads(line) for line in trace.read_text().splitlines()]  # the trace_file parameter
    assert records[0]["front_end"] == "papermill" and sum(r["type"] == "http" for r in records) == len(fake.requests)
    assert secret not in trace.read_text() and f"recording a trace of the API requests in {trace}" in text


@pytest.mark.slow
def test_headless_complete_run_exports_every_link(fake: Any, tmp_path: Path, venv_kernel: str) -> None:
    nb = _execute(LINK_GRAPH, tmp_path / "out.ipynb", venv_kernel, project_url=BIG, api_base=fake.base_url,
                  output_dir=str(tmp_path / "dl"), max_edges=4_000, complete=True, max_jobs=3)  # fmt: skip
    crawl = fake.site("example-org", "big.example").crawl("20241108")
    links = tmp_path / "dl" / "example-org" / "big.example" / "big.example_20241108_links.csv"
    with links.open(newline="", encoding="utf-8") as f:
        assert sum(1 for _ in f) - 1 == sum(crawl.edges_per_depth())
    text = _stdout(nb)
    assert "Complete graph (--complete)" in text and "At most 3 jobs run at once" in text
    assert len(fake.jobs) > 2 and all(j.payload["export_size"] == 4_000 for j in fake.jobs.values())


@pytest.mark.slow
def test_bad_url_fails_with_our_message(fake: Any, secret: str, tmp_path: Path, venv_kernel: str) -> None:
    import papermill as pm

    with pytest.raises(pm.PapermillExecutionError) as info:
        _execute(LINK_GRAPH, tmp_path / "out.ipynb", venv_kernel, project_url="https://example.com/some/page",
                 api_base=fake.base_url, output_dir=str(tmp_path / "dl"))  # fmt: skip
    err = info.value
    assert err.ename == "InvalidProjectURL"
    assert "is not a Botify project URL" in err.evalue and "app.botify.com/your-org/your-project" in err.evalue
    assert len(err.traceback) < 40  # our message, not a page of library frames
    assert secret not in (tmp_path / "out.ipynb").read_text()


@pytest.mark.slow
def test_failed_job_fails_with_the_reason(fake: Any, secret: str, tmp_path: Path, venv_kernel: str) -> None:
    import papermill as pm

    from botify_graph.fake import SCENARIOS

    fake.scenario = SCENARIOS["failed-job"].replace(polls_to_done=1)
    with pytest.raises(pm.PapermillExecutionError) as info:
        _execute(LINK_GRAPH, tmp_path / "out.ipynb", venv_kernel, project_url=PROJECT, api_base=fake.base_url,
                 output_dir=str(tmp_path / "dl"))  # fmt: skip
    assert info.value.ename == "ExportJobFailed"
    assert "failed" in info.value.evalue and "retry_failed" in info.value.evalue
    assert secret not in (tmp_path / "out.ipynb").read_text()


@pytest.mark.slow
def test_papermill_command_exits_non_zero_with_the_error(fake: Any, secret: str, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "papermill", str(LINK_GRAPH), str(tmp_path / "out.ipynb"),
           "-p", "project_url", "https://app.botify.com/settings/billing/", "-p", "api_base", fake.base_url,
           "-p", "output_dir", str(tmp_path / "dl"), "-k", "python3"]  # fmt: skip
    env = {**os.environ, "JUPYTER_PREFER_ENV_PATH": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode != 0
    assert "InvalidProjectURL" in done.stderr and "is a page of the Botify app" in done.stderr
    assert secret not in done.stderr + done.stdout


@pytest.mark.slow
def test_a_candidates_file_runs_a_batch_that_fails_after_every_project_ran(
    fake: Any, secret: str, tmp_path: Path, venv_kernel: str
) -> None:
    import papermill as pm

    projects = tmp_path / "weekly.txt"
    projects.write_text(
        "https://app.botify.com/example-org/example.com/ max_edges=20000\n"
        "example-org\n  no-gsc.example\n  does-not-exist.example\n"
    )
    out_nb = tmp_path / "out.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as info:
        _execute(LINK_GRAPH, out_nb, venv_kernel, candidates_file=str(projects), mode="headless",
                 api_base=fake.base_url, output_dir=str(tmp_path / "dl"), max_edges=20_000, new_only=True)  # fmt: skip
    assert info.value.ename == "BatchFailed" and "1 of 3 projects failed (example-org/does-not-exist.example)" in (
        info.value.evalue
    )
    assert len(info.value.traceback) < 40
    for project in ("example.com", "no-gsc.example"):
        assert _header(tmp_path / "dl" / "example-org" / project / f"{project}_20241108_links.csv") == [
            "source", "target"
        ]  # fmt: skip
    results = tmp_path / "dl" / "weekly_results.csv"
    assert [row["status"] for row in csv.DictReader(results.open())] == ["exported", "exported", "failed"]
    import nbformat

    text = _stdout(nbformat.read(out_nb, as_version=4))
    assert "botify-graph batch: 3 projects from" in text and "Batch weekly: 2 of 3 projects succeeded" in text
    assert "✗ example-org/does-not-exist.example: failed" in text and "\x1b[" not in text
    assert len(fake.jobs) == 4 and secret not in out_nb.read_text()


@pytest.mark.slow
def test_papermill_and_the_cli_give_the_same_files(fake: Any, tmp_path: Path, venv_kernel: str) -> None:
    from botify_graph.cli import main

    _execute(LINK_GRAPH, tmp_path / "out.ipynb", venv_kernel, project_url=PROJECT, api_base=fake.base_url,
             output_dir=str(tmp_path / "pm"), meta_fields="pagetype,clicks", max_edges=20_000)  # fmt: skip
    assert main(["run", "--project-url", PROJECT, "--api-base", fake.base_url, "--out", str(tmp_path / "cli"),
                 "--fields", "pagetype,clicks", "--max-edges", "20000"]) == 0  # fmt: skip
    for kind in ("links", "meta"):
        name = f"example-org/example.com/example.com_20241108_{kind}.csv"
        assert (tmp_path / "pm" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()


@pytest.mark.slow
def test_a_rerun_reuses_the_files_and_creates_no_job(fake: Any, tmp_path: Path, venv_kernel: str) -> None:
    args = {"project_url": PROJECT, "api_base": fake.base_url, "output_dir": str(tmp_path / "dl")}
    _execute(LINK_GRAPH, tmp_path / "1.ipynb", venv_kernel, **args)
    nb = _execute(LINK_GRAPH, tmp_path / "2.ipynb", venv_kernel, **args)
    assert "Already exported" in _stdout(nb)
    assert len(fake.jobs) == 2


@pytest.mark.slow
def test_a_headless_run_from_another_folder_reuses_what_the_cli_exported(
    fake: Any, tmp_path: Path, venv_kernel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import papermill as pm

    from botify_graph.cli import main

    out = tmp_path / "exports"
    assert main(["run", "--project-url", PROJECT, "--api-base", fake.base_url, "--out", str(out)]) == 0
    assert len(fake.jobs) == 2
    monkeypatch.setenv("BOTIFY_GRAPH_OUT", str(out))
    monkeypatch.setenv("BOTIFY_API_BASE", fake.base_url)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    nb = pm.execute_notebook(str(LINK_GRAPH), str(tmp_path / "o.ipynb"), parameters={"project_url": PROJECT},
                             kernel_name=venv_kernel, progress_bar=False, cwd=str(elsewhere))  # fmt: skip
    assert "Already exported" in _stdout(nb) and str(out) in _stdout(nb)
    assert len(fake.jobs) == 2 and not any(elsewhere.rglob("*.csv"))


@pytest.mark.slow
def test_functions_template_runs_against_the_fake(fake: Any, secret: str, tmp_path: Path, venv_kernel: str) -> None:
    nb = _execute(FUNCTIONS, tmp_path / "out.ipynb", venv_kernel, api_base=fake.base_url, max_edges=20_000)
    text = _stdout(nb)
    assert "Connected as demo.user" in text and "Meta fields of 20241108: pagetype" in text
    html = json.dumps([o for c in nb["cells"] for o in c.get("outputs", [])])
    assert "chosen depth" in html and "20241101-2" in html  # the comparison table, one row per analysis
    assert secret not in (tmp_path / "out.ipynb").read_text()


@pytest.mark.slow
def test_without_a_project_url_the_notebook_shows_the_wizard(
    fake: Any, secret: str, tmp_path: Path, venv_kernel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOTIFY_GRAPH_STATE", str(tmp_path / "wizard.state.json"))
    nb = _execute(LINK_GRAPH, tmp_path / "out.ipynb", venv_kernel, api_base=fake.base_url,
                  output_dir=str(tmp_path / "dl"))  # fmt: skip
    outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert len(fake.jobs) == 0
    assert secret not in (tmp_path / "out.ipynb").read_text()
