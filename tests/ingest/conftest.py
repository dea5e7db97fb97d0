"""Fixtures of the ingest tests: a local HTTP server we write, embedded PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared import dispatch
from tests.ingest.helpers import Sent, Site


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


@pytest.fixture
def fetch_env(env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Fetching from 127.0.0.1 allowed, no politeness delay."""
    env.setenv("NEWSWIRE_FETCH_ALLOW_PRIVATE", "1")
    env.setenv("NEWSWIRE_FETCH_DOMAIN_INTERVAL", "0")
    return env


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    """Messages for the next stage (enrich) are captured; ingest's own run in-process."""
    captured = Sent()
    original = dispatch.send

    def fake_send(task_name: str, payload: dict[str, Any], **kw: Any) -> None:
        if task_name.startswith("ingest."):
            original(task_name, payload, **kw)
            return
        captured.messages.append((task_name, payload))

    monkeypatch.setattr(dispatch, "send", fake_send)
    return captured


@pytest.fixture
def ingest_pg(fetch_env: pytest.MonkeyPatch, fresh_pg_url: str) -> str:
    """Embedded mode on a fresh migrated PostgreSQL database; local fetching allowed."""
    fetch_env.setenv("NEWSWIRE_DATABASE_URL", fresh_pg_url)
    return fresh_pg_url
