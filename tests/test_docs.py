"""Documentation stays true: every command and public name is documented, the Quick start is two commands."""

from __future__ import annotations

import re
from pathlib import Path

import botify_graph
from botify_graph.cli import COMMANDS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_every_command_is_in_the_readme() -> None:
    missing = [c for c in COMMANDS if f"botify-graph {c}" not in README]
    assert not missing, f"undocumented commands: {missing}"


def test_every_public_name_is_in_the_api_doc() -> None:
    api = (ROOT / "docs" / "api.md").read_text()
    missing = [n for n in botify_graph.__all__ if n != "__version__" and f"`{n}`" not in api]
    assert not missing, f"add to docs/api.md: {missing}"


def test_quick_start_is_exactly_two_commands_and_ci_runs_the_test_one() -> None:
    section = README.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in section.strip().splitlines()]
    assert commands == ["./scripts/demo", "./scripts/test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^exec \./scripts/test$", ci, re.M)
    for script in ("demo", "test", "bootstrap", "install-browser", "check"):
        assert (ROOT / "scripts" / script).stat().st_mode & 0o111


def test_changelog_has_an_unreleased_section() -> None:
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text()
