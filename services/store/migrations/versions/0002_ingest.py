"""ingest: near-duplicate signatures on near_dup_bands

Revision ID: 0002_ingest
Revises: 0001
Create Date: 2026-11-25 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_ingest"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("near_dup_bands", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signature", sa.LargeBinary(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_near_dup_bands_article_id"), ["article_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("near_dup_bands", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_near_dup_bands_article_id"))
        batch_op.drop_column("signature")
