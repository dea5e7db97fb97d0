"""Database base: typed declarative base, naming convention, engine created after fork."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from shared.settings import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_sessionmakers: dict[str, sessionmaker[Session]] = {}


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    # SQLite's lower() and LIKE fold ASCII letters only ('Édouard' stays 'Édouard');
    # unicode_lower() is Python's, as PostgreSQL's lower() folds every letter.
    dbapi_conn.create_function("unicode_lower", 1, _unicode_lower, deterministic=True)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def normalize_url(url: str) -> str:
    """Let users write postgresql:// and still get the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def get_engine(url: str | None = None) -> Engine:
    url = normalize_url(url or get_settings().database_url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                engine = create_engine(url, connect_args={"timeout": 30})
                event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = create_engine(
                    url,
                    pool_pre_ping=True,
                    pool_size=5,
                    max_overflow=5,
                    # A database host that drops packets must not hang /health or a task.
                    connect_args={"connect_timeout": 10} if "+psycopg" in url else {},
                )
            _engines[url] = engine
        return engine


def get_sessionmaker(url: str | None = None) -> sessionmaker[Session]:
    engine = get_engine(url)
    key = str(engine.url)
    with _lock:
        sm = _sessionmakers.get(key)
        if sm is None:
            sm = sessionmaker(engine, expire_on_commit=False)
            _sessionmakers[key] = sm
        return sm


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error."""
    with get_sessionmaker(url).begin() as session:
        yield session


def dispose_engine() -> None:
    """Drop pooled connections (after fork, in tests)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose(close=False)
        _engines.clear()
        _sessionmakers.clear()


def is_postgres(engine_or_session: Any) -> bool:
    """True on PostgreSQL, for an engine, a connection or a session (bound or not)."""
    get_bind = getattr(engine_or_session, "get_bind", None)
    bind = get_bind() if get_bind is not None else engine_or_session
    return bool(bind.dialect.name == "postgresql")
