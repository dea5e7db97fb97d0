"""Throw-away PostgreSQL databases and the Redis base URL of the test run (not fixtures:
tests, benches and fixtures import these; the fixtures are in ``tests/conftest.py``).

PostgreSQL: NEWSWIRE_TEST_PG (default postgresql://postgres@127.0.0.1:5432/postgres) is
used to create a throw-away database; Redis: NEWSWIRE_TEST_REDIS (default
redis://127.0.0.1:6379).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from shared import db, migrate

PG_ADMIN = os.environ.get("NEWSWIRE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("NEWSWIRE_TEST_REDIS", "redis://127.0.0.1:6379")
ROOT = Path(__file__).resolve().parent.parent


def _admin_engine() -> sa.Engine:
    return sa.create_engine(db.normalize_url(PG_ADMIN), isolation_level="AUTOCOMMIT")


def create_pg_database(prefix: str = "nw_test") -> str:
    """Create an empty database; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    db.dispose_engine()
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@contextmanager
def migrated_pg_database(prefix: str = "nw_test") -> Iterator[str]:
    """A database with every migration applied, dropped on exit; yields its URL."""
    url = create_pg_database(prefix)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        drop_pg_database(url)


@contextmanager
def migrated_database(backend: str, prefix: str, directory: Path) -> Iterator[str]:
    """A database of ``backend`` ("postgresql", or "sqlite": a file in ``directory``) with
    every migration applied; dropped (PostgreSQL) or released (SQLite) on exit."""
    if backend == "postgresql":
        with migrated_pg_database(prefix) as url:
            yield url
        return
    url = f"sqlite:///{directory / f'{prefix}.db'}"
    try:
        migrate.upgrade(url)
        yield url
    finally:
        db.dispose_engine()
