"""Strings only: the words of an export plan (`partition.ExportPlan`) as text (CLI, papermill) and HTML (wizard).

Every number shown comes from `partition`; this module only formats and phrases them. One table of labels
(`FIELD_LABELS`, `OPTION_LABELS`) feeds the text and the HTML alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from ..partition import Cond, ExportPlan, Partition, PartitionPlan
from . import labels as L
from .formats import plural

__all__ = [
    "FIELD_LABELS",
    "OPTION_LABELS",
    "cond_text",
    "confirm_text",
    "describe",
    "parts_too_big_text",
    "plan_html",
    "plan_line",
    "plan_text",
    "too_big_text",
]

FIELD_LABELS = {"depth": "depth", "pagetype": "page type", "outlinks": "outlinks"}
OPTION_LABELS = {
    "normal": "Depth-limited export",
    "cut": "Depth 1 cut at the limit",
    "complete": "Complete graph",
}
_PER_ROW = "Botify's rule: 0.1 credit a links row, 1 a page row"


def _n(value: int) -> str:
    return f"{value:,}"


def _credits(value: float) -> str:
    return f"~{value:,.0f}"


def cond_text(cond: Cond) -> str:
    """One condition in words: "depth ≤ 1 or none", "page type article, tag", "19–27 outlinks"."""
    label = FIELD_LABELS.get(cond.field, cond.field)
    parts: list[str] = []
    if cond.values:
        parts.append(f"{label} " + ", ".join(str(v) for v in cond.values))
    if cond.ranged:
        lo, hi = cond.lo, cond.hi
        if lo is None and hi is None:
            span = "any"
        elif lo is None:
            span = f"≤ {hi}"
        elif hi is None:
            span = f"≥ {lo}"
        elif lo == hi:
            span = str(lo)
        else:
            span = f"{lo}–{hi}"
        parts.append(f"{span} {label}" if cond.field == "outlinks" else f"{label} {span}")
    if cond.nulls:
        parts.append(f"no {label}" if parts else f"pages without a {label}")
    return " or ".join(parts)


def describe(part: Partition) -> str:
    """A partition's filter in words ("every page" when it has none)."""
    words = [cond_text(c) for c in part.conds if not c.is_all]
    return " · ".join(words) if words else "every page"


def _normal_line(plan: ExportPlan) -> str:
    label = OPTION_LABELS["normal"]
    if plan.depth is None:
        return (
            f"{label}: not possible: depth 1 alone has {_n(plan.depth1_links)} links, over the limit of "
            f"{_n(plan.max_edges)} rows a job."
        )
    links, pages = plan.normal_rows
    whole = " (the whole graph)" if plan.depth.whole_graph else ""
    return (
        f"{label}: depth {plan.depth.depth}{whole}: {_n(links)} links + {_n(pages)} pages in 2 jobs, "
        f"{_credits(plan.normal_credits)} credits."
    )


def _cut_line(plan: ExportPlan) -> str:
    links, pages = plan.cut_rows
    return (
        f"{OPTION_LABELS['cut']} (--allow-cut): {_n(links)} links + {_n(pages)} pages in 2 jobs, "
        f"{_credits(plan.cut_credits)} credits; the graph lacks every link past the limit."
    )


def _complete_line(plan: ExportPlan) -> str:
    links, pages = plan.complete_rows
    return (
        f"{OPTION_LABELS['complete']} (--complete): every link at every depth: {_n(links)} links in "
        f"{plural(plan.links.jobs, 'job')} + {_n(pages)} pages in {plural(plan.meta.jobs, 'job')} = "
        f"{plural(plan.complete_jobs, 'job')}, {_credits(plan.complete_credits)} credits."
    )


def plan_line(plan: ExportPlan) -> str:
    """One line: what the complete export takes."""
    return (
        f"Complete graph: {_n(plan.links.rows)} links and {_n(plan.meta.rows)} pages in "
        f"{plural(plan.complete_jobs, 'job')}, {_credits(plan.complete_credits)} credits"
    )


def parts_too_big_text(parts: Sequence[Partition], max_edges: int) -> str:
    """Why these partitions cannot be exported, and what to do."""
    which = "; ".join(f"{describe(p)} (at least {_n(p.estimate)} rows)" for p in parts[:5])
    more = f" and {len(parts[5:])} more" if parts[5:] else ""
    return (
        f"The complete graph cannot be exported under {_n(max_edges)} rows a job: no documented filter "
        f"splits {which}{more} any further. Raise --max-edges if your Botify plan allows larger exports "
        "(a rerun keeps every part already downloaded)."
    )


def confirm_text(plan: ExportPlan, *, max_jobs: int) -> str:
    """The question the wizard asks before a complete export is chosen."""
    links, pages = plan.complete_rows
    return (
        f"Export the complete graph: {plural(plan.complete_jobs, 'Botify export job')} (at most {max_jobs} at "
        f"once) for {_n(links)} links and {_n(pages)} pages, about {_credits(plan.complete_credits)[1:]} export "
        "credits. Continue?"
    )


def too_big_text(plan: ExportPlan) -> str:
    """Why a complete export cannot be made, and what to do."""
    return parts_too_big_text([*plan.links.too_big, *plan.meta.too_big], plan.max_edges)


def _parts_lines(kinds: PartitionPlan, show: int | None) -> list[str]:
    what = "links" if kinds.kind == "links" else "pages"
    lines = [
        f"  {kinds.kind} jobs ({_n(kinds.jobs)}; each planned at most {_n(kinds.target)} {what}, "
        f"the limit is {_n(kinds.cap)}):",
        f"    {'id':<16} {'rows':>12}  filter",
    ]
    parts, hidden = kinds.head(show)
    lines += [f"    {p.id:<16} {_n(p.estimate):>12}  {describe(p)}" for p in parts]
    if hidden:
        lines.append(f"    … and {_n(hidden)} more (`botify-graph plan --complete` lists them all)")
    return lines


def plan_text(plan: ExportPlan, *, max_jobs: int, many: int, show_parts: int | None = 12) -> str:
    """The plan as the CLI prints it: links per depth, then what each way of exporting takes."""
    lines = [
        f"Analysis {plan.analysis}: {_n(plan.total_links)} internal links, {_n(plan.total_pages)} pages; "
        f"limit {_n(plan.max_edges)} rows a job ({_PER_ROW}).",
        "",
        f"  {'depth':>5} {'links':>12} {'cumulative':>12} {'pages':>10}",
    ]
    for row in plan.table():
        mark = "" if row["fits"] else f"  {L.OVER_LIMIT}"
        lines.append(
            f"  {row['depth']:>5} {_n(int(row['links'])):>12} {_n(int(row['cumulative'])):>12} "
            f"{_n(int(row['pages'])):>10}{mark}"
        )
    lines += ["", _normal_line(plan)]
    if plan.depth is None:
        lines.append(_cut_line(plan))
    lines.append(_complete_line(plan))
    lines.append(
        f"  At most {max_jobs} job{'s' if max_jobs != 1 else ''} run at once on Botify (--max-jobs); "
        "a job cut at the limit is split again, never kept short."
    )
    if plan.many_jobs(many):
        lines.append(
            f"  ⚠ {_n(plan.complete_jobs)} export jobs (more than {many}): they all run, but it takes a while "
            "and every job shows in Botify's export list. A higher --max-edges (if your plan allows) means fewer."
        )
    if not plan.feasible:
        lines.append("  ✗ " + too_big_text(plan))
    lines.append("")
    lines += _parts_lines(plan.links, show_parts)
    lines += _parts_lines(plan.meta, show_parts)
    return "\n".join(lines)


# -- HTML (the wizard's Depth card) ---------------------------------------------------------------------------

_TABLE = "border-collapse:collapse;font-size:13px;margin:4px 0"
_CELL = "padding:2px 8px;border-bottom:1px solid #eee;text-align:left"
_NUM = "padding:2px 8px;border-bottom:1px solid #eee;text-align:right;font-variant-numeric:tabular-nums"


def _row(cells: list[tuple[str, bool]]) -> str:
    return "<tr>" + "".join(f'<td style="{_NUM if num else _CELL}">{c}</td>' for c, num in cells) + "</tr>"


def _head(names: list[str]) -> str:
    return "<tr>" + "".join(f'<th style="{_CELL};font-weight:600">{escape(n)}</th>' for n in names) + "</tr>"


def plan_html(plan: ExportPlan, *, max_jobs: int, many: int, show_parts: int = 40) -> str:
    """The options table (rows, jobs, credits of each way of exporting) and the complete export's jobs."""
    rows: list[str] = []
    if plan.depth is not None:
        links, pages = plan.normal_rows
        rows.append(
            _row(
                [
                    (escape(f"{OPTION_LABELS['normal']} (depth {plan.depth.depth})"), False),
                    (_n(links), True),
                    (_n(pages), True),
                    ("2", True),
                    (_credits(plan.normal_credits), True),
                ]
            )
        )
    else:
        links, pages = plan.cut_rows
        rows.append(
            _row(
                [
                    (escape(OPTION_LABELS["cut"]) + " <i>(lacks links)</i>", False),
                    (_n(links), True),
                    (_n(pages), True),
                    ("2", True),
                    (_credits(plan.cut_credits), True),
                ]
            )
        )
    links, pages = plan.complete_rows
    rows.append(
        _row(
            [
                (f"<b>{escape(OPTION_LABELS['complete'])}</b> (every link at every depth)", False),
                (_n(links), True),
                (_n(pages), True),
                (f"<b>{_n(plan.complete_jobs)}</b>", True),
                (f"<b>{_credits(plan.complete_credits)}</b>", True),
            ]
        )
    )
    out = [
        f'<table style="{_TABLE}">'
        + _head(["export", "links", "pages", "jobs", "credits"])
        + "".join(rows)
        + "</table>",
        f'<div style="color:#616161;font-size:12px">{escape(_PER_ROW)}. The complete graph runs at most '
        f"{max_jobs} job{'s' if max_jobs != 1 else ''} at once; a job cut at the limit is split again.</div>",
    ]
    if plan.depth is None:
        out.insert(0, f'<div style="color:#c62828">{escape(_normal_line(plan))}</div>')
    if plan.many_jobs(many):
        out.append(
            f'<div style="color:#e65100"><b>⚠ {_n(plan.complete_jobs)} export jobs</b> (more than {many}): '
            "they all run, but it takes a while. A higher row limit (if your plan allows) means fewer.</div>"
        )
    if not plan.feasible:
        out.append(f'<div style="color:#c62828">✗ {escape(too_big_text(plan))}</div>')
    body, more = "", ""
    for kinds in (plan.links, plan.meta):
        parts, hidden = kinds.head(show_parts)
        body += "".join(
            _row([(escape(p.id), False), (kinds.kind, False), (_n(p.estimate), True), (escape(describe(p)), False)])
            for p in parts
        )
        if hidden:
            more += f'<div style="color:#616161">… and {_n(hidden)} more {kinds.kind} jobs</div>'
    out.append(
        f"<details><summary>The {_n(plan.complete_jobs)} jobs of the complete graph</summary>"
        f'<table style="{_TABLE}">'
        + _head(["job", "kind", "rows (planned)", "filter"])
        + body
        + f"</table>{more}</details>"
    )
    return "".join(out)
