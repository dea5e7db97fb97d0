"""store: full-text documents in their own table, filled after the article write

Replaces the expression GIN index on articles (built inside every batch upsert) by
``article_search`` (one tsvector per article, GIN-indexed) and the ``search_pending``
outbox. Existing articles are queued, not indexed here: the ``store.index_search``
sweep (or ``newswire search index``) builds their documents after the upgrade.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_FTS_EXPRESSION = (
    "to_tsvector('english'::regconfig, "
    "coalesce(title, '') || ' ' || left(coalesce(body, ''), 100000))"
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "article_search",
        sa.Column("article_id", sa.String(length=64), nullable=False),
        sa.Column(
            "document", sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql"), nullable=False
        ),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_search_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_article_search")),
    )
    op.create_table(
        "search_pending",
        sa.Column("article_id", sa.String(length=64), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_search_pending_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_search_pending")),
    )
    if postgres:
        op.create_index(
            "ix_article_search_document",
            "article_search",
            ["document"],
            unique=False,
            postgresql_using="gin",
        )
        op.execute("DROP INDEX IF EXISTS ix_articles_fts")
        op.execute(
            "INSERT INTO search_pending (article_id, queued_at) SELECT id, now() FROM articles"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_articles_fts ON articles USING gin ({OLD_FTS_EXPRESSION})")
        op.drop_index("ix_article_search_document", table_name="article_search")
    op.drop_table("search_pending")
    op.drop_table("article_search")
