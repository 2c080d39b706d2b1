"""How fast and how big is `graph.summary.summarize` (and `graph.compare.compare_graphs`) on a 1M-link export?

    python benchmarks/bench_graph.py [--rows N] [--pages P] [--repeat K] [--quick]

Generates, in a temporary directory, a links CSV of N rows (default 1,000,000 URL pairs, about 100 MB, each
source followed by its 10-60 outlinks, a dozen of them menu links every page shares) and its meta CSV (page
type, compliance, impressions), plus a second crawl of the same site with about 5% of the links changed.
Then times, each in its own child process so its own peak RSS (VmHWM) can be read:

- `summarize`: the streaming summary of one export (links + meta)
- `compare`: `compare_graphs` of the two crawls (links + meta each)
- baseline: `pandas.read_csv(engine="pyarrow")` of the links file plus `value_counts()` of the targets,
  the least a notebook does to get in-degrees

Figures are printed, never asserted. `--quick`: 50,000 rows and one run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1e6
PAGETYPES = ("product", "category", "article", "list", "tag", "search", "home")
_SYLLABLES = tuple(c + v for c in "klmnrtsvdpbgfz" for v in ("a", "e", "i", "o", "u", "an", "el"))
_SECTIONS = ("p", "c", "blog", "brand", "collections", "guides", "stores", "help")


def _page(rng: random.Random, host: str, words: list[str]) -> str:
    slug = "-".join(rng.choices(words, k=rng.randint(1, 3)))
    section = rng.choice(_SECTIONS)
    if rng.random() < 0.6:
        return f"{host}/{section}/{slug}-{rng.randint(10_000, 9_999_999)}.html"
    return f"{host}/{section}/{rng.choice(words)}/{slug}/"


def generate(folder: Path, rows: int, *, pages: int | None = None, seed: int = 7) -> dict[str, int]:
    """Write old_links.csv / old_meta.csv and new_links.csv / new_meta.csv; return their sizes in bytes."""
    rng = random.Random(seed)
    words = sorted({"".join(rng.choices(_SYLLABLES, k=rng.randint(2, 3))) for _ in range(8000)})
    host = "https://www.example-store.com"
    pages = list(dict.fromkeys(_page(rng, host, words) for _ in range(max(1000, pages or rows // 8))))
    menu = pages[:40]
    links: list[tuple[str, str]] = []
    while len(links) < rows:
        source = rng.choice(pages)
        k = min(rows - len(links), rng.randint(10, 60))
        targets = rng.sample(menu, min(k, 12)) + rng.choices(pages, k=max(0, k - 12))
        links += [(source, t) for t in targets[:k]]
    # the next crawl: 5% of the links gone, as many new ones, some towards pages that did not exist
    fresh = [_page(rng, host, words) for _ in range(len(pages) // 50)]
    kept = [link for link in links if rng.random() >= 0.05]
    added = [(rng.choice(pages), rng.choice(fresh if rng.random() < 0.3 else pages)) for _ in range(rows - len(kept))]
    sizes = {}
    for name, edges, names in (("old", links, pages), ("new", kept + added, pages + fresh)):
        with open(folder / f"{name}_links.csv", "w") as out:
            out.write("source,target\n")
            out.writelines(f"{s},{t}\n" for s, t in edges)
        with open(folder / f"{name}_meta.csv", "w") as out:
            out.write("id,pagetype,is_compliant,impressions\n")
            for url in names:
                imp = "" if rng.random() < 0.3 else str(int(rng.paretovariate(1.2)))
                out.write(f"{url},{rng.choice(PAGETYPES)},{rng.random() > 0.1},{imp}\n")
        sizes[name] = (folder / f"{name}_links.csv").stat().st_size
    return sizes


# --- the measured operations, each run in a child process -------------------------------------------------


def _prepare(name: str, folder: Path) -> Callable[[], object]:
    if name == "summarize":
        from botify_graph.graph.summary import summarize

        return lambda: summarize(folder / "old_links.csv", folder / "old_meta.csv")
    if name == "compare":
        from botify_graph.graph.compare import compare_graphs

        return lambda: compare_graphs(
            folder / "old_links.csv", folder / "new_links.csv", folder / "old_meta.csv", folder / "new_meta.csv"
        )
    import pandas as pd

    def baseline() -> object:
        df = pd.read_csv(folder / "old_links.csv", engine="pyarrow")
        return df["target"].value_counts()

    return baseline


def _peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM), which, unlike ru_maxrss, does not inherit the parent's."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _child(name: str, folder: str) -> None:
    operation = _prepare(name, Path(folder))
    imports = _peak_rss_mb()
    start = time.perf_counter()
    operation()
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "rss": _peak_rss_mb(), "imports": imports}))


def _measure(name: str, folder: Path, repeat: int) -> tuple[float, float, float]:
    best, rss, imports = float("inf"), 0.0, 0.0
    for _ in range(repeat):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", name, str(folder)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"{name} failed:\n{proc.stderr}")
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        best, rss, imports = min(best, report["seconds"]), max(rss, report["rss"]), max(imports, report["imports"])
    return best, rss, imports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the generated links CSV")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (best time is kept)")
    parser.add_argument("--pages", type=int, default=None, help="distinct pages (default rows/8; more = more URLs)")
    parser.add_argument("--quick", action="store_true", help="50,000 rows and one run: seconds, for CI")
    parser.add_argument("--child", nargs=2, metavar=("NAME", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    rows, repeat = (50_000, 1) if args.quick else (args.rows, args.repeat)
    with tempfile.TemporaryDirectory(prefix="bench_graph_") as name:
        folder = Path(name)
        start = time.perf_counter()
        sizes = generate(folder, rows, pages=args.pages)
        print(
            f"generated {rows:,} links: {sizes['old'] / MB:.1f} MB (and a second crawl of {sizes['new'] / MB:.1f} MB) "
            f"in {time.perf_counter() - start:.1f} s; best of {repeat} run(s), Python {sys.version.split()[0]}"
        )
        figures = {n: _measure(n, folder, repeat) for n in ("summarize", "compare", "baseline")}
    labels = {
        "summarize": "summarize (links + meta)",
        "compare": "compare_graphs (2 crawls)",
        "baseline": "pandas read + value_counts",
    }
    print(f"\n{'':28} {'seconds':>8} {'peak RSS MB':>12} {'after imports':>14} {'above imports':>14}")
    for n, (seconds, rss, imports) in figures.items():
        print(f"{labels[n]:28} {seconds:8.2f} {rss:12.1f} {imports:14.1f} {rss - imports:14.1f}")


if __name__ == "__main__":
    main()
