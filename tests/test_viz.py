"""viz: the depth chart, the tables and the graph view are self-contained HTML/SVG (nothing fetched)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import ipywidgets
import pytest

from botify_graph import viz
from botify_graph.compare import compare_graphs
from botify_graph.depth import choose_depth
from botify_graph.graph import encode_graph, summarize

CHOICE = choose_depth({0: 40, 1: 3_000, 2: 90_000, 3: 700_000, 4: 2_500_000, 5: 900_000}, 1_000_000)
HUB = "https://www.example.com/"


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Path]:
    """A hub linking to 30 pages; page i links to pages i+1 and i+2; page types cycle; impressions = i."""
    pages = [f"{HUB}p{i}" for i in range(30)]
    rows = [(HUB, p) for p in pages] + [(pages[i], pages[j]) for i in range(30) for j in (i + 1, i + 2) if j < 30]
    links = tmp_path / "links.csv"
    links.write_text("source,target\n" + "".join(f"{s},{t}\n" for s, t in rows))
    meta = tmp_path / "meta.csv"
    types = ("product", "category", "article")
    meta.write_text(
        "id,pagetype,is_compliant,impressions\n"
        + f"{HUB},home,True,1000\n"
        + "".join(f"{p},{types[i % 3]},{'True' if i % 4 else 'False'},{i}\n" for i, p in enumerate(pages))
    )
    return links, meta


def no_network(text: str) -> None:
    assert "<script src" not in text.lower()
    assert "https://cdn" not in text and "cdn.jsdelivr" not in text and "<link" not in text.lower()
    assert "@import" not in text and "url(" not in text


def test_depth_chart_svg() -> None:
    svg = viz.depth_chart_svg(CHOICE)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert svg.count('<rect class="bar') == 6
    assert svg.count('class="bar chosen"') == 1 and svg.count('class="bar over"') == 2
    assert 'class="limit"' in svg and "limit 1,000,000" in svg and "chosen depth 3" in svg
    assert "▲ 3.29M" in svg  # bars far over the limit are clipped and labelled
    assert "xmlns" not in svg and "http" not in svg and "<script" not in svg
    assert f'xmlns="{viz.SVG_NS}"' in viz.depth_chart_svg(CHOICE, standalone=True)
    widget = viz.depth_chart(CHOICE)
    assert isinstance(widget, ipywidgets.HTML) and widget.value == svg


def test_depth_chart_text() -> None:
    text = viz.depth_chart_text(CHOICE, width=40)
    lines = text.splitlines()
    assert len(lines) == 2 + 6
    assert lines[0].startswith("Internal links up to each depth") and "chosen depth 3" in lines[0]
    chosen = next(line for line in lines if "◀ chosen" in line)
    assert (chosen.split()[0] == "3" and "700,000" in chosen) or "793,040" in chosen
    assert sum("over the limit" in line for line in lines) == 2
    assert all("|" in line or ">" in line for line in lines[2:])  # the limit mark, or a bar through it
    assert lines[-1].rstrip().endswith("over the limit") and ">" in lines[-1]


def test_summary_and_diff_widgets(site: tuple[Path, Path]) -> None:
    s = summarize(*site, depth=CHOICE)
    w = viz.summary_widget(s)
    assert isinstance(w, ipywidgets.HTML)
    for part in (
        "<table",
        "Most-linked pages",
        "Orphans at this depth",
        "Pages per page type",
        "Compliance",
        'class="bg-histogram"',
        'class="bg-depth-chart"',
    ):
        assert part in w.value, part
    assert html.escape(f"{HUB}p10") in w.value
    no_network(w.value.replace(HUB, ""))
    d = viz.diff_widget(compare_graphs(site[0], site[0], site[1], site[1]))
    assert isinstance(d, ipywidgets.HTML) and "What changed" in d.value and "<table" in d.value


def test_tables_escape_what_they_show(tmp_path: Path) -> None:
    links = tmp_path / "l.csv"
    links.write_text('source,target\nhttps://e.com/,"https://e.com/<script>alert(1)</script>"\n')
    value = viz.summary_widget(summarize(links)).value
    assert "<script>alert" not in value and "&lt;script&gt;alert(1)&lt;/script&gt;" in value


def _srcdoc(widget: ipywidgets.HTML) -> str:
    match = re.search(r'srcdoc="([^"]*)"', widget.value)
    assert match, "no iframe srcdoc"
    return html.unescape(match.group(1))


def test_graph_view_is_a_self_contained_iframe(site: tuple[Path, Path]) -> None:
    w = viz.graph_view(*site)
    assert isinstance(w, ipywidgets.HTML)
    assert w.value.startswith("<iframe") and 'sandbox="allow-scripts"' in w.value
    outer = re.sub(r'srcdoc="[^"]*"', "", w.value)
    assert "http" not in outer
    doc = _srcdoc(w)
    assert "Content-Security-Policy" in doc and "default-src 'none'" in doc
    assert "<canvas" in doc and 'id="graph-data"' in doc
    no_network(doc)
    # page URLs appear only as data (the JSON block); the page itself references no URL at all
    without_data = re.sub(r'<script type="application/json" id="graph-data">.*?</script>', "", doc, flags=re.S)
    assert "http://" not in without_data and "https://" not in without_data
    assert "</script" not in re.search(r'id="graph-data">(.*?)</script>', doc, flags=re.S).group(1)  # type: ignore[union-attr]


def test_graph_view_samples_the_most_linked_pages(site: tuple[Path, Path]) -> None:
    g = encode_graph(*site)
    whole = viz.graph_view_data(g)
    assert (len(whole["nodes"]["url"]), whole["sample"], whole["pages_total"]) == (31, False, 31)
    assert len(whole["links"]) // 2 == whole["links_total"] == 30 + 29 + 28
    data = viz.graph_view_data(g, max_nodes=5)
    # inbound: hub 0, p0 1, p1 2, every later page 3: the top 5 are p10, p11, p12, p13, p14 (ties by URL)
    assert data["nodes"]["url"] == [f"{HUB}p{i}" for i in (10, 11, 12, 13, 14)]
    assert data["sample"] is True and "a sample" in data["caption"] and "5 of 31 pages" in data["caption"]
    pairs = list(zip(data["links"][::2], data["links"][1::2], strict=True))
    assert sorted(pairs) == [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3), (2, 4), (3, 4)]  # p10→p11, p10→p12, ...
    few = viz.graph_view_data(g, max_links=10)
    assert len(few["links"]) == 20 and few["links_total"] == 87 and few["sample"] is True
    assert "10 of the 87" in viz.graph_view_html(g, max_links=10)


def test_graph_view_colours_and_sizes(site: tuple[Path, Path], tmp_path: Path) -> None:
    g = encode_graph(*site)
    data = viz.graph_view_data(g, size_by="impressions")
    assert {grp["label"] for grp in data["groups"]} == {"product", "category", "article", "home"}
    assert data["size_by"] == "impressions"
    r = dict(zip(data["nodes"]["url"], data["nodes"]["r"], strict=True))
    assert r[HUB] == max(r.values()) and r[f"{HUB}p0"] == min(r.values())  # 1000 and 0 impressions
    flags = viz.graph_view_data(g, color_by="is_compliant")
    assert [grp["label"] for grp in flags["groups"]] == ["yes", "no"]
    bare = viz.graph_view_data(encode_graph(site[0]), size_by="impressions")
    assert bare["groups"] == [{"label": "page", "color": viz.PALETTE[0], "pages": 31}]
    assert bare["size_by"] == "inbound links" and bare["notes"]


PAINTED = """(() => { const c = document.getElementById('view');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; })()"""


@pytest.mark.slow
@pytest.mark.browser
def test_views_render_in_chromium(site: tuple[Path, Path], tmp_path: Path) -> None:
    """Open the chart, the tables and the view in Chromium: no error, no request, a drawn canvas."""
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("needs /usr/bin/chromium (scripts/install-browser)")
    playwright = pytest.importorskip("playwright.sync_api")
    page_file = tmp_path / "page.html"
    page_file.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
        + viz.depth_chart_svg(CHOICE)
        + viz.summary_widget(summarize(*site)).value
        + viz.graph_view(*site).value
        + "</body></html>"
    )
    artifacts = Path(__file__).resolve().parent.parent / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            errors: list[str] = []
            requests: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri())
            page.locator("iframe").scroll_into_view_if_needed()  # Chromium pauses animation in hidden iframes
            frame = next(f for f in page.frames if f.url == "about:srcdoc")
            frame.wait_for_function(f"() => ({PAINTED}) > 500", timeout=20_000)  # nodes and links drawn
            page.wait_for_timeout(1500)  # let the layout settle for the screenshot
            box = page.locator("iframe").bounding_box()
            assert box is not None
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 300)
            page.screenshot(path=str(artifacts / "viz_views.png"), full_page=True)
        finally:
            browser.close()
    assert not errors, errors
    assert [u for u in requests if not u.startswith(("file:", "about:"))] == []
