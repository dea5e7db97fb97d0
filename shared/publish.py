"""The publish-time headers every producer stamps on its messages (a broker concern).

``before_task_publish`` adds ``nw_published_at`` (epoch seconds: the age of the oldest
waiting message is read from Redis with it) and ``nw_articles`` (how many articles or raw
items ride in the message: ``newswire queues`` counts them without decoding bodies).
Connected by the app factory (:func:`shared.celery_app.create_app`), so every process that
can publish stamps them.
"""

from __future__ import annotations

import time
from typing import Any

from celery import signals

PUBLISHED_HEADER = "nw_published_at"
ARTICLES_HEADER = "nw_articles"


def stamp_published_at(headers: dict[str, Any] | None = None, body: Any = None, **_: Any) -> None:
    if headers is None:
        return
    headers[PUBLISHED_HEADER] = time.time()
    try:
        payload = body[0][0] if body and body[0] else None
    except (TypeError, IndexError, KeyError):
        payload = None
    if isinstance(payload, dict):
        for key in ("items", "articles"):
            if isinstance(payload.get(key), list):
                headers[ARTICLES_HEADER] = len(payload[key])
                break


def connect() -> None:
    """Stamp every message this process publishes (idempotent: Celery keeps one receiver)."""
    signals.before_task_publish.connect(stamp_published_at, weak=False)
