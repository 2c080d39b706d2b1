"""Tests for botify_graph.download: sniffing, normalising and downloading exports."""

from __future__ import annotations

import asyncio
import csv
import gzip
import http.server
import io
import itertools
import sys
import threading
import zipfile
import zlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botify_graph import download
from botify_graph.download import DownloadResult, download_export, normalise, normalise_file, sniff
from botify_graph.errors import DownloadError, DownloadExpired
from botify_graph.queries import LINKS_COLUMNS, meta_columns

META_FIELDS = ("pagetype", "is_compliant", "impressions")
META_COLUMNS = meta_columns(META_FIELDS)

# What the server may put in the header row, per header_format, for each of our two exports.
HEADERS: dict[str, dict[str, tuple[str, ...] | None]] = {
    "links": {
        "verbose": ("Full URL", "Internal Outlinks URL"),
        "slug": ("url", "outlinks_internal.graph.url"),
        "collection_slug": ("crawl.20241108.url", "crawl.20241108.outlinks_internal.graph.url"),
        "none": None,
    },
    "meta": {
        "verbose": ("Full URL", "Page Type", "Is Compliant", "Impressions"),
        "slug": ("url", "segments.pagetype.value", "compliant.is_compliant", "count_impressions"),
        "collection_slug": (
            "crawl.20241108.url",
            "crawl.20241108.segments.pagetype.value",
            "crawl.20241108.compliant.is_compliant",
            "search_console.period_0.count_impressions",
        ),
        "none": None,
    },
}
COLUMNS = {"links": LINKS_COLUMNS, "meta": META_COLUMNS}
ROWS: dict[str, list[tuple[str, ...]]] = {
    "links": [
        ("https://www.example.com/", "https://www.example.com/shoes/"),
        ("https://www.example.com/", "https://www.example.com/search?q=a,b&page=2"),  # a comma: quoted
        ("https://www.example.com/shoes/", 'https://www.example.com/say-"hi"'),  # a quote: doubled
        ("https://www.example.com/shoes/", "https://www.example.com/é-ü"),
    ],
    "meta": [
        ("https://www.example.com/", "home", "true", "1200"),
        ("https://www.example.com/shoes/", "category", "false", ""),
        ("https://www.example.com/search?q=a,b", "search", "true", "0"),
    ],
}


# --- building test files ---------------------------------------------------------------------------


def csv_lines(rows: Sequence[tuple[str, ...]]) -> list[bytes]:
    """Each row as one CSV line without its terminator, quoted the way Botify's writer would."""
    out = []
    for row in rows:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(row)
        out.append(buf.getvalue()[:-1].encode())
    return out


def export_body(
    header: tuple[str, ...] | None,
    rows: Sequence[tuple[str, ...]],
    *,
    sep: bool = False,
    bom: bool = False,
    eol: bytes = b"\n",
    trailing_blanks: int = 0,
    final_newline: bool = True,
    quote_header: bool = True,
) -> bytes:
    lines = []
    if sep:
        lines.append(b"sep=,")
    if header is not None:
        lines.append(b",".join(f'"{h}"'.encode() for h in header) if quote_header else ",".join(header).encode())
    lines += csv_lines(rows)
    body = eol.join(lines)
    if lines and final_newline:
        body += eol
    body += eol * trailing_blanks
    return (b"\xef\xbb\xbf" if bom else b"") + body


def expected_output(columns: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> bytes:
    return b"\n".join([",".join(columns).encode(), *csv_lines(rows)]) + b"\n"


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def multi_gz(data: bytes, parts: int = 3) -> bytes:
    """Several gzip members, as `cat a.gz b.gz` or a parallel compressor would produce."""
    step = max(1, len(data) // parts)
    pieces = [data[i : i + step] for i in range(0, len(data), step)] or [b""]
    return b"".join(gz(p) for p in pieces)


def zipped(data: bytes, name: str = "export.csv", extra: tuple[str, ...] = ("README.txt",)) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for other in extra:
            zf.writestr(other, "not the data")
        zf.writestr(name, data)
    return buf.getvalue()


PACK: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gz,
    "multi-gzip": multi_gz,
    "zip": zipped,
    "plain": lambda data: data,
}
SNIFFED = {"gzip": "gzip", "multi-gzip": "gzip", "zip": "zip", "plain": "plain"}


def part_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.name.endswith(".part"))


@pytest.fixture(params=["isal", "zlib"])
def inflate(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with ISA-L inflating gzip, then with the standard library's zlib (the fallback)."""
    if request.param == "isal":
        isal_zlib = pytest.importorskip("isal.isal_zlib")
        monkeypatch.setattr(download, "INFLATE", isal_zlib)
    else:
        monkeypatch.setattr(download, "INFLATE", zlib)
    return str(request.param)


# --- sniff -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x1f\x8b\x08\x00", "gzip"),
        (b"PK\x03\x04", "zip"),
        (b"PK\x05\x06", "zip"),  # an empty archive
        (b"url,", "plain"),
        (b"\xef\xbb\xbfsep", "plain"),
        (b"PK", "plain"),
        (b"\x1f", "plain"),
        (b"", "plain"),
    ],
)
def test_sniff(head: bytes, kind: str) -> None:
    assert sniff(head) == kind


# --- the format table ------------------------------------------------------------------------------

TABLE = list(
    itertools.product(
        ("links", "meta"),
        ("gzip", "multi-gzip", "zip", "plain"),
        ("verbose", "slug", "collection_slug", "none"),
        (False, True),  # sep=, line
        (False, True),  # BOM
        (b"\n", b"\r\n"),
    )
)


@pytest.mark.parametrize(
    ("export", "packing", "header_format", "sep", "bom", "eol"),
    TABLE,
    ids=[f"{e}-{p}-{h}-{'sep' if s else 'nosep'}-{'bom' if b else 'nobom'}-{eol!r}" for e, p, h, s, b, eol in TABLE],
)
def test_normalise_file_table(
    tmp_path: Path, export: str, packing: str, header_format: str, sep: bool, bom: bool, eol: bytes
) -> None:
    header, rows, columns = HEADERS[export][header_format], ROWS[export], COLUMNS[export]
    src = tmp_path / "raw.bin"
    src.write_bytes(PACK[packing](export_body(header, rows, sep=sep, bom=bom, eol=eol)))
    dest = tmp_path / "out" / f"{export}.csv"

    result = normalise_file(src, dest, columns)

    assert result == DownloadResult(
        path=dest,
        rows=len(rows),
        bytes_downloaded=src.stat().st_size,
        compression=SNIFFED[packing],
        columns=columns,
        source_header=header,
    )
    assert dest.read_bytes() == expected_output(columns, rows)
    assert src.exists()  # the input is the caller's
    assert part_files(tmp_path) == []


@pytest.mark.parametrize(
    ("body", "rows"),
    [
        (b"url,outlinks_internal.graph.url\nhttps://a/,https://b/", 1),  # no final newline
        (b"url,outlinks_internal.graph.url\nhttps://a/,https://b/\n\n\n", 1),  # blank lines at the end
        (b"url,outlinks_internal.graph.url\r\nhttps://a/,https://b/\r\n\r\n\r\n", 1),
        (b"url,outlinks_internal.graph.url\r\nhttps://a/,https://b/\r", 1),  # a CR as the very last byte
        (b"url,outlinks_internal.graph.url\n\n\nhttps://a/,https://b/\n", 1),  # blank lines after the header
        (b"\n\nurl,outlinks_internal.graph.url\nhttps://a/,https://b/\n", 1),  # and before it
        (b"url,outlinks_internal.graph.url\nhttps://a/,https://b/\n\nhttps://c/,https://d/\n", 2),  # mid-file
        (b"url,outlinks_internal.graph.url\n", 0),  # a header and no row
        (b"url,outlinks_internal.graph.url", 0),
        (b"sep=,\n", 0),
        (b"\xef\xbb\xbfsep=,\r\n", 0),
        (b"", 0),
    ],
)
def test_line_ends_and_blank_lines(body: bytes, rows: int) -> None:
    out = io.BytesIO()
    assert normalise(io.BytesIO(body), out, LINKS_COLUMNS, compression="plain")[0] == rows
    lines = out.getvalue().split(b"\n")
    assert lines[0] == b"source,target"
    assert out.getvalue().endswith(b"\n")
    assert b"\r" not in out.getvalue()
    assert lines[1:-1] == [b"https://a/,https://b/", b"https://c/,https://d/"][:rows]


@pytest.mark.parametrize("sep_line", [b"sep=,", b"SEP=,", b'"sep=,"', b"sep=, "])
def test_sep_line_spellings(sep_line: bytes) -> None:
    out = io.BytesIO()
    body = sep_line + b"\r\nurl,outlinks_internal.graph.url\r\nhttps://a/,https://b/\r\n"
    assert normalise(io.BytesIO(body), out, LINKS_COLUMNS, compression="plain") == (
        1,
        ("url", "outlinks_internal.graph.url"),
    )
    assert out.getvalue() == b"source,target\nhttps://a/,https://b/\n"


def test_other_delimiter_is_refused() -> None:
    with pytest.raises(DownloadError, match="delimiter ';'"):
        normalise(io.BytesIO(b"sep=;\nurl;x\n"), io.BytesIO(), LINKS_COLUMNS, compression="plain")


def test_unquoted_verbose_header() -> None:
    body = export_body(HEADERS["links"]["verbose"], ROWS["links"], quote_header=False)
    out = io.BytesIO()
    assert normalise(io.BytesIO(body), out, LINKS_COLUMNS, compression="plain") == (
        4,
        ("Full URL", "Internal Outlinks URL"),
    )
    assert out.getvalue() == expected_output(LINKS_COLUMNS, ROWS["links"])


def test_meta_with_only_the_id_column() -> None:
    columns = meta_columns(())
    body = b"url\nhttps://a/\nhttps://b/\n"
    out = io.BytesIO()
    assert normalise(io.BytesIO(gz(body)), out, columns, compression="gzip") == (2, ("url",))
    assert out.getvalue() == b"id\nhttps://a/\nhttps://b/\n"


@pytest.mark.usefixtures("inflate")
def test_gzip_zero_padding_after_the_last_member() -> None:
    out = io.BytesIO()
    data = multi_gz(b"url,x\nhttps://a/,https://b/\n") + b"\x00" * 10
    assert normalise(io.BytesIO(data), out, LINKS_COLUMNS, compression="gzip")[0] == 1


def test_zip_entry_name_is_case_insensitive() -> None:
    data = zipped(b"url,x\nhttps://a/,https://b/\n", name="Export/Links.CSV", extra=("Export/",))
    out = io.BytesIO()
    assert normalise(io.BytesIO(data), out, LINKS_COLUMNS, compression="zip")[0] == 1


# --- errors ----------------------------------------------------------------------------------------

GOOD = export_body(HEADERS["links"]["slug"], ROWS["links"] * 50)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (gz(GOOD)[:-10], "truncated gzip"),  # trailer cut off
        (gz(GOOD)[: len(gz(GOOD)) // 2], "truncated gzip"),
        (b"\x1f\x8b", "truncated gzip"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 64, "corrupt gzip"),  # bad deflate data
        (gz(GOOD)[:-8] + b"\x00\x00\x00\x00" + gz(GOOD)[-4:], "corrupt gzip"),  # wrong CRC
        (gz(GOOD) + b"garbage after the member", "corrupt gzip"),
        (zipped(GOOD, name="export.txt"), r"no \.csv file \(entries: README\.txt, export\.txt\)"),
        (b"PK\x05\x06" + b"\x00" * 18, r"no \.csv file \(entries: none\)"),
        (b"PK\x03\x04 this is not really a zip file", "not a readable zip"),
        (zipped(GOOD)[:-30], "not a readable zip"),
    ],
    ids=[
        "gzip-no-trailer",
        "gzip-half",
        "gzip-magic-only",
        "gzip-bad-deflate",
        "gzip-bad-crc",
        "gzip-trailing-garbage",
        "zip-without-csv",
        "zip-empty",
        "zip-not-a-zip",
        "zip-truncated",
    ],
)
@pytest.mark.usefixtures("inflate")
def test_broken_archives(tmp_path: Path, data: bytes, match: str) -> None:
    src, dest = tmp_path / "raw", tmp_path / "links.csv"
    src.write_bytes(data)
    dest.write_bytes(b"previous content\n")
    with pytest.raises(DownloadError, match=match):
        normalise_file(src, dest, LINKS_COLUMNS)
    assert dest.read_bytes() == b"previous content\n"
    assert part_files(tmp_path) == []


@pytest.mark.parametrize(
    ("body", "columns", "match"),
    [
        (b"url,outlinks_internal.graph.url\nhttps://a/,https://b/\n", META_COLUMNS, r"header has 2 column\(s\)"),
        (b'"Full URL","Depth","Internal Outlinks URL"\n', LINKS_COLUMNS, r"'Full URL', 'Depth', 'Internal Outlinks"),
        (b"url,outlinks_internal.graph.url\nhttps://a/,https://b/,3\n", LINKS_COLUMNS, r"first row has 3.*own header"),
        (b"https://a/\nhttps://b/\n", LINKS_COLUMNS, r"first row has 1 column\(s\) \('https://a/'\)"),
        (b"<html><body>Access denied</body></html>\n", LINKS_COLUMNS, "HTML or XML page"),
    ],
)
def test_column_count_mismatch(tmp_path: Path, body: bytes, columns: tuple[str, ...], match: str) -> None:
    src, dest = tmp_path / "raw", tmp_path / "export.csv"
    src.write_bytes(gz(body))
    dest.write_bytes(b"previous content\n")
    with pytest.raises(DownloadError, match=match) as info:
        normalise_file(src, dest, columns)
    assert ", ".join(columns) in str(info.value)  # says what was expected
    assert dest.read_bytes() == b"previous content\n"
    assert part_files(tmp_path) == []


def test_a_file_without_line_breaks_is_not_a_csv() -> None:
    with pytest.raises(DownloadError, match="no line break"):
        normalise(io.BytesIO(b"x" * (download._MAX_HEAD_LINE + 10)), io.BytesIO(), LINKS_COLUMNS, compression="plain")


def test_unknown_compression_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="compression"):
        normalise(io.BytesIO(b""), io.BytesIO(), LINKS_COLUMNS, compression="bz2")


def test_stop_request_while_normalising_leaves_dest_alone(tmp_path: Path) -> None:
    src, dest = tmp_path / "raw", tmp_path / "links.csv"
    src.write_bytes(gz(GOOD))
    dest.write_bytes(b"previous content\n")
    with pytest.raises(DownloadError):
        download._normalise_file(src, dest, LINKS_COLUMNS, 1 << 20, lambda: True)
    assert dest.read_bytes() == b"previous content\n"
    assert part_files(tmp_path) == []


# --- property: any rows, any chunking --------------------------------------------------------------

_URL_CHARS = st.characters(codec="utf-8", exclude_characters="\r\n", exclude_categories=("Cs", "Cc"))
urls = st.builds(
    lambda scheme, host, path: f"{scheme}://{host}/{path}",
    st.sampled_from(["http", "https", "HTTPS"]),
    st.from_regex(r"[a-z0-9-]{1,10}\.(com|fr|co\.uk)", fullmatch=True),
    st.text(st.one_of(st.sampled_from("/-_.?=&%,;\"' "), _URL_CHARS), max_size=25),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.tuples(urls, urls), max_size=30),
    packing=st.sampled_from(sorted(PACK)),
    header_format=st.sampled_from(["slug", "verbose", "none"]),
    sep=st.booleans(),
    bom=st.booleans(),
    eol=st.sampled_from([b"\n", b"\r\n"]),
    ending=st.sampled_from(["newline", "none", "blank lines"]),
    chunk_size=st.integers(1, 64),
)
def test_normalise_round_trips_any_rows_in_any_chunks(
    rows: list[tuple[str, str]],
    packing: str,
    header_format: str,
    sep: bool,
    bom: bool,
    eol: bytes,
    ending: str,
    chunk_size: int,
) -> None:
    header = HEADERS["links"][header_format]
    body = export_body(
        header,
        rows,
        sep=sep,
        bom=bom,
        eol=eol,
        final_newline=ending != "none",
        trailing_blanks=3 if ending == "blank lines" else 0,
    )
    out = io.BytesIO()
    count, source_header = normalise(
        io.BytesIO(PACK[packing](body)), out, LINKS_COLUMNS, compression=SNIFFED[packing], chunk_size=chunk_size
    )
    assert count == len(rows)
    assert source_header == header
    assert out.getvalue() == expected_output(LINKS_COLUMNS, rows)
    assert list(csv.reader(io.StringIO(out.getvalue().decode()))) == [list(LINKS_COLUMNS), *map(list, rows)]


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.sampled_from([b"\n", b"\r", b"\r\n", b"a", b"bc,d"]), max_size=40).map(b"".join),
    cut=st.integers(1, 16),
)
def test_body_scan_does_not_depend_on_chunking_or_on_numpy(data: bytes, cut: int) -> None:
    """The copy loop gives the same bytes and count whole or in pieces, with either line scanner."""
    whole, pieces = io.BytesIO(), io.BytesIO()
    rows_whole = download._body([data], whole.write, download._line_ends_bytes)
    chunks = [data[i : i + cut] for i in range(0, len(data), cut)]
    rows_pieces = download._body(chunks, pieces.write, download._NumpyScanner())
    assert (rows_whole, whole.getvalue()) == (rows_pieces, pieces.getvalue())
    assert rows_whole == whole.getvalue().count(b"\n")
    assert b"\n\n" not in whole.getvalue() and not whole.getvalue().startswith(b"\n")
    assert whole.getvalue() == b"" or whole.getvalue().endswith(b"\n")


# --- downloading -----------------------------------------------------------------------------------


class Body(httpx.AsyncByteStream):
    """A response body that arrives in small pieces and can break or stall on the way."""

    def __init__(self, data: bytes, *, piece: int = 1000, break_at: int | None = None, delay: float = 0.0):
        self.data, self.piece, self.break_at, self.delay = data, piece, break_at, delay

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), self.piece):
            if self.break_at is not None and start >= self.break_at:
                raise httpx.ReadError("connection reset by peer")
            if self.delay:
                await asyncio.sleep(self.delay)
            yield self.data[start : start + self.piece]


def client_for(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


URL = "https://cdn.example.com/exports/links.csv.gz?X-Amz-Signature=secret"
BIG_ROWS = [(f"https://www.example.com/p/{i}", f"https://www.example.com/q/{i * 7919 % 10007}") for i in range(3000)]
PAYLOAD = gz(export_body(HEADERS["links"]["slug"], BIG_ROWS))


def serve(
    data: bytes,
    *,
    status: int = 200,
    length: int | None = -1,
    piece: int = 1000,
    break_at: int | None = None,
    delay: float = 0.0,
) -> httpx.AsyncClient:
    """A client whose every GET answers `data` in pieces; Content-Length is true (-1), a lie (int) or absent."""
    headers = {}
    if length is not None:
        headers["Content-Length"] = str(len(data) if length == -1 else length)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers, stream=Body(data, piece=piece, break_at=break_at, delay=delay))

    return client_for(handler)


async def test_download_export(tmp_path: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    dest = tmp_path / "new" / "dir" / "links.csv"
    async with serve(PAYLOAD) as client:
        result = await download_export(
            client, URL, dest, columns=LINKS_COLUMNS, on_progress=lambda n, t: seen.append((n, t)), chunk_size=4096
        )
    assert result == DownloadResult(dest, len(BIG_ROWS), len(PAYLOAD), "gzip", LINKS_COLUMNS, HEADERS["links"]["slug"])
    assert len(PAYLOAD) > 10_000
    assert dest.read_bytes() == expected_output(LINKS_COLUMNS, BIG_ROWS)
    assert part_files(tmp_path) == []
    counts = [n for n, _ in seen]
    assert len(seen) > 1 and counts == sorted(set(counts)) and counts[-1] == len(PAYLOAD)
    assert all(b - a >= 4096 for a, b in itertools.pairwise([0, *counts[:-1]]))  # one call per chunk_size
    assert {t for _, t in seen} == {len(PAYLOAD)}


async def test_download_without_content_length_reports_none(tmp_path: Path) -> None:
    seen: list[int | None] = []
    async with serve(PAYLOAD, length=None) as client:
        await download_export(
            client, URL, tmp_path / "l.csv", columns=LINKS_COLUMNS, on_progress=lambda n, t: seen.append(t)
        )
    assert seen and set(seen) == {None}


async def test_download_takes_the_format_from_the_bytes_not_the_url(tmp_path: Path) -> None:
    async with serve(zipped(export_body(None, BIG_ROWS))) as client:  # a zip behind a .csv.gz URL
        result = await download_export(client, URL, tmp_path / "l.csv", columns=LINKS_COLUMNS)
    assert (result.compression, result.rows) == ("zip", len(BIG_ROWS))


async def test_download_follows_redirects(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "api.example.com":
            return httpx.Response(302, headers={"Location": URL})
        return httpx.Response(200, content=PAYLOAD)

    async with client_for(handler) as client:
        result = await download_export(client, "https://api.example.com/d/1", tmp_path / "l.csv", columns=LINKS_COLUMNS)
    assert result.rows == len(BIG_ROWS)


@pytest.mark.parametrize("status", [403, 404, 410])
async def test_expired_link(tmp_path: Path, status: int) -> None:
    dest = tmp_path / "links.csv"
    dest.write_bytes(b"previous content\n")
    async with serve(b"<Error><Code>AccessDenied</Code></Error>", status=status) as client:
        with pytest.raises(DownloadExpired, match=f"HTTP {status}.*expired.*[Pp]oll the export job again") as info:
            await download_export(client, URL, dest, columns=LINKS_COLUMNS)
    assert "secret" not in str(info.value)  # a signed link's query string is a credential
    assert dest.read_bytes() == b"previous content\n"
    assert part_files(tmp_path) == []


async def test_server_error_is_not_expiry(tmp_path: Path) -> None:
    async with serve(b"oops", status=503) as client:
        with pytest.raises(DownloadError, match="HTTP 503") as info:
            await download_export(client, URL, tmp_path / "l.csv", columns=LINKS_COLUMNS)
    assert not isinstance(info.value, DownloadExpired)


async def test_short_body_against_content_length(tmp_path: Path) -> None:
    async with serve(PAYLOAD[:-100], length=len(PAYLOAD)) as client:
        with pytest.raises(DownloadError, match=f"truncated: got {len(PAYLOAD) - 100} of {len(PAYLOAD)} bytes"):
            await download_export(client, URL, tmp_path / "l.csv", columns=LINKS_COLUMNS)
    assert part_files(tmp_path) == []


async def test_connection_breaks_mid_body(tmp_path: Path) -> None:
    async with serve(PAYLOAD, piece=500, break_at=2000) as client:
        with pytest.raises(DownloadError, match=f"connection broke after 2000 of {len(PAYLOAD)} bytes"):
            await download_export(client, URL, tmp_path / "l.csv", columns=LINKS_COLUMNS)
    assert part_files(tmp_path) == []


@pytest.mark.parametrize(
    "client_factory",
    [
        lambda: serve(b"", status=403),
        lambda: serve(b"", status=500),
        lambda: serve(PAYLOAD[:-100], length=len(PAYLOAD)),
        lambda: serve(PAYLOAD, piece=500, break_at=1000),
        lambda: serve(PAYLOAD[: len(PAYLOAD) // 2], length=None),  # truncated gzip, no length to notice it by
        lambda: serve(gz(b"a,b,c\nhttps://a/,https://b/,c\n")),  # wrong width
    ],
    ids=["expired", "server-error", "short", "broken", "truncated-gzip", "wrong-width"],
)
async def test_failures_leave_dest_and_no_part_files(
    tmp_path: Path, client_factory: Callable[[], httpx.AsyncClient]
) -> None:
    dest = tmp_path / "links.csv"
    dest.write_bytes(b"previous content\n")
    (tmp_path / "links.csv.part").write_bytes(b"stale part from a crash")
    async with client_factory() as client:
        with pytest.raises(DownloadError):
            await download_export(client, URL, dest, columns=LINKS_COLUMNS)
    assert dest.read_bytes() == b"previous content\n"
    assert part_files(tmp_path) == []


async def test_progress_callback_error_cleans_up(tmp_path: Path) -> None:
    def boom(done: int, total: int | None) -> None:
        raise RuntimeError("callback failed")

    async with serve(PAYLOAD) as client:
        with pytest.raises(RuntimeError, match="callback failed"):
            await download_export(client, URL, tmp_path / "l.csv", columns=LINKS_COLUMNS, on_progress=boom)
    assert part_files(tmp_path) == []


async def test_cancelling_mid_download_cleans_up(tmp_path: Path) -> None:
    dest = tmp_path / "links.csv"
    dest.write_bytes(b"previous content\n")
    started = asyncio.Event()
    async with serve(PAYLOAD, piece=100, delay=0.01) as client:
        task = asyncio.create_task(
            download_export(
                client, URL, dest, columns=LINKS_COLUMNS, on_progress=lambda n, t: started.set(), chunk_size=1000
            )
        )
        await started.wait()
        assert part_files(tmp_path) == [tmp_path / "links.csv.download.part"]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert dest.read_bytes() == b"previous content\n"
    assert part_files(tmp_path) == []


async def test_cancelling_while_normalising_cleans_up(tmp_path: Path) -> None:
    """Cancelled once the body is in, the worker thread stops at its next chunk and removes its part file."""
    dest = tmp_path / "links.csv"
    dest.write_bytes(b"previous content\n")
    part = tmp_path / "links.csv.part"
    big = gz(b"url,x\n" + b"https://www.example.com/a/,https://www.example.com/b/\n" * 400_000)  # 21 MB → 60 KB
    async with serve(big) as client:
        task = asyncio.create_task(download_export(client, URL, dest, columns=LINKS_COLUMNS, chunk_size=4096))
        while not part.exists():
            assert not task.done()
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert dest.read_bytes() == b"previous content\n"
    assert part_files(tmp_path) == []


# --- a real socket that lies about Content-Length ---------------------------------------------------


class _LyingHandler(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/gzip")
        self.send_header("Content-Length", str(len(self.body) * 2))
        self.end_headers()
        self.wfile.write(self.body)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def lying_server() -> Iterator[str]:
    _LyingHandler.body = PAYLOAD
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _LyingHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/links.csv.gz"
    finally:
        server.shutdown()
        server.server_close()


async def test_real_server_closing_early(tmp_path: Path, lying_server: str) -> None:
    dest = tmp_path / "links.csv"
    async with httpx.AsyncClient() as client:
        with pytest.raises(DownloadError, match=f"after {len(PAYLOAD)} of {len(PAYLOAD) * 2} bytes"):
            await download_export(client, lying_server, dest, columns=LINKS_COLUMNS)
    assert not dest.exists()
    assert part_files(tmp_path) == []


@pytest.mark.usefixtures("inflate")
def test_decompressed_chunks_are_bounded() -> None:
    """A highly compressible body never yields more than chunk_size bytes at once (flat memory)."""
    data = gz(b"https://a/,https://b/\n" * 200_000)  # 4.4 MB → a few KB
    sizes = [len(c) for c in download._gunzip(io.BytesIO(data), 65536)]
    assert max(sizes) <= 65536 and sum(sizes) == 4_400_000
    assert zlib.decompress(data, 31) == b"https://a/,https://b/\n" * 200_000


# --- the gzip library: ISA-L when installed, zlib otherwise ----------------------------------------


def test_isal_is_used_when_installed_and_zlib_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    isal_zlib = pytest.importorskip("isal.isal_zlib")
    assert download.INFLATE is isal_zlib and download.GZIP_LIBRARY == "isal"  # a dependency: installed here
    monkeypatch.setitem(sys.modules, "isal", None)  # as on a platform without its wheel
    monkeypatch.delitem(sys.modules, "isal.isal_zlib", raising=False)
    assert download._load_inflate() is zlib


def test_both_inflaters_write_the_same_bytes_and_count_the_same_rows(tmp_path: Path) -> None:
    """A multi-member CRLF export with padding and blank lines, through ISA-L and through zlib."""
    isal_zlib = pytest.importorskip("isal.isal_zlib")
    rows = [(f"https://www.example.com/p/{i}", f"https://www.example.com/q/{i * 7919 % 10007}") for i in range(40_000)]
    body = export_body(HEADERS["links"]["verbose"], rows, sep=True, eol=b"\r\n", trailing_blanks=2)
    body = body.replace(b"\r\nhttps://www.example.com/p/20000,", b"\r\n\r\nhttps://www.example.com/p/20000,")
    src = tmp_path / "raw.gz"
    src.write_bytes(multi_gz(body, parts=5) + b"\x00" * 7)
    outputs = {}
    for name, lib in (("isal", isal_zlib), ("zlib", zlib)):
        chunks = list(download._gunzip(src.open("rb"), 1 << 20, lib))
        assert max(map(len, chunks)) <= 1 << 16
        assert b"".join(chunks) == body
        dest = tmp_path / f"{name}.csv"
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(download, "INFLATE", lib)
            result = normalise_file(src, dest, LINKS_COLUMNS)
        outputs[name] = (result.rows, dest.read_bytes())
    assert outputs["isal"] == outputs["zlib"] == (len(rows), expected_output(LINKS_COLUMNS, rows))


@pytest.mark.parametrize(
    "data",
    [
        b"a\r\nb\r\n",  # CRLF only: the CRs are dropped in one pass
        b"a\r\nb\rc\r\n",  # a CR alone is kept
        b"\r\n\r\n",
        b"\r",
        b"a\rb",
        b"a\r\nb\r",  # a CR at the end is kept (the caller holds it back for the next piece)
        b"no line ends at all",
        b"",
    ],
)
def test_crlf_to_lf_matches_bytes_replace(data: bytes) -> None:
    expected = data.replace(b"\r\n", b"\n")
    assert download._NumpyScanner().crlf_to_lf(data) == expected
    assert download._line_ends_bytes.crlf_to_lf(data) == expected


def test_early_writeback_asks_for_each_8_mib_once_and_survives_a_refusal(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    piece = bytes(range(256)) * 256  # 64 KiB
    with open(tmp_path / "out", "wb") as f:
        out = download._EarlyWriteback(f)
        out.advise = lambda fd, offset, length, advice: calls.append((offset, length))
        for _ in range(300):  # 18.75 MiB
            out.write(piece)
    assert calls == [(0, 8 << 20), (8 << 20, 8 << 20)]
    assert (tmp_path / "out").read_bytes() == piece * 300

    def refuse(*_: int) -> None:
        raise OSError("not on this file system")

    with open(tmp_path / "out2", "wb") as f:
        out = download._EarlyWriteback(f)
        out.advise = refuse
        for _ in range(300):
            out.write(piece)
        assert out.advise is None  # plain writes from then on
    assert (tmp_path / "out2").read_bytes() == piece * 300
