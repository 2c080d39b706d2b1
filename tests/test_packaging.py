"""The built wheel carries everything the package reads at run time, and works from the wheel itself.

An editable install reads the source tree, so it cannot show a file missing from `package-data`; this builds
the wheel (offline: `--no-build-isolation` with the venv's setuptools, a dev dependency) and imports the
package straight from the zip, where `importlib.resources` is the only way to reach the JS and CSS.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "botify_graph"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build from a copy of the sources, so no stale build/ folder of the checkout can fill a gap."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "jupyter-config", source / "jupyter-config")  # data-files: the server extension's config
    shutil.copytree(PACKAGE, source / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (found,) = out.glob("botify_graph-*.whl")
    return found


@pytest.mark.slow
def test_the_wheel_holds_every_module_and_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        str(p.relative_to(ROOT))
        for p in PACKAGE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix in (".py", ".js", ".css", ".typed")
    }
    assert {"botify_graph/py.typed", "botify_graph/render/assets/graphview.js"} <= expected
    assert {"botify_graph/render/assets/graphview.css", "botify_graph/render/assets/report.css"} <= expected
    assert sorted(expected - names) == []
    # JupyterLab loads the download links' route from this file, installed into <prefix>/etc/jupyter/
    config = "etc/jupyter/jupyter_server_config.d/botify_graph.json"
    assert any(n.endswith(".data/data/" + config) for n in names), config


@pytest.mark.slow
def test_the_view_and_reports_render_from_the_zipped_wheel(wheel: Path, small: tuple[Path, Path]) -> None:
    script = f"""
import sys
sys.path.insert(0, {str(wheel)!r})
import botify_graph.render.graphview as view
from botify_graph.graph.summary import summarize
from botify_graph.render.html import asset_text, summary_html
assert view.__file__.startswith({str(wheel)!r}), view.__file__
page = view.graph_view_html({str(small[0])!r}, {str(small[1])!r})
assert asset_text("graphview.js") in page and "requestAnimationFrame" in page
assert asset_text("report.css") in summary_html(summarize({str(small[0])!r}))
print("ok")
"""
    done = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
