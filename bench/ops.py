"""Benchmark (prints figures, asserts nothing): cost of the ops machinery.

    .venv/bin/python bench/ops.py

1. PipelineTask guard (attempt counter in, reset out) on store batches of 20:
   guarded ``task.run`` vs the bare task function, side by side, same database.
2. Scrape-time cost: ``/metrics`` render and the ``newswire queues`` snapshot with
   50,000 ingest records and 10,000 messages waiting in Redis.
Uses a throw-away PostgreSQL database and a Redis db number that is empty and has
no client connected (other engineers' workers may be using the others); it deletes
only the keys it wrote.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from shared import queues  # noqa: E402
from shared.settings import reset_settings  # noqa: E402
from testkit.databases import REDIS_BASE, create_pg_database, drop_pg_database  # noqa: E402
from testkit.factories import enriched_batch, numbered, record_received  # noqa: E402

BATCH = 20
ROUNDS = 15


def idle_redis_db() -> int:
    admin = redis.Redis.from_url(f"{REDIS_BASE}/0")
    busy = {int(c["db"]) for c in admin.client_list()}
    for number in range(15, 0, -1):
        if number not in busy and not redis.Redis.from_url(f"{REDIS_BASE}/{number}").dbsize():
            return number
    raise SystemExit("no idle Redis db number: try later")


def main() -> None:
    from shared import db, migrate

    url = create_pg_database("nw_bench_ops")
    redis_url = f"{REDIS_BASE}/{idle_redis_db()}"
    client = redis.Redis.from_url(redis_url)
    try:
        migrate.upgrade(url)
        os.environ["NEWSWIRE_DATABASE_URL"] = url
        os.environ.pop("NEWSWIRE_BROKER_URL", None)
        reset_settings()
        db.dispose_engine()
        from services.store import tasks as store_tasks  # noqa: F401 - registers the store task
        from shared.celery_app import get_app

        task = get_app().tasks[queues.STORE_ARTICLES]
        bare = type(task).run.__wrapped__
        guarded_ms, bare_ms = [], []
        n = 0
        for _ in range(ROUNDS):
            for kind in ("guarded", "bare"):
                arts = [numbered(n + i) for i in range(BATCH)]
                n += BATCH
                record_received(arts)
                msg = enriched_batch(arts)
                t = time.perf_counter()
                if kind == "guarded":
                    task.run(msg)
                    guarded_ms.append((time.perf_counter() - t) * 1000)
                else:
                    bare(task, msg)
                    bare_ms.append((time.perf_counter() - t) * 1000)
        g, b = statistics.median(guarded_ms), statistics.median(bare_ms)
        print(
            f"store batch of {BATCH}, median of {ROUNDS}: guarded {g:.1f} ms, bare {b:.1f} ms, "
            f"overhead {g - b:.1f} ms per batch ({(g / b - 1) * 100:.0f}%)"
        )

        # 50k records, 10k waiting messages.
        from shared.db import session_scope
        from shared.models import IngestRecord
        from shared.schemas import utcnow

        now = utcnow()
        rows = [
            {
                "article_id": f"bench{i:027d}",
                "trace_id": "t",
                "status": "stored" if i % 10 else "received",
                "content_hash": f"h{i}",
                "received_at": now - timedelta(seconds=i % 600 + 5),
                "stored_at": now - timedelta(seconds=i % 600) if i % 10 else None,
                "attempts": 0,
                "sends": 1,
            }
            for i in range(50_000)
        ]
        with session_scope() as session:
            session.execute(insert(IngestRecord), rows)
        pipe = client.pipeline()
        for i in range(10_000):
            pipe.lpush("enrich", f'{{"headers": {{"nw_published_at": {time.time() - i}}}}}')
        pipe.execute()
        os.environ["NEWSWIRE_BROKER_URL"] = redis_url
        reset_settings()
        from services.ops.metrics import render
        from services.ops.queues import snapshot

        render()  # warm up (imports, connections)
        scrape, snap = [], []
        for _ in range(5):
            t = time.perf_counter()
            render()
            scrape.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            s = snapshot(with_consumers=False)
            snap.append((time.perf_counter() - t) * 1000)
        print(
            f"/metrics render with 50k records, 10k waiting: median {statistics.median(scrape):.0f}"
            f" ms (worker inspect cached 15 s; no workers here)"
        )
        print(
            f"queues snapshot (no inspect): median {statistics.median(snap):.0f} ms; "
            f"enrich waiting={s.by_name()['enrich'].waiting}, "
            f"oldest={s.by_name()['enrich'].oldest_age_s:.0f}s, lag p95={s.lag_p95_s}s"
        )
    finally:
        client.delete("enrich", *client.keys("newswire:*"))
        drop_pg_database(url)


if __name__ == "__main__":
    main()
