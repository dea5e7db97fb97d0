"""Shared fixtures: a real PostgreSQL database and a real Redis db per test session.

PostgreSQL: NEWSWIRE_TEST_PG (default postgresql://postgres@127.0.0.1:5432/postgres)
is used to create a throw-away database; Redis: NEWSWIRE_TEST_REDIS (default
redis://127.0.0.1:6379) with a db number of its own.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared import db
from shared.settings import reset_settings
from testkit.databases import PG_ADMIN, REDIS_BASE, ROOT, create_pg_database, drop_pg_database

# Re-exported for callers of the old location; import them from testkit.databases.
__all__ = ["PG_ADMIN", "REDIS_BASE", "ROOT", "create_pg_database", "drop_pg_database"]


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A migrated PostgreSQL database for the whole session."""
    from services.store import migrate

    url = create_pg_database()
    migrate.upgrade(url)
    yield url
    drop_pg_database(url)


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """A migrated PostgreSQL database for one test."""
    from services.store import migrate

    url = create_pg_database()
    migrate.upgrade(url)
    yield url
    drop_pg_database(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    from services.store import migrate

    url = f"sqlite:///{tmp_path / 'newswire.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database number of its own, flushed before and after.

    Several test runs and workers may share this Redis (a developer's run beside CI).
    A number is taken only when it is empty and no client is connected to it, and is
    claimed with a lease key in database 0 (``SET NX``), so two sessions never pick
    the same one and flush each other's broker. The lease expires on its own if a
    session dies without releasing it."""
    import redis

    lease_client = redis.Redis.from_url(f"{REDIS_BASE}/0")
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + 120
    number = None
    while number is None:
        busy = {int(c["db"]) for c in lease_client.client_list()}
        for candidate in range(1, 16):
            if candidate in busy:
                continue
            key = f"newswire:test:redis-db:{candidate}"
            if not lease_client.set(key, owner, nx=True, ex=900):
                continue
            probe = redis.Redis.from_url(f"{REDIS_BASE}/{candidate}")
            empty = probe.dbsize() == 0
            probe.close()
            if empty:
                number = candidate
                break
            lease_client.delete(key)  # someone's data without a lease: leave it alone
        else:
            if time.monotonic() > deadline:
                raise RuntimeError("no free Redis database number (1-15) for the tests")
            time.sleep(0.5)
    url = f"{REDIS_BASE}/{number}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()
        key = f"newswire:test:redis-db:{number}"
        if lease_client.get(key) == owner.encode():
            lease_client.delete(key)
        lease_client.close()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set NEWSWIRE_* variables for one test; settings and engines are re-read."""

    def _apply() -> None:
        reset_settings()
        db.dispose_engine()

    monkeypatch.delenv("NEWSWIRE_BROKER_URL", raising=False)
    _apply()
    original_setenv = monkeypatch.setenv

    def setenv(name: str, value: str, prepend: str | None = None) -> None:
        original_setenv(name, value, prepend)
        _apply()

    monkeypatch.setenv = setenv  # type: ignore[method-assign]
    yield monkeypatch
    monkeypatch.undo()
    _apply()


@pytest.fixture
def embedded_pg(env: pytest.MonkeyPatch, fresh_pg_url: str) -> str:
    """Embedded mode (no broker) writing into a fresh PostgreSQL database."""
    env.setenv("NEWSWIRE_DATABASE_URL", fresh_pg_url)
    return fresh_pg_url
