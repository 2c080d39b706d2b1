"""Export jobs of the fake: their state, the normalised payload echo, and the CSV file they produce.

File layout, taken literally from the job's (normalised) formatter_config:

- `sep=<delimiter>` first line when `print_delimiter` is true;
- a header row when `print_header` is true, in `header_format` verbose (`Full URL`, `Internal Outlinks URL`,
  `Impressions`, ... or the query's `name`), slug (`url`, `outlinks_internal.graph.url`, `count_impressions`)
  or collection_slug (`crawl.20241108.url`, `search_console.period_0.count_impressions`);
- one row per result row (the multi-valued graph dimension flattened to one row per (source, target)),
  at most `export_size` rows; UTF-8, `\\r\\n` line ends, minimal quoting (URLs with commas are quoted);
- booleans as `True`/`False`, nulls as empty fields, floats as Python writes them.

gzip (level 1) by default; zip (one `.csv` entry, deflate level 1) when asked or forced.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import threading
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bql import BqlError, Plan, Row

MAX_EXPORT_SIZE = 1_000_000
HEADER_FORMATS = ("verbose", "slug", "collection_slug")
JOB_ID_START = 5678901


def normalise_formatter_config(given: Any, mode: str) -> dict[str, Any]:
    """formatter_config with defaults for the keys left out (`docs`: true/true, `observed`: false/false)."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise BqlError(1020, "payload.formatter_config must be an object.")
    flag = mode == "docs"
    out = {"delimiter": ",", "print_header": flag, "header_format": "verbose", "print_delimiter": flag}
    out.update(given)
    if not isinstance(out["delimiter"], str) or len(out["delimiter"]) != 1 or out["delimiter"] in '\r\n"':
        raise BqlError(1020, f"formatter_config.delimiter must be one character, got {out['delimiter']!r}.")
    for key in ("print_header", "print_delimiter"):
        if not isinstance(out[key], bool):
            raise BqlError(1020, f"formatter_config.{key} must be true or false, got {out[key]!r}.")
    if out["header_format"] not in HEADER_FORMATS:
        raise BqlError(
            1020, f"formatter_config.header_format must be one of {', '.join(HEADER_FORMATS)}, "
            f"got {out['header_format']!r}."
        )  # fmt: skip
    return out


def normalise_extra_config(given: Any) -> dict[str, Any]:
    """extra_config with `compression` = zip when `filetype` or `compression` says zip, else gzip."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise BqlError(1020, "payload.extra_config must be an object.")
    out = {k: v for k, v in given.items() if k != "filetype"}
    out["compression"] = "zip" if "zip" in (given.get("filetype"), given.get("compression")) else "gzip"
    return out


@dataclass
class FakeJob:
    """One export job as the fake holds it. Tests may read every field; the server mutates them."""

    job_id: int
    org: str
    project: str
    kind: str  # "links" (queries outlinks_internal.graph.url) or "meta"
    posted: dict[str, Any]  # the body as the client sent it
    payload: dict[str, Any]  # the normalised payload echoed back
    date_created: str
    created_t: float  # time.monotonic() at creation
    will_fail: bool = False
    dropped: bool = False  # the POST's connection was closed without a response
    status: str = "CREATED"
    polls: int = 0
    compression: str = "gzip"
    formatter: dict[str, Any] = field(default_factory=dict)  # what the file really uses
    filename: str = ""
    file: Path | None = None
    nb_lines: int | None = None
    error: str | None = None
    ready_t: float | None = None  # time.monotonic() when the file was written (or failed)
    finished_t: float | None = None  # time.monotonic() when the job first answered DONE or FAILED
    ready: threading.Event = field(default_factory=threading.Event, repr=False)
    download_urls: list[str] = field(default_factory=list)
    downloads: int = 0

    @property
    def job_url(self) -> str:
        return f"/v1/jobs/{self.job_id}"

    @property
    def analysis(self) -> str | None:
        """The crawl analysis slug the job's query reads, if any."""
        q = self.payload.get("query") or {}
        for c in q.get("collections") or []:
            if isinstance(c, str) and c.startswith("crawl."):
                return c.split(".", 1)[1]
        return None


def write_export(plan: Plan, path: Path, *, formatter: dict[str, Any], compression: str, limit: int) -> int:
    """Write the export file; return the number of data rows written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = path.name.removesuffix(".zip").removesuffix(".gz")
    if not entry.endswith(".csv"):
        entry += ".csv"
    if compression == "zip":
        with (
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf,
            zf.open(entry, "w", force_zip64=True) as raw,
        ):
            return _write_csv(plan, raw, formatter, limit)
    with open(path, "wb") as fh, gzip.GzipFile(filename=entry, mode="wb", fileobj=fh, compresslevel=1, mtime=0) as gz:
        return _write_csv(plan, gz, formatter, limit)


def _write_csv(plan: Plan, raw: Any, formatter: dict[str, Any], limit: int) -> int:
    """Write CSV text to a binary stream (the gzip or zip entry writer) through a 1 MiB text buffer."""
    text = io.TextIOWrapper(io.BufferedWriter(_Sink(raw), buffer_size=1 << 20), encoding="utf-8", newline="")
    delimiter = formatter["delimiter"]
    writer = csv.writer(text, delimiter=delimiter, lineterminator="\r\n")
    if formatter["print_delimiter"]:
        text.write(f"sep={delimiter}\r\n")
    if formatter["print_header"]:
        writer.writerow(plan.headers(formatter["header_format"]))
    if plan.per_page:  # rows are streamed; their number is known without producing them
        total = plan.estimated_rows()
        rows: Iterable[Row] = plan.rows()
    else:
        rows = list(plan.rows())
        total = len(rows)
    writer.writerows(itertools.islice((dims + mets if mets else dims for dims, mets in rows), limit))
    text.flush()
    text.detach().flush()
    return min(total, limit)


class _Sink(io.RawIOBase):
    """A raw stream over a gzip/zip writer, so writes reach the compressor in big chunks."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self._target.write(b)
        return len(b)
