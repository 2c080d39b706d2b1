"""Deterministic synthetic Botify projects: analyses, pages, internal links, Search Console numbers.

Nothing here is random at run time: every value is a function of (project, analysis, page index) through a
64-bit mixing hash, so tests can compute the answers the fake server gives. Memory stays per *page*, never
per *link*: a crawl stores a handful of small arrays (depth offsets, outlink counts, flags, GSC numbers,
URL strings) and regenerates a page's link targets on demand.

The link graph of a crawl:

- Pages are numbered 0..n-1 in depth order: page 0 is the home page (depth 0), then every depth-1 page,
  and so on. `starts[d]` is the first page of depth `d`.
- Every page at depth d+1 has a *parent* at depth d that links to it (`parent = starts[d] + (j - starts[d+1])
  % pages_at[d]`), so the assigned depth really is the click depth.
- A page links to: its children; a "menu" (the first `menu` pages: home and depth-1 categories, which may
  include the page itself: a realistic self-loop; the home page links to itself); and extra pages picked by
  a stride walk over every page at depth <= d+1 (distinct by construction, and occasionally itself).
  So every target is a crawled page at depth <= source depth + 1 and no source repeats a target.
- `outlinks(i)` (= `outlinks_internal.nb.total`) is exactly `len(targets(i))`, so a grouped sum of it equals
  the number of rows of a (url, outlinks_internal.graph.url) export.
- Pages at the deepest level have no outlinks (the crawl stopped at its max depth): the cumulative edge
  count plateaus. A few deep 404/301 pages without children have none either.

Projects (`PROJECTS`), all in organisation `example-org` (the demo user's):

- `example.com`: Search Console data and log data (a `log_analyzer.google` collection, and the crawl field
  `search_engines.google.crawls.count`); ~70k pages and ~1.9M links at scale 1.0 for analysis 20241108,
  cumulative links cross 1,000,000 between depth 4 and depth 5.
- `no-gsc.example`: a smaller site without a `search_console` collection.
- `huge-home.example`: a flat site whose home page plus depth 1 already exceed 1,000,000 links at scale 1.0
  (and ~25k at scale 0.02: pass a `max_edges` below `crawl.cumulative_edges()[1]` to test the depth-1 overflow).
- `big.example`: a big e-commerce-like site for complete exports: ~150k pages and ~4.4M links at scale 1.0
  (depth 0+1 alone ~239k links: over a 200,000-row export cap; depth 3 alone ~1.8M: over the 1,000,000 one;
  depth-1 pages are all categories, so page type cannot split them). At scale 0.05: ~7.5k pages, ~220k links,
  depth 0+1 ~11k.

Page attributes beyond the link graph (what `bql.CRAWL_FIELDS` serves), all functions of the page index:
HTTP status, compliance and its reasons, canonical, sitemap, title, description, H1s (multiple-valued: a few
pages have two, error pages none), Botify's internal PageRank (`internal_page_rank.value` on a 0-10 scale,
`.position` 1 = highest, `.raw` the probability: a real PageRank, damping 0.85, computed over the crawl's whole
link graph on first use) and unique internal inlinks (`inlinks_internal.nb.unique`, from the same graph).

Every project has the same five analyses (`ANALYSES`): 20241115 (crawling), 20241108, 20241101-2, 20241101
(success, slightly different sizes) and 20241025 (failed). Only success analyses have pages.
"""

from __future__ import annotations

import bisect
import math
import threading
import zlib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from math import gcd

DEMO_ORG = "example-org"
DEMO_USERNAME = "demo.user"

_M64 = (1 << 64) - 1


def mix(x: int) -> int:
    """A 64-bit mixing hash (splitmix64 finaliser): deterministic pseudo-randomness from an integer."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def _seed(*parts: str) -> int:
    text = "/".join(parts).encode()
    return mix(zlib.crc32(text) | (zlib.adler32(text) << 32))


PAGETYPES = ("home", "category", "product", "article", "list", "tag", "search")
HOME, CATEGORY, PRODUCT, ARTICLE, LIST, TAG, SEARCH = range(len(PAGETYPES))

_WORDS = (
    "red", "blue", "green", "shoes", "shirts", "garden", "kitchen", "tools", "books", "music", "sofa", "lamp",
    "chair", "table", "coffee", "tea", "bike", "helmet", "tent", "boots", "jacket", "socks", "paint", "brush",
    "caf%C3%A9", "desk", "clock", "radio", "phone", "cable", "plug", "light",
)  # fmt: skip

# flags bits
_COMPLIANT, _CANONICAL_EQUAL, _CANONICAL_NULL, _SITEMAP = 1, 2, 4, 8


@dataclass(frozen=True)
class SiteSpec:
    """The shape of a synthetic site at scale 1.0.

    `depth_sizes[d]` pages at depth d (depth_sizes[0] is the home page and must be 1); `degree[d]` the mean
    number of internal outlinks of a depth-d page (0 for the last depth: the crawl's max depth).
    """

    host: str
    depth_sizes: tuple[int, ...]
    degree: tuple[int, ...]
    gsc: bool = True
    gsc_start: str = "2023-11-01"
    gsc_end: str = "2024-11-17"
    logs: bool = False  # log files analysed: a log_analyzer.google collection and search_engines.* crawl fields

    def __post_init__(self) -> None:
        if not self.depth_sizes or self.depth_sizes[0] != 1:
            raise ValueError("depth_sizes[0] is the home page and must be 1")
        if len(self.degree) != len(self.depth_sizes):
            raise ValueError("degree needs one value per depth")


@dataclass(frozen=True)
class AnalysisSpec:
    """One analysis of a project: slug, status, launch time, and how big its crawl is relative to the spec."""

    slug: str
    status: str
    date_launched: str
    date_finished: str | None
    size_factor: float = 1.0
    pk: int = 0

    @property
    def day(self) -> date:
        head = self.slug.split("-", 1)[0]
        return date(int(head[:4]), int(head[4:6]), int(head[6:8]))

    @property
    def name(self) -> str:
        """The Botify-style display name, e.g. `2024 Nov. 8th`."""
        d = self.day
        suffix = "th" if 11 <= d.day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(d.day % 10, "th")
        return f"{d.year} {_MONTHS[d.month - 1]} {d.day}{suffix}"


_MONTHS = ("Jan.", "Feb.", "March", "April", "May", "June", "July", "Aug.", "Sept.", "Oct.", "Nov.", "Dec.")

ANALYSES: tuple[AnalysisSpec, ...] = (
    AnalysisSpec("20241101", "success", "2024-11-01T02:00:03.214511Z", "2024-11-01T08:12:40.118230Z", 0.93, 1833101),
    AnalysisSpec("20241108", "success", "2024-11-08T02:00:05.123456Z", "2024-11-08T09:41:12.654321Z", 1.0, 1834567),
    AnalysisSpec("20241025", "failed", "2024-10-25T02:00:01.000412Z", "2024-10-25T03:10:09.500000Z", 1.0, 1831877),
    AnalysisSpec("20241115", "crawling", "2024-11-15T02:00:02.777001Z", None, 1.0, 1835990),
    AnalysisSpec("20241101-2", "success", "2024-11-01T14:30:00.901234Z", "2024-11-01T20:02:31.004100Z", 0.97, 1833188),
)

EXAMPLE_COM = SiteSpec(
    host="https://www.example.com",
    depth_sizes=(1, 40, 800, 6000, 20000, 25000, 12000, 4000, 1500),
    degree=(41, 36, 32, 30, 30, 28, 25, 20, 0),
    logs=True,
)
NO_GSC = SiteSpec(
    host="https://www.no-gsc.example",
    depth_sizes=(1, 12, 150, 900, 2500, 1800, 400),
    degree=(13, 30, 28, 26, 24, 20, 0),
    gsc=False,
)
HUGE_HOME = SiteSpec(
    host="https://www.huge-home.example",
    depth_sizes=(1, 3000, 20000, 4000),
    degree=(3001, 420, 30, 0),
)
BIG = SiteSpec(
    host="https://www.big.example",
    depth_sizes=(1, 600, 8000, 60000, 60000, 20000, 2000),
    degree=(601, 400, 60, 30, 25, 20, 0),
)
PROJECTS: dict[tuple[str, str], SiteSpec] = {
    (DEMO_ORG, "example.com"): EXAMPLE_COM,
    (DEMO_ORG, "no-gsc.example"): NO_GSC,
    (DEMO_ORG, "huge-home.example"): HUGE_HOME,
    (DEMO_ORG, "big.example"): BIG,
}


class Crawl:
    """The pages and links of one success analysis, built eagerly, links generated on demand."""

    def __init__(self, spec: SiteSpec, project: str, analysis: AnalysisSpec, scale: float) -> None:
        self.spec = spec
        self.analysis = analysis
        self.slug = analysis.slug
        self.collection = f"crawl.{analysis.slug}"
        factor = scale * analysis.size_factor
        sizes = [1] + [max(1, round(n * factor)) for n in spec.depth_sizes[1:]]
        starts = [0]
        for n in sizes:
            starts.append(starts[-1] + n)
        self.sizes = sizes
        self.starts = starts
        self.max_depth = len(sizes) - 1
        self.n_pages = starts[-1]
        self._seed = _seed(project, analysis.slug, "pages")
        self._link_seed = _seed(project, analysis.slug, "links")
        self._stats: tuple[list[int], list[float], list[int]] | None = None
        self._stats_lock = threading.Lock()
        self._bounds: tuple[float, float] | None = None
        self._build()

    # -- construction ---------------------------------------------------------------------------------

    def _build(self) -> None:
        n, starts, sizes, spec = self.n_pages, self.starts, self.sizes, self.spec
        top = starts[2] if self.max_depth >= 1 else 1  # home + depth 1: the menu pool
        self.outcount = array("I", bytes(4 * n))
        self.menu = array("H", bytes(2 * n))
        self.ptype = bytearray(n)
        self.flags = bytearray(n)
        self.http = array("H", [200]) * n
        self.impr = array("i", [-1]) * n
        self.clicks = array("i", [-1]) * n
        self.pos10 = array("H", bytes(2 * n))
        self.urls: list[str] = [""] * n
        self._strides: list[tuple[int, ...]] = []
        host, words, nw, seed = spec.host, _WORDS, len(_WORDS), self._seed
        edges = [0] * (self.max_depth + 1)
        for d in range(self.max_depth + 1):
            s, e = starts[d], starts[d + 1]
            nd = e - s
            n_next = sizes[d + 1] if d < self.max_depth else 0
            pool = starts[d + 2] if d < self.max_depth else n  # pages at depth <= d+1
            self._strides.append(_coprime_strides(pool))
            deg = spec.degree[d]
            total = 0
            for i in range(s, e):
                h = mix(seed ^ i)
                off = i - s
                ch = 0 if off >= n_next else (n_next - off + nd - 1) // nd
                # page type
                if d == 0:
                    pt = HOME
                elif d == 1:
                    pt = CATEGORY
                elif d == 2:
                    pt = CATEGORY if h % 10 < 7 else ARTICLE
                else:
                    r = h % 100
                    pt = (
                        PRODUCT
                        if r < 50
                        else ARTICLE
                        if r < 70
                        else LIST
                        if r < 80
                        else TAG
                        if r < 90
                        else SEARCH
                        if r < 95
                        else CATEGORY
                    )
                self.ptype[i] = pt
                w1, w2 = words[(h >> 5) % nw], words[(h >> 11) % nw]
                if pt == HOME:
                    url = f"{host}/"
                elif pt == CATEGORY:
                    url = f"{host}/c/{w1}-{i}/"
                elif pt == PRODUCT:
                    url = f"{host}/p/{w1}-{w2}-{i}.html"
                elif pt == ARTICLE:
                    url = f"{host}/blog/{2015 + (h >> 17) % 10}/{w1}-{w2}-{i}"
                elif pt == LIST:
                    url = f"{host}/c/{w1}-{i}/?page={2 + (h >> 17) % 9}"
                elif pt == TAG:
                    url = f"{host}/tag/{w1}-{i}"
                else:  # search pages carry commas: CSV readers must honour quoting
                    url = f"{host}/search?q={w1},{w2}&p={i}"
                self.urls[i] = url
                # status and compliance
                q = (h >> 20) % 100
                if d >= 2 and ch == 0 and (h >> 27) % 100 < 3:
                    self.http[i] = 404 if (h >> 34) & 1 else 301
                    self.flags[i] = _CANONICAL_NULL
                    continue  # no outlinks, no menu, no GSC
                flags = _CANONICAL_EQUAL
                if pt == SEARCH or q < 3:
                    pass  # noindex: not compliant, canonical to itself
                elif q < 9:
                    flags = 0  # canonical to another URL
                else:
                    flags |= _COMPLIANT
                if pt == HOME or (flags & _COMPLIANT and pt in (CATEGORY, PRODUCT, ARTICLE) and (h >> 36) % 10 < 8):
                    flags |= _SITEMAP
                self.flags[i] = flags
                # links
                if deg:
                    menu = 1 if d == 0 else min(top, 8 + (h >> 40) % 13)
                    want = round(deg * (0.5 + ((h >> 44) & 1023) / 1023))
                    room = pool - menu - ch
                    extra = min(max(want - menu - ch, 0), room)
                    self.menu[i] = menu
                    k = menu + ch + extra
                    self.outcount[i] = k
                    total += k
                elif ch:  # the spec says no links here but children must be reachable: link them only
                    self.outcount[i] = ch
                    total += ch
                # Search Console
                if spec.gsc and flags & _COMPLIANT and (h >> 50) % 100 < 80:
                    if pt == HOME:
                        imp, clk, p10 = 250_000, 41_000, 12
                    else:
                        x = (h >> 54) % 1000
                        imp = (x * x) // (200 * (1 + d))
                        clk = imp * ((h >> 24) % 60) // 1000
                        p10 = 10 + (h >> 30) % 700
                    self.impr[i], self.clicks[i], self.pos10[i] = imp, clk, p10
            edges[d] = total
        self._edges = edges

    # -- pages ----------------------------------------------------------------------------------------

    def depth(self, i: int) -> int:
        return bisect.bisect_right(self.starts, i) - 1

    def pages_at(self, depth: int) -> range:
        """Page indexes at one depth (empty beyond the max depth)."""
        if depth < 0 or depth > self.max_depth:
            return range(0)
        return range(self.starts[depth], self.starts[depth + 1])

    def url(self, i: int) -> str:
        return self.urls[i]

    def pagetype(self, i: int) -> str:
        return PAGETYPES[self.ptype[i]]

    def http_code(self, i: int) -> int:
        return self.http[i]

    def is_compliant(self, i: int) -> bool:
        return bool(self.flags[i] & _COMPLIANT)

    def main_reason(self, i: int) -> str | None:
        if self.flags[i] & _COMPLIANT:
            return None
        if self.http[i] != 200:
            return "http_code"
        return "noindex" if self.flags[i] & _CANONICAL_EQUAL else "canonical"

    def canonical_equal(self, i: int) -> bool | None:
        f = self.flags[i]
        return None if f & _CANONICAL_NULL else bool(f & _CANONICAL_EQUAL)

    def sitemaps_present(self, i: int) -> bool:
        return bool(self.flags[i] & _SITEMAP)

    def detailed_reason(self, i: int) -> str | None:
        reason = self.main_reason(i)
        if reason is None:
            return None
        if reason == "http_code":
            return f"http_code: {self.http[i]}"
        if reason == "noindex":
            return (
                "noindex: X-Robots-Tag"
                if self.ptype[i] == SEARCH and mix(self._seed ^ i) & 1
                else "noindex: meta robots"
            )
        return "canonical: to another URL"

    def title(self, i: int) -> str:
        return f"{self.pagetype(i).title()} {i} | {self.spec.host.split('//', 1)[-1]}"

    def _words(self, i: int) -> tuple[str, str]:
        h = mix(self._seed ^ i)
        return _WORDS[(h >> 5) % len(_WORDS)], _WORDS[(h >> 11) % len(_WORDS)]

    def description(self, i: int) -> str | None:
        """The meta description: missing on error pages and on about one page in eight."""
        if self.http[i] != 200 or (mix(self._seed ^ i) >> 3) % 8 == 0:
            return None
        w1, w2 = self._words(i)
        return f"{w1.title()} and {w2}: our {self.pagetype(i)} page {i}, with delivery options, prices and reviews."

    def h1s(self, i: int) -> list[str]:
        """The H1 headings (multiple-valued): none on error pages, two on about one page in twenty."""
        if self.http[i] != 200:
            return []
        w1, w2 = self._words(i)
        first = f"{w1.title()} {w2}"
        return [first, f"More {w2}"] if (mix(self._seed ^ i) >> 13) % 20 == 0 else [first]

    def google_crawls(self, i: int) -> int | None:
        """Googlebot hits in the logs over 30 days (`search_engines.google.crawls.count`): shallow and compliant
        pages are crawled more; None when the project has no log data."""
        if not self.spec.logs:
            return None
        h = mix(self._seed ^ (i * 7919))
        base = 40 if i == 0 else max(0, 24 - 4 * self.depth(i))
        if not self.is_compliant(i):
            base //= 3
        return 0 if (h >> 9) % 10 == 0 else base + (h >> 17) % (base + 3)

    # -- the whole link graph: unique inlinks and internal PageRank (computed once, on first use) -------

    def _link_stats(self) -> tuple[list[int], list[float], list[int]]:
        """(unique inlinks, PageRank probability, PageRank position) of every page, from every link of the crawl."""
        with self._stats_lock:
            if self._stats is None:
                self._stats = _pagerank(self)
            return self._stats

    def inlinks_unique(self, i: int) -> int:
        """`inlinks_internal.nb.unique`: distinct pages (the page itself left out) that link to page i."""
        return self._link_stats()[0][i]

    def pagerank_raw(self, i: int) -> float:
        return self._link_stats()[1][i]

    def pagerank_position(self, i: int) -> int:
        return self._link_stats()[2][i]

    def pagerank_value(self, i: int) -> float:
        """Botify's 0-10 scale: the raw PageRank on a log scale from the crawl's lowest (0) to its highest (10)."""
        raw = self._link_stats()[1]
        lo, hi = self._pr_bounds()
        return 0.0 if hi <= lo else round(10 * (math.log(raw[i]) - lo) / (hi - lo), 3)

    def _pr_bounds(self) -> tuple[float, float]:
        if self._bounds is None:
            raw = self._link_stats()[1]
            self._bounds = (math.log(min(raw)), math.log(max(raw)))
        return self._bounds

    # -- links ----------------------------------------------------------------------------------------

    def outlinks(self, i: int) -> int:
        """`outlinks_internal.nb.total`: the number of distinct internal link targets of page i."""
        return self.outcount[i]

    def targets(self, i: int) -> list[int]:
        """The distinct pages page i links to (menu, children, then a stride walk over depth <= d+1)."""
        k = self.outcount[i]
        if not k:
            return []
        d = self.depth(i)
        starts = self.starts
        menu = self.menu[i]
        out = list(range(menu))
        if d < self.max_depth:
            s1, e1 = starts[d + 1], starts[d + 2]
            nd, off = starts[d + 1] - starts[d], i - starts[d]
            out.extend(range(s1 + off, e1, nd))
            pool = e1
        else:
            s1 = e1 = pool = self.n_pages
            nd, off = 1, 0
        need = k - len(out)
        if need > 0:
            h = mix(self._link_seed ^ i)
            strides = self._strides[d]
            t = h % pool
            b = strides[(h >> 32) % len(strides)]
            while need:
                if t >= menu and not (s1 <= t < e1 and (t - s1) % nd == off):
                    out.append(t)
                    need -= 1
                t += b
                if t >= pool:
                    t -= pool
        return out

    def edges(self, max_depth: int | None = None) -> Iterator[tuple[int, int]]:
        """Every (source, target) page pair, sources at depth <= max_depth."""
        last = self.n_pages if max_depth is None else self.starts[min(max_depth, self.max_depth) + 1]
        for i in range(last):
            for t in self.targets(i):
                yield i, t

    def edges_per_depth(self) -> list[int]:
        """Internal links whose source is at each depth: what `sum(outlinks_internal.nb.total)` by depth gives."""
        return list(self._edges)

    def cumulative_edges(self) -> list[int]:
        """Internal links whose source is at depth <= d, for each d."""
        out, total = [], 0
        for e in self._edges:
            total += e
            out.append(total)
        return out

    def edges_upto(self, depth: int) -> int:
        """Rows of a links export filtered on depth <= `depth`."""
        if depth < 0:
            return 0
        return sum(self._edges[: depth + 1])

    def pages_upto(self, depth: int) -> int:
        if depth < 0:
            return 0
        return self.starts[min(depth, self.max_depth) + 1]

    # -- Search Console -------------------------------------------------------------------------------

    def has_gsc(self, i: int) -> bool:
        return self.impr[i] >= 0

    def impressions(self, i: int, days: int = 30) -> int | None:
        v = self.impr[i]
        return None if v < 0 else round(v * days / 30)

    def clicks_of(self, i: int, days: int = 30) -> int | None:
        v = self.clicks[i]
        return None if v < 0 else round(v * days / 30)

    def avg_position(self, i: int) -> float | None:
        return None if self.impr[i] <= 0 else self.pos10[i] / 10


def _pagerank(crawl: Crawl, damping: float = 0.85, rounds: int = 40) -> tuple[list[int], list[float], list[int]]:
    """Unique inlinks and PageRank over every link of a crawl (self-links left out; a page without outlinks
    spreads its rank evenly), by power iteration with numpy. Positions rank pages by PageRank, ties by index."""
    import numpy as np

    n = crawl.n_pages
    counts = np.frombuffer(crawl.outcount, dtype=np.uint32).astype(np.int64)
    src = np.repeat(np.arange(n, dtype=np.int64), counts)
    tgt = np.fromiter((t for i in range(n) for t in crawl.targets(i)), dtype=np.int64, count=int(counts.sum()))
    keep = src != tgt
    src, tgt = src[keep], tgt[keep]
    inlinks = np.bincount(tgt, minlength=n)
    out = np.bincount(src, minlength=n).astype(np.float64)
    share = np.divide(1.0, out, out=np.zeros(n), where=out > 0)
    rank = np.full(n, 1.0 / n)
    for _ in range(rounds):
        spread = np.bincount(tgt, weights=(rank * share)[src], minlength=n)
        dangling = rank[out == 0].sum()
        rank = (1 - damping) / n + damping * (spread + dangling / n)
    order = np.lexsort((np.arange(n), -rank))
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(1, n + 1)
    return inlinks.tolist(), [float(f"{r:.6g}") for r in rank.tolist()], position.tolist()


def _coprime_strides(m: int) -> tuple[int, ...]:
    if m <= 2:
        return (1,)
    out = []
    for f in (0.618034, 0.381966, 0.723607, 0.276393, 0.552786, 0.447214, 0.854102, 0.145898):
        b = max(1, int(m * f))
        while gcd(b, m) != 1:
            b = b + 1 if b + 1 < m else 1
        out.append(b)
    return tuple(out)


@dataclass
class Site:
    """A project of the fake: its analyses and (lazily built) crawls."""

    org: str
    project: str
    spec: SiteSpec
    scale: float = 1.0
    analyses: tuple[AnalysisSpec, ...] = ANALYSES
    _crawls: dict[str, Crawl] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def has_gsc(self) -> bool:
        return self.spec.gsc

    def sorted_analyses(self, only_success: bool = True) -> list[AnalysisSpec]:
        """Newest first by date_launched, as /light lists them."""
        items = [a for a in self.analyses if a.status == "success" or not only_success]
        return sorted(items, key=lambda a: a.date_launched, reverse=True)

    def analysis(self, slug: str) -> AnalysisSpec | None:
        return next((a for a in self.analyses if a.slug == slug), None)

    @property
    def latest(self) -> AnalysisSpec:
        return self.sorted_analyses(True)[0]

    def crawl(self, slug: str | None = None) -> Crawl:
        """The crawl of a success analysis (default: the latest); KeyError for any other slug."""
        a = self.latest if slug is None else self.analysis(slug)
        if a is None or a.status != "success":
            raise KeyError(f"{self.org}/{self.project} has no successful analysis {slug!r}")
        with self._lock:
            c = self._crawls.get(a.slug)
            if c is None:
                c = self._crawls[a.slug] = Crawl(self.spec, self.project, a, self.scale)
            return c

    def urls_done(self, a: AnalysisSpec) -> int:
        """Pages of an analysis without building it."""
        factor = self.scale * a.size_factor
        total = 1 + sum(max(1, round(n * factor)) for n in self.spec.depth_sizes[1:])
        return total if a.status != "crawling" else total // 3
