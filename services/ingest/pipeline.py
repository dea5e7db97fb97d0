"""Accept raw items: prepare, de-duplicate, record "received", queue for enrich."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import structlog
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.ingest import dedup
from services.ingest.prepare import Rejected, prepare
from shared import dispatch, queues
from shared.db import session_scope
from shared.logging import get_logger
from shared.models import DUPLICATE, RECEIVED, IngestRecord
from shared.schemas import ArticleBatch, ArticlePayload, RawItem, dump, utcnow
from shared.settings import get_settings

log = get_logger(__name__)


@dataclass
class Outcome:
    origin: str | None
    status: str  # queued | duplicate | rejected
    article_id: str | None = None
    reason: str | None = None
    duplicate_of: str | None = None
    similarity: float | None = None
    title: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _insert_record(session: Session, values: dict[str, object]) -> bool:
    """Insert an ingest record unless one with that id exists; True when inserted."""
    dialect = session.get_bind().dialect.name
    table = IngestRecord.__table__
    stmt = (postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)).values(
        **values
    )
    result = session.execute(stmt.on_conflict_do_nothing(index_elements=["article_id"]))
    return bool(result.rowcount)


def record_and_dedup(session: Session, article: ArticlePayload, origin: str | None) -> Outcome:
    match = dedup.find_duplicate(session, article)
    base = {"origin": origin, "article_id": article.id, "title": article.title}
    if match is not None:
        if match.duplicate_of != article.id:
            # Keep the link: a second copy is recorded, never stored as an article.
            _insert_record(
                session,
                {
                    "article_id": article.id,
                    "trace_id": article.trace_id,
                    "status": DUPLICATE,
                    "canonical_url": article.url,
                    "content_hash": article.content_hash,
                    "source": article.source,
                    "origin": origin,
                    "duplicate_of": match.duplicate_of,
                    "similarity": match.similarity,
                    "received_at": utcnow(),
                    "sends": 0,
                },
            )
        return Outcome(
            status="duplicate",
            reason=match.rule,
            duplicate_of=match.duplicate_of,
            similarity=round(match.similarity, 3),
            **base,
        )
    inserted = _insert_record(
        session,
        {
            "article_id": article.id,
            "trace_id": article.trace_id,
            "status": RECEIVED,
            "canonical_url": article.url,
            "content_hash": article.content_hash,
            "source": article.source,
            "origin": origin,
            "payload": dump(article),
            "received_at": article.ingested_at,
            "last_sent_at": utcnow(),
            "sends": 1,
        },
    )
    if not inserted:  # another worker took it between our check and our insert
        return Outcome(status="duplicate", reason="url", duplicate_of=article.id, **base)
    dedup.remember(session, article)
    return Outcome(status="queued", **base)


def accept(items: Iterable[RawItem]) -> list[Outcome]:
    """Run the ingest stage on raw items; every item gets an outcome with a reason."""
    outcomes: list[Outcome] = []
    accepted: list[ArticlePayload] = []
    prepared: list[tuple[RawItem, ArticlePayload]] = []
    for item in items:
        try:
            prepared.append((item, prepare(item)))
        except Rejected as exc:
            outcomes.append(Outcome(origin=item.origin, status="rejected", reason=str(exc)))
            log.warning("article_rejected", origin=item.origin, reason=str(exc))
    if prepared:
        with session_scope() as session:
            for item, article in prepared:
                outcome = record_and_dedup(session, article, item.origin)
                outcomes.append(outcome)
                if outcome.status == "queued":
                    accepted.append(article)
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
