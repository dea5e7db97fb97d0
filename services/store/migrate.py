"""Alembic, driven from code: the implementation is :mod:`shared.migrate` (one home for the
schema, importable by every service); kept here for ``services.store.migrate`` callers."""

from typing import Any

from shared import migrate as _migrate
from shared.migrate import MIGRATIONS, alembic_config, check, ensure_schema, revision, upgrade


def __getattr__(name: str) -> Any:
    return getattr(_migrate, name)  # ``command``: alembic's commands, imported on first use


__all__ = [
    "MIGRATIONS",
    "alembic_config",
    "check",
    "ensure_schema",
    "revision",
    "upgrade",
]
