"""Store tasks: upsert a batch of enriched articles, then make it searchable.

A batch is two transactions: the stories of its new articles, then the articles
(each with its story id), tags and ingest records (``stories.place_batch`` called by
``upsert_batch``: on PostgreSQL the articles are placed before they are written, so
each row is written once, and the clustering lock is held until that transaction
ends); then the full-text documents of what was written (``index_search``), after
the stories of written articles that could not be placed beforehand
(``stories.cluster_articles``: SQLite, or a batch reaching further back than a
worker's cache of open stories). Both clusterings run in a savepoint: when they fail
the articles are written without a story and the ``store.cluster_stories`` sweep
places them. When the second transaction fails the articles stay stored and queued
in ``search_pending``; the ``store.index_search`` sweep builds what is left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog
from celery import shared_task
from sqlalchemy.orm import Session

from services.store import stories
from services.store.repository import index_search, search_backlog, upsert_batch
from shared import queues
from shared.db import session_scope
from shared.logging import get_logger
from shared.schemas import EnrichedArticle, EnrichedBatch, parse
from shared.settings import Settings
from shared.tasks import PipelineTask

log = get_logger(__name__)

SWEEP_BATCH = 1000
SWEEP_BUDGET_S = 20.0


def store_batch(articles: list[EnrichedArticle], url: str | None = None) -> int:
    """The store step as a plain function: one transaction per batch (its stories,
    on PostgreSQL, then its articles), then its search documents in a second one (and
    the stories of what could not be placed before the write)."""
    started = time.perf_counter()
    with session_scope(url) as session:
        result = upsert_batch(session, articles, place=place)
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
    if result.written:
        # Placed before the write (or deferred to the sweep): nothing left to cluster.
        index_written(result.written, url, articles if result.placed is None else None)
    return len(articles)


def place(session: Session, articles: list[EnrichedArticle]) -> dict[str, int] | None:
    """Stories for a batch about to be written (``upsert_batch``'s ``place``): the
    story of each article placed, or None when the articles are to be clustered after
    the write. A failure is logged and leaves the articles to the sweep (an empty
    placement): the batch is written all the same."""
    started = time.perf_counter()
    try:
        done = stories.place_batch(session, articles)
    except Exception as exc:  # noqa: BLE001 - logged; the sweep places them
        log.warning("stories_deferred", articles=len(articles), error=repr(exc)[:300])
        return {}
    if done is None:
        return None
    _log_clustered(done, started)
    return done.placed


def _log_clustered(done: stories.ClusterResult, started: float) -> None:
    if done.articles:
        log.info(
            "stories_clustered",
            articles=done.articles,
            joined=done.joined,
            created=done.created,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )


def cluster_in(
    session: Session, ids: list[str], articles: list[EnrichedArticle] | None = None
) -> int:
    """Stories for articles just written, in a savepoint of the caller's transaction
    (those already in a story are left where they are). A failure loses nothing: the
    articles stay unclustered and the ``store.cluster_stories`` sweep places them."""
    started = time.perf_counter()
    try:
        done = stories.cluster_articles(session, ids, articles=articles, savepoint=True)
    except Exception as exc:  # noqa: BLE001 - logged; the sweep retries
        log.warning("stories_deferred", articles=len(ids), error=repr(exc)[:300])
        return 0
    _log_clustered(done, started)
    return done.articles


def index_written(
    ids: list[str], url: str | None = None, articles: list[EnrichedArticle] | None = None
) -> int:
    """Stories for articles just written (when ``articles``, the batch, is given),
    then their search documents. A failure here loses nothing: the articles are
    stored and still queued, and the sweeps retry them.

    The clustering lock comes first: the search queue rows claimed here are ones
    another store transaction (holding that lock) may be waiting for."""
    started = time.perf_counter()
    try:
        with session_scope(url) as session:
            if articles is not None:
                cluster_in(session, ids, articles)
            done = index_search(session, ids)
    except Exception as exc:  # noqa: BLE001 - logged; the sweep retries
        log.warning("search_index_deferred", articles=len(ids), error=repr(exc)[:300])
        return 0
    if done:
        log.info(
            "search_indexed",
            articles=done,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
    return done


def index_pending(
    url: str | None = None,
    batch: int = SWEEP_BATCH,
    budget_s: float | None = SWEEP_BUDGET_S,
    progress: Callable[[int], object] | None = None,
) -> int:
    """Build queued search documents, ``batch`` per transaction, until none is left
    or ``budget_s`` seconds have passed (None: until none is left); ``progress`` is
    told how many each transaction built. Returns how many in all."""
    started = time.monotonic()
    total = 0
    while budget_s is None or time.monotonic() - started < budget_s:
        with session_scope(url) as session:
            done = index_search(session, limit=batch)
        total += done
        if progress is not None:
            progress(done)
        if done < batch:
            break
    return total


@shared_task(name=queues.STORE_ARTICLES, base=PipelineTask, bind=True, reset_attempts=False)
def store_articles(self: PipelineTask, message: dict[str, Any]) -> int:
    batch = parse(EnrichedBatch, message)
    return store_batch(batch.articles)


@shared_task(name=queues.INDEX_SEARCH, ignore_result=True)
def index_search_sweep() -> int:
    """Periodic: documents of articles whose in-task indexing did not happen."""
    done = index_pending()
    if done:
        with session_scope() as session:
            left = search_backlog(session)
        log.info("search_sweep", indexed=done, left=left)
    return done


@shared_task(name=queues.CLUSTER_STORIES, ignore_result=True)
def cluster_stories_sweep() -> int:
    """Periodic: stories for articles whose in-task clustering did not happen."""
    done = stories.cluster_backlog(budget_s=SWEEP_BUDGET_S)
    if done.articles:
        log.info("stories_sweep", clustered=done.articles, created=done.created)
    return done.articles


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """The store's periodic sweeps (assembled by the scheduler, services/entrypoints/beat.py):
    search documents and stories of articles the store step left without them."""
    every = settings.schedule.search_index_interval
    return {
        "index-search": queues.periodic(queues.INDEX_SEARCH, every),
        "cluster-stories": queues.periodic(queues.CLUSTER_STORIES, every),
    }
