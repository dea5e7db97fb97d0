"""Queue-checker tests: N articles in, faults injected while they flow, then count.

Each test sends N short generated articles through real workers (``newswire worker``)
on a real Redis and PostgreSQL, injects its fault, waits for the pipeline to drain,
and counts the store: every accepted article exactly once, none lost, and how many
redeliveries the idempotent upsert absorbed. The summary line of each test is
printed at the end of the pytest run (section "fault suite").
"""

from __future__ import annotations

import base64
import json
import pickle
import random
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from testkit.cluster import (
    Cluster,
    Proc,
    RedisServer,
    TcpProxy,
    census,
    cpu_seconds,
    engine_for,
    json_events,
    stored_count,
    wait_for,
)
from testkit.corpus import make_article, make_corpus
from tests.faults.report import report

pytestmark = [pytest.mark.faults, pytest.mark.timeout(420)]

DRAIN_TIMEOUT = 240


def pipeline(cluster: Cluster, enrich: int = 1, **enrich_kw: Any) -> dict[str, Proc]:
    """ingest, enrich and store workers (started together, then waited for)."""
    procs = {
        "ingest": cluster.worker("ingest", 1, wait=False),
        "store": cluster.worker("store", 1, wait=False),
        "enrich": cluster.worker("enrich", enrich, wait=False, **enrich_kw),
    }
    for proc in procs.values():
        cluster.wait_ready(proc)
    return procs


def drain(cluster: Cluster, tag: str, n: int, timeout: float = DRAIN_TIMEOUT) -> None:
    wait_for(
        lambda: stored_count(cluster.database_url, tag) >= n,
        timeout,
        1.0,
        f"{n} articles of {tag} stored",
    )


PIPELINE_QUEUES = ("ingest", "enrich", "store")
SETTLE_TIMEOUT = 240


def broker_idle(client: redis.Redis) -> bool:
    """No message waiting in a pipeline queue and none delivered but unacknowledged."""
    waiting = sum(int(client.llen(q)) for q in PIPELINE_QUEUES)
    return waiting == 0 and int(client.hlen("unacked")) == 0


def settle(cluster: Cluster, tag: str, polls: int = 3) -> None:
    """Wait until nothing can be redelivered any more: every queue empty and no message held
    unacknowledged (a dead worker's message comes back only after the visibility timeout),
    seen on ``polls`` consecutive polls. A late redelivery then has landed before the count,
    whatever the machine's speed, instead of after a fixed pause."""
    client = redis.Redis.from_url(cluster.broker_url, socket_timeout=5)
    streak = [0]

    def idle_for_a_while() -> bool:
        streak[0] = streak[0] + 1 if broker_idle(client) else 0
        return streak[0] >= polls

    try:
        wait_for(idle_for_a_while, SETTLE_TIMEOUT, 0.5, f"the broker idle after {tag}")
    finally:
        client.close()


def received_by(proc: Proc, task: str) -> int:
    return proc.log_text().count(f"Task {task}[")


def succeeded(proc: Proc) -> int:
    return proc.log_text().count("] succeeded in ")


def wait_received(proc: Proc, task: str, after: int, timeout: float = 120) -> None:
    wait_for(lambda: received_by(proc, task) > after, timeout, 0.2, f"{proc.name} receiving {task}")


def assert_exactly_once(result: Any, n: int) -> None:
    assert result.duplicates == 0, result
    assert result.lost == 0, result
    assert result.stored == n, result
    assert result.rows == n, result


# ---------------------------------------------------------------- kills


def test_enrich_worker_sigkill(
    cluster_factory: Any, fresh_pg_url: str, broker_url: str, tmp_path: Path
) -> None:
    """The whole enrich worker (parent and pool) SIGKILLed mid-flow, three times."""
    n, kills, tag = 100, 3, f"kill-{uuid.uuid4().hex[:6]}"
    cluster: Cluster = cluster_factory(broker_url, fresh_pg_url)
    cluster.beat()  # the reconciler re-sends what a dead worker held
    procs = pipeline(cluster)
    items = make_corpus(n, tag, seed=1)
    cluster.send_items(items)
    rng = random.Random(3)
    enrich = procs["enrich"]
    for _ in range(kills):
        wait_received(enrich, "enrich.tag_articles", received_by(enrich, "enrich.tag_articles"))
        time.sleep(rng.uniform(0.3, 2.0))
        enrich.kill()
        enrich = cluster.worker("enrich", 1)
    drain(cluster, tag, n)
    settle(cluster, tag)
    result = census(fresh_pg_url, tag, items, cluster.all_logs)
    report(result.line("enrich-worker-sigkill", n, kills, cluster.memory.summary()))
    assert_exactly_once(result, n)


def busiest_child(proc: Proc, window: float = 0.4) -> int | None:
    children = proc.children()
    if not children:
        return None
    before = {c: cpu_seconds(c) for c in children}
    time.sleep(window)
    return max(children, key=lambda c: cpu_seconds(c) - before[c])


def test_enrich_pool_child_sigkill(
    cluster_factory: Any, fresh_pg_url: str, broker_url: str
) -> None:
    """A pool child of the enrich worker SIGKILLed while it works, three times."""
    n, kills, tag = 120, 3, f"child-{uuid.uuid4().hex[:6]}"
    cluster: Cluster = cluster_factory(broker_url, fresh_pg_url)
    procs = pipeline(cluster, enrich=2)
    # Long articles, sent in one wave per kill: the pool has seconds of work in hand
    # when each kill lands (short articles are tagged faster than a child can be
    # picked, and a kill after the last task would wait for work that never comes).
    items = make_corpus(n, tag, seed=2, words=(500, 800))
    waves = [items[k::kills] for k in range(kills)]
    enrich = procs["enrich"]
    killed = 0
    for wave in waves:
        seen = received_by(enrich, "enrich.tag_articles")
        cluster.send_items(wave)
        wait_received(enrich, "enrich.tag_articles", seen)
        victim = busiest_child(enrich)
        if victim is not None:
            signal_pid(victim, signal.SIGKILL)
            killed += 1
        # The next kill only after the pool has done work again: every kill then hits
        # a child holding a task (a burst mostly hits children still loading the model).
        done = succeeded(enrich)
        wait_for(lambda d=done: succeeded(enrich) > d, 180, 0.3, "the pool working again")
    assert enrich.alive(), "the worker itself must survive the loss of a pool child"
    drain(cluster, tag, n)
    settle(cluster, tag)
    result = census(fresh_pg_url, tag, items, cluster.all_logs)
    lost_workers = sum(
        1
        for e in json_events([enrich.log])
        if str(e.get("event", "")).startswith("Task handler raised error: WorkerLostError")
    )
    report(
        result.line(
            "enrich-pool-child-sigkill",
            n,
            killed,
            f"worker_lost_seen={lost_workers} {cluster.memory.summary()}",
        )
    )
    assert killed == kills
    assert_exactly_once(result, n)


def signal_pid(pid: int, sig: int) -> None:
    import os

    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


# ---------------------------------------------------------------- Redis


def test_redis_killed_and_restarted(
    cluster_factory: Any, fresh_pg_url: str, tmp_path: Path
) -> None:
    """The broker SIGKILLed mid-flow twice, restarted from its append-only file."""
    n, kills, tag = 100, 2, f"redis-{uuid.uuid4().hex[:6]}"
    server = RedisServer(tmp_path)
    server.start()
    try:
        cluster: Cluster = cluster_factory(server.url, fresh_pg_url)
        cluster.beat()
        pipeline(cluster)
        items = make_corpus(n, tag, seed=4)
        cluster.send_items(items)
        for k in range(kills):
            target = (k + 1) * n // (kills + 2)
            wait_for(
                lambda t=target: stored_count(fresh_pg_url, tag) >= t, 180, 0.3, f"{target} stored"
            )
            server.kill()
            time.sleep(3)
            server.start()
        drain(cluster, tag, n)
        settle(cluster, tag)
        result = census(fresh_pg_url, tag, items, cluster.all_logs)
        report(result.line("redis-sigkill-aof-restart", n, kills, cluster.memory.summary()))
        assert_exactly_once(result, n)
    finally:
        server.stop()


# ---------------------------------------------------------------- PostgreSQL


def test_postgres_unreachable_30s(cluster_factory: Any, fresh_pg_url: str, broker_url: str) -> None:
    """Every worker reaches PostgreSQL through a proxy that is cut for 30 s mid-flow."""
    n, tag = 100, f"pgcut-{uuid.uuid4().hex[:6]}"
    url = sa.engine.make_url(fresh_pg_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    try:
        via_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        cluster: Cluster = cluster_factory(broker_url, via_proxy)
        pipeline(cluster)
        items = make_corpus(n, tag, seed=5)
        cluster.send_items(items[: n // 2])
        wait_for(lambda: stored_count(fresh_pg_url, tag) >= 10, 180, 0.3, "10 stored")
        proxy.cut()
        cut_at = time.monotonic()
        cluster.send_items(items[n // 2 :])  # accepted by the broker while the database is away
        time.sleep(30)
        outage = time.monotonic() - cut_at
        refused = proxy.refused
        proxy.restore()
        drain(cluster, tag, n)
        settle(cluster, tag)
        result = census(fresh_pg_url, tag, items, cluster.all_logs)
        retries = sum(p.log_text().count("Retry in") for p in cluster.procs)
        report(
            result.line(
                "postgres-unreachable",
                n,
                1,
                f"outage_s={outage:.0f} connections_refused={refused} task_retries={retries}",
            )
        )
        assert refused > 0, "the workers never noticed the outage: the test proves nothing"
        assert_exactly_once(result, n)
        assert not result.dead, f"an outage must not dead-letter articles: {result.dead}"
    finally:
        proxy.close()


# ---------------------------------------------------------------- poison


@pytest.mark.parametrize("mode", ["raise", "exit"])
def test_poison_message_dead_lettered(
    mode: str, cluster_factory: Any, fresh_pg_url: str, broker_url: str
) -> None:
    """One article that always fails (or always kills its process) goes to the dead
    letters after the set attempts; the other N-1 are stored once."""
    n, tag = 60, f"poison-{mode}-{uuid.uuid4().hex[:6]}"
    marker = f"POISON-{uuid.uuid4().hex}"
    cluster: Cluster = cluster_factory(broker_url, fresh_pg_url, max_attempts=3)
    poison_env = {"NEWSWIRE_TEST_POISON_MARKER": marker, "NEWSWIRE_TEST_POISON_MODE": mode}
    pipeline(cluster, extra_env=poison_env)
    rng = random.Random(6)
    items = [make_article(rng, tag, i, marker=marker if i == 17 else "") for i in range(n)]
    poison_title = items[17]["title"]
    cluster.send_items(items)
    good = [x for x in items if x["title"] != poison_title]

    def poison_dead() -> bool:
        return bool(census(fresh_pg_url, tag, items, []).dead)

    drain(cluster, tag, n - 1)
    wait_for(poison_dead, 120, 1.0, "the poison article dead-lettered")
    settle(cluster, tag)
    result = census(fresh_pg_url, tag, good, cluster.all_logs)
    engine = engine_for(fresh_pg_url)
    with engine.connect() as conn:
        poison = conn.execute(
            sa.text(
                "SELECT r.article_id, r.status, r.attempts FROM ingest_records r "
                "WHERE r.origin = :o"
            ),
            {"o": f"{tag}:17"},
        ).one()
        letters = conn.execute(
            sa.text("SELECT reason, attempts, payload FROM dead_letters WHERE article_id = :a"),
            {"a": poison.article_id},
        ).all()
        poison_stored = conn.execute(
            sa.text("SELECT count(*) FROM articles WHERE id = :a"), {"a": poison.article_id}
        ).scalar_one()
    engine.dispose()
    report(
        result.line(
            f"poison-{mode}",
            n,
            1,
            f"poison_attempts={[x.attempts for x in letters]} poison_reasons="
            f"{[x.reason for x in letters]}",
        )
    )
    assert_exactly_once(result, n - 1)
    assert poison_stored == 0
    assert poison.status == "dead"
    assert len(letters) == 1, f"one dead letter for the poison article, got {letters}"
    bodies = [a["body"] for a in letters[0].payload["articles"]]
    assert any(marker in b for b in bodies), "the dead letter keeps the payload for replay"
    if mode == "exit":
        assert letters[0].reason == "max_attempts"
        assert letters[0].attempts > 3


# ---------------------------------------------------------------- warm shutdown


def unacked(client: redis.Redis, queue: str) -> int:
    """Messages of ``queue`` delivered to a consumer and not yet acknowledged."""
    count = 0
    for raw in client.hvals("unacked"):
        _message, _exchange, routing_key = json.loads(raw)
        count += routing_key == queue
    return count


def test_warm_shutdown_requeues_at_once(
    cluster_factory: Any, fresh_pg_url: str, broker_url: str
) -> None:
    """SIGTERM to an enrich worker mid-task: the task finishes, the messages it held
    are back in the queue when it exits (visibility timeout 1 h: no waiting for it)."""
    n, tag = 60, f"term-{uuid.uuid4().hex[:6]}"
    slow = f"SLOW-{uuid.uuid4().hex}"
    cluster: Cluster = cluster_factory(
        broker_url,
        fresh_pg_url,
        batch_size=5,
        visibility_timeout=3600,
        worker_prefetch_multiplier=4,
    )
    fault_env = {
        "NEWSWIRE_FAULT_INJECTION": "1",
        "NEWSWIRE_FAULT_SLOW_MARKER": slow,
        "NEWSWIRE_FAULT_SLOW_SECONDS": "4",
    }
    cluster.worker("store", 1, wait=False)
    enrich = cluster.worker("enrich", 1, extra_env=fault_env)
    rng = random.Random(8)
    items = [make_article(rng, tag, i, marker=slow if i == 0 else "") for i in range(n)]
    # Straight to the enrich queue through one ingest run: start ingest after sending.
    cluster.send_items(items, per_message=n)
    ingest = cluster.worker("ingest", 1)
    assert ingest.alive()
    wait_for(
        lambda: json_events([enrich.log], "fault_slow_task"), 120, 0.2, "the slow task running"
    )
    client = redis.Redis.from_url(broker_url)
    held_before = unacked(client, "enrich")
    enrich.popen.send_signal(signal.SIGTERM)
    code = enrich.popen.wait(90)
    held_after = unacked(client, "enrich")
    waiting = client.llen("enrich")
    client.close()
    finished = len(json_events([enrich.log], "article_enriched"))
    cluster.worker("enrich", 1)
    drain(cluster, tag, n, timeout=180)
    settle(cluster, tag)
    result = census(fresh_pg_url, tag, items, cluster.all_logs)
    report(
        result.line(
            "enrich-worker-sigterm",
            n,
            1,
            f"held_before={held_before} unacked_after_exit={held_after} "
            f"requeued_waiting={waiting} enriched_before_exit={finished} exit_code={code}",
        )
    )
    assert held_before >= 2, "the worker must hold messages when it is stopped"
    assert held_after == 0, "a warm shutdown must give back every message it held"
    assert waiting > 0
    assert finished >= 5, "the task running at SIGTERM completes"
    assert_exactly_once(result, n)


# ---------------------------------------------------------------- pickle


class _CreatesFile:
    """Unpickling this creates a file: stands for any code a pickle would run."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.path, "w"))


def pickle_message(marker: Path, task: str, queue: str) -> tuple[str, str]:
    """A kombu Redis message envelope with a pickle body, built by hand."""
    task_id = str(uuid.uuid4())
    body = pickle.dumps(
        ((_CreatesFile(str(marker)),), {}, {"callbacks": None, "errbacks": None, "chain": None}),
        protocol=2,
    )
    envelope = {
        "body": base64.b64encode(body).decode(),
        "content-encoding": "binary",
        "content-type": "application/x-python-serialize",
        "headers": {
            "lang": "py",
            "task": task,
            "id": task_id,
            "shadow": None,
            "eta": None,
            "expires": None,
            "group": None,
            "group_index": None,
            "retries": 0,
            "timelimit": [None, None],
            "root_id": task_id,
            "parent_id": None,
            "argsrepr": "(...)",
            "kwargsrepr": "{}",
            "origin": "fault-suite",
            "ignore_result": True,
        },
        "properties": {
            "correlation_id": task_id,
            "reply_to": "",
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
    return task_id, json.dumps(envelope)


def test_pickle_message_refused(
    cluster_factory: Any, fresh_pg_url: str, broker_url: str, tmp_path: Path
) -> None:
    """A pickle message pushed straight into the ingest queue is refused and reported;
    its code never runs; the articles around it flow."""
    n, tag = 60, f"pickle-{uuid.uuid4().hex[:6]}"
    marker = tmp_path / "pwned"
    # The payload is live: unpickling it (here, on purpose, elsewhere) creates a file.
    probe = tmp_path / "probe"
    pickle.loads(base64.b64decode(json.loads(pickle_message(probe, "x", "ingest")[1])["body"]))
    assert probe.exists()

    cluster: Cluster = cluster_factory(broker_url, fresh_pg_url)
    pipeline(cluster)
    items = make_corpus(n, tag, seed=9)
    client = redis.Redis.from_url(broker_url)
    task_id, raw = pickle_message(marker, "ingest.ingest_items", "ingest")
    cluster.send_items(items[: n // 2])
    client.lpush("ingest", raw)
    cluster.send_items(items[n // 2 :])
    client.close()
    drain(cluster, tag, n)

    def refused() -> list[Any]:
        engine = engine_for(fresh_pg_url)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT reason, task, error, payload FROM dead_letters WHERE reason = :r"),
                {"r": "content_refused"},
            ).all()
        engine.dispose()
        return [
            r
            for r in rows
            if (r.payload or {}).get("refused_message", {}).get("task_id") == task_id
        ]

    letters = wait_for(refused, 30, 0.5, "a content_refused dead letter")
    result = census(fresh_pg_url, tag, items, cluster.all_logs)
    report(
        result.line(
            "pickle-message",
            n,
            1,
            f"refused={len(letters)} marker_created={marker.exists()}",
        )
    )
    assert not marker.exists(), "the pickle body was executed"
    assert len(letters) == 1
    assert letters[0].task == "ingest.ingest_items"
    assert "pickle" in letters[0].error or "x-python-serialize" in letters[0].error
    assert_exactly_once(result, n)
