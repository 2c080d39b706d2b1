"""The field catalogue as text (`botify-graph fields`): which fields a project has, grouped as Botify groups
them, the column each becomes, and why the others cannot be exported."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import labels as L

if TYPE_CHECKING:  # pragma: no cover
    from ..fields import CatalogField, FieldCatalog

__all__ = ["catalog_text"]


def _table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return out


def _marks(f: CatalogField, defaults: tuple[str, ...]) -> str:
    marks = [L.CATALOG_DEFAULT] if f.key in defaults else []
    if f.deprecated:
        marks.append(L.CATALOG_DEPRECATED)
    return f"  ({', '.join(marks)})" if marks else ""


def catalog_text(
    catalog: FieldCatalog, project: str, *, defaults: tuple[str, ...] = (), all_fields: bool = False, days: int = 30
) -> str:
    """The catalogue as plain text: one table of the exportable fields (group by group), then the others."""
    lines = [L.CATALOG_TITLE.format(project=project, analysis=catalog.analysis), ""]
    rows = [
        (f.key, group, f.type or "?", f.column + _marks(f, defaults))
        for group, fields in catalog.groups(exportable_only=True)
        for f in fields
    ]
    lines += _table(L.CATALOG_COLUMNS, rows) if rows else [L.NONE_SHOWN]
    lines.append("")
    if catalog.has_gsc:
        lines.append(L.CATALOG_GSC.format(start=catalog.gsc_start or "?", end=catalog.gsc_end or "?", days=days))
    else:
        lines.append(L.CATALOG_NO_GSC)
    if catalog.unread:
        lines.append(L.CATALOG_UNREAD.format(collections=", ".join(catalog.unread)))
    others = [f for f in catalog.fields if not f.exportable]
    if others and all_fields:
        lines += ["", L.CATALOG_NOT_EXPORTABLE + ":", *_table(L.CATALOG_WHY, [(f.key, f.why_not) for f in others])]
    elif others:
        lines.append(L.CATALOG_HIDDEN.format(n=len(others)))
    return "\n".join(lines) + "\n"
