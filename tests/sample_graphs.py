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
