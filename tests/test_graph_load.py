"""graph.load: an export as networkx or pandas."""

from __future__ import annotations

from pathlib import Path

import pytest
from sample_graphs import A, B, C, D, E

from botify_graph.errors import ConfigError
from botify_graph.graph.load import load_graph


def test_load_graph_networkx(small: tuple[Path, Path]) -> None:
    pytest.importorskip("networkx")
    g = load_graph(*small)
    assert g.number_of_nodes() == 5 and g.number_of_edges() == 6  # distinct pairs, the self-loop kept
    assert g[B][C]["weight"] == 2 and g.has_edge(A, A)
    assert g.nodes[A] == {"pagetype": "home", "is_compliant": True, "impressions": 100}
    assert g.nodes[B] == {"pagetype": "cat", "is_compliant": True}  # no impressions: left out
    assert g.nodes[D] == {}
    assert not load_graph(*small, drop_self_loops=True).has_edge(A, A)


def test_load_graph_pandas(small: tuple[Path, Path]) -> None:
    edges, nodes = load_graph(*small, as_="pandas")
    assert list(edges.columns) == ["source", "target"] and len(edges) == 7
    assert list(edges.iloc[2]) == [A, A]
    nodes = nodes.set_index("id")
    assert len(nodes) == 5
    assert nodes.loc[C, "in_links"] == 4 and nodes.loc[A, "in_links"] == 2  # the self-loop is counted here
    assert bool(nodes.loc[C, "is_compliant"]) is False and nodes.loc[A, "impressions"] == 100
    assert not bool(nodes.loc[D, "in_meta"]) and nodes.loc[E, "pagetype"] == "product"
    assert str(nodes["impressions"].dtype) == "Int64" and str(nodes["is_compliant"].dtype) == "boolean"
    edges2, nodes2 = load_graph(*small, as_="pandas", drop_self_loops=True)
    assert len(edges2) == 6 and nodes2.set_index("id").loc[A, "in_links"] == 1
    with pytest.raises(ConfigError):
        load_graph(*small, as_="igraph")  # type: ignore[arg-type]
