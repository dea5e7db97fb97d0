"""Start-up checks of a process: the database and the broker answer, else one line naming
the variable and what to do, and exit 1 (no traceback)."""

from __future__ import annotations

import sys
import time
from urllib.parse import urlsplit

import click
import sqlalchemy as sa

from shared.db import normalize_url
from shared.settings import get_settings


def fail(message: str, code: int = 1) -> None:
    """One red ``error:`` line on stderr, then exit ``code``."""
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


def require_reachable(database: bool = True, broker: bool = True, wait: float = 20.0) -> None:
    """Start-up check of a service: the database and the broker answer within ``wait``
    seconds, else one line naming the variable and what to do, and exit 1 (no traceback)."""
    settings = get_settings()
    checks = []
    if database:
        checks.append(("NEWSWIRE_DATABASE_URL", settings.database_url, _ping_database))
    if broker and settings.broker_url:
        checks.append(("NEWSWIRE_BROKER_URL", settings.broker_url, _ping_broker))
    for variable, url, ping in checks:
        deadline = time.monotonic() + wait
        while True:
            try:
                ping(url)
                break
            except Exception as exc:  # noqa: BLE001 - reported as one line
                cause = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's
                reason = " ".join(str(cause).split())[:200] or type(exc).__name__
                words = ("password", "auth", "denied", "noperm", "does not exist")
                denied = any(w in reason.lower() for w in words)
                if denied or time.monotonic() >= deadline:
                    where = urlsplit(url).hostname or url.split("://")[0]
                    fail(
                        f"cannot use {variable} (host {where}): {reason}; check the URL and its "
                        "password, and that the server is running and reachable from here"
                    )
                time.sleep(2)


def _ping_database(url: str) -> None:
    if url.startswith("sqlite"):
        return
    engine = sa.create_engine(
        normalize_url(url), poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 5}
    )
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    finally:
        engine.dispose()


def _ping_broker(url: str) -> None:
    import redis  # deferred on purpose: 130 ms, only for commands that start a service

    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        client.ping()
    finally:
        client.close()
