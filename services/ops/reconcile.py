"""The reconciler: articles received but not stored are re-sent, so a loss becomes a delay.

A message can vanish between ingest and store: a worker killed before ``acks_late``
could requeue it, Redis restarted without its last writes, a publish that never
reached the broker. The database knows better: every accepted article has an
``ingest_records`` row with its payload. Rows still ``received`` after
NEWSWIRE_RECONCILE_AFTER seconds since their last send are sent to enrich again
(the store upsert is idempotent, so a late original does no harm).

To avoid re-sending what is merely queued behind a backlog, a row is skipped while
an older or equally old message still waits (or is reserved) in the queue it would
be in: enrich for rows not enriched since their last send, store for the others.
Message ages come from the ``nw_published_at`` header (:mod:`shared.publish`); a
margin covers the gap between writing a record and publishing its message.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select

from shared import dispatch, queues
from shared.db import is_postgres, session_scope
from shared.logging import get_logger
from shared.models import RECEIVED, IngestRecord
from shared.schemas import SCHEMA_VERSION
from shared.settings import get_settings

log = get_logger(__name__)

GUARD_MARGIN = timedelta(seconds=60)


def _queue_horizons() -> dict[str, datetime | None]:
    """Publish time of the oldest message waiting or reserved, per queue (None = empty)."""
    # Deferred on purpose: the queue inspection (Redis, Celery control; ~0.2 s) is needed
    # by a reconciler run only; the CLI imports this module at start-up.
    from services.ops.queues import broker_counts, redis_client

    settings = get_settings()
    if settings.embedded:
        return {}
    counts = broker_counts(redis_client(settings.broker_url), (queues.ENRICH, queues.STORE))
    now = datetime.now(UTC)
    out: dict[str, datetime | None] = {}
    for name, c in counts.items():
        ages = [a for a in (c["oldest_age_s"], c["oldest_reserved_age_s"]) if a is not None]
        out[name] = now - timedelta(seconds=max(ages)) if ages else None
    return out


def reconcile(
    *,
    after: int | None = None,
    limit: int | None = None,
    now: datetime | None = None,
    guard: bool = True,
) -> dict[str, Any]:
    """Re-send stale ``received`` articles to enrich; returns what was done."""
    settings = get_settings()
    after = settings.reconcile_after if after is None else after
    limit = limit or settings.reconcile_batch
    now = now or datetime.now(UTC)
    horizons: dict[str, datetime | None] = {}
    if guard:
        try:
            horizons = _queue_horizons()
        except Exception as exc:  # noqa: BLE001 - without the broker view, still reconcile
            log.warning("reconcile_broker_unreadable", error=str(exc))
    last_sent = func.coalesce(IngestRecord.last_sent_at, IngestRecord.received_at)
    conditions: list[Any] = [
        IngestRecord.status == RECEIVED,
        last_sent < now - timedelta(seconds=after),
    ]
    enrich_horizon, store_horizon = horizons.get(queues.ENRICH), horizons.get(queues.STORE)
    if enrich_horizon is not None:
        conditions.append(last_sent < enrich_horizon - GUARD_MARGIN)
    if store_horizon is not None:
        conditions.append(
            or_(
                IngestRecord.enriched_at.is_(None),
                IngestRecord.enriched_at < last_sent,
                IngestRecord.enriched_at < store_horizon - GUARD_MARGIN,
            )
        )
    payloads: list[dict[str, Any]] = []
    skipped = 0
    with session_scope() as session:
        stmt = (
            select(IngestRecord)
            .where(and_(*conditions))
            .order_by(IngestRecord.received_at)
            .limit(limit)
        )
        if is_postgres(session):
            stmt = stmt.with_for_update(skip_locked=True)
        for record in session.scalars(stmt):
            if not record.payload:
                skipped += 1
                continue
            payload = dict(record.payload)
            payload["attempts"] = record.attempts
            payloads.append(payload)
            record.last_sent_at = now
            record.sends = (record.sends or 0) + 1
    size = settings.batch_size
    for start in range(0, len(payloads), size):
        chunk = payloads[start : start + size]
        for p in chunk:
            log.warning("article_resent", article_id=p.get("id"), trace_id=p.get("trace_id"))
        dispatch.send(queues.TAG_ARTICLES, {"schema_version": SCHEMA_VERSION, "articles": chunk})
    result = {
        "resent": len(payloads),
        "skipped_no_payload": skipped,
        "after_s": after,
        "held_back_by": {k: v.isoformat() for k, v in horizons.items() if v is not None},
    }
    if payloads or skipped:
        log.warning("reconciled", **result)
    return result
