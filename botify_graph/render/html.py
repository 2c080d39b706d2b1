"""Reports as HTML fragments: the blocks of `document` written out (a Figure becomes its chart).

The fragments carry their stylesheet (`assets/report.css`), so the same text works in an `ipywidgets.HTML`
(JupyterLab, Voila) and in a file a browser opens; every value shown is escaped.
"""

from __future__ import annotations

import functools
import html
import numbers
import re
from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

from .document import Block, Bullets, Figure, Files, Heading, Paragraph, Table, diff_document, summary_document
from .formats import cell_text

if TYPE_CHECKING:  # pragma: no cover
    from ..graph.compare import GraphDiff
    from ..graph.summary import GraphSummary

__all__ = ["asset_text", "breakable", "diff_html", "document_html", "html_table", "summary_html"]

URL_KEYS = ("url", "source", "target")  # columns whose long values wrap
_BREAK_AFTER = re.compile(r"([/_.=&?,]|(?<=[^\s-])-)")  # not after a command-line flag's dashes


def breakable(text: object) -> str:
    """Escape `text` and mark a line-break opportunity (<wbr>) after each / _ . - = & ? , so a long path or URL
    wraps at a separator instead of in the middle of a word (copying it gives the text back unchanged). The
    dashes that start an option (` -p`, ` --out`) are left alone: a command wraps at its spaces."""
    value, out, start = str(text), [], 0
    for match in _BREAK_AFTER.finditer(value):
        out.append(html.escape(value[start : match.end()]) + "<wbr>")
        start = match.end()
    return "".join(out) + html.escape(value[start:])


@functools.cache
def asset_text(name: str) -> str:
    """A file of `botify_graph/render/assets/` (CSS, JavaScript), read from the installed package."""
    return resources.files("botify_graph.render").joinpath("assets", name).read_text(encoding="utf-8")


def _td(value: Any, key: str = "") -> str:
    if value is None:
        return "<td></td>"
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return f'<td class="n">{cell_text(value)}</td>'
    if key in URL_KEYS:
        return f'<td class="u">{breakable(cell_text(value))}</td>'
    return f"<td>{html.escape(cell_text(value))}</td>"


def html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], keys: Sequence[str] = ()) -> str:
    """An HTML table, every cell escaped; `keys` name the columns (URL columns wrap)."""
    keys = keys or headers
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_td(v, k) for v, k in zip(row, keys, strict=True)) + "</tr>" for row in rows)
    return f'<div class="t"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _block(block: Block) -> str:
    esc = html.escape
    if isinstance(block, Heading):
        tag = "h4" if block.level > 2 else "h3"
        return f"<{tag}>{esc(block.text)}</{tag}>"
    if isinstance(block, Paragraph):
        return f"<p>{esc(block.text)}</p>"
    if isinstance(block, Files):
        return (
            '<p class="note">' + "<br>".join(f"{esc(k)}: <code>{breakable(v)}</code>" for k, v in block.items) + "</p>"
        )
    if isinstance(block, Bullets):
        return '<ul class="note">' + "".join(f"<li>{esc(item)}</li>" for item in block.items) + "</ul>"
    if isinstance(block, Figure):
        return block.svg
    assert isinstance(block, Table)
    return html_table(block.headers, block.rows, block.keys)


def document_html(blocks: Sequence[Block]) -> str:
    """A document as one HTML fragment (its stylesheet included)."""
    parts = [f"<style>{asset_text('report.css')}</style>", '<div class="bg-report">']
    parts += [_block(b) for b in blocks]
    parts.append("</div>")
    return "\n".join(parts)


def summary_html(summary: GraphSummary) -> str:
    """The graph summary as an HTML fragment (tables, the degree histograms, the depth chart when known)."""
    return document_html(summary_document(summary))


def diff_html(diff: GraphDiff) -> str:
    """What changed between two crawls, as an HTML fragment."""
    return document_html(diff_document(diff))
