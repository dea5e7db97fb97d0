"""Celery signal handlers for operators: task counters in Redis.

Connected by :func:`connect`, which ``newswire worker`` calls when it builds its app
(``services/entrypoints/worker.py``), not at import: the workers are the processes whose
tasks are counted (in embedded mode tasks run in process, but there is no Redis to count
in). The metrics collector imports this module for its key names only. The publish-time
headers (``nw_published_at``, ``nw_articles``) are stamped by :mod:`shared.publish`,
connected by the Celery app itself.

* ``task_prerun`` / ``task_postrun`` count processed / failed / retried tasks and
  observe their durations in Redis hashes, so ``/metrics`` sees every worker
  process and the figures survive a restart (Redis is run with ``appendonly``).
* The store task's articles feed the end-to-end lag histogram (ingest to stored).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from celery import signals

from shared import queues
from shared.logging import get_logger
from shared.settings import get_settings

log = get_logger(__name__)

PREFIX = "newswire:metrics:"
TASKS_KEY = PREFIX + "tasks"  # hash "<task>|<state>" -> count
DURATION_KEY = PREFIX + "duration:"  # + task name: histogram hash
LAG_KEY = PREFIX + "lag"  # histogram hash of end-to-end lag (seconds)
INGEST_KEY = PREFIX + "ingest"  # hash outcome -> count (from ingest task results)

DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
LAG_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)
STATES = {"SUCCESS": "processed", "FAILURE": "failed", "RETRY": "retried"}

_started: dict[str, float] = {}
_client: Any = None
_client_url: str | None = None


def metrics_redis() -> Any:
    """A Redis client on the broker, or None when embedded / not Redis."""
    global _client, _client_url
    url = get_settings().broker_url
    if not url or not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    if _client is None or _client_url != url:
        import redis  # deferred on purpose: 130 ms, only when a message is published

        _client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        _client_url = url
    return _client


def bucket_field(value: float, buckets: tuple[float, ...]) -> str:
    """The (non-cumulative) bucket a value falls in; the collector accumulates them."""
    for bound in buckets:
        if value <= bound:
            return repr(float(bound))
    return "+Inf"


def observe(pipe: Any, key: str, value: float, buckets: tuple[float, ...]) -> None:
    pipe.hincrby(key, bucket_field(value, buckets), 1)
    pipe.hincrby(key, "count", 1)
    pipe.hincrbyfloat(key, "sum", value)


def _lags(message: Any, now: datetime) -> list[float]:
    out = []
    if isinstance(message, dict) and isinstance(message.get("articles"), list):
        for art in message["articles"]:
            raw = art.get("ingested_at") if isinstance(art, dict) else None
            if not isinstance(raw, str):
                continue
            try:
                at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                continue
            if at.tzinfo is None:
                at = at.replace(tzinfo=UTC)
            out.append(max(0.0, (now - at).total_seconds()))
    return out


def _task_started(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()


def _task_finished(
    task_id: str | None = None,
    task: Any = None,
    args: Any = None,
    retval: Any = None,
    state: str | None = None,
    **_: Any,
) -> None:
    started = _started.pop(task_id or "", None)
    name = getattr(task, "name", None)
    if not name or name.startswith("celery."):
        return
    try:
        client = metrics_redis()
        if client is None:
            return
        pipe = client.pipeline(transaction=False)
        pipe.hincrby(TASKS_KEY, f"{name}|{STATES.get(state or '', 'other')}", 1)
        if started is not None:
            observe(pipe, DURATION_KEY + name, time.perf_counter() - started, DURATION_BUCKETS)
        if name == queues.STORE_ARTICLES and state == "SUCCESS" and isinstance(retval, int):
            message = args[0] if args else None
            for lag in _lags(message, datetime.now(UTC)):
                observe(pipe, LAG_KEY, lag, LAG_BUCKETS)
        if name == queues.INGEST_ITEMS and state == "SUCCESS" and isinstance(retval, dict):
            for outcome, n in retval.items():
                if isinstance(n, int):
                    pipe.hincrby(INGEST_KEY, str(outcome)[:80], n)
        pipe.execute()
    except Exception as exc:  # noqa: BLE001 - metrics must never fail a task
        log.warning("task_metrics_failed", task=name, error=str(exc))


def connect() -> None:
    """Count this process's tasks (idempotent: Celery keeps one receiver per function)."""
    signals.task_prerun.connect(_task_started, weak=False)
    signals.task_postrun.connect(_task_finished, weak=False)
