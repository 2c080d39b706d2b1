"""How fast is `normalise_file` on a realistic links export, next to `gzip -dc`, bare zlib and pandas?

    python benchmarks/bench_download.py [--rows N] [--repeat K] [--quick]

Generates a gzipped links CSV of N rows (default 1,000,000 URL pairs, about 125 MB uncompressed and 13 MB
gzipped, laid out the way Botify writes it: slug header, a source URL repeated for each of its outlinks) in a
temporary directory, then times each of these in its own subprocess, so that peak RSS is its own (the Python
children read their VmHWM; `gzip`'s comes from `os.wait4`):

- `gzip -dc file > out`
- bare Python zlib: streaming decompress in 1 MiB chunks to /dev/null (the reference the targets are set
  against), and the same in the 16 KiB in / 64 KiB out pieces `botify_graph.download` uses
- bare ISA-L (`isal`, what `botify_graph.download` inflates with when it is installed), in those pieces
- ours: `botify_graph.download.normalise_file`, on the file and on a CRLF copy of it (the fake API's layout),
  and `normalise` into a sink that drops the bytes (what writing and fsyncing the file costs is the difference)
- baseline, what the original tool did: decompress to a temp file, `pandas.read_csv` it, rename the columns,
  `to_csv` it back

Throughput is MB of uncompressed CSV per second (best of K runs); timings leave out interpreter start-up and
imports, and "after imports" shows how much of the peak RSS the imports alone take. Figures are printed,
never asserted.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 1 << 20
MB = 1e6

_SYLLABLES: tuple[str, ...] = ("ka", "lo", "mi", "ne", "ru", "ta", "shi", "ven", "dor", "pal", "tri", "gon")
_SYLLABLES += ("bel", "sar", "qui", "zen", "fa", "mo", "lux", "ber", "ox", "ia", "el", "an", "st", "pr", "cl")
_SECTIONS = ("p", "c", "blog", "brand", "collections", "guides", "stores", "help")


def _page(rng: random.Random, host: str, words: list[str]) -> str:
    section = rng.choice(_SECTIONS)
    slug = "-".join(rng.choices(words, k=rng.randint(1, 3)))
    kind = rng.random()
    if kind < 0.55:
        return f"{host}/{section}/{slug}-{rng.randint(10_000, 9_999_999)}.html"
    if kind < 0.85:
        return f"{host}/{section}/{rng.choice(words)}/{slug}/"
    return f"{host}/{section}/{slug}?page={rng.randint(2, 40)}&sort={rng.choice(('price', 'new', 'top'))}"


def generate(path: Path, rows: int, *, seed: int = 7, eol: str = "\n") -> int:
    """Write a gzipped slug-header links CSV of `rows` rows; return its uncompressed size.

    Like a crawl's edge list: each source page is followed by its 10-60 outlinks, a dozen of them menu links
    every page shares, the rest drawn from a pool of rows/2 pages with made-up but varied slugs and ids.
    """
    rng = random.Random(seed)
    words = sorted({"".join(rng.choices(_SYLLABLES, k=rng.randint(2, 3))) for _ in range(8000)})
    host = "https://www.example-store.com"
    pages = [_page(rng, host, words) for _ in range(max(1000, rows // 2))]
    menu = pages[:40]
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)  # what gzip(1) and the server use by default
    size = 0
    with open(path, "wb") as out:
        head = f"url,outlinks_internal.graph.url{eol}".encode()
        size += len(head)
        out.write(comp.compress(head))
        done = 0
        while done < rows:
            source = rng.choice(pages)
            k = min(rows - done, rng.randint(10, 60))
            targets = rng.sample(menu, min(k, 12)) + rng.choices(pages, k=max(0, k - 12))
            block = "".join(f"{source},{t}{eol}" for t in targets[:k]).encode()
            size += len(block)
            out.write(comp.compress(block))
            done += k
        out.write(comp.flush())
    return size


# --- the measured operations, each run in a child process -------------------------------------------------
# Each `_prepare_*` does the imports (not timed) and returns the operation (timed).


def _warm_numpy() -> None:
    """Import numpy before the clock starts: `botify_graph.download` imports it on the first file, a one-time
    start-up cost (bench_startup.py) that would otherwise count as ~60 ms of normalising here."""
    import numpy  # noqa: F401


def _prepare_ours() -> Callable[[str, str], object]:
    from botify_graph.download import normalise_file

    _warm_numpy()
    from botify_graph.queries import LINKS_COLUMNS

    return lambda src, out: normalise_file(src, out, LINKS_COLUMNS)


def _prepare_ours_null() -> Callable[[str, str], object]:
    from botify_graph.download import normalise
    from botify_graph.queries import LINKS_COLUMNS

    _warm_numpy()

    class Sink:
        def write(self, data: bytes) -> None:
            pass

    def run(src: str, out: str) -> None:
        with open(src, "rb") as f:
            normalise(f, Sink(), LINKS_COLUMNS, compression="gzip")  # type: ignore[arg-type]

    return run


def _inflate(lib: Any, feed: int, piece: int) -> Callable[[str, str], object]:
    def run(src: str, out: str) -> None:
        d = lib.decompressobj(31)
        with open(src, "rb") as f, open(os.devnull, "wb") as null:
            while data := f.read(feed):
                while data:
                    null.write(d.decompress(data, piece))
                    data = d.unconsumed_tail

    return run


def _prepare_zlib() -> Callable[[str, str], object]:
    return _inflate(zlib, CHUNK, CHUNK)


def _prepare_zlib_pieces() -> Callable[[str, str], object]:
    from botify_graph import download

    return _inflate(zlib, download._GZIP_FEED, download._PIECE)


def _prepare_isal() -> Callable[[str, str], object]:
    from isal import isal_zlib

    from botify_graph import download

    return _inflate(isal_zlib, download._GZIP_FEED, download._PIECE)


def _prepare_baseline() -> Callable[[str, str], object]:
    import gzip

    import pandas as pd

    from botify_graph.queries import LINKS_COLUMNS

    def run(src: str, out: str) -> None:
        tmp = out + ".tmp.csv"
        with gzip.open(src, "rb") as f, open(tmp, "wb") as o:
            shutil.copyfileobj(f, o, CHUNK)
        df = pd.read_csv(tmp)
        df.columns = list(LINKS_COLUMNS)
        df.to_csv(out, index=False)
        os.unlink(tmp)

    return run


_CHILDREN = {
    "ours": _prepare_ours,
    "ours crlf": _prepare_ours,
    "ours → sink": _prepare_ours_null,
    "zlib": _prepare_zlib,
    "zlib pieces": _prepare_zlib_pieces,
    "isal": _prepare_isal,
    "baseline": _prepare_baseline,
}


def _peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM), which, unlike ru_maxrss, does not inherit the parent's."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(name: str, src: str, out: str) -> None:
    if name in ("generate", "generate crlf"):
        print(json.dumps({"size": generate(Path(out), int(src), eol="\r\n" if name.endswith("crlf") else "\n")}))
        return
    operation = _CHILDREN[name]()
    imports = _peak_rss_mb()
    start = time.perf_counter()
    operation(src, out)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "rss": _peak_rss_mb(), "imports": imports}))


def _run(argv: list[str], *, stdout_path: str | None = None) -> tuple[float, float, str]:
    """Run a process; return (wall seconds, peak RSS in MB, its stdout)."""
    out_file = open(stdout_path, "wb") if stdout_path else subprocess.PIPE  # noqa: SIM115
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=out_file, env={**os.environ, "PYTHONPATH": str(ROOT)})
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = ""
    if stdout_path:
        out_file.close()  # type: ignore[union-attr]
    elif proc.stdout is not None:
        text = proc.stdout.read().decode()
        proc.stdout.close()
    if proc.returncode != 0:
        raise SystemExit(f"{argv} failed with exit code {proc.returncode}")
    return wall, usage.ru_maxrss / 1024, text  # ru_maxrss is in KiB on Linux


def _measure(name: str, src: Path, tmp: Path, repeat: int) -> tuple[float, float, float]:
    """Best time, peak RSS and RSS after imports (MB) of `name` over `repeat` runs."""
    best, rss, imports = float("inf"), 0.0, 0.0
    for _ in range(repeat):
        out = tmp / f"{name.replace(' ', '_')}.csv"
        if name == "gzip -dc":
            seconds, peak, _ = _run(["gzip", "-dc", str(src)], stdout_path=str(out))
            before = 0.0
        else:
            _, _, text = _run([sys.executable, __file__, "--child", name, str(src), str(out)])
            report = json.loads(text.strip().splitlines()[-1])
            seconds, peak, before = report["seconds"], report["rss"], report["imports"]
        best, rss, imports = min(best, seconds), max(rss, peak), max(imports, before)
        out.unlink(missing_ok=True)
    return best, rss, imports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the generated links CSV")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (best is kept)")
    parser.add_argument("--quick", action="store_true", help="about 50,000 rows and one run: seconds, for CI")
    parser.add_argument("--child", nargs=3, metavar=("NAME", "SRC", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    rows, repeat = (50_000, 1) if args.quick else (args.rows, args.repeat)

    with tempfile.TemporaryDirectory(prefix="bench_download_") as tmp_name:
        tmp = Path(tmp_name)
        src = tmp / "links.csv.gz"
        start = time.perf_counter()
        # generated in a child: the parent stays small, so `gzip -dc`'s ru_maxrss (which counts the parent's
        # memory copied at fork) is not inflated by the generator's
        _, _, text = _run([sys.executable, __file__, "--child", "generate", str(rows), str(src)])
        size = json.loads(text)["size"]
        gz = src.stat().st_size
        _, _, text = _run([sys.executable, __file__, "--child", "generate crlf", str(rows), str(tmp / "crlf.csv.gz")])
        crlf_size = json.loads(text)["size"]
        print(
            f"generated {rows:,} rows: {size / MB:.1f} MB CSV, {gz / MB:.1f} MB gzipped "
            f"({time.perf_counter() - start:.1f} s); best of {repeat} run(s) each, Python {sys.version.split()[0]}"
        )
        from botify_graph.download import GZIP_LIBRARY  # botify_graph.download imports no numpy nor pandas

        print(f"botify_graph.download inflates gzip with {GZIP_LIBRARY}")
        names = ["gzip -dc", "zlib", "zlib pieces", "isal", "ours", "ours → sink", "ours crlf"]
        if GZIP_LIBRARY != "isal":
            names.remove("isal")
        if importlib.util.find_spec("pandas") is not None:  # not imported here: it would swell our RSS
            names.append("baseline")
        else:
            print("pandas is not installed: no baseline")
        if shutil.which("gzip") is None:
            names.remove("gzip -dc")
            print("no gzip binary: no `gzip -dc` figure")
        figures = {
            name: _measure(name, tmp / "crlf.csv.gz" if name == "ours crlf" else src, tmp, repeat) for name in names
        }

    labels = {
        "gzip -dc": "gzip -dc > file",
        "zlib": "bare zlib → /dev/null",
        "zlib pieces": "  same, 64 KiB pieces",
        "isal": "bare isal, 64 KiB pieces",
        "ours": "normalise_file (ours)",
        "ours → sink": "  normalise → no file",
        "ours crlf": "  same file, CRLF",
        "baseline": "pandas read_csv/to_csv",
    }
    print(f"\n{'':26} {'seconds':>8} {'MB/s':>8} {'peak RSS MB':>12} {'after imports':>14}")
    for name, (seconds, rss, imports) in figures.items():
        after = f"{imports:14.1f}" if imports else f"{'-':>14}"
        mb = (crlf_size if name == "ours crlf" else size) / MB
        print(f"{labels[name]:26} {seconds:8.3f} {mb / seconds:8.1f} {rss:12.1f} {after}")
    ours = figures["ours"][0]
    print()
    for name in ("gzip -dc", "zlib", "zlib pieces", "isal", "baseline"):
        if name in figures:
            print(f"speed ours / {name}: {figures[name][0] / ours:.2f}x")
    if "ours crlf" in figures:
        crlf_rate = crlf_size / figures["ours crlf"][0]
        print(f"speed ours on the CRLF file / zlib: {crlf_rate / (size / figures['zlib'][0]):.2f}x")
    if "baseline" in figures:
        (_, ours_rss, ours_imp), (_, base_rss, base_imp) = figures["ours"], figures["baseline"]
        print(
            f"peak RSS ours / baseline: {ours_rss:.0f} MB / {base_rss:.0f} MB "
            f"(above the imports: {ours_rss - ours_imp:.0f} MB / {base_rss - base_imp:.0f} MB)"
        )


if __name__ == "__main__":
    main()
