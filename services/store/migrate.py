"""Alembic, driven from code: the implementation is :mod:`shared.migrate` (one home for the
schema, importable by every service); kept here for ``services.store.migrate`` callers."""

from shared.migrate import (
    MIGRATIONS,
    alembic_config,
    check,
    command,
    ensure_schema,
    revision,
    upgrade,
)

__all__ = [
    "MIGRATIONS",
    "alembic_config",
    "check",
    "command",
    "ensure_schema",
    "revision",
    "upgrade",
]
