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


def depth_histogram_query(analysis: str) -> dict[str, Any]:
    """One grouped query: internal outlinks summed per click depth (the cheap way to size an export)."""
    crawl = f"crawl.{analysis}"
    return {
        "collections": [crawl],
        "query": {
            "dimensions": [f"{crawl}.depth"],
            "metrics": [{"function": "sum", "args": [f"{crawl}.outlinks_internal.nb.total"]}],
            "sort": [{"type": "dimensions", "index": 0, "order": "asc"}],
        },
    }


def edges_upto_query(analysis: str, depth: int) -> dict[str, Any]:
    """Internal outlinks of all pages at depth <= `depth` (one query per depth: the fallback)."""
    crawl = f"crawl.{analysis}"
    return {
        "collections": [crawl],
        "query": {
            "dimensions": [],
            "metrics": [{"function": "sum", "args": [f"{crawl}.outlinks_internal.nb.total"]}],
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


def links_export_payload(
    org: str, project: str, analysis: str, depth: int, export_size: int = MAX_EXPORT_ROWS
) -> dict[str, Any]:
    """POST /jobs body for the edge list: (page URL, internal outlink URL) of pages at depth <= `depth`."""
    crawl = f"crawl.{analysis}"
    bql = {
        "collections": [crawl],
        "query": {
            "dimensions": [f"{crawl}.url", f"{crawl}.outlinks_internal.graph.url"],
            "metrics": [],
            "filters": {"field": f"{crawl}.depth", "predicate": "lte", "value": depth},
        },
    }
    return _job(org, project, bql, export_size, f"botify-graph links {analysis} depth<={depth}")


def meta_query(
    analysis: str, depth: int | None, fields: tuple[str, ...], *, period: list[str] | None = None
) -> dict[str, Any]:
    """The BQL of the meta export: page attributes of every page the links file can name (depth <= depth+1;
    `depth=None`: every page, as `api.check_meta_fields` asks for one row of it).

    Crawl fields are dimensions after the URL, Search Console fields metrics (so they come last in the file, as
    `meta_columns` says); the search_console collection and `periods` are added only when one is chosen, and
    `period` is then required.
    """
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
    if depth is not None:
        bql["query"]["filters"] = {"field": f"{crawl}.depth", "predicate": "lte", "value": depth + 1}
    return bql


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


def payload_query(job_body: dict[str, Any]) -> dict[str, Any]:
    """The BQL part of a job body (what identifies the export), for matching listed jobs."""
    payload = job_body.get("payload", job_body)
    q = payload.get("query") if isinstance(payload, dict) else None
    return q if isinstance(q, dict) else {}
