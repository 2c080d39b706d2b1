"""Pure: choose the deepest click depth whose internal links fit the export limit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .errors import BotifyError, DepthTooLarge

DepthRow = dict[str, "int | bool"]


class DepthTable(list[DepthRow]):
    """The rows of `DepthChoice.table()`: a plain list of dicts for code (`pd.DataFrame(table)`, `json.dumps`),
    and a readable table when printed (text) or shown as the last value of a notebook cell (HTML)."""

    def __init__(self, rows: Iterable[DepthRow], *, max_edges: int, depth: int) -> None:
        super().__init__(rows)
        self.max_edges = max_edges
        self.depth = depth

    def __repr__(self) -> str:
        from .render.tables import depth_table_text  # strings are render's; imported only when printed

        return depth_table_text(self)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        from .render.tables import depth_table_html

        cumulative = [(int(r["depth"]), int(r["cumulative"])) for r in self]
        per_depth = [(int(r["depth"]), int(r["edges"])) for r in self]
        return depth_table_html(cumulative, per_depth, self.max_edges, self.depth)


@dataclass(frozen=True)
class DepthChoice:
    """The chosen depth, its edge count and the table it was chosen from."""

    depth: int
    edges: int
    max_edges: int
    per_depth: tuple[tuple[int, int], ...]  # (depth, internal links of pages at exactly that depth)
    cumulative: tuple[tuple[int, int], ...]  # (depth, internal links of pages at depth <= it)
    whole_graph: bool  # True when every link of the crawl fits (nothing deeper adds links)
    requests: int = 0  # API requests spent finding it
    cut: bool = False  # depth 1 alone is over the limit and is exported cut at it (`allow_cut`)

    def table(self) -> DepthTable:
        """Rows for display: depth, edges at the depth, cumulative edges, fits, chosen (a list of dicts that
        prints as a table)."""
        per = dict(self.per_depth)
        rows: list[DepthRow] = [
            {
                "depth": d,
                "edges": per.get(d, 0),
                "cumulative": c,
                "fits": c <= self.max_edges,
                "chosen": d == self.depth,
            }
            for d, c in self.cumulative
        ]
        return DepthTable(rows, max_edges=self.max_edges, depth=self.depth)


def cumulate(per_depth: Mapping[int, int]) -> list[tuple[int, int]]:
    """Running totals over depths 0..max, filling missing depths with 0."""
    if not per_depth:
        return []
    out, total = [], 0
    for d in range(min(0, min(per_depth)), max(per_depth) + 1):
        total += int(per_depth.get(d, 0) or 0)
        out.append((d, total))
    return out


def choose_depth(
    per_depth: Mapping[int, int], max_edges: int = 1_000_000, *, requests: int = 0, allow_cut: bool = False
) -> DepthChoice:
    """Deepest depth with cumulative links <= max_edges; on a plateau, the shallowest depth with the same links.

    When even depth 1 is over the limit: DepthTooLarge, or with `allow_cut` depth 1 cut at the limit
    (`cut=True`: Botify stops the export at `max_edges` rows, so the graph lacks links).
    """
    if max_edges < 1:
        raise BotifyError(f"max_edges must be at least 1, got {max_edges}.")
    cum = cumulate(per_depth)
    if not cum or cum[-1][1] == 0:
        raise BotifyError(
            "This analysis reports no internal links at any depth: pick another analysis "
            "(one whose crawl finished with pages)."
        )
    floor = min(1, cum[-1][0])  # depth 1 (the home page's links alone are not a link graph)
    floor_edges = dict(cum)[floor]
    rows = tuple(sorted((int(d), int(e or 0)) for d, e in per_depth.items()))
    if floor_edges > max_edges and allow_cut:
        return DepthChoice(
            depth=floor,
            edges=max_edges,
            max_edges=max_edges,
            per_depth=rows,
            cumulative=tuple(cum),
            whole_graph=False,
            requests=requests,
            cut=True,
        )
    if floor_edges > max_edges:
        raise DepthTooLarge(
            f"Even depth {floor} has {floor_edges:,} internal links, over the export limit of {max_edges:,} rows "
            "a job, so no depth-limited graph fits. Export the complete graph in several jobs instead "
            "(--complete; `botify-graph plan` shows the jobs and credits first), or export depth "
            f"{floor} cut at the limit (--allow-cut: the graph then lacks links).",
            edges=floor_edges,
            max_edges=max_edges,
        )
    fitting = [(d, c) for d, c in cum if c <= max_edges]
    depth, edges = fitting[-1]
    # Plateau: deeper depths that add no links change nothing; export the shallowest equivalent depth.
    depth = max(floor, min(d for d, c in cum if c == edges and d <= depth))
    whole = edges == cum[-1][1]
    return DepthChoice(
        depth=depth,
        edges=edges,
        max_edges=max_edges,
        per_depth=rows,
        cumulative=tuple(cum),
        whole_graph=whole,
        requests=requests,
    )


def per_depth_from_cumulative(cumulative: Mapping[int, int]) -> dict[int, int]:
    """Turn {depth: links at depth <= d} (from one query per depth) into links at exactly each depth."""
    out: dict[int, int] = {}
    prev = 0
    for d in sorted(cumulative):
        out[d] = int(cumulative[d]) - prev
        prev = int(cumulative[d])
    return out
