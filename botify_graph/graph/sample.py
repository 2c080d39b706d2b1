"""Which pages and links the interactive view draws: the most-linked pages, the links among them, their sizes.

A 2D canvas stays smooth up to a few thousand pages and ~20,000 links, so a bigger graph is shown as a
sample: the `max_nodes` pages with the most inbound links (ties by URL) and, when the links among them are
more than `max_links`, a random (seeded, so repeatable) subset of those. Pages are sized by their inbound
links or by any number column of the meta file (`size_by`). `render.graphview` colours and draws them.

The sample is what keeps the view usable on complete graphs: whatever the size of the export, the page gets at
most `max_nodes` pages and `max_links` links (its size is bounded; the work is a few passes over the link ids).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .encode import EncodedGraph, meta_column_kinds, sorted_unique, top_ids

__all__ = ["ColourKeys", "ViewColumns", "ViewSample", "colour_keys", "view_columns", "view_sample"]


@dataclass(frozen=True)
class ViewColumns:
    """The meta columns a view (ours or Cosmograph) can colour or size pages by."""

    color: tuple[str, ...]  # every column: a category or flag by its values, a number by its ranges
    size: tuple[str, ...]  # the number columns

    def check(self, *, color_by: str | None = None, size_by: str | None = None) -> list[str]:
        """What is wrong with a choice of columns, as sentences ([] when nothing)."""
        wrong = []
        if color_by and color_by not in self.color:
            wrong.append(f"the meta file has no column {color_by!r} to colour by (it has: {', '.join(self.color)})")
        if size_by and size_by not in self.size:
            has = ", ".join(self.size) or "none"
            wrong.append(f"{size_by!r} is not a number column of the meta file to size by (those are: {has})")
        return wrong


def view_columns(meta: str | Path | None) -> ViewColumns:
    """Which columns of a meta file can colour and size a view (judged on the file's first block)."""
    if meta is None:
        return ViewColumns((), ())
    kinds = meta_column_kinds(meta)
    return ViewColumns(tuple(kinds), tuple(c for c, k in kinds.items() if k == "number"))


@dataclass(eq=False)
class ViewSample:
    """The pages and links of the view, in numbers."""

    pages: list[int]  # page ids shown, most-linked first
    urls: list[str]
    inbound: list[int]
    impressions: list[int | None] | None  # None when the meta file has no impressions
    size: list[float]  # what each page is sized by: its inbound links, or a number column when asked and known
    sized_by: str  # "inbound" or the meta column
    links: list[int]  # the links drawn, as flat (source, target) pairs of positions in `pages`
    links_among: int  # distinct links among the shown pages (more than drawn when over max_links)
    pages_total: int  # pages the graph names
    size_values: list[int | float | None] | None = None  # the sized column's values (None: sized by inbound)

    @property
    def links_drawn(self) -> int:
        return len(self.links) // 2

    @property
    def sample(self) -> bool:
        """True when the view leaves out pages or links."""
        return len(self.pages) < self.pages_total or self.links_among > self.links_drawn


def view_sample(
    g: EncodedGraph, *, max_nodes: int = 2000, max_links: int = 20_000, size_by: str = "inbound"
) -> ViewSample:
    """The most-linked pages (all if they fit), the distinct links among them (self-loops left out), sizes.

    `size_by`: "inbound", or a number column of the meta file (impressions, internal_page_rank, …); anything
    else sizes by inbound links (`sized_by` says which was used)."""
    inbound, _ = g.degrees()
    present = g.pages_mask()
    chosen = top_ids(inbound, g.urls, max_nodes, present)
    index = np.full(g.size, -1, dtype=np.int64)
    index[chosen] = np.arange(len(chosen))
    s, t = g.links()
    keep = (index[s] >= 0) & (index[t] >= 0)
    k = max(len(chosen), 1)
    pairs = sorted_unique(index[s[keep]] * k + index[t[keep]])
    among = len(pairs)
    if among > max_links:
        pairs = np.sort(np.random.default_rng(0).choice(pairs, size=max_links, replace=False))
    impressions = g.meta.numbers.get("impressions") if g.meta is not None else None
    sized_by, size, values = "inbound", inbound[chosen].astype(np.float64), None
    column = g.meta.numbers.get(size_by) if g.meta is not None and size_by != "inbound" else None
    if column is not None:
        sized_by, size = size_by, np.clip(np.nan_to_num(column[chosen], nan=0.0), 0.0, None)
        values = [None if math.isnan(v) else int(v) if v.is_integer() else v for v in column[chosen].tolist()]
    return ViewSample(
        pages=chosen.tolist(),
        urls=g.url_list(chosen),
        inbound=[int(v) for v in inbound[chosen]],
        impressions=None
        if impressions is None
        else [None if math.isnan(v) else int(v) for v in impressions[chosen].tolist()],
        size=size.tolist(),
        sized_by=sized_by,
        size_values=values,
        links=np.column_stack([pairs // k, pairs % k]).ravel().astype(int).tolist(),
        links_among=among,
        pages_total=int(present.sum()),
    )


@dataclass(frozen=True)
class ColourKeys:
    """What colours each shown page: the value of a meta column, or for a number column the range it falls in."""

    kind: str | None  # "pagetype", "flag", "category", "number", or None (no such column, or no meta file)
    present: list[bool]  # the page has a meta row
    values: list[Any]  # per page: a label (pagetype, category), 1/0/-1 (flag), a range index or -1 (number)
    ranges: list[tuple[float, float]]  # number columns: (low, high) of each range, low to high


def number_ranges(values: np.ndarray, parts: int = 5) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """(range index per value, -1 for NaN; the ranges): up to `parts` ranges cut at the known values' quantiles;
    a value on a cut belongs to the lower range."""
    known = ~np.isnan(values)
    if not known.any():
        return np.full(len(values), -1, dtype=np.int64), []
    cuts = np.unique(np.quantile(values[known], np.arange(1, parts) / parts))
    lows = [float(values[known].min()), *cuts.tolist()]
    highs = [*cuts.tolist(), float(values[known].max())]
    index = np.where(known, np.searchsorted(cuts, np.nan_to_num(values), side="left"), -1)
    return index, list(zip(lows, highs, strict=True))


def colour_keys(g: EncodedGraph, pages: list[int], column: str | None) -> ColourKeys:
    """The colour key of each page for `column` (see ColourKeys)."""
    meta = g.meta
    kind = meta.kind(column) if meta is not None and column else None
    if meta is None or kind is None or column is None:
        return ColourKeys(None, [False] * len(pages), [None] * len(pages), [])
    ids = np.asarray(pages, dtype=np.int64)
    present = meta.present[ids].tolist()
    if kind == "flag":
        return ColourKeys(kind, present, meta.flags[column][ids].tolist(), [])
    if kind == "number":
        index, ranges = number_ranges(meta.numbers[column][ids])
        return ColourKeys(kind, present, index.tolist(), ranges)
    return ColourKeys(kind, present, [meta.value(column, p) for p in pages], [])
