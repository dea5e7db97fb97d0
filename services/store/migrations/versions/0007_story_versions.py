"""stories: a version per story row, for the store workers' cache of open stories

* ``stories.version`` (indexed): on PostgreSQL a value of the sequence
  ``story_versions`` taken by every write of the row. Writes of stories happen under
  the clustering's advisory lock, so versions are committed in order and a worker
  that keeps the open stories in memory reads only the rows with a version above the
  highest it has seen.
* ``story_resets`` (PostgreSQL): advanced by every dissolution of stories (``newswire
  stories rebuild``), so the workers drop their cached stories.
* ``story_keys`` loses its foreign key to ``stories``: only the clustering writes it
  (under its lock) and deletes it with the story; the check per inserted row doubled
  the cost of the clustering's largest write.

Existing stories keep version 0 (the caches load them by date on their first batch).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stories") as batch:
        batch.add_column(
            sa.Column("version", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
        )
    op.create_index("ix_stories_version", "stories", ["version"])
    with op.batch_alter_table("story_keys") as batch:
        batch.drop_constraint("fk_story_keys_story_id_stories", type_="foreignkey")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE story_versions AS bigint")
        op.execute("CREATE SEQUENCE story_resets AS bigint")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE story_resets")
        op.execute("DROP SEQUENCE story_versions")
    with op.batch_alter_table("story_keys") as batch:
        batch.create_foreign_key(
            "fk_story_keys_story_id_stories", "stories", ["story_id"], ["id"], ondelete="CASCADE"
        )
    op.drop_index("ix_stories_version", table_name="stories")
    with op.batch_alter_table("stories") as batch:
        batch.drop_column("version")
