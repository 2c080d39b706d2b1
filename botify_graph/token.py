"""Where the Botify API token comes from: the BOTIFY_API_TOKEN variable, else a 0600 file in the config folder.

The token is never written anywhere else (sidecar, log, registry, notebook output, exception, log line).
`token_source` and `mask` let a front end say where the token came from without showing it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .errors import ConfigError
from .fsutil import atomic_write_text
from .layout import CONFIG_DIR_VAR
from .layout import TOKEN_VAR as ENV_VAR

__all__ = [
    "CONFIG_DIR_VAR",
    "ENV_VAR",
    "forget_token",
    "load_token",
    "mask",
    "save_token",
    "token_path",
    "token_source",
]

_APP_DIR = "botify-graph"
_FILE_NAME = "token"


def _config_dir() -> Path:
    explicit = os.environ.get(CONFIG_DIR_VAR, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "win32":
        appdata = os.environ.get("APPDATA", "").strip()
        if appdata:
            return Path(appdata) / _APP_DIR
        return Path.home() / "AppData" / "Roaming" / _APP_DIR
    xdg = os.environ.get("XDG_CONFIG_HOME", "").strip()
    if xdg and os.path.isabs(xdg):  # the XDG spec says relative values are to be ignored
        return Path(xdg) / _APP_DIR
    return Path.home() / ".config" / _APP_DIR


def token_path() -> Path:
    """Return the path of the token file ($BOTIFY_GRAPH_CONFIG_DIR, else the user's config folder)."""
    return _config_dir() / _FILE_NAME


def _env_token() -> str | None:
    value = os.environ.get(ENV_VAR, "").strip()
    return value or None


def _file_token() -> str | None:
    path = token_path()
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ConfigError(
            f"The token file {path} cannot be read ({reason}). "
            f"Fix its permissions, delete it and save the token again, or set {ENV_VAR}."
        ) from None
    return value or None


def load_token() -> str | None:
    """Return the token: BOTIFY_API_TOKEN if set and not blank, else the token file; None if neither."""
    return _env_token() or _file_token()


def token_source() -> str:
    """Say where `load_token` finds the token: "environment", "file" or "none" (never the value)."""
    if _env_token():
        return "environment"
    if _file_token():
        return "file"
    return "none"


def save_token(token: str) -> Path:
    """Store `token` in the token file, created with mode 0600 in a 0700 folder, and return the file's path."""
    value = token.strip() if isinstance(token, str) else ""
    if not value:
        raise ConfigError("The token is empty. Copy it from your Botify profile page (API token) and try again.")
    if any(ch.isspace() for ch in value):
        raise ConfigError(
            "The token contains spaces or line breaks. Paste only the token itself, without a 'Token ' prefix."
        )
    path = token_path()
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700, exist_ok=True)
        if sys.platform != "win32":
            os.chmod(folder, 0o700)  # mkdir's mode is reduced by the umask; make sure it is exactly 0700
    atomic_write_text(path, value + "\n", mode=0o600)
    if sys.platform != "win32":
        os.chmod(path, 0o600)  # a restrictive umask may have removed owner bits; never anything wider
    return path


def forget_token() -> None:
    """Delete the token file if there is one (BOTIFY_API_TOKEN, if set, is left alone)."""
    try:
        token_path().unlink()
    except FileNotFoundError:
        pass


def mask(token: str | None) -> str:
    """Return a display form such as "••••1a2b": at most the last 4 characters, fewer for short tokens."""
    if not token:
        return ""
    shown = min(4, len(token) // 4)
    return "••••" + (token[-shown:] if shown else "")
