"""articles: each article's tags as arrays on its own row, for the counts by story

``entity_ids`` (ascending) with ``entity_counts`` (mentions, same order),
``country_codes`` with ``country_names``, ``region_schemes``, ``region_codes`` with
``region_names``: PostgreSQL arrays the store step writes with the article (see
``services/store/models.py``), so ``count=stories`` over a week reads the week's article
rows instead of some 70,000 tag rows by primary key. On SQLite the columns are JSON and
stay NULL (its queries read the tag tables).

Existing articles are filled from their tag rows (one ``UPDATE`` of every article).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INT_ARRAY = sa.JSON().with_variant(postgresql.ARRAY(sa.Integer()), "postgresql")
TEXT_ARRAY = sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), "postgresql")
COLUMNS = (
    ("entity_ids", INT_ARRAY),
    ("entity_counts", INT_ARRAY),
    ("country_codes", TEXT_ARRAY),
    ("country_names", TEXT_ARRAY),
    ("region_schemes", TEXT_ARRAY),
    ("region_codes", TEXT_ARRAY),
    ("region_names", TEXT_ARRAY),
)

# Every article's arrays from its tag rows, in one pass over the articles (an article
# without rows of a kind gets empty arrays of that kind).
BACKFILL = (
    "UPDATE articles a SET "
    "(entity_ids, entity_counts) = (SELECT coalesce(array_agg(entity_id ORDER BY entity_id), "
    "'{}'), coalesce(array_agg(count ORDER BY entity_id), '{}') "
    "FROM article_entities WHERE article_id = a.id), "
    "(country_codes, country_names) = (SELECT coalesce(array_agg(code ORDER BY code), '{}'), "
    "coalesce(array_agg(name ORDER BY code), '{}') "
    "FROM article_countries WHERE article_id = a.id), "
    "(region_schemes, region_codes, region_names) = (SELECT "
    "coalesce(array_agg(scheme ORDER BY scheme, code), '{}'), "
    "coalesce(array_agg(code ORDER BY scheme, code), '{}'), "
    "coalesce(array_agg(name ORDER BY scheme, code), '{}') "
    "FROM article_regions WHERE article_id = a.id)"
)


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        for name, type_ in COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(BACKFILL)


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
