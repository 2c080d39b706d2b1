"""`botify-graph doctor`: will an export work against this API, with this token, for this project?

It asks the API what an export asks it (the token, the project's analyses, the collections and the crawl's
fields, the sizing query, the job list) and never what costs anything: no job is created, no credit spent.
Two halves, as everywhere here:

    observe(client, project, ...)   the thin async runner: sends the requests, keeps each raw answer and what
                                    the tool's own code makes of it (an `Observations`)
    diagnose(observations)          pure: turns them into findings (ok / warn / fail): what was found, what
                                    differs from what the tool expects, what to do

`run_doctor` does both and returns a `DoctorReport` (text for people, a dict for `--json`); a report with a
"fail" finding means an export would fail. The export jobs themselves are the one thing not tried.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from . import api, layout, queries
from .depth import DepthChoice
from .errors import BotifyError, MalformedResponse
from .fsutil import write_problem
from .models import JOB_STATUSES, Analysis, parse_collections, parse_page
from .urls import ProjectRef

__all__ = [
    "Answer",
    "DoctorReport",
    "Finding",
    "Observations",
    "diagnose",
    "observe",
    "run_doctor",
]

LEVELS = ("ok", "warn", "fail")
#: what the docs say an analysis's status can be (shared/botify-api.md §2)
ANALYSIS_STATUSES = ("preparing", "crawling", "crawling_paused", "analyzing", "success", "failed")
ENVELOPE = ("count", "next", "previous", "page", "size", "results")
#: crawl fields the links export and the sizing query cannot do without
LINK_FIELDS = ("url", "depth", "outlinks_internal.graph.url", "outlinks_internal.nb.total")
BYTES_PER_LINK = 130  # two URLs and a comma, plus the download and the part file being written at once
BYTES_PER_PAGE = 160  # a URL and the meta columns
TRACE_HINT = "send us a trace: run the doctor again with --trace FILE and attach FILE (it holds no token)"


@dataclass(frozen=True)
class Answer:
    """One raw answer: the status (None when no answer came), the JSON body, or what stood in its place."""

    request: str  # "GET /authentication/profile"
    status: int | None
    body: Any = None  # the parsed JSON; None when the body is not JSON (see `text`) or there was no answer
    text: str = ""  # the start of a body that is not JSON
    error: str = ""  # why there was no answer (a broken connection, a timeout)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300 and not self.text

    def said(self) -> str:
        """What came back, in a few words (for `found`)."""
        if self.status is None:
            return f"{self.request}: no answer ({self.error})"
        message = _message(self.body) or (self.text[:80] if self.text else "")
        return f"{self.request} answered {self.status}" + (f" ({message})" if message else "")


@dataclass(frozen=True)
class Output:
    """The output folder as the doctor found it."""

    folder: str
    writable: bool
    free_bytes: int | None  # None when unknown
    problem: str = ""


@dataclass(frozen=True)
class Observations:
    """Everything the doctor asked and what came back; the input of `diagnose`."""

    project: ProjectRef | None  # None: the token alone (the wizard's Connect step, before a project)
    api_base: str
    max_edges: int
    wanted: str | None  # the analysis asked for (None: the one the tool would pick)
    profile: Answer
    light: Answer | None  # the first page of the analyses list, as the tool asks for it
    analysis: Analysis | None = None  # what the tool's own code picks (None: it could not)
    analysis_error: str = ""
    collections: Answer | None = None
    fields: Answer | None = None  # the crawl collection's field list
    probes: Mapping[str, bool] = field(default_factory=dict)  # field slug -> answers a one-row query
    meta_fields: tuple[str, ...] | None = None  # what the tool would export (None: it could not tell)
    meta_error: str = ""
    sizing: Answer | None = None  # the grouped depth query, first page
    choice: DepthChoice | None = None
    sizing_error: str = ""
    jobs: Answer | None = None
    output: Output | None = None


@dataclass(frozen=True)
class Finding:
    """One check: its level, what was found, what differs from what the tool expects, and what to do."""

    check: str
    level: str  # "ok" | "warn" | "fail"
    found: str
    differs: str = ""
    todo: str = ""

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, not {self.level!r}")


@dataclass(frozen=True)
class DoctorReport:
    """The findings for one project; `ok` is False when an export would fail."""

    project: ProjectRef | None
    api_base: str
    analysis: str | None
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not any(f.level == "fail" for f in self.findings)

    def counts(self) -> dict[str, int]:
        return {level: sum(f.level == level for f in self.findings) for level in LEVELS}

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project.url if self.project is not None else None,
            "api_base": self.api_base,
            "analysis": self.analysis,
            "ok": self.ok,
            "counts": self.counts(),
            "findings": [vars(f) for f in self.findings],
            "created_nothing": True,
        }

    def to_text(self) -> str:
        """The report as a person reads it in a terminal."""
        what = f"{self.project} · analysis {self.analysis or '?'}" if self.project is not None else "the token"
        head = f"botify-graph doctor · {what} · API {self.api_base}"
        out = [head, ""]
        width = max((len(f.check) for f in self.findings), default=8)
        pad = " " * (2 + 4 + 2 + width + 2)
        for f in self.findings:
            out.append(f"  {f.level:<4}  {f.check:<{width}}  {f.found}")
            if f.differs:
                out.append(f"{pad}differs: {f.differs}")
            if f.todo:
                out.append(f"{pad}do: {f.todo}")
        c = self.counts()
        out.append("")
        if self.ok:
            verdict = "an export should work" + (f" ({c['warn']} warning(s) above)" if c["warn"] else "") + "."
        else:
            verdict = f"an export would fail: {c['fail']} problem(s) above."
        out.append(f"Result: {verdict}")
        out.append(
            "Nothing was created and no credit was spent (creating the export jobs, which spends credits, is the "
            "one step not tried)."
        )
        out.append(f"If an export still fails, {TRACE_HINT}.")
        return "\n".join(out)


# --- pure: what the answers mean ----------------------------------------------------------------------------


def _message(body: Any) -> str:
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            code = err.get("error_code")
            return err["message"] + (f", code {code}" if code is not None else "")
        if isinstance(body.get("detail"), str):
            return str(body["detail"])
    return ""


def _shape(body: Any) -> str:
    if isinstance(body, list):
        return f"a list of {len(body)}"
    if isinstance(body, dict):
        keys = ", ".join(list(body)[:8]) + (", ..." if len(body) > 8 else "")
        return f"an object with {keys or 'no keys'}"
    return "nothing" if body is None else type(body).__name__


def profile_finding(profile: Answer, token_works: bool) -> Finding:
    """The undocumented profile endpoint: never worse than a warning (the token is checked elsewhere)."""
    check = "profile"
    if profile.ok:
        try:
            user = api.profile_username(profile.body)
        except MalformedResponse:
            return Finding(
                check,
                "warn",
                f"{profile.request} answered {profile.status} without data.username.",
                differs=f'expected {{"data": {{"username": ...}}}}, got {_shape(profile.body)}',
                todo="nothing: the token is checked with the analyses list and the user is shown as unknown.",
            )
        return Finding(check, "ok", f"The token belongs to {user}.")
    if profile.status in (401, 403) and token_works:
        differs = f"it refuses ({profile.status}) a token the analyses list accepts"
    elif profile.status in (404, 405):
        differs = "the endpoint is not there (it is not in Botify's documentation)"
    else:
        differs = "expected 200 with data.username"
    return Finding(
        check,
        "warn",
        profile.said(),
        differs=differs,
        todo="nothing: the token is checked with the analyses list instead; the user's name is not shown.",
    )


def token_finding(light: Answer, profile: Answer, project: ProjectRef) -> Finding:
    """Does the token work for this project? Answered by the analyses list (documented)."""
    check = "token"
    status = light.status
    if light.ok:
        who = " (user unknown: see the profile check)"
        if profile.ok:
            try:
                who = f" (user {api.profile_username(profile.body)})"
            except MalformedResponse:
                pass
        return Finding(check, "ok", f"The token works for {project}{who}.")
    if status == 401:
        return Finding(
            check,
            "fail",
            light.said(),
            differs="Botify rejects the token",
            todo="check BOTIFY_API_TOKEN, or paste a fresh token from your Botify profile (regenerating a token "
            "invalidates the old one).",
        )
    if status == 403:
        return Finding(
            check,
            "fail",
            light.said(),
            differs=f"the token cannot see {project}",
            todo="check the organisation and project in the URL, or ask the project's admin for access.",
        )
    if status == 404:
        return Finding(
            check,
            "fail",
            light.said(),
            differs=f"no project {project}",
            todo="copy the project URL again from the browser (https://app.botify.com/<org>/<project>/...).",
        )
    if status is None:
        return Finding(
            check, "fail", light.said(), todo="check your network and the API base URL (--api-base), then retry."
        )
    return Finding(
        check,
        "fail",
        light.said(),
        differs="expected 200",
        todo=f"try again in a few minutes; if it persists, {TRACE_HINT}.",
    )


def analyses_findings(obs: Observations) -> list[Finding]:
    """The analyses list's envelope and statuses, and which analysis the tool would export."""
    light = obs.light
    if light is None or not light.ok:
        return []  # the token finding said why
    out: list[Finding] = []
    body = light.body
    try:
        page = parse_page(body, "analyses")
    except MalformedResponse:
        return [
            Finding(
                "analyses",
                "fail",
                f"{light.request} answered {_shape(body)}.",
                differs="expected the paginated envelope {" + ", ".join(ENVELOPE) + "} (Botify's Swagger and docs)",
                todo=f"the tool cannot read this answer; {TRACE_HINT}.",
            )
        ]
    items = [i for i in page.results if isinstance(i, dict)]
    count = body.get("count") if isinstance(body, dict) else None
    missing = [k for k in ENVELOPE if isinstance(body, dict) and k not in body]
    if "next" in missing:
        beyond = isinstance(count, int) and not isinstance(count, bool) and count > len(items)
        out.append(
            Finding(
                "analyses",
                "warn",
                f"{light.request} listed {len(items)} analyses"
                + (f" (of {count})" if isinstance(count, int) else "")
                + " without a `next` key.",
                differs="no `next` key: the tool reads this as the last page"
                + (f", so it sees {len(items)} of {count} analyses" if beyond else ""),
                todo=f"nothing if the analysis you want is among the newest; else {TRACE_HINT}.",
            )
        )
    unknown = sorted({i["status"] for i in items if isinstance(i.get("status"), str)} - set(ANALYSIS_STATUSES))
    if unknown:
        newest = items[0] if items else {}
        skipped = newest.get("status") in unknown
        out.append(
            Finding(
                "analyses",
                "warn",
                f"Analysis statuses the docs do not list: {', '.join(map(repr, unknown))}.",
                differs="the documented statuses are "
                + ", ".join(ANALYSIS_STATUSES)
                + (
                    f"; the newest analysis {newest.get('slug')!r} says {newest.get('status')!r}, so the tool skips "
                    "it (it exports analyses whose status is 'success')"
                    if skipped
                    else ""
                ),
                todo=f"if {newest.get('slug')} is a finished crawl, {TRACE_HINT}." if skipped else "nothing.",
            )
        )
    if obs.analysis is None:
        out.append(
            Finding(
                "analysis",
                "fail",
                obs.analysis_error or "The tool found no analysis to export.",
                todo="pick a finished analysis with --analysis SLUG (the newest are listed above), or wait for "
                "the crawl to finish.",
            )
        )
    else:
        a = obs.analysis
        if not out:
            out.append(Finding("analyses", "ok", f"The analyses list reads as documented ({len(items)} on page 1)."))
        name = f" ({a.name})" if a.name else ""
        urls = f", {a.urls_done:,} URLs crawled" if a.urls_done else ""
        how = "asked for" if obs.wanted else "the newest finished one"
        out.append(Finding("analysis", "ok", f"Analysis {a.slug}{name}: {how}{urls}."))
    return out


def collections_findings(obs: Observations) -> list[Finding]:
    """The collections list: a bare list (as the docs say, not the Swagger), with the crawl and GSC."""
    answer, a = obs.collections, obs.analysis
    if answer is None or a is None:
        return []
    if not answer.ok:
        return [
            Finding(
                "collections",
                "fail",
                answer.said(),
                differs="expected 200 with a list of collections",
                todo=f"try again later; if it persists, {TRACE_HINT}.",
            )
        ]
    try:
        listed = parse_collections(answer.body)
    except MalformedResponse:
        return [
            Finding(
                "collections",
                "fail",
                f"{answer.request} answered {_shape(answer.body)}.",
                differs="expected a bare list of collections (Botify's docs; the Swagger says one object)",
                todo=f"the tool cannot read this answer; {TRACE_HINT}.",
            )
        ]
    ids = {c.id for c in listed}
    out = []
    if isinstance(answer.body, dict):
        out.append(
            Finding(
                "collections",
                "warn",
                "The collections came inside an object's `results`.",
                differs="the docs give a bare list",
                todo="nothing: the tool reads both.",
            )
        )
    if a.collection not in ids:
        out.append(
            Finding(
                "collections",
                "fail",
                f"{a.collection} is not among the {len(ids)} collections listed.",
                differs="every export queries the crawl collection crawl.<analysis>",
                todo=f"pick another analysis with --analysis SLUG; if this crawl is finished, {TRACE_HINT}.",
            )
        )
        return out
    gsc = queries.GSC_COLLECTION in ids
    out.append(
        Finding(
            "collections",
            "ok",
            f"{a.collection} is listed"
            + (", and search_console" if gsc else "; no search_console, so no impressions or clicks")
            + ".",
        )
    )
    return out


def _listed_fields(body: Any) -> tuple[set[str], bool]:
    """(field ids and aliases, whether the body has the documented datasets[].fields[].id shape)."""
    datasets = body.get("datasets") if isinstance(body, dict) else None
    if not isinstance(datasets, list):
        return set(), False
    ids: set[str] = set()
    shaped = True
    for ds in datasets:
        fields = ds.get("fields") if isinstance(ds, dict) else None
        if not isinstance(fields, list):
            shaped = False
            continue
        for f in fields:
            if not isinstance(f, dict) or not isinstance(f.get("id"), str):
                shaped = False
                continue
            ids.add(f["id"])
            ids.update(x for x in f.get("aliases") or [] if isinstance(x, str))
    return ids, shaped


def fields_findings(obs: Observations) -> list[Finding]:
    """The crawl collection's field list: the links fields the tool needs, and which meta fields it exports."""
    answer, a = obs.fields, obs.analysis
    if answer is None or a is None:
        return []
    out: list[Finding] = []
    listed, shaped = _listed_fields(answer.body) if answer.ok else (set(), False)
    if not answer.ok or not shaped:
        out.append(
            Finding(
                "fields",
                "warn",
                answer.said() if not answer.ok else f"{answer.request} answered {_shape(answer.body)}.",
                differs='expected {"datasets": [{"fields": [{"id": ...}]}]}',
                todo="nothing: the tool checks each field with a one-row query instead (slower, no credit).",
            )
        )

    def known(slug: str) -> bool:
        return f"{a.collection}.{slug}" in listed or slug in listed

    unlisted = [s for s in LINK_FIELDS if not known(s)]
    absent = [s for s in unlisted if not obs.probes.get(s, False)]
    quiet = [s for s in unlisted if obs.probes.get(s, False)]
    if absent:
        out.append(
            Finding(
                "fields",
                "fail",
                f"{a.collection} has no {', '.join(absent)} (not listed, and a query naming it is refused).",
                differs="the links export and its sizing need " + ", ".join(LINK_FIELDS),
                todo=f"pick another analysis with --analysis SLUG; if this crawl should have them, {TRACE_HINT}.",
            )
        )
    if quiet:
        out.append(
            Finding(
                "fields",
                "warn",
                f"Not in the field list of {a.collection}, but queries accept them: {', '.join(quiet)}.",
                differs="the field list does not name every field the tool uses",
                todo="nothing: the tool checks unlisted fields with a one-row query.",
            )
        )
    if not absent and not quiet and shaped:
        prefixed = any(x.startswith(f"{a.collection}.") for x in listed)
        form = f"as full ids like {a.collection}.depth" if prefixed else "as bare slugs like depth"
        out.append(Finding("fields", "ok", f"{a.collection} lists the link fields the tool needs, {form}."))
    wanted = [f.name for f in queries.META_FIELDS]
    if obs.meta_fields is None:
        out.append(
            Finding(
                "meta",
                "fail",
                obs.meta_error or "The tool could not tell which page attributes the project has.",
                todo=f"try again later; if it persists, {TRACE_HINT}.",
            )
        )
    else:
        left = [n for n in wanted if n not in obs.meta_fields]
        out.append(
            Finding(
                "meta",
                "ok" if obs.meta_fields else "warn",
                "Page attributes exported: "
                + (", ".join(obs.meta_fields) or "none")
                + (f"; not available: {', '.join(left)}" if left else "")
                + ".",
                todo="" if obs.meta_fields else "the meta file would hold URLs only.",
            )
        )
    return out


def sizing_findings(obs: Observations) -> list[Finding]:
    """The grouped sizing query's answer and the depth it gives."""
    answer = obs.sizing
    if answer is None or obs.analysis is None:
        return []
    out: list[Finding] = []
    if answer.ok:
        body = answer.body
        try:
            page = parse_page(body, "query")
        except MalformedResponse:
            page = None
            out.append(
                Finding(
                    "sizing",
                    "warn",
                    f"{answer.request} answered {_shape(body)}.",
                    differs='expected {"results": [{"dimensions": [depth], "metrics": [links]}], "next": ...}',
                    todo="nothing if a depth is found below: the tool falls back to one query per depth.",
                )
            )
        if page is not None and isinstance(body, dict) and "next" not in body:
            out.append(
                Finding(
                    "sizing",
                    "warn",
                    f"{answer.request} answered {len(page.results)} rows without a `next` key.",
                    differs="no `next` key: the tool reads this as the last page",
                    todo="nothing: a depth histogram is one short page.",
                )
            )
    elif answer.status is not None and 400 <= answer.status < 500 and answer.status not in (401, 403):
        out.append(
            Finding(
                "sizing",
                "warn",
                answer.said(),
                differs="the grouped query (links summed per depth) is refused",
                todo="nothing if a depth is found below: the tool falls back to one query per depth.",
            )
        )
    choice = obs.choice
    if choice is None:
        out.append(
            Finding(
                "depth",
                "fail",
                obs.sizing_error or "The links could not be counted per depth.",
                todo="raise --max-edges if your Botify plan allows larger exports, or pick another analysis."
                if "over the export limit" in obs.sizing_error
                else f"try again later; if it persists, {TRACE_HINT}.",
            )
        )
        return out
    whole = " (the whole link graph)" if choice.whole_graph else ""
    total = choice.cumulative[-1][1] if choice.cumulative else choice.edges
    out.append(
        Finding(
            "depth",
            "ok",
            f"Depth {choice.depth}: {choice.edges:,} of the crawl's {total:,} internal links fit the limit of "
            f"{choice.max_edges:,} rows{whole}.",
        )
    )
    return out


def jobs_finding(answer: Answer | None) -> list[Finding]:
    """The job list: read only when a job POST loses its answer, to avoid paying twice."""
    if answer is None:
        return []
    if not answer.ok:
        return [
            Finding(
                "jobs",
                "warn",
                answer.said(),
                differs="the job list cannot be read",
                todo="nothing unless a job POST loses its answer: the tool then stops rather than risk paying twice.",
            )
        ]
    try:
        page = parse_page(answer.body, "jobs")
    except MalformedResponse:
        return [
            Finding(
                "jobs",
                "warn",
                f"{answer.request} answered {_shape(answer.body)}.",
                differs="expected the paginated envelope with `results`",
                todo="nothing unless a job POST loses its answer: the tool then stops rather than risk paying twice.",
            )
        ]
    statuses = {i.get("job_status") for i in page.results if isinstance(i, dict)}
    odd = sorted(str(s) for s in statuses - set(JOB_STATUSES))
    if odd:
        return [
            Finding(
                "jobs",
                "warn",
                f"Job statuses the tool does not know: {', '.join(odd)}.",
                differs="expected " + ", ".join(JOB_STATUSES),
                todo=f"an export whose job says one of these stops with an error; {TRACE_HINT}.",
            )
        ]
    return [Finding("jobs", "ok", f"The job list reads as documented ({len(page.results)} recent export job(s)).")]


def estimate_bytes(choice: DepthChoice | None, analysis: Analysis | None) -> int:
    """About how much disk an export takes while it is written (both files, download and part file)."""
    links = choice.edges if choice is not None else 0
    pages = analysis.urls_done if analysis is not None and analysis.urls_done else 0
    return links * BYTES_PER_LINK + pages * BYTES_PER_PAGE


def output_finding(out: Output | None, needed: int) -> list[Finding]:
    """Can the output folder take the files?"""
    if out is None:
        return []
    if not out.writable:
        return [
            Finding(
                "output",
                "fail",
                f"{out.folder} cannot be written to{': ' + out.problem if out.problem else ''}.",
                todo="choose another folder with --out (or $BOTIFY_GRAPH_OUT), or make this one writable.",
            )
        ]
    mb = needed / 1e6
    if out.free_bytes is not None and needed and out.free_bytes < needed:
        return [
            Finding(
                "output",
                "fail",
                f"{out.folder}: {out.free_bytes / 1e6:,.1f} MB free, the export needs about {mb:,.1f} MB.",
                todo="free some space there, or choose another folder with --out.",
            )
        ]
    free = f", {out.free_bytes / 1e6:,.0f} MB free" if out.free_bytes is not None else ""
    need = f" (the export needs about {mb:,.1f} MB)" if needed else ""
    return [Finding("output", "ok", f"{out.folder} is writable{free}{need}.")]


def token_only_findings(profile: Answer) -> list[Finding]:
    """Before a project is chosen, the profile endpoint is all there is to ask (see `api.check_token`)."""
    if profile.ok:
        try:
            user = api.profile_username(profile.body)
            return [Finding("token", "ok", f"The token works (user {user}).")]
        except MalformedResponse:
            pass
    if profile.status == 401:
        return [
            Finding(
                "token",
                "fail",
                profile.said(),
                differs="Botify rejects the token",
                todo="paste a fresh token from your Botify profile (regenerating a token invalidates the old one).",
            )
        ]
    if profile.status is None:
        return [Finding("token", "fail", profile.said(), todo="check your network and the API base URL, then retry.")]
    return [
        profile_finding(profile, False),
        Finding(
            "token",
            "warn",
            "Not checked yet: the profile endpoint cannot say whose token this is.",
            todo="choose a project: listing its analyses checks the token.",
        ),
    ]


def diagnose(obs: Observations) -> list[Finding]:
    """Every finding, in the order an export meets them."""
    if obs.project is None or obs.light is None:
        return token_only_findings(obs.profile) + output_finding(obs.output, 0)
    token = token_finding(obs.light, obs.profile, obs.project)
    findings = [token, profile_finding(obs.profile, token.level == "ok")]
    if token.level != "ok":
        return findings + output_finding(obs.output, 0)
    findings += analyses_findings(obs)
    collections = collections_findings(obs)
    findings += collections
    fields = fields_findings(obs)
    if any(f.level == "fail" for f in collections):  # the meta check would only repeat it
        fields = [f for f in fields if f.check != "meta"]
    findings += fields
    findings += sizing_findings(obs)
    findings += jobs_finding(obs.jobs)
    findings += output_finding(obs.output, estimate_bytes(obs.choice, obs.analysis))
    return findings


# --- the runner: ask, keep every answer ----------------------------------------------------------------------


async def _ask(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    params: dict[str, Any] | None = None,
    json: Any = None,
) -> Answer:
    request = f"{method} /{url.split('?', 1)[0]}"
    try:
        response = await client.request(
            method, url, params=params, json=json, extensions={"idempotent": True} if method == "POST" else None
        )
    except httpx.TransportError as exc:
        return Answer(request, None, error=f"{type(exc).__name__}: {exc}")
    try:
        return Answer(request, response.status_code, response.json())
    except ValueError:
        text = " ".join((response.text or "").split())[:200]
        return Answer(request, response.status_code, None, text=text or "(empty body)")


def _output(folder: Path) -> Output:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free: int | None = shutil.disk_usage(probe).free
    except OSError:
        free = None
    problem = write_problem(folder)
    return Output(str(folder), problem is None, free, problem or "")


async def observe(
    client: httpx.AsyncClient,
    project: ProjectRef | None,
    *,
    analysis: str | None = None,
    max_edges: int = layout.MAX_EXPORT_ROWS,
    out_dir: str | os.PathLike[str] | None = None,
) -> Observations:
    """Ask the API what an export would ask it (reads and queries only) and keep every answer.

    `out_dir` (default: as `layout.out_dir` decides) is checked for room and write access. Without a
    `project`, only the token is checked.
    """
    base = str(client.base_url).rstrip("/")
    profile = await _ask(client, "GET", api.PROFILE)
    if project is None:
        return Observations(None, base, max_edges, None, profile, None, output=_output(layout.out_dir(out_dir)))
    wanted = analysis if analysis not in (None, "", "latest") else project.analysis
    output = _output(layout.project_dir(layout.out_dir(out_dir), project))
    light_url = f"analyses/{project.org}/{project.project}/light"
    light = await _ask(client, "GET", light_url, params={"page": 1, "size": 100, "only_success": "true"})
    obs = Observations(project, base, max_edges, wanted, profile, light, output=output)
    if not light.ok:
        return obs
    try:
        chosen: Analysis | None = await api.resolve_analysis(client, project, wanted)
        analysis_error = ""
    except BotifyError as exc:
        chosen, analysis_error = None, str(exc)
    obs = replace(obs, analysis=chosen, analysis_error=analysis_error)
    if chosen is None:
        return obs
    slug, crawl = chosen.slug, chosen.collection
    collections = await _ask(client, "GET", f"projects/{project.org}/{project.project}/collections")
    fields = await _ask(client, "GET", f"projects/{project.org}/{project.project}/collections/{crawl}")
    listed, _ = _listed_fields(fields.body) if fields.ok else (set(), False)
    probes: dict[str, bool] = {}
    for slug_ in LINK_FIELDS:
        if f"{crawl}.{slug_}" not in listed and slug_ not in listed:
            try:
                probes[slug_] = await api.field_exists(client, project, slug, f"{crawl}.{slug_}")
            except BotifyError:
                probes[slug_] = False
    try:
        meta: tuple[str, ...] | None = (await api.available_meta_fields(client, project, chosen)).fields
        meta_error = ""
    except BotifyError as exc:
        meta, meta_error = None, str(exc)
    sizing = await _ask(
        client,
        "POST",
        f"projects/{project.org}/{project.project}/query",
        params={"size": 500},
        json=queries.depth_histogram_query(slug),
    )
    try:
        choice: DepthChoice | None = await api.find_optimal_depth(client, project, chosen, max_edges)
        sizing_error = ""
    except BotifyError as exc:
        choice, sizing_error = None, str(exc)
    jobs = await _ask(client, "GET", "jobs", params={"job_type": "export", "project": project.project, "size": 10})
    return replace(
        obs,
        collections=collections,
        fields=fields,
        probes=probes,
        meta_fields=meta,
        meta_error=meta_error,
        sizing=sizing,
        choice=choice,
        sizing_error=sizing_error,
        jobs=jobs,
    )


async def run_doctor(
    client: httpx.AsyncClient,
    project: ProjectRef | None,
    *,
    analysis: str | None = None,
    max_edges: int = layout.MAX_EXPORT_ROWS,
    out_dir: str | os.PathLike[str] | None = None,
) -> DoctorReport:
    """Check everything an export needs, spending nothing; see the module docstring."""
    obs = await observe(client, project, analysis=analysis, max_edges=max_edges, out_dir=out_dir)
    slug = obs.analysis.slug if obs.analysis is not None else obs.wanted
    return DoctorReport(project, obs.api_base, slug, tuple(diagnose(obs)))
