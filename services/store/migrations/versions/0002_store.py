"""store: sort key, full-text and case-insensitive lookup indexes

Revision ID: 0002_store
Revises: 0001
Create Date: 2026-11-25 12:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_store"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS_EXPRESSION = (
    "to_tsvector('english'::regconfig, "
    "coalesce(title, '') || ' ' || left(coalesce(body, ''), 100000))"
)


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dated_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE articles SET dated_at = coalesce(published_at, ingested_at)")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.alter_column("dated_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_index("ix_articles_dated_at_id", ["dated_at", "id"], unique=False)
    with op.batch_alter_table("entities", schema=None) as batch_op:
        batch_op.create_index("ix_entities_name_lower", [sa.text("lower(name)")], unique=False)
    with op.batch_alter_table("article_regions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_article_regions_name_lower", [sa.text("lower(name)")], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_articles_fts ON articles USING gin ({FTS_EXPRESSION})")
        # Entity and country frequencies are Zipf-like: a long MCV list keeps the
        # planner's estimate of "articles mentioning X" close to the truth.
        op.execute("ALTER TABLE article_entities ALTER COLUMN entity_id SET STATISTICS 2000")
        op.execute("ALTER TABLE article_countries ALTER COLUMN code SET STATISTICS 1000")
        op.execute("ALTER TABLE article_regions ALTER COLUMN code SET STATISTICS 1000")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_articles_fts")
        for table, column in (
            ("article_entities", "entity_id"),
            ("article_countries", "code"),
            ("article_regions", "code"),
        ):
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STATISTICS -1")
    with op.batch_alter_table("article_regions", schema=None) as batch_op:
        batch_op.drop_index("ix_article_regions_name_lower")
    with op.batch_alter_table("entities", schema=None) as batch_op:
        batch_op.drop_index("ix_entities_name_lower")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index("ix_articles_dated_at_id")
        batch_op.drop_column("dated_at")
