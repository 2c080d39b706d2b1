"""render.formats: one way to write a number, wherever it is shown."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from botify_graph.render.formats import cell_text, compact, human_bytes, pct, plural, signed


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "yes"),
        (False, "no"),
        (1234567, "1,234,567"),
        (np.int64(1234), "1,234"),
        (0.333333, "0.333"),
        (12345.6, "12,346"),
        (np.float64(2.5), "2.5"),
        ("a|b", "a|b"),  # escaping is the format's business (Markdown, HTML)
    ],
)
def test_cell_text(value: Any, text: str) -> None:
    assert cell_text(value) == text


def test_numbers() -> None:
    assert (human_bytes(10), human_bytes(1536), human_bytes(5 * 1024**3)) == ("10 B", "1.5 KB", "5.0 GB")
    assert (pct(0.1234), pct(None), pct(1)) == ("12.3%", "n/a", "100.0%")
    assert (signed(3), signed(-1234), signed(0)) == ("+3", "-1,234", "+0")
    assert (compact(1_234_567), compact(12_345), compact(999), compact(2e9)) == ("1.23M", "12.3k", "999", "2B")
    assert (plural(1, "poll"), plural(3, "poll"), plural(0, "sizing request")) == (
        "1 poll",
        "3 polls",
        "0 sizing requests",
    )
