"""Store tasks: upsert a batch of enriched articles in one transaction."""

from __future__ import annotations

import time
from typing import Any

import structlog

from services.store.repository import upsert_batch
from shared import queues
from shared.celery_app import app
from shared.db import session_scope
from shared.logging import get_logger
from shared.schemas import EnrichedArticle, EnrichedBatch, parse
from shared.tasks import PipelineTask

log = get_logger(__name__)


def store_batch(articles: list[EnrichedArticle]) -> int:
    """The store step as a plain function: one transaction per batch."""
    started = time.perf_counter()
    with session_scope() as session:
        result = upsert_batch(session, articles)
    ms = (time.perf_counter() - started) * 1000
    inserted, stale = set(result.inserted), set(result.stale)
    for art in articles:
        with structlog.contextvars.bound_contextvars(article_id=art.id, trace_id=art.trace_id):
            outcome = "inserted" if art.id in inserted else "updated"
            if art.id in stale:
                outcome = "stale"
            log.info(
                "article_stored",
                outcome=outcome,
                entities=len(art.entities),
                countries=len(art.countries),
                batch_size=len(articles),
                duration_ms=round(ms, 1),
            )
    if result.updated or result.stale:
        log.info("redelivery_absorbed", updated=len(result.updated), stale=len(result.stale))
    return len(articles)


@app.task(name=queues.STORE_ARTICLES, base=PipelineTask, bind=True)
def store_articles(self: PipelineTask, message: dict[str, Any]) -> int:
    batch = parse(EnrichedBatch, message)
    return store_batch(batch.articles)
