"""The reconciler turns a lost message into a delay: beat + workers against real Redis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from services.ops.reconcile import reconcile
from services.store.models import Article
from shared.db import session_scope
from shared.models import IngestRecord
from shared.schemas import RawItem, utcnow
from testkit.workers import ROOT, Broker, Worker, wait_for


def _items(n: int) -> list[RawItem]:
    return [
        RawItem(
            title=f"Port strike {i}",
            body=f"Dock workers in Antwerp went on strike, story {i}. " * 6,
            url=f"https://example.org/strike/{i}",
            source="ops",
        )
        for i in range(n)
    ]


def _records() -> dict[str, IngestRecord]:
    with session_scope() as session:
        return {r.article_id: r for r in session.scalars(select(IngestRecord))}


def test_guard_holds_back_what_is_still_queued(broker: Broker) -> None:
    from services.ingest.pipeline import accept

    b = broker
    accept(_items(2))  # one message waiting in `enrich`
    assert b.client.llen("enrich") == 1
    assert "nw_published_at" in json.loads(b.client.lindex("enrich", -1))["headers"]
    later = utcnow() + timedelta(hours=1)
    # Stale by the clock, but its message still waits: the guard holds it back.
    assert reconcile(after=1, now=later)["resent"] == 0
    b.client.delete("enrich")  # now it is lost
    result = reconcile(after=1, now=later)
    assert result["resent"] == 2
    message = json.loads(b.client.lindex("enrich", -1))
    assert message["headers"]["task"] == "enrich.tag_articles"
    assert {r.sends for r in _records().values()} == {2}
    assert reconcile(after=1, now=later)["resent"] == 0  # the re-send itself is now queued


def test_dropped_message_is_stored_by_the_reconciler(broker: Broker) -> None:
    from services.ingest.pipeline import accept

    b = broker
    accept(_items(4))  # NEWSWIRE_BATCH_SIZE=2: two messages in `enrich`
    assert b.client.llen("enrich") == 2
    dropped = json.loads(b.client.rpop("enrich"))  # deleted from Redis on purpose
    assert dropped["headers"]["task"] == "enrich.tag_articles"

    conf: dict[str, Any] = {
        "NEWSWIRE_RECONCILE_AFTER": "3",
        "NEWSWIRE_RECONCILE_INTERVAL": "2",
    }
    env = b.child_env(**conf)
    log = b.tmp / "workers.log"
    beat_log = open(b.tmp / "beat.log", "ab")  # noqa: SIM115
    beat = subprocess.Popen(
        [
            os.path.dirname(os.sys.executable) + "/celery",
            "-A",
            "services.entrypoints.beat:app",
            "beat",
            "--schedule",
            str(b.tmp / "beat-schedule"),
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=beat_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    started = time.monotonic()
    try:
        with Worker("enrich", env, log) as enrich, Worker("store", env, log) as store:
            enrich.wait_ready(timeout=120)
            store.wait_ready()

            def stored() -> int:
                with session_scope() as session:
                    return session.scalar(select(func.count()).select_from(Article))

            # Configured time: 3 s after the send, checked every 2 s, plus tagging time.
            wait_for(lambda: stored() == 4, 120, what="all four articles stored")
    finally:
        os.killpg(beat.pid, signal.SIGTERM)
        beat.wait(20)
        beat_log.close()
    elapsed = time.monotonic() - started
    records = _records()
    assert {r.status for r in records.values()} == {"stored"}
    resent = {aid for aid, r in records.items() if r.sends > 1}
    assert resent == {a["id"] for a in _payload_articles(dropped)}
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 4
    print(f"reconciled and stored 4 articles {elapsed:.1f}s after starting the workers")


def _payload_articles(message: dict[str, Any]) -> list[dict[str, Any]]:
    import base64

    body = json.loads(base64.b64decode(message["body"]))
    return body[0][0]["articles"]
