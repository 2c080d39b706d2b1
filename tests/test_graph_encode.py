"""graph.encode: reading the CSVs in blocks into ids over one vocabulary; files that cannot be read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sample_graphs import LINKS, A, B, C, D, E, write_links

from botify_graph.errors import ConfigError
from botify_graph.graph.encode import csv_header, encode_graph, encode_graphs, isin_sorted, sorted_unique, top_ids
from botify_graph.graph.summary import summarize


def test_one_vocabulary_for_every_file(small: tuple[Path, Path], tmp_path: Path) -> None:
    other = write_links(tmp_path / "other.csv", [(E, A)])
    g, h = encode_graphs([small, (other, None)], block_size=64)
    assert g.urls is h.urls and g.size == 5
    assert g.url_list(g.src) == [s for s, _ in LINKS] and g.url_list(g.tgt) == [t for _, t in LINKS]
    assert (h.url(int(h.src[0])), h.url(int(h.tgt[0]))) == (E, A)  # the same ids in both graphs
    assert g.meta is not None and h.meta is None
    assert [g.meta.pagetype_of(i) for i in range(g.size)] == ["home", "cat", "cat", None, "product"]  # D: no row
    assert list(g.meta.flags["is_compliant"]) == [1, 1, 0, -1, 0]


def test_links_pages_and_degrees(small: tuple[Path, Path]) -> None:
    g = encode_graph(*small)
    inbound, outbound = g.degrees()
    assert dict(zip(g.url_list(np.arange(g.size)), inbound.tolist(), strict=True)) == {A: 1, B: 1, C: 4, D: 0, E: 0}
    assert outbound.sum() == 6 and len(g.links(drop_self_loops=False)[0]) == 7
    assert g.pages_mask().all()
    assert len(sorted_unique(g.link_keys())) == 5


def test_set_helpers() -> None:
    keys = np.array([5, 1, 5, 3, 1], dtype=np.int64)
    assert sorted_unique(keys).tolist() == [1, 3, 5]
    assert isin_sorted(np.array([0, 1, 4, 5, 9]), np.array([1, 3, 5])).tolist() == [False, True, False, True, False]
    assert isin_sorted(np.array([1]), np.array([], dtype=np.int64)).tolist() == [False]
    import pyarrow as pa

    urls = pa.array(["c", "a", "b", "d"])
    assert top_ids(np.array([2, 2, 2, 1]), urls, 2).tolist() == [1, 2]  # ties by URL
    assert top_ids(np.array([2, 2, 2, 1]), urls, 5, np.array([False, False, True, True])).tolist() == [2, 3]


def test_csv_header(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("\ufeffid , pagetype\nx,y\n", encoding="utf-8")
    assert csv_header(path, "meta") == ["id", "pagetype"]


def test_bad_files_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        summarize(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("url,outlink\na,b\n")
    with pytest.raises(ConfigError, match="expected 'source,target'"):
        summarize(bad)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ConfigError, match="empty"):
        summarize(empty)
    meta = tmp_path / "meta.csv"
    meta.write_text("url,pagetype\n")
    with pytest.raises(ConfigError, match="no 'id' column"):
        summarize(write_links(tmp_path / "l.csv", [(A, B)]), meta)
    meta.write_text(f"id,impressions\n{A},lots\n")
    with pytest.raises(ConfigError, match=r"meta file .* cannot be read"):
        summarize(write_links(tmp_path / "l.csv", [(A, B)]), meta)
