"""The fake Botify API's request handling, independent of the HTTP plumbing (see server.py).

`FakeApp.handle_api` and `FakeApp.handle_cdn` take a parsed request and return a `Reply`; they hold all
state (jobs, counters, issued download URLs, the request log) behind one lock.

Order of checks for an API request, as a gateway + Django REST Framework stack would do them:
latency → injected 5xx (gateway) → route (404) → token (401) → 429 storm / QPS window (429) →
org permission (403, code 1002) → project (404, code 1010) → the endpoint (400 with BQL codes, ...).
"""

from __future__ import annotations

import io
import json
import math
import random
import secrets
import threading
import time
import zipfile
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from .bql import GSC_FIELDS, LOG_COLLECTION, BqlError, Plan, compile_query, crawl_fields, project_collections
from .exports import (
    JOB_ID_START,
    MAX_EXPORT_SIZE,
    FakeJob,
    normalise_extra_config,
    normalise_formatter_config,
    write_export,
)
from .scenario import Scenario
from .site import DEMO_ORG, DEMO_USERNAME, PROJECTS, AnalysisSpec, Site, SiteSpec

DEMO_TOKEN = "fake-botify-demo-token"

_HTML_ERROR = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
_S3_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>{message}</Message>'
    "<RequestId>{rid}</RequestId></Error>"
)


@dataclass
class Reply:
    """What to send back. `action` is "drop" (close without answering), "truncate" or "corrupt"."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    file: Path | None = None
    action: str | None = None
    offset: int = 0  # send `file` from this byte (a 206 answer to a Range request)


@dataclass(frozen=True)
class RequestRecord:
    """One request the fake received. `status` 0 means the connection was closed without a response."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    t: float  # time.monotonic() when the request arrived
    server: str = "api"  # "api" or "cdn"
    body: Any = None  # the parsed JSON body of a POST, if any
    endpoint: str = ""  # the route template, e.g. "GET /jobs/{id}"
    range: str | None = None  # the Range header of a download request, if any
    action: str | None = None  # what the fake did to a download's body: "truncate", "corrupt" or None


class ApiProblem(Exception):
    """An error answer with the Botify envelope."""

    def __init__(self, status: int, code: int, message: str) -> None:
        self.status, self.code, self.message = status, code, message
        super().__init__(message)


def _json(status: int, obj: Any, headers: list[tuple[str, str]] | None = None) -> Reply:
    body = json.dumps(obj, separators=(",", ":")).encode()
    return Reply(status, body, [("Content-Type", "application/json"), *(headers or [])])


def _envelope(status: int, code: int, message: str, headers: list[tuple[str, str]] | None = None) -> Reply:
    return _json(status, {"error": {"error_code": code, "message": message}}, headers)


def _now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# (method, template, handler name). Templates use {org} {project} {cid} {job_id}; a trailing slash is optional.
_ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", "/authentication/profile", "_profile"),
    ("GET", "/analyses/{org}/{project}/light", "_light"),
    ("GET", "/projects/{org}", "_projects"),
    ("GET", "/projects/{org}/{project}/collections", "_collections"),
    ("GET", "/projects/{org}/{project}/collections/{cid}", "_collection"),
    ("POST", "/projects/{org}/{project}/query", "_query"),
    ("POST", "/jobs", "_create_job"),
    ("GET", "/jobs", "_list_jobs"),
    ("GET", "/jobs/{job_id}", "_get_job"),
)


def _match(template: str, parts: list[str]) -> dict[str, str] | None:
    tparts = template.strip("/").split("/")
    if len(tparts) != len(parts):
        return None
    out: dict[str, str] = {}
    for t, p in zip(tparts, parts, strict=True):
        if t.startswith("{"):
            if not p:
                return None
            out[t[1:-1]] = unquote(p)
        elif t != p:
            return None
    return out


class FakeApp:
    """State and behaviour of the fake API and CDN."""

    def __init__(
        self,
        *,
        scale: float,
        scenario: Scenario,
        token: str = DEMO_TOKEN,
        sites: Mapping[tuple[str, str], SiteSpec] | None = None,
        workdir: Path,
    ) -> None:
        self.scale = scale
        self.scenario = scenario
        self.token = token  # the token the API accepts (changes when the scenario revokes it)
        self.original_token = token
        self.new_token = f"{token}-regenerated"  # what "regenerating" the token in Botify gives
        self.specs: dict[tuple[str, str], SiteSpec] = {**PROJECTS, **(sites or {})}
        self.workdir = workdir
        self.api_origin = ""  # "http://127.0.0.1:PORT", set once the listener is bound
        self.cdn_origin = ""
        self.lock = threading.RLock()
        self.requests: list[RequestRecord] = []
        self.jobs: dict[int, FakeJob] = {}
        self._sites: dict[tuple[str, str], Site] = {}
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="fake-botify-export")
        self._query_cache: OrderedDict[str, list[tuple[list[Any], list[Any]]]] = OrderedDict()
        self._rng = random.Random(1234)
        self.reset_counters()

    def reset_counters(self) -> None:
        """Restart every "first N" counter of the scenario (the request log and jobs are kept)."""
        with self.lock:
            self._seen: dict[str, int] = {}  # requests per endpoint (for error_first_n)
            self._authed: dict[str, int] = {}  # authenticated requests per endpoint (for storm_429)
            self._window: dict[str, deque[float]] = {}
            self._total = 0
            self._dropped_posts = 0
            self._failed_jobs = 0
            self._expired_downloads = 0
            self._downloads = 0
            self._next_id = max(self.jobs, default=JOB_ID_START - 1) + 1
            self._url_tokens: dict[str, tuple[int, float]] = {}
            self._burned: set[str] = set()
            self._polls_total = 0
            self._cdn_refused = 0

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- sites ----------------------------------------------------------------------------------------

    def site(self, org: str, project: str) -> Site:
        """The synthetic project (KeyError if the fake does not know it)."""
        with self.lock:
            s = self._sites.get((org, project))
            if s is None:
                spec = self.specs[(org, project)]
                s = self._sites[(org, project)] = Site(org, project, spec, self.scale)
            return s

    def _project(self, org: str, project: str) -> Site:
        if org != DEMO_ORG:
            raise ApiProblem(403, 1002, "Permission denied")
        if (org, project) not in self.specs:
            raise ApiProblem(404, 1010, "Project was not found")
        return self.site(org, project)

    # -- entry points ---------------------------------------------------------------------------------

    def _sleep_latency(self) -> None:
        lo, hi = self.scenario.latency_ms
        if hi > 0:
            with self.lock:
                ms = self._rng.uniform(lo, hi)
            time.sleep(ms / 1000)

    def _record(self, rec: RequestRecord) -> None:
        with self.lock:
            self.requests.append(rec)

    def handle_api(self, method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str],
                   raw_body: bytes) -> Reply:  # fmt: skip
        """Answer one request to the API listener."""
        t = time.monotonic()
        self._sleep_latency()
        body: Any = None
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body = _BadJson
        endpoint, handler, params = self._route(method, path)
        try:
            reply = self._handle(endpoint, handler, params, query, headers, body)
        except ApiProblem as p:
            reply = _envelope(p.status, p.code, p.message)
        except BqlError as e:
            reply = _envelope(e.status, e.code, e.message)
        except Exception as exc:  # a bug of the fake: answer like the real API's catch-all
            reply = _envelope(500, 1000, f"Unknown error ({type(exc).__name__}: {exc})")
        if self.scenario.echo_token:
            reply = _echo(reply, headers.get("authorization") or "")
        flat = {k: v[-1] for k, v in query.items()}
        status = 0 if reply.action == "drop" else reply.status
        self._record(RequestRecord(method, path, flat, status, t, "api", None if body is _BadJson else body, endpoint))
        return reply

    def _route(self, method: str, path: str) -> tuple[str, str | None, dict[str, str]]:
        if not path.startswith("/v1/"):
            return f"{method} {path}", None, {}
        parts = path[len("/v1/") :].rstrip("/").split("/")
        for m, template, handler in _ROUTES:
            params = _match(template, parts)
            if params is not None and m == method:
                return f"{method} {template}", handler, params
        return f"{method} {path}", None, {}

    def _handle(self, endpoint: str, handler: str | None, params: dict[str, str], query: dict[str, list[str]],
                headers: Mapping[str, str], body: Any) -> Reply:  # fmt: skip
        sc = self.scenario
        with self.lock:
            self._total += 1
            seen = self._seen[endpoint] = self._seen.get(endpoint, 0) + 1
            total = self._total
        if (sc.error_first_n and seen <= sc.error_first_n) or (sc.error_every_n and total % sc.error_every_n == 0):
            return self._server_error(sc)
        if handler is None or (handler == "_profile" and sc.profile == "missing"):
            raise ApiProblem(404, 1000, "Not found.")  # an unknown route: 404 before any token check
        if not self._authorized(headers):
            return _envelope(401, 1001, "Not Authorized", [("WWW-Authenticate", "Token")])
        limited = self._rate_limit(endpoint, sc)
        if limited is not None:
            return limited
        if body is _BadJson:
            raise ApiProblem(400, 1020, "Badly formatted request: the body is not valid JSON.")
        fn: Callable[..., Reply] = getattr(self, handler)
        return fn(query=query, body=body, **params)

    def _server_error(self, sc: Scenario) -> Reply:
        status = sc.error_status
        reason = _REASONS[status]
        if sc.error_body == "envelope":
            return _envelope(status, 1000, "Unknown error")
        if sc.error_body == "html":
            html = _HTML_ERROR.format(status=status, reason=reason).encode()
            return Reply(status, html, [("Content-Type", "text/html")])
        return Reply(status, reason.encode(), [("Content-Type", "text/plain")])

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        value = headers.get("authorization") or ""
        keyword, _, token = value.strip().partition(" ")
        return keyword.lower() == "token" and token.strip() == self.token

    def _rate_limit(self, endpoint: str, sc: Scenario) -> Reply | None:
        now = time.monotonic()
        with self.lock:
            n = self._authed[endpoint] = self._authed.get(endpoint, 0) + 1
            wait = 1.0
            if n <= sc.storm_429:
                limited = True
            elif sc.rate_limit_qps is None:
                limited = False
            else:
                window = self._window.setdefault(endpoint, deque())
                while window and window[0] <= now - 1.0:
                    window.popleft()
                limited = len(window) >= sc.rate_limit_qps
                if limited:
                    wait = window[0] + 1.0 - now
                else:
                    window.append(now)
        if not limited:
            return None
        headers = [("Retry-After", str(max(1, math.ceil(wait))))] if sc.retry_after else []
        return _envelope(429, 1053, "Too many requests", headers)

    # -- pagination -----------------------------------------------------------------------------------

    def _page(self, query: dict[str, list[str]], count: int, default: int, cap: int, path: str
              ) -> tuple[int, int, int, int, str | None, str | None]:  # fmt: skip
        """(page, size, start, end, next, previous) of a DRF-style page-number pagination."""
        limit = self.scenario.max_page_size
        if limit is not None:
            cap, default = min(cap, limit), min(default, limit)
        size = default
        raw_size = query.get("size", [""])[-1]
        if raw_size.isdigit() and int(raw_size) > 0:
            size = min(int(raw_size), cap)
        raw_page = query.get("page", ["1"])[-1]
        if not raw_page.isdigit() or int(raw_page) < 1:
            raise ApiProblem(404, 1000, "Invalid page.")
        page = int(raw_page)
        last = max(1, math.ceil(count / size))
        if page > last:
            raise ApiProblem(404, 1000, "Invalid page.")
        start, end = (page - 1) * size, min(page * size, count)
        nxt = self._page_url(path, query, page + 1) if end < count else None
        prev = self._page_url(path, query, page - 1) if page > 1 else None
        return page, size, start, end, nxt, prev

    def _page_url(self, path: str, query: dict[str, list[str]], page: int) -> str:
        items = [(k, v) for k, vs in query.items() for v in vs if k != "page"]
        if page > 1:  # DRF drops the page parameter for the first page
            items.append(("page", str(page)))
        qs = "&".join(quote(k, safe="") + ("=" + quote(v, safe="") if v else "") for k, v in items)
        return f"{self.api_origin}{path}" + (f"?{qs}" if qs else "")

    # -- endpoints ------------------------------------------------------------------------------------

    def _profile(self, query: Any, body: Any) -> Reply:
        how = self.scenario.profile
        if how == "not-allowed":
            return _envelope(405, 1000, 'Method "GET" not allowed.', [("Allow", "OPTIONS")])
        if how == "refused":
            raise ApiProblem(403, 1002, "Permission denied")
        if how == "no-username":
            return _json(200, {"data": {"email": "demo.user@example.com"}})
        return _json(
            200,
            {"data": {"username": DEMO_USERNAME, "email": "demo.user@example.com", "first_name": "Demo",
                      "last_name": "User", "is_active": True}},
        )  # fmt: skip

    def _light(self, org: str, project: str, query: dict[str, list[str]], body: Any) -> Reply:
        site = self._project(org, project)
        raw = query.get("only_success", ["true"])[-1].lower()
        if raw not in ("true", "false", "1", "0"):
            raise ApiProblem(400, 1020, f"only_success must be true or false, got {raw!r}.")
        items = site.sorted_analyses(only_success=raw in ("true", "1"))
        sc = self.scenario
        path = f"/v1/analyses/{org}/{project}/light"
        page, size, start, end, nxt, prev = self._page(
            query, len(items), sc.light_default_size, sc.light_max_size, path
        )
        results = [self._light_item(site, a) for a in items[start:end]]
        if sc.odd_analysis_status and page == 1 and results:
            results[0]["status"] = sc.odd_analysis_status
        if sc.light_shape == "list":
            return _json(200, results)
        envelope = {"count": len(items), "next": nxt, "previous": prev, "page": page, "size": size, "results": results}
        if sc.light_shape == "no-next":
            del envelope["next"]
        return _json(200, envelope)

    def _light_item(self, site: Site, a: AnalysisSpec) -> dict[str, Any]:
        done = site.urls_done(a)
        return {
            "pk": a.pk, "slug": a.slug, "name": a.name, "friendly_name": None,
            "url": f"https://app.botify.com/{site.org}/{site.project}/{a.slug}/", "status": a.status,
            "urls_done": done, "urls_in_queue": done // 2 if a.status == "crawling" else 0,
            "date_launched": a.date_launched, "date_finished": a.date_finished,
            "date_last_modified": a.date_finished or a.date_launched,
            "date_created": a.date_launched[:11] + "00:00:00.000001Z",
            "to_be_deleted_at": None, "comparable": a.status == "success", "excluded_from_trends": False,
            "has_raw_pages": False,
        }  # fmt: skip

    def _projects(self, org: str, query: dict[str, list[str]], body: Any) -> Reply:
        if org != DEMO_ORG:
            raise ApiProblem(403, 1002, "Permission denied")
        items = sorted(p for o, p in self.specs if o == org)
        sc = self.scenario
        page, size, start, end, nxt, prev = self._page(
            query, len(items), sc.light_default_size, sc.light_max_size, f"/v1/projects/{org}"
        )
        results = [
            {"slug": p, "name": p, "user": {"login": org}, "url": self.specs[(org, p)].host + "/"}
            for p in items[start:end]
        ]
        return _json(
            200,
            {"count": len(items), "next": nxt, "previous": prev, "page": page, "size": size, "results": results},
        )

    def _collections(self, org: str, project: str, query: Any, body: Any) -> Reply:
        listed = project_collections(self._project(org, project))
        return _json(200, {"collections": listed} if self.scenario.collections_shape == "object" else listed)

    def _collection(self, org: str, project: str, cid: str, query: Any, body: Any) -> Reply:
        site = self._project(org, project)
        found = next((c for c in project_collections(site) if c["id"] == cid), None)
        if found is None:
            raise ApiProblem(404, 1000, f"Collection {cid!r} was not found.")
        sc = self.scenario
        return _json(200, _datasets(site, found, unlisted={*sc.hide_fields, *sc.absent_fields}))

    def _refuse_absent_fields(self, body: Any) -> None:
        """A query or job naming a field the scenario says does not exist: 400, code 1029."""
        if not self.scenario.absent_fields:
            return
        text = json.dumps(body)
        for slug in self.scenario.absent_fields:
            if f'.{slug}"' in text or f'"{slug}"' in text:
                raise BqlError(1029, f"Field {slug!r} does not exist in the requested collections.")

    def _query(self, org: str, project: str, query: dict[str, list[str]], body: Any) -> Reply:
        site = self._project(org, project)
        sc = self.scenario
        self._refuse_absent_fields(body)
        key = json.dumps([org, project, body, sc.outlinks_undercount], sort_keys=True)
        with self.lock:
            rows = self._query_cache.get(key)
        if rows is None:
            plan = compile_query(body, site, outlinks_factor=1.0 - sc.outlinks_undercount)
            if plan.multi_pos is not None and plan.estimated_rows() > sc.query_multi_limit:
                raise BqlError(1043, "Query too big: export multiple fields with POST /jobs instead.")
            rows = list(plan.rows())
            with self.lock:
                self._query_cache[key] = rows
                while len(self._query_cache) > 8:
                    self._query_cache.popitem(last=False)
        path = f"/v1/projects/{org}/{project}/query"
        page, size, start, end, nxt, prev = self._page(query, len(rows), sc.query_default_size, sc.query_max_size, path)
        out: dict[str, Any] = {}
        if "count" in query:
            out["count"] = len(rows)
        out.update(
            previous=prev,
            next=nxt,
            page=page,
            size=size,
            results=[{"dimensions": d, "metrics": m} for d, m in rows[start:end]],
        )
        return _json(200, out)

    # -- jobs -----------------------------------------------------------------------------------------

    def _create_job(self, query: Any, body: Any) -> Reply:
        sc = self.scenario
        if not isinstance(body, dict):
            raise ApiProblem(400, 1020, "Badly formatted request: the body must be a JSON object.")
        job_type = body.get("job_type")
        if job_type != "export":
            raise ApiProblem(400, 1020, f"job_type {job_type!r} is not supported (this fake knows 'export').")
        payload = body.get("payload")
        if not isinstance(payload, dict):
            raise ApiProblem(400, 1020, "payload is required and must be an object.")
        org, project = payload.get("username"), payload.get("project")
        if not isinstance(org, str) or not isinstance(project, str):
            raise ApiProblem(400, 1020, "payload.username and payload.project are required.")
        site = self._project(org, project)
        connector = payload.get("connector", "direct_download")
        if connector != "direct_download":
            raise ApiProblem(400, 1020, f"Unknown connector {connector!r} (this fake knows 'direct_download').")
        formatter = payload.get("formatter", "csv")
        if formatter != "csv":
            raise ApiProblem(400, 1034, f"Formatter {formatter!r} is not available (this fake writes 'csv').")
        size = payload.get("export_size", min(MAX_EXPORT_SIZE, sc.max_export_size))
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ApiProblem(400, 1020, f"export_size must be a positive integer, got {size!r}.")
        if size > sc.max_export_size:
            raise ApiProblem(
                400, 1020, f"export_size {size} exceeds the limit of {sc.max_export_size} rows for direct_download."
            )
        self._refuse_absent_fields(payload.get("query"))
        fconf = normalise_formatter_config(payload.get("formatter_config"), sc.formatter_defaults)
        econf = normalise_extra_config(payload.get("extra_config"))
        plan = compile_query(payload.get("query"), site, outlinks_factor=1.0 - sc.outlinks_undercount)
        name = payload.get("export_job_name")
        normalised = {
            "username": org, "project": project, "query": payload["query"], "export_size": size,
            "connector": connector, "formatter": formatter, "formatter_config": fconf, "extra_config": econf,
            "sort_url_id": payload.get("sort_url_id", False), "export_job_name": name,
        }  # fmt: skip
        compression = "zip" if sc.force_zip else econf["compression"]
        effective = dict(fconf)
        if sc.force_docs_formatter:
            effective.update(print_header=True, print_delimiter=True, header_format="verbose")
        day = datetime.now(timezone.utc).date().isoformat()
        query_text = json.dumps(payload["query"], sort_keys=True)
        with self.lock:
            if sc.max_running_jobs is not None:
                running = sum(1 for j in self.jobs.values() if j.org == org and self._running(j))
                if running >= sc.max_running_jobs:
                    raise ApiProblem(400, 1058, "An advanced export is already running")
            job_id = self._next_id
            self._next_id += 1
            will_fail = False
            if self._failed_jobs < sc.fail_jobs and (sc.fail_match is None or sc.fail_match in query_text):
                will_fail = True
                self._failed_jobs += 1
            drop = self._dropped_posts < sc.drop_job_posts
            if drop:
                self._dropped_posts += 1
            job = FakeJob(
                job_id=job_id,
                org=org,
                project=project,
                kind="links" if plan.multi_pos is not None else "meta",
                posted=body,
                payload=normalised,
                date_created=_now_iso(),
                created_t=time.monotonic(),
                will_fail=will_fail,
                dropped=drop,
                compression=compression,
                formatter=effective,
                filename=f"{project}-{day}.csv" + (".zip" if compression == "zip" else ".gz"),
            )
            self.jobs[job_id] = job
        if not will_fail:
            self._executor.submit(self._generate, job, plan, size)
        if drop:
            return Reply(0, action="drop")
        return _json(201, self._job_json(job, issue_url=False))

    def _generate(self, job: FakeJob, plan: Plan, limit: int) -> None:
        token = secrets.token_hex(8)
        path = self.workdir / f"job-{job.job_id}-{token}" / job.filename
        try:
            job.nb_lines = write_export(plan, path, formatter=job.formatter, compression=job.compression, limit=limit)
            job.file = path
        except Exception as exc:  # surfaces as a FAILED job
            job.error = f"The export failed ({type(exc).__name__}: {exc})"
        finally:
            job.ready_t = time.monotonic()
            job.ready.set()

    def _running(self, job: FakeJob) -> bool:
        """Whether a job still runs on the server's side: until its file is written (or it fails) and its
        minimum duration has passed, whether or not anyone polls it."""
        if job.status in ("DONE", "FAILED"):
            return False
        if time.monotonic() - job.created_t < self.scenario.seconds_for(job.kind):
            return True
        return not job.will_fail and not job.ready.is_set()

    def _advance(self, job: FakeJob) -> None:
        if job.status in ("DONE", "FAILED"):
            return
        sc = self.scenario
        due = job.polls >= sc.polls_to_done and time.monotonic() - job.created_t >= sc.seconds_for(job.kind)
        if due and job.will_fail:
            job.status = "FAILED"
            job.finished_t = time.monotonic()
        elif due and job.ready.is_set():
            job.status = "FAILED" if job.error else "DONE"
            job.finished_t = time.monotonic()
        elif job.polls:
            job.status = "PROCESSING"

    def _job_json(self, job: FakeJob, *, issue_url: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "job_id": job.job_id,
            "job_type": "export",
            "job_url": job.job_url,
            "job_status": job.status,
            "payload": job.payload,
            "results": None,
            "date_created": job.date_created,
            "user": DEMO_USERNAME,
            "metadata": None,
            "crawl_date": None,
        }
        if job.status == "DONE" and issue_url:
            results: dict[str, Any] = {"download_url": self._issue_url(job)}
            if self.scenario.nb_lines:
                results["nb_lines"] = job.nb_lines
            out["results"] = results
        elif job.status == "FAILED":
            message = job.error or "The export failed"
            where = self.scenario.failure_location
            if where == "error":
                out["error"] = {"error_code": 1060, "message": message}
            elif where == "results":
                out["results"] = {"error_code": 1060, "message": message}
            else:
                out["failure_reason"] = message
        return out

    def _issue_url(self, job: FakeJob) -> str:
        token = secrets.token_hex(16)
        with self.lock:
            self._url_tokens[token] = (job.job_id, time.monotonic())
        url = f"{self.cdn_origin}/exports/{token[0]}/{token[1]}/{token[2]}/{token}/{quote(job.filename)}"
        job.download_urls.append(url)
        return url

    def _get_job(self, job_id: str, query: Any, body: Any) -> Reply:
        with self.lock:
            job = self.jobs.get(int(job_id)) if job_id.isdigit() else None
            if job is None:
                raise ApiProblem(404, 1059, "Export job was not found")
            job.polls += 1
            self._polls_total += 1
            revoke = self.scenario.revoke_token_after_polls
            if revoke and self._polls_total >= revoke:
                self.token = self.new_token  # the old token is refused from the next request on
            self._advance(job)
            return _json(200, self._job_json(job, issue_url=True))

    def _list_jobs(self, query: dict[str, list[str]], body: Any) -> Reply:
        def want(key: str) -> str | None:
            v = query.get(key, [""])[-1]
            return v or None

        job_type, project, analysis, username = want("job_type"), want("project"), want("analysis"), want("username")
        with self.lock:
            jobs = sorted(self.jobs.values(), key=lambda j: j.job_id, reverse=True)
        jobs = [
            j
            for j in jobs
            if (job_type in (None, "export"))
            and (project is None or j.project == project)
            and (username is None or j.org == username)
            and (analysis is None or j.analysis == analysis)
        ]
        sc = self.scenario
        page, size, start, end, nxt, prev = self._page(
            query, len(jobs), sc.jobs_default_size, sc.jobs_max_size, "/v1/jobs"
        )
        with self.lock:
            results = []
            for j in jobs[start:end]:
                self._advance(j)
                results.append(self._job_json(j, issue_url=True))
        return _json(
            200, {"count": len(jobs), "next": nxt, "previous": prev, "page": page, "size": size, "results": results}
        )

    # -- the CDN --------------------------------------------------------------------------------------

    def handle_cdn(self, method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str],
                   raw_body: bytes) -> Reply:  # fmt: skip
        """Answer one request to the download listener (no auth needed; an Authorization header is ignored)."""
        t = time.monotonic()
        self._sleep_latency()
        reply = self._cdn(method, path, headers)
        flat = {k: v[-1] for k, v in query.items()}
        rng = headers.get("range")
        endpoint = f"{method} /exports/..."
        self._record(RequestRecord(method, path, flat, reply.status, t, "cdn", None, endpoint, rng, reply.action))
        return reply

    def _cdn(self, method: str, path: str, request_headers: Mapping[str, str]) -> Reply:
        sc = self.scenario
        parts = path.split("/")
        token = parts[5] if len(parts) == 7 and parts[1] == "exports" else ""
        if method not in ("GET", "HEAD"):
            return _s3_error(405, "Method Not Allowed")
        with self.lock:
            issued = self._url_tokens.get(token)
            if issued is None:
                return _s3_error(403, "Access Denied")
            job = self.jobs[issued[0]]
            if token in self._burned or (
                sc.download_ttl_s is not None and time.monotonic() - issued[1] > sc.download_ttl_s
            ):
                return _s3_error(403, "Request has expired")
            if self._expired_downloads < sc.expire_first_n_downloads:
                self._expired_downloads += 1
                self._burned.add(token)
                return _s3_error(403, "Request has expired")
            if self._cdn_refused < sc.cdn_429 + sc.cdn_503:
                self._cdn_refused += 1
                busy = self._cdn_refused <= sc.cdn_429
                reply = _s3_error(429, "Too Many Requests") if busy else _s3_error(503, "Slow Down")
                if sc.cdn_retry_after:
                    reply.headers.append(("Retry-After", "1"))
                return reply
            if method == "GET":
                self._downloads += 1
                job.downloads += 1
            n = self._downloads
        if job.file is None:
            return _s3_error(403, "Access Denied")
        ctype = "application/zip" if job.compression == "zip" else "binary/octet-stream"
        etag = f'"{job.job_id}-{job.file.stat().st_size}"'  # one file, one ETag, whichever link serves it
        headers = [("Content-Type", ctype), ("ETag", etag)]
        if n <= sc.zip_without_csv:
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr("manifest.json", json.dumps({"job_id": job.job_id, "rows": job.nb_lines}))
            return Reply(200, buf.getvalue(), [("Content-Type", "application/zip")])
        action = "truncate" if n <= sc.truncate_downloads else "corrupt" if n <= sc.corrupt_downloads else None
        if not sc.cdn_ranges:
            return Reply(200, b"", headers, file=job.file, action=action)
        headers.append(("Accept-Ranges", "bytes"))
        size = job.file.stat().st_size
        start = _range_start(request_headers.get("range"), request_headers.get("if-range"), etag, size)
        if start is None:
            return Reply(200, b"", headers, file=job.file, action=action)
        if start >= size:
            return Reply(416, b"", [("Content-Range", f"bytes */{size}")])
        headers.append(("Content-Range", f"bytes {start}-{size - 1}/{size}"))
        return Reply(206, b"", headers, file=job.file, action=action, offset=start)


class _BadJsonType:
    pass


_BadJson = _BadJsonType()


def _range_start(value: str | None, if_range: str | None, etag: str, size: int) -> int | None:
    """The first byte a `Range: bytes=N-` (or `N-M`, served to the end) asks for; None: send the whole file
    (no Range, a form this CDN does not serve, or an `If-Range` that no longer matches)."""
    if not value or (if_range is not None and if_range.strip() != etag):
        return None
    unit, _, spec = value.strip().partition("=")
    first, dash, _ = spec.strip().partition("-")
    if unit.strip().lower() != "bytes" or not dash or not first.isdigit() or "," in spec:
        return None
    return int(first)


def _echo(reply: Reply, authorization: str) -> Reply:
    """The same answer echoing the Authorization header it received (a badly behaved server, for traces)."""
    token = authorization.partition(" ")[2].strip()
    headers = [*reply.headers, ("X-Echo-Authorization", authorization)]
    body = reply.body
    if body and any(k.lower() == "content-type" and "json" in v for k, v in reply.headers):
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            data["echo"] = {"authorization": authorization, "padded": f"  {token}\n", "prefix": token[:12]}
            body = json.dumps(data, separators=(",", ":")).encode()
    return replace(reply, body=body, headers=headers)


def _s3_error(status: int, message: str) -> Reply:
    body = _S3_ERROR.format(message=message, rid=secrets.token_hex(8).upper()).encode()
    return Reply(status, body, [("Content-Type", "application/xml")])


def _datasets(site: Site, collection: dict[str, Any], *, unlisted: set[str] | frozenset[str] = frozenset()
              ) -> dict[str, Any]:  # fmt: skip
    """GET /projects/{u}/{p}/collections/{id}: datasets whose fields carry the full id and the bare slug
    (crawl fields in `unlisted` are left out)."""
    cid = collection["id"]
    datasets: list[dict[str, Any]] = []

    def dataset(name: str, fields: list[dict[str, Any]]) -> dict[str, Any]:
        return {"id": f"{cid}.{name}", "name": name.replace("_", " ").title(), "groups": [name], "fields": fields,
                "multiple": False, "category": [], "suggested_operations": []}  # fmt: skip

    def fdict(fid: str, slug: str, name: str, type_: str, kind: str, multiple: bool, group: str) -> dict[str, Any]:
        return {"id": fid, "name": name, "type": type_, "subtype": None, "kind": kind, "multiple": multiple,
                "permissions": [], "optional": False, "group": group, "aliases": [slug], "settings": {}, "meta": {},
                "deprecated": False, "suggestion": False}  # fmt: skip

    if cid.startswith("crawl."):
        groups: dict[str, list[dict[str, Any]]] = {}
        for f in crawl_fields(site):
            if f.slug in unlisted:
                continue
            groups.setdefault(f.group, []).append(
                fdict(f"{cid}.{f.slug}", f.slug, f.name, f.type, f.kind, f.multiple, f.group)
            )
        datasets = [dataset(g, fs) for g, fs in groups.items()]
        start = end = collection.get("date")
    elif cid == "search_console":
        fs = [fdict(f"{cid}.url", "url", "Full URL", "string", "dimension", False, "main")]
        fs += [fdict(f"{cid}.{f.slug}", f.slug, f.name, f.type, f.kind, False, "main") for f in GSC_FIELDS.values()]
        datasets = [dataset("main", fs)]
        start, end = collection.get("date_start"), collection.get("date_end")
    elif cid == LOG_COLLECTION:
        fs = [
            fdict(f"{cid}.url", "url", "Full URL", "string", "dimension", False, "main"),
            fdict(f"{cid}.count_crawls", "count_crawls", "No. of Crawls", "integer", "metric", False, "crawls"),
            fdict(f"{cid}.status_code", "status_code", "HTTP Status Code", "integer", "dimension", False, "main"),
        ]
        datasets = [dataset("main", fs)]
        start, end = collection.get("date_start"), collection.get("date_end")
    else:
        generic = cid.split(".", 1)[0]
        fs = [fdict(f"{cid}.url", "url", "Full URL", "string", "dimension", False, "main")]
        if generic == "actionboard_ml":
            fs.append(fdict(f"{cid}.score", "score", "Score", "float", "dimension", False, "main"))
        datasets = [dataset("main", fs)]
        start = end = None
    return {
        "datasets": datasets,
        "metadata": {"date_start": start, "date_end": end, "date_last_modified": None, "config": {}},
    }
