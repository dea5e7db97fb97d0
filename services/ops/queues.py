"""What the queues hold, read from Redis itself and from the database.

kombu's Redis transport (5.x) keeps each queue as a Redis list named after the
queue (priorities > 0 in ``<queue>\\x06\\x16<pri>`` lists), pushes new messages with
LPUSH and consumes with BRPOP, so the tail (``LINDEX -1``) is the next one out.
Messages delivered to a worker but not yet acknowledged sit in the ``unacked``
hash (``delivery_tag -> [message, exchange, routing_key]``), indexed by delivery
time in the ``unacked_index`` sorted set. Both survive a worker's death and are
what ``llen`` alone misses (the classic "queue length reads 0 when it is not").

Rates and lag come from the database (``ingest_records`` / ``dead_letters``), so
their history survives restarts of any process.
"""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from celery import Celery
from sqlalchemy import func, select

from shared import queues
from shared.db import is_postgres, session_scope
from shared.logging import get_logger
from shared.models import RECEIVED, STORED, DeadLetter, IngestRecord
from shared.publish import ARTICLES_HEADER, PUBLISHED_HEADER
from shared.settings import get_settings

log = get_logger(__name__)

PRIORITY_STEPS = queues.PRIORITY_STEPS  # kombu.transport.redis.PRIORITY_STEPS
PRIORITY_SEP = queues.PRIORITY_SEP  # kombu.transport.redis.Channel.sep
UNACKED_KEY = "unacked"
UNACKED_INDEX_KEY = "unacked_index"
DEAD = "dead-letters"
SAMPLE_MESSAGES = 32  # per queue: counted one by one; the rest estimated from their mean
# ARTICLES_HEADER (items / articles in the message) and PUBLISHED_HEADER are stamped by
# shared.publish on every message; read here, never defined again.
_ARTICLES_RE = re.compile(rb'"%s":\s*(\d+)' % re.escape(ARTICLES_HEADER.encode()))


@dataclass
class QueueStats:
    name: str
    waiting: int | None = None
    reserved: int | None = None
    oldest_age_s: float | None = None
    consumers: int | None = None
    articles_pending: int | None = None
    articles_waiting: int | None = None  # in the queue's messages (waiting + reserved)
    articles_estimated: bool = False  # True when counted from a sample of the messages
    processed_per_min: float | None = None
    failed_per_min: float | None = None
    lag_p50_s: float | None = None
    lag_p95_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Snapshot:
    at: datetime
    window_s: int
    broker: str | None
    queues: list[QueueStats] = field(default_factory=list)
    lag_p50_s: float | None = None
    lag_p95_s: float | None = None
    stored_in_window: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "window_s": self.window_s,
            "broker": self.broker,
            "queues": [q.as_dict() for q in self.queues],
            "lag": {"p50_s": self.lag_p50_s, "p95_s": self.lag_p95_s},
            "stored_in_window": self.stored_in_window,
            "errors": self.errors,
        }

    def by_name(self) -> dict[str, QueueStats]:
        return {q.name: q for q in self.queues}


def redact(url: str | None) -> str | None:
    """A broker URL without its password."""
    if not url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1) if "://" in url else ("", url)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user + ':***' if ':' in creds else user}@{host}"


def redis_client(url: str | None = None) -> Any:
    url = url or get_settings().broker_url
    if not url:
        raise RuntimeError("NEWSWIRE_BROKER_URL is not set")
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


priority_keys = queues.priority_keys


def published_at(raw: bytes | str | None) -> float | None:
    """The publish time a message carries (our header), or None."""
    if raw is None:
        return None
    try:
        message = json.loads(raw)
    except (TypeError, ValueError):
        return None
    if isinstance(message, list):  # an unacked entry: [message, exchange, routing_key]
        message = message[0] if message else None
    if not isinstance(message, dict):
        return None
    value = (message.get("headers") or {}).get(PUBLISHED_HEADER)
    return float(value) if isinstance(value, int | float) else None


def message_articles(raw: bytes | str | None) -> int:
    """Articles (or raw items) a queued message carries: 0 for one without a list.

    Read from our publish header when present (a regex over the raw envelope: kombu
    puts the base64 body first, and base64 holds no quotes), else from the body.
    """
    if raw is None:
        return 0
    data = raw.encode() if isinstance(raw, str) else raw
    found = _ARTICLES_RE.search(data)
    if found:
        return int(found.group(1))
    try:
        message = json.loads(data)
        if isinstance(message, list):  # an unacked entry: [message, exchange, routing_key]
            message = message[0]
        body: Any = message["body"]
        if (message.get("properties") or {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        payload = args[0] if args else None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError):
        return 0
    if isinstance(payload, dict):
        for key in ("items", "articles"):
            if isinstance(payload.get(key), list):
                return len(payload[key])
    return 0


def broker_counts(client: Any, names: tuple[str, ...] = queues.QUEUES) -> dict[str, dict[str, Any]]:
    """waiting, reserved and oldest-message age per queue, as Redis holds them now."""
    now = time.time()
    pipe = client.pipeline(transaction=False)
    for name in names:
        for key in priority_keys(name):
            pipe.llen(key)
            pipe.lindex(key, -1)
            pipe.lindex(key, 0)
            pipe.lrange(key, 0, SAMPLE_MESSAGES - 1)
    pipe.hgetall(UNACKED_KEY)
    results = pipe.execute()
    unacked: dict[bytes, bytes] = results.pop()
    out: dict[str, dict[str, Any]] = {}
    it = iter(results)
    for name in names:
        waiting = 0
        oldest: float | None = None
        articles = 0.0
        estimated = False
        for _ in PRIORITY_STEPS:
            length, tail, head, sample = next(it), next(it), next(it), next(it)
            waiting += int(length or 0)
            if sample:
                counted = [message_articles(raw) for raw in sample]
                articles += sum(counted)
                rest = int(length or 0) - len(sample)
                if rest > 0:  # too many to read: the mean of the newest ones
                    articles += rest * sum(counted) / len(counted)
                    estimated = True
            # The tail is the next out; a message restored "leftmost" may sit at the head.
            for raw in (tail, head):
                ts = published_at(raw)
                if ts is not None:
                    oldest = ts if oldest is None else min(oldest, ts)
        out[name] = {
            "waiting": waiting,
            "reserved": 0,
            "oldest_age_s": round(max(0.0, now - oldest), 3) if oldest is not None else None,
            "oldest_reserved_age_s": None,
            "articles": round(articles),
            "articles_estimated": estimated,
        }
    for raw in unacked.values():
        try:
            entry = json.loads(raw)
            exchange, routing_key = entry[1], entry[2]
        except (TypeError, ValueError, IndexError):
            continue
        name = routing_key if routing_key in out else exchange
        if name not in out:
            continue
        out[name]["reserved"] += 1
        out[name]["articles"] += message_articles(raw)
        ts = published_at(raw)
        if ts is not None:
            age = round(max(0.0, now - ts), 3)
            prev = out[name]["oldest_reserved_age_s"]
            out[name]["oldest_reserved_age_s"] = age if prev is None else max(prev, age)
    return out


def oldest_published(client: Any, names: tuple[str, ...] = queues.QUEUES) -> float | None:
    """Publish time of the oldest message waiting or reserved in any of the queues."""
    counts = broker_counts(client, names)
    now = time.time()
    ages = [
        age
        for c in counts.values()
        for age in (c["oldest_age_s"], c["oldest_reserved_age_s"])
        if age is not None
    ]
    return now - max(ages) if ages else None


_consumer_cache: dict[str, tuple[float, dict[str, int] | None]] = {}


def consumers(
    broker_url: str | None = None, timeout: float = 1.0, max_age: float = 0.0
) -> dict[str, int] | None:
    """Consumers per queue from the workers themselves (``inspect active_queues``)."""
    url = broker_url or get_settings().broker_url
    if not url:
        return None
    cached = _consumer_cache.get(url)
    if cached and max_age and time.monotonic() - cached[0] < max_age:
        return cached[1]
    result: dict[str, int] | None
    try:
        replies = control_app(url).control.inspect(timeout=timeout).active_queues() or {}
        result = {}
        for worker_queues in replies.values():
            for q in worker_queues or []:
                result[q["name"]] = result.get(q["name"], 0) + 1
    except Exception as exc:  # noqa: BLE001 - a broker outage shows as "unknown"
        log.warning("inspect_failed", error=str(exc))
        result = None
    _consumer_cache[url] = (time.monotonic(), result)
    return result


_control_apps: dict[str, Any] = {}


def control_app(url: str) -> Any:
    """A light Celery app on ``url`` for remote control (inspect, ping)."""
    app = _control_apps.get(url)
    if app is None:
        app = Celery("newswire-ops", broker=url, set_as_current=False)
        app.conf.update(
            accept_content=["json"],
            task_serializer="json",
            result_serializer="json",
            broker_connection_retry_on_startup=False,
            broker_connection_max_retries=1,
        )
        _control_apps[url] = app
    return app


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (rank - low), 3)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def database_stats(window_s: int, now: datetime | None = None) -> dict[str, Any]:
    """Per-stage articles per minute, dead letters and end-to-end lag over the window."""
    now = now or datetime.now(UTC)
    since = now - timedelta(seconds=window_s)
    minutes = window_s / 60
    with session_scope() as session:
        received = session.scalar(select(func.count()).where(IngestRecord.received_at >= since))
        enriched = session.scalar(select(func.count()).where(IngestRecord.enriched_at >= since))
        in_window = (IngestRecord.status == STORED, IngestRecord.stored_at >= since)
        lag_p50: Any = None
        lag_p95: Any = None
        stored: Any
        if is_postgres(session):
            lag = func.extract("epoch", IngestRecord.stored_at - IngestRecord.received_at)
            row: Any = session.execute(
                select(
                    func.count(),
                    func.percentile_cont(0.5).within_group(lag),
                    func.percentile_cont(0.95).within_group(lag),
                ).where(*in_window)
            ).one()
            stored, lag_p50, lag_p95 = row
        else:
            rows = session.execute(
                select(IngestRecord.received_at, IngestRecord.stored_at)
                .where(*in_window)
                .order_by(IngestRecord.stored_at.desc())
                .limit(50_000)
            ).all()
            lags = [
                (_aware(s) - _aware(r)).total_seconds()  # type: ignore[operator]
                for r, s in rows
                if r is not None and s is not None
            ]
            stored = len(rows)
            lag_p50, lag_p95 = percentile(lags, 0.50), percentile(lags, 0.95)
        failed_by_task = dict(
            session.execute(
                select(DeadLetter.task, func.count())
                .where(DeadLetter.created_at >= since)
                .group_by(DeadLetter.task)
            ).all()
        )
        last_sent = func.coalesce(IngestRecord.last_sent_at, IngestRecord.received_at)
        sent_on = (IngestRecord.enriched_at.is_not(None)) & (IngestRecord.enriched_at >= last_sent)
        pending_enrich, pending_store = session.execute(
            select(
                func.count().filter(~sent_on),
                func.count().filter(sent_on),
            ).where(IngestRecord.status == RECEIVED)
        ).one()
        dead_waiting, dead_oldest = session.execute(
            select(func.count(), func.min(DeadLetter.created_at)).where(DeadLetter.status == "dead")
        ).one()
    failed: dict[str, int] = {}
    for task, n in failed_by_task.items():
        stage = task.split(".", 1)[0]
        failed[stage] = failed.get(stage, 0) + n
    oldest_letter = _aware(dead_oldest)
    return {
        "processed_per_min": {
            queues.INGEST: round((received or 0) / minutes, 2),
            queues.ENRICH: round((enriched or 0) / minutes, 2),
            queues.STORE: round((stored or 0) / minutes, 2),
        },
        "failed_per_min": {q: round(failed.get(q, 0) / minutes, 2) for q in queues.QUEUES},
        "dead_letters_per_min": round(sum(failed.values()) / minutes, 2),
        "dead_waiting": int(dead_waiting or 0),
        "pending": {queues.ENRICH: int(pending_enrich or 0), queues.STORE: int(pending_store or 0)},
        "dead_oldest_age_s": (
            round((now - oldest_letter).total_seconds(), 3) if oldest_letter is not None else None
        ),
        "lag_p50_s": None if lag_p50 is None else round(max(0.0, float(lag_p50)), 3),
        "lag_p95_s": None if lag_p95 is None else round(max(0.0, float(lag_p95)), 3),
        "stored": int(stored or 0),
    }


def snapshot(
    window_s: int | None = None, *, with_consumers: bool = True, consumer_timeout: float = 1.0
) -> Snapshot:
    """Everything ``newswire queues`` shows, in one structure."""
    settings = get_settings()
    window_s = window_s or settings.metrics_window
    snap = Snapshot(at=datetime.now(UTC), window_s=window_s, broker=redact(settings.broker_url))
    stats = {q: QueueStats(name=q) for q in queues.QUEUES}
    dead = QueueStats(name=DEAD, reserved=0, consumers=None)
    if settings.broker_url:
        try:
            counts = broker_counts(redis_client(settings.broker_url))
            for q, c in counts.items():
                stats[q].waiting = c["waiting"]
                stats[q].reserved = c["reserved"]
                stats[q].oldest_age_s = c["oldest_age_s"]
                stats[q].articles_waiting = c["articles"]
                stats[q].articles_estimated = c["articles_estimated"]
        except Exception as exc:  # noqa: BLE001 - show what we can, say what failed
            snap.errors.append(f"broker: {type(exc).__name__}: {exc}")
        if with_consumers and not snap.errors:
            found = consumers(settings.broker_url, timeout=consumer_timeout)
            if found is not None:
                for q in queues.QUEUES:
                    stats[q].consumers = found.get(q, 0)
    try:
        db = database_stats(window_s, snap.at)
        for q in queues.QUEUES:
            stats[q].processed_per_min = db["processed_per_min"][q]
            stats[q].failed_per_min = db["failed_per_min"][q]
            stats[q].articles_pending = db["pending"].get(q)
        # Nothing is recorded before ingest: its articles are the items in its messages.
        stats[queues.INGEST].articles_pending = stats[queues.INGEST].articles_waiting
        stats[queues.STORE].lag_p50_s = db["lag_p50_s"]
        stats[queues.STORE].lag_p95_s = db["lag_p95_s"]
        dead.waiting = db["dead_waiting"]
        dead.oldest_age_s = db["dead_oldest_age_s"]
        dead.failed_per_min = db["dead_letters_per_min"]
        snap.lag_p50_s, snap.lag_p95_s = db["lag_p50_s"], db["lag_p95_s"]
        snap.stored_in_window = db["stored"]
    except Exception as exc:  # noqa: BLE001
        snap.errors.append(f"database: {type(exc).__name__}: {exc}")
    snap.queues = [*stats.values(), dead]
    return snap
