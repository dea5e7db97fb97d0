"""Enrich tasks: tag a batch of articles and pass it on to the store."""

from __future__ import annotations

import time
from typing import Any

import structlog
from celery import shared_task

from services.enrich.tagger import get_tagger
from shared import dispatch, queues
from shared.logging import get_logger
from shared.schemas import (
    ArticleBatch,
    ArticlePayload,
    EnrichedArticle,
    EnrichedBatch,
    dump,
    parse,
)
from shared.settings import get_settings
from shared.tasks import PipelineTask

log = get_logger(__name__)


def enrich_articles(articles: list[ArticlePayload]) -> list[EnrichedArticle]:
    """The enrich step as a plain function: payloads in, enriched articles out."""
    tagger = get_tagger()
    inputs = [
        {
            "id": a.id,
            "title": a.title,
            "body": a.body,
            "language": a.language,
            "source": a.source,
            "url": a.url,
            "source_country": a.source_country,
        }
        for a in articles
    ]
    results = tagger.tag_many(inputs, batch_size=get_settings().enrich_batch_size)
    enriched = []
    for article, tags in zip(articles, results, strict=True):
        data = article.model_dump()
        data.update(
            entities=tags["entities"],
            countries=tags["countries"],
            regions=tags["regions"],
            enrichment=tags["enrichment"],
        )
        if tags.get("language") and not article.language:
            data["language"] = tags["language"]
        enriched.append(EnrichedArticle.model_validate(data))
    return enriched


@shared_task(name=queues.TAG_ARTICLES, base=PipelineTask, bind=True, stamp_enriched_at=True)
def tag_articles(self: PipelineTask, message: dict[str, Any]) -> int:
    batch = parse(ArticleBatch, message)
    started = time.perf_counter()
    enriched = enrich_articles(batch.articles)
    ms = (time.perf_counter() - started) * 1000 / max(1, len(enriched))
    for art in enriched:
        with structlog.contextvars.bound_contextvars(article_id=art.id, trace_id=art.trace_id):
            log.info(
                "article_enriched",
                status=art.enrichment.status,
                entities=len(art.entities),
                countries=[c.code for c in art.countries],
                duration_ms=round(ms, 1),
            )
    dispatch.send(queues.STORE_ARTICLES, dump(EnrichedBatch(articles=enriched)))
    return len(enriched)
