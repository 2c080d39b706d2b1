"""The repository's notebooks stay as committed: no outputs, no widget state, no kernel-dependent churn.

Why JupyterLab marked `notebooks/link_graph.ipynb` modified as soon as it was opened: when a kernel starts,
Lab writes the kernel's `language_info` (codemirror_mode, file_extension, mimetype, nbconvert_exporter,
pygments_lexer, version) into the notebook's metadata, and any difference marks the notebook dirty. The
committed notebook carried `{"name": "python"}` only. It now carries what ipykernel reports (`problems` checks
it), so opening it changes nothing; only a kernel of another Python version than the committed
`language_info.version` still differs, and saving then writes nothing of it (below).

Saving: a pre-save hook, loaded as a Jupyter server extension (`scripts/bootstrap` enables it in the
project's `.venv`), cleans a repository notebook (one under `notebooks/` or `templates/` of the folder
holding `notebooks/link_graph.ipynb`) before it is written: outputs, execution counts and widget state are
dropped and the metadata stays as on disk. So the wizard's output is never saved into the repository's
notebook, whatever is clicked; "File → Save As" elsewhere keeps outputs as usual.

    python -m botify_graph.hygiene [--fix] [NOTEBOOK ...]   # check (exit 1 and say what) or clean them

`scripts/check` runs the check on the committed notebooks.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import layout

__all__ = [
    "KERNEL_LANGUAGE_KEYS",
    "clean_notebook",
    "is_repository_notebook",
    "kernel_language_info",
    "main",
    "pre_save_hook",
    "problems",
    "repository_notebooks",
]

#: the keys of `language_info` a Python kernel reports (ipykernel); JupyterLab writes them all on open
KERNEL_LANGUAGE_KEYS = (
    "codemirror_mode",
    "file_extension",
    "mimetype",
    "name",
    "nbconvert_exporter",
    "pygments_lexer",
    "version",
)
_FOLDERS = ("notebooks", "templates")


def kernel_language_info() -> dict[str, Any]:
    """The `language_info` a Python kernel of this interpreter reports (as ipykernel builds it)."""
    return {
        "codemirror_mode": {"name": "ipython", "version": sys.version_info[0]},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": f"ipython{sys.version_info[0]}",
        "version": sys.version.split()[0],
    }


def problems(nb: dict[str, Any]) -> list[str]:
    """What keeps a notebook from being committed as it is (empty: it is clean)."""
    found = []
    for i, cell in enumerate(nb.get("cells", [])):
        where = f"cell {i + 1} ({cell.get('id', 'no id')})"
        if cell.get("cell_type") == "code":
            if cell.get("outputs"):
                found.append(f"{where} has outputs")
            if cell.get("execution_count") is not None:
                found.append(f"{where} has an execution count")
        if "execution" in cell.get("metadata", {}):
            found.append(f"{where} has execution timings in its metadata")
    meta = nb.get("metadata", {})
    if "widgets" in meta:
        found.append("the notebook metadata holds widget state (metadata.widgets)")
    missing = [k for k in KERNEL_LANGUAGE_KEYS if k not in meta.get("language_info", {})]
    if missing:
        found.append(
            "metadata.language_info lacks " + ", ".join(missing) + ": JupyterLab adds them when a kernel starts, "
            "which marks the notebook modified as soon as it is opened"
        )
    return found


def clean_notebook(nb: dict[str, Any], *, metadata_from: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of `nb` without outputs, execution counts, timings or widget state; with `metadata_from` (the
    notebook as committed), its `language_info` and `kernelspec` are kept instead of the kernel's."""
    out = copy.deepcopy(nb)
    for cell in out.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)
    meta = out.setdefault("metadata", {})
    meta.pop("widgets", None)
    if metadata_from is not None:
        for key in ("language_info", "kernelspec"):
            if key in metadata_from.get("metadata", {}):
                meta[key] = copy.deepcopy(metadata_from["metadata"][key])
    return out


def is_repository_notebook(path: str | Path) -> bool:
    """True for a notebook under `notebooks/` or `templates/` of a botify-graph repository."""
    target = Path(path).resolve()
    if target.suffix != ".ipynb":
        return False
    root = layout.repo_root(target.parent)
    if root is None:
        return False
    return any(folder in target.parents for folder in (root / name for name in _FOLDERS))


def repository_notebooks(root: str | Path) -> list[Path]:
    """The committed notebooks of a repository (checkpoints left out)."""
    base = Path(root)
    return sorted(
        p
        for name in _FOLDERS
        for p in (base / name).rglob("*.ipynb")
        if ".ipynb_checkpoints" not in p.parts and not p.name.endswith(".state.ipynb")
    )


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def pre_save_hook(model: dict[str, Any], path: str, contents_manager: Any, **kwargs: Any) -> None:
    """Jupyter's pre-save hook: a repository notebook is saved clean (the hook changes `model` in place)."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    os_path = Path(contents_manager._get_os_path(path))  # the documented way FileContentsManager maps paths
    if not is_repository_notebook(os_path):
        return
    model["content"] = clean_notebook(model["content"], metadata_from=_read(os_path))


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "botify_graph.hygiene"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Register the pre-save hook (in addition to any the user configured)."""
    serverapp.contents_manager.register_pre_save_hook(pre_save_hook)
    serverapp.log.info("botify-graph: the repository's notebooks are saved without outputs")


def _write(path: Path, nb: dict[str, Any]) -> None:
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Check the repository's notebooks (exit 1 and list the problems), or clean them with --fix."""
    parser = argparse.ArgumentParser(prog="python -m botify_graph.hygiene", description=main.__doc__)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: the repository's notebooks")
    parser.add_argument("--fix", action="store_true", help="drop outputs, execution counts and widget state")
    args = parser.parse_args(argv)
    paths = args.notebooks or repository_notebooks(layout.repo_root() or Path.cwd())
    bad = 0
    for path in paths:
        nb = _read(path)
        if nb is None:
            print(f"{path}: not a readable notebook", file=sys.stderr)
            bad += 1
            continue
        if args.fix:
            cleaned = clean_notebook(nb)
            info = cleaned["metadata"].get("language_info", {})
            if any(k not in info for k in KERNEL_LANGUAGE_KEYS):  # complete it once; never churn the version
                cleaned["metadata"]["language_info"] = {**kernel_language_info(), **info}
            if cleaned != nb:
                _write(path, cleaned)
                print(f"{path}: cleaned")
            nb = cleaned
        found = problems(nb)
        for problem in found:
            print(f"{path}: {problem}", file=sys.stderr)
        bad += bool(found)
    if bad:
        print("Run: python -m botify_graph.hygiene --fix   (outputs never belong in the repository)", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
