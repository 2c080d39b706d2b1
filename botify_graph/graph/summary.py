"""What an export contains, in numbers: pages, links, degrees, most-linked pages, orphans, page types, compliance.

Counting rules, said once here and in every report:

- `edges` is the number of rows of the links file; a self-loop (source == target) is kept in the file and
  counted there, and by default *dropped* from every statistic (degrees, unique links, top pages, orphans).
- Degrees count link rows: a page that links twice to the same target gives it two inbound links.
- Out-degree statistics cover the pages that appear as a source (the pages at or above the exported depth);
  the others have no outlinks in the export by construction. In-degree statistics cover every page.
- Orphans (at this depth) are pages of the meta file that receive no link in the links file.

Opportunities (`opportunities`), from whatever columns the meta file has, each a count and the first `top`
pages by traffic (clicks when the file has them, else impressions; ties by URL):

- under-linked: pages with traffic whose internal inlinks are at most the median of the meta file's pages
  (inlinks: Botify's `inlinks_internal_nb_unique` over the whole crawl when exported, else the inbound links
  of the links file);
- low internal PageRank (when `internal_page_rank` is exported): pages with traffic whose PageRank is at most
  the median;
- deep pages that earn traffic: depth >= DEEP_DEPTH with traffic (and their share of all traffic);
- compliant pages no link in the links file reaches (compliant orphans at this depth).

degrees = numpy bincounts of page ids; distinct links = an in-place sort of (source id * pages + target id).
`render.markdown` and `render.html` turn a GraphSummary into reports; `reports` writes them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .encode import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_COLUMNS,
    NONE_LABEL,
    EncodedGraph,
    encode_graph,
    to_plain,
    top_ids,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..depth import DepthChoice

__all__ = [
    "DEEP_DEPTH",
    "DegreeStats",
    "GraphSummary",
    "degree_stats",
    "opportunities",
    "summarize",
    "summarize_encoded",
]

DEEP_DEPTH = 4  # a page at this click depth or deeper is "deep"
TRAFFIC_COLUMNS = ("clicks", "impressions")  # ranked by the first the meta file has
BOTIFY_INLINKS = "inlinks_internal_nb_unique"  # the column of inlinks_internal.nb.unique (fields.column_name)
PAGERANK = "internal_page_rank"  # the column of internal_page_rank.value


@dataclass(frozen=True)
class DegreeStats:
    """A degree distribution: summary statistics and power-of-two histogram buckets."""

    over: str  # which pages the statistics cover
    pages: int
    links: int
    mean: float
    median: float
    p90: float
    p99: float
    max: int
    zero: int  # pages with degree 0
    histogram: list[dict[str, Any]]  # {"bucket": "4-7", "low": 4, "high": 7, "pages": n}


def degree_stats(values: np.ndarray, over: str) -> DegreeStats:
    """Summarise a degree array (one value per page)."""
    if len(values) == 0:
        return DegreeStats(over, 0, 0, 0.0, 0.0, 0.0, 0.0, 0, 0, [])
    p50, p90, p99 = (float(x) for x in np.percentile(values, [50, 90, 99]))
    zero = int(np.count_nonzero(values == 0))
    buckets: list[dict[str, Any]] = [{"bucket": "0", "low": 0, "high": 0, "pages": zero}]
    positive = values[values > 0]
    if len(positive):
        counts = np.bincount(np.floor(np.log2(positive)).astype(np.int64))
        for k, count in enumerate(counts):
            low, high = 1 << k, (1 << (k + 1)) - 1
            buckets.append(
                {"bucket": str(low) if low == high else f"{low}-{high}", "low": low, "high": high, "pages": int(count)}
            )
    return DegreeStats(
        over=over,
        pages=len(values),
        links=int(values.sum()),
        mean=round(float(values.mean()), 3),
        median=p50,
        p90=round(p90, 3),
        p99=round(p99, 3),
        max=int(values.max()),
        zero=zero,
        histogram=buckets,
    )


@dataclass
class GraphSummary:
    """What a links export (and its meta file) contains: `to_dict()` for JSON; `render` words it for people."""

    links_file: str
    meta_file: str | None
    pages: int  # distinct URLs in links ∪ meta
    pages_in_links: int
    edges: int  # rows of the links file
    self_loops: int
    self_loops_dropped: bool  # True: self-loops are left out of every statistic below
    edges_counted: int  # the link rows the statistics count
    unique_edges: int  # distinct (source, target) pairs among them
    duplicate_edges: int  # edges_counted - unique_edges
    source_pages: int  # pages with at least one outlink in the file
    in_degree: DegreeStats
    out_degree: DegreeStats
    top: int
    top_pages: list[dict[str, Any]]  # most-linked pages: url, inbound, outbound (+ pagetype, is_compliant, …)
    meta_columns: list[str] = field(default_factory=list)
    pages_in_meta: int | None = None
    meta_rows: int | None = None
    pages_without_meta: int | None = None  # pages named in the links file with no meta row
    orphans: int | None = None  # meta pages with no inbound link
    orphan_share: float | None = None  # orphans / pages in meta
    orphan_sample: list[dict[str, Any]] = field(default_factory=list)
    pagetypes: list[dict[str, Any]] | None = None
    compliance: dict[str, Any] | None = None
    chosen_depth: int | None = None
    depth_limit: int | None = None
    depth_expected_edges: int | None = None
    depth_table: list[dict[str, Any]] | None = None  # DepthChoice.table(): depth, edges, cumulative, fits, chosen
    opportunities: dict[str, Any] | None = None  # see the module docstring; None without a meta file
    gsc_period: list[str] | None = None  # the Search Console dates the meta file's numbers sum, when known
    gsc_note: str = ""  # why those dates differ from the period asked for
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (no NaN, plain Python numbers)."""
        return to_plain(dataclasses.asdict(self))


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 6) if whole else None


def _page_row(g: EncodedGraph, page: int, inbound: np.ndarray, outbound: np.ndarray) -> dict[str, Any]:
    """url, inbound, outbound and the default fields' columns (other columns would make the tables too wide)."""
    row: dict[str, Any] = {"url": g.url(page), "inbound": int(inbound[page]), "outbound": int(outbound[page])}
    if g.meta is not None:
        for c in (c for c in g.meta.columns if c in DEFAULT_COLUMNS):
            row[c] = g.meta.value(c, page)
    return row


def summarize(
    links_path: str | Path,
    meta_path: str | Path | None = None,
    *,
    top: int = 20,
    drop_self_loops: bool = True,
    depth: DepthChoice | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
    gsc_period: tuple[str, str] | list[str] | None = None,
    gsc_note: str = "",
) -> GraphSummary:
    """Summarise a links export (and its meta file) by streaming them; pass the DepthChoice to add its table and
    the Search Console dates (`ExportResult.gsc_period`) to say which days the numbers sum."""
    graph = encode_graph(links_path, meta_path, block_size=block_size)
    return summarize_encoded(
        graph, top=top, drop_self_loops=drop_self_loops, depth=depth, gsc_period=gsc_period, gsc_note=gsc_note
    )


def summarize_encoded(
    g: EncodedGraph,
    *,
    top: int = 20,
    drop_self_loops: bool = True,
    depth: DepthChoice | None = None,
    gsc_period: tuple[str, str] | list[str] | None = None,
    gsc_note: str = "",
) -> GraphSummary:
    """Summarise an already encoded graph (see `summarize`)."""
    n = g.size
    loops = int(np.count_nonzero(g.src == g.tgt))
    inbound, outbound = g.degrees(drop_self_loops)
    counted = len(g.src) - (loops if drop_self_loops else 0)
    unique = len(g.link_set(drop_self_loops))
    is_source = np.bincount(g.src, minlength=n) > 0
    in_links = np.zeros(n, dtype=bool)
    in_links[g.src] = True
    in_links[g.tgt] = True
    loop_word = "dropped from" if drop_self_loops else "kept in"
    summary = GraphSummary(
        links_file=str(g.links_path),
        meta_file=None if g.meta_path is None else str(g.meta_path),
        pages=n,
        pages_in_links=int(in_links.sum()),
        edges=len(g.src),
        self_loops=loops,
        self_loops_dropped=drop_self_loops,
        edges_counted=counted,
        unique_edges=unique,
        duplicate_edges=counted - unique,
        source_pages=int(is_source.sum()),
        in_degree=degree_stats(inbound, "pages of links ∪ meta"),
        out_degree=degree_stats(outbound[is_source], "pages that appear as a source"),
        top=top,
        top_pages=[_page_row(g, int(p), inbound, outbound) for p in top_ids(inbound, g.urls, top, inbound > 0)],
        notes=[
            f"{loops:,} self-loop(s) are kept in the file and {loop_word} the statistics."
            if loops
            else "The links file has no self-loops."
        ],
    )
    if g.meta is not None:
        _add_meta(summary, g, inbound, outbound, in_links, top)
        summary.opportunities = opportunities(g, inbound, top)
        if gsc_period is not None:
            summary.gsc_period, summary.gsc_note = list(gsc_period), gsc_note
    if depth is not None:
        summary.chosen_depth = depth.depth
        summary.depth_limit = depth.max_edges
        summary.depth_expected_edges = depth.edges
        summary.depth_table = [dict(r) for r in depth.table()]
        if depth.cut:
            over = dict(depth.cumulative).get(depth.depth, depth.edges)
            summary.notes.append(
                f"This graph is CUT: depth {depth.depth} alone has {over:,} internal links, over the export limit "
                f"of {depth.max_edges:,} rows, and Botify stopped the export there, so links are missing. "
                "Export the complete graph in several jobs with --complete (`botify-graph plan` shows what it takes)."
            )
        elif depth.edges != summary.edges:
            summary.notes.append(
                f"The depth query expected {depth.edges:,} links at depth <= {depth.depth}; "
                f"the file has {summary.edges:,} rows."
            )
    return summary


def _add_meta(
    summary: GraphSummary,
    g: EncodedGraph,
    inbound: np.ndarray,
    outbound: np.ndarray,
    in_links: np.ndarray,
    top: int,
) -> None:
    meta = g.meta
    assert meta is not None
    present = meta.present
    in_meta = int(present.sum())
    orphan = present & (inbound == 0)
    summary.meta_columns = list(meta.columns)
    summary.pages_in_meta = in_meta
    summary.meta_rows = meta.rows
    summary.pages_without_meta = int(np.count_nonzero(in_links & ~present))
    summary.orphans = int(orphan.sum())
    summary.orphan_share = _share(summary.orphans, in_meta)
    rank = np.nan_to_num(meta.numbers.get("impressions", np.zeros(g.size)), nan=-1.0)
    summary.orphan_sample = [_page_row(g, int(p), inbound, outbound) for p in top_ids(rank, g.urls, top, orphan)]
    if meta.rows != in_meta:
        summary.notes.append(f"The meta file has {meta.rows - in_meta:,} duplicate id row(s); the last one counts.")
    if meta.pagetype is not None:
        codes = meta.pagetype[present]
        k = len(meta.pagetypes)
        pages = np.bincount(codes, minlength=k)
        links_in = np.bincount(codes, weights=inbound[present], minlength=k)
        orphans = np.bincount(meta.pagetype[orphan], minlength=k)
        rows = [
            {
                "pagetype": meta.pagetypes[i] or NONE_LABEL,
                "pages": int(pages[i]),
                "share": _share(int(pages[i]), in_meta),
                "inbound_links": int(links_in[i]),
                "orphans": int(orphans[i]),
            }
            for i in range(k)
            if pages[i]
        ]
        summary.pagetypes = sorted(rows, key=lambda r: (-r["pages"], r["pagetype"]))
    if "is_compliant" in meta.flags:
        flag = meta.flags["is_compliant"]
        non = flag == 0
        linked = inbound > 0
        non_linked = int(np.count_nonzero(non & linked))
        linked_known = int(np.count_nonzero((flag >= 0) & linked))
        to_non = int(inbound[non].sum())
        summary.compliance = {
            "compliant_pages": int(np.count_nonzero(flag == 1)),
            "non_compliant_pages": int(non.sum()),
            "unknown_pages": int(np.count_nonzero(present & (flag < 0))),
            "non_compliant_linked_pages": non_linked,
            # of the non-compliant pages, the share that receives at least one link
            "non_compliant_linked_share": _share(non_linked, int(non.sum())),
            # of the linked pages with a known compliance, the share that is non-compliant
            "linked_pages_non_compliant_share": _share(non_linked, linked_known),
            "links_to_non_compliant": to_non,
            "links_to_non_compliant_share": _share(to_non, summary.edges_counted),
        }


def _first(meta: Any, names: tuple[str, ...]) -> str | None:
    return next((c for c in names if c in meta.numbers and not np.isnan(meta.numbers[c]).all()), None)


def _rows(g: EncodedGraph, pages: np.ndarray, inbound: np.ndarray, columns: list[str]) -> list[dict[str, Any]]:
    meta = g.meta
    assert meta is not None
    urls = g.url_list(pages)
    out = []
    for page, url in zip(pages.tolist(), urls, strict=True):
        row: dict[str, Any] = {"url": url, "inbound": int(inbound[page])}
        row.update((c, meta.value(c, page)) for c in columns)
        out.append(row)
    return out


def opportunities(g: EncodedGraph, inbound: np.ndarray, top: int = 20) -> dict[str, Any] | None:
    """Pages that deserve more internal links, from the meta file's columns (see the module docstring)."""
    meta = g.meta
    if meta is None:
        return None
    present = meta.present
    traffic_col = _first(meta, TRAFFIC_COLUMNS)
    botify_inlinks = BOTIFY_INLINKS if BOTIFY_INLINKS in meta.numbers else None
    pagerank = PAGERANK if PAGERANK in meta.numbers else None
    shown = [c for c in ("pagetype", "depth", *TRAFFIC_COLUMNS, BOTIFY_INLINKS, PAGERANK) if meta.kind(c)]
    out: dict[str, Any] = {"traffic": traffic_col, "inlinks": botify_inlinks or "inbound", "columns": shown}

    def ranked(mask: np.ndarray) -> dict[str, Any]:
        score = np.nan_to_num(meta.numbers[traffic_col], nan=-1.0) if traffic_col else np.zeros(g.size)
        return {
            "pages": int(np.count_nonzero(mask)),
            "sample": _rows(g, top_ids(score, g.urls, top, mask), inbound, shown),
        }

    if traffic_col is not None:
        traffic = np.nan_to_num(meta.numbers[traffic_col], nan=0.0)
        earns = present & (traffic > 0)
        links = meta.numbers[botify_inlinks] if botify_inlinks else inbound.astype(np.float64)
        known = present & ~np.isnan(links)
        few = float(np.median(links[known])) if known.any() else 0.0
        out["few_inlinks"] = few
        out["under_linked"] = ranked(earns & known & (links <= few))
        if pagerank:
            pr = meta.numbers[pagerank]
            rated = present & ~np.isnan(pr)
            low = float(np.median(pr[rated])) if rated.any() else 0.0
            out["low_pagerank"] = {"threshold": low, **ranked(earns & rated & (pr <= low))}
        if "depth" in meta.numbers:
            deep = earns & (np.nan_to_num(meta.numbers["depth"], nan=-1.0) >= DEEP_DEPTH)
            total = float(traffic[present].sum())
            out["deep"] = {
                "min_depth": DEEP_DEPTH,
                "traffic": _plain(float(traffic[deep].sum())),
                "share": _share(float(traffic[deep].sum()), total) if total else None,
                **ranked(deep),
            }
    if "is_compliant" in meta.flags:
        out["unlinked_compliant"] = ranked(present & (meta.flags["is_compliant"] == 1) & (inbound == 0))
    parts = ("under_linked", "low_pagerank", "deep", "unlinked_compliant")
    return out if any(k in out for k in parts) else None


def _plain(v: float) -> int | float:
    return int(v) if float(v).is_integer() else v
