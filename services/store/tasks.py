"""Store tasks: upsert a batch of enriched articles in one transaction."""

from __future__ import annotations

import time
from typing import Any

import structlog

from services.store.repository import upsert_articles
from shared import queues
from shared.celery_app import app
from shared.db import session_scope
from shared.logging import get_logger
from shared.schemas import EnrichedBatch, parse
from shared.tasks import PipelineTask

log = get_logger(__name__)


@app.task(name=queues.STORE_ARTICLES, base=PipelineTask, bind=True)
def store_articles(self: PipelineTask, message: dict[str, Any]) -> int:
    batch = parse(EnrichedBatch, message)
    started = time.perf_counter()
    with session_scope() as session:
        redelivered = upsert_articles(session, batch.articles)
    ms = (time.perf_counter() - started) * 1000
    for art in batch.articles:
        with structlog.contextvars.bound_contextvars(article_id=art.id, trace_id=art.trace_id):
            log.info("article_stored", entities=len(art.entities), duration_ms=round(ms, 1))
    if redelivered:
        log.info("redelivery_absorbed", articles=redelivered)
    return len(batch.articles)
