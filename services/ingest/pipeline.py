"""Accept raw items: prepare, de-duplicate, record "received", queue for enrich.

The only ingest module that dispatches: articles to enrich (:func:`forward`), and the
items a feed or a sitemap lists back to ingest (:func:`submit`), the one place where
embedded (accepted in this process) and broker (queued) part ways for items.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, cast

import structlog
from sqlalchemy import Table, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.ingest import dedup
from services.ingest.errors import Rejected
from services.ingest.prepare import prepare
from services.ingest.sources import resolve_url
from services.ingest.urls import canonical_url, dedup_key
from shared import dispatch, queues
from shared.db import session_scope
from shared.ids import article_id
from shared.logging import get_logger
from shared.models import DUPLICATE, RECEIVED, IngestRecord
from shared.schemas import ArticleBatch, ArticlePayload, IngestRequest, RawItem, dump, utcnow
from shared.settings import get_settings
from shared.tasks import TRANSIENT_ERRORS

log = get_logger(__name__)

MAX_EXPAND_DEPTH = 2
RESUMED = "resumed"  # Outcome.reason of an article an interrupted run had received
# Records "received" by an earlier process and never stored are resumed (embedded).
PROCESS_STARTED = utcnow()


@dataclass
class Outcome:
    origin: str | None
    status: str  # queued | duplicate | rejected | expanded
    article_id: str | None = None
    reason: str | None = None
    duplicate_of: str | None = None
    similarity: float | None = None
    title: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _insert_records(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Insert ingest records, skipping ids that exist; returns the ids inserted."""
    if not rows:
        return set()
    dialect = session.get_bind().dialect.name
    table = cast(Table, IngestRecord.__table__)
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    stmt = insert.on_conflict_do_nothing(index_elements=["article_id"]).returning(
        table.c.article_id
    )
    return set(session.scalars(stmt, rows))


def _duplicate_row(
    article: ArticlePayload, origin: str | None, duplicate_of: str, similarity: float, **over: Any
) -> dict[str, Any]:
    row = {
        "article_id": article.id,
        "trace_id": article.trace_id,
        "status": DUPLICATE,
        "canonical_url": dedup_key(article.url),
        "content_hash": article.content_hash,
        "source": article.source,
        "origin": origin,
        "duplicate_of": duplicate_of,
        "similarity": similarity,
        "received_at": utcnow(),
        "sends": 0,
    }
    row.update(over)
    return row


def record_batch(
    session: Session, prepared: list[tuple[str | None, ArticlePayload, str | None]]
) -> list[Outcome]:
    """Dedup prepared articles and write their records ("received" or "duplicate").

    Each entry is ``(origin, article, alias)``; ``alias`` is the canonical URL it was
    requested under when the page declared another canonical URL: recorded as a
    duplicate link so the next poll of the same feed item is known before any fetch.
    A second copy is recorded with ``duplicate_of`` and ``similarity``, never stored
    as an article.

    Embedded, an article whose record is still "received" (its run was interrupted
    before the store) is resumed: its record is refreshed and it is sent on again,
    with ``reason`` "resumed".
    """
    resume = get_settings().embedded
    index = dedup.BatchIndex(
        session, [a for _, a, _ in prepared], resume_before=PROCESS_STARTED if resume else None
    )
    outcomes: list[Outcome] = []
    received_rows: list[dict[str, Any]] = []
    duplicate_rows: list[dict[str, Any]] = []
    received: list[tuple[int, ArticlePayload, str | None, str | None]] = []
    resumed: list[ArticlePayload] = []
    for origin, article, alias in prepared:
        base: dict[str, Any] = {"origin": origin, "article_id": article.id, "title": article.title}
        if index.resume(article):
            resumed.append(article)
            index.add(article)
            outcomes.append(Outcome(status="queued", reason=RESUMED, **base))
            continue
        match = index.match(article)
        if match is not None:
            if match.duplicate_of != article.id:
                duplicate_rows.append(
                    _duplicate_row(article, origin, match.duplicate_of, match.similarity)
                )
                index.add(article, duplicate_of=match.duplicate_of)
            outcomes.append(
                Outcome(
                    status="duplicate",
                    reason=match.rule,
                    duplicate_of=match.duplicate_of,
                    similarity=round(match.similarity, 3),
                    **base,
                )
            )
            continue
        received_rows.append(
            {
                "article_id": article.id,
                "trace_id": article.trace_id,
                "status": RECEIVED,
                "canonical_url": dedup_key(article.url),
                "content_hash": article.content_hash,
                "source": article.source,
                "origin": origin,
                "payload": dump(article),
                "received_at": article.ingested_at,
                "last_sent_at": utcnow(),
                "sends": 1,
            }
        )
        index.add(article)
        received.append((len(outcomes), article, origin, alias))
        outcomes.append(Outcome(status="queued", **base))
    inserted = _insert_records(session, received_rows)
    remembered = list(resumed)
    for article in resumed:
        session.execute(
            update(IngestRecord)
            .where(IngestRecord.article_id == article.id)
            .where(IngestRecord.status == RECEIVED)
            .values(
                payload=dump(article),
                trace_id=article.trace_id,
                last_sent_at=utcnow(),
                sends=IngestRecord.sends + 1,
                attempts=0,  # a new run: the interrupted one's starts do not count
            )
        )
    for pos, article, origin, alias in received:
        if article.id not in inserted:  # another worker took it between our check and insert
            outcomes[pos] = Outcome(
                status="duplicate",
                reason="url",
                duplicate_of=article.id,
                origin=origin,
                article_id=article.id,
                title=article.title,
            )
            continue
        remembered.append(article)
        if alias and alias != dedup_key(article.url):
            duplicate_rows.append(
                _duplicate_row(
                    article,
                    origin,
                    article.id,
                    1.0,
                    article_id=article_id(alias, None, ""),
                    canonical_url=alias,
                )
            )
    dedup.remember(session, remembered)
    _insert_records(session, duplicate_rows)
    return outcomes


def _safe_prepare(item: RawItem) -> ArticlePayload:
    """:func:`prepare`, with a parser crash on one hostile item rejecting only that item.

    Infrastructure errors (database, broker) still propagate: the task retries them.
    """
    try:
        return prepare(item)
    except Rejected:
        raise
    except TRANSIENT_ERRORS:
        raise
    except Exception as exc:  # noqa: BLE001 - one bad page must not sink the batch
        log.exception("prepare_failed", origin=item.origin, url=item.url)
        raise Rejected("internal_error", f"{type(exc).__name__}: {exc}"[:500]) from exc


def _feed_text(item: RawItem, why: str) -> ArticlePayload | None:
    """The article from the feed's own title and summary (a URL item's ``body``), when
    its page cannot be used; None when the feed gave no text."""
    if not (item.body or "").strip():
        return None
    fallback = item.model_copy(update={"kind": "record", "html": None})
    try:
        article = _safe_prepare(fallback)
    except Rejected:
        return None
    log.info("feed_summary_kept", origin=item.origin, url=item.url, why=why)
    return article


def _accept_url(
    item: RawItem,
    outcomes: list[Outcome],
    prepared: list[tuple[RawItem, ArticlePayload, str | None]],
    depth: int,
    known: dict[str, str],
    notes: dict[int, str],
) -> None:
    """A URL item: known URL -> duplicate without a fetch; else fetch, page or expand.

    A feed item's own title and summary (carried in ``body``) are kept, marked with
    ``reason`` "feed_summary: ...", when its page cannot be fetched or extracted, or
    gives less text than the feed did.
    """
    try:
        canonical = canonical_url(item.url)
        if canonical is None:
            raise Rejected("bad_url", "a URL item without a URL")
        seen = known.get(canonical)
        if seen is not None:
            outcomes.append(
                Outcome(
                    origin=item.origin,
                    status="duplicate",
                    reason="url",
                    article_id=article_id(canonical, None, ""),
                    duplicate_of=seen,
                    similarity=1.0,
                    title=item.title,
                )
            )
            return
        try:
            resolved = resolve_url(item)
            if resolved.page is not None:
                article = _safe_prepare(resolved.page)
                summary = _feed_text(item, "") if item.body else None
                if summary is not None and len(summary.body) > len(article.body):
                    article = summary
                    notes[id(article)] = "feed_summary: the page gave less text than the feed"
                prepared.append((item, article, canonical))
                return
        except Rejected as exc:
            summary = _feed_text(item, str(exc))
            if summary is None:
                raise
            notes[id(summary)] = f"feed_summary: page not used ({exc})"[:500]
            prepared.append((item, summary, canonical))
            return
    except Rejected as exc:
        outcomes.append(Outcome(origin=item.origin, status="rejected", reason=str(exc)))
        log.warning("article_rejected", origin=item.origin, url=item.url, reason=str(exc))
        return
    for where, reason in resolved.rejected:
        outcomes.append(Outcome(origin=where, status="rejected", reason=reason))
    log.info("url_expanded", url=item.url, kind=resolved.kind, items=len(resolved.children))
    if depth >= MAX_EXPAND_DEPTH:
        outcomes.append(
            Outcome(origin=item.origin, status="rejected", reason="too_deep: nested feeds")
        )
        return
    submitted = submit(resolved.children, _depth=depth + 1)
    outcomes.extend(submitted.outcomes)
    if submitted.sent is not None:
        outcomes.append(
            Outcome(
                origin=item.origin,
                status="expanded",
                reason=f"{resolved.kind} with {submitted.sent} items sent to {queues.INGEST_ITEMS}",
            )
        )


def _known_urls(items: list[RawItem]) -> dict[str, str]:
    """One query for every URL item of a batch: which are known already (no fetch)."""
    canonicals = []
    for item in items:
        try:
            url = canonical_url(item.url)
        except Rejected:
            continue  # reported with its reason by _accept_url
        if url:
            canonicals.append(url)
    if not canonicals:
        return {}
    with session_scope() as session:
        before = PROCESS_STARTED if get_settings().embedded else None
        return dedup.seen_urls(session, canonicals, resume_before=before)


def accept(items: Iterable[RawItem], *, _depth: int = 0) -> list[Outcome]:
    """Run the ingest stage on raw items; every item gets an outcome with a reason.

    Statuses: ``queued`` (recorded "received" and sent to enrich), ``duplicate``
    (with ``duplicate_of``, ``similarity`` and the rule in ``reason``), ``rejected``
    (``reason`` is ``code: detail``), ``expanded`` (a feed or sitemap URL whose items
    were sent on as ``ingest.ingest_items`` messages; broker mode only).
    """
    outcomes: list[Outcome] = []
    accepted: list[ArticlePayload] = []
    prepared: list[tuple[RawItem, ArticlePayload, str | None]] = []
    items = list(items)
    known = _known_urls([i for i in items if i.kind == "url"])
    notes: dict[int, str] = {}  # id(article) -> why the feed's own text was kept
    for item in items:
        if item.kind == "url":
            _accept_url(item, outcomes, prepared, _depth, known, notes)
            continue
        try:
            prepared.append((item, _safe_prepare(item), None))
        except Rejected as exc:
            outcomes.append(Outcome(origin=item.origin, status="rejected", reason=str(exc)))
            log.warning("article_rejected", origin=item.origin, reason=str(exc))
    if prepared:
        with session_scope() as session:
            recorded = record_batch(session, [(i.origin, a, alias) for i, a, alias in prepared])
        for (_, article, _), outcome in zip(prepared, recorded, strict=True):
            if outcome.status == "queued" and id(article) in notes:
                outcome.reason = notes[id(article)]
            outcomes.append(outcome)
            if outcome.status == "queued":
                accepted.append(article)
                if outcome.reason == RESUMED:
                    log.info("article_resumed", article_id=article.id)
    for article in accepted:
        with structlog.contextvars.bound_contextvars(
            article_id=article.id, trace_id=article.trace_id
        ):
            log.info("article_received", source=article.source, title=article.title)
    for o in outcomes:
        if o.status == "duplicate":
            log.info(
                "article_duplicate",
                article_id=o.article_id,
                duplicate_of=o.duplicate_of,
                rule=o.reason,
                similarity=o.similarity,
            )
    forward(accepted)
    return outcomes


def forward(articles: list[ArticlePayload]) -> None:
    """Queue accepted articles for enrich, ``batch_size`` per message."""
    size = get_settings().batch_size
    for start in range(0, len(articles), size):
        chunk = articles[start : start + size]
        dispatch.send(queues.TAG_ARTICLES, dump(ArticleBatch(articles=chunk)))


@dataclass
class Submitted:
    """What :func:`submit` did: embedded, every item's outcome; with a broker, how many
    items were queued (``sent``, None when embedded)."""

    outcomes: list[Outcome]
    sent: int | None = None

    def counts(self) -> dict[str, int]:
        """Outcomes by status (embedded) or ``{"sent": n}`` (broker, when any)."""
        counts: dict[str, int] = {}
        for o in self.outcomes:
            counts[o.status] = counts.get(o.status, 0) + 1
        if self.sent:
            counts["sent"] = self.sent
        return counts


def submit(items: list[RawItem], *, _depth: int = 0) -> Submitted:
    """Send items (a feed's or a sitemap's) through ingest: accepted in this process when
    embedded, queued as ``ingest.ingest_items`` messages (``batch_size`` per message)
    when a broker is configured."""
    settings = get_settings()
    if settings.embedded:
        return Submitted(accept(items, _depth=_depth) if items else [])
    size = settings.batch_size
    for start in range(0, len(items), size):
        chunk = items[start : start + size]
        dispatch.send(queues.INGEST_ITEMS, dump(IngestRequest(items=chunk)))
    return Submitted([], sent=len(items))
