"""The exported link graph in numbers: nothing here writes a file or words a sentence for a report.

    encode    the CSVs read in blocks into integer arrays over one shared vocabulary of URLs
    summary   GraphSummary: pages, links, degrees, most-linked pages, orphans, page types, compliance
    compare   GraphDiff: what changed between two crawls
    sample    which pages and links the interactive view draws
    load      the export as a networkx DiGraph or pandas frames

Above this layer, `render` turns these numbers into Markdown, HTML, SVG and text, and `reports` writes them
where `layout` says. This package imports neither (tests/test_imports.py checks it).
"""

from __future__ import annotations

from .compare import GraphDiff, compare_graphs
from .encode import EncodedGraph, csv_header, encode_graph, encode_graphs
from .load import load_graph
from .sample import ViewSample, view_sample
from .summary import DegreeStats, GraphSummary, summarize, summarize_encoded

__all__ = [
    "DegreeStats",
    "EncodedGraph",
    "GraphDiff",
    "GraphSummary",
    "ViewSample",
    "compare_graphs",
    "csv_header",
    "encode_graph",
    "encode_graphs",
    "load_graph",
    "summarize",
    "summarize_encoded",
    "view_sample",
]
