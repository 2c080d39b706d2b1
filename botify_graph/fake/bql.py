"""A small BQL (Botify Query Language v2) engine over a synthetic site: validate, filter, group, sort.

What it accepts (see `shared/botify-api.md` §3):

- `collections` (required): `crawl.<slug>` of a success analysis, `search_console` (projects with GSC) and
  the irrelevant collections the project lists (which hold no queryable field here). One crawl at most.
- `periods`: `[["YYYY-MM-DD", "YYYY-MM-DD"], ...]`, required by `search_console.period_<i>.<field>` fields.
  A period is clipped to the collection's date range; a period entirely outside it gives null GSC values.
- `query.dimensions` and `query.metrics` (both required, possibly empty lists; not both empty).
  Items: `"field"`, `{"field": f, "name": n}`, `{"function": fn, "args": [f]}` or the shorthand `{fn: f}`.
  Fields: `crawl.<slug>.<field>` (`CRAWL_FIELDS`: the link graph's, HTTP status, compliance and its reasons,
  canonical, sitemaps, title, description, H1s (multiple), internal PageRank, unique inlinks, log crawls where
  the project has log data; `js.rendering.exec` is listed but refused: 400 / 1034 "feature disabled", for
  queries and export jobs alike, as botify-api.md §4 gives jobs §3's error codes), globals `url` and
  `segments.pagetype.value`, and
  `search_console.period_<i>.{count_impressions,count_clicks,ctr,avg_position}`. Unknown fields: 400 / 1029.
  Dimensions are plain fields of kind dimension. Metrics are metric fields (count_urls_crawl and the GSC
  counts, each with its own aggregation) or functions sum/avg/min/max/count/count_distinct/count_true/
  count_false/count_null over a field. A plain dimension field used as a metric is a 400 (1022).
- `query.filters`: leaves `{"field", "predicate" (default eq), "value"}` with eq gt gte lt lte between
  contains starts ends re exists with_children without_children only_children, `any.<p>`/`all.<p>` on the
  multi-valued field; `and`/`or`/`not`. `in` is not a predicate (400 / 1022).
- `query.sort`: `i`, `{"index", "type", "order"}` or `{"field", "order"}`.

Semantics: rows are the crawl's pages (only pages with Search Console data when no crawl collection is
queried) passing the filters. Without a `url` dimension rows are grouped by the dimension values; unsorted
groups come biggest first (like a search engine's terms aggregation), per-page rows in page order. The
multi-valued `outlinks_internal.graph.url` dimension yields one row per (page, target). Aggregations ignore
nulls; a sum over no page is 0, over only nulls null; a page without Search Console data has null GSC
metrics (0 only when Google reported 0).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .site import Crawl, Site

Row = tuple[list[Any], list[Any]]


class BqlError(Exception):
    """A query the API rejects: HTTP status, Botify error_code and message."""

    def __init__(self, code: int, message: str, status: int = 400) -> None:
        self.code = code
        self.message = message
        self.status = status
        super().__init__(message)


@dataclass(frozen=True)
class FieldDef:
    """A field of the catalog: slug without collection, verbose name, type, kind, multiple."""

    slug: str
    name: str
    type: str  # string | integer | float | boolean
    kind: str = "dimension"  # dimension | metric
    multiple: bool = False
    agg: str | None = None  # metric fields: count | sum | ctr | avg
    group: str = "main"
    needs: str | None = None  # "logs": listed only for projects with log data; "js": listed, always refused


CRAWL_FIELDS: dict[str, FieldDef] = {
    f.slug: f
    for f in (
        FieldDef("url", "Full URL", "string"),
        FieldDef("depth", "Depth", "integer"),
        FieldDef("http_code", "HTTP Status Code", "integer"),
        FieldDef("segments.pagetype.value", "Pagetype (Segment)", "string", group="segments"),
        FieldDef("compliant.is_compliant", "Is Compliant", "boolean", group="compliant"),
        FieldDef("compliant.main_reason", "Non-Compliant Main Reason", "string", group="compliant"),
        FieldDef("canonical.to.equal", "Is Self-Canonical", "boolean", group="canonical"),
        FieldDef("sitemaps.present", "Present in Sitemaps", "boolean", group="sitemaps"),
        FieldDef("compliant.detailed_reason", "Non-Compliant Detailed Reason", "string", group="compliant"),
        FieldDef("metadata.title.content", "Title", "string", group="metadata"),
        FieldDef("metadata.description.content", "Meta Description", "string", group="metadata"),
        FieldDef("metadata.h1.contents", "H1", "string", multiple=True, group="metadata"),
        FieldDef("outlinks_internal.nb.total", "No. of Internal Outlinks", "integer", group="links"),
        FieldDef("outlinks_internal.graph.url", "Internal Outlinks URL", "string", multiple=True, group="links"),
        FieldDef("inlinks_internal.nb.unique", "No. of Unique Internal Inlinks", "integer", group="inlinks"),
        FieldDef("internal_page_rank.value", "Internal PageRank", "float", group="internal_page_rank"),
        FieldDef("internal_page_rank.position", "Internal PageRank Position", "integer", group="internal_page_rank"),
        FieldDef("internal_page_rank.raw", "Internal PageRank (raw)", "float", group="internal_page_rank"),
        FieldDef("js.rendering.exec", "JS Rendering Executed", "boolean", group="js", needs="js"),
        FieldDef(
            "search_engines.google.crawls.count",
            "No. of Google Crawls",
            "integer",
            group="search_engines",
            needs="logs",
        ),
        FieldDef("count_urls_crawl", "No. of Crawled URLs", "integer", kind="metric", agg="count"),
    )
}
#: why a listed field is refused (400 + this error_code), by FieldDef.needs: the field list of a crawl names every
#: field of its schema, but JavaScript rendering is not enabled for any project of this fake
REFUSED = {"js": (1034, "Feature disabled: JavaScript rendering is not enabled for this project ({field}).")}
LOG_COLLECTION = "log_analyzer.google"
GLOBAL_FIELDS = ("url", "segments.pagetype.value")
GSC_FIELDS: dict[str, FieldDef] = {
    f.slug: f
    for f in (
        FieldDef("count_impressions", "Impressions", "integer", kind="metric", agg="sum"),
        FieldDef("count_clicks", "Clicks", "integer", kind="metric", agg="sum"),
        FieldDef("ctr", "CTR", "float", kind="metric", agg="ctr"),
        FieldDef("avg_position", "Avg. Position", "float", kind="metric", agg="avg"),
    )
}
FUNCTIONS = ("sum", "avg", "min", "max", "count", "count_distinct", "count_true", "count_false", "count_null")
_FUNCTION_NAMES = {
    "sum": "Sum",
    "avg": "Average",
    "min": "Min",
    "max": "Max",
    "count": "Count",
    "count_distinct": "Distinct Count",
    "count_true": "Count True",
    "count_false": "Count False",
    "count_null": "Count Null",
}
_NUMERIC = ("integer", "float")
_PERIOD_FIELD = re.compile(r"^search_console\.period_(\d+)\.(.+)$")


def _crawl_getter(crawl: Crawl, slug: str, outlinks_factor: float = 1.0) -> Callable[[int], Any]:
    c = crawl
    if slug == "outlinks_internal.nb.total" and outlinks_factor != 1.0:
        return lambda i: int(c.outlinks(i) * outlinks_factor)
    getters: dict[str, Callable[[int], Any]] = {
        "url": c.urls.__getitem__,
        "depth": c.depth,
        "http_code": c.http_code,
        "segments.pagetype.value": c.pagetype,
        "compliant.is_compliant": c.is_compliant,
        "compliant.main_reason": c.main_reason,
        "canonical.to.equal": c.canonical_equal,
        "sitemaps.present": c.sitemaps_present,
        "compliant.detailed_reason": c.detailed_reason,
        "metadata.title.content": c.title,
        "metadata.description.content": c.description,
        "metadata.h1.contents": c.h1s,
        "outlinks_internal.nb.total": c.outlinks,
        "outlinks_internal.graph.url": lambda i: [c.urls[t] for t in c.targets(i)],
        "inlinks_internal.nb.unique": c.inlinks_unique,
        "internal_page_rank.value": c.pagerank_value,
        "internal_page_rank.position": c.pagerank_position,
        "internal_page_rank.raw": c.pagerank_raw,
        "search_engines.google.crawls.count": c.google_crawls,
        "count_urls_crawl": lambda i: 1,
    }
    return getters[slug]


def crawl_fields(site: Site) -> list[FieldDef]:
    """The crawl fields a project's field list names (log fields only where it has log data)."""
    return [f for f in CRAWL_FIELDS.values() if f.needs != "logs" or site.spec.logs]


def _gsc_getter(crawl: Crawl, slug: str, days: int) -> Callable[[int], Any]:
    c = crawl
    if days <= 0:
        return lambda i: None
    if slug == "count_impressions":
        return lambda i: c.impressions(i, days)
    if slug == "count_clicks":
        return lambda i: c.clicks_of(i, days)
    if slug == "avg_position":
        return c.avg_position
    # ctr: the accumulator needs both numbers
    return lambda i: (c.clicks_of(i, days), c.impressions(i, days))


@dataclass
class Bound:
    """A field of the query bound to the crawl it reads."""

    text: str  # as written in the query
    fdef: FieldDef
    collection: str  # crawl.<slug> or search_console
    period: int | None
    get: Callable[[int], Any]

    @property
    def collection_slug(self) -> str:
        if self.period is not None:
            return f"{self.collection}.period_{self.period}.{self.fdef.slug}"
        return f"{self.collection}.{self.fdef.slug}"


@dataclass
class Column:
    """One dimension or metric of the query, in query order."""

    field: Bound
    func: str | None = None  # metric aggregation; None for dimensions
    name: str | None = None  # display name given in the query

    def header(self, header_format: str) -> str:
        f = self.field
        if header_format == "verbose":
            if self.name:
                return self.name
            if self.func and f.fdef.kind != "metric":
                return f"{_FUNCTION_NAMES[self.func]} of {f.fdef.name}"
            return f.fdef.name
        base = f.fdef.slug if header_format == "slug" else f.collection_slug
        if self.func and f.fdef.kind != "metric":
            return f"{self.func}({base})"
        return base


@dataclass
class Plan:
    """A validated query, ready to run over one crawl."""

    crawl: Crawl
    dims: list[Column]
    metrics: list[Column]
    gsc_only: bool = False
    filter: Callable[[int], bool] | None = None
    sort: list[tuple[str, int, bool]] = field(default_factory=list)  # (dimensions|metrics, index, desc)
    multi_pos: int | None = None

    @property
    def per_page(self) -> bool:
        """Every page (or page x target) is its own row: a `url` dimension makes grouping unnecessary."""
        return any(c.field.fdef.slug == "url" for c in self.dims)

    def headers(self, header_format: str) -> list[str]:
        return [c.header(header_format) for c in self.dims + self.metrics]

    def pages(self) -> Iterator[int]:
        """Indexes of the pages the query reads (filters applied)."""
        c, keep = self.crawl, self.filter
        for i in range(c.n_pages):
            if self.gsc_only and c.impr[i] < 0:
                continue
            if keep is not None and not keep(i):
                continue
            yield i

    def estimated_rows(self) -> int:
        """Rows a multi-valued query would produce (page count otherwise)."""
        if self.multi_pos is None:
            return sum(1 for _ in self.pages())
        return sum(self.crawl.outcount[i] for i in self.pages())

    def rows(self) -> Iterator[Row]:
        """The result rows, sorted as asked; streamed when no grouping or sorting is needed."""
        rows = self._per_page_rows() if self.per_page else iter(self._grouped_rows())
        if not self.sort:
            return rows
        return iter(_sorted(list(rows), self.sort))

    def _per_page_rows(self) -> Iterator[Row]:
        singles = [c.field.get for i, c in enumerate(self.dims) if i != self.multi_pos]
        mp = self.multi_pos
        multi = self.dims[mp].field.get if mp is not None else None
        metric_fns = [_single(m) for m in self.metrics]
        for i in self.pages():
            base = [g(i) for g in singles]
            mets = [fn(i) for fn in metric_fns]
            if multi is None or mp is None:
                yield base, mets
            else:
                for v in multi(i):
                    yield [*base[:mp], v, *base[mp:]], list(mets)

    def _grouped_rows(self) -> list[Row]:
        getters = [c.field.get for c in self.dims]
        mp = self.multi_pos
        groups: dict[tuple[Any, ...], list[_Acc]] = {}
        sizes: dict[tuple[Any, ...], int] = {}
        mets = self.metrics

        def add(key: tuple[Any, ...], i: int) -> None:
            accs = groups.get(key)
            if accs is None:
                accs = groups[key] = [_acc(m) for m in mets]
                sizes[key] = 0
            sizes[key] += 1
            for acc, m in zip(accs, mets, strict=True):
                acc.add(m.field.get(i))

        if not getters:
            groups[()] = [_acc(m) for m in mets]
            sizes[()] = 0
        for i in self.pages():
            if mp is None:
                add(tuple(g(i) for g in getters), i)
                continue
            base = [g(i) for n, g in enumerate(getters) if n != mp]
            for v in getters[mp](i):
                add((*base[:mp], v, *base[mp:]), i)
        order = sorted(groups, key=lambda k: -sizes[k])  # stable: ties keep first-seen order
        return [(list(k), [a.result() for a in groups[k]]) for k in order]


def _sort_key(v: Any) -> tuple[bool, Any]:
    return (v is None, v if v is not None else 0)


def _sorted(rows: list[Row], sort: list[tuple[str, int, bool]]) -> list[Row]:
    for typ, idx, desc in reversed(sort):
        part = 0 if typ == "dimensions" else 1

        def key(row: Row, p: int = part, i: int = idx) -> tuple[bool, Any]:
            return _sort_key(row[p][i])

        rows.sort(key=key, reverse=desc)
    return rows


# -- aggregation --------------------------------------------------------------------------------------


class _Acc:
    def __init__(self, func: str) -> None:
        self.func = func
        self.rows = 0
        self.n = 0
        self.total: Any = 0
        self.best: Any = None
        self.seen: set[Any] = set()
        self.num = 0
        self.den = 0

    def add(self, v: Any) -> None:
        f = self.func
        self.rows += 1
        if f == "count_null":
            self.n += v is None
            return
        if f == "count_true":
            self.n += v is True
            return
        if f == "count_false":
            self.n += v is False
            return
        if f == "pages":
            self.n += 1
            return
        if v is None:
            return
        if f == "ctr":
            clicks, impressions = v
            if clicks is None or impressions is None:
                return
            self.n += 1
            self.num += clicks
            self.den += impressions
            return
        self.n += 1
        if f in ("sum", "avg"):
            self.total += v
        elif f == "min":
            self.best = v if self.best is None or v < self.best else self.best
        elif f == "max":
            self.best = v if self.best is None or v > self.best else self.best
        elif f == "count_distinct":
            self.seen.add(v)

    def result(self) -> Any:
        f = self.func
        if f in ("count", "count_null", "count_true", "count_false", "pages"):
            return self.n
        if f == "count_distinct":
            return len(self.seen)
        if f == "sum":
            return self.total if self.n or not self.rows else None
        if f == "avg":
            return round(self.total / self.n, 4) if self.n else None
        if f == "ctr":
            return round(self.num / self.den, 4) if self.den else (0.0 if self.n else None)
        return self.best


def _agg_name(col: Column) -> str:
    if col.func:
        return col.func
    agg = col.field.fdef.agg or "sum"
    return "pages" if agg == "count" else agg


def _acc(col: Column) -> _Acc:
    return _Acc(_agg_name(col))


def _single(col: Column) -> Callable[[int], Any]:
    """A metric over one page (per-page rows), with the same semantics as the grouped aggregation."""
    get, name = col.field.get, _agg_name(col)

    def one(i: int) -> Any:
        acc = _Acc(name)
        acc.add(get(i))
        return acc.result()

    if name in ("sum", "min", "max"):
        return get  # the value itself (None stays None)
    return one


# -- compilation --------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    site: Site
    crawl: Crawl | None
    crawl_collection: str | None
    has_gsc: bool
    period_days: list[int]
    others: tuple[str, ...] = ()  # requested collections that hold no queryable field here
    outlinks_factor: float = 1.0  # what `outlinks_internal.nb.total` reports, as a fraction of the real count


def project_collections(site: Site) -> list[dict[str, Any]]:
    """The project's collections, as GET /projects/{u}/{p}/collections lists them."""
    out: list[dict[str, Any]] = []
    for a in site.sorted_analyses(True):
        out.append(
            {"id": f"crawl.{a.slug}", "name": a.name, "timestamped": False, "date": a.day.isoformat(),
             "generic_name": "crawl"}
        )  # fmt: skip
    if site.has_gsc:
        out.append(
            {"id": "search_console", "name": "Search Console", "timestamped": True,
             "date_start": site.spec.gsc_start, "date_end": site.spec.gsc_end, "generic_name": "search_console"}
        )  # fmt: skip
    if site.spec.logs:
        out.append(
            {"id": LOG_COLLECTION, "name": "Log Analyzer (Google)", "timestamped": True,
             "date_start": site.spec.gsc_start, "date_end": site.spec.gsc_end, "generic_name": "log_analyzer"}
        )  # fmt: skip
    latest = site.latest.slug
    out.append({"id": f"actionboard_ml.{latest}", "name": "ActionBoard ML", "timestamped": False})
    out.append({"id": f"search_engines_orphans.{latest}", "name": "Search Engines Orphans", "timestamped": False})
    return out


def _bad(message: str, code: int = 1022) -> BqlError:
    return BqlError(code, message)


def compile_query(body: Any, site: Site, *, allow_multi: bool = True, outlinks_factor: float = 1.0) -> Plan:
    """Validate a BQL body (`{"collections", "periods"?, "query"}`) and bind it to the site's data.

    `outlinks_factor` < 1 makes `outlinks_internal.nb.total` under-report each page's links (rounded down).
    """
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.", 1020)
    collections = body.get("collections")
    if collections is None:
        raise _bad("'collections' is required.", 1020)
    if not isinstance(collections, list) or not collections or not all(isinstance(c, str) for c in collections):
        raise _bad("'collections' must be a non-empty list of collection ids.", 1020)
    query = body.get("query")
    if not isinstance(query, dict):
        raise _bad("'query' is required and must be an object.", 1020)
    for key in ("dimensions", "metrics"):
        if key not in query:
            raise _bad(f"query.{key} is required (send an empty list if you want none).")
        if not isinstance(query[key], list):
            raise _bad(f"query.{key} must be a list.")
    if not query["dimensions"] and not query["metrics"]:
        raise _bad("The query selects nothing: give at least one dimension or metric.")

    known = {c["id"] for c in project_collections(site)}
    crawls: list[str] = []
    for cid in collections:
        if cid not in known:
            raise BqlError(1029, f"Collection {cid!r} does not exist for project {site.org}/{site.project}.")
        if cid.startswith("crawl."):
            crawls.append(cid)
    if len(crawls) > 1:
        raise BqlError(1044, "Query can not be executed: this fake joins at most one crawl collection.")
    has_gsc = "search_console" in collections
    if crawls:
        crawl = site.crawl(crawls[0].split(".", 1)[1])
    elif has_gsc:
        crawl = site.crawl()
    else:
        crawl = None

    periods = body.get("periods")
    period_days: list[int] = []
    if periods is not None:
        if not isinstance(periods, list):
            raise _bad("'periods' must be a list of [start, end] date pairs.", 1020)
        for p in periods:
            period_days.append(_period_days(p, site))

    others = tuple(c for c in collections if c not in crawls and c != "search_console")
    ctx = _Ctx(site, crawl, crawls[0] if crawls else None, has_gsc, period_days, others, outlinks_factor)
    dims = [_dimension(item, ctx) for item in query["dimensions"]]
    metrics = [_metric(item, ctx) for item in query["metrics"]]
    if crawl is None:
        raise BqlError(1044, "Query can not be executed: no queryable collection (use crawl.<analysis>).")
    multi = [n for n, c in enumerate(dims) if c.field.fdef.multiple]
    if len(multi) > 1:
        raise BqlError(1028, "More than 1 multiple field requested.")
    if multi and not allow_multi:
        raise BqlError(1043, "Query too big: multiple fields are for exports (POST /jobs).")
    plan = Plan(crawl=crawl, dims=dims, metrics=metrics, gsc_only=not crawls, multi_pos=multi[0] if multi else None)
    if query.get("filters") not in (None, {}):
        plan.filter = _filter(query["filters"], ctx)
    if query.get("post_filters") not in (None, {}):
        raise BqlError(1044, "Query can not be executed: post_filters are not implemented by this fake.")
    plan.sort = _sort(query.get("sort"), dims, metrics)
    return plan


def _period_days(p: Any, site: Site) -> int:
    if not (isinstance(p, list) and len(p) == 2 and all(isinstance(d, str) for d in p)):
        raise _bad(f"Each period must be a list of two YYYY-MM-DD dates, got {p!r}.", 1020)
    try:
        start, end = date.fromisoformat(p[0]), date.fromisoformat(p[1])
    except ValueError:
        raise _bad(f"Each period must be a list of two YYYY-MM-DD dates, got {p!r}.", 1020) from None
    if len(p[0]) != 10 or len(p[1]) != 10:
        raise _bad(f"Each period must be a list of two YYYY-MM-DD dates, got {p!r}.", 1020)
    if start > end:
        raise _bad(f"Period {p!r} ends before it starts.", 1020)
    lo, hi = date.fromisoformat(site.spec.gsc_start), date.fromisoformat(site.spec.gsc_end)
    start, end = max(start, lo), min(end, hi)
    return (end - start).days + 1 if start <= end else 0


def _field(text: Any, ctx: _Ctx) -> Bound:
    if not isinstance(text, str) or not text:
        raise _bad(f"A field must be a non-empty string, got {text!r}.")
    m = _PERIOD_FIELD.match(text)
    if m:
        fdef = GSC_FIELDS.get(m.group(2))
        if fdef is None or not ctx.has_gsc or ctx.crawl is None:
            raise BqlError(1029, f"Field {text!r} does not exist in the requested collections.")
        idx = int(m.group(1))
        if idx >= len(ctx.period_days):
            raise _bad(f"Field {text!r} needs 'periods' with at least {idx + 1} period(s).")
        return Bound(text, fdef, "search_console", idx, _gsc_getter(ctx.crawl, fdef.slug, ctx.period_days[idx]))
    if text in GLOBAL_FIELDS:
        if ctx.crawl is None:
            raise BqlError(1029, f"Field {text!r} does not exist in the requested collections.")
        collection = ctx.crawl_collection or ctx.crawl.collection
        return Bound(text, CRAWL_FIELDS[text], collection, None, _crawl_getter(ctx.crawl, text, ctx.outlinks_factor))
    for other in ctx.others:
        if text.startswith(other + "."):
            raise BqlError(1044, f"Query can not be executed: {other!r} cannot be queried in this fake.")
    cc = ctx.crawl_collection
    if cc and ctx.crawl is not None and text.startswith(cc + "."):
        slug = text[len(cc) + 1 :]
        fdef = CRAWL_FIELDS.get(slug)
        if fdef is not None and fdef in crawl_fields(ctx.site):
            if fdef.needs in REFUSED:
                code, message = REFUSED[fdef.needs]
                raise BqlError(code, message.format(field=text))
            return Bound(text, fdef, cc, None, _crawl_getter(ctx.crawl, slug, ctx.outlinks_factor))
    raise BqlError(1029, f"Field {text!r} does not exist in the requested collections.")


def _item(item: Any) -> tuple[str | None, Any, str | None]:
    """(function or None, field text, display name) of a dimension/metric item."""
    if isinstance(item, str):
        return None, item, None
    if not isinstance(item, dict):
        raise _bad(f"Unsupported item {item!r}: use a field string, {{'field': ...}} or a function.")
    name = item.get("name")
    if name is not None and not isinstance(name, str):
        raise _bad(f"'name' must be a string in {item!r}.")
    if "function" in item:
        fn, args = item["function"], item.get("args")
        if fn not in FUNCTIONS:
            raise _bad(f"Unknown function {fn!r}; this fake knows {', '.join(FUNCTIONS)}.")
        if not isinstance(args, list) or len(args) != 1:
            raise _bad(f"Function {fn!r} takes exactly one field in 'args'.")
        return fn, args[0], name
    if "field" in item:
        return None, item["field"], name
    short = [k for k in item if k in FUNCTIONS]
    if len(short) == 1 and len(item) == 1 + (name is not None):
        return short[0], item[short[0]], name
    raise _bad(f"Unsupported item {item!r}: use a field string, {{'field': ...}} or a function.")


def _dimension(item: Any, ctx: _Ctx) -> Column:
    fn, text, name = _item(item)
    if fn is not None:
        raise _bad(f"Functions are not allowed as dimensions here: {item!r}.")
    bound = _field(text, ctx)
    if bound.fdef.kind != "dimension":
        raise _bad(f"{text!r} is a metric and cannot be a dimension.")
    return Column(bound, None, name)


def _metric(item: Any, ctx: _Ctx) -> Column:
    fn, text, name = _item(item)
    bound = _field(text, ctx)
    fdef = bound.fdef
    if fn is None:
        if fdef.kind != "metric":
            raise _bad(f"{text!r} is not a metric: aggregate it, e.g. {{'function': 'sum', 'args': [{text!r}]}}.")
        return Column(bound, None, name)
    if fdef.multiple:
        raise _bad(f"Aggregating the multiple field {text!r} is not supported.")
    if fdef.agg == "ctr":
        raise _bad(f"{text!r} is a ratio; use it as a metric without a function.")
    if fn in ("sum", "avg") and fdef.type not in _NUMERIC:
        raise _bad(f"{fn} needs a numeric field; {text!r} is {fdef.type}.")
    if fn in ("min", "max") and fdef.type == "boolean":
        raise _bad(f"{fn} cannot be applied to the boolean field {text!r}.")
    if fn in ("count_true", "count_false") and fdef.type != "boolean":
        raise _bad(f"{fn} needs a boolean field; {text!r} is {fdef.type}.")
    if fdef.kind == "metric" and fdef.agg == "count":
        raise _bad(f"{text!r} is already a count; use it without a function.")
    return Column(bound, fn, name)


_SCALAR_PREDICATES = (
    "eq", "gt", "gte", "lt", "lte", "between", "contains", "starts", "ends", "re", "exists",
    "with_children", "without_children", "only_children",
)  # fmt: skip


def _filter(node: Any, ctx: _Ctx) -> Callable[[int], bool]:
    if not isinstance(node, dict) or not node:
        raise _bad(f"A filter must be an object, got {node!r}.")
    if "and" in node or "or" in node:
        op = "and" if "and" in node else "or"
        parts = node[op]
        if len(node) != 1 or not isinstance(parts, list) or not parts:
            raise _bad(f"{{'{op}': [...]}} takes a non-empty list of filters and nothing else.")
        subs = [_filter(p, ctx) for p in parts]
        if op == "and":
            return lambda i: all(f(i) for f in subs)
        return lambda i: any(f(i) for f in subs)
    if "not" in node:
        if len(node) != 1:
            raise _bad("{'not': F} takes one filter and nothing else.")
        sub = _filter(node["not"], ctx)
        return lambda i: not sub(i)
    if "field" not in node:
        raise _bad(f"Unsupported filter {node!r}: use field/predicate/value, and, or, not.")
    extra = set(node) - {"field", "predicate", "value"}
    if extra:
        raise _bad(f"Unknown filter key(s) {sorted(extra)} in {node!r}.")
    bound = _field(node["field"], ctx)
    predicate = node.get("predicate", "eq")
    if not isinstance(predicate, str):
        raise _bad(f"Predicate must be a string, got {predicate!r}.")
    quantifier = None
    if predicate.startswith(("any.", "all.")):
        quantifier, predicate = predicate.split(".", 1)
    if predicate not in _SCALAR_PREDICATES:
        raise _bad(f"Unknown predicate {node.get('predicate')!r}.")
    if bound.fdef.multiple and quantifier is None and predicate != "exists":
        raise _bad(f"{bound.text!r} is a multiple field: use any.{predicate} or all.{predicate}.")
    if quantifier is not None and not bound.fdef.multiple:
        raise _bad(f"{quantifier}.{predicate} applies to multiple fields; {bound.text!r} is not one.")
    if predicate != "exists" and "value" not in node:
        raise _bad(f"Predicate {predicate!r} needs a 'value'.")
    test = _predicate(predicate, node.get("value"), bound.fdef)
    get = bound.get
    if quantifier == "any":
        return lambda i: any(test(v) for v in get(i))
    if quantifier == "all":
        return lambda i: all(test(v) for v in get(i))
    if bound.fdef.multiple:  # exists on a multiple field: at least one value
        return lambda i: bool(get(i))
    return lambda i: test(get(i))


def _predicate(p: str, v: Any, fdef: FieldDef) -> Callable[[Any], bool]:
    t = fdef.type
    numeric = t in _NUMERIC

    def need(ok: bool) -> None:
        if not ok:
            raise _bad(f"Value {v!r} is not valid for predicate {p!r} on {fdef.slug} ({t}).")

    def is_num(x: Any) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool)

    if p == "exists":
        return lambda x: x is not None
    if p == "eq":
        if v is None:
            return lambda x: x is None
        need(is_num(v) if numeric else isinstance(v, bool) if t == "boolean" else isinstance(v, str))
        return lambda x: x == v
    if p in ("gt", "gte", "lt", "lte"):
        need(is_num(v) if numeric else isinstance(v, str) and t == "string")
        op = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}[p]
        return lambda x: x is not None and op(x, v)
    if p == "between":
        need(isinstance(v, list) and len(v) == 2 and all(is_num(b) if numeric else isinstance(b, str) for b in v))
        lo, hi = v
        return lambda x: x is not None and lo <= x <= hi
    need(t == "string" and isinstance(v, str))
    if p == "contains":
        return lambda x: x is not None and v in x
    if p == "starts":
        return lambda x: x is not None and x.startswith(v)
    if p == "ends":
        return lambda x: x is not None and x.endswith(v)
    if p == "re":
        try:
            rx = re.compile(v)
        except re.error as exc:
            raise BqlError(1057, f"Bad regex {v!r}: {exc}.") from None
        return lambda x: x is not None and rx.search(x) is not None
    if p == "with_children":
        return lambda x: x is not None and (x == v or x.startswith(v + "/"))
    if p == "only_children":
        return lambda x: x is not None and x.startswith(v + "/")
    return lambda x: x == v  # without_children


def _sort(spec: Any, dims: list[Column], metrics: list[Column]) -> list[tuple[str, int, bool]]:
    if spec is None:
        return []
    if not isinstance(spec, list):
        raise _bad("'sort' must be a list.")
    out: list[tuple[str, int, bool]] = []
    for item in spec:
        if isinstance(item, int) and not isinstance(item, bool):
            typ, idx, order = "dimensions", item, "asc"
        elif isinstance(item, dict) and "field" in item:
            order = item.get("order", "asc")
            found = _find_column(item["field"], dims, metrics)
            if found is None:
                raise _bad(f"Sort field {item['field']!r} is not one of the query's dimensions or metrics.")
            typ, idx = found
        elif isinstance(item, dict) and "index" in item:
            typ, idx, order = item.get("type", "dimensions"), item["index"], item.get("order", "asc")
        else:
            raise _bad(f"Unsupported sort item {item!r}.")
        if typ not in ("dimensions", "metrics"):
            raise _bad(f"Sort type must be 'dimensions' or 'metrics', got {typ!r}.")
        if order not in ("asc", "desc"):
            raise _bad(f"Sort order must be 'asc' or 'desc', got {order!r}.")
        cols = dims if typ == "dimensions" else metrics
        if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx < len(cols):
            raise _bad(f"Sort index {idx!r} is out of range for {typ}.")
        if cols[idx].field.fdef.multiple:
            raise _bad("Sorting on a multiple field is not supported.")
        out.append((typ, idx, order == "desc"))
    return out


def _find_column(text: Any, dims: list[Column], metrics: list[Column]) -> tuple[str, int] | None:
    for typ, cols in (("dimensions", dims), ("metrics", metrics)):
        for n, c in enumerate(cols):
            if c.field.text == text:
                return typ, n
    return None
