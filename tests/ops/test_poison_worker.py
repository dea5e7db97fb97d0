"""Poison articles with real store workers: crash and failure isolated, replay stores once."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from services.store.models import Article
from shared import dispatch, queues
from shared.db import session_scope
from shared.models import DeadLetter, IngestRecord
from testkit.factories import enriched_batch, numbered, record_received
from testkit.workers import Broker, Worker, wait_for

MARK = "KILLS-THE-WORKER"


def _stored_ids() -> set[str]:
    with session_scope() as session:
        return set(session.scalars(select(Article.id)))


def _letters() -> list[DeadLetter]:
    with session_scope() as session:
        return list(session.scalars(select(DeadLetter).order_by(DeadLetter.id)))


def test_poison_that_kills_its_worker_and_one_that_fails(broker: Broker) -> None:
    b = broker
    arts = [numbered(i) for i in range(6)]
    arts[1] = numbered(1, body=f"This one {MARK} every time it is stored.")
    record_received(arts)
    # One batch of four with the killer, then a batch of two innocents behind it.
    dispatch.send(queues.STORE_ARTICLES, enriched_batch(arts[:4]))
    dispatch.send(queues.STORE_ARTICLES, enriched_batch(arts[4:]))
    assert b.client.llen("store") == 2

    log = b.tmp / "store.log"
    poison = {
        "NEWSWIRE_TEST_POISON_MARKER": MARK,
        "NEWSWIRE_TEST_POISON_TASK": queues.STORE_ARTICLES,
        "NEWSWIRE_TEST_POISON_MODE": "exit",
        "NEWSWIRE_MAX_ATTEMPTS": "2",
    }
    with Worker("store", b.child_env(**poison), log, pool="prefork") as w:
        w.wait_ready()
        innocents = {a.id for i, a in enumerate(arts) if i != 1}
        wait_for(
            lambda: _stored_ids() == innocents and _letters(),
            120,
            what="innocents stored and the killer dead-lettered",
        )
        (letter,) = _letters()
        assert (letter.article_id, letter.reason) == (arts[1].id, "max_attempts")
        assert letter.attempts == 3  # started 3 times alone (> NEWSWIRE_MAX_ATTEMPTS=2)
        assert [a["id"] for a in letter.payload["articles"]] == [arts[1].id]
        with session_scope() as session:
            rec = session.get(IngestRecord, arts[1].id)
            assert rec.status == "dead"
        # Health checks answer with exit codes.
        assert b.newswire("health", "worker", "store").returncode == 0
        late = b.newswire("health", "worker", "enrich", "--timeout", "1", check=False)
        assert late.returncode == 1
        status = json.loads(b.newswire("status", "--json").stdout)
        assert status["ok"] and w.name in status["workers"]
        assert status["queues_without_consumers"] == ["ingest", "enrich"]
        assert status["database"]["dead_letters_open"] == 1
    assert "test_poison_exit" in log.read_text()

    # An article that fails (raises) in a batch: its batch-mates are stored, it is not.
    more = [numbered(i) for i in range(10, 13)]
    more[2] = numbered(12, body=f"Another {MARK} story.")
    record_received(more)
    dispatch.send(queues.STORE_ARTICLES, enriched_batch(more))
    raising = {**poison, "NEWSWIRE_TEST_POISON_MODE": "raise"}
    with Worker("store", b.child_env(**raising), log) as w:
        w.wait_ready()
        wait_for(
            lambda: len(_letters()) == 2 and more[1].id in _stored_ids(),
            60,
            what="the failing article dead-lettered",
        )
    second = _letters()[1]
    assert (second.article_id, second.reason) == (more[2].id, "error")
    assert second.attempts == 2  # retried until NEWSWIRE_MAX_ATTEMPTS runs, then dead
    assert "PoisonTestError" in second.error and second.traceback
    assert more[0].id in _stored_ids() and more[2].id not in _stored_ids()

    listed = [json.loads(x) for x in b.newswire("dead", "list", "--json").stdout.splitlines()]
    assert {x["article_id"] for x in listed} == {arts[1].id, more[2].id}
    shown = json.loads(b.newswire("dead", "show", str(second.id), "--json").stdout)
    assert shown["payload"]["articles"][0]["id"] == more[2].id

    # The cause is fixed (no marker): replay every letter, each article stored exactly once.
    with Worker("store", b.child_env(), log) as w:
        w.wait_ready()
        out = b.newswire("dead", "replay", "--all").stdout
        assert "replayed 2 letter(s)" in out
        wait_for(lambda: {arts[1].id, more[2].id} <= _stored_ids(), 60, what="replayed stored")
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 9
        statuses = set(session.scalars(select(IngestRecord.status)))
        assert statuses == {"stored"}
    assert {d.status for d in _letters()} == {"replayed"}
    trace = json.loads(b.newswire("trace", arts[1].id, "--json").stdout)
    events = [e["event"] for e in trace["events"]]
    milestones = [e for e in events if e in ("received", "dead_lettered", "replayed", "stored")]
    assert milestones == ["received", "dead_lettered", "replayed", "stored"]
    assert events[-1] == "stored"
    assert trace["status"] == "stored"


def test_raw_item_that_kills_the_ingest_worker_is_dead_lettered(broker: Broker) -> None:
    from shared.schemas import IngestRequest, RawItem, dump

    b = broker
    items = [
        RawItem(title="Fine", body="A perfectly ordinary story about a harbour. " * 5),
        RawItem(title="Killer", body=f"The parser dies on {MARK} every time. " * 5),
    ]
    dispatch.send(queues.INGEST_ITEMS, dump(IngestRequest(items=items)))
    poison = {
        "NEWSWIRE_TEST_POISON_MARKER": MARK,
        "NEWSWIRE_TEST_POISON_TASK": queues.INGEST_ITEMS,
        "NEWSWIRE_TEST_POISON_MODE": "exit",
        "NEWSWIRE_MAX_ATTEMPTS": "2",
    }
    with Worker("ingest", b.child_env(**poison), b.tmp / "ingest.log", pool="prefork") as w:
        w.wait_ready()
        # No ingest record exists yet for a raw item: deliveries are counted in Redis.
        wait_for(lambda: _letters(), 120, what="the killer item dead-lettered")
        wait_for(lambda: b.client.llen("enrich") == 1, 30, what="the fine item forwarded")
    (letter,) = _letters()
    assert (letter.task, letter.reason, letter.attempts) == (
        queues.INGEST_ITEMS,
        "max_attempts",
        3,
    )
    assert [i["title"] for i in letter.payload["items"]] == ["Killer"]
    assert b.client.llen("ingest") == 0
