"""Task contracts: ingest.ingest_items, ingest.poll_feeds / ingest.poll_feed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from services.ingest import fetch as fetch_mod
from services.ingest import tasks
from shared.db import session_scope
from shared.models import DeadLetter
from shared.schemas import IngestRequest, RawItem, SchemaError, dump
from tests.ingest import stories
from tests.ingest.helpers import Sent


def test_ingest_items_contract(ingest_pg: str, sent: Sent) -> None:
    message = dump(
        IngestRequest(
            items=[
                RawItem(title="H", body=stories.body(stories.HARBOUR), url="https://a.example/h"),
                RawItem(title="H", body=stories.body(stories.HARBOUR), url="https://a.example/h"),
                RawItem(title="empty", body="  "),
            ]
        )
    )
    assert tasks.ingest_items.run(message) == {"queued": 1, "duplicate": 1, "rejected": 1}
    assert len(sent.articles()) == 1


def test_poll_feed_bad_message_is_dead_lettered(ingest_pg: str) -> None:
    try:
        tasks.poll_feed.run({"feed_id": "1; drop table feeds"})
    except SchemaError:
        pass  # raised or dead-lettered by the task base: either way a dead letter exists
    with session_scope() as session:
        [dead] = session.scalars(sa.select(DeadLetter)).all()
        assert (dead.task, dead.reason) == ("ingest.poll_feed", "invalid_payload")
        assert "integer feed_id" in dead.error
    assert tasks.poll_feed.run({"feed_id": 12345})["status"] == "missing"


def test_in_process_limiter_when_embedded(env: pytest.MonkeyPatch) -> None:
    lim = fetch_mod.limiter()
    assert isinstance(lim, fetch_mod._LocalLimiter)
    fresh = fetch_mod._LocalLimiter()
    waits = [fresh.reserve("h.example", 1.5) for _ in range(3)]
    assert waits[0] == 0 and 1.0 < waits[1] <= 1.5 and 2.5 < waits[2] <= 3.0
    fresh.block("h.example", 60)
    assert fresh.blocked_for("h.example") > 55
