"""Full-text documents: built after the article write, never lost, never stale.

The store step is two transactions (articles and tags, then search documents) joined
by the ``search_pending`` outbox; these tests hold each promise of that design
against the real PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from services.entrypoints.beat import app as beat_app
from services.store import tasks
from services.store.queries import ArticleFilters, search_articles
from services.store.repository import index_search, search_backlog, upsert_batch
from services.store.tasks import index_pending, store_batch
from shared import db
from shared.celery_app import get_app
from shared.queues import INDEX_SEARCH
from testkit.store_corpus import NOW, Spec, build_corpus


def found(url: str, q: str) -> set[str]:
    with db.session_scope(url) as session:
        page = search_articles(session, ArticleFilters.build(q=q), limit=200)
    return {a.id for a in page.articles}


def backlog(url: str) -> int:
    with db.session_scope(url) as session:
        return search_backlog(session)


def spec(id_: str, body: str) -> Spec:
    base = build_corpus(n=0)[0]
    base.id, base.title, base.body = id_, "Wire report", body
    return base


def test_upsert_queues_and_index_makes_searchable(fresh_pg_url: str):
    s = spec("art-zeppelin", "A zeppelin landed near the quarry.")
    with db.session_scope(fresh_pg_url) as session:
        upsert_batch(session, [s.article()])
    # Stored (and listed by every other filter) but not searchable yet.
    assert backlog(fresh_pg_url) == 1
    assert found(fresh_pg_url, "zeppelin") == set()
    with db.session_scope(fresh_pg_url) as session:
        assert index_search(session, ["art-zeppelin"]) == 1
    assert found(fresh_pg_url, "zeppelin") == {"art-zeppelin"}
    assert found(fresh_pg_url, "zeppelins") == {"art-zeppelin"}  # English stemming
    assert backlog(fresh_pg_url) == 0
    with db.session_scope(fresh_pg_url) as session:  # nothing left: a no-op
        assert index_search(session, ["art-zeppelin"]) == 0


def test_store_step_indexes_what_it_wrote(fresh_pg_url: str):
    store_batch([spec("a1", "The saxophone quartet.").article()], fresh_pg_url)
    assert found(fresh_pg_url, "saxophone") == {"a1"}
    assert backlog(fresh_pg_url) == 0


def test_reenrichment_with_a_new_body_replaces_the_document(fresh_pg_url: str):
    s = spec("a2", "An avalanche closed the pass.")
    store_batch([s.article()], fresh_pg_url)
    s.body = "A zeppelin reopened the pass."
    store_batch([s.article(enriched_at=NOW + timedelta(hours=1))], fresh_pg_url)
    assert found(fresh_pg_url, "avalanche") == set()
    assert found(fresh_pg_url, "zeppelin") == {"a2"}
    with db.session_scope(fresh_pg_url) as session:
        assert session.execute(sa.text("SELECT count(*) FROM article_search")).scalar() == 1


def test_stale_redelivery_does_not_requeue(fresh_pg_url: str):
    s = spec("a3", "The quarry reopened.")
    store_batch([s.article(enriched_at=NOW + timedelta(hours=1))], fresh_pg_url)
    s.body = "Old text about an avalanche."
    with db.session_scope(fresh_pg_url) as session:
        result = upsert_batch(session, [s.article(enriched_at=NOW)])  # older: ignored
    assert result.stale == ["a3"]
    assert backlog(fresh_pg_url) == 0
    assert found(fresh_pg_url, "quarry") == {"a3"}


def test_indexer_skips_an_article_being_rewritten_and_never_keeps_the_old_text(
    fresh_pg_url: str,
):
    """A writer replacing an article holds its queue row until it commits: an indexer
    running meanwhile neither waits for it nor builds the document of the old text."""
    s = spec("a4", "An avalanche report.")
    with db.session_scope(fresh_pg_url) as session:
        upsert_batch(session, [s.article()])  # queued, not indexed
    s.body = "A saxophone report."
    maker = db.get_sessionmaker(fresh_pg_url)
    writer = maker()
    try:
        upsert_batch(writer, [s.article(enriched_at=NOW + timedelta(hours=1))])  # uncommitted
        with db.session_scope(fresh_pg_url) as indexer:
            # A regression that waits for the writer fails here instead of hanging.
            indexer.execute(sa.text("SET LOCAL lock_timeout = '3s'"))
            assert index_search(indexer, ["a4"]) == 0
            assert index_search(indexer) == 0  # the sweep skips it too
        writer.commit()
    finally:
        writer.close()
    assert backlog(fresh_pg_url) == 1
    assert index_pending(fresh_pg_url) == 1
    assert found(fresh_pg_url, "saxophone") == {"a4"}
    assert found(fresh_pg_url, "avalanche") == set()


def test_failed_indexing_loses_nothing_and_the_sweep_finishes_it(
    fresh_pg_url: str, monkeypatch: pytest.MonkeyPatch
):
    def broken(*_: object, **__: object) -> int:
        raise sa.exc.OperationalError("SELECT", {}, Exception("server closed the connection"))

    articles = [s.article() for s in build_corpus(n=12)]
    monkeypatch.setattr(tasks, "index_search", broken)
    assert store_batch(articles, fresh_pg_url) == len(articles)  # no exception
    with db.session_scope(fresh_pg_url) as session:
        assert session.execute(sa.text("SELECT count(*) FROM articles")).scalar() == len(articles)
    assert backlog(fresh_pg_url) == len(articles)
    monkeypatch.undo()
    # The sweep, a few per transaction, until the queue is empty.
    assert index_pending(fresh_pg_url, batch=4) == len(articles)
    assert backlog(fresh_pg_url) == 0
    assert found(fresh_pg_url, "quarry") == {
        s.id for s in build_corpus(n=12) if "quarry" in s.keywords
    }


def test_sweep_stops_at_its_budget(fresh_pg_url: str):
    articles = [s.article() for s in build_corpus(n=20)]
    with db.session_scope(fresh_pg_url) as session:
        upsert_batch(session, articles)
    assert index_pending(fresh_pg_url, batch=5, budget_s=0.0) == 0
    assert backlog(fresh_pg_url) == len(articles)
    assert index_pending(fresh_pg_url, batch=5, budget_s=None) == len(articles)


def test_sqlite_searches_the_articles_directly(sqlite_url: str):
    store_batch([spec("s1", "A zeppelin over the quarry.").article()], sqlite_url)
    assert backlog(sqlite_url) == 0
    with db.session_scope(sqlite_url) as session:
        assert index_search(session) == 0
    assert found(sqlite_url, "zeppelin") == {"s1"}


def test_the_sweep_is_a_scheduled_store_task():
    assert INDEX_SEARCH in get_app().tasks
    schedule = beat_app.conf.beat_schedule["index-search"]
    assert schedule["task"] == INDEX_SEARCH
    assert schedule["options"]["queue"] == "store"


def test_operators_see_the_backlog_and_can_index_it(env: pytest.MonkeyPatch, fresh_pg_url: str):
    from click.testing import CliRunner

    from services.entrypoints.cli import cli
    from services.ops.metrics import render

    env.setenv("NEWSWIRE_DATABASE_URL", fresh_pg_url)
    articles = [s.article() for s in build_corpus(n=7)]
    with db.session_scope(fresh_pg_url) as session:
        upsert_batch(session, articles)
    assert f"newswire_search_backlog {float(len(articles))}" in render().decode()

    result = CliRunner().invoke(cli, ["search-index", "--batch", "3", "--quiet"])
    assert result.exit_code == 0, result.output
    assert f"indexed {len(articles)} articles; 0 still queued" in result.stderr
    assert "newswire_search_backlog 0.0" in render().decode()
    assert found(fresh_pg_url, "quarry")

    # --all rebuilds every document (e.g. after a text-search configuration change).
    result = CliRunner().invoke(cli, ["search-index", "--all", "--quiet"])
    assert f"indexed {len(articles)} articles; 0 still queued" in result.stderr


def test_a_document_postgresql_refuses_does_not_hold_back_the_others(
    fresh_pg_url: str, monkeypatch: pytest.MonkeyPatch
):
    """One article whose document PostgreSQL refuses (over tsvector's 1 MB: possible
    here only because the test lifts the body cap) stays queued and logged; the rest
    of its batch becomes searchable."""
    import random

    from services.store import repository

    monkeypatch.setattr(
        repository,
        "FTS_DOCUMENT_SQL",
        "to_tsvector('english'::regconfig, coalesce(title, '') || ' ' || coalesce(body, ''))",
    )
    rng = random.Random(5)
    huge_body = " ".join(
        "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=9)) for _ in range(150_000)
    )
    articles = [s.article() for s in build_corpus(n=8)]
    huge = spec("zz-huge", "placeholder").article()
    huge.body = huge_body + " quarry"
    store_batch([*articles, huge], fresh_pg_url)
    assert backlog(fresh_pg_url) == 1
    assert found(fresh_pg_url, "quarry") == {
        s.id for s in build_corpus(n=8) if "quarry" in s.keywords
    }
    # The sweep meets it again: still refused, still queued, nothing else disturbed.
    assert index_pending(fresh_pg_url) == 0
    assert backlog(fresh_pg_url) == 1
    with db.session_scope(fresh_pg_url) as session:
        assert session.execute(sa.text("SELECT count(*) FROM article_search")).scalar() == 8 + 3
        assert (
            session.execute(sa.text("SELECT article_id FROM search_pending")).scalar() == "zz-huge"
        )
