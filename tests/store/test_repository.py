"""Batched idempotent writes: redelivery, replay and re-enrichment never duplicate a row
and never lose a tag; the ingest record is marked stored in the same transaction."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from services.store.repository import index_search, upsert_batch
from shared import db
from shared.models import RECEIVED, IngestRecord
from shared.schemas import EnrichedArticle, utcnow
from testkit.store_corpus import NOW, Spec, build_corpus
from tests.store.helpers import write


@pytest.fixture(params=["postgresql", "sqlite"])
def url(request: pytest.FixtureRequest, fresh_pg_url: str, sqlite_url: str) -> str:
    return fresh_pg_url if request.param == "postgresql" else sqlite_url


def scalar(url: str, sql: str) -> int:
    with db.session_scope(url) as s:
        return int(s.execute(sa.text(sql)).scalar() or 0)


def counts(url: str) -> dict[str, int]:
    return {
        t: scalar(url, f"SELECT count(*) FROM {t}")
        for t in (
            "articles",
            "entities",
            "article_entities",
            "article_countries",
            "article_regions",
        )
    }


def test_redelivery_and_replay_change_nothing(url: str):
    articles = [s.article() for s in build_corpus(n=30)]
    write(url, articles)
    before = counts(url)
    assert before["articles"] == 33
    assert before["article_entities"] == sum(len(a.entities) for a in articles)
    write(url, articles)  # the same message again
    write(url, articles[::-1], batch=7)  # replay in other batches
    assert counts(url) == before


def test_reenrichment_replaces_tags(url: str):
    s = build_corpus(n=0)[0]
    write(url, [s.article()])
    s.entities = [("Hezbollah", "ORG", 5), ("Naim Qassem", "PERSON", 1)]
    s.countries = [("LB", True), ("TR", False)]
    write(url, [s.article(enriched_at=NOW + timedelta(hours=1))])
    with db.session_scope(url) as session:
        rows = session.execute(
            sa.text(
                "SELECT e.name, ae.count FROM article_entities ae "
                "JOIN entities e ON e.id = ae.entity_id ORDER BY e.name"
            )
        ).all()
        codes = session.execute(sa.text("SELECT code FROM article_countries ORDER BY code")).all()
    assert [tuple(r) for r in rows] == [("Hezbollah", 5), ("Naim Qassem", 1)]
    assert [r[0] for r in codes] == ["LB", "TR"]
    assert counts(url)["articles"] == 1


def test_late_redelivery_of_an_older_enrichment_does_not_roll_tags_back(url: str):
    s = build_corpus(n=0)[0]
    old = s.article(enriched_at=NOW)
    s.entities = s.entities + [("Naim Qassem", "PERSON", 1)]
    new = s.article(enriched_at=NOW + timedelta(hours=1))
    write(url, [new])
    with db.session_scope(url) as session:
        result = upsert_batch(session, [old])
    assert result.stale == [s.id] and not result.inserted and not result.updated
    assert counts(url)["article_entities"] == 3


def test_stale_redelivery_creates_no_entity(url: str):
    """A stale copy's entities are not created: only its old tags name them, so no article
    would ever list them."""
    s, fresh = build_corpus(n=0)[0::2]
    s.entities = [("Naim Qassem", "PERSON", 2)]
    new = s.article(enriched_at=NOW + timedelta(hours=1))
    s.entities = [("Stale Only Entity", "ORG", 3)]
    old = s.article(enriched_at=NOW)
    write(url, [new])
    # With a new article in the same batch: its entities are created.
    with db.session_scope(url) as session:
        result = upsert_batch(session, [old, fresh.article()])
    assert result.stale == [s.id] and result.inserted == [fresh.id]
    with db.session_scope(url) as session:
        names = set(session.scalars(sa.text("SELECT name FROM entities")))
        tags = session.execute(
            sa.text(
                "SELECT e.name, ae.count FROM article_entities ae "
                "JOIN entities e ON e.id = ae.entity_id WHERE ae.article_id = :id"
            ),
            {"id": s.id},
        ).all()
    assert "Stale Only Entity" not in names
    assert "Naim Qassem" in names and {n for n, _, _ in fresh.entities} <= names
    assert [tuple(t) for t in tags] == [("Naim Qassem", 2)]


def test_last_copy_in_a_batch_wins_by_enrichment_time(url: str):
    s = build_corpus(n=0)[0]
    newer = s.article(enriched_at=NOW + timedelta(hours=1))
    s.entities = []
    older = s.article(enriched_at=NOW)
    write(url, [newer, older])
    assert counts(url)["article_entities"] == 2


def test_ingest_record_marked_stored_in_the_same_transaction(url: str):
    specs = build_corpus(n=2)
    with db.session_scope(url) as session:
        for s in specs:
            session.add(
                IngestRecord(
                    article_id=s.id,
                    trace_id="t",
                    status=RECEIVED,
                    content_hash="h",
                    received_at=utcnow(),
                )
            )
    with pytest.raises(RuntimeError):
        with db.session_scope(url) as session:
            upsert_batch(session, [s.article() for s in specs])
            raise RuntimeError("crash before commit")
    assert scalar(url, "SELECT count(*) FROM ingest_records WHERE status = 'received'") == 5
    assert scalar(url, "SELECT count(*) FROM articles") == 0
    write(url, [s.article() for s in specs])
    assert scalar(url, "SELECT count(*) FROM ingest_records WHERE status = 'stored'") == 5
    assert scalar(url, "SELECT count(*) FROM ingest_records WHERE stored_at IS NULL") == 0


def test_big_batches_and_hostile_text(url: str):
    """1000 articles x 10 mentions in one call (over any bound-parameter limit), NUL bytes,
    over-long names, a bad country code, duplicate tags inside one article."""
    rng_names = [f"Person {i}" for i in range(300)]
    batch = []
    for i in range(1000):
        a = Spec(
            id=f"big-{i:04d}",
            title="Title\x00 with NUL",
            body="Body\x00text",
            published_at=NOW - timedelta(minutes=i),
            ingested_at=NOW,
            source="S" * 400,
            language="en",
            entities=[(rng_names[(i * 7 + k) % 300], "PERSON", 1) for k in range(10)],
            countries=[("IQ", True), ("TR", False), ("LB", False)],
        ).article()
        batch.append(a)
    odd = batch[0].model_copy(deep=True)
    odd.entities.append(odd.entities[0].model_copy(update={"text": "P0", "count": 2}))
    odd.entities.append(odd.entities[0].model_copy(update={"canonical": "N" * 500}))
    odd.countries.append(odd.countries[0].model_copy(update={"code": "IRQ"}))
    odd.countries.append(odd.countries[0])
    batch[0] = odd
    with db.session_scope(url) as session:
        result = upsert_batch(session, batch)
    assert len(result.inserted) == 1000
    c = counts(url)
    assert c["articles"] == 1000
    assert c["article_entities"] == 10_001  # merged surface form + the long name
    assert c["entities"] == 301
    assert c["article_countries"] == 3000
    assert scalar(url, "SELECT count(*) FROM articles WHERE title LIKE '%NUL'") == 1000
    assert scalar(url, "SELECT max(length(source)) FROM articles") == 300
    assert scalar(url, "SELECT max(count) FROM article_entities") == 3


def test_concurrent_writers_with_overlapping_batches(fresh_pg_url: str):
    """Four writers, overlapping batches of the same articles and the same new entities,
    started together: one row per article and per entity, no errors (no deadlock)."""
    specs = build_corpus(n=120, seed=3)
    for i, s in enumerate(specs):  # plenty of brand-new shared entities
        s.entities = s.entities + [(f"Newcomer {i % 17}", "PERSON", 1), ("Shared Org", "ORG", 2)]
    articles = [s.article() for s in specs]
    writers = 4
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def work(k: int) -> None:
        # Each writer: every article, in its own order and batch size.
        mine = articles[k * 13 :] + articles[: k * 13]
        if k % 2:
            mine = mine[::-1]
        size = 10 + 7 * k
        try:
            barrier.wait(timeout=30)
            for start in range(0, len(mine), size):
                # The store step's two transactions (tasks.store_batch), with errors
                # raised here instead of logged and left to the sweep.
                with db.session_scope(fresh_pg_url) as session:
                    result = upsert_batch(session, mine[start : start + size])
                with db.session_scope(fresh_pg_url) as session:
                    index_search(session, result.written)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not errors, errors
    c = counts(fresh_pg_url)
    assert c["articles"] == len(specs)
    names = {(n, lab) for s in specs for n, lab, _ in s.entities}
    assert c["entities"] == len(names)
    assert c["article_entities"] == sum(len(s.entities) for s in specs)
    assert c["article_countries"] == sum(len(s.countries) for s in specs)
    # One search document per article; whatever a writer skipped (held by another)
    # was indexed by that other writer: nothing left queued.
    assert scalar(fresh_pg_url, "SELECT count(*) FROM article_search") == len(specs)
    assert scalar(fresh_pg_url, "SELECT count(*) FROM search_pending") == 0
    assert (
        scalar(
            fresh_pg_url,
            "SELECT count(*) FROM (SELECT name, label FROM entities "
            "GROUP BY name, label HAVING count(*) > 1) d",
        )
        == 0
    )


def test_store_task_contract(embedded_pg: str):
    from services.store.tasks import store_articles
    from shared.schemas import EnrichedBatch, dump

    article = build_corpus(n=0)[2].article()
    message = dump(EnrichedBatch(articles=[article]))
    # The message is the article, JSON-safe and back without loss.
    assert EnrichedArticle.model_validate(message["articles"][0]) == article
    assert store_articles.run(message) == 1
    assert store_articles.run(message) == 1
    assert scalar(embedded_pg, "SELECT count(*) FROM articles") == 1
    # An invalid message is refused with a reason (embedded: dead-lettered, not raised).
    store_articles.run({"schema_version": 1, "articles": [{"id": "x"}]})
    assert scalar(embedded_pg, "SELECT count(*) FROM dead_letters WHERE reason = 'invalid_payload'")
    assert scalar(embedded_pg, "SELECT count(*) FROM articles") == 1
    with db.session_scope(embedded_pg) as s:
        stored = s.execute(sa.text("SELECT id, title, body FROM articles")).one()
    assert tuple(stored) == (article.id, article.title, article.body)


def test_copy_and_values_paths_store_the_same(fresh_pg_url: str):
    """PostgreSQL's COPY path and the multi-row VALUES path (SQLite's) agree exactly."""
    from services.store.queries import ArticleFilters, articles_as_dicts, search_articles
    from shared import migrate
    from testkit.databases import create_pg_database, drop_pg_database

    other = create_pg_database("nw_values")
    try:
        migrate.upgrade(other)
        specs = build_corpus(n=40)
        first = [s.article() for s in specs]
        later = [s.article(enriched_at=NOW + timedelta(hours=1)) for s in specs[::3]]
        dumps = []
        for url, method in ((fresh_pg_url, "copy"), (other, "values")):
            for batch in (first, later, first):  # insert, re-enrich, stale replay
                with db.session_scope(url) as session:
                    upsert_batch(session, batch, method=method)
            with db.session_scope(url) as session:
                page = search_articles(session, ArticleFilters(), limit=1000)
                rows = articles_as_dicts(session, page.articles)
            for r in rows:
                r.pop("stored_at")
                for e in r["entities"]:
                    e.pop("entity_id")
            dumps.append(rows)
        assert len(dumps[0]) == len(specs)
        assert dumps[0] == dumps[1]
    finally:
        drop_pg_database(other)
