"""Plain dataclasses for what the API returns, and pure parsers that refuse malformed bodies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .errors import MalformedResponse

JOB_STATUSES = ("CREATED", "PROCESSING", "DONE", "FAILED")
PENDING_STATUSES = ("CREATED", "PROCESSING")


def _need(obj: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, dict):
        raise MalformedResponse(f"{where}: expected a JSON object, got {type(obj).__name__}.")
    if key not in obj:
        raise MalformedResponse(f"{where}: the response has no {key!r} field.")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        raise MalformedResponse(f"{where}: {key!r} should be {_names(kind)}, got {type(value).__name__}.")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _names(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in _as_tuple(kind))


@dataclass(frozen=True)
class Analysis:
    """One crawl analysis of a project."""

    slug: str
    name: str | None = None
    status: str | None = None
    date_launched: str | None = None
    date_finished: str | None = None
    urls_done: int | None = None

    @property
    def crawl_date(self) -> date | None:
        """The date in the slug (YYYYMMDD or YYYYMMDD-N), or None if the slug has another form."""
        head = self.slug.split("-", 1)[0]
        try:
            return date(int(head[:4]), int(head[4:6]), int(head[6:8])) if len(head) == 8 else None
        except ValueError:
            return None

    @property
    def collection(self) -> str:
        """The BQL collection of this analysis: crawl.<slug>."""
        return f"crawl.{self.slug}"


def parse_analysis(item: Any) -> Analysis:
    """Parse one LightAnalysis object; only `slug` is required (as in the swagger)."""
    slug = _need(item, "slug", str, "analysis")
    urls_done = item.get("urls_done")
    return Analysis(
        slug=slug,
        name=item.get("name") if isinstance(item.get("name"), str) else None,
        status=item.get("status") if isinstance(item.get("status"), str) else None,
        date_launched=item.get("date_launched") if isinstance(item.get("date_launched"), str) else None,
        date_finished=item.get("date_finished") if isinstance(item.get("date_finished"), str) else None,
        urls_done=urls_done if isinstance(urls_done, int) and not isinstance(urls_done, bool) else None,
    )


def sort_analyses(analyses: list[Analysis]) -> list[Analysis]:
    """Newest first: by date_launched when present, then by slug date and same-day suffix."""

    def key(a: Analysis) -> tuple[str, int, str]:
        head, _, suffix = a.slug.partition("-")
        n = int(suffix) if suffix.isdigit() else (1 if not suffix else 0)
        return (a.date_launched or head, n, a.slug)

    return sorted(analyses, key=key, reverse=True)


@dataclass(frozen=True)
class Page:
    """One page of a DRF-style paginated envelope."""

    results: list[Any]
    next: str | None


def parse_page(body: Any, where: str) -> Page:
    """Parse `{"results": [...], "next": url|null, ...}`."""
    results = _need(body, "results", list, where)
    nxt = body.get("next")
    if nxt is not None and not isinstance(nxt, str):
        raise MalformedResponse(f"{where}: 'next' should be a URL or null, got {type(nxt).__name__}.")
    return Page(results=results, next=nxt or None)


@dataclass(frozen=True)
class Collection:
    """A BQL collection (crawl.<slug>, search_console, ...)."""

    id: str
    name: str | None = None
    timestamped: bool = False
    date_start: str | None = None
    date_end: str | None = None


def parse_collections(body: Any) -> list[Collection]:
    """Parse the collections list (a bare JSON list, contrary to the swagger)."""
    items = body.get("results") if isinstance(body, dict) and isinstance(body.get("results"), list) else body
    if not isinstance(items, list):
        raise MalformedResponse(f"collections: expected a JSON list, got {type(body).__name__}.")
    out = []
    for item in items:
        cid = _need(item, "id", str, "collection")
        out.append(
            Collection(
                id=cid,
                name=item.get("name"),
                timestamped=bool(item.get("timestamped", False)),
                date_start=item.get("date_start"),
                date_end=item.get("date_end"),
            )
        )
    return out


@dataclass(frozen=True)
class Job:
    """An export job as the API reports it."""

    job_id: int | str
    job_url: str
    status: str
    download_url: str | None = None
    failure_reason: str | None = None
    date_created: str | None = None
    payload: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def pending(self) -> bool:
        return self.status in PENDING_STATUSES


def _failure_reason(body: dict[str, Any]) -> str | None:
    for key in ("error", "failure_reason", "results"):
        value = body.get(key)
        if not value:
            continue
        if isinstance(value, str):
            return value
        if isinstance(value, dict):
            for inner in ("message", "type", "reason", "error", "detail"):
                if isinstance(value.get(inner), str) and value[inner]:
                    code = value.get("error_code")
                    return f"{value[inner]} (code {code})" if code is not None else value[inner]
            if key != "results":
                return str(value)
    return None


def parse_job(body: Any) -> Job:
    """Parse a JobResults object; a job_url may be relative, absolute, or missing (then built from the id)."""
    if not isinstance(body, dict):
        raise MalformedResponse(f"job: expected a JSON object, got {type(body).__name__}.")
    job_id = body.get("job_id")
    if isinstance(job_id, bool) or not isinstance(job_id, (int, str)) or job_id == "":
        raise MalformedResponse("job: the response has no usable 'job_id'.")
    status = _need(body, "job_status", str, "job")
    if status not in JOB_STATUSES:
        raise MalformedResponse(f"job {job_id}: unknown job_status {status!r} (expected one of {JOB_STATUSES}).")
    job_url = body.get("job_url")
    if not isinstance(job_url, str) or not job_url:
        job_url = f"/v1/jobs/{job_id}"
    results = body.get("results")
    download_url = results.get("download_url") if isinstance(results, dict) else None
    if download_url is not None and not isinstance(download_url, str):
        raise MalformedResponse(f"job {job_id}: results.download_url should be a URL string.")
    reason = _failure_reason(body) if status == "FAILED" else None
    if status == "DONE" and not download_url:
        # The official SDK treats DONE without results as a failure.
        status, reason = "FAILED", "the job is DONE but its results carry no download_url"
    raw_payload = body.get("payload")
    payload: dict[str, Any] = raw_payload if isinstance(raw_payload, dict) else {}
    return Job(
        job_id=job_id,
        job_url=job_url,
        status=status,
        download_url=download_url,
        failure_reason=reason if status == "FAILED" else None,
        date_created=body.get("date_created") if isinstance(body.get("date_created"), str) else None,
        payload=payload,
    )


@dataclass(frozen=True)
class QueryRow:
    """One row of a BQL /query answer: dimension values then metric values, in query order."""

    dimensions: list[Any]
    metrics: list[Any]


def parse_query_rows(body: Any) -> tuple[list[QueryRow], str | None]:
    """Parse one page of a /query answer."""
    page = parse_page(body, "query")
    rows = []
    for item in page.results:
        dims = _need(item, "dimensions", list, "query row")
        mets = _need(item, "metrics", list, "query row")
        rows.append(QueryRow(dimensions=dims, metrics=mets))
    return rows, page.next
