"""botify-graph: a website's internal link graph out of the Botify API.

Cell-sized async functions (each takes the client from `make_client` first)::

    from botify_graph import make_client, clean_url, verify_token, fetch_analyses_light, find_optimal_depth
    project = clean_url("https://app.botify.com/my-org/my-project/20241108/?tab=x")
    async with make_client(token) as client:
        user = await verify_token(client)
        analyses = await fetch_analyses_light(client, project)
        choice = await find_optimal_depth(client, project, analyses[0])

or everything at once with `await run_export(ExportParams(project_url=...))`.
Names are imported lazily so `import botify_graph` stays cheap.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from ._version import __version__

# The library logs under "botify_graph" and installs no handler of its own (the application decides where
# records go); the NullHandler keeps Python's last-resort handler from printing warnings to stderr.
logging.getLogger("botify_graph").addHandler(logging.NullHandler())

# fmt: off
_EXPORTS = {
    # urls
    "clean_url": "urls", "ProjectRef": "urls", "project_dir": "layout", "export_filename": "layout",
    # client, trace, doctor
    "make_client": "client", "DEFAULT_BASE_URL": "client", "open_trace": "trace", "Trace": "trace",
    "run_doctor": "doctor", "DoctorReport": "doctor",
    # api
    "verify_token": "api", "check_token": "api", "TokenCheck": "api", "fetch_analyses_light": "api",
    "resolve_analysis": "api",
    "fetch_collections": "api", "available_meta_fields": "api", "query": "api", "edges_per_depth": "api",
    "fetch_field_catalog": "api", "check_meta_fields": "api", "FieldCatalog": "fields", "column_name": "fields",
    "find_optimal_depth": "api", "create_export_job": "api", "find_existing_job": "api", "get_job": "api",
    "export_plan": "api", "ExportPlan": "partition",
    # jobs, download
    "poll_job": "jobs", "poll_schedule": "jobs", "download_export": "download",
    # depth, queries, models
    "choose_depth": "depth", "DepthChoice": "depth", "META_FIELDS": "queries",
    "links_export_payload": "queries", "meta_export_payload": "queries", "Analysis": "models", "Job": "models",
    # pipeline
    "run_export": "pipeline", "ExportParams": "pipeline", "ExportResult": "pipeline", "Event": "pipeline",
    "run_sync": "sync", "run_export_sync": "sync",
    # many projects
    "run_batch": "batch", "BatchResult": "batch", "read_projects": "projects",
    # state
    "ExportRegistry": "registry", "Sidecar": "state", "ParamLog": "state",
    "load_token": "token", "save_token": "token",
    # graphs
    "summarize": "graph.summary", "load_graph": "graph.load", "compare_graphs": "graph.compare",
    "serve_for_cosmograph": "handoff", "graph_view": "render.widgets", "depth_chart": "render.widgets",
    # front ends
    "Wizard": "wizard",
}
# fmt: on

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'botify_graph' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover
    from .api import (
        TokenCheck,
        available_meta_fields,
        check_token,
        check_meta_fields,
        create_export_job,
        edges_per_depth,
        export_plan,
        fetch_analyses_light,
        fetch_collections,
        fetch_field_catalog,
        find_existing_job,
        find_optimal_depth,
        get_job,
        query,
        resolve_analysis,
        verify_token,
    )
    from .client import DEFAULT_BASE_URL, make_client
    from .doctor import DoctorReport, run_doctor
    from .trace import Trace, open_trace
    from .depth import DepthChoice, choose_depth
    from .partition import ExportPlan
    from .fields import FieldCatalog, column_name
    from .download import download_export
    from .jobs import poll_job, poll_schedule
    from .models import Analysis, Job
    from .pipeline import Event, ExportParams, ExportResult, run_export
    from .batch import BatchResult, run_batch
    from .projects import read_projects
    from .sync import run_export_sync, run_sync
    from .queries import META_FIELDS, links_export_payload, meta_export_payload
    from .registry import ExportRegistry
    from .state import ParamLog, Sidecar
    from .token import load_token, save_token
    from .layout import export_filename, project_dir
    from .urls import ProjectRef, clean_url
    from .wizard import Wizard
    from .graph.summary import summarize
    from .graph.load import load_graph
    from .graph.compare import compare_graphs
    from .handoff import serve_for_cosmograph
    from .render.widgets import depth_chart, graph_view
