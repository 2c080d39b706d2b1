"""Which pages and links the interactive view draws: the most-linked pages, the links among them, their sizes.

A 2D canvas stays smooth up to a few thousand pages and ~20,000 links, so a bigger graph is shown as a
sample: the `max_nodes` pages with the most inbound links (ties by URL) and, when the links among them are
more than `max_links`, a random (seeded, so repeatable) subset of those. `render.graphview` draws it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .encode import EncodedGraph, sorted_unique, top_ids

__all__ = ["ViewSample", "view_sample"]


@dataclass(eq=False)
class ViewSample:
    """The pages and links of the view, in numbers."""

    pages: list[int]  # page ids shown, most-linked first
    urls: list[str]
    inbound: list[int]
    impressions: list[int | None] | None  # None when the meta file has no impressions
    size: list[float]  # what each page is sized by: its inbound links, or its impressions when asked and known
    sized_by: str  # "inbound" or "impressions"
    links: list[int]  # the links drawn, as flat (source, target) pairs of positions in `pages`
    links_among: int  # distinct links among the shown pages (more than drawn when over max_links)
    pages_total: int  # pages the graph names

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
    """The most-linked pages (all if they fit), the distinct links among them (self-loops left out), sizes."""
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
    sized_by, size = "inbound", inbound[chosen].astype(np.float64)
    if size_by == "impressions" and impressions is not None:
        sized_by, size = "impressions", np.nan_to_num(impressions[chosen], nan=0.0)
    return ViewSample(
        pages=chosen.tolist(),
        urls=g.url_list(chosen),
        inbound=[int(v) for v in inbound[chosen]],
        impressions=None
        if impressions is None
        else [None if math.isnan(v) else int(v) for v in impressions[chosen].tolist()],
        size=size.tolist(),
        sized_by=sized_by,
        links=np.column_stack([pairs // k, pairs % k]).ravel().astype(int).tolist(),
        links_among=among,
        pages_total=int(present.sum()),
    )
