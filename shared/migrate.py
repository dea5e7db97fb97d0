"""The database schema, through Alembic only: ``newswire db upgrade`` / ``newswire db check``,
and :func:`ensure_schema` for the embedded SQLite default.

This is the one home of "make sure the schema is there": the CLI, the API and every
service import it from here (``shared`` imports no service). The migrations cover every
table (ingest records, dead letters, articles, ...); their scripts live in
``services/store/migrations`` and are found by path, not imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.db import normalize_url
from shared.settings import get_settings

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "services" / "store" / "migrations"


def _alembic() -> Any:
    # Deferred on purpose: alembic takes about a second to import and most commands (and
    # every worker start-up on PostgreSQL) never touch the schema.
    from alembic import command

    return command


def __getattr__(name: str) -> Any:
    """``shared.migrate.command`` (alembic's commands) for callers that drive alembic."""
    if name == "command":
        return _alembic()
    raise AttributeError(name)


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config  # deferred with alembic itself (see _alembic)

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url or get_settings().database_url))
    return cfg


def upgrade(url: str | None = None, revision: str = "heads") -> None:
    _alembic().upgrade(alembic_config(url), revision)


def check(url: str | None = None) -> None:
    """Raise when the models and the migrations disagree."""
    _alembic().check(alembic_config(url))


def revision(message: str, url: str | None = None) -> None:
    _alembic().revision(alembic_config(url), message=message, autogenerate=True)


def ensure_schema() -> None:
    """On the embedded SQLite default, create or upgrade the schema on first use (a server
    database is migrated by ``newswire db upgrade``, the compose ``migrate`` service)."""
    if get_settings().database_url.startswith("sqlite"):
        upgrade()
