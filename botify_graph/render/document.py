"""A report as a list of blocks (headings, sentences, tables, figures), built once for every format.

`summary_document` and `diff_document` decide what a report says and in which order, with the words of
`labels`; `markdown` and `html` only write the blocks out. So the Markdown file, the HTML widget and the
HTML file cannot drift apart: a Figure is the one place they differ (a chart in HTML, its numbers as a table
in Markdown).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from . import labels as L
from .charts import depth_rows, depth_svg_rows, histogram_svg
from .formats import pct, signed

if TYPE_CHECKING:  # pragma: no cover
    from ..graph.compare import GraphDiff
    from ..graph.summary import DegreeStats, GraphSummary

__all__ = [
    "Block",
    "Bullets",
    "Figure",
    "Files",
    "Heading",
    "Paragraph",
    "Table",
    "diff_document",
    "summary_document",
]


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2  # 1: the report's title


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Files:
    """Which files a report is about: (label, path) pairs."""

    items: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    keys: tuple[str, ...] = ()  # the data key of each column, when it names one (URL columns wrap in HTML)


@dataclass(frozen=True)
class Figure:
    """A chart (SVG) in HTML; its numbers, as a table, in Markdown."""

    svg: str
    table: Table


Block = Union[Heading, Paragraph, Files, Bullets, Table, Figure]  # noqa: UP007 (a runtime alias on Python 3.10)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], keys: Sequence[str] = ()) -> Table:
    return Table(tuple(headers), tuple(tuple(r) for r in rows), tuple(keys))


def _pages(rows: list[dict[str, Any]]) -> Table:
    """Rows of pages (url, inbound, outbound, then the meta fields), their JSON keys as column names."""
    first = [k for k in ("url", "inbound", "outbound") if not rows or k in rows[0]]
    keys = first + [k for k in (rows[0] if rows else {}) if k not in first]
    return _table(keys, [[r.get(k) for k in keys] for r in rows], keys)


def _notes(notes: Sequence[str]) -> list[Block]:
    return [Heading(L.NOTES), Bullets(tuple(notes))] if notes else []


def _degrees(title: str, d: DegreeStats) -> list[Block]:
    return [
        Heading(title, 3),
        Paragraph(L.DEGREE_LINE.format(**vars(d))),
        Figure(
            histogram_svg(d.histogram),
            _table(L.HISTOGRAM_COLUMNS, [[b["bucket"], b["pages"]] for b in d.histogram]),
        ),
    ]


def summary_document(s: GraphSummary) -> list[Block]:
    """The graph summary, block by block."""
    values: dict[str, Any] = {k: getattr(s, k) for k in (*L.COUNTS, *L.META_COUNTS)}
    counts = [
        [label.format(kept=L.SELF_LOOPS_KEPT[s.self_loops_dropped]), values[key]] for key, label in L.COUNTS.items()
    ]
    if s.pages_in_meta is not None:
        counts += [[label, values[key]] for key, label in L.META_COUNTS.items()]
    files = [(L.LINKS_FILE, s.links_file)] + ([(L.META_FILE, s.meta_file)] if s.meta_file else [])
    out: list[Block] = [Heading(L.SUMMARY_TITLE, 1), Files(tuple(files))]
    if s.gsc_period:
        line = L.GSC_PERIOD_LINE.format(start=s.gsc_period[0], end=s.gsc_period[1])
        out.append(Paragraph(line + (f" {s.gsc_note}" if s.gsc_note else "")))
    out.append(_table(L.COUNT_HEADERS, counts))
    if s.depth_table and s.depth_limit is not None:
        out += [
            Heading(L.DEPTH_HEADING.format(depth=s.chosen_depth, limit=s.depth_limit)),
            Figure(
                depth_svg_rows(depth_rows(s.depth_table), s.depth_limit, width=640, height=240, standalone=False),
                _table(
                    L.DEPTH_COLUMNS,
                    [
                        [r["depth"], r["edges"], r["cumulative"], r["fits"], L.CHOSEN_MARK if r["chosen"] else ""]
                        for r in s.depth_table
                    ],
                ),
            ),
        ]
    out += [Heading(L.DEGREES_HEADING), *_degrees(L.IN_DEGREE, s.in_degree), *_degrees(L.OUT_DEGREE, s.out_degree)]
    out += [Heading(L.TOP_HEADING.format(top=s.top)), _pages(s.top_pages) if s.top_pages else Paragraph(L.NO_LINKS)]
    if s.orphans is not None:
        line = L.ORPHANS_LINE.format(orphans=s.orphans, pages=s.pages_in_meta, share=pct(s.orphan_share))
        out += [Heading(L.ORPHANS_HEADING), Paragraph(line)]
        if s.orphan_sample:
            first = L.ORPHANS_FIRST["impressions" in s.meta_columns].format(n=len(s.orphan_sample))
            out += [Paragraph(first), _pages(s.orphan_sample)]
    if s.pagetypes is not None:
        out += [
            Heading(L.PAGETYPES_HEADING),
            _table(
                L.PAGETYPE_COLUMNS,
                [[r["pagetype"], r["pages"], pct(r["share"]), r["inbound_links"], r["orphans"]] for r in s.pagetypes],
            ),
        ]
    if s.compliance is not None:
        c = s.compliance
        rows_c = [[label, pct(c[k]) if k.endswith("_share") else c[k]] for k, label in L.COMPLIANCE.items()]
        out += [Heading(L.COMPLIANCE_HEADING), _table(L.COMPLIANCE_HEADERS, rows_c)]
    if s.opportunities is not None:
        out += _opportunities(s.opportunities)
    return out + _notes(s.notes)


def _opportunities(o: dict[str, Any]) -> list[Block]:
    """The opportunities section: one sub-heading, sentence and table of pages per kind the columns allow."""
    traffic = o.get("traffic")
    first = L.OPP_FIRST if traffic else L.OPP_FIRST_BY_URL
    out: list[Block] = [Heading(L.OPPORTUNITIES_HEADING)]
    if traffic is None:
        out.append(Paragraph(L.OPP_NO_TRAFFIC))

    def part(title: str, line: str, data: dict[str, Any]) -> None:
        out.extend([Heading(title, 3), Paragraph(line)])
        if data["sample"]:
            out.extend([Paragraph(first.format(n=len(data["sample"]), traffic=traffic)), _pages(data["sample"])])

    if "under_linked" in o:
        d = o["under_linked"]
        inlinks = L.OPP_INLINKS.get(o["inlinks"], o["inlinks"])
        line = L.OPP_UNDER_LINKED_LINE.format(pages=d["pages"], traffic=traffic, few=o["few_inlinks"], inlinks=inlinks)
        part(L.OPP_UNDER_LINKED, line, d)
    if "low_pagerank" in o:
        d = o["low_pagerank"]
        part(L.OPP_LOW_PAGERANK, L.OPP_LOW_PAGERANK_LINE.format(traffic=traffic, **d), d)
    if "deep" in o:
        d = o["deep"]
        line = L.OPP_DEEP_LINE.format(
            pages=d["pages"], min_depth=d["min_depth"], total=d["traffic"], traffic=traffic, share=pct(d["share"])
        )
        part(L.OPP_DEEP, line, d)
    if "unlinked_compliant" in o:
        d = o["unlinked_compliant"]
        part(L.OPP_UNLINKED, L.OPP_UNLINKED_LINE.format(pages=d["pages"]), d)
    return out


def diff_document(d: GraphDiff) -> list[Block]:
    """What changed between two crawls, block by block."""
    out: list[Block] = [
        Heading(L.DIFF_TITLE.format(old=d.old_label, new=d.new_label), 1),
        Files(tuple(zip(L.DIFF_FILES, (d.old_links_file, d.new_links_file), strict=True))),
        _table(
            ["", d.old_label, d.new_label, *L.DIFF_COLUMNS],
            [
                [L.DIFF_LINKS, d.old_edges, d.new_edges, d.links_added, d.links_removed, d.links_kept],
                [L.DIFF_PAGES, d.old_pages, d.new_pages, d.pages_appeared, d.pages_disappeared, d.pages_kept],
            ],
        ),
        Paragraph(L.DIFF_GAINED_LINE.format(gained=d.pages_gained, lost=d.pages_lost)),
    ]
    columns = ["url", d.old_label, d.new_label, L.CHANGE]
    keys = ["url", "old", "new", "change"]

    def pages(title: str, rows: list[dict[str, Any]], old: str, new: str, level: int = 2) -> list[Block]:
        if not rows:
            return []
        table = _table(columns, [[r["url"], r[old], r[new], signed(r["change"])] for r in rows], keys)
        return [Heading(title, level), table]

    def links(title: str, rows: list[dict[str, str]]) -> list[Block]:
        if not rows:
            return []
        heading = Heading(title.format(n=len(rows)))
        return [heading, _table(L.LINK_COLUMNS, [[r["source"], r["target"]] for r in rows], L.LINK_COLUMNS)]

    inbound = ("old_inbound", "new_inbound")
    out += pages(L.GAINED_HEADING.format(top=d.top), d.gained, *inbound)
    out += pages(L.LOST_HEADING.format(top=d.top), d.lost, *inbound)
    out += pages(L.APPEARED_HEADING, d.appeared_sample, *inbound)
    out += pages(L.DISAPPEARED_HEADING, d.disappeared_sample, *inbound)
    out += links(L.ADDED_HEADING, d.added_sample)
    out += links(L.REMOVED_HEADING, d.removed_sample)
    if d.depth is not None:
        dd = d.depth
        out += [Heading(L.DEPTH_CHANGES_HEADING), Paragraph(L.DEPTH_CHANGES_LINE.format(**dd))]
        out += pages(L.DEEPER, dd["deeper_sample"], "old_depth", "new_depth", 3)
        out += pages(L.SHALLOWER, dd["shallower_sample"], "old_depth", "new_depth", 3)
    return out + _notes(d.notes)
