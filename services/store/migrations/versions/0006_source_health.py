"""ops: per-source health (feed failure runs, rejections by source, articles by source and time)

* ``feeds`` gains ``consecutive_failures``, ``failing_since`` and ``last_success_at``:
  the capped backoff of failing feeds and the reason the console shows.
* ``source_rejections``: items rejected at ingest, per source, UTC day and reason.
* ``ix_articles_source_ingested_at``: per-source counts and last article without
  reading the article rows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.add_column(
            sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "source_rejections",
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("source", "day", "reason", name=op.f("pk_source_rejections")),
    )
    op.create_index(
        "ix_articles_source_ingested_at", "articles", ["source", "ingested_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_articles_source_ingested_at", table_name="articles")
    op.drop_table("source_rejections")
    with op.batch_alter_table("feeds") as batch:
        batch.drop_column("last_success_at")
        batch.drop_column("failing_since")
        batch.drop_column("consecutive_failures")
