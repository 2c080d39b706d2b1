"""choose_depth: the threshold, the plateau and depth-1 overflow, as tables."""

from __future__ import annotations

import pytest

from botify_graph.depth import choose_depth, cumulate, per_depth_from_cumulative
from botify_graph.errors import BotifyError, DepthTooLarge

CASES = [
    # per-depth edges, limit, chosen depth, its edges, whole graph?
    ({0: 50, 1: 500, 2: 5_000, 3: 50_000}, 1_000_000, 3, 55_550, True),
    ({0: 50, 1: 500, 2: 5_000, 3: 50_000}, 10_000, 2, 5_550, False),
    ({0: 50, 1: 500, 2: 5_000, 3: 50_000}, 5_550, 2, 5_550, False),  # exactly at the limit fits
    ({0: 50, 1: 500, 2: 5_000, 3: 50_000}, 5_549, 1, 550, False),
    # plateau: depths 3 and 4 add nothing, export depth 2
    ({0: 10, 1: 100, 2: 1_000, 3: 0, 4: 0}, 1_000_000, 2, 1_110, True),
    # a gap in the table counts as zero
    ({0: 10, 1: 100, 3: 1_000}, 1_000_000, 3, 1_110, True),
    ({0: 10, 1: 100, 3: 1_000}, 500, 1, 110, False),  # depth 2 adds nothing: depth 1 is equivalent
    ({0: 10}, 5, None, None, None),  # only a home page, over the limit
    ({0: 10}, 100, 0, 10, True),  # only a home page: depth 0 is all there is
]


@pytest.mark.parametrize(("per_depth", "limit", "depth", "edges", "whole"), CASES)
def test_choose_depth(
    per_depth: dict[int, int], limit: int, depth: int | None, edges: int | None, whole: bool | None
) -> None:
    if depth is None:
        with pytest.raises(DepthTooLarge):
            choose_depth(per_depth, limit)
        return
    choice = choose_depth(per_depth, limit)
    assert (choice.depth, choice.edges, choice.whole_graph) == (depth, edges, whole)
    assert [r["chosen"] for r in choice.table()].count(True) == 1


def test_depth_one_over_the_limit_says_so() -> None:
    with pytest.raises(DepthTooLarge) as info:
        choose_depth({0: 400_000, 1: 700_000, 2: 10}, 1_000_000)
    assert info.value.edges == 1_100_000
    assert "Even depth 1 has 1,100,000 internal links" in str(info.value)
    assert "--complete" in str(info.value) and "--allow-cut" in str(info.value)  # never a dead end


def test_depth_one_over_the_limit_can_be_exported_cut() -> None:
    choice = choose_depth({0: 400_000, 1: 700_000, 2: 10}, 1_000_000, allow_cut=True)
    assert (choice.depth, choice.edges, choice.cut, choice.whole_graph) == (1, 1_000_000, True, False)
    assert not choose_depth({0: 10, 1: 100}, 1_000, allow_cut=True).cut  # fits: nothing is cut


def test_empty_and_linkless_analyses_are_refused() -> None:
    for table in ({}, {0: 0, 1: 0}):
        with pytest.raises(BotifyError, match="no internal links"):
            choose_depth(table, 10)


def test_bad_limit() -> None:
    with pytest.raises(BotifyError):
        choose_depth({0: 1}, 0)


def test_cumulate_and_back() -> None:
    per = {0: 3, 1: 4, 2: 0, 3: 5}
    cum = dict(cumulate(per))
    assert cum == {0: 3, 1: 7, 2: 7, 3: 12}
    assert per_depth_from_cumulative(cum) == per


def test_table_prints_as_a_table_and_stays_a_list_of_dicts() -> None:
    """`print(choice.table())` (the README's snippet) used to print a raw list of dicts."""
    import json

    choice = choose_depth({0: 5, 1: 45, 2: 450, 3: 4000}, 600)
    table = choice.table()
    assert isinstance(table, list) and table == [dict(r) for r in table] and table[2]["chosen"] is True
    assert json.loads(json.dumps(table))[3] == {"depth": 3, "edges": 4000, "cumulative": 4500, "fits": False,
                                                "chosen": False}  # fmt: skip
    lines = str(table).splitlines()
    assert lines[0].split() == ["depth", "links", "at", "depth", "cumulative", "fits", "chosen"]
    assert lines[3].split() == ["2", "450", "500", "yes", "◀", "chosen"]
    assert lines[4].split() == ["3", "4,000", "4,500", "no", "over", "the", "limit"]
    assert repr(table) == str(table) and "{" not in str(table)
    assert "<table" in table._repr_html_() and "◀ chosen" in table._repr_html_()
