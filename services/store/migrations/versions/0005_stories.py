"""stories: events across sources (online clustering after the article write)

Adds ``stories`` (one row per event, with the profile the clustering compares new
articles with), ``story_keys`` (entities, places and title terms of a story, for the
candidate lookup and the entity/country/region filters), ``story_terms`` (document
frequencies of the features the clustering weighs) and ``articles.story_id``
with a partial index over the articles not yet in a story (the clustering backlog).
Existing articles are left unclustered: ``newswire stories rebuild`` (or the
``store.cluster_stories`` sweep) groups them after the upgrade.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("article_id", sa.String(length=64), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("article_count", sa.Integer(), nullable=False),
        sa.Column("source_count", sa.Integer(), nullable=False),
        sa.Column("growth", sa.Float(), nullable=False),
        sa.Column("profile", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stories")),
    )
    op.create_index("ix_stories_last_seen_id", "stories", ["last_seen", "id"])
    op.create_index("ix_stories_first_seen_id", "stories", ["first_seen", "id"])
    op.create_index("ix_stories_article_count_id", "stories", ["article_count", "id"])
    op.create_index("ix_stories_growth_id", "stories", ["growth", "id"])
    op.create_table(
        "story_keys",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["story_id"],
            ["stories.id"],
            name=op.f("fk_story_keys_story_id_stories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", "story_id", name=op.f("pk_story_keys")),
    )
    op.create_index(op.f("ix_story_keys_story_id"), "story_keys", ["story_id"])
    op.create_table(
        "story_terms",
        sa.Column("term", sa.String(length=120), nullable=False),
        sa.Column("articles", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("term", name=op.f("pk_story_terms")),
    )
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("story_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_articles_story_id"), "articles", ["story_id"])
    op.create_index(
        "ix_articles_unclustered",
        "articles",
        ["dated_at", "id"],
        postgresql_where=sa.text("story_id IS NULL"),
        sqlite_where=sa.text("story_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_articles_unclustered", table_name="articles")
    op.drop_index(op.f("ix_articles_story_id"), table_name="articles")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("story_id")
    op.drop_table("story_terms")
    op.drop_index(op.f("ix_story_keys_story_id"), table_name="story_keys")
    op.drop_table("story_keys")
    op.drop_index("ix_stories_growth_id", table_name="stories")
    op.drop_index("ix_stories_article_count_id", table_name="stories")
    op.drop_index("ix_stories_first_seen_id", table_name="stories")
    op.drop_index("ix_stories_last_seen_id", table_name="stories")
    op.drop_table("stories")
