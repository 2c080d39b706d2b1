"""Thin async calls to the Botify API, one per cell: build → send → check → parse.

Every function takes the client from `make_client` first. HTTP failures become the errors of
`botify_graph.errors`, with messages that say what to do; no message carries the token.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx

from . import layout, partition, queries
from .client import resolve_api_url
from .depth import DepthChoice, choose_depth, per_depth_from_cumulative
from .errors import (
    ApiError,
    AuthError,
    BotifyError,
    ConfigError,
    DepthTooLarge,
    JobCreationUncertain,
    JobRefused,
    MalformedResponse,
    NotFound,
    PermissionDenied,
    RateLimited,
    TransportError,
)
from .fields import CatalogField, FieldCatalog, GscPeriod, default_entry, has_gsc, parse_field_list, resolve_gsc_period
from .models import (
    Analysis,
    Collection,
    Job,
    QueryRow,
    parse_analysis,
    parse_collections,
    parse_job,
    parse_page,
    parse_query_rows,
    sort_analyses,
)
from .urls import ProjectRef

MAX_PAGES = 200


def _envelope(response: httpx.Response) -> tuple[int | str | None, str | None]:
    try:
        body = response.json()
    except ValueError:
        return None, None
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        return err.get("error_code"), err.get("message") if isinstance(err.get("message"), str) else None
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return None, body["detail"]
    return None, None


def _short(text: str, n: int = 160) -> str:
    text = re.sub(r"<[^>]+>", " ", text)
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


def raise_for_api_error(response: httpx.Response, what: str) -> None:
    """Raise the right BotifyError for a non-2xx answer to `what` (e.g. "listing analyses")."""
    status = response.status_code
    if status < 400:
        return
    code, message = _envelope(response)
    detail = message or _short(response.text or "") or response.reason_phrase
    where = response.request.url.path if response.request else None
    kw: dict[str, Any] = {"status": status, "error_code": code, "url": where}
    if status == 401:
        raise AuthError(
            f"Botify rejected the API token while {what} (401 {detail}). Check BOTIFY_API_TOKEN or paste a "
            "fresh token from your Botify profile; regenerating a token invalidates the old one.",
            **kw,
        )
    if status == 403:
        raise PermissionDenied(
            f"Your token has no access while {what} (403 {detail}). Check the organisation and project in "
            "the URL, or ask the project's admin for access.",
            **kw,
        )
    if status == 404:
        raise NotFound(f"Not found while {what} (404 {detail}). Check the project URL and analysis slug.", **kw)
    if status == 429:
        raise RateLimited(
            f"Botify kept rate-limiting requests while {what} (429). Wait a minute and run again; "
            "botify-graph resumes where it stopped.",
            **kw,
        )
    if status >= 500:
        raise ApiError(
            f"Botify had a server error while {what} ({status} {detail}), even after retries. "
            "Try again in a few minutes; nothing is lost.",
            **kw,
        )
    code_txt = f", error_code {code}" if code is not None else ""
    raise ApiError(f"Botify refused the request while {what} ({status}{code_txt}: {detail}).", **kw)


async def request_json(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    what: str,
    *,
    json: Any = None,
    params: dict[str, Any] | None = None,
    read_only: bool = False,
) -> Any:
    """Send one API request and return its JSON body, translating every failure.

    `read_only=True` marks a POST that changes nothing (a BQL query) so the client may retry it.
    """
    try:
        response = await client.request(
            method, url, json=json, params=params, extensions={"idempotent": True} if read_only else None
        )
    except httpx.TimeoutException as exc:
        raise TransportError(
            f"The Botify API did not answer in time while {what} ({type(exc).__name__}). "
            "Check your connection and try again."
        ) from exc
    except httpx.TransportError as exc:
        raise TransportError(
            f"Could not talk to the Botify API at {client.base_url.host} while {what} ({type(exc).__name__}). "
            "Check your network or the API base URL, then try again."
        ) from exc
    raise_for_api_error(response, what)
    try:
        return response.json()
    except ValueError:
        ctype = response.headers.get("content-type", "?")
        raise MalformedResponse(
            f"Botify answered {response.status_code} with non-JSON ({ctype}: {_short(response.text, 80)!r}) "
            f"while {what}. The API may be down or the API base URL may be wrong.",
            status=response.status_code,
        ) from None


PROFILE = "authentication/profile"  # undocumented (not in Botify's Swagger), used by working clients


def profile_username(body: Any) -> str:
    """`data.username` of a profile answer; MalformedResponse when it has none."""
    data = body.get("data") if isinstance(body, dict) else None
    username = data.get("username") if isinstance(data, dict) else None
    if not isinstance(username, str) or not username:
        raise MalformedResponse("The profile endpoint answered without data.username; the API may have changed.")
    return username


async def verify_token(client: httpx.AsyncClient) -> str:
    """Ask the profile endpoint whose token this is and return the username; raise if it cannot say.

    The endpoint is undocumented, so nothing that must work relies on it: `check_token` falls back to a
    documented call and never lets it stop a run.
    """
    return profile_username(await request_json(client, "GET", PROFILE, "checking the API token"))


@dataclass(frozen=True)
class TokenCheck:
    """How the token was checked and whose it is.

    `checked_by`: "profile" (the profile endpoint named the user), "analyses" (the profile endpoint could
    not say; the project's analyses list, a documented call, accepted the token) or "unchecked" (the profile
    endpoint could not say and there was no project to ask: the first call about a project checks it).
    `username` is None unless the profile endpoint named it; `problem` says why it did not.
    """

    username: str | None
    checked_by: str
    problem: str = ""

    @property
    def user(self) -> str:
        """The username, or "unknown" when the profile endpoint could not name it."""
        return self.username or "unknown"

    def describe(self) -> str:
        """One line for people: who is connected and how that is known."""
        if self.checked_by == "profile":
            return f"Connected as {self.username}"
        if self.checked_by == "analyses":
            return f"Token accepted by the analyses list (user unknown: {self.problem})"
        return f"Token not checked yet (user unknown: {self.problem}); the project's analyses list checks it"


def _profile_problem(exc: BotifyError) -> str:
    status = getattr(exc, "status", None)
    if isinstance(exc, MalformedResponse) or status is None:
        return f"the profile endpoint answered something unexpected ({_short(str(exc), 120)})"
    if status in (404, 405):
        return f"the profile endpoint is not available ({status})"
    if status == 429 or status >= 500:
        return f"the profile endpoint kept failing ({status})"
    return f"the profile endpoint refused ({status})"


async def check_token(client: httpx.AsyncClient, project: ProjectRef | None = None) -> TokenCheck:
    """Check the token: the profile endpoint when it answers, else the project's analyses list.

    The profile endpoint is undocumented: a 404/405, a refusal, a 429 or 5xx that outlived the retries, or an
    unexpected answer there never stops anything (a broken connection does: it is the network's). With a
    `project`, its analyses list (documented) is asked instead, and a 401 there is the AuthError that says
    the token is wrong. Without one, a 401 from the profile endpoint is taken at its word (AuthError);
    anything else gives a TokenCheck "unchecked", which the first call about a project settles.
    """
    try:
        return TokenCheck(await verify_token(client), "profile")
    except AuthError:
        if project is None:
            raise
        problem = "the profile endpoint refused the token (401)"
    except TransportError:
        raise  # the network, not the endpoint: every other call would fail the same way
    except BotifyError as exc:
        problem = _profile_problem(exc)
    if project is None:
        return TokenCheck(None, "unchecked", problem)
    await request_json(
        client,
        "GET",
        f"analyses/{project.org}/{project.project}/light",
        f"checking the API token with the analyses of {project}",
        params={"page": 1, "size": 1, "only_success": "true"},
    )
    return TokenCheck(None, "analyses", problem)


async def _paginate(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    what: str,
    *,
    params: dict[str, Any] | None = None,
    json: Any = None,
    max_pages: int = MAX_PAGES,
) -> list[Any]:
    """Follow `next` links (absolute, DRF style) and return every result."""
    results: list[Any] = []
    seen: set[str] = set()
    next_url: str | None = url
    first = True
    while next_url:
        if len(seen) >= max_pages:
            raise MalformedResponse(f"Stopped after {max_pages} pages while {what}: the `next` links never ended.")
        body = await request_json(
            client, method, next_url, what, json=json, params=params if first else None, read_only=True
        )
        page = parse_page(body, what)
        results.extend(page.results)
        seen.add(next_url)
        first = False
        next_url = resolve_api_url(client, page.next) if page.next else None
        if next_url in seen:
            raise MalformedResponse(f"The API sent the same `next` link twice while {what}.")
    return results


async def fetch_analyses_light(
    client: httpx.AsyncClient, project: ProjectRef, *, only_success: bool = True, page_size: int = 100
) -> list[Analysis]:
    """List a project's analyses, newest first, following pagination."""
    items = await _paginate(
        client,
        "GET",
        f"analyses/{project.org}/{project.project}/light",
        f"listing the analyses of {project}",
        params={"page": 1, "size": page_size, "only_success": "true" if only_success else "false"},
    )
    analyses = [parse_analysis(item) for item in items]
    if only_success:
        analyses = [a for a in analyses if a.status in (None, "success")]
    return sort_analyses(analyses)


async def resolve_analysis(client: httpx.AsyncClient, project: ProjectRef, analysis: str | None) -> Analysis:
    """The analysis named by `analysis` (a slug, or "latest"/None for the newest successful one)."""
    analyses = await fetch_analyses_light(client, project)
    if not analyses:
        raise NotFound(f"{project} has no finished analysis yet: wait for a crawl to finish, then run again.")
    if analysis in (None, "", "latest"):
        return analyses[0]
    for a in analyses:
        if a.slug == analysis:
            return a
    newest = ", ".join(a.slug for a in analyses[:5])
    raise NotFound(f"Analysis {analysis!r} is not a finished analysis of {project}. The newest are: {newest}.")


async def fetch_collections(client: httpx.AsyncClient, project: ProjectRef) -> list[Collection]:
    """List the BQL collections of a project (crawl.<slug>, search_console, ...)."""
    body = await request_json(
        client, "GET", f"projects/{project.org}/{project.project}/collections", f"listing collections of {project}"
    )
    return parse_collections(body)


@dataclass(frozen=True)
class FieldAvailability:
    """Which default meta fields a project/analysis has, its Search Console collection, and the whole catalogue."""

    fields: tuple[str, ...]  # the defaults (short names) this analysis has
    gsc: Collection | None
    catalog: FieldCatalog | None = None

    def period(self, analysis: Analysis, spec: str | None = None) -> list[str] | None:
        """The dates of a Search Console period spec (None: the default) for this analysis, or None without GSC."""
        found = self.gsc_period(analysis, spec)
        return None if found is None else found.dates

    def gsc_period(self, analysis: Analysis, spec: str | None = None) -> GscPeriod | None:
        """The Search Console period (with its clipping note) of a spec for this analysis; None without GSC."""
        if self.gsc is None:
            return None
        return resolve_gsc_period(
            spec,
            analysis.crawl_date,
            _iso_day(self.gsc.date_start),
            _iso_day(self.gsc.date_end),
            default_days=queries.GSC_DAYS,
        )


def _iso_day(value: object) -> str | None:
    """`value` if it starts with a YYYY-MM-DD date, else None: the dates only clip the period, so a malformed
    one is ignored rather than allowed to stop the export."""
    if isinstance(value, str):
        try:
            date.fromisoformat(value[:10])
        except ValueError:
            return None
        return value
    return None


async def fetch_field_list(
    client: httpx.AsyncClient, project: ProjectRef, collection: Collection, analysis: str
) -> list[CatalogField]:
    """The fields of one collection (`GET /projects/{u}/{p}/collections/{id}`), parsed by `fields.parse_field_list`."""
    body = await request_json(
        client,
        "GET",
        f"projects/{project.org}/{project.project}/collections/{collection.id}",
        f"listing the fields of {collection.id}",
    )
    return parse_field_list(body, collection.id, analysis=analysis, timestamped=collection.timestamped)


async def fetch_field_catalog(
    client: httpx.AsyncClient,
    project: ProjectRef,
    analysis: Analysis | str,
    *,
    collections: list[Collection] | None = None,
    only: tuple[str, ...] | None = None,
) -> FieldCatalog:
    """Every field of the analysis' crawl collection, Search Console and the project's other collections (logs,
    ...): their field lists read at once; a list the API will not give is named in `unread`, not an error.
    `only`: read just these collections' lists (an export reads the crawl's, and Search Console's when asked
    for a field of it: one request each, at 5 per second)."""
    slug = analysis.slug if isinstance(analysis, Analysis) else analysis
    if collections is None:
        collections = await fetch_collections(client, project)
    crawl_id = f"crawl.{slug}"
    wanted = [c for c in collections if c.id == crawl_id or not c.id.startswith("crawl.")]
    if only is not None:
        wanted = [c for c in wanted if c.id in only]
    wanted.sort(key=lambda c: (c.id != crawl_id, c.id != queries.GSC_COLLECTION))
    answers = await asyncio.gather(
        *(fetch_field_list(client, project, c, slug) for c in wanted), return_exceptions=True
    )
    found: list[CatalogField] = []
    read, unread = [], []
    for c, answer in zip(wanted, answers, strict=True):
        if isinstance(answer, (AuthError, PermissionDenied, RateLimited, TransportError)):
            raise answer
        if isinstance(answer, BaseException):
            if not isinstance(answer, ApiError):
                raise answer
            unread.append(c.id)  # no usable field list (refused, or not JSON): the defaults are probed
            continue
        read.append(c.id)
        found.extend(answer)
    gsc = next((c for c in collections if c.id == queries.GSC_COLLECTION), None)
    return FieldCatalog(
        analysis=slug,
        fields=tuple(found),
        read=tuple(read),
        unread=tuple(unread),
        gsc_start=_iso_day(gsc.date_start) if gsc else None,
        gsc_end=_iso_day(gsc.date_end) if gsc else None,
        has_gsc=gsc is not None,
        listed=tuple(c.id for c in collections),
    )


async def available_meta_fields(
    client: httpx.AsyncClient, project: ProjectRef, analysis: Analysis | str, *, only: tuple[str, ...] | None = None
) -> FieldAvailability:
    """The field catalogue, and which of the seven default fields this analysis has (no Search Console → no
    impressions/clicks; a default missing from the field lists is probed with a one-row query). `only`: the
    collections whose field lists to read (see `fetch_field_catalog`; default: all of them)."""
    slug = analysis.slug if isinstance(analysis, Analysis) else analysis
    collections = await fetch_collections(client, project)
    gsc = next((c for c in collections if c.id == queries.GSC_COLLECTION), None)
    catalog = await fetch_field_catalog(client, project, slug, collections=collections, only=only)
    fields: list[str] = []
    extra: list[CatalogField] = []
    for f in queries.META_FIELDS:
        if f.source == "gsc":
            ok = gsc is not None
        elif (entry := catalog.get(f.name)) is not None:
            ok = entry.exportable
        else:
            # Not in the crawl's field list (or no list): segmentation fields are global, for one.
            ok = await field_exists(client, project, slug, queries.field_id(slug, f))
        if ok:
            fields.append(f.name)
            if catalog.get(f.name) is None:
                extra.append(default_entry(f.name, queries.GSC_COLLECTION if f.source == "gsc" else f"crawl.{slug}"))
    if extra:
        catalog = dataclasses.replace(catalog, fields=(*extra, *catalog.fields))
    return FieldAvailability(fields=tuple(fields), gsc=gsc, catalog=catalog)


async def field_exists(client: httpx.AsyncClient, project: ProjectRef, analysis: str, field: str) -> bool:
    """Probe one field with a one-row query: any 4xx answer means the field is not available."""
    bql = {"collections": [f"crawl.{analysis}"], "query": {"dimensions": [field], "metrics": []}}
    try:
        await request_json(
            client,
            "POST",
            f"projects/{project.org}/{project.project}/query",
            f"checking field {field}",
            json=bql,
            params={"size": 1},
            read_only=True,
        )
    except (AuthError, PermissionDenied, NotFound, RateLimited):
        raise
    except ApiError as exc:
        if exc.status is not None and 400 <= exc.status < 500:
            return False
        raise
    return True


def _refusal(exc: ApiError) -> bool:
    """A 4xx that refuses the query itself (not the token, the project or the rate)."""
    if isinstance(exc, (AuthError, PermissionDenied, NotFound, RateLimited, MalformedResponse)):
        return False
    return exc.status is not None and 400 <= exc.status < 500


async def check_meta_fields(
    client: httpx.AsyncClient,
    project: ProjectRef,
    analysis: str,
    keys: tuple[str, ...],
    *,
    period: list[str] | None = None,
    suspects: tuple[str, ...] | None = None,
) -> None:
    """Ask Botify for one row of the meta query with these fields, before any export job is created.

    A refusal (a 4xx) is a ConfigError that names the refused field(s): each of `suspects` (default: every key)
    is then asked alone. Queries spend no export credits.
    """
    path = f"projects/{project.org}/{project.project}/query"

    async def ask(fields: tuple[str, ...]) -> ApiError | None:
        gsc = has_gsc(fields)
        bql = queries.meta_query(analysis, None, fields, period=period if gsc else None)
        try:
            await request_json(client, "POST", path, "checking the meta fields", json=bql, params={"size": 1},
                               read_only=True)  # fmt: skip
        except ApiError as exc:
            if not _refusal(exc):
                raise
            return exc
        return None

    refused = await ask(keys)
    if refused is None:
        return
    named = []
    for key in suspects if suspects is not None else keys:
        alone = await ask((key,))
        if alone is not None:
            named.append(f"{key} ({_reason(alone)})")
    if named:
        raise ConfigError(
            f"Botify refuses the field{'s' if len(named) > 1 else ''} {'; '.join(named)} for analysis {analysis}. "
            "Leave it out of the fields and run again; no export job was created."
        )
    raise ConfigError(
        f"Botify refuses the meta query with the fields {', '.join(keys)} ({_reason(refused)}), though it accepts "
        "each of them alone: try fewer fields. No export job was created."
    )


def _reason(exc: ApiError) -> str:
    """`400, error_code 1034: <Botify's message>` from an error `raise_for_api_error` made."""
    m = re.search(r"\(\d{3}(?:, error_code [^:]+)?: (.*)\)\.$", str(exc), re.S)
    code = f", error_code {exc.error_code}" if exc.error_code is not None else ""
    return f"{exc.status}{code}: {m.group(1) if m else exc}"


async def query(
    client: httpx.AsyncClient, project: ProjectRef, bql: dict[str, Any], *, page_size: int = 500
) -> list[QueryRow]:
    """Run a BQLv2 query and return every row (following pagination)."""
    items = await _paginate(
        client,
        "POST",
        f"projects/{project.org}/{project.project}/query",
        f"querying {project}",
        params={"size": page_size},
        json=bql,
    )
    rows, _ = parse_query_rows({"results": items, "next": None})
    return rows


def _int(value: Any, what: str) -> int:
    if value is None:
        return 0
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, float) and not math.isfinite(value))
    ):
        raise MalformedResponse(f"{what}: expected a number, got {value!r}.")
    return int(value)


async def edges_per_depth(client: httpx.AsyncClient, project: ProjectRef, analysis: str) -> dict[int, int]:
    """Internal links per click depth in ONE grouped query."""
    rows = await query(client, project, queries.depth_histogram_query(analysis))
    out: dict[int, int] = {}
    for row in rows:
        if len(row.dimensions) != 1 or len(row.metrics) != 1:
            raise MalformedResponse("depth query: expected one dimension and one metric per row.")
        depth = row.dimensions[0]
        if depth is None:
            continue  # pages without a depth (not linked) cannot be reached by a depth filter
        out[_int(depth, "depth")] = out.get(_int(depth, "depth"), 0) + _int(row.metrics[0], "edge sum")
    return out


async def find_optimal_depth(
    client: httpx.AsyncClient,
    project: ProjectRef,
    analysis: Analysis | str,
    max_edges: int = queries.MAX_EXPORT_ROWS,
    *,
    max_probe_depth: int = 10,
    allow_cut: bool = False,
) -> DepthChoice:
    """Deepest depth whose internal links fit `max_edges`: one grouped query, else one query per depth.

    Depth 1 alone over the limit: DepthTooLarge, or with `allow_cut` depth 1 cut at the limit.
    """
    slug = analysis.slug if isinstance(analysis, Analysis) else analysis
    try:
        per_depth = await edges_per_depth(client, project, slug)
        if per_depth:
            return choose_depth(per_depth, max_edges, requests=1, allow_cut=allow_cut)
    except (AuthError, PermissionDenied, NotFound, RateLimited, TransportError):
        raise
    except (ApiError, MalformedResponse):
        pass  # the API refused the grouped form: fall back to the per-depth probe
    cumulative: dict[int, int] = {}
    requests = 0
    for depth in range(1, max_probe_depth + 1):
        rows = await query(client, project, queries.edges_upto_query(slug, depth))
        requests += 1
        total = _int(rows[0].metrics[0], "edge sum") if rows and rows[0].metrics else 0
        grew = total > cumulative.get(depth - 1, -1)
        cumulative[depth] = total
        if total > max_edges or not grew:
            break
    per = per_depth_from_cumulative(cumulative)
    return choose_depth(per, max_edges, requests=requests + 1, allow_cut=allow_cut)


# -- complete exports: sizing the partitions (see `partition`) -----------------------------------------------


def _value(value: Any, field: str) -> Any:
    """A grouped query's dimension value for a partition field: an int (range fields), text, or None."""
    if value is None:
        return None
    kind = next(f.kind for f in partition.FIELDS if f.name == field)
    if kind == "range":
        return _int(value, f"{field} value")
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise MalformedResponse(f"{field} value: expected text, got {value!r}.")
    return value


async def depth_sizes(
    client: httpx.AsyncClient, project: ProjectRef, analysis: str
) -> list[tuple[int | None, int, int]]:
    """(depth, internal links, pages) per click depth in ONE grouped query; depth None: pages without one."""
    rows = await query(client, project, queries.depth_sizes_query(analysis))
    out: dict[int | None, tuple[int, int]] = {}
    for row in rows:
        if len(row.dimensions) != 1 or len(row.metrics) != 2:
            raise MalformedResponse("depth sizing query: expected one dimension and two metrics per row.")
        depth = _value(row.dimensions[0], "depth")
        links, pages = out.get(depth, (0, 0))
        out[depth] = (links + _int(row.metrics[0], "edge sum"), pages + _int(row.metrics[1], "page count"))
    return [(d, links, pages) for d, (links, pages) in sorted(out.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))]


async def grouped_sizes(
    client: httpx.AsyncClient, project: ProjectRef, analysis: str, field: str, conds: tuple[partition.Cond, ...],
    kind: str,
) -> list[tuple[Any, int]]:  # fmt: skip
    """The rows of one partition (links: outlinks summed; meta: pages) per value of `field`: ONE grouped query."""
    rows = await query(client, project, queries.sizing_query(analysis, field, conds, kind), page_size=2000)
    out: dict[Any, int] = {}
    for row in rows:
        if len(row.dimensions) != 1 or len(row.metrics) != 1:
            raise MalformedResponse(f"{field} sizing query: expected one dimension and one metric per row.")
        value = _value(row.dimensions[0], field)
        out[value] = out.get(value, 0) + _int(row.metrics[0], f"{kind} size")
    return list(out.items())


async def plan_partitions(
    client: httpx.AsyncClient,
    project: ProjectRef,
    analysis: str,
    kind: str,
    *,
    cap: int,
    margin: float = layout.PARTITION_MARGIN,
    sizes: dict[str, list[tuple[Any, int]]] | None = None,
    cut: dict[str, int] | None = None,
    max_queries: int = 500,
) -> partition.PartitionPlan:
    """The jobs of a complete `kind` export: plan, run the grouped query each oversized part needs, plan again.

    `sizes` is the groupings known so far (filled in place, so a later call with `cut` partitions asks only
    for what is new); `cut[id]`: rows a partition delivered when it came back cut.
    """
    sizes = {} if sizes is None else sizes
    for _ in range(max_queries):
        plan = partition.plan_partitions(kind, cap=cap, margin=margin, sizes=sizes, cut=cut)
        if plan.final:
            return plan
        for request in plan.pending:
            try:
                sizes[request.key] = await grouped_sizes(
                    client, project, analysis, request.field, request.partition.conds, kind
                )
            except (AuthError, PermissionDenied, NotFound, RateLimited):
                raise
            except ApiError as exc:
                if exc.status is None or not 400 <= exc.status < 500:
                    raise
                sizes[request.key] = []  # the project cannot group by this field (no segmentation?): the next one
    raise BotifyError(f"Planning the complete {kind} export took over {max_queries} sizing queries; giving up.")


async def export_plan(
    client: httpx.AsyncClient,
    project: ProjectRef,
    analysis: Analysis | str,
    max_edges: int = queries.MAX_EXPORT_ROWS,
    *,
    margin: float = layout.PARTITION_MARGIN,
    cache: dict[str, dict[str, list[tuple[Any, int]]]] | None = None,
) -> partition.ExportPlan:
    """What a normal, a cut and a complete export of `analysis` take (rows, jobs, credits): queries only.

    No job is created and no credit spent. `cache` (kind -> groupings) keeps the sizing for later re-plans.
    """
    slug = analysis.slug if isinstance(analysis, Analysis) else analysis
    cache = {} if cache is None else cache
    rows = await depth_sizes(client, project, slug)
    root = partition.sizing_key("", "depth")
    links_sizes = cache.setdefault("links", {})
    meta_sizes = cache.setdefault("meta", {})
    links_sizes[root] = [(d, links) for d, links, _ in rows]
    meta_sizes[root] = [(d, pages) for d, _, pages in rows]
    known = len(links_sizes) + len(meta_sizes)
    links_plan = await plan_partitions(client, project, slug, "links", cap=max_edges, margin=margin, sizes=links_sizes)
    meta_plan = await plan_partitions(client, project, slug, "meta", cap=max_edges, margin=margin, sizes=meta_sizes)
    per_depth = {d: links for d, links, _ in rows if d is not None}
    try:
        choice: DepthChoice | None = choose_depth(per_depth, max_edges, requests=1)
    except DepthTooLarge:
        choice = None
    return partition.ExportPlan(
        analysis=slug,
        max_edges=max_edges,
        margin=margin,
        links_per_depth=tuple(sorted(per_depth.items())),
        pages_per_depth=tuple(sorted((d, pages) for d, _, pages in rows if d is not None)),
        depth=choice,
        links=links_plan,
        meta=meta_plan,
        requests=1 + len(links_sizes) + len(meta_sizes) - known,
    )


def _same_export(listed: Job, payload: dict[str, Any]) -> bool:
    mine = payload.get("payload", {})
    theirs = listed.payload
    if not theirs:
        return False
    if theirs.get("username") not in (None, mine.get("username")) or theirs.get("project") not in (
        None,
        mine.get("project"),
    ):
        return False
    return bool(queries.payload_query(theirs) == queries.payload_query(mine))


async def find_existing_job(
    client: httpx.AsyncClient, payload: dict[str, Any], *, since: datetime | None = None, pages: int = 2
) -> Job | None:
    """A job already on the server for this exact export (created after `since`), if any."""
    body_payload = payload.get("payload", {})
    params = {"job_type": payload.get("job_type", "export"), "project": body_payload.get("project"), "size": 50}
    items = await _paginate(client, "GET", "jobs", "listing recent export jobs", params=params, max_pages=pages)
    for item in items:
        try:
            job = parse_job(item)
        except MalformedResponse:
            continue
        if not _same_export(job, payload):
            continue
        if since and job.date_created:
            try:
                created = datetime.fromisoformat(job.date_created.replace("Z", "+00:00"))
                if created < since - timedelta(minutes=5):
                    continue
            except ValueError:
                pass
        return job
    return None


#: error_code of "An advanced export is already running": Botify refused the job, so none was created.
JOB_REFUSED_CODES = frozenset({1058, "1058"})


def refusal_schedule(first: float = 10.0, factor: float = 1.5, cap: float = 120.0) -> Iterator[float]:
    """Delays before posting a refused job again: 10, 15, 22.5, ... up to `cap` seconds, forever."""
    delay = first
    while True:
        yield min(delay, cap)
        delay = min(delay * factor, cap)


def is_refusal(response: httpx.Response) -> bool:
    """True when Botify refused to create a job because other exports run (a 4xx with error_code 1058)."""
    if not 400 <= response.status_code < 500 or response.status_code in (401, 403, 404, 429):
        return False
    code, _ = _envelope(response)
    return isinstance(code, (int, str)) and not isinstance(code, bool) and code in JOB_REFUSED_CODES


async def create_export_job(
    client: httpx.AsyncClient,
    payload: dict[str, Any],
    *,
    on_uncertain: Callable[[str], None] | None = None,
    on_refused: Callable[[str], None] | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    refused_wait_s: float | None = layout.JOB_REFUSED_WAIT_S,
) -> Job:
    """POST /jobs once. If the answer is lost (broken connection or 5xx), look for the job before posting again.

    Botify does not make job creation idempotent and every job spends export credits, so a lost answer
    is resolved by listing recent jobs and matching the payload; only when no such job exists is the
    POST sent a second (and last) time.

    A *refused* POST (a 4xx with error_code 1058, "an advanced export is already running") created no job:
    it is posted again after a wait (`refusal_schedule`), for up to `refused_wait_s` seconds in all
    (None: JobRefused at once, for a caller that waits on its own).
    """
    if refused_wait_s is None:
        return await _post_job(client, payload, on_uncertain)
    return await post_until_accepted(
        lambda: _post_job(client, payload, on_uncertain),
        limit=refused_wait_s,
        on_refused=on_refused,
        sleep=sleep,
        clock=clock,
    )


async def post_until_accepted(
    post: Callable[[], Awaitable[Job]],
    *,
    limit: float,
    on_refused: Callable[[str], None] | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Job:
    """`post()`, called again after a wait (`refusal_schedule`) each time Botify refuses the job because other
    exports run (JobRefused), for up to `limit` seconds in all; `on_refused` hears what is said meanwhile."""
    start = clock()
    delays = refusal_schedule()
    refusals = 0
    while True:
        try:
            return await post()
        except JobRefused as exc:
            refusals += 1
            delay = refusal_delay(exc, delays, waited=clock() - start, limit=limit, refusals=refusals)
            if on_refused:
                on_refused(refused_message(delay))
            await sleep(delay)


def refusal_delay(exc: JobRefused, delays: Iterator[float], *, waited: float, limit: float, refusals: int) -> float:
    """The wait before posting a refused job again; JobRefused saying what to do once `limit` seconds are up."""
    delay = next(delays)
    if waited + delay > limit:
        raise exc.reworded(
            f"Botify refused the export job {refusals} time{'s' if refusals != 1 else ''} in {waited:.0f} s because "
            f"other exports are running ({exc}). Wait for them to finish, or run fewer jobs at once "
            "(--max-jobs 1), then run again: nothing was created."
        ) from None
    return delay


def refused_message(delay: float) -> str:
    """What to say while waiting to post a refused job again."""
    return f"Botify refused the job (other exports are running; nothing was created); posting it again in {delay:.0f} s"


async def _post_job(
    client: httpx.AsyncClient, payload: dict[str, Any], on_uncertain: Callable[[str], None] | None
) -> Job:
    started = datetime.now(timezone.utc)
    what = "creating the export job"
    response: httpx.Response | None = None
    for attempt in (1, 2):
        try:
            response = await client.post("jobs", json=payload)
            if response.status_code < 500:
                break
            lost = f"Botify answered {response.status_code}"
        except httpx.TransportError as exc:
            response, lost = None, f"the connection broke ({type(exc).__name__})"
        if attempt == 2:
            break
        if on_uncertain:
            on_uncertain(f"{lost} while creating the job; checking whether it exists before posting again")
        try:
            existing = await find_existing_job(client, payload, since=started)
        except BotifyError as list_exc:
            raise JobCreationUncertain(
                f"While creating the export job {lost}, and the job list could not be read to check whether "
                f"Botify created it ({list_exc}). Check the jobs in Botify before running again to avoid "
                "spending export credits twice."
            ) from None
        if existing is not None:
            return existing
    if response is None:
        raise JobCreationUncertain(
            "The connection broke twice while creating the export job. Check your network; run again to "
            "resume (botify-graph looks for the job before creating another)."
        )
    if is_refusal(response):
        code, message = _envelope(response)
        raise JobRefused(
            f"{response.status_code}, error_code {code}: {message or 'refused'}", status=response.status_code,
            error_code=code, url=response.request.url.path if response.request else None,
        )  # fmt: skip
    raise_for_api_error(response, what)
    try:
        return parse_job(response.json())
    except ValueError:
        raise MalformedResponse(f"Botify answered {response.status_code} with non-JSON while {what}.") from None


async def get_job(client: httpx.AsyncClient, job_url: str) -> Job:
    """Fetch a job's current state; `job_url` may be relative (/v1/jobs/123), absolute, or a bare id."""
    url = f"jobs/{job_url}" if str(job_url).isdigit() else resolve_api_url(client, str(job_url))
    return parse_job(await request_json(client, "GET", url, "checking the export job"))
