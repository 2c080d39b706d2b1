"""Pure: plan a complete export as several jobs whose filters split the crawl's pages, and what it costs.

Numbers only (rows, jobs, credits). The words are in `render.partition`, the BQL in `queries`, the requests
in `api.plan_partitions`.

A partition is an `and` of conditions on fields of the *page* (the source of a links row, the page of a
meta row), one per level of `FIELDS`:

    depth      click depth: bands of consecutive depths           (range: lte / between / gte / eq)
    pagetype   page type (segmentation): sets of page types       (set: eq, or of eq)
    outlinks   the page's number of internal outlinks: ranges     (range)

and a condition may also take the pages without a value (`not exists`). The conditions of one level are
contiguous ranges or disjoint sets that together cover every value of their parent, so the leaves of a
plan split the pages, and therefore the rows, into disjoint parts whose union is the whole crawl: their
files, concatenated, hold every row once.

Planning is incremental and pure. `plan_partitions(sizes=...)` packs what it knows: a partition whose
estimated rows exceed the target (the row limit less a safety margin) is split by grouping it on its next
field; when that grouping is not in `sizes` yet, the partition is listed in `pending` with the field to
group by, the caller runs that one grouped query (`sizing_key` names it) and plans again. A partition that
came back cut (its file has as many rows as the limit) is given in `cut` and split again the same way,
assuming it holds `CUT_GROWTH` times what it delivered (more jobs cost no more credits: credits are per
row); every part below it is sized with the same growth. A partition no field can split further and that
is over the limit is listed in `too_big`: the plan says so instead of cutting it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .depth import DepthChoice

__all__ = [
    "CREDITS_PER_ROW",
    "CUT_GROWTH",
    "FIELDS",
    "Cond",
    "ExportPlan",
    "Partition",
    "PartitionPlan",
    "SizingRequest",
    "SplitField",
    "credits",
    "pack_range",
    "pack_set",
    "plan_partitions",
    "sizing_key",
    "target_rows",
]

#: Botify's documented rule: each exported row costs 1 credit, each links-graph row 0.1.
CREDITS_PER_ROW = {"links": 0.1, "meta": 1.0}
#: A partition that came back cut is split again as if it held this many times the rows it delivered.
CUT_GROWTH = 2.0

Value = Any  # a field value: int for range fields, str for set fields; None: the page has no value
Group = tuple[Value, int]  # (value, rows of the pages with that value)


@dataclass(frozen=True)
class SplitField:
    """A page field partitions can be cut along. `kind`: "range" (ordered ints) or "set" (categories)."""

    name: str
    kind: str
    tag: str  # one letter in the ids of the partitions it makes


FIELDS: tuple[SplitField, ...] = (
    SplitField("depth", "range", "d"),
    SplitField("pagetype", "set", "t"),
    SplitField("outlinks", "range", "o"),
)
_BY_NAME = {f.name: i for i, f in enumerate(FIELDS)}


@dataclass(frozen=True)
class Cond:
    """One condition of a partition on one field.

    set fields: the page's value is one of `values`. range fields (`ranged`): lo <= value <= hi, None being
    an open end (both None: any value). `nulls`: pages without a value match too.
    """

    field: str
    values: tuple[Value, ...] = ()
    lo: int | None = None
    hi: int | None = None
    ranged: bool = False
    nulls: bool = False

    @property
    def is_all(self) -> bool:
        """True when the condition keeps every page (it adds nothing to a filter)."""
        return self.ranged and self.lo is None and self.hi is None and self.nulls


@dataclass(frozen=True)
class Partition:
    """One job of a complete export: an `and` of conditions, and the rows it is expected to hold."""

    id: str  # stable and file-name safe: "d0-2", "d3.t1", "d3.t1.o0"
    conds: tuple[Cond, ...]
    estimate: int
    growth: float = 1.0  # sized rows are multiplied by this (> 1 below a partition that came back cut)
    level: int = 0  # index in FIELDS of the field that splits it further (its own while it spans values)


@dataclass(frozen=True)
class SizingRequest:
    """A grouping still needed: the rows of `partition` per value of `field` (one grouped query)."""

    partition: Partition
    field: str

    @property
    def key(self) -> str:
        return sizing_key(self.partition.id, self.field)


def sizing_key(part_id: str, field: str) -> str:
    """The key of `sizes` that holds the rows of partition `part_id` grouped by `field` ("" is the root)."""
    return f"{part_id}@{field}"


def target_rows(cap: int, margin: float) -> int:
    """The most rows a planned job may hold: the limit less the safety margin (at least 1)."""
    if cap < 1:
        raise ValueError(f"The row limit must be at least 1, got {cap}.")
    if not 0 <= margin < 1:
        raise ValueError(f"The safety margin must be in [0, 1), got {margin}.")
    return max(1, math.floor(cap * (1 - margin)))


def credits(kind: str, rows: int) -> float:
    """Export credits `rows` rows of `kind` cost (Botify: 0.1 per links-graph row, 1 per other row)."""
    return rows * CREDITS_PER_ROW[kind]


# -- packing ------------------------------------------------------------------------------------------------


def pack_range(
    groups: Sequence[Group], target: int, *, lo: int | None = None, hi: int | None = None, nulls: bool = True
) -> list[tuple[Cond, int, Value, Value]]:
    """Cut the ordered values into contiguous ranges of at most `target` rows (a value over it stays alone).

    The ranges cover lo..hi without a gap (the first starts at `lo`, each next one where the previous ended,
    the last ends at `hi`; None: open), so a value the grouping did not report still falls in one. Pages
    without a value go with the first range, or alone when that would overflow it (only if `nulls`).
    Returns (condition, rows, first value, last value) per range; the field is filled in by the caller.
    """
    values = sorted((int(v), int(s)) for v, s in groups if v is not None)
    null_rows = sum(int(s) for v, s in groups if v is None)
    chunks: list[list[tuple[int, int]]] = []
    size = 0
    for v, s in values:
        if chunks and chunks[-1] and size + s <= target:
            chunks[-1].append((v, s))
            size += s
        else:
            chunks.append([(v, s)])
            size = s
    out: list[tuple[Cond, int, Value, Value]] = []
    for i, chunk in enumerate(chunks):
        start = lo if i == 0 else chunk[0][0]
        end = hi if i == len(chunks) - 1 else chunks[i + 1][0][0] - 1
        out.append((Cond("", lo=start, hi=end, ranged=True), sum(s for _, s in chunk), chunk[0][0], chunk[-1][0]))
    if nulls:  # pages without a value stay covered, whether or not the grouping reported any
        if out and (not null_rows or out[0][1] + null_rows <= target):
            first, rows, a, b = out[0]
            out[0] = (Cond("", lo=first.lo, hi=first.hi, ranged=True, nulls=True), rows + null_rows, a, b)
        else:
            out.insert(0, (Cond("", nulls=True), null_rows, None, None))
    return out


def _set_order(value: Value) -> tuple[bool, str]:
    return (value is not None, "" if value is None else str(value))


def pack_set(groups: Sequence[Group], target: int) -> list[tuple[Cond, int]]:
    """Pack categories into as few sets of at most `target` rows as first-fit decreasing finds.

    A category over the target stays alone. None stands for the pages without a value. Deterministic:
    the same groups give the same sets in the same order.
    """
    items = sorted(((v, int(s)) for v, s in groups), key=lambda g: (-g[1], _set_order(g[0])))
    bins: list[tuple[list[Value], list[int]]] = []
    for v, s in items:
        for values, size in bins:
            if size[0] + s <= target:
                values.append(v)
                size[0] += s
                break
        else:
            bins.append(([v], [s]))
    out = []
    for values, size in bins:
        real = tuple(sorted((v for v in values if v is not None), key=str))
        out.append((Cond("", values=real, nulls=None in values), size[0]))
    return out


# -- planning -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartitionPlan:
    """The jobs of one kind of a complete export (or what is still to be sized before they are known)."""

    kind: str  # "links" | "meta"
    cap: int  # export_size of every job: Botify cuts a job there
    target: int  # what the planner packs each job to (cap less the margin)
    parts: tuple[Partition, ...]  # the jobs, in the order their files are merged
    pending: tuple[SizingRequest, ...] = ()  # groupings still needed before the plan is final
    too_big: tuple[Partition, ...] = ()  # over the limit and no field left to split them by
    total: int = 0  # rows of the whole crawl, as sized

    @property
    def final(self) -> bool:
        """True when nothing is left to size."""
        return not self.pending

    @property
    def feasible(self) -> bool:
        """True when every job fits the limit."""
        return self.final and not self.too_big

    @property
    def jobs(self) -> int:
        return len(self.parts)

    @property
    def rows(self) -> int:
        """Estimated rows of every job together."""
        return sum(p.estimate for p in self.parts)

    @property
    def credits(self) -> float:
        return credits(self.kind, self.rows)

    @property
    def largest(self) -> int:
        return max((p.estimate for p in self.parts), default=0)

    def head(self, limit: int | None) -> tuple[tuple[Partition, ...], int]:
        """The first `limit` jobs (all when None) and how many are left out."""
        if limit is None or limit >= len(self.parts):
            return self.parts, 0
        return self.parts[:limit], len(self.parts) - limit


def _children(p: Partition, index: int, groups: Sequence[Group], target: int, growth: float) -> list[Partition]:
    """`p` split along FIELDS[index]; a child holding one value is split by the next field if need be."""
    field = FIELDS[index]
    grown = [(v, math.ceil(s * growth)) for v, s in groups if s or v is None]
    if not grown:
        return []
    same = bool(p.conds) and p.conds[-1].field == field.name
    parent = p.conds[-1] if same else None
    head = p.conds[:-1] if same else p.conds
    out: list[Partition] = []
    if field.kind == "range":
        lo = parent.lo if parent is not None else None
        hi = parent.hi if parent is not None else None
        nulls = parent.nulls if parent is not None else True
        if parent is not None and not parent.ranged:
            return []  # only pages without a value: nothing to cut
        for i, (cond, rows, first, last) in enumerate(pack_range(grown, target, lo=lo, hi=hi, nulls=nulls)):
            cond = Cond(field.name, lo=cond.lo, hi=cond.hi, ranged=cond.ranged, nulls=cond.nulls)
            if not p.conds:  # the root's bands are named by the depths they hold
                name = "dnone" if first is None else f"d{first}" if first == last else f"d{first}-{last}"
            else:
                name = f"{p.id}.{field.tag}{i}"
            level = index + 1 if first == last else index
            out.append(Partition(name, (*head, cond) if not cond.is_all else head, rows, growth, level))
    else:
        for i, (cond, rows) in enumerate(pack_set(grown, target)):
            cond = Cond(field.name, values=cond.values, nulls=cond.nulls)
            name = f"{p.id}.{field.tag}{i}" if p.id else f"{field.tag}{i}"
            level = index + 1 if len(cond.values) + cond.nulls == 1 else index
            out.append(Partition(name, (*head, cond), rows, growth, level))
    return out


def plan_partitions(
    kind: str,
    *,
    cap: int,
    margin: float,
    sizes: Mapping[str, Sequence[Group]],
    cut: Mapping[str, int] | None = None,
) -> PartitionPlan:
    """The jobs of a complete `kind` export from the groupings known so far (see the module docstring).

    `sizes[sizing_key(id, field)]`: (value, rows) of partition `id` grouped by `field`; the root's is
    `sizing_key("", "depth")`. `cut[id]`: rows a partition delivered when it came back cut.
    """
    if kind not in CREDITS_PER_ROW:
        raise ValueError(f"Unknown export kind {kind!r}.")
    target = target_rows(cap, margin)
    cut = dict(cut or {})
    parts: list[Partition] = []
    pending: list[SizingRequest] = []
    too_big: list[Partition] = []

    def visit(p: Partition, depth: int) -> None:
        was_cut = p.id in cut
        if p.id and not was_cut and p.estimate <= target:
            parts.append(p)
            return
        growth = p.growth * (max(CUT_GROWTH, CUT_GROWTH * cut[p.id] / max(p.estimate, 1)) if was_cut else 1.0)
        index = p.level
        while index < len(FIELDS) and depth < 64:
            field = FIELDS[index]
            key = sizing_key(p.id, field.name)
            if key not in sizes:
                pending.append(SizingRequest(p, field.name))
                return
            children = _children(p, index, sizes[key], target, growth)
            if len(children) > 1 or (not p.id and children):
                for child in children:
                    visit(child, depth + 1)
                return
            if not p.id:
                return  # an empty crawl: nothing to export
            index += 1
        if not was_cut and p.estimate <= cap:
            parts.append(p)  # over the margin but within the limit, and nothing splits it: one job
        else:
            too_big.append(p)

    visit(Partition("", (), 0), 0)
    root = sizes.get(sizing_key("", "depth"), ())
    return PartitionPlan(
        kind=kind,
        cap=cap,
        target=target,
        parts=tuple(parts),
        pending=tuple(pending),
        too_big=tuple(too_big),
        total=sum(int(s) for _, s in root),
    )


# -- the whole picture: what each way of exporting takes ------------------------------------------------------


@dataclass(frozen=True)
class ExportPlan:
    """What a normal (depth-limited) export, a cut depth 1 and a complete export of one analysis take.

    Built by `api.export_plan` from sizing queries alone: no job is created, no credit spent.
    """

    analysis: str
    max_edges: int
    margin: float
    links_per_depth: tuple[tuple[int, int], ...]  # (depth, internal links of the pages at that depth)
    pages_per_depth: tuple[tuple[int, int], ...]  # (depth, pages at that depth)
    depth: DepthChoice | None  # the normal export's depth; None when depth 1 alone is over the limit
    links: PartitionPlan  # the complete export's links jobs
    meta: PartitionPlan  # the complete export's meta jobs
    requests: int = 0  # sizing queries spent on this plan

    def pages_upto(self, depth: int) -> int:
        return sum(n for d, n in self.pages_per_depth if d <= depth)

    @property
    def total_links(self) -> int:
        return sum(n for _, n in self.links_per_depth)

    @property
    def total_pages(self) -> int:
        return sum(n for _, n in self.pages_per_depth)

    @property
    def max_depth(self) -> int:
        return max((d for d, n in self.links_per_depth), default=0)

    @property
    def depth1_links(self) -> int:
        """Links of the pages at depth 0 and 1: what the shallowest useful graph needs."""
        return sum(n for d, n in self.links_per_depth if d <= 1)

    @property
    def depth1_over(self) -> bool:
        """True when even depth 1 has more links than the limit (a normal export is impossible)."""
        return self.depth is None

    # the normal export: one links job, one meta job
    @property
    def normal_rows(self) -> tuple[int, int]:
        """(links rows, meta rows) of the normal export; (0, 0) when there is none."""
        if self.depth is None:
            return 0, 0
        return self.depth.edges, self.pages_upto(self.depth.depth + 1)

    @property
    def normal_credits(self) -> float:
        links, meta = self.normal_rows
        return credits("links", links) + credits("meta", meta)

    # depth 1 cut at the limit (--allow-cut): as the seeds did
    @property
    def cut_rows(self) -> tuple[int, int]:
        return min(self.depth1_links, self.max_edges), min(self.pages_upto(2), self.max_edges)

    @property
    def cut_credits(self) -> float:
        links, meta = self.cut_rows
        return credits("links", links) + credits("meta", meta)

    # the complete export
    @property
    def complete_jobs(self) -> int:
        return self.links.jobs + self.meta.jobs

    @property
    def complete_rows(self) -> tuple[int, int]:
        return self.links.rows, self.meta.rows

    @property
    def complete_credits(self) -> float:
        return self.links.credits + self.meta.credits

    @property
    def feasible(self) -> bool:
        """True when the complete export can be made with jobs that all fit the limit."""
        return self.links.feasible and self.meta.feasible

    def many_jobs(self, threshold: int) -> bool:
        return self.complete_jobs > threshold

    def table(self) -> list[dict[str, int | bool]]:
        """Rows for display: depth, links at it, cumulative links, pages at it, whether depth <= it fits."""
        pages = dict(self.pages_per_depth)
        out: list[dict[str, int | bool]] = []
        total = 0
        for d, links in self.links_per_depth:
            total += links
            out.append(
                {
                    "depth": d,
                    "links": links,
                    "cumulative": total,
                    "pages": pages.get(d, 0),
                    "fits": total <= self.max_edges,
                }
            )
        return out
