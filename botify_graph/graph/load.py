"""Loaders for people who continue in code: an export as a networkx DiGraph or as pandas frames."""

from __future__ import annotations

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
            whole = bool(np.all(np.mod(numbers[~missing], 1) == 0))
            if whole:
                data[c] = pd.arrays.IntegerArray(np.where(missing, 0, numbers).astype(np.int64), missing)
            else:
                data[c] = pd.arrays.FloatingArray(np.where(missing, 0.0, numbers), missing)
        for c, cat in g.meta.categories.items():
            data[c] = pd.Categorical.from_codes(cat.codes, categories=_unique_labels(cat.labels))
    order = ["id", "in_links", "out_links", "in_meta"] + [c for c in g.meta.columns] if g.meta is not None else []
    frame = pd.DataFrame(data)
    return frame[[c for c in order if c in frame]] if order else frame


def _unique_labels(labels: list[str]) -> list[str]:
    """Category labels for pandas, which refuses duplicates (the unused empty label is made unique)."""
    seen: set[str] = set()
    out = []
    for label in labels:
        while label in seen:
            label += " "
        seen.add(label)
        out.append(label)
    return out


def load_graph(
    links_path: str | Path,
    meta_path: str | Path | None = None,
    *,
    as_: Literal["networkx", "pandas"] = "networkx",
    drop_self_loops: bool = False,
) -> Any:
    """Load an export as a networkx DiGraph (node attributes from meta) or as (edges_df, nodes_df) frames.

    networkx: one edge per distinct (source, target), its `weight` the number of link rows; nodes carry the
    meta file's columns (booleans as bool, whole numbers as int, other numbers as float, text as str;
    missing values are left out). Self-loops are
    kept unless `drop_self_loops`. Mind the memory: networkx needs about 1 KB per edge.

    pandas: `edges_df` is the links file as read by pandas' pyarrow engine (columns source, target, every
    row, self-loops included unless dropped); `nodes_df` has one row per page: id, in_links, out_links (self-
    loops excluded when dropped), and in_meta plus every column of the meta file (in its order) when one is given:
    flags as boolean, whole numbers as Int64, other numbers as Float64, text as categories.
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
    n = max(g.size, 1)  # the multiplier of EncodedGraph.link_keys
    keys, counts = np.unique(g.link_keys(drop_self_loops), return_counts=True)
    urls = g.urls.to_pylist()
    graph = nx.DiGraph()
    graph.add_nodes_from(urls)
    graph.add_weighted_edges_from(
        (urls[int(k // n)], urls[int(k % n)], int(c)) for k, c in zip(keys.tolist(), counts.tolist(), strict=True)
    )
    meta = g.meta
    if meta is not None:
        for page in np.flatnonzero(meta.present).tolist():
            attrs = {c: v for c in meta.columns if (v := meta.value(c, page)) is not None}
            graph.nodes[urls[page]].update(attrs)
    return graph
