"""Alembic environment: the URL comes from settings (or the -x url=... option)."""

from __future__ import annotations

from typing import Any

from alembic import context

import services.store.models  # noqa: F401 - registers the article tables
import shared.models  # noqa: F401 - registers the shared tables
from services.store.models import POSTGRESQL_ONLY_INDEXES
from shared.db import Base, get_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url") or None
    connectable = config.attributes.get("connection") or get_engine(url)
    if hasattr(connectable, "connect"):
        with connectable.connect() as connection:
            _run(connection)
    else:
        _run(connectable)


def _include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Indexes declared for PostgreSQL only (``ddl_if``) are not drift on SQLite."""
    if type_ == "index" and not reflected and name in POSTGRESQL_ONLY_INDEXES:
        return bool(context.get_bind().dialect.name == "postgresql")
    return True


def _run(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        include_object=_include_object,
    )
    with context.begin_transaction():
        context.run_migrations()
    if hasattr(connection, "commit"):
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
