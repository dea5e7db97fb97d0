"""Per-source health, the write side: capped backoff for failing feeds, rejections by source.

The read side (what the console, ``GET /sources`` and ``newswire sources`` show) is
``services.ops.sources``. Two facts are written here because only ingest sees them:

* a feed that keeps failing is polled less often: its interval doubles with every
  consecutive failure, capped at :data:`BACKOFF_CAP` (or the feed's own interval when
  that is longer); a ``Retry-After`` longer than that wins. The first success resets it.
* every rejected item is counted per source, day and reason (``source_rejections``),
  so "which site's extraction broke" has an answer per source, not just a global total.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from shared.db import session_scope
from shared.logging import get_logger
from shared.models import SourceRejection
from shared.schemas import utcnow

log = get_logger(__name__)

BACKOFF_CAP = 6 * 3600  # seconds: a failing feed is still tried four times a day
OK_STATUSES = frozenset({"ok", "not_modified"})
REASON_CHARS = 100


def backoff_seconds(interval: int, failures: int) -> int:
    """Seconds until the next poll of a feed after ``failures`` consecutive failures."""
    if failures <= 1:
        return interval
    cap = max(BACKOFF_CAP, interval)
    return int(min(cap, interval * 2 ** min(failures - 1, 20)))


def reason_code(reason: str | None) -> str:
    """``"too_short: 12 characters"`` -> ``"too_short"`` (the part before the detail)."""
    code = (reason or "unknown").split(":", 1)[0].strip() or "unknown"
    return code[:REASON_CHARS]


def source_of(source: str | None, url: str | None) -> str:
    """The source name an article from this item would get (see ingest.prepare)."""
    if source and source.strip():
        return source.strip()[:300]
    host = urlsplit(url).hostname if url and "://" in url else None
    return (host or "unknown")[:300]


def record_rejections(
    session: Session, rejected: Iterable[tuple[str, str]], day: date | None = None
) -> int:
    """Add ``(source, reason)`` pairs to the per-source, per-day rejection counts."""
    counts = Counter((src[:300], reason_code(reason)) for src, reason in rejected)
    if not counts:
        return 0
    day = day or utcnow().date()
    rows = [
        {"source": s, "day": day, "reason": r, "count": n} for (s, r), n in sorted(counts.items())
    ]
    if session.get_bind().dialect.name == "postgresql":
        stmt: Any = pg_insert(SourceRejection)
    else:
        stmt = sqlite_insert(SourceRejection)
    stmt = stmt.on_conflict_do_update(
        index_elements=["source", "day", "reason"],
        set_={"count": SourceRejection.count + stmt.excluded.count},
    )
    session.execute(stmt, rows)
    return sum(counts.values())


def record_outcome_rejections(items: Iterable[Any], outcomes: Iterable[Any]) -> None:
    """Count the rejected outcomes of one ingest call by the source of their item.

    Never raises: health bookkeeping must not fail an ingest.
    """
    items = list(items)
    by_origin = {i.origin: source_of(i.source, i.url) for i in items if i.origin}
    named = {source_of(i.source, i.url) for i in items}
    only = next(iter(named)) if len(named) == 1 else None  # one feed's or site's batch
    pairs = [
        (
            by_origin.get(o.origin) or only or source_of(None, o.origin),
            o.reason or "unknown",
        )
        for o in outcomes
        if o.status == "rejected"
    ]
    if not pairs:
        return
    try:
        with session_scope() as session:
            record_rejections(session, pairs)
    except Exception as exc:  # noqa: BLE001 - counted on a best-effort basis
        log.warning("rejections_not_recorded", error=str(exc), rejected=len(pairs))


def record_poll_health(feed: Any, status: str, fetched_at: datetime) -> int:
    """Update a feed's failure run after a poll; returns the seconds until the next poll."""
    if status in OK_STATUSES:
        feed.consecutive_failures = 0
        feed.last_success_at = fetched_at
        feed.failing_since = None
    else:
        feed.consecutive_failures = (feed.consecutive_failures or 0) + 1
        if feed.failing_since is None:
            feed.failing_since = fetched_at
    return backoff_seconds(feed.interval_seconds, feed.consecutive_failures)
