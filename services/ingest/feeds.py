"""The feeds table and scheduled polling: a feed is fetched (conditional GET), parsed
(:mod:`services.ingest.feedparse`) and its items submitted through the pipeline.

Polling sits above the pipeline (it submits); the parsers below never do.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import or_, select

from services.ingest.errors import Rejected
from services.ingest.feedparse import ParsedFeed, parse_feed
from services.ingest.fetch import FetchError, fetch
from services.ingest.health import record_poll_health, record_rejections, source_of
from services.ingest.pipeline import submit
from services.ingest.urls import canonical_url
from shared.db import is_postgres, session_scope
from shared.logging import get_logger
from shared.models import Feed
from shared.schemas import utcnow

log = get_logger(__name__)

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/rdf+xml;q=0.9, application/xml;q=0.8, application/json;q=0.8, "
    "text/xml;q=0.8, */*;q=0.1"
)
MIN_INTERVAL = 60
MAX_INTERVAL = 7 * 86400
CLAIM_LIMIT = 200


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def parse_interval(text: str | int) -> int:
    """``900``, ``90s``, ``15m``, ``2h``, ``1d`` -> seconds (60 s .. 7 days)."""
    s = str(text).strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        seconds = int(float(s[:-1]) * units[s[-1]]) if s and s[-1] in units else int(s)
    except (ValueError, KeyError) as exc:
        raise ValueError(f"bad interval {text!r}: use seconds or 30s/15m/2h/1d") from exc
    if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise ValueError(f"interval must be between {MIN_INTERVAL} s and {MAX_INTERVAL} s")
    return seconds


def add_feed(
    url: str,
    *,
    interval: int = 900,
    source: str | None = None,
    source_country: str | None = None,
) -> Feed:
    canonical_url(url)  # refuses non-http(s) URLs with a reason
    with session_scope() as session:
        existing = session.scalar(select(Feed).where(Feed.url == url))
        if existing is not None:
            raise ValueError(f"feed already exists with id {existing.id}")
        feed = Feed(
            url=url,
            interval_seconds=interval,
            source=source,
            source_country=source_country.upper() if source_country else None,
            enabled=True,
            items_seen=0,
            next_poll_at=utcnow(),
        )
        session.add(feed)
        session.flush()
        session.expunge(feed)
    log.info("feed_added", feed_id=feed.id, url=url, interval_seconds=interval)
    return feed


def list_feeds() -> list[Feed]:
    with session_scope() as session:
        feeds = list(session.scalars(select(Feed).order_by(Feed.id)))
        for f in feeds:
            session.expunge(f)
    return feeds


def remove_feed(key: str) -> bool:
    with session_scope() as session:
        feed = (
            session.get(Feed, int(key))
            if key.isdigit()
            else session.scalar(select(Feed).where(Feed.url == key))
        )
        if feed is None:
            return False
        session.delete(feed)
    log.info("feed_removed", feed=key)
    return True


def _aware(dt: datetime | None) -> datetime | None:
    if dt is not None and dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt


def claim_due(now: datetime | None = None, limit: int = CLAIM_LIMIT) -> list[int]:
    """Ids of enabled feeds due for a poll; each is pushed one interval ahead (claimed).

    On PostgreSQL rows are locked with SKIP LOCKED, so two schedulers never claim the
    same feed; the claim also keeps a crashed poll from being retried before its time.
    """
    now = now or utcnow()
    with session_scope() as session:
        stmt = (
            select(Feed)
            .where(Feed.enabled.is_(True))
            .where(or_(Feed.next_poll_at.is_(None), Feed.next_poll_at <= now))
            .order_by(Feed.next_poll_at, Feed.id)
            .limit(limit)
        )
        if is_postgres(session):
            stmt = stmt.with_for_update(skip_locked=True)
        feeds = list(session.scalars(stmt))
        for f in feeds:
            f.next_poll_at = now + timedelta(seconds=f.interval_seconds)
        return [f.id for f in feeds]


@dataclass
class PollResult:
    feed_id: int
    status: str  # ok | not_modified | error reason
    items: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    retry_after: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, {}, [])}


def poll_feed(feed_id: int) -> PollResult:
    """Fetch one feed (conditional GET) and submit its items (:func:`pipeline.submit`)."""
    with session_scope() as session:
        feed = session.get(Feed, feed_id)
        if feed is None:
            return PollResult(feed_id, "missing", error="no such feed")
        url, etag, last_modified = feed.url, feed.etag, feed.last_modified
        source, country, interval = feed.source, feed.source_country, feed.interval_seconds
    started = time.perf_counter()
    fetched_at = utcnow()
    result: PollResult
    parsed: ParsedFeed | None = None
    headers: dict[str, str] = {}
    moved_to: str | None = None
    with structlog.contextvars.bound_contextvars(feed_id=feed_id):
        try:
            resp = fetch(url, etag=etag, last_modified=last_modified, accept=FEED_ACCEPT)
            headers = resp.headers
            moved_to = resp.url if resp.permanent else None
            if resp.not_modified:
                result = PollResult(feed_id, "not_modified")
            else:
                parsed = parse_feed(
                    resp.content,
                    url=resp.url,
                    content_type=resp.content_type,
                    fetched_at=fetched_at,
                    source=source,
                    charset=resp.charset,
                )
                items = parsed.items
                for item in items:
                    if country and not item.source_country:
                        item.source_country = country
                counts = submit(items).counts()
                for _, _reason in parsed.rejected:
                    counts["rejected"] = counts.get("rejected", 0) + 1
                result = PollResult(feed_id, "ok", items=len(items), counts=counts)
        except FetchError as exc:
            result = PollResult(feed_id, exc.reason, error=str(exc), retry_after=exc.retry_after)
        except Rejected as exc:
            result = PollResult(feed_id, exc.reason, error=str(exc))
        _record_poll(feed_id, result, headers, parsed, fetched_at, interval, moved_to)
        log.info(
            "feed_polled",
            status=result.status,
            items=result.items,
            counts=result.counts,
            error=result.error,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
    return result


def _record_poll(
    feed_id: int,
    result: PollResult,
    headers: dict[str, str],
    parsed: ParsedFeed | None,
    fetched_at: datetime,
    interval: int,
    moved_to: str | None = None,
) -> None:
    with session_scope() as session:
        feed = session.get(Feed, feed_id)
        if feed is None:
            return
        if moved_to and moved_to != feed.url:
            taken = session.scalar(select(Feed.id).where(Feed.url == moved_to))
            if taken is None:  # a 301/308: poll the new address from now on
                log.info("feed_moved", old_url=feed.url, new_url=moved_to)
                feed.url = moved_to
        feed.last_polled_at = fetched_at
        feed.last_status = result.status[:100]
        feed.last_error = result.error
        # Failing feeds back off (capped); the console shows why (services.ingest.health).
        wait = max(
            record_poll_health(feed, result.status, fetched_at), int(result.retry_after or 0)
        )
        if parsed is not None and parsed.rejected:
            name = feed.source or parsed.title or feed.title
            record_rejections(session, [(source_of(name, feed.url), r) for _, r in parsed.rejected])
        # Never earlier than the claim made by the scheduler (claim_due).
        claimed = _aware(feed.next_poll_at)
        next_at = fetched_at + timedelta(seconds=wait)
        feed.next_poll_at = max(next_at, claimed) if claimed else next_at
        if result.status == "ok":
            feed.etag = headers.get("etag") or None
            feed.last_modified = headers.get("last-modified") or None
            feed.items_seen = (feed.items_seen or 0) + result.items
            if parsed is not None and parsed.title and not feed.title:
                feed.title = parsed.title[:1000]


def poll_due(now: datetime | None = None) -> list[PollResult]:
    """Poll every due feed in this process (embedded mode, ``newswire feeds poll``)."""
    return [poll_feed(fid) for fid in claim_due(now)]


def feed_rows(feeds: Iterable[Feed]) -> list[dict[str, Any]]:
    return [
        {
            "id": f.id,
            "url": f.url,
            "title": f.title,
            "interval": f.interval_seconds,
            "enabled": f.enabled,
            "last_status": f.last_status,
            "last_polled_at": _iso(_aware(f.last_polled_at)),
            "next_poll_at": _iso(_aware(f.next_poll_at)),
            "items_seen": f.items_seen,
        }
        for f in feeds
    ]
