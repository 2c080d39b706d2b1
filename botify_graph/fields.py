"""The page attributes a meta export can carry: field keys, the column-naming rule, the field catalogue and the
Search Console period. Pure: nothing here touches the network (`api.fetch_field_catalog` reads the field lists,
this module parses them).

Field keys are what `--fields`, the notebook's `meta_fields`, the wizard and the export registry hold:

    the seven defaults by their short names   pagetype, is_compliant, canonical_equal, sitemaps_present, depth,
                                              impressions, clicks
    any crawl field as Botify names it         http_code, metadata.title.content, internal_page_rank.value
    any Search Console field                   search_console.avg_position, search_console.ctr

Also accepted as typed, and turned into the key: the fully prefixed ids (`crawl.20241108.http_code`,
`search_console.period_0.ctr`), a default field's Botify name (`segments.pagetype.value` → `pagetype`,
`search_console.count_clicks` → `clicks`) and, once the catalogue is known, a field's column name (`title`).

**The column-naming rule** (`column_name`, `column_names`): a field's column in the meta CSV is

1. its short name for the seven defaults (`pagetype`, …, `clicks`): the columns of earlier versions;
2. otherwise its name inside its collection (no `crawl.<analysis>.`, no `search_console.period_N.`) with a last
   segment `value`, `content` or `contents` and a first segment `metadata` dropped, `count_` dropped from the
   start of a Search Console name and `gsc_` put in front of it, lower-cased, every run of characters other than
   a-z and 0-9 turned into one `_`: `metadata.title.content` → `title`, `internal_page_rank.value` →
   `internal_page_rank`, `internal_page_rank.position` → `internal_page_rank_position`, `http_code` →
   `http_code`, `search_console.avg_position` → `gsc_avg_position`, `inlinks_internal.nb.unique` →
   `inlinks_internal_nb_unique`;
3. a name that would start with a digit gets `f_` in front; a name that is `id`, `source`, `target`, a default's
   short name, or the column of a field earlier in the export gets `_2` (then `_3`, …) after it.

Columns follow the order of the keys, which is canonical (`sort_keys`): crawl fields before Search Console
fields (the export lists dimensions, then metrics), the defaults first in their historical order, then the
others alphabetically; so the same set of fields gives the same columns from every front end.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from .errors import ConfigError

__all__ = [
    "GSC_COLLECTION",
    "META_BY_NAME",
    "META_FIELDS",
    "RESERVED_COLUMNS",
    "CatalogField",
    "FieldCatalog",
    "GscPeriod",
    "MetaField",
    "column_name",
    "column_names",
    "field_key",
    "field_keys",
    "has_gsc",
    "parse_field_list",
    "parse_gsc_period",
    "resolve_gsc_period",
    "sort_keys",
    "source_of",
    "split_key",
]

GSC_COLLECTION = "search_console"


@dataclass(frozen=True)
class MetaField:
    """One of the seven default page attributes, under its short column name."""

    name: str  # short column name in the normalised CSV (and the field's key)
    source: str  # "crawl" (a dimension of crawl.<slug>) or "gsc" (a search_console metric)
    slug: str  # the BQL field without its collection prefix
    label: str  # what a person reads in the wizard


META_FIELDS: tuple[MetaField, ...] = (
    MetaField("pagetype", "crawl", "segments.pagetype.value", "Page type (segmentation)"),
    MetaField("is_compliant", "crawl", "compliant.is_compliant", "Compliant (indexable)"),
    MetaField("canonical_equal", "crawl", "canonical.to.equal", "Canonical points to itself"),
    MetaField("sitemaps_present", "crawl", "sitemaps.present", "Present in a sitemap"),
    MetaField("depth", "crawl", "depth", "Click depth (lets two crawls be compared page by page)"),
    MetaField("impressions", "gsc", "count_impressions", "Search Console impressions"),
    MetaField("clicks", "gsc", "count_clicks", "Search Console clicks"),
)
META_BY_NAME = {f.name: f for f in META_FIELDS}
_DEFAULT_BY_SLUG = {(f.source, f.slug): f.name for f in META_FIELDS}
_DEFAULT_RANK = {f.name: i for i, f in enumerate(META_FIELDS)}
RESERVED_COLUMNS = ("id", "source", "target")

_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9_-]*"
_KEY = re.compile(rf"^{_SEGMENT}(\.{_SEGMENT})*$")
_CRAWL_ID = re.compile(r"^crawl\.[0-9A-Za-z_-]+\.(.+)$")
_GSC_ID = re.compile(rf"^{GSC_COLLECTION}\.(?:period_\d+\.)?(.+)$")


# ---------------------------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------------------------


def field_key(text: str) -> str:
    """The key of a field as typed (see the module docstring); ConfigError for text no field can be named."""
    t = str(text).strip()
    if t in META_BY_NAME:
        return t
    if not _KEY.match(t):
        raise ConfigError(
            f"{t!r} is not a field name: use a short name ({', '.join(META_BY_NAME)}) or a field as Botify "
            "names it, such as http_code or metadata.title.content (botify-graph fields lists them)."
        )
    source, slug = "crawl", t
    if m := _GSC_ID.match(t):
        source, slug = "gsc", m.group(1)
    elif m := _CRAWL_ID.match(t):
        slug = m.group(1)
    default = _DEFAULT_BY_SLUG.get((source, slug))
    if default is not None:
        return default
    return f"{GSC_COLLECTION}.{slug}" if source == "gsc" else slug


def split_key(key: str) -> tuple[str, str]:
    """(source, slug) of a key: source "crawl" or "gsc", slug the field's name inside its collection."""
    default = META_BY_NAME.get(key)
    if default is not None:
        return default.source, default.slug
    if key.startswith(GSC_COLLECTION + "."):
        return "gsc", key[len(GSC_COLLECTION) + 1 :]
    return "crawl", key


def source_of(key: str) -> str:
    """ "crawl" or "gsc"."""
    return split_key(key)[0]


def has_gsc(keys: Iterable[str]) -> bool:
    """Whether any of these fields comes from Search Console (the export then needs a period)."""
    return any(source_of(k) == "gsc" for k in keys)


def sort_keys(keys: Iterable[str]) -> tuple[str, ...]:
    """Keys in canonical order: crawl before Search Console, the defaults first (historical order), then A-Z."""

    def rank(key: str) -> tuple[int, int, str]:
        return (source_of(key) == "gsc", _DEFAULT_RANK.get(key, len(_DEFAULT_RANK)), key)

    return tuple(sorted(dict.fromkeys(keys), key=rank))


def field_keys(fields: Sequence[str] | str | None) -> tuple[str, ...] | None:
    """Fields as typed (a list, or one comma-separated text) → canonical keys; None and "" stay None (defaults)."""
    if fields is None:
        return None
    items = fields.split(",") if isinstance(fields, str) else [str(p) for p in fields]
    return sort_keys(field_key(p) for p in items if p.strip())


# ---------------------------------------------------------------------------------------------------------
# Columns
# ---------------------------------------------------------------------------------------------------------


def column_name(key: str) -> str:
    """The column a field becomes when nothing else in the export takes it (rules 1 and 2 of the docstring)."""
    if key in META_BY_NAME:
        return key
    source, slug = split_key(key)
    parts = slug.lower().split(".")
    if len(parts) > 1 and parts[-1] in ("value", "content", "contents"):
        parts = parts[:-1]
    if len(parts) > 1 and parts[0] == "metadata":
        parts = parts[1:]
    if source == "gsc":
        if parts[0].startswith("count_") and len(parts[0]) > len("count_"):
            parts[0] = parts[0][len("count_") :]
        parts = ["gsc", *parts]
    name = re.sub(r"[^a-z0-9]+", "_", "_".join(parts)).strip("_") or "field"
    return "f_" + name if name[0].isdigit() else name


def column_names(keys: Sequence[str]) -> tuple[str, ...]:
    """The columns of these fields, in their order, every one unique (rule 3 of the docstring)."""
    taken = set(RESERVED_COLUMNS) | set(META_BY_NAME)
    used: set[str] = set()
    out = []
    for key in keys:
        name = column_name(key)
        if key not in META_BY_NAME and (name in taken or name in used):
            n = 2
            while f"{name}_{n}" in taken or f"{name}_{n}" in used:
                n += 1
            name = f"{name}_{n}"
        used.add(name)
        out.append(name)
    return tuple(out)


# ---------------------------------------------------------------------------------------------------------
# The catalogue: every field of the project's collections, grouped as Botify groups them
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogField:
    """One field of a collection's field list, with what botify-graph can do with it."""

    key: str  # what --fields takes (for other collections: <collection>.<name>)
    collection: str  # the collection id as listed (crawl.20241108, search_console, ...)
    source: str  # "crawl", "gsc" or "other"
    slug: str  # the field's name inside its collection
    name: str  # Botify's display name (the verbose header)
    group: str  # Botify's group of the field (its dataset's name when the field has none)
    type: str  # string, integer, float, boolean, datetime, ... ("" when not given)
    kind: str  # dimension or metric ("" when not given)
    multiple: bool
    deprecated: bool
    exportable: bool
    why_not: str  # "" when exportable: otherwise why the meta export cannot carry it
    column: str  # the column it becomes in the meta CSV
    default: bool = False  # one of the seven defaults

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _why_not(source: str, slug: str, kind: str, multiple: bool, collection: str) -> str:
    """Why the meta export (one row per page, joined on the URL) cannot carry this field; "" if it can."""
    if source == "other":
        return f"in the collection {collection}, which the meta export does not join to the crawl's pages"
    if slug == "url":
        return "the page URL: it is the meta file's id column already"
    if multiple:
        return "multiple-valued: one page would need several rows"
    if source == "crawl" and kind == "metric":
        return "an aggregate over pages (a metric), not an attribute of one page"
    if source == "gsc" and kind not in ("metric", ""):
        return "a Search Console dimension, not a number per page"
    return ""


def parse_field_list(body: Any, collection: str, *, analysis: str, timestamped: bool = False) -> list[CatalogField]:
    """The fields of one collection's field list (`GET /projects/{u}/{p}/collections/{collection}`).

    The body is `{"datasets": [{"name", "groups", "fields": [{"id", "name", "type", "kind", "multiple", "group",
    "deprecated", ...}]}]}`. Whether a field's `id` carries its collection prefix is not documented, so both
    `crawl.20241108.depth` and `depth` are read as `depth`. Entries without a string `id` are skipped; a body
    of another shape gives an empty list.
    """
    datasets = body.get("datasets") if isinstance(body, dict) else None
    if not isinstance(datasets, list):
        return []
    crawl = collection == f"crawl.{analysis}"
    gsc = collection == GSC_COLLECTION or (timestamped and collection.split(".", 1)[0] == GSC_COLLECTION)
    source = "crawl" if crawl else "gsc" if gsc else "other"
    out: dict[str, CatalogField] = {}
    for ds in datasets:
        if not isinstance(ds, dict):
            continue
        ds_group = _text(ds.get("name")) or next((g for g in ds.get("groups") or [] if isinstance(g, str)), "")
        listed = ds.get("fields")
        for f in listed if isinstance(listed, list) else []:
            if not isinstance(f, dict) or not _text(f.get("id")):
                continue
            slug = _text(f["id"])
            if slug.startswith(collection + "."):
                slug = slug[len(collection) + 1 :]
            if timestamped:
                slug = re.sub(r"^period_\d+\.", "", slug)
            if not _KEY.match(slug):
                continue
            kind = _text(f.get("kind")).lower()
            multiple = f.get("multiple") is True
            if source == "crawl":
                if _GSC_ID.match(slug):
                    continue  # named like a Search Console field: its key would say the other collection
                key = field_key(slug)
            elif source == "gsc":
                key = field_key(f"{GSC_COLLECTION}.{slug}")
            else:
                key = f"{collection}.{slug}"
            why = _why_not(source, slug, kind, multiple, collection)
            out.setdefault(
                key,
                CatalogField(
                    key=key,
                    collection=collection,
                    source=source,
                    slug=slug,
                    name=_text(f.get("name")) or slug,
                    group=_text(f.get("group")) or ds_group or "main",
                    type=_text(f.get("type")),
                    kind=kind,
                    multiple=multiple,
                    deprecated=f.get("deprecated") is True,
                    exportable=not why,
                    why_not=why,
                    column=column_name(key) if source != "other" else "",
                    default=key in META_BY_NAME,
                ),
            )
    return list(out.values())


def default_entry(name: str, collection: str) -> CatalogField:
    """A catalogue entry for a default field that is available but missing from the field lists (the
    segmentation is global, for one)."""
    f = META_BY_NAME[name]
    return CatalogField(
        key=name,
        collection=collection,
        source=f.source,
        slug=f.slug,
        name=f.label,
        group="main",
        type="",
        kind="metric" if f.source == "gsc" else "dimension",
        multiple=False,
        deprecated=False,
        exportable=True,
        why_not="",
        column=name,
        default=True,
    )


@dataclass(frozen=True)
class FieldCatalog:
    """Every field of a project's collections for one analysis, and the Search Console date range."""

    analysis: str
    fields: tuple[CatalogField, ...] = ()
    read: tuple[str, ...] = ()  # collections whose field list was read
    unread: tuple[str, ...] = ()  # collections listed whose field list could not be read
    gsc_start: str | None = None  # the search_console collection's date range (None: no Search Console)
    gsc_end: str | None = None
    has_gsc: bool = False
    listed: tuple[str, ...] = ()  # every collection the project lists (their field lists read or not)
    _by_key: dict[str, CatalogField] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_key.update((f.key, f) for f in self.fields)

    def get(self, key: str) -> CatalogField | None:
        """The entry of a key, if the field lists have it."""
        return self._by_key.get(key)

    @property
    def exportable(self) -> tuple[CatalogField, ...]:
        return tuple(f for f in self.fields if f.exportable)

    def groups(self, *, exportable_only: bool = False) -> list[tuple[str, list[CatalogField]]]:
        """(group label, fields) in catalogue order: `crawl · metadata`, `search_console · main`, …"""
        out: dict[str, list[CatalogField]] = {}
        for f in self.fields:
            if exportable_only and not f.exportable:
                continue
            label = f"{'crawl' if f.source == 'crawl' else f.collection} · {f.group}"
            out.setdefault(label, []).append(f)
        return list(out.items())

    def lookup(self, typed: str) -> CatalogField | None:
        """The entry a person means by `typed`: a key or id in any accepted form, else a column name."""
        try:
            key = field_key(typed)
        except ConfigError:
            key = typed.strip()
        found = self._by_key.get(key) or self._by_key.get(typed.strip())
        if found is not None:
            return found
        by_column = [f for f in self.fields if f.exportable and f.column == typed.strip()]
        return by_column[0] if len(by_column) == 1 else None

    def suggest(self, typed: str, n: int = 3) -> list[str]:
        """Keys of exportable fields whose key, name or column looks like `typed`."""
        words: dict[str, str] = {}
        for f in self.exportable:
            for w in (f.key, f.column, f.name.lower()):
                words.setdefault(w, f.key)
        close = difflib.get_close_matches(typed.strip().lower(), list(words), n=n * 2, cutoff=0.6)
        return list(dict.fromkeys(words[c] for c in close))[:n]

    def resolve(self, typed: Iterable[str]) -> tuple[str, ...]:
        """Keys (canonical order) of the fields a person asked for; ConfigError naming every field the meta
        export cannot carry (unknown, multiple-valued, not exportable), with what to do."""
        keys: list[str] = []
        problems: list[str] = []
        for t in typed:
            entry = self.lookup(t)
            other = next((c for c in self.listed if _elsewhere(c, self.analysis) and t.startswith(c + ".")), None)
            if entry is None and other is not None:
                problems.append(f"{t!r} cannot be exported: {_why_not('other', '', '', False, other)}")
            elif entry is None:
                hint = self.suggest(t)
                problems.append(
                    f"{t!r} is not a field of this project's analysis {self.analysis}"
                    + (f" (did you mean {', '.join(hint)}?)" if hint else "")
                )
            elif not entry.exportable:
                problems.append(f"{t!r} cannot be exported: {entry.why_not}")
            else:
                keys.append(entry.key)
        if problems:
            raise ConfigError(
                "; ".join(problems)
                + ". Leave it out, or pick another field: `botify-graph fields --project-url URL` lists them."
            )
        return sort_keys(keys)


def _elsewhere(collection: str, analysis: str) -> bool:
    """A collection the meta export does not join: neither this analysis' crawl nor Search Console."""
    return collection not in (f"crawl.{analysis}", GSC_COLLECTION) and not collection.startswith("crawl.")


def catalog_from_json(data: Mapping[str, Any]) -> FieldCatalog:
    """A catalogue back from `catalog_to_json` (what the wizard keeps while its card is open)."""
    fields = tuple(CatalogField(**{k: f[k] for k in CatalogField.__dataclass_fields__}) for f in data.get("fields", []))
    return FieldCatalog(
        analysis=str(data.get("analysis", "")),
        fields=fields,
        read=tuple(data.get("read", ())),
        unread=tuple(data.get("unread", ())),
        gsc_start=data.get("gsc_start"),
        gsc_end=data.get("gsc_end"),
        has_gsc=bool(data.get("has_gsc")),
        listed=tuple(data.get("listed", ())),
    )


def catalog_to_json(catalog: FieldCatalog) -> dict[str, Any]:
    """A JSON-ready dict of a catalogue (`botify-graph fields --json`)."""
    return {
        "analysis": catalog.analysis,
        "read": list(catalog.read),
        "unread": list(catalog.unread),
        "has_gsc": catalog.has_gsc,
        "listed": list(catalog.listed),
        "gsc_start": catalog.gsc_start,
        "gsc_end": catalog.gsc_end,
        "fields": [f.to_json() for f in catalog.fields],
    }


# ---------------------------------------------------------------------------------------------------------
# The Search Console period
# ---------------------------------------------------------------------------------------------------------

_MAX_DAYS = 3660


def parse_gsc_period(value: Any, default_days: int) -> str | None:
    """A Search Console period as typed → its normal form: None (the default: `default_days` days ending at the
    crawl), "N" (N days ending at the crawl) or "YYYY-MM-DD:YYYY-MM-DD" (both days included); ConfigError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ConfigError(f"The Search Console period must be a number of days or START:END, got {value!r}.")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if re.fullmatch(r"\d+", text):
        days = int(text)
        if not 1 <= days <= _MAX_DAYS:
            raise ConfigError(f"The Search Console period must be 1 to {_MAX_DAYS} days, got {days}.")
        return None if days == default_days else str(days)
    start, sep, end = text.partition(":")
    try:
        if not sep or len(start.strip()) != 10 or len(end.strip()) != 10:
            raise ValueError
        first, last = date.fromisoformat(start.strip()), date.fromisoformat(end.strip())
    except ValueError:
        raise ConfigError(
            f"The Search Console period {text!r} is neither a number of days (e.g. 90: the 90 days ending at the "
            "crawl) nor START:END dates (e.g. 2024-10-01:2024-10-31)."
        ) from None
    if first > last:
        raise ConfigError(f"The Search Console period {text!r} ends before it starts.")
    return f"{first.isoformat()}:{last.isoformat()}"


@dataclass(frozen=True)
class GscPeriod:
    """The Search Console dates an export asks for, and whether they had to be moved into the collection's."""

    start: str
    end: str
    asked: str  # what was asked, in words
    note: str = ""  # why the dates differ from what was asked ("" when they do not)

    @property
    def dates(self) -> list[str]:
        return [self.start, self.end]

    @property
    def clipped(self) -> bool:
        return bool(self.note)

    def describe(self) -> str:
        """`2024-10-10 to 2024-11-08 (30 days)`."""
        days = (date.fromisoformat(self.end) - date.fromisoformat(self.start)).days + 1
        return f"{self.start} to {self.end} ({days} day{'s' if days != 1 else ''})"


def _day(value: str | None) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def resolve_gsc_period(
    spec: str | None, crawl_day: date | None, date_start: str | None, date_end: str | None, *, default_days: int
) -> GscPeriod:
    """The dates of a period spec (see `parse_gsc_period`) for a crawl, within the collection's date range.

    N days end at the crawl date, or at the collection's last day when Search Console has nothing that recent
    yet; their start is clipped to the collection's first day. START:END is clipped to the collection's
    range. A note says what moved; a period with no day in the range is a ConfigError.
    """
    lo, hi = _day(date_start), _day(date_end)
    today = crawl_day or date.today()
    if spec is None or spec.isdigit():
        days = default_days if spec is None else int(spec)
        asked = f"{days} days ending at the crawl ({today.isoformat()})"
        end = min(today, hi) if hi else today
        start = end - timedelta(days=days - 1)
        if lo and start < lo:
            start = lo
        if start > end:
            start = end
        moved = end != today or (end - start).days + 1 < days
        return GscPeriod(start.isoformat(), end.isoformat(), asked, _clip_note(lo, hi, start, end) if moved else "")
    first, last = (date.fromisoformat(d) for d in spec.split(":"))
    asked = f"{first.isoformat()} to {last.isoformat()}"
    start, end = max(first, lo) if lo else first, min(last, hi) if hi else last
    if start > end:
        held = f"{lo.isoformat() if lo else '?'} to {hi.isoformat() if hi else '?'}"
        raise ConfigError(
            f"The Search Console period {asked} has no day in the data Search Console holds ({held}). "
            "Choose dates within it, or a number of days."
        )
    note = _clip_note(lo, hi, start, end) if (start, end) != (first, last) else ""
    return GscPeriod(start.isoformat(), end.isoformat(), asked, note)


def _clip_note(lo: date | None, hi: date | None, start: date, end: date) -> str:
    held = f"from {lo.isoformat() if lo else 'its start'} to {hi.isoformat() if hi else 'today'}"
    return f"Search Console holds data {held} only, so the period is {start.isoformat()} to {end.isoformat()}."
