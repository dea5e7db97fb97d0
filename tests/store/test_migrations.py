"""Migrations upgrade an empty database, agree with the models, and go down and up again."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from shared import db, migrate
from testkit.databases import create_pg_database, drop_pg_database


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "postgresql":
        url = create_pg_database("nw_mig")
        yield url
        drop_pg_database(url)
    else:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        db.dispose_engine()


def test_upgrade_from_empty_then_check_finds_no_drift(empty_url: str):
    migrate.upgrade(empty_url)
    migrate.check(empty_url)  # raises on any difference
    engine = db.get_engine(empty_url)
    tables = set(sa.inspect(engine).get_table_names())
    assert {
        "articles",
        "entities",
        "article_entities",
        "article_countries",
        "article_regions",
        "ingest_records",
        "feeds",
        "dead_letters",
        "alembic_version",
    } <= tables
    cols = {c["name"]: c for c in sa.inspect(engine).get_columns("articles")}
    assert cols["dated_at"]["nullable"] is False


def test_check_detects_drift(empty_url: str):
    """Control: check really compares (a missing index is reported)."""
    migrate.upgrade(empty_url)
    with db.get_engine(empty_url).begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_articles_dated_at_id"))
    with pytest.raises(Exception, match="ix_articles_dated_at_id"):
        migrate.check(empty_url)


def test_downgrade_to_0001_and_back_keeps_data(empty_url: str):
    from testkit.store_corpus import build_corpus
    from tests.store.helpers import write

    migrate.upgrade(empty_url)
    specs = build_corpus(n=5)
    write(empty_url, [s.article() for s in specs])
    cfg = migrate.alembic_config(empty_url)
    migrate.command.downgrade(cfg, "0001")
    db.dispose_engine()
    migrate.upgrade(empty_url)
    with db.session_scope(empty_url) as s:
        rows = s.execute(sa.text("SELECT id, dated_at FROM articles")).all()
    assert len(rows) == len(specs)
    assert all(r.dated_at is not None for r in rows)  # backfilled by 0002_store
    migrate.check(empty_url)


def test_postgres_full_text_index_is_used(fresh_pg_url: str):
    from sqlalchemy import select

    from services.store.models import Article
    from services.store.queries import ArticleFilters, filter_clauses

    engine = db.get_engine(fresh_pg_url)
    with engine.connect() as conn:
        indexdef = conn.execute(
            sa.text(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_article_search_document'"
            )
        ).scalar()
        old = conn.execute(
            sa.text("SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_articles_fts'")
        ).scalar()
    assert indexdef is not None and "gin" in indexdef and "document" in indexdef
    assert old == 0  # the expression index on articles is gone (0004)
    with db.session_scope(fresh_pg_url) as session:
        session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        where = filter_clauses(session, ArticleFilters.build(q="election"))
        assert where is not None
        compiled = (
            select(Article.id)
            .where(*where)
            .compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        )
        plan = "\n".join(r[0] for r in session.execute(sa.text(f"EXPLAIN {compiled}")).all())
    assert "ix_article_search_document" in plan


def test_0004_queues_existing_articles_for_search(fresh_pg_url: str):
    """Articles stored before 0004 become searchable through the sweep after it."""
    from services.store.queries import ArticleFilters, search_articles
    from services.store.repository import search_backlog, upsert_batch
    from services.store.tasks import index_pending
    from testkit.store_corpus import build_corpus

    specs = [s for s in build_corpus(n=20) if s.keywords][:5]
    articles = [s.article() for s in specs]
    with db.session_scope(fresh_pg_url) as session:
        upsert_batch(session, articles)
    # Back to 0003 (no search tables) with the articles kept, then up again.
    migrate.command.downgrade(migrate.alembic_config(fresh_pg_url), "0003")
    db.dispose_engine()
    migrate.upgrade(fresh_pg_url)
    migrate.check(fresh_pg_url)
    with db.session_scope(fresh_pg_url) as session:
        assert search_backlog(session) == len(articles)
        assert not search_articles(session, ArticleFilters.build(q=specs[0].keywords[0])).articles
    assert index_pending(fresh_pg_url, batch=2) == len(articles)
    with db.session_scope(fresh_pg_url) as session:
        assert search_backlog(session) == 0
        found = search_articles(session, ArticleFilters.build(q=specs[0].keywords[0]), limit=50)
    assert specs[0].id in {a.id for a in found.articles}


def test_sqlite_has_the_expression_indexes(sqlite_url: str):
    """SQLite cannot reflect expression indexes, so `alembic check` cannot see them there."""
    with db.get_engine(sqlite_url).connect() as conn:
        names = set(
            conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'index'")).scalars()
        )
    assert {"ix_entities_name_lower", "ix_article_regions_name_lower"} <= names
    assert "ix_articles_fts" not in names and "ix_article_search_document" not in names


def test_store_revision_is_a_head_on_0001():
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    rev = script.get_revision("0002_store")
    assert rev is not None and rev.down_revision == "0001"
