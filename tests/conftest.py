"""Shared fixtures: a real PostgreSQL database and a real Redis db per test session, and
broker mode on them (``broker``: used by the ops and console tests).

PostgreSQL: NEWSWIRE_TEST_PG (default postgresql://postgres@127.0.0.1:5432/postgres)
is used to create a throw-away database; Redis: NEWSWIRE_TEST_REDIS (default
redis://127.0.0.1:6379) with a db number of its own.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import services.entrypoints.tasks  # noqa: F401 - every service's tasks, as the entry points register them
from shared import db, migrate
from shared.celery_app import reset_app
from shared.settings import reset_settings
from testkit.databases import REDIS_BASE, migrated_pg_database
from testkit.workers import Broker


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A migrated PostgreSQL database for the whole session."""
    with migrated_pg_database() as url:
        yield url


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """A migrated PostgreSQL database for one test."""
    with migrated_pg_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'newswire.db'}"
    migrate.upgrade(url)
    return url


def _close_cached_clients(url: str) -> None:
    """Close what this process keeps connected to a test's Redis database after the test: the
    cached control app (``services.ops.queues.control_app``). Its idle connections made the
    number look taken for the rest of the session."""
    from services.ops import queues

    app = queues._control_apps.pop(url, None)
    if app is not None:
        app.close()


# A client idle longer than this is a pool left over by a finished test, not a live broker
# user (a consuming worker polls its queues every second or so).
LIVE_CLIENT_IDLE_S = 30


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database number of its own, flushed before and after.

    Several test runs and workers may share this Redis (a developer's run beside CI).
    A number is taken only when it is empty and no live client (idle under
    ``LIVE_CLIENT_IDLE_S``) is connected to it, and is
    claimed with a lease key in database 0 (``SET NX``), so two sessions never pick
    the same one and flush each other's broker. The lease expires on its own if a
    session dies without releasing it."""
    import redis

    lease_client = redis.Redis.from_url(f"{REDIS_BASE}/0")
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + 120
    number = None
    while number is None:
        busy = {
            int(c["db"])
            for c in lease_client.client_list()
            if int(c.get("idle", 0)) < LIVE_CLIENT_IDLE_S
        }
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
        _close_cached_clients(url)
        key = f"newswire:test:redis-db:{number}"
        if lease_client.get(key) == owner.encode():
            lease_client.delete(key)
        lease_client.close()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set NEWSWIRE_* variables for one test; settings, engines and the Celery app are
    re-read."""

    def _apply() -> None:
        reset_settings()
        db.dispose_engine()
        reset_app()  # the next get_app() is built from the new settings

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


@pytest.fixture
def broker(env: pytest.MonkeyPatch, redis_url: str, fresh_pg_url: str) -> Iterator[Broker]:
    """Broker mode in this process: ``dispatch.send`` publishes to the test Redis db."""
    import redis

    # Not pytest's tmp_path: concurrent pytest runs on this machine rotate that directory.
    tmp_path = Path(tempfile.mkdtemp(prefix="nw-ops-test-"))

    env.setenv("NEWSWIRE_BROKER_URL", redis_url)
    env.setenv("NEWSWIRE_DATABASE_URL", fresh_pg_url)
    env.setenv("NEWSWIRE_BATCH_SIZE", "2")  # each setenv resets the app: get_app() uses Redis
    client = redis.Redis.from_url(redis_url)
    yield Broker(redis_url, fresh_pg_url, tmp_path, env, client)
    client.close()
    reset_app()  # its pool is on this test's Redis database
    if not os.environ.get("NW_OPS_KEEP_LOGS"):
        shutil.rmtree(tmp_path, ignore_errors=True)
