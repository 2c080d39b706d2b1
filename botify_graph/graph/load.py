"""Loaders for people who continue in code: an export as a networkx DiGraph or as pandas frames."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import ConfigError
from .encode import EncodedGraph, encode_graph

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx
    import pandas as pd

__all__ = ["load_graph"]


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
