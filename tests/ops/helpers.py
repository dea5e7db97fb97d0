"""Helpers for the operator tests: numbered articles and their ingest records."""

from __future__ import annotations

from shared.db import session_scope
from shared.ids import content_hash
from shared.models import RECEIVED, IngestRecord
from shared.schemas import ArticlePayload, dump, utcnow
from testkit.factories import payload


def article(n: int, body: str | None = None) -> ArticlePayload:
    """Article number ``n`` of the operator tests (no URL, a real content hash)."""
    body = body or f"Article number {n} about the harbour of Rotterdam and its cranes."
    return payload(
        f"ops{n:029d}",
        body,
        url=None,
        title=f"Title {n}",
        content_hash=content_hash(f"Title {n}", body),
        source="ops-test",
    )


def record(articles: list[ArticlePayload]) -> None:
    """Write 'received' ingest records, as the ingest stage does before queueing."""
    with session_scope() as session:
        for a in articles:
            session.add(
                IngestRecord(
                    article_id=a.id,
                    trace_id=a.trace_id,
                    status=RECEIVED,
                    content_hash=a.content_hash,
                    source=a.source,
                    payload=dump(a),
                    received_at=a.ingested_at,
                    last_sent_at=utcnow(),
                    sends=1,
                    attempts=0,
                )
            )
