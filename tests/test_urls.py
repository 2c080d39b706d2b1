"""clean_url and slug validation: tables of real-looking pastes, plus properties (hypothesis)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botify_graph.errors import InvalidProjectURL
from botify_graph.layout import export_filename, project_dir
from botify_graph.urls import ProjectRef, clean_url, is_valid_slug

GOOD = [
    ("https://app.botify.com/example-org/example.com/", "example-org", "example.com", None),
    ("https://app.botify.com/example-org/example.com", "example-org", "example.com", None),
    ("app.botify.com/example-org/example.com", "example-org", "example.com", None),
    ("  https://app.botify.com/example-org/example.com/20241108/  ", "example-org", "example.com", "20241108"),
    ("https://app.botify.com/org_1/site-2/20241101-2/segmentation/?filter=x#top", "org_1", "site-2", "20241101-2"),
    ("https://app.botify.com/org/proj/explorer?context=%7B%7D&explorerFilter=a", "org", "proj", None),
    ("http://APP.BOTIFY.COM/org/proj/", "org", "proj", None),
    ("https://app.botify.com/api/v1/analyses/org/proj/light", "org", "proj", None),
    ("https://app.botify.com/api/v1/projects/org/proj/query", "org", "proj", None),
    ("https://api.botify.com/v1/analyses/org/proj/20241108/urls", "org", "proj", "20241108"),
    ("'https://app.botify.com/org/proj/'", "org", "proj", None),
    ("<https://app.botify.com/org/proj/>", "org", "proj", None),
    ("https://app.botify.com//org//proj//", "org", "proj", None),
]


@pytest.mark.parametrize(("url", "org", "project", "analysis"), GOOD)
def test_clean_url_accepts_dirty_pastes(url: str, org: str, project: str, analysis: str | None) -> None:
    ref = clean_url(url)
    assert (ref.org, ref.project, ref.analysis) == (org, project, analysis)
    assert ref.url == f"https://app.botify.com/{org}/{project}/"


BAD = [
    ("", "empty"),
    ("   ", "empty"),
    ("https://www.example.com/org/proj/", "not app.botify.com"),
    ("https://app.botify.com/", "no organisation"),
    ("https://app.botify.com/org-only", "no organisation"),
    ("https://app.botify.com/login/next", "page of the Botify app"),
    ("ftp://app.botify.com/org/proj", "scheme"),
    ("https://app.botify.com/org/..", "not a valid Botify slug"),
    ("https://app.botify.com/org/%2e%2e", "not a valid Botify slug"),
    ("https://app.botify.com/org/a%2Fb", "not a valid Botify slug"),
    ("https://app.botify.com/.hidden/proj", "not a valid Botify slug"),
    ("https://app.botify.com/api/v1/jobs/123", "API URLs must name"),
    ("https://app.botify.com:99999/org/proj", "cannot be parsed"),
]


@pytest.mark.parametrize(("url", "why"), BAD)
def test_clean_url_rejects_with_guidance(url: str, why: str) -> None:
    with pytest.raises(InvalidProjectURL) as info:
        clean_url(url)
    message = str(info.value)
    assert why in message
    assert "app.botify.com" in message  # every message shows what a valid URL looks like


def test_invalid_url_is_also_a_value_error() -> None:
    with pytest.raises(ValueError):
        clean_url("nonsense")


def test_non_string_input() -> None:
    with pytest.raises(InvalidProjectURL):
        clean_url(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("slug", "ok"),
    [
        ("example.com", True),
        ("a", True),
        ("org_1-x", True),
        ("..", False),
        ("a..b", False),
        (".a", False),
        ("a/b", False),
        ("a\\b", False),
        ("", False),
        ("x" * 101, False),
        ("é", False),
        ("a b", False),
    ],
)
def test_slug_validation(slug: str, ok: bool) -> None:
    assert is_valid_slug(slug) is ok


def test_project_dir_and_filenames(tmp_path: Path) -> None:
    ref = ProjectRef("org", "example.com")
    assert project_dir(tmp_path, ref) == (tmp_path / "org" / "example.com").resolve()
    assert export_filename(ref, "20241101-2", "links") == "example.com_20241101-2_links.csv"
    with pytest.raises(InvalidProjectURL):
        project_dir(tmp_path, ProjectRef("..", "x"))


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200))
def test_any_string_yields_a_project_or_our_error(text: str) -> None:
    try:
        ref = clean_url(text)
    except InvalidProjectURL:
        return
    assert is_valid_slug(ref.org) and is_valid_slug(ref.project)


_segment = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=30)


@settings(max_examples=400, deadline=None)
@given(_segment, _segment, st.sampled_from(["", "20241108/", "x/y?z=1", "#frag"]))
def test_no_cleaned_url_escapes_the_output_folder(org: str, project: str, tail: str) -> None:
    root = Path("/tmp/botify-graph-out")
    try:
        ref = clean_url(f"https://app.botify.com/{org}/{project}/{tail}")
        folder = project_dir(root, ref)
    except InvalidProjectURL:
        return
    assert root.resolve() in folder.parents
    assert folder.parent.parent == root.resolve()
