"""Prometheus metrics, computed at scrape time from Redis and the database.

Workers are many processes on many hosts; in-process counters would show one of
them. So the collector reads the truth where it lives: queue depths and message
ages from the broker (as ``newswire queues`` does), task counters and duration /
lag histograms from the Redis hashes the worker signal handlers keep
(services.ops.signals), and article, duplicate and dead-letter counts from the
database.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from sqlalchemy import case, func, select

from services.ops import queues as q
from services.ops import signals, sources
from services.store.repository import search_backlog
from shared import queues
from shared.db import session_scope
from shared.logging import get_logger
from shared.models import DUPLICATE, STORED, DeadLetter, IngestRecord
from shared.settings import get_settings

log = get_logger(__name__)


def _decode(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def histogram_from_hash(
    raw: dict[Any, Any], buckets: tuple[float, ...]
) -> tuple[list[tuple[str, float]], float]:
    """Cumulative Prometheus buckets and sum from a hash of per-bucket counts."""
    data = {_decode(k): float(_decode(v)) for k, v in raw.items()}
    cumulative, out = 0.0, []
    for bound in buckets:
        cumulative += data.get(repr(float(bound)), 0.0)
        out.append((repr(float(bound)), cumulative))
    cumulative += data.get("+Inf", 0.0)
    out.append(("+Inf", cumulative))
    return out, data.get("sum", 0.0)


class NewswireCollector:
    """A custom collector: every value is read when Prometheus scrapes."""

    def __init__(self, consumer_timeout: float = 1.0, consumer_cache_s: float = 15.0) -> None:
        self.consumer_timeout = consumer_timeout
        self.consumer_cache_s = consumer_cache_s

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        settings = get_settings()
        up = GaugeMetricFamily(
            "newswire_source_up", "1 when the source could be read", labels=["source"]
        )
        yield from self._broker(settings, up)
        yield from self._database(up)
        yield from self._sources()
        yield up
        yield GaugeMetricFamily(
            "newswire_scrape_duration_seconds",
            "time spent computing these metrics",
            value=time.perf_counter() - started,
        )

    # -- broker -----------------------------------------------------------------------

    def _broker(self, settings: Any, up: GaugeMetricFamily) -> Iterator[Metric]:
        if not settings.broker_url:
            return
        waiting = GaugeMetricFamily(
            "newswire_queue_messages_waiting", "messages waiting in the queue", labels=["queue"]
        )
        reserved = GaugeMetricFamily(
            "newswire_queue_messages_reserved",
            "messages delivered to workers, not yet acknowledged",
            labels=["queue"],
        )
        age = GaugeMetricFamily(
            "newswire_queue_oldest_message_age_seconds",
            "age of the oldest waiting message (0 when empty)",
            labels=["queue"],
        )
        try:
            client = q.redis_client(settings.broker_url)
            counts = q.broker_counts(client)
            for name, c in counts.items():
                waiting.add_metric([name], c["waiting"])
                reserved.add_metric([name], c["reserved"])
                age.add_metric([name], c["oldest_age_s"] or 0.0)
            yield waiting
            yield reserved
            yield age
            yield from self._task_counters(client)
            up.add_metric(["broker"], 1)
        except Exception as exc:  # noqa: BLE001 - a scrape must still answer
            log.warning("metrics_broker_failed", error=str(exc))
            up.add_metric(["broker"], 0)
            return  # asking workers through a dead broker would only stall the scrape
        found = q.consumers(
            settings.broker_url, timeout=self.consumer_timeout, max_age=self.consumer_cache_s
        )
        if found is not None:
            cons = GaugeMetricFamily(
                "newswire_queue_consumers", "workers consuming the queue", labels=["queue"]
            )
            for name in queues.QUEUES:
                cons.add_metric([name], found.get(name, 0))
            yield cons

    def _task_counters(self, client: Any) -> Iterator[Metric]:
        tasks = CounterMetricFamily(
            "newswire_tasks", "tasks finished, by outcome", labels=["task", "state"]
        )
        for field, value in (client.hgetall(signals.TASKS_KEY) or {}).items():
            task, _, state = _decode(field).partition("|")
            tasks.add_metric([task, state], float(_decode(value)))
        yield tasks
        ingest = CounterMetricFamily(
            "newswire_ingest_items",
            "raw items by ingest outcome (queued, duplicate, rejected[:reason])",
            labels=["outcome"],
        )
        for field, value in (client.hgetall(signals.INGEST_KEY) or {}).items():
            ingest.add_metric([_decode(field)], float(_decode(value)))
        yield ingest
        durations = HistogramMetricFamily(
            "newswire_stage_duration_seconds", "task run time per stage", labels=["task"]
        )
        for key in client.scan_iter(match=signals.DURATION_KEY + "*", count=100):
            name = _decode(key)[len(signals.DURATION_KEY) :]
            buckets, total = histogram_from_hash(client.hgetall(key), signals.DURATION_BUCKETS)
            durations.add_metric([name], buckets, total)
        yield durations
        lag = HistogramMetricFamily(
            "newswire_end_to_end_lag_seconds", "from ingest to stored, per article"
        )
        buckets, total = histogram_from_hash(
            client.hgetall(signals.LAG_KEY) or {}, signals.LAG_BUCKETS
        )
        lag.add_metric([], buckets, total)
        yield lag

    # -- per-source health ----------------------------------------------------------------

    def _sources(self) -> Iterator[Metric]:
        try:
            found = sources.health()
        except Exception as exc:  # noqa: BLE001 - a scrape must still answer
            log.warning("metrics_sources_failed", error=str(exc))
            return
        yield from sources.metric_families(found)

    # -- database -----------------------------------------------------------------------

    def _database(self, up: GaugeMetricFamily) -> Iterator[Metric]:
        try:
            with session_scope() as session:
                by_status = session.execute(
                    select(IngestRecord.status, func.count()).group_by(IngestRecord.status)
                ).all()
                kind = case((IngestRecord.similarity < 1.0, "near_duplicate"), else_="exact")
                dups = session.execute(
                    select(kind, func.count())
                    .where(IngestRecord.status == DUPLICATE)
                    .group_by(kind)
                ).all()
                dead = session.execute(
                    select(
                        DeadLetter.status, DeadLetter.reason, DeadLetter.task, func.count()
                    ).group_by(DeadLetter.status, DeadLetter.reason, DeadLetter.task)
                ).all()
                oldest_open = session.scalar(
                    select(func.min(DeadLetter.created_at)).where(DeadLetter.status == "dead")
                )
                backlog = search_backlog(session)
        except Exception as exc:  # noqa: BLE001
            log.warning("metrics_database_failed", error=str(exc))
            up.add_metric(["database"], 0)
            return
        up.add_metric(["database"], 1)
        records = GaugeMetricFamily(
            "newswire_articles", "ingest records by status", labels=["status"]
        )
        statuses = dict(by_status)
        for status in dict.fromkeys(("received", "stored", "duplicate", "dead", *statuses)):
            records.add_metric([status], statuses.get(status, 0))
        yield records
        yield CounterMetricFamily(
            "newswire_articles_stored",
            "articles stored (ingest records marked stored)",
            value=statuses.get(STORED, 0),
        )
        duplicates = CounterMetricFamily(
            "newswire_duplicates", "duplicate articles recorded, by kind", labels=["kind"]
        )
        for k, n in dups:
            duplicates.add_metric([str(k)], float(n))  # type: ignore[arg-type]
        yield duplicates
        letters = GaugeMetricFamily(
            "newswire_dead_letters",
            "dead letters by status, reason and task",
            labels=["status", "reason", "task"],
        )
        created = CounterMetricFamily(
            "newswire_dead_letters_created",
            "dead letters ever written, by reason",
            labels=["reason"],
        )
        by_reason: dict[str, int] = {}
        for status, reason, task, n in dead:
            letters.add_metric([status, reason, task], n)
            by_reason[reason] = by_reason.get(reason, 0) + n
        for reason, n in by_reason.items():
            created.add_metric([reason], n)
        yield letters
        yield created
        age = 0.0
        if oldest_open is not None:
            if oldest_open.tzinfo is None:
                oldest_open = oldest_open.replace(tzinfo=UTC)
            age = (datetime.now(UTC) - oldest_open).total_seconds()
        yield GaugeMetricFamily(
            "newswire_dead_letters_oldest_age_seconds",
            "age of the oldest open dead letter (0 when none)",
            value=age,
        )
        yield GaugeMetricFamily(
            "newswire_search_backlog",
            "articles stored but not yet searchable by full text (PostgreSQL)",
            value=float(backlog),
        )


_registry: CollectorRegistry | None = None


def registry() -> CollectorRegistry:
    global _registry
    if _registry is None:
        _registry = CollectorRegistry(auto_describe=False)
        _registry.register(NewswireCollector())  # type: ignore[arg-type]
    return _registry


def render() -> bytes:
    """The Prometheus text exposition of every Newswire metric."""
    return generate_latest(registry())
