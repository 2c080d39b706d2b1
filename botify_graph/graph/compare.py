"""What changed between two crawls: links and pages that appeared or disappeared, inbound-link winners and
losers, depth changes.

Both exports are read in blocks and their URLs dictionary-encoded into ONE vocabulary (`encode.encode_graphs`),
so a page is the same int32 id in both crawls and a link is one int64 (source id * pages + target id). Every
comparison is then numpy set operations on integers: two 1M-link files take a few hundred MB, not gigabytes.
Only the two sorted sets of distinct links are held whole (8 bytes per distinct link); the links in file order
are turned into keys a million at a time, to find the first added and removed ones (a scan that stops as soon
as it has them) and to test membership, so two 10M-link crawls stay around a gigabyte at the peak.

Counting rules: links are compared as distinct (source, target) pairs, self-loops left out; a page exists in
a crawl when its links or its meta file name it; inbound links count link rows (as in the summary); gained
and lost are ranked over pages that exist in both crawls. Samples are the first links in the new (added) or
old (removed) file's order, and the pages with the most inbound links for appeared/disappeared pages.

Depth changes need a `depth` column in both meta files (the meta export's `depth` field, on by default).
When one of them lacks it (exported with other fields), the diff says so rather than guessing.
`render.markdown` and `render.html` turn a GraphDiff into reports; `reports.compare_exports` writes them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .encode import DEFAULT_BLOCK_SIZE, EncodedGraph, encode_graphs, isin_sorted, to_plain, top_ids

__all__ = ["NO_DEPTH", "GraphDiff", "compare_graphs"]

_EMPTY = np.empty(0, dtype=np.int64)

NO_DEPTH = (
    "Depth changes need a 'depth' column in both meta files; at least one of these exports was made without "
    "the depth field, so depth changes are not reported."
)


@dataclass
class GraphDiff:
    """Differences between an old and a new link graph: `to_dict()` for JSON; `render` words it for people."""

    old_label: str
    new_label: str
    old_links_file: str
    new_links_file: str
    old_edges: int  # distinct links (self-loops left out)
    new_edges: int
    links_added: int
    links_removed: int
    links_kept: int
    old_pages: int
    new_pages: int
    pages_appeared: int
    pages_disappeared: int
    pages_kept: int
    top: int
    added_sample: list[dict[str, str]] = field(default_factory=list)  # first added links, in new file order
    removed_sample: list[dict[str, str]] = field(default_factory=list)  # first removed links, in old file order
    appeared_sample: list[dict[str, Any]] = field(default_factory=list)  # most-linked new pages
    disappeared_sample: list[dict[str, Any]] = field(default_factory=list)  # most-linked vanished pages
    gained: list[dict[str, Any]] = field(default_factory=list)  # url, old_inbound, new_inbound, change
    lost: list[dict[str, Any]] = field(default_factory=list)
    pages_gained: int = 0  # pages in both crawls with more inbound links
    pages_lost: int = 0
    depth: dict[str, Any] | None = None  # when both metas have a depth column
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return to_plain(dataclasses.asdict(self))


_STEP = 1 << 20  # links turned into keys at once, when the file order matters


def _unique_links(g: EncodedGraph) -> np.ndarray:
    """The sorted distinct link keys (self-loops left out)."""
    return g.link_set(drop_self_loops=True)


def _keys_in_order(g: EncodedGraph, n: int) -> Iterator[np.ndarray]:
    """The link keys (self-loops left out) in file order, `_STEP` rows at a time."""
    for start in range(0, len(g.src), _STEP):
        s, t = g.src[start : start + _STEP], g.tgt[start : start + _STEP]
        keep = s != t
        keys = s[keep].astype(np.int64)
        keys *= n
        keys += t[keep]
        yield keys


def _first_missing(g: EncodedGraph, other: np.ndarray, n: int, k: int) -> np.ndarray:
    """The first k distinct link keys of `g` (file order) that are not in the sorted set `other`."""
    found: dict[int, None] = {}
    for keys in _keys_in_order(g, n):
        for key in keys[~isin_sorted(keys, other)].tolist():
            found.setdefault(key)
            if len(found) >= k:
                return np.array(list(found), dtype=np.int64)
    return np.array(list(found), dtype=np.int64)


def _count_in(values: np.ndarray, sorted_set: np.ndarray) -> int:
    """How many of `values` are in `sorted_set`, a million at a time (bounded temporaries)."""
    return sum(
        int(np.count_nonzero(isin_sorted(values[i : i + _STEP], sorted_set))) for i in range(0, len(values), _STEP)
    )


def _links_sample(g: EncodedGraph, keys: np.ndarray, n: int) -> list[dict[str, str]]:
    sources, targets = g.url_list(keys // n), g.url_list(keys % n)
    return [{"source": s, "target": t} for s, t in zip(sources, targets, strict=True)]


def compare_graphs(
    old_links: str | Path,
    new_links: str | Path,
    old_meta: str | Path | None = None,
    new_meta: str | Path | None = None,
    *,
    top: int = 20,
    old_label: str = "old",
    new_label: str = "new",
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> GraphDiff:
    """Compare two link graphs (each a links CSV and optionally its meta CSV) and return what changed."""
    old, new = encode_graphs([(old_links, old_meta), (new_links, new_meta)], block_size=block_size)
    n = max(old.size, 1)
    old_set = _unique_links(old)
    new_set = _unique_links(new)
    kept = _count_in(new_set, old_set)

    old_pages, new_pages = old.pages_mask(), new.pages_mask()
    appeared, disappeared, both = new_pages & ~old_pages, old_pages & ~new_pages, old_pages & new_pages
    old_in, _ = old.degrees()
    new_in, _ = new.degrees()
    change = new_in.astype(np.int64) - old_in.astype(np.int64)

    def rows(ids: np.ndarray) -> list[dict[str, Any]]:
        return [
            {"url": u, "old_inbound": int(old_in[i]), "new_inbound": int(new_in[i]), "change": int(change[i])}
            for i, u in zip(ids.tolist(), old.url_list(ids), strict=True)
        ]

    diff = GraphDiff(
        old_label=old_label,
        new_label=new_label,
        old_links_file=str(old_links),
        new_links_file=str(new_links),
        old_edges=len(old_set),
        new_edges=len(new_set),
        links_added=len(new_set) - kept,
        links_removed=len(old_set) - kept,
        links_kept=kept,
        old_pages=int(old_pages.sum()),
        new_pages=int(new_pages.sum()),
        pages_appeared=int(appeared.sum()),
        pages_disappeared=int(disappeared.sum()),
        pages_kept=int(both.sum()),
        top=top,
        added_sample=_links_sample(new, _first_missing(new, old_set, n, top) if top > 0 else _EMPTY, n),
        removed_sample=_links_sample(old, _first_missing(old, new_set, n, top) if top > 0 else _EMPTY, n),
        appeared_sample=rows(top_ids(new_in, new.urls, top, appeared)),
        disappeared_sample=rows(top_ids(old_in, old.urls, top, disappeared)),
        gained=rows(top_ids(change, old.urls, top, both & (change > 0))),
        lost=rows(top_ids(-change, old.urls, top, both & (change < 0))),
        pages_gained=int(np.count_nonzero(both & (change > 0))),
        pages_lost=int(np.count_nonzero(both & (change < 0))),
    )
    diff.depth = _depth_changes(old, new, both, top)
    if diff.depth is None:
        diff.notes.append(NO_DEPTH)
    return diff


def _depth_changes(old: EncodedGraph, new: EncodedGraph, both: np.ndarray, top: int) -> dict[str, Any] | None:
    if old.meta is None or new.meta is None or "depth" not in old.meta.numbers or "depth" not in new.meta.numbers:
        return None
    d_old, d_new = old.meta.numbers["depth"], new.meta.numbers["depth"]
    known = both & ~np.isnan(d_old) & ~np.isnan(d_new)
    delta = np.where(known, d_new - d_old, 0.0)
    moved = known & (delta != 0)

    def rows(ids: np.ndarray) -> list[dict[str, Any]]:
        return [
            {"url": u, "old_depth": int(d_old[i]), "new_depth": int(d_new[i]), "change": int(delta[i])}
            for i, u in zip(ids.tolist(), old.url_list(ids), strict=True)
        ]

    return {
        "pages_compared": int(known.sum()),
        "deeper": int(np.count_nonzero(known & (delta > 0))),
        "shallower": int(np.count_nonzero(known & (delta < 0))),
        "same": int(np.count_nonzero(known & (delta == 0))),
        "deeper_sample": rows(top_ids(delta, old.urls, top, moved & (delta > 0))),
        "shallower_sample": rows(top_ids(-delta, old.urls, top, moved & (delta < 0))),
    }
