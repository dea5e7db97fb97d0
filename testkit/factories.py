"""Articles and messages for tests and benches: the one place that builds them.

Every corpus and test helper builds its articles here, from the fields it cares about:

* :func:`payload` (an ``ArticlePayload``, what ingest sends to enrich) and :func:`enriched`
  (an ``EnrichedArticle``, what enrich sends to store); :func:`article_fields` is the same
  as a plain dict, for tests that validate a message themselves;
* :func:`entity`, :func:`country`, :func:`region`: one tag of an enriched article, with only
  the fields given (the rest keep the schema's defaults);
* :func:`tagged`: an ``ArticlePayload`` with an enrichment stamp and no tags;
* :func:`article_batch`, :func:`enriched_batch`: the message of a hop, as JSON;
* :func:`numbered` (article ``n`` of a batch, with a real content hash) and
  :func:`record_received` (its ingest record, as ingest writes it before queueing).

Defaults shared by every corpus: the URL ``https://news.example.test/<id>`` and the content
hash ``sha1:<id>`` (pass ``url=None`` or ``content_hash=...`` to differ). ``trace_id``,
``ingested_at`` and ``enriched_at`` keep the schema's defaults (a new trace id, now) unless
given.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from shared.db import session_scope
from shared.ids import content_hash
from shared.models import RECEIVED, IngestRecord
from shared.schemas import (
    ArticleBatch,
    ArticlePayload,
    EnrichedArticle,
    EnrichedBatch,
    Enrichment,
    dump,
    utcnow,
)

NEWS_SITE = "https://news.example.test"


def article_fields(id: str, body: str, **fields: Any) -> dict[str, Any]:  # noqa: A002
    """The fields of an article as a message carries them (not validated)."""
    return {
        "id": id,
        "url": f"{NEWS_SITE}/{id}",
        "body": body,
        "content_hash": f"sha1:{id}",
        **fields,
    }


def payload(id: str, body: str, **fields: Any) -> ArticlePayload:  # noqa: A002
    """An article as ingest hands it to the tagger (no tags)."""
    return ArticlePayload.model_validate(article_fields(id, body, **fields))


def entity(name: str, label: str, count: int = 1, **fields: Any) -> dict[str, Any]:
    """An entity tag whose canonical name is its text."""
    return {"text": name, "canonical": name, "label": label, "count": count, **fields}


def country(code: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"code": code, "name": name, **fields}


def region(scheme: str, code: str, name: str) -> dict[str, Any]:
    return {"scheme": scheme, "code": code, "name": name}


def enriched(
    id: str,  # noqa: A002
    body: str,
    *,
    entities: Iterable[dict[str, Any]] = (),
    countries: Iterable[dict[str, Any]] = (),
    regions: Iterable[dict[str, Any]] = (),
    tagger: str = "test",
    tagger_version: str = "1.0",
    enriched_at: datetime | None = None,
    **fields: Any,
) -> EnrichedArticle:
    """An article as the tagger hands it to the store."""
    enrichment: dict[str, Any] = {"tagger": tagger, "tagger_version": tagger_version}
    if enriched_at is not None:
        enrichment["enriched_at"] = enriched_at
    return EnrichedArticle.model_validate(
        {
            **article_fields(id, body, **fields),
            "entities": list(entities),
            "countries": list(countries),
            "regions": list(regions),
            "enrichment": enrichment,
        }
    )


def tagged(
    article: ArticlePayload, tagger: str = "test", tagger_version: str = "0"
) -> EnrichedArticle:
    """``article`` through a tagger that found nothing (an enrichment stamp, no tags)."""
    return EnrichedArticle(
        **article.model_dump(),
        enrichment=Enrichment(tagger=tagger, tagger_version=tagger_version),
    )


def article_batch(articles: Sequence[ArticlePayload]) -> dict[str, Any]:
    """The message ingest sends to enrich."""
    return dump(ArticleBatch(articles=list(articles)))


def enriched_batch(articles: Sequence[ArticlePayload]) -> dict[str, Any]:
    """The message enrich sends to store, ``articles`` stamped by :func:`tagged`."""
    return dump(EnrichedBatch(articles=[tagged(a) for a in articles]))


def numbered(n: int, body: str | None = None) -> ArticlePayload:
    """Article number ``n`` (no URL, a content hash of its title and body)."""
    body = body or f"Article number {n} about the harbour of Rotterdam and its cranes."
    return payload(
        f"ops{n:029d}",
        body,
        url=None,
        title=f"Title {n}",
        content_hash=content_hash(f"Title {n}", body),
        source="ops-test",
    )


def record_received(articles: Sequence[ArticlePayload]) -> None:
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
