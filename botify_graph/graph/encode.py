"""Read an export's CSV files in blocks into integer arrays over one shared vocabulary of URLs.

How it stays small on a 1,000,000-link export (about 100 MB of CSV):

    links CSV ──pyarrow streaming reader, blocks of `block_size` bytes──▶ dictionary-encoded batches
    meta CSV  ──same──▶ id (dictionary-encoded), pagetype, flags, numbers, and every other column
                        dictionary-encoded, then typed by its distinct values (`column_kind`)
    each batch's distinct URLs ──one dict shared by every file──▶ int32 page ids (the batch is dropped)

Any column of the meta file is read: the known ones by name (`FLAG_COLUMNS`, `NUMBER_COLUMNS`, `pagetype`), the
others by what their distinct values are: all true/false → a flag (int8), all numbers → float64, else
strings as int32 codes into their distinct values (a category). Only the distinct values ever become Python
objects, so a 20-column meta file costs 4 bytes per page per column while it is read, 8 for a number.

The URL strings are held once (the vocabulary, an Arrow string array); everything else is numpy arrays of
4 or 8 bytes per link or page. Several graphs can share one vocabulary (`encode_graphs`), which is what
`compare.compare_graphs` does to set-compare two crawls with integers only. The set helpers below
(`sorted_unique`, `isin_sorted`, `top_ids`) are what `summary`, `compare` and `sample` count with.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import ConfigError

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_COLUMNS",
    "FLAG_COLUMNS",
    "NONE_LABEL",
    "NUMBER_COLUMNS",
    "Category",
    "EncodedGraph",
    "PageAttributes",
    "column_kind",
    "csv_header",
    "encode_graph",
    "encode_graphs",
    "isin_sorted",
    "meta_column_kinds",
    "sorted_unique",
    "to_plain",
    "top_ids",
    "unique_in_place",
]

# The system allocator hands freed blocks back to the OS; Arrow's default (mimalloc) kept ~60 MB more at the
# peak of a 1M-link read. Passed per call, so the process-wide default pool is left alone.
_POOL = pa.system_memory_pool()
DEFAULT_BLOCK_SIZE = 1 << 20  # bytes of CSV per streamed batch: bigger blocks raise the peak, not the speed
FLAG_COLUMNS = ("is_compliant", "canonical_equal", "sitemaps_present")
NUMBER_COLUMNS = ("impressions", "clicks", "depth")
DEFAULT_COLUMNS = ("pagetype", *FLAG_COLUMNS, *NUMBER_COLUMNS)  # the seven default fields' columns
_DICT = pa.dictionary(pa.int32(), pa.string())
_TRUE = pa.array(["true", "1", "yes", "y", "t"])
_FALSE = pa.array(["false", "0", "no", "n", "f"])
NONE_LABEL = "(none)"  # a value of the data (the JSON's page types): the page type of a page that has none


# ---------------------------------------------------------------------------------------------------------
# Reading: CSV blocks → one shared vocabulary of URLs → numpy ids
# ---------------------------------------------------------------------------------------------------------


def csv_header(path: Path, what: str) -> list[str]:
    """The column names of a CSV file (ConfigError naming the file if it is missing or empty)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            line = handle.readline()
    except FileNotFoundError:
        raise ConfigError(f"The {what} file {path} does not exist.") from None
    if not line.strip():
        raise ConfigError(f"The {what} file {path} is empty (no header line); export it again.")
    return [c.strip() for c in next(csv.reader([line]))]


def _batches(path: Path, column_types: dict[str, pa.DataType], block_size: int, what: str) -> Iterator[pa.RecordBatch]:
    """The file's record batches; a malformed file is a ConfigError that names it."""
    try:
        yield from pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=block_size),
            convert_options=pacsv.ConvertOptions(
                column_types=column_types, include_columns=list(column_types), strings_can_be_null=False
            ),
            memory_pool=_POOL,
        )
    except pa.ArrowInvalid as exc:
        raise ConfigError(f"The {what} file {path} cannot be read: {exc}. Export it again.") from None


def _flag_values(arr: pa.Array) -> np.ndarray:
    """'True'/'true'/'1'… → 1, 'False'/'false'/'0'… → 0, anything else (empty) → -1."""
    low = pc.utf8_lower(pc.utf8_trim_whitespace(arr))
    out = np.full(len(arr), -1, dtype=np.int8)
    out[pc.is_in(low, value_set=_TRUE).to_numpy(zero_copy_only=False)] = 1
    out[pc.is_in(low, value_set=_FALSE).to_numpy(zero_copy_only=False)] = 0
    return out


class _Ids:
    """The page ids of one column chunk, known once the vocabulary has unified the chunk (`_Vocabulary.flush`)."""

    __slots__ = ("chunk", "value")

    def __init__(self, chunk: pa.Array) -> None:
        self.chunk: pa.Array | None = chunk
        self.value: np.ndarray | None = None


class _Vocabulary:
    """URLs → int32 page ids, in order of first appearance, shared by every file read through it; in Arrow.

    Each batch column arrives dictionary-encoded (its distinct URLs and int32 indices). The chunks wait until a
    few tens of MB of them are pending (or twice as many bytes as the vocabulary holds), then ONE C++ unification
    (`ChunkedArray.unify_dictionaries`) of [the vocabulary so far, the pending chunks] gives the new vocabulary
    (the old one first, in its order, so ids never change; new URLs after it in order of appearance) and each
    chunk's indices into it: its rows' page ids. No URL ever becomes a Python object, so 10M links over
    millions of pages read at C speed, and the vocabulary costs its Arrow bytes (~1 byte per URL character).
    Rebuilding the vocabulary's hash table at each unification is amortised by waiting for twice as many
    pending bytes as the vocabulary has (measured on 10M links: 20% less CPU than once as many, the same peak).
    """

    def __init__(self, flush_bytes: int = 16 << 20) -> None:
        self._words: pa.Array = pa.array([], type=pa.string())
        self._pending: list[_Ids] = []
        self._pending_bytes = 0
        self._flush_bytes = flush_bytes

    def ids(self, chunk: pa.Array) -> _Ids:
        """The page ids of a dictionary-encoded column chunk (filled in by the next `flush`)."""
        slot = _Ids(chunk)
        self._pending.append(slot)
        self._pending_bytes += chunk.nbytes
        if self._pending_bytes >= max(self._flush_bytes, 2 * self._words.nbytes):
            self.flush()
        return slot

    def flush(self) -> None:
        """Unify the pending chunks with the vocabulary: new URLs get the next ids, every slot its ids."""
        if not self._pending:
            return
        base = pa.DictionaryArray.from_arrays(pa.array([], type=pa.int32()), self._words)
        chunks = pa.chunked_array([base, *(s.chunk for s in self._pending)], type=_DICT)
        unified = chunks.unify_dictionaries(memory_pool=_POOL)
        self._words = unified.chunk(0).dictionary
        for slot, chunk in zip(self._pending, unified.chunks[1:], strict=True):
            slot.value, slot.chunk = chunk.indices.to_numpy(zero_copy_only=False), None
        self._pending, self._pending_bytes = [], 0

    def urls(self) -> pa.Array:
        """The vocabulary as an Arrow string array (index = page id), every pending chunk unified first."""
        self.flush()
        return self._words


def _values(slots: list[_Ids]) -> list[np.ndarray]:
    """The ids of flushed slots (`_Vocabulary.urls()` flushes)."""
    out = []
    for slot in slots:
        assert slot.value is not None, "the vocabulary was not flushed"
        out.append(slot.value)
    return out


def _concat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype=dtype)


def _read_links(path: Path, vocab: _Vocabulary, block_size: int) -> tuple[list[_Ids], list[_Ids]]:
    header = csv_header(path, "links")
    if "source" not in header or "target" not in header:
        raise ConfigError(
            f"{path} is not a links export: its header is {','.join(header)!r}, expected 'source,target'."
        )
    sources: list[_Ids] = []
    targets: list[_Ids] = []
    for batch in _batches(path, {"source": _DICT, "target": _DICT}, block_size, "links"):
        sources.append(vocab.ids(batch.column("source")))
        targets.append(vocab.ids(batch.column("target")))
    return sources, targets


def column_kind(values: pa.Array) -> str:
    """ "flag", "number" or "category": what the distinct values of a column (strings, "" = missing) are."""
    words = pc.utf8_lower(pc.utf8_trim_whitespace(values.cast(pa.string())))
    given = pc.filter(words, pc.not_equal(words, ""))
    if len(given) == 0:
        return "number"  # nothing to go by: an empty column is read as numbers (all unknown)
    if pc.all(pc.is_in(given, value_set=pa.concat_arrays([_TRUE, _FALSE]))).as_py():
        return "flag"
    try:
        pc.cast(given, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return "category"
    return "number"


@dataclass(frozen=True)
class Category:
    """A text column: int32 codes into `labels` per page (-1: no meta row or an empty value)."""

    codes: np.ndarray
    labels: list[str]

    def label(self, page: int) -> str | None:
        code = int(self.codes[page])
        return None if code < 0 else self.labels[code]


@dataclass
class _RawMeta:
    columns: tuple[str, ...]
    ids: list[_Ids] = field(default_factory=list)
    pagetypes: list[pa.Array] = field(default_factory=list)
    flags: dict[str, list[np.ndarray]] = field(default_factory=dict)
    numbers: dict[str, list[np.ndarray]] = field(default_factory=dict)
    others: dict[str, list[pa.Array]] = field(default_factory=dict)  # dictionary-encoded, typed when all read


def _read_meta(path: Path, vocab: _Vocabulary, block_size: int) -> _RawMeta:
    header = csv_header(path, "meta")
    if "id" not in header:
        raise ConfigError(f"{path} is not a meta export: its header {','.join(header)!r} has no 'id' column.")
    if len(set(header)) != len(header):
        twice = sorted({c for c in header if header.count(c) > 1})
        raise ConfigError(f"{path} names the column(s) {', '.join(twice)} twice; export it again.")
    types: dict[str, pa.DataType] = {"id": _DICT}
    if "pagetype" in header:
        types["pagetype"] = _DICT
    types.update({c: pa.string() for c in FLAG_COLUMNS if c in header})
    types.update({c: pa.float64() for c in NUMBER_COLUMNS if c in header})
    others = [c for c in header if c not in types and c]
    types.update(dict.fromkeys(others, _DICT))
    raw = _RawMeta(tuple(c for c in header if c in types and c != "id"))
    raw.flags = {c: [] for c in FLAG_COLUMNS if c in types}
    raw.numbers = {c: [] for c in NUMBER_COLUMNS if c in types}
    raw.others = {c: [] for c in others}
    for batch in _batches(path, types, block_size, "meta"):
        raw.ids.append(vocab.ids(batch.column("id")))
        if "pagetype" in types:
            raw.pagetypes.append(batch.column("pagetype"))  # few distinct values: cheap to keep
        for c in raw.flags:
            raw.flags[c].append(_flag_values(batch.column(c)))
        for c in raw.numbers:
            raw.numbers[c].append(batch.column(c).to_numpy(zero_copy_only=False).astype(np.float64))
        for c in raw.others:
            raw.others[c].append(batch.column(c))
    return raw


def _typed(chunks: list[pa.Array]) -> tuple[str, np.ndarray, list[str]]:
    """(kind, per-row values, labels) of a dictionary-encoded column: flags int8, numbers float64, category codes."""
    if not chunks:
        return "number", np.empty(0), []
    unified = pa.chunked_array(chunks, type=_DICT).unify_dictionaries()
    words = unified.chunk(0).dictionary
    missing = len(words)  # a null (there should be none) reads as an empty value
    index = _concat([pc.fill_null(c.indices, missing).to_numpy(zero_copy_only=False) for c in unified.chunks], np.int64)
    kind = column_kind(words)
    text = pa.concat_arrays([words, pa.array([""])])
    if kind == "flag":
        return kind, _flag_values(text)[index], []
    if kind == "number":
        empty = pc.equal(pc.utf8_trim_whitespace(text), "")
        numbers = pc.cast(pc.if_else(empty, None, pc.utf8_trim_whitespace(text)), pa.float64())
        return kind, numbers.to_numpy(zero_copy_only=False).astype(np.float64)[index], []
    labels = [str(w) for w in text.to_pylist()]
    code = np.arange(len(labels), dtype=np.int32)
    code[[i for i, w in enumerate(labels) if w == ""]] = -1
    return kind, code[index], labels


@dataclass(eq=False)
class PageAttributes:
    """The meta file as per-page arrays aligned with the vocabulary (index = page id)."""

    columns: tuple[str, ...]  # every column the file had besides id, in file order
    rows: int  # rows in the meta file
    present: np.ndarray  # bool: the page has a meta row
    pagetype: np.ndarray | None  # int32 code into `pagetypes`, -1 = no meta row
    pagetypes: list[str]
    flags: dict[str, np.ndarray]  # int8: 1 true, 0 false, -1 unknown
    numbers: dict[str, np.ndarray]  # float64, NaN unknown
    categories: dict[str, Category] = field(default_factory=dict)  # any other text column

    def pagetype_of(self, page: int) -> str | None:
        """The page type label of one page (None without a meta row or without the column)."""
        if self.pagetype is None or self.pagetype[page] < 0:
            return None
        return self.pagetypes[int(self.pagetype[page])] or NONE_LABEL

    def kind(self, column: str) -> str | None:
        """ "pagetype", "flag", "number", "category", or None for a column the file does not have."""
        if column == "pagetype" and self.pagetype is not None:
            return "pagetype"
        if column in self.flags:
            return "flag"
        if column in self.numbers:
            return "number"
        if column in self.categories:
            return "category"
        return None

    def value(self, column: str, page: int) -> Any:
        """One page's value of a column as plain Python (None when unknown)."""
        kind = self.kind(column)
        if kind == "pagetype":
            return self.pagetype_of(page)
        if kind == "flag":
            flag = int(self.flags[column][page])
            return None if flag < 0 else bool(flag)
        if kind == "number":
            v = float(self.numbers[column][page])
            return None if math.isnan(v) else int(v) if v.is_integer() else v
        if kind == "category":
            return self.categories[column].label(page)
        return None


def _meta_arrays(raw: _RawMeta, n: int) -> PageAttributes:
    """Spread the meta rows over page ids; a duplicated id keeps its last row."""
    ids = _concat(_values(raw.ids), np.int32)
    present = np.zeros(n, dtype=bool)
    present[ids] = True
    pagetype, labels = None, []
    if "pagetype" in raw.columns:
        pagetype = np.full(n, -1, dtype=np.int32)
        if raw.pagetypes:
            unified = pa.chunked_array(raw.pagetypes, type=_DICT).unify_dictionaries()
            labels = [str(v) for v in unified.chunk(0).dictionary.to_pylist()]
            pagetype[ids] = _concat([c.indices.to_numpy(zero_copy_only=False) for c in unified.chunks], np.int32)
    flags: dict[str, np.ndarray] = {}
    for c, parts in raw.flags.items():
        flags[c] = np.full(n, -1, dtype=np.int8)
        flags[c][ids] = _concat(parts, np.int8)
    numbers: dict[str, np.ndarray] = {}
    for c, parts in raw.numbers.items():
        numbers[c] = np.full(n, np.nan)
        numbers[c][ids] = _concat(parts, np.float64)
    categories: dict[str, Category] = {}
    for c in list(raw.others):
        kind, values, words = _typed(raw.others.pop(c))  # each column's batches are dropped once typed
        if kind == "flag":
            flags[c] = np.full(n, -1, dtype=np.int8)
            flags[c][ids] = values
        elif kind == "number":
            numbers[c] = np.full(n, np.nan)
            numbers[c][ids] = values
        else:
            codes = np.full(n, -1, dtype=np.int32)
            codes[ids] = values
            categories[c] = Category(codes, words)
    return PageAttributes(raw.columns, len(ids), present, pagetype, labels, flags, numbers, categories)


def meta_column_kinds(path: str | Path, *, block_size: int = DEFAULT_BLOCK_SIZE) -> dict[str, str]:
    """Column → "pagetype", "flag", "number" or "category" of a meta file, judged on its first block (cheap:
    what a picker of colour and size columns needs; `encode_graph` types columns on the whole file)."""
    path = Path(path)
    header = csv_header(path, "meta")
    columns = [c for c in header if c and c != "id"]
    if not columns:
        return {}
    first = next(_batches(path, dict.fromkeys(columns, pa.string()), block_size, "meta"), None)
    out: dict[str, str] = {}
    for c in columns:
        if c == "pagetype":
            out[c] = "pagetype"
        elif c in FLAG_COLUMNS:
            out[c] = "flag"
        elif c in NUMBER_COLUMNS:
            out[c] = "number"
        else:
            out[c] = column_kind(pc.unique(first.column(c))) if first is not None else "number"
    return out


@dataclass(eq=False)
class EncodedGraph:
    """A links file (and its meta file) as integer arrays over a URL vocabulary shared with other graphs."""

    urls: pa.Array  # the vocabulary: page id → URL
    src: np.ndarray  # int32 page id of each link row's source, in file order
    tgt: np.ndarray  # int32 page id of each link row's target
    meta: PageAttributes | None
    links_path: Path
    meta_path: Path | None

    @property
    def size(self) -> int:
        """The vocabulary size (page ids run from 0 to size - 1; shared graphs count each other's pages)."""
        return len(self.urls)

    def url(self, page: int) -> str:
        """The URL of one page id."""
        return str(self.urls[int(page)].as_py())

    def url_list(self, pages: np.ndarray) -> list[str]:
        """The URLs of some page ids, in order."""
        return [str(u) for u in self.urls.take(pa.array(np.asarray(pages, dtype=np.int64))).to_pylist()]

    def links(self, drop_self_loops: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(source ids, target ids) of the link rows, without self-loops unless asked."""
        if not drop_self_loops:
            return self.src, self.tgt
        keep = self.src != self.tgt
        return self.src[keep], self.tgt[keep]

    def degrees(self, drop_self_loops: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(inbound, outbound) link counts per page id (self-loops counted back out: no copy of the links)."""
        n = self.size
        inbound = np.bincount(self.tgt, minlength=n)
        outbound = np.bincount(self.src, minlength=n)
        if drop_self_loops:
            loop = self.src == self.tgt
            if loop.any():
                looped = np.bincount(self.src[loop], minlength=n)
                inbound -= looped
                outbound -= looped
        return inbound, outbound

    def link_keys(self, drop_self_loops: bool = True) -> np.ndarray:
        """One int64 per link row, source id * size + target id, in file order (8 bytes per link, and no copy of
        the links: self-loops are dropped from the keys themselves)."""
        keys = self.src.astype(np.int64)
        keys *= max(self.size, 1)
        keys += self.tgt
        if drop_self_loops:
            keys = keys[self.src != self.tgt]
        return keys

    def link_set(self, drop_self_loops: bool = True) -> np.ndarray:
        """The sorted distinct link keys (source id * size + target id): one int64 array, built and deduplicated
        in place (8 bytes per link row at the peak, whatever the number of links)."""
        keys = self.link_keys(drop_self_loops=False)
        if drop_self_loops:
            keys[self.src == self.tgt] = -1  # sorted first, then left out
        distinct = unique_in_place(keys)
        start = int(np.searchsorted(distinct, 0)) if drop_self_loops else 0
        return distinct[start:]

    def pages_mask(self) -> np.ndarray:
        """True for the page ids this graph names (in its links or its meta file)."""
        mask = np.zeros(self.size, dtype=bool)
        mask[self.src] = True
        mask[self.tgt] = True
        if self.meta is not None:
            mask |= self.meta.present
        return mask


def encode_graphs(
    files: Sequence[tuple[str | Path, str | Path | None]], *, block_size: int = DEFAULT_BLOCK_SIZE
) -> list[EncodedGraph]:
    """Read (links, meta) file pairs in blocks and encode every URL into one shared vocabulary."""
    vocab = _Vocabulary()
    read: list[tuple[np.ndarray, np.ndarray, _RawMeta | None]] = []
    for links, meta in files:
        sources, targets = _read_links(Path(links), vocab, block_size)
        vocab.flush()  # this file's ids are final (later files only add URLs): one array per column right away
        src = _concat(_values(sources), np.int32)
        sources.clear()  # each column's blocks are dropped as soon as they are one array: a lower peak
        tgt = _concat(_values(targets), np.int32)
        targets.clear()
        read.append((src, tgt, None if meta is None else _read_meta(Path(meta), vocab, block_size)))
    urls = vocab.urls()
    del vocab
    n = len(urls)
    graphs = []
    for (links, meta), (src, tgt, raw_meta) in zip(files, read, strict=True):
        attributes = None if raw_meta is None else _meta_arrays(raw_meta, n)
        graphs.append(EncodedGraph(urls, src, tgt, attributes, Path(links), None if meta is None else Path(meta)))
    return graphs


def encode_graph(
    links_path: str | Path, meta_path: str | Path | None = None, *, block_size: int = DEFAULT_BLOCK_SIZE
) -> EncodedGraph:
    """Read one links file (and its meta file) in blocks into an EncodedGraph."""
    return encode_graphs([(links_path, meta_path)], block_size=block_size)[0]


def unique_in_place(keys: np.ndarray, step: int = 1 << 20) -> np.ndarray:
    """The distinct values of an int64 array, sorted: `keys` is sorted and compacted in place, a million values
    at a time, and a view of its head is returned (no second array of the values)."""
    keys.sort()
    if len(keys) == 0:
        return keys
    write = 1
    for start in range(1, len(keys), step):
        chunk = keys[start : start + step]
        new = chunk[chunk != keys[start - 1 : start - 1 + len(chunk)]]
        keys[write : write + len(new)] = new
        write += len(new)
    return keys[:write]


def sorted_unique(keys: np.ndarray) -> np.ndarray:
    """The distinct values of an int64 array, sorted (sorts `keys` in place: no hash table, little memory)."""
    keys.sort()
    if len(keys) == 0:
        return keys
    keep = np.empty(len(keys), dtype=bool)
    keep[0] = True
    np.not_equal(keys[1:], keys[:-1], out=keep[1:])
    return keys[keep]


def isin_sorted(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """`np.isin(values, sorted_set)` for a sorted, distinct `sorted_set`, by binary search."""
    if len(sorted_set) == 0:
        return np.zeros(len(values), dtype=bool)
    pos = np.searchsorted(sorted_set, values)
    np.minimum(pos, len(sorted_set) - 1, out=pos)
    return sorted_set[pos] == values


def top_ids(score: np.ndarray, urls: pa.Array, k: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Ids of the k highest scores (ties by URL, ascending), among `mask` if given. Scores must not be NaN."""
    ids = np.flatnonzero(mask) if mask is not None else np.arange(len(score))
    if k <= 0 or len(ids) == 0:
        return np.empty(0, dtype=np.int64)
    values = score[ids]
    if len(ids) > k:
        kth = np.partition(values, len(values) - k)[len(values) - k]
        ids, values = ids[values >= kth], values[values >= kth]
    table = pa.table({"score": values, "url": urls.take(pa.array(ids))})
    order = pc.select_k_unstable(table, k, sort_keys=[("score", "descending"), ("url", "ascending")])
    return ids[order.to_numpy()]


def to_plain(obj: Any) -> Any:
    """A dataclass dict made JSON-ready: numpy numbers → int/float, NaN → None, paths → str."""
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return None if math.isnan(obj) else float(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj
