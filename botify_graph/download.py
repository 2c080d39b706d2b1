"""Download a Botify export and turn it into a plain CSV with our own header.

The server may send gzip (possibly multi-member), zip or plain CSV whatever the URL says, with or without a
UTF-8 BOM, a `sep=,` first line, CRLF line ends and a verbose, slug or collection_slug header (or none at all).
`normalise` streams any of these into one shape: LF line ends, our column names, no blank lines, a newline
after the last row. Only the first lines are parsed as CSV. The rest streams through in pieces of at most
64 KiB: a piece with no CR and no blank line (the common case) is written as it came, after a memchr for CR and
one numpy pass that counts its LFs (the row count) and looks for two in a row; CRLF pieces lose their CRs in one
numpy pass. Memory stays flat.

gzip is inflated by ISA-L (the `isal` package, a dependency with wheels for Linux, macOS and Windows on x86-64
and ARM64) when it can be imported, else by the standard library's zlib: same loop, same errors, the same bytes
out (tests/test_download.py runs both). On the demo's links export ISA-L inflates about 2.5-3x as fast as zlib
(benchmarks/bench_download.py prints both rates).

The files are written atomically: raw bytes to `<dest>.download.part`, the normalised CSV to `<dest>.part`,
then `os.replace` onto `dest`. A failure at any point removes both part files and leaves `dest` untouched.
Two downloads into the same `dest` (two processes running the same export) take turns on a lock file beside it.
"""

from __future__ import annotations

import asyncio
import csv
import functools
import io
import os
import re
import sys
import threading
import zipfile
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import BinaryIO
from urllib.parse import urlsplit

import httpx

from .client import backoff
from .errors import DownloadError, DownloadExpired
from .fsutil import _fsync_dir, holding_lock, storage_error
from .layout import DOWNLOAD_RESUMES

__all__ = ["DownloadResult", "download_export", "merge_exports", "normalise", "normalise_file", "sniff"]

CHUNK_SIZE = 1 << 20
# Pieces of decompressed data are kept under glibc's mmap threshold (128 KiB): each then reuses heap memory
# instead of costing fresh pages, which halved ISA-L's speed when it was handed 1 MiB at a time.
_PIECE = 1 << 16
_GZIP_FEED = 1 << 14  # compressed bytes fed to the inflater per call (a small unconsumed tail to copy)
EXPIRED_STATUSES = frozenset({403, 404, 410})
_BOM = b"\xef\xbb\xbf"
_MAX_HEAD_LINE = 1 << 20  # a header or first row longer than this is not a CSV we asked for
_DATA_PREFIXES = ("http://", "https://")
_BLANK_LINE = re.compile(b"\n\n")
_BLANK_LINES = re.compile(b"\n\n+")


@dataclass(frozen=True)
class DownloadResult:
    """A normalised export on disk and what was learnt while making it."""

    path: Path
    rows: int  # data rows, header excluded
    bytes_downloaded: int  # raw (compressed) bytes received
    compression: str  # "gzip" | "zip" | "plain"
    columns: tuple[str, ...]  # the header we wrote
    source_header: tuple[str, ...] | None  # the header the server sent; None if it sent no header row


# --- pure helpers -------------------------------------------------------------------------------------


def sniff(head: bytes) -> str:
    """Tell the container format from the first bytes: "gzip", "zip" or "plain"."""
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):  # a zip with entries, or an empty zip
        return "zip"
    return "plain"


def _parse_line(line: bytes) -> list[str]:
    """Split one CSV line (no terminator) into fields, honouring quotes."""
    text = line.decode("utf-8", errors="replace")
    try:
        rows = list(csv.reader([text]))
    except csv.Error as exc:
        raise DownloadError(f"The export's first lines are not valid CSV ({exc}): {_shorten(text)!r}.") from exc
    return rows[0] if rows else []


def _csv_line(fields: Iterable[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(fields)
    return out.getvalue().encode("utf-8")


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _is_data_row(fields: Sequence[str]) -> bool:
    """Whether a first line is already data (a page URL) rather than a header."""
    return bool(fields) and fields[0].strip().lower().startswith(_DATA_PREFIXES)


def _check_width(fields: Sequence[str], columns: Sequence[str], *, what: str, after_header: bool = False) -> None:
    if len(fields) == len(columns):
        return
    seen = ", ".join(map(repr, fields))
    if fields and fields[0].lstrip().startswith("<"):
        hint = " It looks like an HTML or XML page, not a CSV: the link may point to an error page."
    elif after_header:
        hint = " Its rows do not match its own header: the file is malformed; run the export again."
    else:
        hint = " The export job was not made for these columns: create it again with the same fields."
    raise DownloadError(
        f"The export's {what} has {len(fields)} column(s) ({_shorten(seen)}) but {len(columns)} were expected "
        f"({', '.join(columns)}).{hint}"
    )


def _check_sep(line: bytes) -> bool:
    """Whether `line` is an Excel `sep=` line (which must then be `sep=,`)."""
    marker = line.strip().strip(b'"').strip()
    if not marker.lower().startswith(b"sep="):
        return False
    sep = marker[4:]
    if sep != b",":
        raise DownloadError(
            f"The export declares the delimiter {sep.decode('utf-8', 'replace')!r} (first line "
            f"{line.decode('utf-8', 'replace')!r}); botify-graph needs ','. Create the job with delimiter ','."
        )
    return True


# --- decompression: iterators of decompressed chunks --------------------------------------------------


def _load_inflate() -> ModuleType:
    """ISA-L's zlib-compatible module if the `isal` package imports, else the standard library's `zlib`."""
    try:
        from isal import isal_zlib
    except ImportError:  # no wheel for this platform: the standard library does the same, more slowly
        return zlib
    return isal_zlib


INFLATE: ModuleType = _load_inflate()
#: Which library inflates gzip downloads: "isal" or "zlib".
GZIP_LIBRARY = "zlib" if INFLATE is zlib else "isal"


def _gunzip(src: BinaryIO, size: int, inflate: ModuleType | None = None) -> Iterator[bytes]:
    """Decompress gzip (any number of members, zero padding between them) in chunks of at most `size`.

    `inflate` is a zlib-compatible module (`INFLATE` by default; tests pass `zlib` to force the fallback).
    """
    lib = inflate or INFLATE
    errors = (zlib.error, lib.error)
    out_max, feed = min(size, _PIECE), min(size, _GZIP_FEED)
    d = lib.decompressobj(31)
    started = False  # whether the current member has been fed any byte
    try:
        while data := src.read(feed):
            while data:
                if not started:
                    data = data.lstrip(b"\x00")  # padding after a member, as gzip(1) allows
                    if not data:
                        break
                    started = True
                out = d.decompress(data, out_max)
                if out:
                    yield out
                if d.eof:  # a member ended: whatever follows is the next member (or padding)
                    data = d.unused_data
                    d = lib.decompressobj(31)
                    started = False
                else:
                    data = d.unconsumed_tail
        if started:
            out = d.flush()
            if out:
                yield out
            if not d.eof:
                raise DownloadError(
                    "The download is a truncated gzip (the stream ends before its last block). "
                    "Run the export again to fetch it anew."
                )
    except errors as exc:
        raise DownloadError(f"The download is a corrupt gzip ({exc}). Run the export again to fetch it anew.") from exc


def _unzip(src: BinaryIO, size: int) -> Iterator[bytes]:
    """Stream the first `*.csv` entry of a zip archive."""
    try:
        with zipfile.ZipFile(src) as archive:
            names = archive.namelist()
            entry = next((n for n in names if n.lower().endswith(".csv")), None)
            if entry is None:
                listed = ", ".join(names) if names else "none"
                raise DownloadError(
                    f"The zip download holds no .csv file (entries: {listed}). Run the export again to fetch it anew."
                )
            with archive.open(entry) as member:
                while chunk := member.read(min(size, _PIECE)):
                    yield chunk
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise DownloadError(
            f"The download is not a readable zip ({exc}). Run the export again to fetch it anew."
        ) from exc


def _plain(src: BinaryIO, size: int) -> Iterator[bytes]:
    while chunk := src.read(min(size, _PIECE)):
        yield chunk


def _decompressed(src: BinaryIO, compression: str, size: int) -> Iterator[bytes]:
    if compression == "gzip":
        return _gunzip(src, size)
    if compression == "zip":
        return _unzip(src, size)
    if compression == "plain":
        return _plain(src, size)
    raise ValueError(f"compression must be 'gzip', 'zip' or 'plain', not {compression!r}")


# --- normalising --------------------------------------------------------------------------------------


class _Head:
    """Read whole lines off the front of a chunk stream, keeping what follows for the fast path."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.buf = bytearray()
        self.scanned = 0  # bytes of buf known to hold no newline

    def line(self) -> bytes | None:
        """The next line without its LF or CRLF; None at the end of the stream."""
        while (end := self.buf.find(b"\n", self.scanned)) < 0:
            if len(self.buf) > _MAX_HEAD_LINE:
                raise DownloadError(
                    f"The export has no line break in its first {_MAX_HEAD_LINE} bytes: it is not a CSV."
                )
            self.scanned = len(self.buf)
            chunk = next(self.chunks, None)
            if chunk is None:
                if not self.buf:
                    return None
                end = len(self.buf)
                break
            self.buf += chunk
        line = bytes(self.buf[:end])
        del self.buf[: end + 1]
        self.scanned = 0
        return line[:-1] if line.endswith(b"\r") else line

    def content_line(self) -> bytes | None:
        """The next line that is not blank."""
        while (line := self.line()) is not None and not line.strip():
            pass
        return line


class _BytesScanner:
    """What `_body` needs to know of a piece, with bytes methods only (about 5x slower than `_NumpyScanner`)."""

    def __call__(self, chunk: bytes) -> tuple[int, bool]:
        """How many LFs `chunk` holds, and whether two are adjacent (a blank line)."""
        return chunk.count(b"\n"), _BLANK_LINE.search(chunk) is not None

    def crlf_to_lf(self, chunk: bytes) -> bytes:
        """`chunk` with each CRLF turned into LF (a CR alone is kept)."""
        return chunk.replace(b"\r\n", b"\n")


_line_ends_bytes = _BytesScanner()


class _NumpyScanner:
    """`_BytesScanner` in vector passes over buffers kept between pieces (a fresh array per piece costs more in
    page faults than the compare itself).

    numpy (which comes with pandas) is imported here, on the first download, not with the module: importing it
    costs about 100 ms that `from botify_graph import run_export`, the CLI and every notebook kernel would
    otherwise pay at start-up (benchmarks/bench_startup.py). Raises ImportError without numpy.
    """

    def __init__(self) -> None:
        import numpy

        self.np = numpy
        self.size = 0
        self._grow(_PIECE + 1)

    def _grow(self, n: int) -> None:
        np = self.np
        self.size = n
        self.is_lf, self.pairs = np.empty(n, dtype=bool), np.empty(n, dtype=bool)
        self.is_cr, self.after = np.empty(n, dtype=bool), np.empty(n, dtype=bool)

    def __call__(self, chunk: bytes) -> tuple[int, bool]:
        np = self.np
        n = len(chunk)
        if self.size < n:
            self._grow(n)
        is_lf = np.equal(np.frombuffer(chunk, np.uint8), 10, out=self.is_lf[:n])
        lfs = int(np.count_nonzero(is_lf))
        if lfs < 2:
            return lfs, False
        pairs = np.logical_and(is_lf[1:], is_lf[:-1], out=self.pairs[: n - 1])
        return lfs, bool(pairs.any())

    def crlf_to_lf(self, chunk: bytes) -> bytes:
        """`chunk` with each CRLF turned into LF: when every CR is followed by an LF (CRLF files), by dropping
        the CRs in one pass, about 4x as fast as `bytes.replace`; otherwise by `bytes.replace` (a CR alone is kept).
        """
        np = self.np
        n = len(chunk)
        if self.size < n:
            self._grow(n)
        data = np.frombuffer(chunk, np.uint8)
        is_cr = np.equal(data, 13, out=self.is_cr[:n])
        crs = int(np.count_nonzero(is_cr))
        if crs == 0:
            return chunk
        is_lf = np.equal(data[1:], 10, out=self.is_lf[: n - 1])
        crlfs = int(np.count_nonzero(np.logical_and(is_cr[:-1], is_lf, out=self.pairs[: n - 1])))
        if crlfs != crs:
            return chunk.replace(b"\r\n", b"\n")
        keep = np.logical_not(is_cr, out=self.after[:n])
        return data[keep].tobytes()


def _scanner() -> _BytesScanner | _NumpyScanner:
    """A scanner for one stream (it keeps buffers, so each stream gets its own)."""
    try:
        return _NumpyScanner()
    except ImportError:  # pragma: no cover - numpy comes with pandas; without it the scan is about 5x slower
        return _BytesScanner()


def _body(
    chunks: Iterable[bytes],
    write: Callable[[bytes], object],
    scan: _BytesScanner | _NumpyScanner | None = None,
) -> int:
    """Copy data lines: CRLF → LF, blank lines dropped, a final LF added. Return the number of rows.

    A piece with no CR and no blank line, the common case, is written as it came: the work on it is a memchr
    for CR and one vector pass that counts its LFs and looks for two in a row.
    """
    if scan is None:
        scan = _scanner()
    rows = 0
    cr = False  # a chunk ended with \r: it may pair with a \n at the start of the next one
    at_line_start = True  # the last byte written was \n (or nothing was written yet)
    for raw in chunks:
        chunk = b"\r" + raw if cr else raw
        cr = False
        if b"\r" in chunk:  # memchr: nearly free when there is none
            if chunk[-1] == 13:
                chunk = chunk[:-1]
                cr = True
            chunk = scan.crlf_to_lf(chunk)
        if at_line_start and chunk[:1] == b"\n":
            chunk = chunk.lstrip(b"\n")
        if not chunk:
            continue
        lfs, blank = scan(chunk)
        if blank:
            chunk = _BLANK_LINES.sub(b"\n", chunk)
            lfs = chunk.count(b"\n")
        rows += lfs
        at_line_start = chunk[-1] == 10
        write(chunk)
    if cr and at_line_start:
        cr = False  # a lone \r on an empty line: blank
    if not at_line_start or cr:
        write(b"\n")
        rows += 1
    return rows


def _normalise(
    src: BinaryIO,
    write: Callable[[bytes], object],
    columns: Sequence[str],
    compression: str,
    chunk_size: int,
) -> tuple[int, tuple[str, ...] | None]:
    if not columns:
        raise ValueError("columns must name at least one column")
    head = _Head(_decompressed(src, compression, chunk_size))
    first = head.line()
    if first is not None and first.startswith(_BOM):
        first = first[len(_BOM) :]
    if first is not None and not first.strip():
        first = head.content_line()
    if first is not None and _check_sep(first):
        first = head.content_line()
    write(_csv_line(columns))
    if first is None:
        return 0, None
    fields = _parse_line(first)
    source_header: tuple[str, ...] | None = None
    data = first
    if not _is_data_row(fields):  # the server's header: map it onto ours by position
        source_header = tuple(fields)
        _check_width(fields, columns, what="header")
        second = head.content_line()
        if second is None:
            return 0, source_header
        data = second
        fields = _parse_line(data)
    _check_width(fields, columns, what="first row", after_header=source_header is not None)
    write(data + b"\n")
    rest = bytes(head.buf)
    head.buf.clear()
    return 1 + _body(_prepend(rest, head.chunks), write), source_header


def _prepend(first: bytes, chunks: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from chunks


def normalise(
    src: BinaryIO,
    dst: BinaryIO,
    columns: Sequence[str],
    *,
    compression: str,
    chunk_size: int = CHUNK_SIZE,
) -> tuple[int, tuple[str, ...] | None]:
    """Stream `src` (gzip, zip or plain CSV) into `dst` as a CSV with header `columns`.

    Drops a BOM and a leading `sep=,` line, replaces the server's header (mapped by position after its width
    is checked) or writes ours before the data when the server sent none, turns CRLF into LF, drops blank
    lines and ends the last row with a newline. Returns (data rows, the server's header or None).
    Rows are counted as lines: a quoted field with a line break in it would count twice (URLs have none).
    Raises DownloadError for a truncated or corrupt archive, or a header/first row of the wrong width.
    A zip `src` must be seekable.
    """
    return _normalise(src, dst.write, columns, compression, chunk_size)


def _part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def _lock_path(dest: Path) -> Path:
    """The lock file `.<dest name>.lock` beside `dest`, held while writing `dest`: two processes running the same
    export would otherwise write the same part files and move them away from under each other."""
    return dest.with_name(f".{dest.name}.lock")


class _Cancelled(DownloadError):
    """The download was cancelled while normalising (raised in the worker thread)."""


def _normalise_file(
    src_path: Path,
    dest: Path,
    columns: tuple[str, ...],
    chunk_size: int,
    stop: Callable[[], bool] | None,
    commit: Callable[[Path, DownloadResult], object] | None = None,
) -> DownloadResult:
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = _part_path(dest)
    try:
        with open(src_path, "rb") as src:
            size = os.fstat(src.fileno()).st_size
            compression = sniff(src.read(4))
            src.seek(0)
            with open(part, "wb") as out:
                write: Callable[[bytes], object] = _EarlyWriteback(out).write
                if stop is not None:
                    write = functools.partial(_write_unless, write, stop)
                rows, source_header = _normalise(src, write, columns, compression, chunk_size)
                out.flush()
                os.fsync(out.fileno())
        if stop is not None and stop():
            raise _Cancelled("cancelled")
        result = DownloadResult(dest, rows, size, compression, columns, source_header)
        if commit is None:
            os.replace(part, dest)
        else:
            commit(part, result)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    _fsync_dir(dest.parent)
    return result


class _EarlyWriteback:
    """Write to a file and, on Linux, ask the kernel every 8 MiB to start putting what came before on disk.

    The fsync that makes the file durable before `os.replace` then waits for the last few MiB rather than the
    whole file: 127 MB normalised here took 170 ms instead of 205 ms, the fsync 40 ms instead of 85 ms.
    `POSIX_FADV_DONTNEED` on pages just written (still dirty) starts their writeback and drops nothing; the
    standard library has no `sync_file_range`. Elsewhere, and if the call fails, it is a plain write.
    """

    STEP = 8 << 20

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.written = self.started = 0
        self.advise = getattr(os, "posix_fadvise", None) if sys.platform.startswith("linux") else None

    def write(self, data: bytes) -> None:
        self.out.write(data)
        self.written += len(data)
        if self.advise is not None and self.written - self.started >= self.STEP:
            self.out.flush()
            try:
                self.advise(self.out.fileno(), self.started, self.written - self.started, os.POSIX_FADV_DONTNEED)
            except OSError:  # a file system that will not: write on without
                self.advise = None
            self.started = self.written


def _write_unless(write: Callable[[bytes], object], stop: Callable[[], bool], data: bytes) -> object:
    if stop():
        raise _Cancelled("cancelled")
    return write(data)


def normalise_file(
    src_path: str | Path, dest_path: str | Path, columns: Sequence[str], *, chunk_size: int = CHUNK_SIZE
) -> DownloadResult:
    """Normalise an already-downloaded export into `dest_path` atomically (see `normalise`).

    The format is sniffed from the first bytes, never taken from the file name. `src_path` is left in place;
    `dest_path` is either the complete new CSV or, on failure, exactly what it was before.
    """
    return _normalise_file(Path(src_path), Path(dest_path), tuple(columns), chunk_size, None)


# --- network ------------------------------------------------------------------------------------------


def _public_url(url: str) -> str:
    """The URL without query or fragment: signed CDN links carry credentials there."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else parts.path


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


async def _raw_body(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it arrives, undecoded (Content-Length counts these bytes; the format is sniffed later)."""
    if response.is_stream_consumed:  # already read, e.g. a MockTransport response built with content=
        yield response.content
        return
    async for chunk in response.aiter_raw():
        yield chunk


@dataclass
class _Transfer:
    """What one download has learnt so far: bytes in the raw part file, the whole size, how to resume."""

    got: int = 0
    total: int | None = None  # the size of the whole file, when the server said it
    validator: str | None = None  # ETag (or Last-Modified) of the file, sent as If-Range when resuming
    ranges: bool = False  # the server said Accept-Ranges: bytes
    attempts: int = 0
    high: int = 0  # the most bytes the part file ever held: a try that does not raise it made no progress


def _content_range(value: str | None) -> tuple[int, int | None] | None:
    """(first byte, whole size or None) of a `Content-Range: bytes A-B/SIZE` header; None if unusable."""
    match = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", value or "")
    if match is None:
        return None
    return int(match.group(1)), None if match.group(3) == "*" else int(match.group(3))


def _resume_headers(state: _Transfer) -> dict[str, str]:
    """The Range (and If-Range) headers to continue where the part file ends, or none to start afresh."""
    if not (state.got and state.ranges):
        return {}
    headers = {"Range": f"bytes={state.got}-"}
    if state.validator:
        headers["If-Range"] = state.validator
    return headers


def _refused(status: int, url: str) -> DownloadError:
    if status in EXPIRED_STATUSES:
        return DownloadExpired(
            f"The download link answered HTTP {status}: it has expired ({_public_url(url)}). "
            "Poll the export job again for a fresh link; the pipeline does that automatically."
        )
    if status == 429:
        return DownloadError(
            f"The download server kept answering HTTP 429 (too many requests) for {_public_url(url)}, even after "
            "waiting as it asked. Run the export again in a few minutes: the job is kept, nothing is exported twice."
        )
    return DownloadError(
        f"The download server answered HTTP {status} for {_public_url(url)}, even after retries. "
        "Try again later; if it persists, run the export again (the job is kept)."
    )


async def _fetch(
    client: httpx.AsyncClient,
    url: str,
    raw_path: Path,
    on_progress: Callable[[int, int | None], None] | None,
    progress_step: int,
    *,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    resumes: int = DOWNLOAD_RESUMES,
) -> int:
    """Stream the body of `url` into `raw_path`; return the number of bytes received.

    A transfer that breaks or ends short is continued with `Range: bytes=N-` (and `If-Range`) when the
    server said `Accept-Ranges: bytes`, else started again from the first byte; up to `resumes` times with
    a growing pause, and only while the tries keep adding bytes. A 206 that does not start where the file
    ends, or a 200 to a Range request, starts the file afresh. The final size is checked against the one
    the server announced. 429 and 5xx are waited out by the client's transport (Retry-After, backoff).
    """
    state = _Transfer()
    reported = 0
    with open(raw_path, "wb") as f:
        while True:
            best = state.high
            problem: str | None = None
            try:
                async with client.stream("GET", url, headers=_resume_headers(state), follow_redirects=True) as response:
                    if not _start(response, state, f):
                        raise _refused(response.status_code, url)
                    async for chunk in _raw_body(response):  # written as it arrives, whatever its size
                        f.write(chunk)
                        state.got += len(chunk)
                        state.high = max(state.high, state.got)
                        if on_progress is not None and state.got - reported >= progress_step:
                            on_progress(state.got, state.total)
                            reported = state.got
            except httpx.TransportError as exc:
                of = f" of {state.total}" if state.total is not None else ""
                problem = f"The download connection broke after {state.got}{of} bytes ({type(exc).__name__}: {exc})"
            if problem is None and state.total is not None and state.got < state.total:
                problem = f"The download is truncated: got {state.got} of {state.total} bytes"
            if problem is None:
                break
            state.attempts += 1
            if state.attempts > resumes or (state.attempts > 1 and state.high <= best):
                tries = f", {state.attempts} tries in a row" if state.attempts > 1 else ""
                raise DownloadError(f"{problem}{tries}. Run the export again to fetch it anew.")
            await sleep(backoff(state.attempts - 1))
        f.flush()
    if on_progress is not None and state.got > reported:
        on_progress(state.got, state.total)
    if state.total is not None and state.got != state.total:
        raise DownloadError(
            f"The download has {state.got} bytes where the server announced {state.total}. "
            "Run the export again to fetch it anew."
        )
    return state.got


def _start(response: httpx.Response, state: _Transfer, f: BinaryIO) -> bool:
    """Decide where the body of `response` goes in the part file; False if it is a refusal (4xx/5xx)."""
    status = response.status_code
    if status == 206 and state.got:
        span = _content_range(response.headers.get("content-range"))
        if span is not None and span[0] == state.got and span[1] in (None, state.total):
            return True  # appended where the part file ends
        # a range we did not ask for: start afresh without ranges
        state.ranges = False
        f.seek(0)
        f.truncate()
        state.got = 0
        raise httpx.ReadError(f"the server answered another range ({response.headers.get('content-range')})")
    if not response.is_success:
        return False
    if state.got:  # a whole file where a range was asked for (or no ranges at all): start afresh
        f.seek(0)
        f.truncate()
        state.got = 0
    state.total = _content_length(response)
    if status == 206:  # a range nobody asked for: its total is the file's size
        span = _content_range(response.headers.get("content-range"))
        state.total = span[1] if span is not None else None
    state.ranges = response.headers.get("accept-ranges", "").strip().lower() == "bytes"
    state.validator = response.headers.get("etag") or response.headers.get("last-modified")
    return True


async def download_export(
    client: httpx.AsyncClient,
    url: str,
    dest: str | Path,
    *,
    columns: Sequence[str],
    on_progress: Callable[[int, int | None], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
    commit: Callable[[Path, DownloadResult], object] | None = None,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    resumes: int = DOWNLOAD_RESUMES,
) -> DownloadResult:
    """Download an export from `url` and write it, normalised, to `dest` atomically.

    A transfer that breaks is resumed where it stopped when the server takes ranges, else started again,
    up to `resumes` times (pausing with `sleep`); see `_fetch`. A full disk or a read-only folder is a
    StorageError naming the folder.

    `commit(part, result)` moves the finished part file onto `result.path` (default `os.replace`); it runs under the
    lock that serialises downloads into `dest`, so a caller can move an earlier file aside and record the new
    one in the same step (`ExportRegistry.install`).

    `on_progress(bytes_so_far, content_length_or_None)` is called whenever another `chunk_size` bytes have
    arrived, and once more with the final count (network reads are often much smaller than that). Raises
    DownloadExpired when the link answers 403/404/410 and DownloadError when the body is cut short,
    corrupt or not the expected CSV. On any failure, `dest` keeps its old content and no part file remains.
    """
    dest = Path(dest)
    try:
        return await _download(client, url, dest, tuple(columns), on_progress, chunk_size, commit, sleep, resumes)
    except OSError as exc:
        error = storage_error(
            exc,
            dest,
            what=f"the export {dest.name}",
            then="Nothing incomplete was kept; the export job is kept, so running again downloads it without "
            "a new job.",
        )
        if error is None:
            raise
        raise error from None


async def _download(
    client: httpx.AsyncClient,
    url: str,
    dest: Path,
    columns: tuple[str, ...],
    on_progress: Callable[[int, int | None], None] | None,
    chunk_size: int,
    commit: Callable[[Path, DownloadResult], object] | None,
    sleep: Callable[[float], Awaitable[object]],
    resumes: int,
) -> DownloadResult:
    dest.parent.mkdir(parents=True, exist_ok=True)
    raw = dest.with_name(dest.name + ".download.part")
    async with holding_lock(_lock_path(dest), poll=0.05):
        ok = False
        try:
            await _fetch(client, url, raw, on_progress, chunk_size, sleep=sleep, resumes=resumes)
            stop = threading.Event()
            job = functools.partial(_normalise_file, raw, dest, columns, chunk_size, stop.is_set, commit)
            future = asyncio.get_running_loop().run_in_executor(None, job)
            try:
                result = await asyncio.shield(future)
            except asyncio.CancelledError:
                stop.set()  # the worker stops at its next chunk and removes its part file
                await asyncio.wait([future])
                raise
            ok = True
        finally:
            raw.unlink(missing_ok=True)
            if not ok:
                _part_path(dest).unlink(missing_ok=True)
    return result


async def merge_exports(
    sources: Sequence[str | Path],
    dest: str | Path,
    *,
    columns: Sequence[str],
    commit: Callable[[Path, int], object] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> int:
    """Concatenate normalised exports (as `download_export` writes them) into `dest` atomically; return the rows.

    Each source must start with the header `columns`; the result has it once, then every source's rows in
    the order given, streamed in chunks (memory stays flat whatever the size). `commit(part, rows)` moves the
    finished part file onto `dest` (default `os.replace`) under the same lock as downloads into `dest`. On
    failure `dest` is untouched and no part file remains.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    async with holding_lock(_lock_path(dest), poll=0.05):
        job = functools.partial(_merge, [Path(s) for s in sources], dest, tuple(columns), commit, chunk_size)
        return await asyncio.to_thread(job)


def _merge(
    sources: list[Path],
    dest: Path,
    columns: tuple[str, ...],
    commit: Callable[[Path, int], object] | None,
    chunk_size: int,
) -> int:
    header = _csv_line(columns)
    part = _part_path(dest)
    rows = 0
    try:
        with open(part, "wb") as out:
            out.write(header)
            for source in sources:
                with open(source, "rb") as src:
                    first = src.readline()
                    if first != header:
                        raise DownloadError(
                            f"{source} does not start with the header {','.join(columns)} "
                            f"({_shorten(first.decode('utf-8', 'replace').strip())!r}); export it again."
                        )
                    last = b"\n"
                    while chunk := src.read(chunk_size):
                        rows += chunk.count(b"\n")
                        out.write(chunk)
                        last = chunk[-1:]
                    if last != b"\n":  # a normalised file ends with a newline; never glue two rows together
                        out.write(b"\n")
                        rows += 1
            out.flush()
            os.fsync(out.fileno())
        if commit is None:
            os.replace(part, dest)
        else:
            commit(part, rows)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    _fsync_dir(dest.parent)
    return rows
