"""A fake Botify API: real HTTP on 127.0.0.1, synthetic sites, and the faults the real one has.

    from botify_graph.fake import FakeBotify, Scenario, DEMO_TOKEN
    with FakeBotify(scale=0.02, scenario=Scenario(polls_to_done=1)) as fake:
        fake.base_url   # http://127.0.0.1:PORT/v1, token fake.token
        fake.site("example-org", "example.com").crawl("20241108").cumulative_edges()

Modules: `site` (deterministic projects, pages and links), `bql` (the query engine), `exports` (jobs and
CSV files), `scenario` (fault knobs and presets), `app` (request handling), `server` (the listeners).
It implements `shared/botify-api.md`, including the unpleasant parts; see `Scenario` for the knobs.
"""

from __future__ import annotations

from .app import DEMO_TOKEN, RequestRecord
from .bql import BqlError, compile_query
from .exports import FakeJob
from .scenario import ALWAYS, SCENARIOS, Scenario
from .server import FakeBotify, serve
from .site import DEMO_ORG, DEMO_USERNAME, PROJECTS, Crawl, Site, SiteSpec

__all__ = [
    "ALWAYS",
    "DEMO_ORG",
    "DEMO_TOKEN",
    "DEMO_USERNAME",
    "PROJECTS",
    "SCENARIOS",
    "BqlError",
    "Crawl",
    "FakeBotify",
    "FakeJob",
    "RequestRecord",
    "Scenario",
    "Site",
    "SiteSpec",
    "compile_query",
    "serve",
]
