"""Tests for where the token is found and how it is stored; never the real home or environment."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from botify_graph import token as tok
from botify_graph.errors import ConfigError

TOKEN = "0123456789abcdef0123456789abcdef01a2b"
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")


@pytest.fixture(autouse=True)
def _clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("BOTIFY_API_TOKEN", "BOTIFY_GRAPH_CONFIG_DIR", "XDG_CONFIG_HOME", "APPDATA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("USERPROFILE", str(tmp_path / "home"))
    return tmp_path


def test_token_path_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert tok.token_path() == tmp_path / "home" / ".config" / "botify-graph" / "token"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/ignored")
    assert tok.token_path() == tmp_path / "home" / ".config" / "botify-graph" / "token"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert tok.token_path() == tmp_path / "xdg" / "botify-graph" / "token"
    monkeypatch.setenv("BOTIFY_GRAPH_CONFIG_DIR", str(tmp_path / "explicit"))
    assert tok.token_path() == tmp_path / "explicit" / "token"


def test_token_path_on_windows_uses_appdata(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPDATA", str(tmp_path / "roaming"))
    with monkeypatch.context() as m:
        m.setattr(tok.sys, "platform", "win32")
        path = tok.token_path()
    assert path == tmp_path / "roaming" / "botify-graph" / "token"


def test_nothing_anywhere(tmp_path: Path) -> None:
    assert tok.load_token() is None
    assert tok.token_source() == "none"
    tok.forget_token()  # no file: no error


@posix_only
def test_save_token_is_0600_in_a_0700_folder(tmp_path: Path) -> None:
    old = os.umask(0)  # the most permissive umask must not widen anything
    try:
        path = tok.save_token(f"  {TOKEN}\n")
    finally:
        os.umask(old)
    assert path == tok.token_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_text() == TOKEN + "\n"
    assert [p.name for p in path.parent.iterdir()] == ["token"]


@posix_only
def test_overwriting_keeps_0600(tmp_path: Path) -> None:
    path = tok.save_token("first-token")
    os.chmod(path, 0o644)  # someone widened it
    tok.save_token("second-token")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tok.load_token() == "second-token"


def test_file_token_is_loaded_and_stripped(tmp_path: Path) -> None:
    path = tok.token_path()
    path.parent.mkdir(parents=True)
    path.write_text(f"\n  {TOKEN}  \n")
    assert tok.load_token() == TOKEN
    assert tok.token_source() == "file"
    path.write_text("   \n")
    assert tok.load_token() is None
    assert tok.token_source() == "none"


def test_environment_wins_over_file(monkeypatch: pytest.MonkeyPatch) -> None:
    tok.save_token("from-file-token")
    monkeypatch.setenv("BOTIFY_API_TOKEN", f"  {TOKEN} ")
    assert tok.load_token() == TOKEN
    assert tok.token_source() == "environment"
    monkeypatch.setenv("BOTIFY_API_TOKEN", "   ")  # blank counts as unset
    assert tok.load_token() == "from-file-token"
    assert tok.token_source() == "file"


def test_forget_token_removes_the_file_only(monkeypatch: pytest.MonkeyPatch) -> None:
    path = tok.save_token(TOKEN)
    monkeypatch.setenv("BOTIFY_API_TOKEN", "env-token-value")
    tok.forget_token()
    assert not path.exists()
    assert tok.load_token() == "env-token-value"


@pytest.mark.parametrize("bad", ["", "   ", "\n\t", f"Token {TOKEN}", "abc\ndef"])
def test_save_token_refuses_blank_or_spaced(bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        tok.save_token(bad)
    assert not tok.token_path().exists()
    assert TOKEN not in str(info.value)


@posix_only
def test_unreadable_token_file_is_a_config_error_without_the_token(tmp_path: Path) -> None:
    path = tok.token_path()
    path.parent.mkdir(parents=True)
    path.mkdir()  # a folder where the file should be: reading it fails
    with pytest.raises(ConfigError, match=str(path)):
        tok.load_token()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ("", ""),
        ("abc", "••••"),
        ("abcdefgh", "••••gh"),
        ("0123456789abcdef", "••••cdef"),
        (TOKEN, "••••1a2b"),
    ],
)
def test_mask(value: str | None, expected: str) -> None:
    assert tok.mask(value) == expected
    if value:
        assert len(tok.mask(value).replace("•", "")) <= 4
