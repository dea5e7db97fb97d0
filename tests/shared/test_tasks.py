"""PipelineTask: attempts per article, poison isolation and dead letters (embedded mode)."""

from __future__ import annotations

from typing import Any

import pytest
from celery import shared_task
from sqlalchemy import func, select

from shared import dispatch, queues
from shared.db import session_scope
from shared.models import DEAD, STORED, DeadLetter, IngestRecord
from shared.tasks import PipelineTask, halves, split_key
from testkit.factories import article_batch, enriched_batch, numbered, record_received

SEEN: list[list[str]] = []
POISON = "POISON-PILL"


@shared_task(name="opstest.tag_articles", base=PipelineTask, bind=True)
def _probe(self: PipelineTask, message: dict[str, Any]) -> int:
    ids = [a["id"] for a in message["articles"]]
    SEEN.append(ids)
    if any(POISON in a["body"] for a in message["articles"]):
        raise ValueError("cannot digest this article")
    return len(ids)


@pytest.fixture(autouse=True)
def _clear() -> None:
    SEEN.clear()


def _letters() -> list[DeadLetter]:
    with session_scope() as session:
        return list(session.scalars(select(DeadLetter).order_by(DeadLetter.id)))


def test_halves_and_split_key() -> None:
    msg = {"schema_version": 1, "articles": [1, 2, 3, 4, 5]}
    assert split_key(msg) == "articles"
    assert [p["articles"] for p in halves(msg, "articles")] == [[1, 2, 3], [4, 5]]
    assert split_key({"items": []}) is None
    assert split_key("garbage") is None


def test_poison_article_is_isolated_and_dead_lettered_alone(embedded_pg: str) -> None:
    arts = [numbered(i) for i in range(7)]
    arts[5] = numbered(5, body=f"Some text with the {POISON} inside.")
    record_received(arts)
    dispatch.send("opstest.tag_articles", article_batch(arts))

    letters = _letters()
    assert [d.article_id for d in letters] == [arts[5].id]
    letter = letters[0]
    assert letter.reason == "error" and letter.task == "opstest.tag_articles"
    assert "cannot digest" in letter.error and "ValueError" in (letter.traceback or "")
    assert [a["id"] for a in letter.payload["articles"]] == [arts[5].id]
    # Every innocent article was processed in a batch that succeeded.
    succeeded = {i for ids in SEEN for i in ids if arts[5].id not in ids}
    assert succeeded == {a.id for i, a in enumerate(arts) if i != 5}
    with session_scope() as session:
        records = {r.article_id: r for r in session.scalars(select(IngestRecord))}
    assert records[arts[5].id].status == DEAD
    assert all(records[a.id].attempts == 0 for i, a in enumerate(arts) if i != 5)
    assert all(records[a.id].enriched_at is None for a in arts)  # not the enrich task


def test_attempt_counter_dead_letters_article_over_max(embedded_pg: str, env: Any) -> None:
    env.setenv("NEWSWIRE_MAX_ATTEMPTS", "3")
    arts = [numbered(i) for i in range(3)]
    record_received(arts)
    with session_scope() as session:
        # As if workers had died on it three times already.
        session.get(IngestRecord, arts[1].id).attempts = 3
    dispatch.send("opstest.tag_articles", article_batch(arts))
    assert SEEN == [[arts[0].id, arts[2].id]]
    (letter,) = _letters()
    assert (letter.article_id, letter.reason, letter.attempts) == (arts[1].id, "max_attempts", 4)


def test_invalid_payload_dead_lettered_without_crashing(embedded_pg: str) -> None:
    dispatch.send(queues.STORE_ARTICLES, {"schema_version": 99, "articles": "nope"})
    (letter,) = _letters()
    assert letter.reason == "invalid_payload"
    assert letter.payload == {"schema_version": 99, "articles": "nope"}


def test_store_poison_then_replay_stores_once(embedded_pg: str, env: Any) -> None:
    from services.ops import deadletters
    from services.store.models import Article

    env.setenv("NEWSWIRE_TEST_POISON_MARKER", POISON)
    env.setenv("NEWSWIRE_TEST_POISON_TASK", queues.STORE_ARTICLES)
    arts = [numbered(i) for i in range(4)]
    arts[2] = numbered(2, body=f"A story with {POISON} in it.")
    record_received(arts)
    dispatch.send(queues.STORE_ARTICLES, enriched_batch(arts))
    with session_scope() as session:
        stored = set(session.scalars(select(Article.id)))
    assert stored == {arts[0].id, arts[1].id, arts[3].id}
    (letter,) = deadletters.list_letters()
    assert letter["article_id"] == arts[2].id and letter["reason"] == "error"

    env.delenv("NEWSWIRE_TEST_POISON_MARKER")  # the cause is fixed
    result = deadletters.replay(deadletters.Selection(ids=[letter["id"]]))
    assert result == {"replayed": [letter["id"]], "failed": []}
    assert deadletters.replay(deadletters.Selection(ids=[letter["id"]]))["replayed"] == []
    with session_scope() as session:
        n = session.scalar(select(func.count()).where(Article.id == arts[2].id))
        rec = session.get(IngestRecord, arts[2].id)
        assert (n, rec.status, rec.attempts) == (1, STORED, 1)  # replay reset it to 0
        assert session.get(DeadLetter, letter["id"]).status == "replayed"
    assert deadletters.list_letters() == []


def test_discard_keeps_letter_for_the_record(embedded_pg: str) -> None:
    from services.ops import deadletters

    dispatch.send(queues.STORE_ARTICLES, {"schema_version": 1})
    (letter,) = deadletters.list_letters()
    assert deadletters.discard(deadletters.Selection(reason="invalid_payload")) == [letter["id"]]
    assert deadletters.list_letters() == []
    assert deadletters.list_letters(status="discarded")[0]["id"] == letter["id"]
    with pytest.raises(ValueError):
        deadletters.discard(deadletters.Selection())
