"""Reports as Markdown: the blocks of `document` written out (a Figure becomes its table)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .document import Block, Bullets, Figure, Files, Heading, Paragraph, Table, diff_document, summary_document
from .formats import cell_text

if TYPE_CHECKING:  # pragma: no cover
    from ..graph.compare import GraphDiff
    from ..graph.summary import GraphSummary

__all__ = ["diff_markdown", "markdown", "md_table", "report_markdown", "summary_markdown"]


def _cell(value: Any) -> str:
    return cell_text(value).replace("|", "\\|").replace("\n", " ")


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (cells escaped)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _block(block: Block) -> str:
    if isinstance(block, Heading):
        return "#" * block.level + " " + block.text
    if isinstance(block, Paragraph):
        return block.text
    if isinstance(block, Files):
        return "\n".join(f"- {label}: `{path}`" for label, path in block.items)
    if isinstance(block, Bullets):
        return "\n".join(f"- {item}" for item in block.items)
    table = block.table if isinstance(block, Figure) else block
    assert isinstance(table, Table)
    return md_table(table.headers, table.rows)


def markdown(blocks: Sequence[Block]) -> str:
    """A document as Markdown: each block followed by a blank line."""
    return "".join(_block(b) + "\n\n" for b in blocks).rstrip("\n") + "\n"


def summary_markdown(summary: GraphSummary) -> str:
    """The graph summary as a Markdown report."""
    return markdown(summary_document(summary))


def diff_markdown(diff: GraphDiff) -> str:
    """What changed between two crawls, as a Markdown report."""
    return markdown(diff_document(diff))


def report_markdown(report: GraphSummary | GraphDiff) -> str:
    """A summary or a diff as Markdown."""
    from ..graph.summary import GraphSummary

    return summary_markdown(report) if isinstance(report, GraphSummary) else diff_markdown(report)
