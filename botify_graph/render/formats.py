"""How a number is written for people, the same in Markdown, HTML, SVG, the terminal and the wizard."""

from __future__ import annotations

import numbers
from typing import Any

__all__ = ["cell_text", "compact", "human_bytes", "pct", "plural", "signed"]


def human_bytes(n: float) -> str:
    """1536 → '1.5 KB'."""
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover


def pct(value: float | None) -> str:
    """0.1234 → '12.3%'; None → 'n/a'."""
    return "n/a" if value is None else f"{value * 100:.1f}%"


def signed(value: int) -> str:
    """3 → '+3', -1234 → '-1,234'."""
    return f"{value:+,}"


def compact(n: float) -> str:
    """1_234_567 → '1.23M', 12_345 → '12.3k', 999 → '999'."""
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.3g}{unit}"
    return f"{n:.0f}"


def plural(n: int, word: str) -> str:
    """(1, 'poll') → '1 poll', (3, 'poll') → '3 polls'."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def cell_text(value: Any) -> str:
    """A table cell: '' for None, yes/no for booleans, thousands separators, 3 significant digits below 1000."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):  # numpy's integers too
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        number = float(value)
        return f"{number:,.3g}" if abs(number) < 1000 else f"{number:,.0f}"
    return str(value)
