"""Pure builders for BQL queries and export-job payloads. Nothing here touches the network."""

from __future__ import annotations

from datetime import date
from typing import Any

from . import layout
from .errors import ConfigError
from .fields import (
    GSC_COLLECTION,
    META_BY_NAME,
    META_FIELDS,
    MetaField,
    column_names,
    field_keys,
    resolve_gsc_period,
    sort_keys,
    split_key,
)
from .layout import MAX_EXPORT_ROWS
from .partition import Cond

__all__ = [
    "GSC_COLLECTION",
    "GSC_DAYS",
    "LINKS_COLUMNS",
    "MAX_EXPORT_ROWS",
    "META_BY_NAME",
    "META_FIELDS",
    "MetaField",
    "depth_histogram_query",
    "edges_upto_query",
    "field_id",
    "gsc_period",
    "links_export_payload",
    "meta_columns",
    "meta_export_payload",
    "meta_query",
    "normalize_fields",
    "payload_query",
]

GSC_DAYS = layout.GSC_DAYS
LINKS_COLUMNS = ("source", "target")


def normalize_fields(fields: list[str] | tuple[str, ...] | str | None) -> tuple[str, ...]:
    """Field keys in canonical order (None → the seven defaults); see `fields` for the forms accepted."""
    keys = field_keys(fields)
    return tuple(f.name for f in META_FIELDS) if keys is None else keys


def meta_columns(fields: tuple[str, ...]) -> tuple[str, ...]:
    """The normalised meta CSV header: `id` then the chosen fields' columns, in canonical order."""
    return ("id", *column_names(sort_keys(fields)))


def field_id(analysis: str, key: str | MetaField) -> str:
    """The fully prefixed BQL id of a field for one analysis (Search Console fields read period 0)."""
    source, slug = (key.source, key.slug) if isinstance(key, MetaField) else split_key(key)
    if source == "gsc":
        return f"{GSC_COLLECTION}.period_0.{slug}"
    return f"crawl.{analysis}.{slug}"


def _size_metric(analysis: str, kind: str) -> Any:
    """The metric that counts the rows of an export of `kind`: links, outlinks summed; meta, pages."""
    crawl = f"crawl.{analysis}"
    if kind == "links":
        return {"function": "sum", "args": [f"{crawl}.outlinks_internal.nb.total"]}
    if kind == "meta":
        return {"field": f"{crawl}.count_urls_crawl"}
    raise ValueError(f"Unknown export kind {kind!r}.")


def _per_depth_query(analysis: str, *kinds: str) -> dict[str, Any]:
    """One grouped query: the rows of each kind (`_size_metric`) per click depth, shallowest first."""
    crawl = f"crawl.{analysis}"
    return {
        "collections": [crawl],
        "query": {
            "dimensions": [f"{crawl}.depth"],
            "metrics": [_size_metric(analysis, kind) for kind in kinds],
            "sort": [{"type": "dimensions", "index": 0, "order": "asc"}],
        },
    }


def depth_histogram_query(analysis: str) -> dict[str, Any]:
    """One grouped query: internal outlinks summed per click depth (the cheap way to size an export)."""
    return _per_depth_query(analysis, "links")


def edges_upto_query(analysis: str, depth: int) -> dict[str, Any]:
    """Internal outlinks of all pages at depth <= `depth` (one query per depth: the fallback)."""
    crawl = f"crawl.{analysis}"
    return {
        "collections": [crawl],
        "query": {
            "dimensions": [],
            "metrics": [_size_metric(analysis, "links")],
            "filters": {"field": f"{crawl}.depth", "predicate": "lte", "value": depth},
        },
    }


def gsc_period(crawl_day: date | None, date_start: str | None, date_end: str | None) -> list[str]:
    """The default period: GSC_DAYS days of Search Console data up to the crawl, within what the collection holds."""
    return resolve_gsc_period(None, crawl_day, date_start, date_end, default_days=GSC_DAYS).dates


_FORMATTER = {"delimiter": ",", "print_header": True, "print_delimiter": False, "header_format": "slug"}


def _job(org: str, project: str, bql: dict[str, Any], export_size: int, name: str) -> dict[str, Any]:
    return {
        "job_type": "export",
        "payload": {
            "username": org,
            "project": project,
            "connector": "direct_download",
            "formatter": "csv",
            "formatter_config": dict(_FORMATTER),
            "extra_config": {"compression": "gzip"},
            "export_size": export_size,
            "export_job_name": name,
            "query": bql,
        },
    }


def _links_bql(analysis: str, filters: dict[str, Any] | None) -> dict[str, Any]:
    crawl = f"crawl.{analysis}"
    query: dict[str, Any] = {"dimensions": [f"{crawl}.url", f"{crawl}.outlinks_internal.graph.url"], "metrics": []}
    if filters is not None:
        query["filters"] = filters
    return {"collections": [crawl], "query": query}


def links_export_payload(
    org: str, project: str, analysis: str, depth: int, export_size: int = MAX_EXPORT_ROWS
) -> dict[str, Any]:
    """POST /jobs body for the edge list: (page URL, internal outlink URL) of pages at depth <= `depth`."""
    bql = _links_bql(analysis, {"field": f"crawl.{analysis}.depth", "predicate": "lte", "value": depth})
    return _job(org, project, bql, export_size, f"botify-graph links {analysis} depth<={depth}")


def meta_query(
    analysis: str, depth: int | None, fields: tuple[str, ...], *, period: list[str] | None = None
) -> dict[str, Any]:
    """The BQL of the meta export: page attributes of every page the links file can name (depth <= depth+1;
    `depth=None`: every page, as `api.check_meta_fields` asks for one row of it). See `_meta_bql`."""
    crawl = f"crawl.{analysis}"
    filters = None if depth is None else {"field": f"{crawl}.depth", "predicate": "lte", "value": depth + 1}
    return _meta_bql(analysis, fields, period, filters)


def meta_export_payload(
    org: str,
    project: str,
    analysis: str,
    depth: int,
    fields: tuple[str, ...],
    *,
    period: list[str] | None = None,
    export_size: int = MAX_EXPORT_ROWS,
) -> dict[str, Any]:
    """POST /jobs body for page attributes of every page the links file can name (see `meta_query`)."""
    bql = meta_query(analysis, depth, fields, period=period)
    return _job(org, project, bql, export_size, f"botify-graph meta {analysis} depth<={depth + 1}")


def _meta_bql(
    analysis: str, fields: tuple[str, ...], period: list[str] | None, filters: dict[str, Any] | None
) -> dict[str, Any]:
    """Page attributes (the URL, then crawl fields as dimensions, then Search Console fields as metrics, in
    `meta_columns` order) of the pages `filters` keeps (None: every page). `period` is required with a Search
    Console field; the search_console collection and `periods` are added only then."""
    crawl = f"crawl.{analysis}"
    keys = sort_keys(fields)
    dims: list[Any] = [f"{crawl}.url"] + [field_id(analysis, k) for k in keys if split_key(k)[0] == "crawl"]
    mets: list[Any] = [field_id(analysis, k) for k in keys if split_key(k)[0] == "gsc"]
    bql: dict[str, Any] = {"collections": [crawl]}
    if mets:
        if not period:
            raise ConfigError("Search Console fields need a period; pass period=[start, end].")
        bql["collections"].append(GSC_COLLECTION)
        bql["periods"] = [list(period)]
    bql["query"] = {"dimensions": dims, "metrics": mets}
    if filters is not None:
        bql["query"]["filters"] = filters
    return bql


# -- complete exports: partitions of the crawl's pages (see `partition`) -------------------------------------

#: The BQL field (after `crawl.<analysis>.`) of each field partitions are cut along (`partition.FIELDS`).
PARTITION_FIELDS = {
    "depth": "depth",
    "pagetype": "segments.pagetype.value",
    "outlinks": "outlinks_internal.nb.total",
}


def cond_filter(analysis: str, cond: Cond) -> dict[str, Any] | None:
    """The BQL filter of one partition condition; None when it keeps every page.

    Only documented predicates: eq (an `or` of them for several values, never `in`), lte, gte, between
    (inclusive), exists, and `not exists` for the pages without a value.
    """
    field = f"crawl.{analysis}.{PARTITION_FIELDS[cond.field]}"
    if cond.is_all:
        return None
    parts: list[dict[str, Any]] = [{"field": field, "predicate": "eq", "value": v} for v in cond.values]
    if cond.ranged:
        lo, hi = cond.lo, cond.hi
        if lo is None and hi is None:
            parts.append({"field": field, "predicate": "exists"})
        elif lo is None:
            parts.append({"field": field, "predicate": "lte", "value": hi})
        elif hi is None:
            parts.append({"field": field, "predicate": "gte", "value": lo})
        elif lo == hi:
            parts.append({"field": field, "predicate": "eq", "value": lo})
        else:
            parts.append({"field": field, "predicate": "between", "value": [lo, hi]})
    if cond.nulls:
        parts.append({"not": {"field": field, "predicate": "exists"}})
    if not parts:
        raise ValueError(f"The condition on {cond.field} matches no page.")
    return parts[0] if len(parts) == 1 else {"or": parts}


def partition_filter(analysis: str, conds: tuple[Cond, ...]) -> dict[str, Any] | None:
    """The `and` of a partition's conditions (None: the partition is the whole crawl)."""
    filters = [f for f in (cond_filter(analysis, c) for c in conds) if f is not None]
    if not filters:
        return None
    return filters[0] if len(filters) == 1 else {"and": filters}


def depth_sizes_query(analysis: str) -> dict[str, Any]:
    """One grouped query: internal outlinks and pages per click depth (sizes both kinds of a complete export)."""
    return _per_depth_query(analysis, "links", "meta")


def sizing_query(analysis: str, field: str, conds: tuple[Cond, ...], kind: str) -> dict[str, Any]:
    """One grouped query: the rows of a partition (links: outlinks summed; meta: pages) per value of `field`."""
    crawl = f"crawl.{analysis}"
    query: dict[str, Any] = {
        "dimensions": [f"{crawl}.{PARTITION_FIELDS[field]}"],
        "metrics": [_size_metric(analysis, kind)],
    }
    filters = partition_filter(analysis, conds)
    if filters is not None:
        query["filters"] = filters
    return {"collections": [crawl], "query": query}


def links_partition_payload(
    org: str, project: str, analysis: str, conds: tuple[Cond, ...], part: str, export_size: int = MAX_EXPORT_ROWS
) -> dict[str, Any]:
    """POST /jobs body for one partition of a complete links export (its pages' internal links)."""
    bql = _links_bql(analysis, partition_filter(analysis, conds))
    return _job(org, project, bql, export_size, f"botify-graph links {analysis} complete {part or 'all'}")


def meta_partition_payload(
    org: str,
    project: str,
    analysis: str,
    conds: tuple[Cond, ...],
    part: str,
    fields: tuple[str, ...],
    *,
    period: list[str] | None = None,
    export_size: int = MAX_EXPORT_ROWS,
) -> dict[str, Any]:
    """POST /jobs body for one partition of a complete meta export (its pages' attributes)."""
    bql = _meta_bql(analysis, fields, period, partition_filter(analysis, conds))
    return _job(org, project, bql, export_size, f"botify-graph meta {analysis} complete {part or 'all'}")


def payload_query(job_body: dict[str, Any]) -> dict[str, Any]:
    """The BQL part of a job body (what identifies the export), for matching listed jobs."""
    payload = job_body.get("payload", job_body)
    q = payload.get("query") if isinstance(payload, dict) else None
    return q if isinstance(q, dict) else {}
