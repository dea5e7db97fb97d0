"""Articles waiting in every queue, ingest included, counted in the messages Redis holds."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.ops import queues as q
from shared import dispatch, queues
from testkit.workers import Broker


def _items(n: int, tag: str) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "items": [
            {"kind": "record", "title": f"{tag} {i}", "body": f"{tag} body {i}", "source": "t"}
            for i in range(n)
        ],
    }


def test_ingest_queue_articles_counted_from_headers_and_bodies(broker: Broker) -> None:
    dispatch.send(queues.INGEST_ITEMS, _items(5, "a"))
    dispatch.send(queues.INGEST_ITEMS, _items(3, "b"))
    dispatch.send(queues.POLL_FEEDS, {"schema_version": 1})  # a message without articles
    raw = broker.client.lindex("ingest", 1)  # LPUSH: the newest (poll_feeds) is at 0
    assert json.loads(raw)["headers"][q.ARTICLES_HEADER] == 3  # stamped at publish
    # A message from a producer that does not stamp the header: counted from its body.
    from kombu import Connection

    with Connection(broker.redis_url) as conn:
        conn.SimpleQueue("ingest").put(
            [[_items(4, "c")], {}, {}], serializer="json", headers={"task": "x"}
        )
    snap = q.snapshot(with_consumers=False).by_name()
    assert snap["ingest"].waiting == 4
    assert snap["ingest"].articles_waiting == 12
    assert snap["ingest"].articles_pending == 12
    assert snap["ingest"].articles_estimated is False
    assert snap["enrich"].articles_waiting == 0

    out = broker.newswire("queues", "--json", "--no-consumers")
    cli = {row["name"]: row for row in json.loads(out.stdout)["queues"]}
    assert cli["ingest"]["articles_waiting"] == 12
    assert cli["ingest"]["articles_pending"] == 12
    table = broker.newswire("queues", "--no-consumers").stdout
    ingest_row = next(line for line in table.splitlines() if "│ ingest" in line)
    assert "12" in ingest_row


def test_many_messages_are_estimated_from_a_sample(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(q, "SAMPLE_MESSAGES", 2)
    for n in range(6):
        dispatch.send(queues.INGEST_ITEMS, _items(2, f"m{n}"))
    counts = q.broker_counts(broker.client)
    assert counts["ingest"]["articles"] == 12
    assert counts["ingest"]["articles_estimated"] is True


def test_message_articles_reads_header_body_and_garbage() -> None:
    assert q.message_articles(b'{"body": "xx", "headers": {"nw_articles": 7}}') == 7
    assert q.message_articles(b"not json") == 0
    assert q.message_articles(None) == 0
