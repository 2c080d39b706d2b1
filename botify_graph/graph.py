"""Look at an exported link graph without loading it whole: a summary, report files, loaders.

How it stays small on a 1,000,000-link export (about 100 MB of CSV):

    links CSV ──pyarrow streaming reader, blocks of `block_size` bytes──▶ dictionary-encoded batches
    meta CSV  ──same──▶ id (dictionary-encoded), pagetype, flags, numbers
    each batch's distinct URLs ──one dict shared by every file──▶ int32 page ids (the batch is dropped)
    degrees = numpy bincounts of ids; distinct links = in-place sort of (source id * pages + target id)

The URL strings are held once (the vocabulary, an Arrow string array); everything else is numpy arrays of
4 or 8 bytes per link or page. Several graphs can share one vocabulary (`encode_graphs`), which is what
`compare.compare_graphs` does to set-compare two crawls with integers only.

Counting rules, said once here and in every report:

- `edges` is the number of rows of the links file; a self-loop (source == target) is kept in the file and
  counted there, and by default *dropped* from every statistic (degrees, unique links, top pages, orphans).
- Degrees count link rows: a page that links twice to the same target gives it two inbound links.
- Out-degree statistics cover the pages that appear as a source (the pages at or above the exported depth);
  the others have no outlinks in the export by construction. In-degree statistics cover every page.
- Orphans (at this depth) are pages of the meta file that receive no link in the links file.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .errors import ConfigError
from .fsutil import atomic_write_json, atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx
    import pandas as pd

    from .depth import DepthChoice
    from .pipeline import ExportResult
    from .urls import ProjectRef

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "DegreeStats",
    "EncodedGraph",
    "GraphSummary",
    "PageAttributes",
    "csv_header",
    "degree_stats",
    "encode_graph",
    "encode_graphs",
    "export_files",
    "headless_report",
    "isin_sorted",
    "load_graph",
    "local_analyses",
    "md_table",
    "pct",
    "sorted_unique",
    "summarize",
    "summarize_encoded",
    "to_plain",
    "top_ids",
    "write_report",
]

# The system allocator hands freed blocks back to the OS; Arrow's default (mimalloc) kept ~60 MB more at the
# peak of a 1M-link read. Passed per call, so the process-wide default pool is left alone.
_POOL = pa.system_memory_pool()
DEFAULT_BLOCK_SIZE = 1 << 20  # bytes of CSV per streamed batch: bigger blocks raise the peak, not the speed
FLAG_COLUMNS = ("is_compliant", "canonical_equal", "sitemaps_present")
NUMBER_COLUMNS = ("impressions", "clicks", "depth")
_DICT = pa.dictionary(pa.int32(), pa.string())
_TRUE = pa.array(["true", "1", "yes", "y", "t"])
_FALSE = pa.array(["false", "0", "no", "n", "f"])
NONE_LABEL = "(none)"  # a page of the meta file with an empty page type
UNKNOWN_LABEL = "(not in meta)"


# ---------------------------------------------------------------------------------------------------------
# Reading: CSV blocks → one shared vocabulary of URLs → numpy ids
# ---------------------------------------------------------------------------------------------------------


def csv_header(path: Path, what: str) -> list[str]:
    """The column names of a CSV file (ConfigError naming the file if it is missing or empty)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            line = handle.readline()
    except FileNotFoundError:
        raise ConfigError(f"The {what} file {path} does not exist.") from None
    if not line.strip():
        raise ConfigError(f"The {what} file {path} is empty (no header line); export it again.")
    return [c.strip() for c in next(csv.reader([line]))]


def _batches(path: Path, column_types: dict[str, pa.DataType], block_size: int, what: str) -> Iterator[pa.RecordBatch]:
    """The file's record batches; a malformed file is a ConfigError that names it."""
    try:
        yield from pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=block_size),
            convert_options=pacsv.ConvertOptions(
                column_types=column_types, include_columns=list(column_types), strings_can_be_null=False
            ),
            memory_pool=_POOL,
        )
    except pa.ArrowInvalid as exc:
        raise ConfigError(f"The {what} file {path} cannot be read: {exc}. Export it again.") from None


def _flag_values(arr: pa.Array) -> np.ndarray:
    """'True'/'true'/'1'… → 1, 'False'/'false'/'0'… → 0, anything else (empty) → -1."""
    low = pc.utf8_lower(pc.utf8_trim_whitespace(arr))
    out = np.full(len(arr), -1, dtype=np.int8)
    out[pc.is_in(low, value_set=_TRUE).to_numpy(zero_copy_only=False)] = 1
    out[pc.is_in(low, value_set=_FALSE).to_numpy(zero_copy_only=False)] = 0
    return out


class _Vocabulary:
    """URLs → int32 page ids, in order of first appearance, shared by every file read through it.

    Each batch column arrives dictionary-encoded, so only its *distinct* URLs go through Python (one dict
    lookup each); the rows get their ids by a numpy take. Measured on 1M links, this held less memory at the
    peak than keeping the vocabulary in Arrow and re-unifying it per block (234 MB against 262 MB for the whole
    summary), for a few tenths of a second more.
    """

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    def ids(self, chunk: pa.Array) -> np.ndarray:
        """The page ids of a dictionary-encoded column chunk, adding URLs not seen before."""
        known = self._ids
        words = chunk.dictionary.to_pylist()
        mapping = np.fromiter((known.setdefault(w, len(known)) for w in words), dtype=np.int32, count=len(words))
        return mapping[chunk.indices.to_numpy(zero_copy_only=False)]

    def urls(self) -> pa.Array:
        """The vocabulary as an Arrow string array (index = page id)."""
        return pa.array(list(self._ids), type=pa.string())


def _concat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype=dtype)


def _read_links(path: Path, vocab: _Vocabulary, block_size: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    header = csv_header(path, "links")
    if "source" not in header or "target" not in header:
        raise ConfigError(
            f"{path} is not a links export: its header is {','.join(header)!r}, expected 'source,target'."
        )
    sources: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    for batch in _batches(path, {"source": _DICT, "target": _DICT}, block_size, "links"):
        sources.append(vocab.ids(batch.column("source")))
        targets.append(vocab.ids(batch.column("target")))
    return sources, targets


@dataclass
class _RawMeta:
    columns: tuple[str, ...]
    ids: list[np.ndarray] = field(default_factory=list)
    pagetypes: list[pa.Array] = field(default_factory=list)
    flags: dict[str, list[np.ndarray]] = field(default_factory=dict)
    numbers: dict[str, list[np.ndarray]] = field(default_factory=dict)


def _read_meta(path: Path, vocab: _Vocabulary, block_size: int) -> _RawMeta:
    header = csv_header(path, "meta")
    if "id" not in header:
        raise ConfigError(f"{path} is not a meta export: its header {','.join(header)!r} has no 'id' column.")
    types: dict[str, pa.DataType] = {"id": _DICT}
    if "pagetype" in header:
        types["pagetype"] = _DICT
    types.update({c: pa.string() for c in FLAG_COLUMNS if c in header})
    types.update({c: pa.float64() for c in NUMBER_COLUMNS if c in header})
    raw = _RawMeta(tuple(c for c in header if c in types and c != "id"))
    raw.flags = {c: [] for c in FLAG_COLUMNS if c in types}
    raw.numbers = {c: [] for c in NUMBER_COLUMNS if c in types}
    for batch in _batches(path, types, block_size, "meta"):
        raw.ids.append(vocab.ids(batch.column("id")))
        if "pagetype" in types:
            raw.pagetypes.append(batch.column("pagetype"))  # few distinct values: cheap to keep
        for c in raw.flags:
            raw.flags[c].append(_flag_values(batch.column(c)))
        for c in raw.numbers:
            raw.numbers[c].append(batch.column(c).to_numpy(zero_copy_only=False).astype(np.float64))
    return raw


@dataclass(eq=False)
class PageAttributes:
    """The meta file as per-page arrays aligned with the vocabulary (index = page id)."""

    columns: tuple[str, ...]  # the known columns the file had, besides id
    rows: int  # rows in the meta file
    present: np.ndarray  # bool: the page has a meta row
    pagetype: np.ndarray | None  # int32 code into `pagetypes`, -1 = no meta row
    pagetypes: list[str]
    flags: dict[str, np.ndarray]  # int8: 1 true, 0 false, -1 unknown
    numbers: dict[str, np.ndarray]  # float64, NaN unknown

    def pagetype_of(self, page: int) -> str | None:
        """The page type label of one page (None without a meta row or without the column)."""
        if self.pagetype is None or self.pagetype[page] < 0:
            return None
        return self.pagetypes[int(self.pagetype[page])] or NONE_LABEL


def _meta_arrays(raw: _RawMeta, n: int) -> PageAttributes:
    """Spread the meta rows over page ids; a duplicated id keeps its last row."""
    ids = _concat(raw.ids, np.int32)
    present = np.zeros(n, dtype=bool)
    present[ids] = True
    pagetype, labels = None, []
    if "pagetype" in raw.columns:
        pagetype = np.full(n, -1, dtype=np.int32)
        if raw.pagetypes:
            unified = pa.chunked_array(raw.pagetypes, type=_DICT).unify_dictionaries()
            labels = [str(v) for v in unified.chunk(0).dictionary.to_pylist()]
            pagetype[ids] = _concat([c.indices.to_numpy(zero_copy_only=False) for c in unified.chunks], np.int32)
    flags: dict[str, np.ndarray] = {}
    for c, parts in raw.flags.items():
        flags[c] = np.full(n, -1, dtype=np.int8)
        flags[c][ids] = _concat(parts, np.int8)
    numbers: dict[str, np.ndarray] = {}
    for c, parts in raw.numbers.items():
        numbers[c] = np.full(n, np.nan)
        numbers[c][ids] = _concat(parts, np.float64)
    return PageAttributes(raw.columns, len(ids), present, pagetype, labels, flags, numbers)


@dataclass(eq=False)
class EncodedGraph:
    """A links file (and its meta file) as integer arrays over a URL vocabulary shared with other graphs."""

    urls: pa.Array  # the vocabulary: page id → URL
    src: np.ndarray  # int32 page id of each link row's source, in file order
    tgt: np.ndarray  # int32 page id of each link row's target
    meta: PageAttributes | None
    links_path: Path
    meta_path: Path | None

    @property
    def size(self) -> int:
        """The vocabulary size (page ids run from 0 to size - 1; shared graphs count each other's pages)."""
        return len(self.urls)

    def url(self, page: int) -> str:
        """The URL of one page id."""
        return str(self.urls[int(page)].as_py())

    def url_list(self, pages: np.ndarray) -> list[str]:
        """The URLs of some page ids, in order."""
        return [str(u) for u in self.urls.take(pa.array(np.asarray(pages, dtype=np.int64))).to_pylist()]

    def links(self, drop_self_loops: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(source ids, target ids) of the link rows, without self-loops unless asked."""
        if not drop_self_loops:
            return self.src, self.tgt
        keep = self.src != self.tgt
        return self.src[keep], self.tgt[keep]

    def degrees(self, drop_self_loops: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(inbound, outbound) link counts per page id."""
        s, t = self.links(drop_self_loops)
        return np.bincount(t, minlength=self.size), np.bincount(s, minlength=self.size)

    def link_keys(self, drop_self_loops: bool = True) -> np.ndarray:
        """One int64 per link row, source id * size + target id, in file order."""
        s, t = self.links(drop_self_loops)
        keys = s.astype(np.int64)
        keys *= max(self.size, 1)
        keys += t
        return keys

    def pages_mask(self) -> np.ndarray:
        """True for the page ids this graph names (in its links or its meta file)."""
        mask = np.zeros(self.size, dtype=bool)
        mask[self.src] = True
        mask[self.tgt] = True
        if self.meta is not None:
            mask |= self.meta.present
        return mask


def encode_graphs(
    files: Sequence[tuple[str | Path, str | Path | None]], *, block_size: int = DEFAULT_BLOCK_SIZE
) -> list[EncodedGraph]:
    """Read (links, meta) file pairs in blocks and encode every URL into one shared vocabulary."""
    vocab = _Vocabulary()
    raws = []
    for links, meta in files:
        sources, targets = _read_links(Path(links), vocab, block_size)
        raws.append((sources, targets, None if meta is None else _read_meta(Path(meta), vocab, block_size)))
    urls = vocab.urls()
    del vocab
    n = len(urls)
    return [
        EncodedGraph(
            urls,
            _concat(sources, np.int32),
            _concat(targets, np.int32),
            None if raw_meta is None else _meta_arrays(raw_meta, n),
            Path(links),
            None if meta is None else Path(meta),
        )
        for (links, meta), (sources, targets, raw_meta) in zip(files, raws, strict=True)
    ]


def encode_graph(
    links_path: str | Path, meta_path: str | Path | None = None, *, block_size: int = DEFAULT_BLOCK_SIZE
) -> EncodedGraph:
    """Read one links file (and its meta file) in blocks into an EncodedGraph."""
    return encode_graphs([(links_path, meta_path)], block_size=block_size)[0]


def sorted_unique(keys: np.ndarray) -> np.ndarray:
    """The distinct values of an int64 array, sorted (sorts `keys` in place: no hash table, little memory)."""
    keys.sort()
    if len(keys) == 0:
        return keys
    keep = np.empty(len(keys), dtype=bool)
    keep[0] = True
    np.not_equal(keys[1:], keys[:-1], out=keep[1:])
    return keys[keep]


def isin_sorted(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """`np.isin(values, sorted_set)` for a sorted, distinct `sorted_set`, by binary search."""
    if len(sorted_set) == 0:
        return np.zeros(len(values), dtype=bool)
    pos = np.searchsorted(sorted_set, values)
    np.minimum(pos, len(sorted_set) - 1, out=pos)
    return sorted_set[pos] == values


def top_ids(score: np.ndarray, urls: pa.Array, k: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Ids of the k highest scores (ties by URL, ascending), among `mask` if given. Scores must not be NaN."""
    ids = np.flatnonzero(mask) if mask is not None else np.arange(len(score))
    if k <= 0 or len(ids) == 0:
        return np.empty(0, dtype=np.int64)
    values = score[ids]
    if len(ids) > k:
        kth = np.partition(values, len(values) - k)[len(values) - k]
        ids, values = ids[values >= kth], values[values >= kth]
    table = pa.table({"score": values, "url": urls.take(pa.array(ids))})
    order = pc.select_k_unstable(table, k, sort_keys=[("score", "descending"), ("url", "ascending")])
    return ids[order.to_numpy()]


# ---------------------------------------------------------------------------------------------------------
# The summary
# ---------------------------------------------------------------------------------------------------------


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
    """What a links export (and its meta file) contains. `to_dict()` for JSON, `to_markdown()` for people."""

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
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (no NaN, plain Python numbers)."""
        return to_plain(dataclasses.asdict(self))

    def to_markdown(self) -> str:
        """The summary as a Markdown report."""
        return _summary_markdown(self)


def to_plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return None if math.isnan(obj) else float(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def _page_row(g: EncodedGraph, page: int, inbound: np.ndarray, outbound: np.ndarray) -> dict[str, Any]:
    row: dict[str, Any] = {"url": g.url(page), "inbound": int(inbound[page]), "outbound": int(outbound[page])}
    if g.meta is not None:
        if g.meta.pagetype is not None:
            row["pagetype"] = g.meta.pagetype_of(page)
        for c, values in g.meta.flags.items():
            row[c] = None if values[page] < 0 else bool(values[page])
        for c, numbers in g.meta.numbers.items():
            v = numbers[page]
            row[c] = None if math.isnan(v) else int(v) if float(v).is_integer() else float(v)
    return row


def summarize(
    links_path: str | Path,
    meta_path: str | Path | None = None,
    *,
    top: int = 20,
    drop_self_loops: bool = True,
    depth: DepthChoice | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> GraphSummary:
    """Summarise a links export (and its meta file) by streaming them; pass the DepthChoice to add its table."""
    graph = encode_graph(links_path, meta_path, block_size=block_size)
    return summarize_encoded(graph, top=top, drop_self_loops=drop_self_loops, depth=depth)


def summarize_encoded(
    g: EncodedGraph, *, top: int = 20, drop_self_loops: bool = True, depth: DepthChoice | None = None
) -> GraphSummary:
    """Summarise an already encoded graph (see `summarize`)."""
    n = g.size
    loops = int(np.count_nonzero(g.src == g.tgt))
    s, t = g.links(drop_self_loops)
    inbound = np.bincount(t, minlength=n)
    outbound = np.bincount(s, minlength=n)
    unique = len(sorted_unique(g.link_keys(drop_self_loops)))
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
        edges_counted=len(s),
        unique_edges=unique,
        duplicate_edges=len(s) - unique,
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


# ---------------------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (cells escaped)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def pct(value: float | None) -> str:
    """0.1234 → '12.3%'; None → 'n/a'."""
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _page_table(rows: list[dict[str, Any]]) -> str:
    keys = ["url", "inbound", "outbound"] + [
        k for k in (rows[0] if rows else {}) if k not in ("url", "inbound", "outbound")
    ]
    return md_table(keys, [[r.get(k) for k in keys] for r in rows])


def _degree_md(title: str, d: DegreeStats) -> list[str]:
    return [
        f"### {title}",
        "",
        f"Over {d.pages:,} {d.over}: mean {d.mean:g}, median {d.median:g}, p90 {d.p90:g}, p99 {d.p99:g}, "
        f"max {d.max:,}; {d.zero:,} with none.",
        "",
        md_table(["links", "pages"], [[b["bucket"], b["pages"]] for b in d.histogram]),
        "",
    ]


def _summary_markdown(s: GraphSummary) -> str:
    loops = "dropped from the statistics" if s.self_loops_dropped else "kept in the statistics"
    out = [
        "# Link graph summary",
        "",
        f"- links file: `{s.links_file}`" + (f"\n- meta file: `{s.meta_file}`" if s.meta_file else ""),
        "",
        md_table(
            ["", "count"],
            [
                ["pages (distinct URLs in links ∪ meta)", s.pages],
                ["pages named in the links file", s.pages_in_links],
                ["pages with outlinks (sources)", s.source_pages],
                ["links (rows of the file)", s.edges],
                [f"self-loops ({loops})", s.self_loops],
                ["links counted", s.edges_counted],
                ["unique links (source, target)", s.unique_edges],
                ["duplicate links", s.duplicate_edges],
            ]
            + (
                [["pages in the meta file", s.pages_in_meta], ["linked pages without meta", s.pages_without_meta]]
                if s.pages_in_meta is not None
                else []
            ),
        ),
        "",
    ]
    if s.depth_table:
        out += [f"## Links per depth (chosen depth {s.chosen_depth}, limit {s.depth_limit:,})", ""]
        out.append(
            md_table(
                ["depth", "links at depth", "cumulative", "fits", "chosen"],
                [
                    [r["depth"], r["edges"], r["cumulative"], r["fits"], "◀" if r["chosen"] else ""]
                    for r in s.depth_table
                ],
            )
        )
        out.append("")
    out += ["## Degrees", ""]
    out += _degree_md("Inbound links per page", s.in_degree)
    out += _degree_md("Outbound links per page", s.out_degree)
    out += [f"## Most-linked pages (top {s.top})", "", _page_table(s.top_pages) if s.top_pages else "No links.", ""]
    if s.orphans is not None:
        out += [
            "## Orphans at this depth",
            "",
            f"{s.orphans:,} of {s.pages_in_meta:,} pages of the meta file ({pct(s.orphan_share)}) receive no link "
            "in the links file (they may be linked from pages deeper than the exported depth).",
            "",
        ]
        if s.orphan_sample:
            order = "by impressions, then URL" if "impressions" in s.meta_columns else "by URL"
            out += [f"First {len(s.orphan_sample)} ({order}):", "", _page_table(s.orphan_sample), ""]
    if s.pagetypes is not None:
        out += ["## Pages per page type", ""]
        out.append(
            md_table(
                ["page type", "pages", "share", "inbound links", "orphans"],
                [[r["pagetype"], r["pages"], pct(r["share"]), r["inbound_links"], r["orphans"]] for r in s.pagetypes],
            )
        )
        out.append("")
    if s.compliance is not None:
        c = s.compliance
        out += [
            "## Compliance",
            "",
            f"- {c['compliant_pages']:,} compliant, {c['non_compliant_pages']:,} non-compliant, "
            f"{c['unknown_pages']:,} unknown pages in the meta file.",
            f"- {c['non_compliant_linked_pages']:,} non-compliant pages receive links: "
            f"{pct(c['non_compliant_linked_share'])} of the non-compliant pages, "
            f"{pct(c['linked_pages_non_compliant_share'])} of the linked pages.",
            f"- {c['links_to_non_compliant']:,} links ({pct(c['links_to_non_compliant_share'])} of the links counted) "
            "point to non-compliant pages.",
            "",
        ]
    if s.notes:
        out += ["## Notes", ""] + [f"- {n}" for n in s.notes] + [""]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------------------


def write_report(summary: GraphSummary, folder: str | Path, stem: str) -> tuple[Path, Path]:
    """Write `{stem}_summary.json` and `{stem}_summary.md` into `folder` atomically; return their paths."""
    folder = Path(folder)
    json_path, md_path = folder / f"{stem}_summary.json", folder / f"{stem}_summary.md"
    atomic_write_json(json_path, summary.to_dict())
    atomic_write_text(md_path, summary.to_markdown())
    return json_path, md_path


def local_analyses(out_dir: str | Path, ref: ProjectRef) -> list[str]:
    """Analysis slugs with a links file in `{out_dir}/{org}/{project}/`, oldest first."""
    from . import layout

    return layout.local_analyses(layout.out_dir(out_dir), ref)


def export_files(
    out_dir: str | Path | None, project_url: str, analysis: str | None = None
) -> tuple[Path, Path | None, str]:
    """(links path, meta path or None, analysis slug) of an export already in `out_dir` (see layout.find_export)."""
    from . import layout
    from .urls import clean_url

    return layout.find_export(layout.out_dir(out_dir), clean_url(project_url), analysis)


def write_export_reports(result: ExportResult, *, top: int = 20, view: bool = True) -> tuple[GraphSummary, list[Path]]:
    """Summarise an export and write the report files next to its CSVs; return the summary and the paths.

    Writes `{project}_{analysis}_summary.json` / `.md`, the depth chart `_depth.svg` (when the depth is
    known) and, with `view=True`, an offline interactive view `_graph.html` that any browser opens.
    """
    from . import viz

    g = encode_graph(result.links.path, result.meta.path)
    summary = summarize_encoded(g, top=top, depth=result.depth)
    folder = Path(result.links.path).parent
    stem = f"{result.project.project}_{result.analysis.slug}"
    written = list(write_report(summary, folder, stem))
    if result.depth is not None:
        svg_path = folder / f"{stem}_depth.svg"
        atomic_write_text(svg_path, viz.depth_chart_svg(result.depth, standalone=True))
        written.append(svg_path)
    if view:
        html_path = folder / f"{stem}_graph.html"
        atomic_write_text(html_path, viz.graph_view_html(g, title=f"{result.project} — {result.analysis.slug}"))
        written.append(html_path)
    return summary, written


def brief_text(summary: GraphSummary) -> str:
    """A few lines of the summary for a one-screen terminal report."""
    lines = [
        f"  self-loops    {summary.self_loops:,} ({'left out of' if summary.self_loops_dropped else 'kept in'} "
        "the statistics, kept in the file)"
    ]
    if summary.orphans is not None:
        lines.append(f"  orphans       {summary.orphans:,} pages in the meta file receive no link at this depth")
    if summary.top_pages:
        first = summary.top_pages[0]
        lines.append(f"  most linked   {first['url']} ({first['inbound']:,} inbound links)")
    return "\n".join(lines)


def headless_report(result: ExportResult, *, top: int = 20, view: bool = True) -> str:
    """Write the report files (see `write_export_reports`) and return the full text report to print."""
    from . import viz

    summary, written = write_export_reports(result, top=top, view=view)
    parts = []
    if result.depth is not None:
        parts.append(viz.depth_chart_text(result.depth))
    parts.append(summary.to_markdown())
    parts.append("Report files:\n" + "\n".join(f"  {p}" for p in written))
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------------------------------------
# Loaders for people who continue in code
# ---------------------------------------------------------------------------------------------------------


def _nodes_frame(g: EncodedGraph, drop_self_loops: bool) -> pd.DataFrame:
    import pandas as pd

    inbound, outbound = g.degrees(drop_self_loops)
    data: dict[str, Any] = {
        "id": g.urls.to_pandas(),
        "in_links": inbound.astype(np.int64),
        "out_links": outbound.astype(np.int64),
    }
    if g.meta is not None:
        data["in_meta"] = g.meta.present
        if g.meta.pagetype is not None:
            data["pagetype"] = pd.Categorical.from_codes(g.meta.pagetype, categories=g.meta.pagetypes)
        for c, flag in g.meta.flags.items():
            data[c] = pd.arrays.BooleanArray(flag == 1, flag < 0)
        for c, numbers in g.meta.numbers.items():
            missing = np.isnan(numbers)
            data[c] = pd.arrays.IntegerArray(np.where(missing, 0, numbers).round().astype(np.int64), missing)
    return pd.DataFrame(data)


def load_graph(
    links_path: str | Path,
    meta_path: str | Path | None = None,
    *,
    as_: Literal["networkx", "pandas"] = "networkx",
    drop_self_loops: bool = False,
) -> Any:
    """Load an export as a networkx DiGraph (node attributes from meta) or as (edges_df, nodes_df) frames.

    networkx: one edge per distinct (source, target), its `weight` the number of link rows; nodes carry the
    meta fields (booleans as bool, impressions/clicks as int; missing values are left out). Self-loops are
    kept unless `drop_self_loops`. Mind the memory: networkx needs about 1 KB per edge.

    pandas: `edges_df` is the links file as read by pandas' pyarrow engine (columns source, target, every
    row, self-loops included unless dropped); `nodes_df` has one row per page: id, in_links, out_links (self-
    loops excluded when dropped), and in_meta plus the meta fields when a meta file is given.
    """
    if as_ not in ("networkx", "pandas"):
        raise ConfigError(f"as_ must be 'networkx' or 'pandas', not {as_!r}.")
    g = encode_graph(links_path, meta_path)
    if as_ == "pandas":
        import pandas as pd

        edges = pd.read_csv(links_path, engine="pyarrow", usecols=["source", "target"], dtype="str")
        if drop_self_loops:
            edges = edges[edges["source"] != edges["target"]].reset_index(drop=True)
        return edges, _nodes_frame(g, drop_self_loops)
    return _networkx(g, drop_self_loops)


def _networkx(g: EncodedGraph, drop_self_loops: bool) -> nx.DiGraph:
    try:
        import networkx as nx
    except ImportError:  # pragma: no cover - networkx is an optional extra
        raise ConfigError("load_graph(as_='networkx') needs networkx: pip install 'botify-graph[graph]'.") from None
    s, t = g.links(drop_self_loops)
    n = max(g.size, 1)
    keys, counts = np.unique(s.astype(np.int64) * n + t, return_counts=True)
    urls = g.urls.to_pylist()
    graph = nx.DiGraph()
    graph.add_nodes_from(urls)
    graph.add_weighted_edges_from(
        (urls[int(k // n)], urls[int(k % n)], int(c)) for k, c in zip(keys.tolist(), counts.tolist(), strict=True)
    )
    meta = g.meta
    if meta is not None:
        for page in np.flatnonzero(meta.present).tolist():
            attrs: dict[str, Any] = {}
            label = meta.pagetype_of(page)
            if label is not None:
                attrs["pagetype"] = label
            for c, flag in meta.flags.items():
                if flag[page] >= 0:
                    attrs[c] = bool(flag[page])
            for c, numbers in meta.numbers.items():
                if not math.isnan(numbers[page]):
                    attrs[c] = int(numbers[page])
            graph.nodes[urls[page]].update(attrs)
    return graph
