"""How the fake Botify API misbehaves: one dataclass of knobs, and named presets.

The defaults are what `shared/botify-api.md` says the real API does (5 requests/s per endpoint, 429 without
Retry-After, docs-mode formatter defaults, gzip, relative job_url, ...); every fault is off by default.
Counters such as "first N" count from the moment the server starts (or from `FakeBotify.reset_counters()`),
and `ALWAYS` means "every time".
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

ALWAYS = 1_000_000_000

_ERROR_BODIES = ("text", "html", "envelope")
_FAILURE_LOCATIONS = ("error", "results", "failure_reason")
_FORMATTER_MODES = ("docs", "observed")
_PROFILES = ("ok", "missing", "not-allowed", "refused", "no-username")
_LIGHT_SHAPES = ("drf", "list", "no-next")
_COLLECTIONS_SHAPES = ("list", "object")


@dataclass(frozen=True)
class Scenario:
    """Knobs of the fake API. All faults are off by default; see each field's comment.

    Rate limiting
      rate_limit_qps        requests per second allowed per endpoint (sliding 1 s window over *accepted*
                            requests; method + path template is the endpoint). None disables it. Over the
                            limit: 429 with envelope error_code 1053. The CDN is never rate limited.
      retry_after           send `Retry-After: <seconds>` (an integer, rounded up) with every 429.
      storm_429             the first N authenticated requests of *each* endpoint get 429 (a "429 storm"),
                            before the QPS window is even considered.

    Transient server errors (before authentication, like a gateway would)
      error_first_n         the first N requests of each API endpoint get `error_status`.
      error_every_n         every Nth API request (counted over all endpoints) gets `error_status`.
      error_status          500, 502, 503 or 504.
      error_body            "text" (plain text), "html" (an nginx-like HTML page) or "envelope"
                            (`{"error": {"error_code": 1000, "message": "Unknown error"}}`).
      latency_ms            (low, high): every request (API and CDN) sleeps uniformly in this range first.

    The token and the undocumented profile endpoint
      profile               how GET /authentication/profile answers: "ok" (`{"data": {"username": ...}}`),
                            "missing" (404 before any token check, as an unknown route), "not-allowed" (405),
                            "refused" (403, code
                            1002) or "no-username" (200 without `data.username`).
      echo_token            every API answer echoes the Authorization header it received, in the header
                            `X-Echo-Authorization` and (JSON objects) under the key `echo`, with the bare token,
                            the token padded with whitespace and its first 12 characters.
      revoke_token_after_polls   after this many GET /jobs/{id} (over all jobs) the token is revoked
                            ("regenerated" in Botify): it gets 401 everywhere; `FakeBotify.new_token` works.

    Shapes that differ from the contract (for `botify-graph doctor`)
      light_shape           /analyses/.../light answers "drf" (the paginated envelope), "list" (a bare list of
                            analyses) or "no-next" (the envelope without its `next` key).
      odd_analysis_status   the newest analysis reports this status instead of "success" (e.g. "done").
      collections_shape     /collections answers "list" (as the docs say) or "object" (`{"collections": [...]}`).
      hide_fields           crawl field slugs left out of the crawl collection's field list (still queryable).
      absent_fields         crawl field slugs that do not exist: left out of the list, 400 (1029) in a query
                            or a job.

    Pagination
      light_default_size / light_max_size    page size of /analyses/.../light when `size` is absent / its cap.
      query_default_size / query_max_size    same for /projects/.../query (contract: 500 / 2000).
      jobs_default_size / jobs_max_size      same for GET /jobs.
      max_page_size         caps every paginated endpoint at once (e.g. 2 to force clients to follow `next`).
      query_multi_limit     a /query with the multi-valued `outlinks_internal.graph.url` dimension answers
                            400 (1043 "query too big") when it would produce more rows than this.

    Export jobs
      polls_to_done         the Nth GET /jobs/{id} is the first that may answer DONE (earlier ones answer
                            PROCESSING; the POST answers CREATED). 0 and 1 both mean "the first poll".
      job_seconds           and at least this many wall-clock seconds must have passed since the POST.
                            A job also stays PROCESSING until its file is written (large exports take seconds).
      job_seconds_links / job_seconds_meta   the same for links (or meta) jobs only; None: `job_seconds`.
      drop_job_posts        the first N POST /jobs create the job, then close the connection without any
                            response (the client cannot know the job exists; GET /jobs lists it).
      fail_jobs             the first N jobs that match `fail_match` end FAILED instead of DONE.
      fail_match            None (every job) or a substring of the job's JSON query, e.g.
                            "outlinks_internal" to fail only link-graph exports.
      failure_location      where a FAILED job carries its reason: "error" (`{"error": {"error_code": 1060,
                            "message": ...}}`, results null), "results" (`results = {"error_code", "message"}`)
                            or "failure_reason" (a top-level string).
      nb_lines              add `results.nb_lines` (data rows, without sep=/header lines) to DONE jobs.
      max_export_size       the export_size limit of one job: a POST asking for more answers 400 (1020).
                            Every export stops at its own export_size rows (the file is cut there).
      max_running_jobs      None: no limit. Else a POST /jobs while this many export jobs of the organisation
                            still run answers 400 with error_code 1058 ("An advanced export is already
                            running") and creates nothing. A job runs from its POST until its file is written
                            and its job_seconds have passed, whether or not anyone polls it.

    Sizing
      outlinks_undercount   `outlinks_internal.nb.total` reports this fraction fewer links than the page has
                            (rounded down), in queries, filters and exports alike: sums sized from it come
                            out lower than the rows an export holds (nothing documents that they agree).

    Export files
      formatter_defaults    defaults for formatter_config keys the client left out: "docs" (print_header
                            true, print_delimiter true, header_format verbose) or "observed" (false, false,
                            verbose: what a captured real job showed). Explicit values always win.
      force_docs_formatter  write `sep=,` and a verbose header whatever the job asked (the echoed payload
                            still shows what was asked).
      force_zip             serve every export as a .zip holding one .csv, whatever the job asked.

    Downloads (the CDN listener)
      download_ttl_s        a download URL older than this answers 403 (XML body); GET /jobs/{id} again
                            issues a fresh URL (every GET of a DONE job does).
      expire_first_n_downloads   the first N download requests answer 403 and burn the URL they used.
      truncate_downloads    the first N downloads send the full Content-Length, half the body, then close.
      corrupt_downloads     the first N downloads have bytes flipped in the middle (magic bytes intact).
      zip_without_csv       the first N downloads are a zip holding only `manifest.json`.
      cdn_429 / cdn_503     the first N download requests answer 429 (then the next M answer 503), with an
                            XML body, before anything is sent; `cdn_retry_after` adds `Retry-After: 1`.
      cdn_ranges            honour `Range: bytes=N-` (206 with Content-Range, `If-Range` checked against the
                            ETag) and say `Accept-Ranges: bytes`; False: ignore Range and send the whole file.
                            Botify documents neither; CloudFront and S3 do ranges, so it is on by default.
    """

    rate_limit_qps: float | None = 5.0
    retry_after: bool = False
    storm_429: int = 0

    error_first_n: int = 0
    error_every_n: int = 0
    error_status: int = 503
    error_body: str = "text"
    latency_ms: tuple[float, float] = (0.0, 0.0)

    light_default_size: int = 30
    light_max_size: int = 100
    query_default_size: int = 500
    query_max_size: int = 2000
    jobs_default_size: int = 30
    jobs_max_size: int = 100
    max_page_size: int | None = None
    query_multi_limit: int = 20_000

    polls_to_done: int = 3
    job_seconds: float = 0.0
    job_seconds_links: float | None = None
    job_seconds_meta: float | None = None
    drop_job_posts: int = 0
    fail_jobs: int = 0
    fail_match: str | None = None
    failure_location: str = "error"
    nb_lines: bool = False
    max_export_size: int = 1_000_000
    max_running_jobs: int | None = None

    outlinks_undercount: float = 0.0

    formatter_defaults: str = "docs"
    force_docs_formatter: bool = False
    force_zip: bool = False

    download_ttl_s: float | None = None
    expire_first_n_downloads: int = 0
    truncate_downloads: int = 0
    corrupt_downloads: int = 0
    zip_without_csv: int = 0
    cdn_429: int = 0
    cdn_503: int = 0
    cdn_retry_after: bool = False
    cdn_ranges: bool = True

    profile: str = "ok"
    echo_token: bool = False
    revoke_token_after_polls: int = 0

    light_shape: str = "drf"
    odd_analysis_status: str | None = None
    collections_shape: str = "list"
    hide_fields: tuple[str, ...] = ()
    absent_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("error_body", self.error_body, _ERROR_BODIES),
            ("failure_location", self.failure_location, _FAILURE_LOCATIONS),
            ("formatter_defaults", self.formatter_defaults, _FORMATTER_MODES),
            ("profile", self.profile, _PROFILES),
            ("light_shape", self.light_shape, _LIGHT_SHAPES),
            ("collections_shape", self.collections_shape, _COLLECTIONS_SHAPES),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, not {value!r}")
        if self.error_status not in (500, 502, 503, 504):
            raise ValueError("error_status must be 500, 502, 503 or 504")
        lo, hi = self.latency_ms
        if not 0 <= lo <= hi:
            raise ValueError("latency_ms must be (low, high) with 0 <= low <= high")
        if self.rate_limit_qps is not None and self.rate_limit_qps <= 0:
            raise ValueError("rate_limit_qps must be positive or None")
        if self.max_export_size < 1:
            raise ValueError("max_export_size must be at least 1")
        if self.max_running_jobs is not None and self.max_running_jobs < 1:
            raise ValueError("max_running_jobs must be at least 1 or None")
        if not 0 <= self.outlinks_undercount < 1:
            raise ValueError("outlinks_undercount must be in [0, 1)")

    def seconds_for(self, kind: str) -> float:
        """How long a job of `kind` ("links" or "meta") stays PROCESSING at least."""
        own = {"links": self.job_seconds_links, "meta": self.job_seconds_meta}.get(kind)
        return self.job_seconds if own is None else own

    def replace(self, **changes: Any) -> Scenario:
        """A copy with some knobs changed."""
        return replace(self, **changes)

    def changed(self) -> dict[str, Any]:
        """The knobs that differ from the defaults (for printing a scenario)."""
        default = Scenario()
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != getattr(default, f.name)
        }


SCENARIOS: dict[str, Scenario] = {
    # what the contract says the real API does, and nothing worse
    "default": Scenario(),
    # a 429 storm at first (no Retry-After), then 5 requests/s per endpoint
    "rate-limit": Scenario(storm_429=3),
    "rate-limit-retry-after": Scenario(storm_429=3, retry_after=True),
    "429-storm": Scenario(storm_429=10),
    # every endpoint fails once with 503, then one API request in 7 does too (whatever its endpoint)
    "flaky": Scenario(error_first_n=1, error_every_n=7),
    # the first job POST is cut off after the job was created
    "drop-on-create": Scenario(drop_job_posts=1),
    # every export job ends FAILED (reason in the `error` envelope)
    "failed-job": Scenario(fail_jobs=ALWAYS),
    "failed-links-job": Scenario(fail_jobs=ALWAYS, fail_match="outlinks_internal"),
    "failed-job-results": Scenario(fail_jobs=ALWAYS, failure_location="results"),
    "failed-job-reason": Scenario(fail_jobs=ALWAYS, failure_location="failure_reason"),
    # the first download URL answers 403; polling the job again gives a fresh one
    "expired-download": Scenario(expire_first_n_downloads=1),
    "download-ttl": Scenario(download_ttl_s=5.0),
    # jobs take 8 polls and at least 20 s
    "slow": Scenario(polls_to_done=8, job_seconds=20.0),
    "zip": Scenario(force_zip=True),
    "verbose-sep": Scenario(force_docs_formatter=True),
    "observed-defaults": Scenario(formatter_defaults="observed"),
    # the first download is cut in the middle (Content-Length promises more)
    "truncated-download": Scenario(truncate_downloads=1),
    "corrupt-gzip": Scenario(corrupt_downloads=ALWAYS),
    "zip-without-csv": Scenario(zip_without_csv=ALWAYS, force_zip=True),
    # every endpoint answers an HTML 502 page once
    "html-errors": Scenario(error_first_n=1, error_status=502, error_body="html"),
    # 50-250 ms per request, for benchmarks
    "latency": Scenario(latency_ms=(50.0, 250.0)),
    # every paginated endpoint returns at most 2 items per page
    "small-pages": Scenario(max_page_size=2),
    "nb-lines": Scenario(nb_lines=True),
    # big sites: exports of at most 200,000 rows (big.example's depth 1 alone is over that at scale 1)
    "small-exports": Scenario(max_export_size=200_000),
    # a second export job while one runs is refused (error 1058); jobs take 5 s
    "one-job-at-a-time": Scenario(max_running_jobs=1, job_seconds=5.0),
    # the outlinks count used for sizing says 30% fewer links than the exports hold
    "undercount": Scenario(outlinks_undercount=0.3),
    # the undocumented profile endpoint does not exist: the token is checked with the analyses list
    "no-profile": Scenario(profile="missing"),
    # the download host refuses the first tries (429, then 503) before sending the file
    "cdn-busy": Scenario(cdn_429=2, cdn_503=2),
    # the first download breaks half-way; the rest is fetched with a Range request
    "cdn-resume": Scenario(truncate_downloads=1),
}
