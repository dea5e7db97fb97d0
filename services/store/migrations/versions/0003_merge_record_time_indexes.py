"""merge ingest and store heads; index ingest record times (lag and rate queries)

Revision ID: 0003
Revises: 0002_ingest, 0002_store
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = ("0002_ingest", "0002_store")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ingest_records", schema=None) as batch_op:
        batch_op.create_index("ix_ingest_records_enriched_at", ["enriched_at"], unique=False)
        batch_op.create_index("ix_ingest_records_stored_at", ["stored_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ingest_records", schema=None) as batch_op:
        batch_op.drop_index("ix_ingest_records_stored_at")
        batch_op.drop_index("ix_ingest_records_enriched_at")
