"""The database schema, through Alembic only: ``newswire db upgrade`` / ``newswire db check``,
and :func:`ensure_schema` for the embedded SQLite default.

This is the one home of "make sure the schema is there": the CLI, the API and every
service import it from here (``shared`` imports no service). The migrations cover every
table (ingest records, dead letters, articles, ...); their scripts live in
``services/store/migrations`` and are found by path, not imported.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from shared.db import normalize_url
from shared.settings import get_settings

MIGRATIONS = Path(__file__).resolve().parent.parent / "services" / "store" / "migrations"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url or get_settings().database_url))
    return cfg


def upgrade(url: str | None = None, revision: str = "heads") -> None:
    command.upgrade(alembic_config(url), revision)


def check(url: str | None = None) -> None:
    """Raise when the models and the migrations disagree."""
    command.check(alembic_config(url))


def revision(message: str, url: str | None = None) -> None:
    command.revision(alembic_config(url), message=message, autogenerate=True)


def ensure_schema() -> None:
    """On the embedded SQLite default, create or upgrade the schema on first use (a server
    database is migrated by ``newswire db upgrade``, the compose ``migrate`` service)."""
    if get_settings().database_url.startswith("sqlite"):
        upgrade()
