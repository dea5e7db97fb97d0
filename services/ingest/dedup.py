"""Duplicate detection shared by every ingest process (through the database).

Cascade: same article id (canonical URL) -> same content hash.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.models import DUPLICATE, IngestRecord
from shared.schemas import ArticlePayload


@dataclass
class Match:
    duplicate_of: str
    similarity: float
    rule: str  # "url" | "content_hash" | "near_duplicate"


def find_duplicate(session: Session, article: ArticlePayload) -> Match | None:
    if session.get(IngestRecord, article.id) is not None:
        return Match(article.id, 1.0, "url" if article.url else "content_hash")
    first = session.scalar(
        select(IngestRecord.article_id)
        .where(IngestRecord.content_hash == article.content_hash)
        .where(IngestRecord.status != DUPLICATE)
        .order_by(IngestRecord.received_at)
        .limit(1)
    )
    if first is not None:
        return Match(first, 1.0, "content_hash")
    return None


def remember(session: Session, article: ArticlePayload) -> None:
    """Index an accepted article for later near-duplicate checks (none yet)."""
