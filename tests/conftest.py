"""Shared fixtures: the fake Botify API over real sockets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from botify_graph.fake import FakeBotify, Scenario


@pytest.fixture
def fake_api() -> Iterator[FakeBotify]:
    """A fresh fake Botify API at scale 0.02 (~1.4k pages); jobs are DONE on the first poll.

    Everything else is contract-normal, including 5 requests/s per endpoint. Change the behaviour with
    `fake_api.scenario = Scenario(...)`; read `fake_api.requests` / `fake_api.jobs` to assert on traffic.
    """
    with FakeBotify(scale=0.02, scenario=Scenario(polls_to_done=1)) as fake:
        yield fake


@pytest.fixture(scope="session")
def fake_api_session() -> Iterator[FakeBotify]:
    """One fake API for the whole session, for read-only tests: do not change its scenario."""
    with FakeBotify(scale=0.02, scenario=Scenario(polls_to_done=1)) as fake:
        yield fake
