"""`newswire queues` and `/metrics` against real Redis, with workers started one by one."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from services.ops.queues import PUBLISHED_HEADER, snapshot
from shared.db import session_scope
from shared.models import IngestRecord
from testkit.workers import Broker, Worker, wait_for

N = 6  # articles; NEWSWIRE_BATCH_SIZE=2 -> 3 messages per hop


def _cli_queues(b: Broker) -> dict[str, Any]:
    out = b.newswire("queues", "--json")
    return {q["name"]: q for q in json.loads(out.stdout)["queues"]}


def _metrics() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from services.ops.api import router

    app = FastAPI()
    app.include_router(router)
    response = TestClient(app).get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def _header_age(b: Broker, queue: str) -> float:
    tail = json.loads(b.client.lindex(queue, -1))
    return time.time() - tail["headers"][PUBLISHED_HEADER]


def test_queue_figures_match_redis_as_workers_start(broker: Broker) -> None:
    b = broker
    src = b.tmp / "articles.jsonl"
    src.write_text(
        "\n".join(
            json.dumps(
                {
                    "title": f"Harbour news {i}",
                    "body": f"Rotterdam harbour story {i}. " * 8,
                    "url": f"https://example.org/news/{i}",
                    "source": "ops",
                }
            )
            for i in range(N)
        )
    )
    b.newswire("ingest", str(src))

    # No worker at all: everything waits in `ingest`, exactly what Redis holds.
    first = snapshot(with_consumers=True, consumer_timeout=0.5).by_name()
    assert b.client.llen("ingest") == 3
    assert first["ingest"].waiting == 3 and first["ingest"].reserved == 0
    assert first["ingest"].consumers == 0
    assert first["enrich"].waiting == 0 and first["store"].waiting == 0
    assert first["ingest"].oldest_age_s is not None
    assert abs(first["ingest"].oldest_age_s - _header_age(b, "ingest")) < 5
    # It ages: polled (no fixed pause) until a later snapshot shows an older message.
    wait_for(
        lambda: (
            snapshot(with_consumers=False).by_name()["ingest"].oldest_age_s
            > first["ingest"].oldest_age_s
        ),
        30,
        0.2,
        "the oldest ingest message to age",
    )
    cli = _cli_queues(b)
    assert {q: cli[q]["waiting"] for q in ("ingest", "enrich", "store")} == {
        "ingest": 3,
        "enrich": 0,
        "store": 0,
    }
    assert cli["ingest"]["consumers"] == 0

    # A message delivered but not acknowledged is "reserved", not gone.
    from kombu import Connection

    with Connection(b.redis_url) as conn:
        simple = conn.SimpleQueue("ingest")
        held = simple.get(timeout=5)
        during = snapshot(with_consumers=False).by_name()["ingest"]
        assert (during.waiting, during.reserved) == (2, 1)
        assert len(b.client.hkeys("unacked")) == 1
        held.requeue()
        simple.close()
    after = snapshot(with_consumers=False).by_name()["ingest"]
    assert (after.waiting, after.reserved) == (3, 0)

    # /metrics agrees with `newswire queues --json`.
    m = _metrics()
    for q in ("ingest", "enrich", "store"):
        assert m[("newswire_queue_messages_waiting", (("queue", q),))] == cli[q]["waiting"]
    assert m[("newswire_source_up", (("source", "broker"),))] == 1.0

    log = b.tmp / "workers.log"
    with Worker("ingest", b.child_env(), log) as ingest:
        ingest.wait_ready()

        def received() -> int:
            with session_scope() as session:
                return session.scalar(select(func.count()).select_from(IngestRecord))

        wait_for(
            lambda: b.client.llen("ingest") == 0 and received() == N,
            60,
            what="ingest to record every article",
        )
        # The requeued message came back "redelivered" and was split in two: 4 messages.
        in_enrich = b.client.llen("enrich")
        assert in_enrich == 4
        snap = snapshot(with_consumers=True).by_name()
        assert snap["ingest"].consumers == 1 and snap["enrich"].consumers == 0
        assert (snap["ingest"].waiting, snap["enrich"].waiting) == (0, in_enrich)
        assert (snap["enrich"].articles_pending, snap["store"].articles_pending) == (N, 0)
        assert snap["ingest"].processed_per_min == round(N / 5, 2)  # over the 300 s window
        cli = _cli_queues(b)
        assert cli["enrich"]["waiting"] == in_enrich
        # 5 tasks: the split one, its two halves and the two others (counted after they end).
        processed = (
            "newswire_tasks_total",
            (("state", "processed"), ("task", "ingest.ingest_items")),
        )
        m = wait_for(
            lambda: (mm := _metrics()).get(processed) == 5 and mm, 30, what="task counters"
        )
        assert m[("newswire_queue_messages_waiting", (("queue", "enrich"),))] == in_enrich
        assert m[("newswire_queue_consumers", (("queue", "ingest"),))] == 1
        assert m[("newswire_stage_duration_seconds_count", (("task", "ingest.ingest_items"),))] == 5
        assert m[("newswire_ingest_items_total", (("outcome", "queued"),))] == N
    with Worker("enrich", b.child_env(), log) as enrich:
        enrich.wait_ready(timeout=120)
        wait_for(
            lambda: b.client.llen("enrich") == 0 and b.client.llen("store") == in_enrich,
            120,
            what="enrich to forward to store",
        )
        snap = snapshot(with_consumers=False).by_name()
        assert (snap["enrich"].waiting, snap["store"].waiting) == (0, in_enrich)
        assert (snap["enrich"].articles_pending, snap["store"].articles_pending) == (0, N)
    with Worker("store", b.child_env(), log) as store:
        store.wait_ready()

        def stored() -> int:
            with session_scope() as session:
                return session.scalar(select(func.count()).where(IngestRecord.status == "stored"))

        wait_for(lambda: stored() == N, 60, what="the store to store every article")
    final = snapshot(with_consumers=False)
    by = final.by_name()
    assert all(by[q].waiting == 0 and by[q].reserved == 0 for q in ("ingest", "enrich", "store"))
    assert final.stored_in_window == N and final.lag_p50_s is not None
    assert final.lag_p95_s >= final.lag_p50_s > 0
    m = _metrics()
    assert m[("newswire_end_to_end_lag_seconds_count", ())] == N
    assert m[("newswire_articles_stored_total", ())] == N
    assert m[("newswire_articles", (("status", "stored"),))] == N
