"""Turn whatever a user pasted into a Botify project reference. Pure: no network, no disk."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from .errors import InvalidProjectURL

APP_ROOT = "https://app.botify.com"
BOTIFY_HOSTS = ("app.botify.com", "api.botify.com", "botify.com", "www.botify.com")

# A slug becomes a folder name: no separators, no leading dot, nothing a shell or a path would read.
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_ANALYSIS = re.compile(r"^\d{8}(-\d+)?$")
# First path segments of app.botify.com that are pages of the app, not organisations.
_RESERVED = frozenset(
    {
        "login",
        "logout",
        "signup",
        "account",
        "accounts",
        "settings",
        "projects",
        "admin",
        "static",
        "help",
        "docs",
        "password",
        "api",
        "v1",
        "oauth",
        "sso",
    }
)
# `/api/v1/<resource>/<org>/<project>/...` and `/v1/<resource>/<org>/<project>/...`
_API_RESOURCES = frozenset({"analyses", "projects"})

EXAMPLE = "https://app.botify.com/your-org/your-project/"


@dataclass(frozen=True)
class ProjectRef:
    """A Botify project: organisation slug, project slug and, if the URL named one, an analysis."""

    org: str
    project: str
    analysis: str | None = None

    @property
    def url(self) -> str:
        """The canonical project URL: the pipeline id and sidecar key."""
        return f"{APP_ROOT}/{self.org}/{self.project}/"

    def __str__(self) -> str:
        return f"{self.org}/{self.project}"


def is_valid_slug(value: str) -> bool:
    """True when `value` is safe as an org/project slug and as a single folder name."""
    return bool(_SLUG.match(value)) and value not in {".", ".."} and ".." not in value


def validate_slug(value: str, what: str = "slug") -> str:
    """Return `value` if it is a safe slug, else raise InvalidProjectURL saying what is allowed."""
    if not is_valid_slug(value):
        raise InvalidProjectURL(
            f"{what} {value!r} is not a valid Botify slug: use letters, digits, '.', '_' or '-' "
            f"(no '..', at most 100 characters, starting with a letter or digit)."
        )
    return value


def is_analysis_slug(value: str) -> bool:
    """True for analysis slugs like 20241108 or 20241108-2."""
    return bool(_ANALYSIS.match(value))


def _bad(url: str, why: str) -> InvalidProjectURL:
    shown = url if len(url) <= 120 else url[:117] + "..."
    return InvalidProjectURL(
        f"{shown!r} is not a Botify project URL ({why}). "
        f"Paste a URL like {EXAMPLE} (anything after the project, such as an analysis or a report page, "
        "is fine)."
    )


def clean_url(url: str) -> ProjectRef:
    """Clean a pasted Botify URL into org, project and (if present) analysis slug."""
    if not isinstance(url, str):
        raise InvalidProjectURL(f"Expected a URL string, got {type(url).__name__}. Paste a URL like {EXAMPLE}")
    text = url.strip().strip("'\"<>").strip()
    if not text:
        raise _bad(url, "it is empty")
    if "://" not in text:
        text = "https://" + text.lstrip("/")
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
        _ = parts.port
    except ValueError as exc:
        raise _bad(url, "it cannot be parsed") from exc
    if parts.scheme.lower() not in {"http", "https"}:
        raise _bad(url, f"scheme {parts.scheme!r} is not http(s)")
    if host not in BOTIFY_HOSTS:
        raise _bad(url, f"host {host or '(none)'!r} is not app.botify.com")
    segments = [unquote(s) for s in parts.path.split("/") if s.strip()]
    # API forms: /api/v1/analyses/org/project/..., /v1/projects/org/project/...
    if segments[:1] == ["api"]:
        segments = segments[1:]
    if segments[:1] == ["v1"]:
        segments = segments[1:]
        if segments[:1] and segments[0] in _API_RESOURCES:
            segments = segments[1:]
        else:
            raise _bad(url, "API URLs must name /analyses/ or /projects/ followed by org and project")
    if len(segments) < 2:
        raise _bad(url, "it has no organisation and project in its path")
    org, project = segments[0], segments[1]
    if org.lower() in _RESERVED:
        raise _bad(url, f"{org!r} is a page of the Botify app, not an organisation")
    for value, what in ((org, "organisation"), (project, "project")):
        if not is_valid_slug(value):
            raise _bad(url, f"{what} {value!r} is not a valid Botify slug: letters, digits, '.', '_', '-' only")
    analysis = segments[2] if len(segments) > 2 and is_analysis_slug(segments[2]) else None
    return ProjectRef(org=org, project=project, analysis=analysis)
