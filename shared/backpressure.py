"""Backpressure: producers wait while the downstream queues are too deep.

Feed polling and bulk ingest call :func:`wait_for_capacity` before queueing more
work. It blocks while any watched queue holds more than the high-water mark of
waiting messages and resumes once all of them are under the low-water mark
(hysteresis, so producers do not flap around one threshold).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import redis

from shared import queues
from shared.logging import get_logger
from shared.settings import get_settings

log = get_logger(__name__)

WATCHED = (queues.ENRICH, queues.STORE)


def waiting(client: Any, names: Sequence[str]) -> dict[str, int]:
    """Messages waiting per queue (every priority list), straight from Redis."""
    pipe = client.pipeline(transaction=False)
    for name in names:
        for key in queues.priority_keys(name):
            pipe.llen(key)
    sizes = pipe.execute()
    steps = len(sizes) // max(1, len(names))
    return {
        name: sum(int(n or 0) for n in sizes[i * steps : (i + 1) * steps])
        for i, name in enumerate(names)
    }


def _client(client: Any) -> Any:
    """The given Redis client, or one for the broker; None when embedded (no queues)."""
    if client is not None:
        return client
    url = get_settings().broker_url
    if not url:
        return None
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def _depths(client: Any, names: Sequence[str]) -> dict[str, int] | None:
    """Waiting messages per queue; None when the broker cannot be read (never block on it)."""
    try:
        return waiting(client, names)
    except Exception as exc:  # noqa: BLE001 - a monitoring read must not stop producers
        log.warning("backpressure_check_failed", error=str(exc))
        return None


def wait_for_capacity(
    names: Sequence[str] = WATCHED,
    *,
    high: int | None = None,
    low: int | None = None,
    poll: float = 1.0,
    max_wait: float | None = None,
    client: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Block while a queue is over ``high`` until all are under ``low``; seconds waited.

    ``high`` / ``low`` default to NEWSWIRE_QUEUE_HIGH_WATER / NEWSWIRE_QUEUE_LOW_WATER.
    Returns at once in embedded mode (no queues). A broker that cannot be read does
    not block the caller (its own publish will fail and be retried). ``max_wait``
    bounds the wait (None = as long as it takes).
    """
    settings = get_settings()
    client = _client(client)
    if client is None:
        return 0.0
    high = settings.queue_high_water if high is None else high
    low = settings.queue_low_water if low is None else low
    low = min(low, high)
    depths = _depths(client, names)
    if depths is None or all(depth <= high for depth in depths.values()):
        return 0.0
    started = time.monotonic()
    log.warning("backpressure_paused", depths=depths, high_water=high, low_water=low)
    while True:
        sleep(poll)
        waited = time.monotonic() - started
        depths = _depths(client, names)
        if depths is None:
            return waited
        if all(depth <= low for depth in depths.values()):
            log.info("backpressure_resumed", depths=depths, waited_s=round(waited, 1))
            return waited
        if max_wait is not None and waited >= max_wait:
            log.warning("backpressure_gave_up", depths=depths, waited_s=round(waited, 1))
            return waited


def over_high_water(names: Sequence[str] = WATCHED, *, client: Any = None) -> dict[str, int]:
    """Queues over the high-water mark right now ({} when none, or when embedded)."""
    client = _client(client)
    depths = _depths(client, names) if client is not None else None
    high = get_settings().queue_high_water
    return {name: d for name, d in (depths or {}).items() if d > high}
