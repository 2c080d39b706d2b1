"""Partition planning (pure): packing, splitting a depth that is too big, splitting again what came back cut,
and the numbers of an export plan. No network: sizes are given as tables, or computed from a synthetic
population of pages exactly as a grouped query would."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botify_graph import queries
from botify_graph.depth import choose_depth
from botify_graph.partition import (
    Cond,
    ExportPlan,
    Partition,
    PartitionPlan,
    credits,
    pack_range,
    pack_set,
    plan_partitions,
    sizing_key,
    target_rows,
)

ROOT = sizing_key("", "depth")

# -- packing ------------------------------------------------------------------------------------------------

RANGE_CASES = [
    # groups, target, lo, hi, nulls -> [(lo, hi, nulls, rows)]
    ([(0, 5), (1, 5), (2, 5)], 10, None, None, True, [(None, 1, True, 10), (2, None, False, 5)]),
    ([(0, 50), (1, 5)], 10, None, None, True, [(None, 0, True, 50), (1, None, False, 5)]),  # 0 alone: over
    ([(3, 4), (7, 4), (9, 4)], 8, 2, 12, False, [(2, 8, False, 8), (9, 12, False, 4)]),  # no gap between 3..7..9
    ([(None, 2), (1, 4), (2, 4)], 10, None, None, True, [(None, None, True, 10)]),  # nulls fit with the first
    ([(None, 9), (1, 4), (2, 4)], 10, None, None, True, [("nulls", None, True, 9), (None, None, False, 8)]),
    ([], 10, None, None, True, [("nulls", None, True, 0)]),  # nothing sized: the parent's nulls stay covered
    ([(4, 1)], 10, 4, 4, False, [(4, 4, False, 1)]),
]


@pytest.mark.parametrize(("groups", "target", "lo", "hi", "nulls", "expected"), RANGE_CASES)
def test_pack_range(
    groups: list[tuple[Any, int]], target: int, lo: int | None, hi: int | None, nulls: bool, expected: list[Any]
) -> None:
    got = pack_range(groups, target, lo=lo, hi=hi, nulls=nulls)
    shaped = [("nulls" if not c.ranged else c.lo, c.hi if c.ranged else None, c.nulls, rows) for c, rows, _, _ in got]
    assert shaped == expected


SET_CASES = [
    # groups, target -> [(values, nulls, rows)]
    ([("a", 6), ("b", 5), ("c", 4), ("d", 1)], 10, [(("a", "c"), False, 10), (("b", "d"), False, 6)]),
    ([("a", 30), ("b", 5)], 10, [(("a",), False, 30), (("b",), False, 5)]),  # a stays alone, over the target
    ([(None, 2), ("a", 3)], 10, [(("a",), True, 5)]),  # pages without a page type travel with the others
    ([("b", 1), ("a", 1)], 10, [(("a", "b"), False, 2)]),  # deterministic order
]


@pytest.mark.parametrize(("groups", "target", "expected"), SET_CASES)
def test_pack_set(groups: list[tuple[Any, int]], target: int, expected: list[Any]) -> None:
    assert [(c.values, c.nulls, rows) for c, rows in pack_set(groups, target)] == expected


def test_target_leaves_the_safety_margin() -> None:
    assert target_rows(1_000_000, 0.05) == 950_000
    assert target_rows(1, 0.5) == 1
    for cap, margin in ((0, 0.1), (10, 1.0), (10, -0.1)):
        with pytest.raises(ValueError):
            target_rows(cap, margin)


# -- planning from tables -----------------------------------------------------------------------------------


def ids(plan: PartitionPlan) -> list[tuple[str, int]]:
    return [(p.id, p.estimate) for p in plan.parts]


def test_everything_fits_one_job_without_a_filter() -> None:
    plan = plan_partitions("links", cap=1_000, margin=0.0, sizes={ROOT: [(0, 10), (1, 200), (2, 300)]})
    assert ids(plan) == [("d0-2", 510)] and plan.parts[0].conds == ()
    assert queries.partition_filter("20241108", plan.parts[0].conds) is None
    assert plan.feasible and plan.jobs == 1 and plan.total == 510


def test_depth_bands_are_packed_in_order_under_the_target() -> None:
    sizes = {ROOT: [(0, 50), (1, 400), (2, 500), (3, 300), (4, 200), (5, 0)]}
    plan = plan_partitions("links", cap=1_000, margin=0.1, sizes=sizes)  # target 900
    assert ids(plan) == [("d0-1", 450), ("d2-3", 800), ("d4", 200)]
    first, middle, last = (p.conds[0] for p in plan.parts)
    assert (first.lo, first.hi, first.nulls) == (None, 1, True)  # from the top, and pages without a depth
    assert (middle.lo, middle.hi) == (2, 3)
    assert (last.lo, last.hi) == (4, None)  # to the bottom, whatever is deeper
    assert plan.rows == plan.total == 1_450


def test_a_depth_over_the_limit_is_split_by_page_type_then_by_outlinks() -> None:
    sizes: dict[str, list[tuple[Any, int]]] = {ROOT: [(0, 50), (1, 400), (2, 3_000), (3, 800)]}
    plan = plan_partitions("links", cap=1_000, margin=0.1, sizes=sizes)
    assert not plan.final and [(r.partition.id, r.field) for r in plan.pending] == [("d2", "pagetype")]
    assert ids(plan) == [("d0-1", 450), ("d3", 800)]  # what is known already

    sizes[sizing_key("d2", "pagetype")] = [("product", 1_900), ("article", 600), ("tag", 300), ("search", 200)]
    plan = plan_partitions("links", cap=1_000, margin=0.1, sizes=sizes)
    assert [(r.partition.id, r.field) for r in plan.pending] == [("d2.t0", "outlinks")]  # product alone: too big

    sizes[sizing_key("d2.t0", "outlinks")] = [(v, 100) for v in range(10, 29)]
    plan = plan_partitions("links", cap=1_000, margin=0.1, sizes=sizes)
    assert plan.feasible
    assert ids(plan) == [
        ("d0-1", 450),
        ("d2.t0.o0", 900),
        ("d2.t0.o1", 900),
        ("d2.t0.o2", 100),
        ("d2.t1", 900),
        ("d2.t2", 200),
        ("d3", 800),
    ]
    assert all(p.estimate <= plan.target for p in plan.parts)
    assert plan.rows == 4_250
    o0 = plan.parts[1]
    assert [c.field for c in o0.conds] == ["depth", "pagetype", "outlinks"]
    assert o0.conds[1].values == ("product",) and (o0.conds[2].lo, o0.conds[2].hi) == (None, 18)
    assert plan.parts[4].conds[1].values == ("article", "tag")


def test_a_group_no_field_can_split_is_reported_not_cut() -> None:
    sizes = {
        ROOT: [(1, 5_000)],
        sizing_key("d1", "pagetype"): [("category", 5_000)],
        sizing_key("d1", "outlinks"): [(400, 5_000)],  # 5,000 rows from pages with exactly 400 outlinks
    }
    plan = plan_partitions("links", cap=1_000, margin=0.1, sizes=sizes)
    assert plan.final and not plan.feasible and [p.id for p in plan.too_big] == ["d1"]
    # over the margin but within the limit, and nothing splits it: one job, as big as allowed
    sizes = {ROOT: [(1, 950)], sizing_key("d1", "pagetype"): [("c", 950)], sizing_key("d1", "outlinks"): [(9, 950)]}
    plan = plan_partitions("links", cap=1_000, margin=0.1, sizes=sizes)
    assert plan.feasible and ids(plan) == [("d1", 950)]


def test_a_partition_that_came_back_cut_is_split_again() -> None:
    sizes: dict[str, list[tuple[Any, int]]] = {ROOT: [(0, 50), (1, 400), (2, 500)]}
    first = plan_partitions("links", cap=1_000, margin=0.1, sizes=sizes)
    assert ids(first) == [("d0-1", 450), ("d2", 500)]
    # d0-1 was estimated at 450 but its file has 1,000 rows (the limit): it holds more than sizing said
    cut = {"d0-1": 1_000}
    plan = plan_partitions("links", cap=1_000, margin=0.1, sizes=sizes, cut=cut)
    assert [(r.partition.id, r.field) for r in plan.pending] == [("d0-1", "depth")]  # re-split its own band
    sizes[sizing_key("d0-1", "depth")] = [(0, 50), (1, 400)]
    plan = plan_partitions("links", cap=1_000, margin=0.1, sizes=sizes, cut=cut)
    # assumed to hold 2 x 1,000 rows: every size below it grows by 2000/450
    growth = 2 * 1_000 / 450
    assert [(r.partition.id, r.field) for r in plan.pending] == [("d0-1.d1", "pagetype")]
    assert ids(plan)[0] == ("d0-1.d0", 223) and plan.parts[0].growth == pytest.approx(growth)
    sizes[sizing_key("d0-1.d1", "pagetype")] = [("category", 400)]  # one page type: on to outlinks
    sizes[sizing_key("d0-1.d1", "outlinks")] = [(300, 100), (350, 150), (380, 150)]
    plan = plan_partitions("links", cap=1_000, margin=0.1, sizes=sizes, cut=cut)
    assert plan.feasible
    assert [p.id for p in plan.parts] == ["d0-1.d0", "d0-1.d1.o0", "d0-1.d1.o1", "d0-1.d1.o2", "d2"]
    assert "d0-1" not in [p.id for p in plan.parts]  # the cut file is never used
    assert all(p.estimate <= plan.target for p in plan.parts)
    # a part cut again with no field left below it is reported, never kept short
    plan = plan_partitions("links", cap=1_000, margin=0.1, sizes=sizes, cut={**cut, "d0-1.d1.o1": 1_000})
    assert plan.final and [p.id for p in plan.too_big] == ["d0-1.d1.o1"]  # one outlinks value: nothing left


def test_an_empty_crawl_has_no_job() -> None:
    plan = plan_partitions("meta", cap=10, margin=0.0, sizes={ROOT: []})
    assert plan.parts == () and plan.feasible and plan.total == 0


# -- planning from a population of pages: every page in exactly one job --------------------------------------

FIELD_OF = {"depth": 0, "pagetype": 1, "outlinks": 2}


def matches(cond: Cond, page: tuple[Any, ...]) -> bool:
    value = page[FIELD_OF[cond.field]]
    if value is None:
        return cond.nulls
    if cond.values and value in cond.values:
        return True
    if cond.ranged:
        return (cond.lo is None or value >= cond.lo) and (cond.hi is None or value <= cond.hi)
    return False


def grouped(pages: Sequence[tuple[Any, ...]], conds: Sequence[Cond], field: str) -> list[tuple[Any, int]]:
    """What one grouped query answers: rows (here links) per value of `field` among the matching pages."""
    out: dict[Any, int] = {}
    for page in pages:
        if all(matches(c, page) for c in conds):
            value = page[FIELD_OF[field]]
            out[value] = out.get(value, 0) + page[3]
    return list(out.items())


def plan_for(pages: Sequence[tuple[Any, ...]], cap: int, cut: Mapping[str, int] | None = None) -> PartitionPlan:
    """The `api.plan_partitions` loop, with the grouped queries answered from `pages`."""
    sizes: dict[str, list[tuple[Any, int]]] = {}
    for _ in range(500):
        plan = plan_partitions("links", cap=cap, margin=0.05, sizes=sizes, cut=cut)
        if plan.final:
            return plan
        for req in plan.pending:
            sizes[req.key] = grouped(pages, req.partition.conds, req.field)
    raise AssertionError("the planner never settled")


page_strategy = st.tuples(
    st.one_of(st.none(), st.integers(0, 6)),
    st.one_of(st.none(), st.sampled_from(["home", "category", "product", "article"])),
    st.one_of(st.none(), st.integers(0, 40)),
    st.integers(0, 60),
)


@settings(max_examples=60, deadline=None)
@given(pages=st.lists(page_strategy, min_size=1, max_size=120), cap=st.integers(30, 400))
def test_every_page_falls_in_exactly_one_job(pages: list[tuple[Any, ...]], cap: int) -> None:
    plan = plan_for(pages, cap)
    for page in pages:
        owners = [p.id for p in plan.parts if all(matches(c, page) for c in p.conds)]
        owners += [p.id for p in plan.too_big if all(matches(c, page) for c in p.conds)]
        assert len(owners) == 1 or (page[3] == 0 and len(owners) <= 1), (page, owners)
    for part in plan.parts:
        real = sum(page[3] for page in pages if all(matches(c, page) for c in part.conds))
        assert real == part.estimate and real <= cap  # sized exactly: every job fits
    assert len({p.id for p in plan.parts}) == plan.jobs  # ids are unique
    assert plan.rows + sum(p.estimate for p in plan.too_big) == sum(page[3] for page in pages)


def test_cut_parts_resplit_from_a_population_cover_everything_once() -> None:
    rng = random.Random(7)
    pages = [(rng.randint(0, 4), rng.choice("abc"), rng.randint(0, 30), rng.randint(0, 40)) for _ in range(400)]
    first = plan_for(pages, 900)
    victim = max(first.parts, key=lambda p: p.estimate)
    plan = plan_for(pages, 900, cut={victim.id: 900})
    assert victim.id not in [p.id for p in plan.parts]
    assert any(p.id.startswith(victim.id + ".") for p in plan.parts)
    for page in pages:
        if page[3]:
            assert sum(all(matches(c, page) for c in p.conds) for p in plan.parts) == 1
    assert plan.jobs > first.jobs


# -- the plan's numbers -----------------------------------------------------------------------------------------


def one_part(kind: str, rows: int, cap: int) -> PartitionPlan:
    return PartitionPlan(kind, cap, cap, (Partition("d0", (), rows),), total=rows)


def test_credits_follow_botifys_rule() -> None:
    assert credits("links", 1_000_000) == pytest.approx(100_000)
    assert credits("meta", 70_000) == 70_000
    with pytest.raises(KeyError):
        credits("other", 1)


def test_export_plan_numbers() -> None:
    links_per_depth = ((0, 100), (1, 900), (2, 5_000))
    pages = ((0, 1), (1, 20), (2, 300), (3, 40))
    links = PartitionPlan(
        "links", 2_000, 1_900, (Partition("a", (), 1_000), Partition("b", (), 1_900), Partition("c", (), 1_900))
    )
    plan = ExportPlan(
        analysis="20241108",
        max_edges=2_000,
        margin=0.05,
        links_per_depth=links_per_depth,
        pages_per_depth=pages,
        depth=choose_depth(dict(links_per_depth), 2_000),
        links=links,
        meta=one_part("meta", 361, 2_000),
    )
    assert plan.depth is not None and plan.depth.depth == 1
    assert plan.normal_rows == (1_000, 321)  # meta: pages at depth <= 2 (the pages depth-1 links name)
    assert plan.normal_credits == pytest.approx(100 + 321)
    assert plan.complete_jobs == 4 and plan.complete_rows == (4_800, 361)
    assert plan.complete_credits == pytest.approx(480 + 361)
    assert plan.total_links == 6_000 and plan.total_pages == 361 and plan.max_depth == 2
    assert plan.many_jobs(3) and not plan.many_jobs(4)
    assert [r["cumulative"] for r in plan.table()] == [100, 1_000, 6_000]
    assert [r["fits"] for r in plan.table()] == [True, True, False]
    over = ExportPlan("x", 500, 0.05, links_per_depth, pages, None, links, one_part("meta", 361, 500))
    assert over.depth1_over and over.depth1_links == 1_000
    assert over.cut_rows == (500, 321) and over.normal_rows == (0, 0)


# -- the BQL of a partition: documented predicates only --------------------------------------------------------

FILTER_CASES = [
    (Cond("depth", lo=None, hi=2, ranged=True), {"field": "crawl.A.depth", "predicate": "lte", "value": 2}),
    (Cond("depth", lo=3, hi=None, ranged=True), {"field": "crawl.A.depth", "predicate": "gte", "value": 3}),
    (Cond("depth", lo=3, hi=3, ranged=True), {"field": "crawl.A.depth", "predicate": "eq", "value": 3}),
    (
        Cond("outlinks", lo=3, hi=9, ranged=True),
        {"field": "crawl.A.outlinks_internal.nb.total", "predicate": "between", "value": [3, 9]},
    ),
    (
        Cond("depth", lo=None, hi=1, ranged=True, nulls=True),
        {
            "or": [
                {"field": "crawl.A.depth", "predicate": "lte", "value": 1},
                {"not": {"field": "crawl.A.depth", "predicate": "exists"}},
            ]
        },
    ),
    (
        Cond("pagetype", values=("article", "tag")),
        {
            "or": [
                {"field": "crawl.A.segments.pagetype.value", "predicate": "eq", "value": "article"},
                {"field": "crawl.A.segments.pagetype.value", "predicate": "eq", "value": "tag"},
            ]
        },
    ),
    (Cond("depth", ranged=True), {"field": "crawl.A.depth", "predicate": "exists"}),
    (Cond("depth", ranged=True, nulls=True), None),  # every page: no filter
]


@pytest.mark.parametrize(("cond", "expected"), FILTER_CASES)
def test_partition_filters_use_documented_predicates_only(cond: Cond, expected: Any) -> None:
    got = queries.cond_filter("A", cond)
    assert got == expected
    assert '"in"' not in json.dumps(got)


def test_partition_payloads_and_sizing_query() -> None:
    conds = (Cond("depth", lo=3, hi=3, ranged=True), Cond("pagetype", values=("product",)))
    links = queries.links_partition_payload("org", "p", "A", conds, "d3.t0", export_size=200_000)
    query = links["payload"]["query"]["query"]
    assert links["payload"]["export_size"] == 200_000 and "d3.t0" in links["payload"]["export_job_name"]
    assert query["dimensions"] == ["crawl.A.url", "crawl.A.outlinks_internal.graph.url"]
    assert query["filters"] == {"and": [queries.cond_filter("A", c) for c in conds]}
    everything = queries.links_partition_payload("org", "p", "A", (), "d0-9")
    assert "filters" not in everything["payload"]["query"]["query"]
    meta = queries.meta_partition_payload("org", "p", "A", conds, "d3.t0", ("pagetype", "clicks"), period=["a", "b"])
    assert meta["payload"]["query"]["periods"] == [["a", "b"]]
    sizing = queries.sizing_query("A", "outlinks", conds, "links")
    assert sizing["query"]["dimensions"] == ["crawl.A.outlinks_internal.nb.total"]
    assert sizing["query"]["metrics"] == [{"function": "sum", "args": ["crawl.A.outlinks_internal.nb.total"]}]
    pages = queries.sizing_query("A", "depth", (), "meta")
    assert pages["query"]["metrics"] == [{"field": "crawl.A.count_urls_crawl"}] and "filters" not in pages["query"]
