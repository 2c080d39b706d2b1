"""The exceptions botify-graph raises, every one a person can act on.

    BotifyError                      base: catch this to catch everything below
    ├── InvalidProjectURL            the pasted URL is not a Botify project URL (also a ValueError)
    ├── ConfigError                  a bad parameter, option or environment (also a ValueError)
    ├── StateFileError               a sidecar, log or registry file is corrupt, newer or locked
    ├── TransportError               the API could not be reached, after bounded retries
    ├── ApiError                     the API answered with an error (carries status and error_code)
    │   ├── AuthError                401: the token is missing, wrong or was regenerated
    │   ├── PermissionDenied         403: the token is valid but cannot see this project
    │   ├── NotFound                 404: no such org, project, analysis or job
    │   ├── RateLimited              429 that outlived the retry budget
    │   ├── JobRefused               a job POST refused because other jobs run (1058); no job was created
    │   └── MalformedResponse        a 2xx whose body is not what the contract says
    ├── DepthTooLarge                even depth 1 has more internal links than the export limit
    ├── PartitionTooLarge            a complete export has a part no documented filter splits under the limit
    ├── JobCreationUncertain         a job POST was cut off and whether the job exists is unknown
    ├── ExportJobFailed              Botify reports the export job FAILED (carries job_id and reason)
    ├── ExportTimeout                a job outlived the poll timeout (carries job_id; rerun resumes it)
    ├── DownloadError                a download was truncated, corrupt or not a CSV
    │   └── DownloadExpired          the download link answered 403/404/410 (poll the job again)
    ├── StorageError                 a file could not be written: a full disk, a read-only folder (names it)
    └── BatchFailed                  some projects of a batch failed (the others ran; the results say why)

Messages say what happened and what to do next. No message, repr or attribute ever carries the
API token: errors are built from statuses, codes and server messages, never from request headers.
"""

from __future__ import annotations

from typing import TypeVar


class BotifyError(Exception):
    """Base class for every error botify-graph raises on purpose."""


class InvalidProjectURL(BotifyError, ValueError):
    """The input is not a Botify project URL."""


class ConfigError(BotifyError, ValueError):
    """A parameter, command-line option or environment value is unusable."""


class StateFileError(BotifyError):
    """A state file (sidecar, parameter log, export registry) cannot be used as it is."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class TransportError(BotifyError):
    """The server could not be reached or the connection broke, even after retries."""


_E = TypeVar("_E", bound="ApiError")


class ApiError(BotifyError):
    """The API answered with an HTTP error."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: int | str | None = None,
        url: str | None = None,
    ) -> None:
        self.status = status
        self.error_code = error_code
        self.url = url
        super().__init__(message)

    def reworded(self: _E, message: str) -> _E:
        """The same error (its class, status, error code and URL) told as `message`, by a caller that knows
        what it means for the user."""
        return type(self)(message, status=self.status, error_code=self.error_code, url=self.url)


class AuthError(ApiError):
    """The API rejected the token (401)."""


class PermissionDenied(ApiError):
    """The token is valid but has no access to this resource (403)."""


class NotFound(ApiError):
    """The org, project, analysis or job does not exist (404)."""


class RateLimited(ApiError):
    """The API kept answering 429 after the retry budget was spent."""


class JobRefused(ApiError):
    """Botify refused to create an export job because others are running (error 1058); none was created."""


class MalformedResponse(ApiError):
    """The API answered 2xx with a body the contract does not allow."""


class DepthTooLarge(BotifyError):
    """Depth 1 alone already exceeds the export row limit."""

    def __init__(self, message: str, *, edges: int, max_edges: int) -> None:
        self.edges = edges
        self.max_edges = max_edges
        super().__init__(message)


class PartitionTooLarge(BotifyError):
    """A complete export would need a job over the row limit: no field splits that part of the crawl further."""


class JobCreationUncertain(BotifyError):
    """A POST /jobs was interrupted and the job may or may not exist server-side."""


class ExportJobFailed(BotifyError):
    """Botify reports the export job as FAILED."""

    def __init__(self, job_id: int | str, reason: str) -> None:
        self.job_id = job_id
        self.reason = reason
        super().__init__(
            f"Botify export job {job_id} failed: {reason}. "
            "Run the export again with retry_failed=True (CLI: --retry-failed) to start a new job."
        )


class ExportTimeout(BotifyError):
    """The job did not finish within the poll timeout. It keeps running on Botify's side."""

    def __init__(self, job_id: int | str, waited_s: float) -> None:
        self.job_id = job_id
        self.waited_s = waited_s
        super().__init__(
            f"Botify export job {job_id} was still running after {waited_s:.0f} s. "
            "It keeps running on Botify's side: run the same export again to resume polling it "
            "(no new job is created), or raise the poll timeout."
        )


class DownloadError(BotifyError):
    """The downloaded export is truncated, corrupt or not a CSV."""


class DownloadExpired(DownloadError):
    """The download link no longer works; polling the job again yields a fresh one."""


class StorageError(BotifyError):
    """A file could not be written (no space left, a quota, a read-only or forbidden folder).

    `folder` is where it was to be written, `errno` the system's error number (or None).
    """

    def __init__(self, message: str, *, folder: str, errno: int | None = None) -> None:
        self.folder = folder
        self.errno = errno
        super().__init__(message)


class BatchFailed(BotifyError):
    """Some rows of a batch failed; every row ran, and the results file says why each failed."""
