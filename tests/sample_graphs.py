"""Small link graphs whose numbers are worked out by hand, shared by the graph, render and reports tests."""

from __future__ import annotations

from pathlib import Path

A, B, C, D, E = (f"https://www.example.com/{p}" for p in ("", "b", "c", "d", "e"))
PROJECT = "https://app.botify.com/example-org/example.com/"

# One crawl: A→B, A→C, A→A (self-loop), B→C twice (a duplicate), C→A, D→C.  E is only in the meta file.
LINKS = [(A, B), (A, C), (A, A), (B, C), (B, C), (C, A), (D, C)]
# D has no meta row; booleans in both spellings; B has no impressions.
META = (
    "id,pagetype,is_compliant,impressions\n"
    + "\n".join([f"{A},home,True,100", f"{B},cat,true,", f"{C},cat,False,5", f"{E},product,false,7"])
    + "\n"
)

# Two crawls to compare:
# old: A→B, A→C, B→C, C→A, A→A (self-loop)        meta: A, B, C, E
# new: A→B, A→D, D→C, C→A, C→A (a duplicate)      meta: A, B, C, D
OLD = [(A, B), (A, C), (B, C), (C, A), (A, A)]
NEW = [(A, B), (A, D), (D, C), (C, A), (C, A)]


def write_links(path: Path, links: list[tuple[str, str]]) -> Path:
    path.write_text("source,target\n" + "".join(f"{s},{t}\n" for s, t in links))
    return path


def meta_csv(path: Path, pages: dict[str, int | None]) -> Path:
    """pages: url → depth (None: the file has no depth column)."""
    with_depth = any(d is not None for d in pages.values())
    head = "id,pagetype" + (",depth" if with_depth else "")
    rows = [f"{u},t" + (f",{d}" if with_depth else "") for u, d in pages.items()]
    path.write_text(head + "\n" + "\n".join(rows) + "\n")
    return path


def place(out: Path, analysis: str, links: list[tuple[str, str]], meta: str | None = None) -> Path:
    """Put an export of example.com where the layout says (`{out}/example-org/example.com/`); return its folder."""
    folder = out / "example-org" / "example.com"
    folder.mkdir(parents=True, exist_ok=True)
    write_links(folder / f"example.com_{analysis}_links.csv", links)
    if meta is not None:
        (folder / f"example.com_{analysis}_meta.csv").write_text(meta)
    return folder


def site(folder: Path) -> tuple[Path, Path]:
    """A hub linking to 30 pages; page i links to pages i+1 and i+2; page types cycle; impressions = i."""
    hub = "https://www.example.com/"
    pages = [f"{hub}p{i}" for i in range(30)]
    rows = [(hub, p) for p in pages] + [(pages[i], pages[j]) for i in range(30) for j in (i + 1, i + 2) if j < 30]
    links = write_links(folder / "links.csv", rows)
    meta = folder / "meta.csv"
    types = ("product", "category", "article")
    meta.write_text(
        "id,pagetype,is_compliant,impressions\n"
        + f"{hub},home,True,1000\n"
        + "".join(f"{p},{types[i % 3]},{'True' if i % 4 else 'False'},{i}\n" for i, p in enumerate(pages))
    )
    return links, meta


# A shop for the opportunities (numbers worked out in tests/test_graph_summary.py):
# H→P1 H→P2 H→P3 H→P4, P1→P2, P2→P3, P3→P1, P4→P5, P5→H; P6 has no inlink in the file.
H, P1, P2, P3, P4, P5, P6 = (f"https://shop.example/{p}" for p in ("", "p1", "p2", "p3", "p4", "p5", "p6"))
SHOP_LINKS = [(H, P1), (H, P2), (H, P3), (H, P4), (P1, P2), (P2, P3), (P3, P1), (P4, P5), (P5, H)]
# clicks rank the pages; inlinks_internal_nb_unique is Botify's count over the whole crawl; P2 has no traffic,
# P3 no clicks (0); P6 has no Botify inlink count; titles are text (a category column)
SHOP_META = (
    "id,pagetype,is_compliant,depth,inlinks_internal_nb_unique,internal_page_rank,title,impressions,clicks\n"
    f"{H},home,True,0,40,9.5,Home,1000,100\n"
    f'{P1},cat,True,1,30,7.0,"Cat, one",500,50\n'
    f"{P2},cat,True,1,25,6.5,Cat two,,\n"
    f"{P3},product,False,2,3,2.0,Prod three,300,0\n"
    f"{P4},product,True,4,2,1.5,Deep four,200,20\n"
    f"{P5},product,True,5,1,1.0,Deep five,50,5\n"
    f"{P6},article,True,4,,0.5,Lonely,80,8\n"
)


def shop(folder: Path, *, without: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """(links, meta) of the shop, its meta file `without` some columns."""
    import csv
    import io

    folder.mkdir(parents=True, exist_ok=True)
    links = write_links(folder / "shop_links.csv", SHOP_LINKS)
    rows = list(csv.reader(io.StringIO(SHOP_META)))
    keep = [i for i, name in enumerate(rows[0]) if name not in without]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[r[i] for i in keep] for r in rows])
    path = folder / "shop_meta.csv"
    path.write_text(out.getvalue())
    return links, path
