"""Projects files: one parser for the batch, the Airflow recipe and the wizard's picker (botify_graph.projects)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from botify_graph.errors import ConfigError
from botify_graph.pipeline import ExportParams
from botify_graph.projects import ProjectRow, ProjectsFileError, parse_candidates, parse_projects, read_projects
from botify_graph.reproduce import notebook_parameters

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "templates" / "airflow" / "botify_graph_projects.example.txt"
P = "https://app.botify.com/o/p/"


def rows(text: str, source: str = "projects.txt") -> list[dict[str, Any]]:
    """The rows of a file as {url, line, org/project, settings}; fails on any problem."""
    listed = parse_projects(text, source)
    assert not listed.problems, listed.problems
    return [{"url": r.project_url, "line": r.line, "project": r.project, **r.settings()} for r in listed.rows]


# -- the line form: a URL per line, key=value settings after it --------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{P}\n", [{"url": P, "line": 1, "project": "o/p"}]),
        (f"# a comment\n\n  {P}   # why this one\n", [{"url": P, "line": 3, "project": "o/p"}]),
        (  # a URL's own #fragment and ?query=... are the URL's
            "app.botify.com/o/p/20241108/segmentation?filter=all#overview\n",
            [{"url": "app.botify.com/o/p/20241108/segmentation?filter=all#overview", "line": 1, "project": "o/p"}],
        ),
        (
            "https://app.botify.com/o/a/ max_edges=500000 meta_fields=pagetype,depth\n"
            "https://app.botify.com/o/b/ analysis=20241101-2 retry_failed=true poll_timeout_s=60",
            [
                {
                    "url": "https://app.botify.com/o/a/",
                    "line": 1,
                    "project": "o/a",
                    "max_edges": 500_000,
                    "fields": ("pagetype", "depth"),
                },
                {
                    "url": "https://app.botify.com/o/b/",
                    "line": 2,
                    "project": "o/b",
                    "analysis": "20241101-2",
                    "retry_failed": True,
                    "poll_timeout_s": 60.0,
                },
            ],
        ),
        (
            f"{P} fields=clicks,pagetype analysis=latest\n",
            [{"url": P, "line": 1, "project": "o/p", "fields": ("pagetype", "clicks")}],
        ),
    ],
)
def test_url_lines(text: str, expected: list[dict[str, Any]]) -> None:
    assert rows(text) == expected


# -- the organisation form: org flush left, project slugs indented (the wizard's candidates files) ----------


def test_organisation_form_skips_ad_hoc_projects_and_takes_settings() -> None:
    text = "\n".join(
        [
            "# projects we look after",
            "acme",
            "  shop",
            "  Ad Hoc crawl",
            "  shop-adhoc",
            "  ad-hoc.test",
            "\tblog max_edges=20000",
            "",
            "beta-org",
            "    www.beta.example",
            "  shop   # the beta shop",
            f"{P}",  # the two forms mix
        ]
    )
    listed = parse_projects(text, "candidates.txt")
    assert not listed.problems
    assert [(r.project, r.line, r.project_url) for r in listed.rows] == [
        ("acme/shop", 3, "https://app.botify.com/acme/shop/"),
        ("acme/blog", 7, "https://app.botify.com/acme/blog/"),
        ("beta-org/www.beta.example", 10, "https://app.botify.com/beta-org/www.beta.example/"),
        ("beta-org/shop", 11, "https://app.botify.com/beta-org/shop/"),
        ("o/p", 12, P),
    ]
    assert listed.rows[1].max_edges == 20_000
    assert [s.line for s in listed.skipped] == [4, 5, 6]


def test_the_wizards_picker_gets_every_project_it_can_read_and_nothing_else() -> None:
    text = "acme\n  shop\n  not a slug\n  Ad Hoc\n  orphan-twice\n  orphan-twice\n  orphan-twice x=1\nbeta\n"
    assert parse_candidates(text) == [("acme", "shop"), ("acme", "orphan-twice")]
    assert parse_candidates("  orphan\n") == []
    assert parse_candidates("project_url\nhttps://app.botify.com/o/q/\n", "list.csv") == [("o", "q")]


# -- CSV and YAML ------------------------------------------------------------------------------------------


def test_csv_with_a_header_row() -> None:
    text = (
        "\ufeffproject_url,analysis,max_edges,fields\r\n"
        f'{P},20241108,5000,"pagetype,depth"\r\n'
        "\r\n"
        "https://app.botify.com/o/q/,,,\r\n"
        'https://app.botify.com/o/r/,latest,"1,000,000",\r\n'
    )
    assert rows(text, "projects.csv") == [
        {"url": P, "line": 2, "project": "o/p", "analysis": "20241108", "max_edges": 5000,
         "fields": ("pagetype", "depth")},
        {"url": "https://app.botify.com/o/q/", "line": 4, "project": "o/q"},
        {"url": "https://app.botify.com/o/r/", "line": 5, "project": "o/r", "max_edges": 1_000_000},
    ]  # fmt: skip


def test_yaml_list_of_urls_or_mappings() -> None:
    text = (
        f"- {P}\n"
        "- project_url: https://app.botify.com/o/q/\n"
        "  analysis: 20241108        # unquoted: YAML reads a number, the slug is kept\n"
        "  fields: [clicks, pagetype]\n"
        "  max_edges: 20000\n"
        "  retry_failed: yes\n"
    )
    assert rows(text, "projects.yaml") == [
        {"url": P, "line": 1, "project": "o/p"},
        {"url": "https://app.botify.com/o/q/", "line": 2, "project": "o/q", "analysis": "20241108",
         "fields": ("pagetype", "clicks"), "max_edges": 20_000, "retry_failed": True},
    ]  # fmt: skip
    assert parse_projects("", "empty.yml").rows == ()


# -- what cannot be read: the file and the line, before anything is sent -----------------------------------


@pytest.mark.parametrize(
    ("source", "text", "message"),
    [
        ("p.txt", "", "p.txt lists no project"),
        ("p.txt", "# only comments\n\n", "p.txt lists no project"),
        ("p.txt", f"{P} max_edge=10\n", r"p.txt, line 1: unknown setting 'max_edge'; use analysis"),
        ("p.txt", f"\n{P} depth\n", r"line 2: 'depth' is not key=value"),
        ("p.txt", f"{P} analysis=\n", r"'analysis=' is not key=value"),
        ("p.txt", f"{P} analysis=.hidden\n", "line 1: analysis must be an analysis slug"),
        ("p.txt", f"{P} analysis=20241108 analysis=20241101\n", "analysis is set twice"),
        ("p.txt", f"{P} fields=pagetype meta_fields=depth\n", "fields is set twice"),
        ("p.txt", f"max_edges=10 {P}\n", "must start with a Botify project URL"),
        ("p.txt", f"{P} token=abc\n", "unknown setting 'token'"),  # never a way in for the token
        ("p.txt", f"{P} output_dir=/tmp\n", "unknown setting 'output_dir'"),  # one folder per run
        ("p.txt", f"{P} max_edges=lots\n", "max_edges must be a whole number"),
        ("p.txt", f"{P} max_edges=0\n", "max_edges must be at least 1"),
        ("p.txt", f"{P} fields=colour!\n", "not a field name"),
        ("p.txt", f"{P} poll_timeout_s=-1\n", "poll_timeout_s must be positive"),
        ("p.txt", f"{P} retry_failed=maybe\n", "retry_failed must be True or False"),
        ("p.txt", "https://example.com/some/page\n", "line 1: 'https://example.com/some/page' is not a Botify"),
        ("p.txt", "not-a-botify-url\n", "line 1: organisation 'not-a-botify-url' has no project beneath it"),
        ("p.txt", "  orphan\n", "line 1: project 'orphan' is not under an organisation"),
        ("p.txt", "acme\n  not a slug\n", "line 2: 'not a slug' is not a project slug"),
        ("p.txt", "acme shop\n", "neither a Botify project URL nor an organisation slug"),
        ("p.txt", f"{P}\n{P}\n", "line 2: o/p is listed twice with the same settings \\(first on line 1\\)"),
        ("p.csv", "url\nhttps://app.botify.com/o/p/\n", "line 1: the header row needs a project_url column"),
        ("p.csv", "project_url,colour\nx,y\n", "line 1: unknown column\\(s\\) 'colour'"),
        ("p.csv", "project_url,analysis\n,20241108\n", "line 2: no project_url"),
        ("p.csv", f"project_url\n{P},extra\n", "line 2: 2 cells for 1 columns"),
        ("p.yaml", "project_url: x\n", "line 1: the file must be a YAML list"),
        ("p.yaml", "- [1, 2]\n", "line 1: each item is a project URL or a mapping"),
        ("p.yaml", "- project_url: [\n", "is not valid YAML"),
        ("p.yaml", f"- {P}\n- project_url: {P}\n  colour: red\n", "line 2: unknown setting 'colour'"),
    ],
)
def test_bad_lines_are_named_with_the_file_and_line(source: str, text: str, message: str) -> None:
    listed = parse_projects(text, source)
    with pytest.raises(ProjectsFileError, match=message) as info:
        listed.check()
    assert str(info.value).startswith(source)
    assert isinstance(info.value, ConfigError)  # the CLI says it in one line and exits 1


def test_every_bad_line_is_listed_at_once() -> None:
    text = f"{P} max_edge=1\nhttps://app.botify.com/o/q/\n  orphan\n{P} colour=red\n"
    with pytest.raises(ProjectsFileError) as info:
        parse_projects(text, "p.txt").check()
    message = str(info.value)
    assert "(3 problems)" in message and "line 1:" in message and "line 3:" in message and "line 4:" in message
    assert "line 2" not in message


def test_read_projects_reads_the_file_by_its_suffix(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text(f"project_url\n{P}\n", encoding="utf-8")
    assert [r.project for r in read_projects(tmp_path / "p.csv").check()] == ["o/p"]
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ProjectsFileError, match="not a UTF-8 text file"):
        read_projects(tmp_path / "bin.txt")
    with pytest.raises(OSError):
        read_projects(tmp_path / "missing.txt")


def test_the_airflow_example_projects_file_parses() -> None:
    listed = read_projects(EXAMPLE)
    assert [r.project for r in listed.check()] == [
        "my-org/my-site.com", "my-org/my-shop.com", "other-org/their-blog.net", "other-org/archive.net",
    ]  # fmt: skip
    assert listed.rows[1].max_edges == 500_000 and listed.rows[3].analysis == "20241108"


# -- rows into export settings and notebook parameters -----------------------------------------------------


def test_a_rows_settings_override_the_runs_and_become_notebook_parameters() -> None:
    row = parse_projects(f"{P} max_edges=5000 fields=pagetype retry_failed=true", "p.txt").check()[0]
    params = row.params(out_dir="/data", rate=2.5, max_edges=100)
    assert params == ExportParams(
        project_url=P, max_edges=5000, fields=("pagetype",), retry_failed=True, out_dir="/data", rate=2.5
    )
    assert notebook_parameters(params) == {
        "project_url": P,
        "max_edges": 5000,
        "meta_fields": "pagetype",
        "output_dir": "/data",
        "retry_failed": True,
        "api_rate": 2.5,
    }
    assert ProjectRow(P, row.ref, 1).params().analysis == "latest"
