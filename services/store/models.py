"""Article tables: who, where, when.

``articles.dated_at`` is the sort key of every listing: the published date, or the
ingest time when a source gives none, so keyset pagination never meets a NULL.

Full-text search on PostgreSQL runs on ``article_search``: one ``tsvector`` per article
over title and body (:data:`FTS_DOCUMENT_SQL`) with a GIN index. It is written in its
own transaction right after the article's (``repository.index_search``), not inside
the batch upsert: building the document and its GIN entries costs more than the
rest of an article's write together, so the upsert stays short and a search-index
failure never holds back articles and tags. ``search_pending`` is the outbox between
the two: the upsert queues every article it writes there in the same transaction, so
nothing is left unindexed even when the worker dies in between (the ``store.index_search``
sweep finishes what is left). SQLite falls back to ``LIKE`` over the articles
themselves (see ``queries.py``) and queues nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base
from shared.models import JSONType
from shared.schemas import utcnow

# Text search configuration and the share of the body that is indexed (tsvector caps at 1 MB).
FTS_CONFIG = "english"
FTS_BODY_CHARS = 100_000


# The search document of an article, as SQL over the articles table.
FTS_DOCUMENT_SQL = (
    f"to_tsvector('{FTS_CONFIG}'::regconfig, "
    f"coalesce(title, '') || ' ' || left(coalesce(body, ''), {FTS_BODY_CHARS}))"
)
TSVectorType = Text().with_variant(TSVECTOR(), "postgresql")
# The article's tags as arrays on its own row (PostgreSQL; NULL on SQLite), see Article.
IntArrayType = JSON().with_variant(ARRAY(Integer), "postgresql")
TextArrayType = JSON().with_variant(ARRAY(Text), "postgresql")
# Declared with ddl_if(dialect="postgresql"); migrations/env.py skips them elsewhere.
POSTGRESQL_ONLY_INDEXES = frozenset({"ix_article_search_document"})


class Article(Base):
    __tablename__ = "articles"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str | None] = mapped_column(Text)  # canonical URL (normalized at ingest)
    source: Mapped[str | None] = mapped_column(String(300), index=True)
    title: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    dated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    language: Mapped[str | None] = mapped_column(String(16), index=True)
    authors: Mapped[list[str]] = mapped_column(JSONType, default=list)
    content_hash: Mapped[str] = mapped_column(String(80), index=True)
    trace_id: Mapped[str] = mapped_column(String(64))
    enrichment_status: Mapped[str] = mapped_column(String(32), index=True)
    tagger_version: Mapped[str | None] = mapped_column(String(32), index=True)
    enrichment: Mapped[dict[str, Any]] = mapped_column(JSONType)
    enriched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The story the article belongs to (services/store/stories.py); NULL until clustered.
    # No foreign key: the clustering step owns both sides and a rebuild replaces stories
    # without touching every article row twice.
    story_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # PostgreSQL: the article's tags, copied from its tag rows by the store step in the
    # same statement as the article (repository._upsert_postgres), so a count over a
    # week of articles (count=stories) reads their rows alone instead of ~10 tag rows
    # each by primary key. Parallel arrays: entity ids (ascending) with their mention
    # counts; country codes with names; region schemes, codes and names. Empty arrays
    # for an article without such tags; NULL on SQLite, whose queries read the tag
    # tables.
    entity_ids: Mapped[list[int] | None] = mapped_column(IntArrayType)
    entity_counts: Mapped[list[int] | None] = mapped_column(IntArrayType)
    country_codes: Mapped[list[str] | None] = mapped_column(TextArrayType)
    country_names: Mapped[list[str] | None] = mapped_column(TextArrayType)
    region_schemes: Mapped[list[str] | None] = mapped_column(TextArrayType)
    region_codes: Mapped[list[str] | None] = mapped_column(TextArrayType)
    region_names: Mapped[list[str] | None] = mapped_column(TextArrayType)

    __table_args__ = (
        Index("ix_articles_published_at_id", "published_at", "id"),
        Index("ix_articles_dated_at_id", "dated_at", "id"),
        Index("ix_articles_stored_at", "stored_at"),
        # Per-source health (services.ops.sources): counts and last article per source.
        Index("ix_articles_source_ingested_at", "source", "ingested_at"),
        # The clustering backlog: articles not yet in a story, oldest first.
        Index(
            "ix_articles_unclustered",
            "dated_at",
            "id",
            postgresql_where=text("story_id IS NULL"),
            sqlite_where=text("story_id IS NULL"),
        ),
    )


class ArticleSearch(Base):
    """The full-text document of an article (PostgreSQL; unused on SQLite)."""

    __tablename__ = "article_search"

    article_id: Mapped[str] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    document: Mapped[str] = mapped_column(TSVectorType)
    indexed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        # PostgreSQL only: SQLite has neither tsvector nor GIN.
        Index("ix_article_search_document", "document", postgresql_using="gin").ddl_if(
            dialect="postgresql"
        ),
    )


class SearchPending(Base):
    """Articles written since their search document was last built (the outbox)."""

    __tablename__ = "search_pending"

    article_id: Mapped[str] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Entity(Base):
    __tablename__ = "entities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(300))
    label: Mapped[str] = mapped_column(String(20), index=True)
    country: Mapped[str | None] = mapped_column(String(2))

    __table_args__ = (
        UniqueConstraint("name", "label", name="uq_entities_name_label"),
        Index("ix_entities_name_lower", func.lower(literal_column("name"))),
    )


class ArticleEntity(Base):
    __tablename__ = "article_entities"

    article_id: Mapped[str] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    entity_id: Mapped[int] = mapped_column(
        ForeignKey("entities.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    text: Mapped[str] = mapped_column(String(300))
    count: Mapped[int] = mapped_column(Integer, default=1)
    spans: Mapped[list[list[int]]] = mapped_column(JSONType, default=list)
    in_title: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str | None] = mapped_column(String(20))


class ArticleCountry(Base):
    __tablename__ = "article_countries"

    article_id: Mapped[str] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(2), primary_key=True, index=True)
    name: Mapped[str] = mapped_column(String(100))
    mentions: Mapped[int] = mapped_column(Integer, default=1)
    via: Mapped[list[str]] = mapped_column(JSONType, default=list)
    focus: Mapped[bool] = mapped_column(Boolean, default=False)


class ArticleRegion(Base):
    __tablename__ = "article_regions"

    article_id: Mapped[str] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    scheme: Mapped[str] = mapped_column(String(16), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    name: Mapped[str] = mapped_column(String(100), index=True)

    __table_args__ = (Index("ix_article_regions_name_lower", func.lower(literal_column("name"))),)


class Story(Base):
    """One event as covered by several articles (see services/store/stories.py).

    ``profile`` holds what the clustering step compares new articles with (term and
    entity weights) and what the views count (sources, countries, regions, entities),
    so a story is read and updated as one row."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(Text)
    article_id: Mapped[str | None] = mapped_column(String(64))  # the representative article
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    article_count: Mapped[int] = mapped_column(Integer, default=0)
    source_count: Mapped[int] = mapped_column(Integer, default=0)
    # Articles per hour in the hours before last_seen (stories.GROWTH_HOURS).
    growth: Mapped[float] = mapped_column(Float, default=0.0)
    profile: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # PostgreSQL: a value of the sequence story_versions taken by every write of the
    # row (under the clustering lock, so in commit order): a store worker's cache of
    # the open stories reads what changed since the highest it has seen.
    version: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))

    __table_args__ = (
        Index("ix_stories_version", "version"),
        Index("ix_stories_last_seen_id", "last_seen", "id"),
        Index("ix_stories_first_seen_id", "first_seen", "id"),
        Index("ix_stories_article_count_id", "article_count", "id"),
        Index("ix_stories_growth_id", "growth", "id"),
    )


class StoryKey(Base):
    """Candidate lookup: the entities and title terms of a story's articles.

    No foreign key to ``stories``: rows are written only by the clustering, under its
    lock, for stories it writes in the same statement batch, and deleted with their
    story (``stories.reset``); the check per inserted row doubled the cost of the
    insert, the largest write of the clustering step."""

    __tablename__ = "story_keys"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    story_id: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)


class StoryTerm(Base):
    """How many clustered articles have each feature (a word "w:...", an entity "e:...",
    a country "c:..."; "" counts the articles): the document frequencies the clustering
    weighs features by, so that what every article has tells nothing."""

    __tablename__ = "story_terms"

    term: Mapped[str] = mapped_column(String(120), primary_key=True)
    articles: Mapped[int] = mapped_column(Integer, default=0)
