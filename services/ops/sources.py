"""Per-source health, the read side: is each feed or site alive, and is its extraction sane?

A source is what articles carry in ``articles.source`` (the feed's ``source`` or title,
or the site's host name) together with the feeds that produce it. For each source:

* articles per day over the last :data:`DAYS` days (by ingest time), the last article,
  and its usual interval (mean gap between articles over those days);
* its feeds: last poll, last successful poll, consecutive failures with the error and
  the capped backoff (``services.ingest.health``), the next poll;
* rejection reasons by count (``source_rejections``) over the same days;
* extraction quality: the share of articles with a published date, an author and a
  body of at least :data:`BODY_MIN_CHARS` characters, over the last day (``recent``)
  and the :data:`BASELINE_DAYS` days before (``baseline``); on PostgreSQL over the newest
  :data:`QUALITY_SAMPLE` articles of each window, so the cost does not grow with volume.

Every figure is read from the database when asked (one query per kind, grouped by
source), so it is the same in the console, ``GET /sources``, ``newswire sources`` and
``/metrics``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Date, case, cast, func, select, text
from sqlalchemy.orm import Session

from services.store.models import Article
from shared.db import is_postgres, session_scope
from shared.models import Feed, SourceRejection

DAYS = 30
BASELINE_DAYS = 7
BODY_MIN_CHARS = 400
QUIET_FACTOR = 4.0  # quiet when silent for more than this many usual intervals ...
QUIET_MIN_S = 3 * 3600  # ... and for at least this long
MIN_ACTIVE_DAYS = 3  # days with articles needed before a source has a usual interval
QUALITY_DROP = 0.25  # a share this much lower than the baseline is a drop
QUALITY_MIN_RECENT = 5  # articles needed in each window to judge quality
QUALITY_MIN_BASELINE = 10
QUALITY_SAMPLE = 100  # PostgreSQL: the newest articles of each window judged per source
MEASURES = ("with_date", "with_author", "with_body")

SEVERITY = {"failing": 3, "quiet": 2, "degraded": 1, "ok": 0}


@dataclass
class SourceHealth:
    id: str
    status: str = "ok"  # worst of: failing | quiet | degraded | ok
    problems: list[str] = field(default_factory=list)
    articles_30d: int = 0  # = sum(per_day): today and the 29 UTC days before
    articles_24h: int = 0
    per_day: list[int] = field(default_factory=lambda: [0] * DAYS)  # oldest first, today last
    last_article_at: datetime | None = None
    quiet_s: float | None = None
    usual_interval_s: float | None = None
    feeds: list[dict[str, Any]] = field(default_factory=list)
    rejections: dict[str, int] = field(default_factory=dict)
    quality: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def severity(self) -> int:
        return SEVERITY.get(self.status, 0)

    def sort_key(self) -> tuple[Any, ...]:
        overdue = (self.quiet_s or 0) / (self.usual_interval_s or 86400)
        failures = max((f["consecutive_failures"] for f in self.feeds), default=0)
        return (-self.severity, -failures, -overdue, self.id.lower())

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["last_article_at"] = _iso(self.last_article_at)
        return out


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite aggregates come back as text
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value  # type: ignore[no-any-return]


def feed_source(feed: Any) -> str:
    """The source name a feed's articles carry (see ingest.feeds.parse_feed)."""
    name = (feed.source or feed.title or "").strip()
    if name:
        return name[:300]
    return urlsplit(feed.url).hostname or feed.url


def _feed_dict(feed: Any, now: datetime) -> dict[str, Any]:
    failures = int(feed.consecutive_failures or 0)
    next_poll = _aware(feed.next_poll_at)
    polled = _aware(feed.last_polled_at)
    # The wait the poller actually set after the last failure (services.ingest.health).
    backoff = (
        round((next_poll - polled).total_seconds())
        if failures and next_poll is not None and polled is not None
        else None
    )
    return {
        "id": feed.id,
        "url": feed.url,
        "title": feed.title,
        "enabled": feed.enabled,
        "interval_s": feed.interval_seconds,
        "last_polled_at": _iso(_aware(feed.last_polled_at)),
        "last_success_at": _iso(_aware(feed.last_success_at)),
        "last_status": feed.last_status,
        "last_error": feed.last_error,
        "consecutive_failures": failures,
        "failing_since": _iso(_aware(feed.failing_since)),
        "backoff_s": backoff if backoff and backoff > feed.interval_seconds else None,
        "next_poll_at": _iso(next_poll),
        "items_seen": feed.items_seen or 0,
    }


def _day(session: Session, column: Any) -> Any:
    if is_postgres(session):
        return cast(func.timezone("UTC", column), Date)
    return func.strftime("%Y-%m-%d", column)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _last_articles(session: Session, source: str | None) -> list[tuple[str | None, Any]]:
    """Each source's last article ever (PostgreSQL: a loose index scan, one probe per source)."""
    if source is not None:
        last = session.scalar(select(func.max(Article.ingested_at)).where(Article.source == source))
        return [(source, last)] if last is not None else []
    if not is_postgres(session):
        return list(
            session.execute(
                select(Article.source, func.max(Article.ingested_at)).group_by(Article.source)
            ).tuples()
        )
    return list(
        session.execute(
            text(
                """
        WITH RECURSIVE s(source) AS (
            (SELECT source FROM articles WHERE source IS NOT NULL ORDER BY source LIMIT 1)
            UNION ALL
            SELECT (SELECT a.source FROM articles a WHERE a.source > s.source
                    ORDER BY a.source LIMIT 1)
            FROM s WHERE s.source IS NOT NULL
        )
        SELECT s.source,
               (SELECT max(a.ingested_at) FROM articles a WHERE a.source = s.source)
        FROM s WHERE s.source IS NOT NULL
        """
            )
        ).tuples()
    )


def _quality_rows(
    session: Session, now: datetime, recent_from: datetime, source: str | None, names: list[str]
) -> list[Any]:
    """(source, recent?, articles, with date, with author, with body) per source and window.

    PostgreSQL: over the newest :data:`QUALITY_SAMPLE` articles of each window and source
    (a LATERAL probe of the (source, ingested_at) index), so the cost does not grow with
    the volume; SQLite (embedded, small): over all of them.
    """
    base_from = recent_from - timedelta(days=BASELINE_DAYS)
    if not is_postgres(session):
        only_source = [Article.source == source] if source is not None else []
        is_recent = case((Article.ingested_at >= recent_from, 1), else_=0)
        return list(
            session.execute(
                select(
                    Article.source,
                    is_recent,
                    func.count(),
                    func.count(Article.published_at),
                    func.sum(case((func.json_array_length(Article.authors) > 0, 1), else_=0)),
                    func.sum(case((func.length(Article.body) >= BODY_MIN_CHARS, 1), else_=0)),
                )
                .where(Article.ingested_at >= base_from, *only_source)
                .group_by(Article.source, is_recent)
            ).tuples()
        )
    if not names:
        return []
    return list(
        session.execute(
            text(
                """
        SELECT s.source, w.recent, count(*), count(a.published_at),
               sum(CASE WHEN jsonb_array_length(a.authors) > 0 THEN 1 ELSE 0 END),
               sum(CASE WHEN a.body_bytes >= :min_body THEN 1 ELSE 0 END)
        FROM unnest(CAST(:names AS text[])) AS s(source)
        CROSS JOIN (VALUES (1, CAST(:recent_from AS timestamptz), CAST(:until AS timestamptz)),
                           (0, CAST(:base_from AS timestamptz), CAST(:recent_from AS timestamptz))
                   ) AS w(recent, lo, hi)
        CROSS JOIN LATERAL (
            SELECT published_at, authors, octet_length(body) AS body_bytes
            FROM articles
            WHERE articles.source = s.source
              AND articles.ingested_at >= w.lo AND articles.ingested_at < w.hi
            ORDER BY articles.ingested_at DESC
            LIMIT :cap
        ) AS a
        GROUP BY s.source, w.recent
        """
            ),
            {
                "names": names,
                "recent_from": recent_from,
                "until": now + timedelta(days=1),
                "base_from": base_from,
                "min_body": BODY_MIN_CHARS,
                "cap": QUALITY_SAMPLE,
            },
        ).tuples()
    )


def collect(
    session: Session, now: datetime | None = None, source: str | None = None
) -> list[SourceHealth]:
    """Health of every source (or one), worst first."""
    now = now or datetime.now(UTC)
    if source is not None and source.isdigit():  # a feed id: that feed's source
        feed = session.get(Feed, int(source))
        if feed is not None:
            source = feed_source(feed)
    today = now.date()
    first_day = today - timedelta(days=DAYS - 1)
    out: dict[str, SourceHealth] = {}

    def get(name: str) -> SourceHealth:
        h = out.get(name)
        if h is None:
            h = out[name] = SourceHealth(id=name)
        return h

    only_source = [Article.source == source] if source is not None else []
    day_start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
    recent_from = now - timedelta(days=1)
    day = _day(session, Article.ingested_at)
    # One pass over the (source, ingested_at) index: counts per day, first and last.
    per_day: Any = session.execute(
        select(
            Article.source,
            day,
            func.count(),
            func.count().filter(Article.ingested_at >= recent_from),
            func.min(Article.ingested_at),
            func.max(Article.ingested_at),
        )
        .where(Article.ingested_at >= day_start, *only_source)
        .group_by(Article.source, day)
    )
    spans: dict[str, list[Any]] = {}
    for name, d, n, n24, first, last in per_day:
        h = get(name or "unknown")
        offset = (_as_date(d) - first_day).days
        if 0 <= offset < DAYS:
            h.per_day[offset] += n
        h.articles_30d += n
        h.articles_24h += n24
        first, last = _aware(first), _aware(last)
        span = spans.setdefault(h.id, [first, last])
        span[0], span[1] = min(span[0], first), max(span[1], last)
    for name, span in spans.items():
        h = out[name]
        h.last_article_at = span[1]
        # A usual interval needs a habit: articles on at least 3 days (a one-off bulk
        # import is not a feed that went quiet).
        if h.articles_30d >= 3 and sum(1 for n in h.per_day if n) >= MIN_ACTIVE_DAYS:
            gap = (span[1] - span[0]).total_seconds() / (h.articles_30d - 1)
            h.usual_interval_s = round(gap, 1)
    # The last article of sources silent for the whole window (one index probe each).
    for name, last in _last_articles(session, source):
        h = get(name or "unknown")
        if h.last_article_at is None:
            h.last_article_at = _aware(last)
    for name, recent, n, dated, authored, bodied in _quality_rows(
        session, now, recent_from, source, [n for n in out if n != "unknown"]
    ):
        h = get(name or "unknown")
        h.quality["recent" if recent else "baseline"] = {
            "articles": int(n),
            "with_date": round(int(dated or 0) / n, 3) if n else None,
            "with_author": round(int(authored or 0) / n, 3) if n else None,
            "with_body": round(int(bodied or 0) / n, 3) if n else None,
        }
    only_rej = [SourceRejection.source == source] if source is not None else []
    for name, reason, n in session.execute(
        select(SourceRejection.source, SourceRejection.reason, func.sum(SourceRejection.count))
        .where(SourceRejection.day >= first_day, *only_rej)
        .group_by(SourceRejection.source, SourceRejection.reason)
    ):
        get(name).rejections[reason] = int(n or 0)
    for feed in session.scalars(select(Feed).order_by(Feed.id)):
        name = feed_source(feed)
        if source is not None and name != source:
            continue
        get(name).feeds.append(_feed_dict(feed, now))
    for h in out.values():
        judge(h, now)
    return sorted(out.values(), key=SourceHealth.sort_key)


def judge(h: SourceHealth, now: datetime) -> None:
    """Status and problems, in words an operator can act on."""
    h.rejections = dict(sorted(h.rejections.items(), key=lambda kv: (-kv[1], kv[0])))
    statuses = []
    for f in h.feeds:
        if not f["enabled"]:
            h.problems.append(f"feed {f['id']} is disabled")
            continue
        if f["consecutive_failures"]:
            since = f["failing_since"] or f["last_polled_at"]
            text = (
                f"feed {f['id']} failed {f['consecutive_failures']} poll(s) in a row since "
                f"{(since or '?')[:16]}: {f['last_status']}"
            )
            if f["last_error"]:
                text += f" ({f['last_error'][:200]})"
            if f["backoff_s"]:
                text += f"; backing off: polled every {fmt_duration(f['backoff_s'])}"
                text += f" instead of {fmt_duration(f['interval_s'])}"
            if f["next_poll_at"]:
                text += f", next poll {f['next_poll_at'][:16]}"
            h.problems.append(text)
            statuses.append("failing")
    if h.last_article_at is not None:
        h.quiet_s = round((now - h.last_article_at).total_seconds(), 1)
        usual = h.usual_interval_s
        if usual and h.quiet_s > max(QUIET_FACTOR * usual, QUIET_MIN_S):
            h.problems.append(
                f"quiet: last article {fmt_duration(h.quiet_s)} ago, "
                f"usually one every {fmt_duration(usual)}"
            )
            statuses.append("quiet")
    elif h.feeds and any(f["last_success_at"] for f in h.feeds):
        h.problems.append("no article stored yet from this source")
    recent, baseline = h.quality.get("recent"), h.quality.get("baseline")
    if (
        recent
        and baseline
        and recent["articles"] >= QUALITY_MIN_RECENT
        and baseline["articles"] >= QUALITY_MIN_BASELINE
    ):
        for measure in MEASURES:
            was, now_share = baseline[measure], recent[measure]
            if was is not None and now_share is not None and was - now_share >= QUALITY_DROP:
                h.problems.append(
                    f"extraction: share {measure.replace('_', ' ')} fell from "
                    f"{was:.0%} to {now_share:.0%} in the last day"
                )
                statuses.append("degraded")
    h.status = max(statuses, key=lambda s: SEVERITY[s], default="ok")


def fmt_duration(seconds: float) -> str:
    """``95`` -> ``95s``, ``4000`` -> ``67m``, then hours and days (the console's too)."""
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def health(source: str | None = None, now: datetime | None = None) -> list[SourceHealth]:
    """:func:`collect` in a session of its own."""
    with session_scope() as session:
        return collect(session, now=now, source=source)


# ---------------------------------------------------------------- Prometheus


def metric_families(sources: list[SourceHealth]) -> list[Any]:
    """Per-source gauges for ``/metrics`` (the alert rules in deploy/prometheus use them)."""
    # Deferred on purpose: prometheus_client (~70 ms) for /metrics only; the CLI imports
    # this module for `newswire sources`.
    from prometheus_client.core import GaugeMetricFamily

    last_age = GaugeMetricFamily(
        "newswire_source_last_article_age_seconds",
        "seconds since the source's last article was ingested",
        labels=["source"],
    )
    usual = GaugeMetricFamily(
        "newswire_source_usual_interval_seconds",
        f"mean gap between the source's articles over {DAYS} days",
        labels=["source"],
    )
    day = GaugeMetricFamily(
        "newswire_source_articles_24h", "articles ingested in the last 24 h", labels=["source"]
    )
    quality = GaugeMetricFamily(
        "newswire_source_extraction_ratio",
        "share of the source's articles with a date / an author / a body "
        f">= {BODY_MIN_CHARS} chars, over the last day (recent) and the "
        f"{BASELINE_DAYS} days before (baseline)",
        labels=["source", "measure", "window"],
    )
    quality_n = GaugeMetricFamily(
        "newswire_source_extraction_articles",
        "articles the extraction ratios are computed over",
        labels=["source", "window"],
    )
    failures = GaugeMetricFamily(
        "newswire_feed_consecutive_failures",
        "failed polls in a row (0 after a success)",
        labels=["feed_id", "source"],
    )
    rejected = GaugeMetricFamily(
        "newswire_source_rejections",
        f"items rejected at ingest over {DAYS} days, by reason",
        labels=["source", "reason"],
    )
    unhealthy = GaugeMetricFamily(
        "newswire_source_unhealthy",
        "1 when the source is failing, quiet or degraded (see the console)",
        labels=["source", "status"],
    )
    for h in sources:
        if h.quiet_s is not None:
            last_age.add_metric([h.id], h.quiet_s)
        if h.usual_interval_s is not None:
            usual.add_metric([h.id], h.usual_interval_s)
        day.add_metric([h.id], h.articles_24h)
        for window, q in h.quality.items():
            quality_n.add_metric([h.id, window], q["articles"])
            for measure in MEASURES:
                if q[measure] is not None:
                    quality.add_metric([h.id, measure, window], q[measure])
        for f in h.feeds:
            failures.add_metric([str(f["id"]), h.id], f["consecutive_failures"])
        for reason, n in h.rejections.items():
            rejected.add_metric([h.id, reason], n)
        unhealthy.add_metric([h.id, h.status], 0 if h.status == "ok" else 1)
    return [last_age, usual, day, quality, quality_n, failures, rejected, unhealthy]
