"""render.graphview (and graph.sample): the interactive view is one self-contained page, its JS/CSS package files."""

from __future__ import annotations

import html
import re
import subprocess
from importlib import resources
from pathlib import Path

import ipywidgets
import pytest

from botify_graph.graph.encode import encode_graph
from botify_graph.graph.sample import view_sample
from botify_graph.render import graphview, widgets
from botify_graph.render.html import asset_text

HUB = "https://www.example.com/"
ASSETS = ("graphview.js", "graphview.css", "report.css")


def no_network(text: str) -> None:
    assert "<script src" not in text.lower()
    assert "https://cdn" not in text and "cdn.jsdelivr" not in text and "<link" not in text.lower()
    assert "@import" not in text and "url(" not in text


@pytest.mark.parametrize("name", ASSETS)
def test_assets_are_package_files_that_cannot_break_out_of_their_element(name: str) -> None:
    text = asset_text(name)
    assert text == resources.files("botify_graph.render").joinpath("assets", name).read_text(encoding="utf-8")
    assert len(text) > 300
    assert "</script" not in text.lower() and "</style" not in text.lower()
    no_network(text)


def test_the_view_script_parses() -> None:
    """`node --check` when node is installed (the script is plain ES5 in an IIFE)."""
    node = next((p for p in ("/usr/bin/node", "/usr/local/bin/node") if Path(p).exists()), None)
    if node is None:
        pytest.skip("node is not installed")
    path = resources.files("botify_graph.render").joinpath("assets", "graphview.js")
    with resources.as_file(path) as file:
        subprocess.run([node, "--check", str(file)], check=True, capture_output=True, timeout=60)


def _srcdoc(widget: ipywidgets.HTML) -> str:
    match = re.search(r'srcdoc="([^"]*)"', widget.value)
    assert match, "no iframe srcdoc"
    return html.unescape(match.group(1))


def test_graph_view_is_a_self_contained_iframe(site_graph: tuple[Path, Path]) -> None:
    w = widgets.graph_view(*site_graph)
    assert isinstance(w, ipywidgets.HTML)
    assert w.value.startswith("<iframe") and 'sandbox="allow-scripts"' in w.value
    assert "title='link graph'" in w.value.replace('"', "'")  # what the browser test finds it by
    outer = re.sub(r'srcdoc="[^"]*"', "", w.value)
    assert "http" not in outer
    doc = _srcdoc(w)
    assert "Content-Security-Policy" in doc and "default-src 'none'" in doc
    assert "<canvas" in doc and 'id="graph-data"' in doc
    assert asset_text("graphview.js") in doc and asset_text("graphview.css") in doc  # inlined, not linked
    no_network(doc)
    # page URLs appear only as data (the JSON block); the page itself references no URL at all
    without_data = re.sub(r'<script type="application/json" id="graph-data">.*?</script>', "", doc, flags=re.S)
    assert "http://" not in without_data and "https://" not in without_data
    assert "</script" not in re.search(r'id="graph-data">(.*?)</script>', doc, flags=re.S).group(1)  # type: ignore[union-attr]


def test_graph_view_samples_the_most_linked_pages(site_graph: tuple[Path, Path]) -> None:
    g = encode_graph(*site_graph)
    whole = graphview.graph_view_data(g)
    assert (len(whole["nodes"]["url"]), whole["sample"], whole["pages_total"]) == (31, False, 31)
    assert len(whole["links"]) // 2 == whole["links_total"] == 30 + 29 + 28
    data = graphview.graph_view_data(g, max_nodes=5)
    # inbound: hub 0, p0 1, p1 2, every later page 3: the top 5 are p10, p11, p12, p13, p14 (ties by URL)
    assert data["nodes"]["url"] == [f"{HUB}p{i}" for i in (10, 11, 12, 13, 14)]
    assert data["sample"] is True and "a sample" in data["caption"] and "5 of 31 pages" in data["caption"]
    pairs = list(zip(data["links"][::2], data["links"][1::2], strict=True))
    assert sorted(pairs) == [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3), (2, 4), (3, 4)]  # p10→p11, p10→p12, ...
    few = graphview.graph_view_data(g, max_links=10)
    assert len(few["links"]) == 20 and few["links_total"] == 87 and few["sample"] is True
    assert "10 of the 87" in graphview.graph_view_html(g, max_links=10)


def test_view_sample_in_numbers(site_graph: tuple[Path, Path]) -> None:
    g = encode_graph(*site_graph)
    v = view_sample(g, max_nodes=5, max_links=3)
    assert v.inbound == [3] * 5 and (v.links_among, v.links_drawn, v.pages_total, v.sample) == (7, 3, 31, True)
    assert v.links == view_sample(g, max_nodes=5, max_links=3).links  # the link sample is repeatable
    assert (v.sized_by, v.size) == ("inbound", [3.0] * 5)
    assert view_sample(g, size_by="impressions").sized_by == "impressions"
    assert view_sample(encode_graph(site_graph[0]), size_by="impressions").sized_by == "inbound"


def test_graph_view_colours_and_sizes(site_graph: tuple[Path, Path]) -> None:
    g = encode_graph(*site_graph)
    data = graphview.graph_view_data(g, size_by="impressions")
    assert {grp["label"] for grp in data["groups"]} == {"product", "category", "article", "home"}
    assert data["size_by"] == "impressions"
    r = dict(zip(data["nodes"]["url"], data["nodes"]["r"], strict=True))
    assert r[HUB] == max(r.values()) and r[f"{HUB}p0"] == min(r.values())  # 1000 and 0 impressions
    flags = graphview.graph_view_data(g, color_by="is_compliant")
    assert [grp["label"] for grp in flags["groups"]] == ["yes", "no"]
    bare = graphview.graph_view_data(encode_graph(site_graph[0]), size_by="impressions")
    assert bare["groups"] == [{"label": "page", "color": graphview.PALETTE[0], "pages": 31}]
    assert bare["size_by"] == "inbound links" and bare["notes"] == [
        "No impressions in the meta file: sized by inbound links."
    ]
    assert graphview.graph_view_data(g, size_by="clicks")["notes"] == [
        "No clicks in the meta file: sized by inbound links."
    ]


def test_any_column_colours_or_sizes_the_view(tmp_path: Path) -> None:
    from sample_graphs import P1, P4, P6, H, shop

    g = encode_graph(*shop(tmp_path))
    data = graphview.graph_view_data(g, color_by="title", size_by="internal_page_rank")
    assert data["size_by"] == "internal_page_rank" and data["notes"] == []
    nodes = dict(zip(data["nodes"]["url"], zip(data["nodes"]["r"], data["nodes"]["value"], strict=True), strict=True))
    assert nodes[H] == (max(r for r, _ in nodes.values()), 9.5) and nodes[P6][1] == 0.5
    assert sorted(grp["label"] for grp in data["groups"]) == sorted(
        ["Home", "Cat, one", "Cat two", "Prod three", "Deep four", "Deep five", "Lonely"]
    )
    assert data["words"]["value"] == "internal_page_rank"
    # a number colours by five ranges cut at its quantiles (clicks 0 5 8 20 50 100: cuts 5 8 20 50), low to high
    ranges = graphview.graph_view_data(g, color_by="clicks")
    assert [(grp["label"], grp["color"], grp["pages"]) for grp in ranges["groups"]] == [
        ("0 to 5", graphview.RAMP[0], 2),  # P3 (0) and P5 (5: a value on a cut is in the lower range)
        ("5 to 8", graphview.RAMP[1], 1),
        ("8 to 20", graphview.RAMP[2], 1),
        ("20 to 50", graphview.RAMP[3], 1),
        ("50 to 100", graphview.RAMP[4], 1),
        ("unknown", graphview.UNKNOWN_COLOR, 1),  # P2 has a meta row without clicks
    ]
    group = dict(zip(ranges["nodes"]["url"], ranges["nodes"]["group"], strict=True))
    assert (group[H], group[P1], group[P4]) == (4, 3, 2)
    flags = graphview.graph_view_data(g, color_by="is_compliant")
    assert [grp["label"] for grp in flags["groups"]] == ["yes", "no"]
    text = graphview.graph_view_data(g, size_by="title", color_by="nothing")
    assert text["notes"] == [
        "title is not a number: sized by inbound links.",
        "No nothing in the meta file: pages are not coloured.",
    ]
    page = graphview.graph_view_html(g, color_by="title", size_by="internal_page_rank")
    assert "Colour: title. Size: internal_page_rank." in page


PAINTED = """(() => { const c = document.getElementById('view');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; })()"""


@pytest.mark.slow
@pytest.mark.browser
def test_views_render_in_chromium(site_graph: tuple[Path, Path], tmp_path: Path) -> None:
    """Open the chart, the tables and the view in Chromium: no error, no request, a drawn canvas."""
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("needs /usr/bin/chromium (scripts/install-browser)")
    playwright = pytest.importorskip("playwright.sync_api")
    from botify_graph.depth import choose_depth
    from botify_graph.graph.summary import summarize

    choice = choose_depth({0: 40, 1: 3_000, 2: 90_000, 3: 700_000, 4: 2_500_000, 5: 900_000}, 1_000_000)
    page_file = tmp_path / "page.html"
    page_file.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
        + widgets.depth_chart(choice).value
        + widgets.summary_widget(summarize(*site_graph, depth=choice)).value
        + widgets.graph_view(*site_graph).value
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
            assert frame.evaluate("() => document.getElementById('wrap').clientHeight") == 520
        finally:
            browser.close()
    assert not errors, errors
    assert [u for u in requests if not u.startswith(("file:", "about:"))] == []
