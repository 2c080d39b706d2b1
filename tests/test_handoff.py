"""handoff: the CSV server over a real socket (headers, preflight, only the given files) and the link."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from botify_graph.errors import ConfigError
from botify_graph.handoff import CsvServer, PageShelf, cosmograph_url, page_shelf, serve_for_cosmograph

LINKS = "source,target\nhttps://e.com/,https://e.com/a\nhttps://e.com/a,https://e.com/\n"
META = "id,pagetype,impressions\nhttps://e.com/,home,3\nhttps://e.com/a,cat,\n"


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    links, meta = tmp_path / "site_20241108_links.csv", tmp_path / "site_20241108_meta.csv"
    links.write_text(LINKS)
    meta.write_text(META)
    (tmp_path / "secret.csv").write_text("not for you\n")
    return links, meta


@pytest.fixture
def served(files: tuple[Path, Path]) -> Iterator[tuple[CsvServer, str]]:
    server, url = serve_for_cosmograph(*files)
    try:
        yield server, url
    finally:
        server.close()


def test_get_serves_the_csv_with_cors_headers(served: tuple[CsvServer, str], files: tuple[Path, Path]) -> None:
    server, _ = served
    assert server.base_url.startswith("http://127.0.0.1:")
    r = httpx.get(server.url_for(files[0]), headers={"Origin": "https://cosmograph.app"})
    assert r.status_code == 200 and r.text == LINKS
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-length"] == str(len(LINKS.encode()))
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["access-control-allow-methods"] == "GET, HEAD, OPTIONS"
    assert "Content-Length" in r.headers["access-control-expose-headers"]
    assert httpx.get(server.url_for(files[1])).text == META


def test_head_has_headers_and_no_body(served: tuple[CsvServer, str], files: tuple[Path, Path]) -> None:
    server, _ = served
    r = httpx.head(server.url_for(files[1]))
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-length"] == str(len(META.encode()))
    assert r.headers["access-control-allow-origin"] == "*"


def test_options_preflight(served: tuple[CsvServer, str], files: tuple[Path, Path]) -> None:
    server, _ = served
    r = httpx.options(
        server.url_for(files[0]),
        headers={
            "Origin": "https://cosmograph.app",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "range",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["access-control-allow-methods"] == "GET, HEAD, OPTIONS"
    assert r.headers["access-control-allow-headers"] == "range"
    assert r.headers["access-control-allow-private-network"] == "true"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/site_20241108_links.csv",
        "/{token}/",
        "/{token}/secret.csv",
        "/{token}/../secret.csv",
        "/{token}/%2e%2e/secret.csv",
        "/{token}/..%2fsecret.csv",
        "/{token}/site_20241108_links.csv/..",
        "/{token}//etc/passwd",
        "/x/site_20241108_links.csv",
    ],
)
def test_only_the_two_files_are_served(served: tuple[CsvServer, str], path: str) -> None:
    server, _ = served
    target = server.base_url + path.format(token=server.token)
    with httpx.Client() as client:
        request = client.build_request("GET", target)
        request.url = httpx.URL(target)  # keep the path as written: no client-side normalisation
        r = client.send(request)
    assert r.status_code == 404 and b"not for you" not in r.content
    assert r.headers["access-control-allow-origin"] == "*"


def test_other_methods_are_refused(served: tuple[CsvServer, str], files: tuple[Path, Path]) -> None:
    server, _ = served
    r = httpx.post(server.url_for(files[0]), content=b"x")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD, OPTIONS"


def test_link_points_at_the_served_files(served: tuple[CsvServer, str], files: tuple[Path, Path]) -> None:
    server, url = served
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "cosmograph.app", "/run/")
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert q == {
        "data": server.url_for(files[0]),
        "meta": server.url_for(files[1]),
        "source": "source",
        "target": "target",
        "nodeColor": "color-pagetype",
    }


def test_cosmograph_url_encoding() -> None:
    url = cosmograph_url(
        "http://127.0.0.1:8000/t/a b.csv", "http://127.0.0.1:8000/t/m.csv?x=1&y=2", size_by="impressions"
    )
    assert url.startswith("https://cosmograph.app/run/?data=http%3A%2F%2F127.0.0.1%3A8000%2Ft%2Fa%20b.csv&meta=")
    assert "meta=http%3A%2F%2F127.0.0.1%3A8000%2Ft%2Fm.csv%3Fx%3D1%26y%3D2" in url
    assert url.endswith("&source=source&target=target&nodeColor=color-pagetype&nodeSize=size-impressions")
    bare = cosmograph_url("http://127.0.0.1:1/l.csv")
    assert parse_qs(urlsplit(bare).query) == {
        "data": ["http://127.0.0.1:1/l.csv"],
        "source": ["source"],
        "target": ["target"],
    }


def test_colour_and_size_only_by_columns_the_meta_has(files: tuple[Path, Path], tmp_path: Path) -> None:
    plain = tmp_path / "plain_meta.csv"
    plain.write_text("id,clicks\nhttps://e.com/,1\n")
    server, url = serve_for_cosmograph(files[0], plain, size_by="impressions")
    server.close()
    assert "nodeColor" not in url and "nodeSize" not in url
    server, url = serve_for_cosmograph(files[0], files[1], size_by="impressions")
    server.close()
    assert "nodeSize=size-impressions" in url
    server, url = serve_for_cosmograph(files[0])
    server.close()
    assert "meta=" not in url


def test_any_column_of_the_meta_file_colours_and_numbers_size(tmp_path: Path) -> None:
    from sample_graphs import shop

    from botify_graph.handoff import check_view_columns, view_columns

    links, meta = shop(tmp_path)
    columns = view_columns(meta)
    assert columns.color == ("pagetype", "is_compliant", "depth", "inlinks_internal_nb_unique", "internal_page_rank",
                             "title", "impressions", "clicks")  # fmt: skip
    assert columns.size == ("depth", "inlinks_internal_nb_unique", "internal_page_rank", "impressions", "clicks")
    assert check_view_columns(meta, color_by="title", size_by="internal_page_rank") == columns
    with pytest.raises(ConfigError, match=r"no column 'colour'.*it has: pagetype, is_compliant"):
        check_view_columns(meta, color_by="colour")
    with pytest.raises(ConfigError, match=r"'title' is not a number column .*those are: depth, inlinks"):
        check_view_columns(meta, size_by="title")
    server, url = serve_for_cosmograph(links, meta, color_by="title", size_by="internal_page_rank")
    server.close()
    assert url.endswith("&nodeColor=color-title&nodeSize=size-internal_page_rank")
    assert view_columns(None).color == ()


def test_missing_file_and_fixed_port(files: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        CsvServer([tmp_path / "missing.csv"])
    with CsvServer([files[0]]) as first:
        port = first.port
    with CsvServer([files[0]], port=port) as again:  # the port was released
        assert httpx.get(again.url_for(files[0])).status_code == 200


@pytest.mark.slow
def test_cosmograph_command_serves_until_ctrl_c(files: tuple[Path, Path], tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    folder = tmp_path / "out" / "example-org" / "example.com"
    folder.mkdir(parents=True)
    for f in files:
        (folder / f.name.replace("site_", "example.com_")).write_bytes(f.read_bytes())
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "botify_graph.cli",
            "cosmograph",
            "--out",
            str(tmp_path / "out"),
            "--project-url",
            "https://app.botify.com/example-org/example.com/",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        link = next(x.strip() for x in lines if x.strip().startswith("https://cosmograph.app/run/?"))
        data = parse_qs(urlsplit(link).query)["data"][0]
        assert data.startswith("http://127.0.0.1:") and data.endswith("/example.com_20241108_links.csv")
        assert httpx.get(data).text == LINKS
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- the kernel's shelf: what a page shows is served, nothing else, and only while it is shown --------------


def test_added_files_get_their_own_token_and_removed_ones_are_gone(files: tuple[Path, Path]) -> None:
    with CsvServer([]) as server:
        first = server.add([files[0]])
        second = server.add([files[0], files[1]])
        (url_a,) = first.values()
        url_b = second[files[0].resolve()]
        assert url_a != url_b and url_a.rsplit("/", 2)[-2] != url_b.rsplit("/", 2)[-2]  # one token per add
        assert httpx.get(url_a).status_code == httpx.get(url_b).status_code == 200
        server.remove([url_a])
        assert httpx.get(url_a).status_code == 404 and httpx.get(url_b).status_code == 200
        assert server.serving == 2
        with pytest.raises(ConfigError, match="no such file"):
            server.add([files[0].with_name("nope.csv")])


def test_the_shelf_serves_what_each_part_of_the_page_shows_now(files: tuple[Path, Path], tmp_path: Path) -> None:
    links, meta = files
    other = tmp_path / "other_20241101_links.csv"
    other.write_text(LINKS)
    shelf = PageShelf()
    try:
        (result,) = shelf.show("result", [(links, meta)])
        assert result is not None
        query = parse_qs(urlsplit(result).query)
        assert query["nodeColor"] == ["color-pagetype"]  # the meta file has page types
        data, meta_url = query["data"][0], query["meta"][0]
        r = httpx.get(data, headers={"Origin": "https://cosmograph.app"})
        assert r.status_code == 200 and r.text == LINKS and r.headers["access-control-allow-origin"] == "*"
        assert httpx.get(meta_url).text == META
        project = shelf.show("project", [(links, meta), (other, None), (tmp_path / "gone.csv", None)])
        assert project[0] is not None and project[1] is not None and project[2] is None
        assert "meta=" not in project[1] and "nodeColor" not in project[1]
        # the result card shows another export: its old files are no longer served; the project list's are
        (again,) = shelf.show("result", [(other, None)])
        assert again is not None
        assert httpx.get(data).status_code == 404
        assert httpx.get(parse_qs(urlsplit(project[0]).query)["data"][0]).status_code == 200
        # nothing shown any more: the server stops and its port is released
        shelf.show("result", [])
        shelf.show("project", [])
        assert shelf._server is None
        with pytest.raises(httpx.ConnectError):
            httpx.get(parse_qs(urlsplit(again).query)["data"][0])
    finally:
        shelf.close()


def test_the_kernel_has_one_shelf() -> None:
    assert page_shelf() is page_shelf()
