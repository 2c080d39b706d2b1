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


def test_any_meta_column_is_typed_by_its_values(tmp_path: Path) -> None:
    """Flags, numbers and text, whatever the column's name; typed on the whole file, read in small blocks."""
    links = write_links(tmp_path / "l.csv", [(A, B), (B, C)])
    meta = tmp_path / "m.csv"
    rows = [
        "id,http_code,title,js,internal_page_rank,mixed,empty",
        f'{A},200,"Home, sweet",True,9.5,12,',
        f"{B},301,,false,,abc,",
        f"{C},200,Cat,,0.25,7,",
    ]
    rows += [f"https://www.example.com/x{i},200,Cat,TRUE,1,3," for i in range(300)]  # spill over many blocks
    meta.write_text("\n".join(rows) + "\n")
    g = encode_graph(links, meta, block_size=256)
    m = g.meta
    assert m is not None
    assert m.columns == ("http_code", "title", "js", "internal_page_rank", "mixed", "empty")
    kinds = {c: m.kind(c) for c in m.columns}
    assert kinds == {"http_code": "number", "title": "category", "js": "flag", "internal_page_rank": "number",
                     "mixed": "category", "empty": "number"}  # fmt: skip
    page = {u: i for i, u in enumerate(g.url_list(np.arange(g.size)))}
    a, b, c = page[A], page[B], page[C]
    assert [m.value("http_code", p) for p in (a, b, c)] == [200, 301, 200]
    assert [m.value("title", p) for p in (a, b, c)] == ["Home, sweet", None, "Cat"]
    assert [m.value("js", p) for p in (a, b, c)] == [True, False, None]
    assert [m.value("internal_page_rank", p) for p in (a, b, c)] == [9.5, None, 0.25]
    assert [m.value("mixed", p) for p in (a, b)] == ["12", "abc"]
    assert m.value("empty", a) is None and m.value("nothing", a) is None
    assert m.numbers["http_code"].dtype == np.float64 and m.categories["title"].codes.dtype == np.int32

    from botify_graph.graph.encode import meta_column_kinds

    assert meta_column_kinds(meta, block_size=1 << 16) == kinds


def test_a_meta_file_naming_a_column_twice_is_refused(tmp_path: Path) -> None:
    links = write_links(tmp_path / "l.csv", [(A, B)])
    meta = tmp_path / "m.csv"
    meta.write_text(f"id,title,title\n{A},x,y\n")
    with pytest.raises(ConfigError, match="names the column"):
        encode_graph(links, meta)


@pytest.mark.parametrize("step", [1, 2, 7, 1 << 20])
def test_unique_in_place_is_numpy_unique(step: int) -> None:
    from botify_graph.graph.encode import unique_in_place

    rng = np.random.default_rng(step)
    for n in (0, 1, 2, 50, 1000):
        keys = rng.integers(-1, 40, n).astype(np.int64)
        assert unique_in_place(keys.copy(), step=step).tolist() == np.unique(keys).tolist()


def test_link_set_and_degrees_leave_self_loops_out(small: tuple[Path, Path]) -> None:
    g = encode_graph(*small)
    keys = g.link_keys()
    assert g.link_set().tolist() == sorted(set(keys.tolist())) and len(g.link_set()) == 5
    assert len(g.link_set(drop_self_loops=False)) == 6  # A→A counts when kept
    inbound, outbound = g.degrees(drop_self_loops=False)
    assert int(inbound.sum()) == int(outbound.sum()) == 7
