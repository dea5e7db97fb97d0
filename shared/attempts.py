"""Attempt counters: per article in the database, per message (raw items) in Redis.

Counted at the START of processing, so a message that kills its worker is counted too
(see :mod:`shared.tasks` for how the task base uses them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis as redis_lib
from sqlalchemy import text, update

from shared.db import is_postgres, session_scope
from shared.logging import get_logger
from shared.models import IngestRecord
from shared.settings import get_settings

log = get_logger(__name__)


def _relaxed_commit(session: Any) -> None:
    """The counter is a heuristic: on PostgreSQL, do not wait for the WAL flush."""
    if is_postgres(session):
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))


def begin_attempts(ids: Sequence[str]) -> dict[str, int]:
    """Count one more attempt for each known article; returns article_id -> attempts."""
    if not ids:
        return {}
    with session_scope() as session:
        _relaxed_commit(session)
        rows = session.execute(
            update(IngestRecord)
            .where(IngestRecord.article_id.in_(sorted(set(ids))))
            .values(attempts=IngestRecord.attempts + 1)
            .returning(IngestRecord.article_id, IngestRecord.attempts)
            .execution_options(synchronize_session=False)
        )
        return {aid: n for aid, n in rows}


def set_attempts(ids: Sequence[str], *, delta: int | None = None, **values: Any) -> None:
    """Reset (``delta=None``) or shift the attempt counter of articles; best effort."""
    if not ids:
        return
    attempts: Any = 0 if delta is None else IngestRecord.attempts + delta
    try:
        with session_scope() as session:
            _relaxed_commit(session)
            session.execute(
                update(IngestRecord)
                .where(IngestRecord.article_id.in_(sorted(set(ids))))
                .values(attempts=attempts, **values)
                .execution_options(synchronize_session=False)
            )
    except Exception as exc:  # noqa: BLE001 - the counter must never fail the work itself
        log.warning("attempt_counter_update_failed", error=str(exc), articles=len(ids))


REDELIVERY_KEY = "newswire:deliveries:"


def count_redelivery(task_id: str | None) -> int:
    """Deliveries of one message so far (first delivery = 1), counted in the broker's Redis."""
    url = get_settings().broker_url
    if not task_id or not url or not url.startswith(("redis://", "rediss://", "unix://")):
        return 1
    try:
        client = redis_lib.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        with client.pipeline() as pipe:
            pipe.incr(REDELIVERY_KEY + task_id)
            pipe.expire(REDELIVERY_KEY + task_id, 7 * 24 * 3600)
            count = int(pipe.execute()[0])
        client.close()
    except redis_lib.RedisError as exc:
        log.warning("redelivery_count_failed", error=str(exc))
        return 1
    return 1 + count
