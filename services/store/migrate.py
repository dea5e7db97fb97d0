"""Alembic, driven from code: ``newswire db upgrade`` / ``newswire db check``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from shared.db import normalize_url
from shared.settings import get_settings

MIGRATIONS = Path(__file__).parent / "migrations"


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
