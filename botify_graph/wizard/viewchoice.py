"""What the Result card's graph view (and an "Open in Cosmograph" link) colour and size pages by.

Two dropdowns filled from the meta file's columns (`handoff.view_columns`): colour by page type (the default,
when the file has it), any other column or nothing; size by inbound links (the default) or any number column.
A card shows `ViewChoice.box`, calls `load(meta_path)` when its files are known, and reads `color_by` and
`size_by` when it draws the view or builds a Cosmograph link (`handoff.serve_for_cosmograph(links, meta,
color_by=choice.color_by, size_by=choice.cosmograph_size)`).
"""

from __future__ import annotations

from pathlib import Path

import ipywidgets as w

from ..errors import BotifyError
from ..handoff import view_columns
from .view import DESC, show

__all__ = ["ViewChoice"]

NONE, INBOUND = "", "inbound"


class ViewChoice:
    """The colour and size dropdowns of a graph view."""

    def __init__(self) -> None:
        self.color = w.Dropdown(description="Colour by", options=[("page type", "pagetype")], style=DESC,
                                layout=w.Layout(width="auto"))  # fmt: skip
        self.size = w.Dropdown(description="size by", options=[("inbound links", INBOUND)], style=DESC,
                               layout=w.Layout(width="auto"))  # fmt: skip
        self.box = w.HBox([self.color, self.size], layout=w.Layout(display="none", grid_gap="12px"))

    def load(self, meta: str | Path | None) -> None:
        """Offer the columns of `meta` (nothing to offer: the dropdowns stay hidden)."""
        try:
            columns = view_columns(meta) if meta is not None and Path(meta).is_file() else view_columns(None)
        except (BotifyError, OSError):
            columns = view_columns(None)
        color = [("page type" if c == "pagetype" else c, c) for c in columns.color] + [("nothing", NONE)]
        self.color.options = color
        self.color.value = "pagetype" if "pagetype" in columns.color else NONE
        self.size.options = [("inbound links", INBOUND)] + [(c, c) for c in columns.size]
        self.size.value = INBOUND
        show(self.box, bool(columns.color))

    @property
    def color_by(self) -> str | None:
        """The column to colour by, or None."""
        return str(self.color.value) or None

    @property
    def size_by(self) -> str:
        """ "inbound" or a number column (what `graph_view_html(size_by=...)` takes)."""
        return str(self.size.value or INBOUND)

    @property
    def cosmograph_size(self) -> str | None:
        """The size column for a Cosmograph link (None: Cosmograph's own sizing)."""
        return None if self.size_by == INBOUND else self.size_by
