"""Ingest tasks: thin wrappers that validate the message and call the pipeline."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from services.ingest import feeds, pipeline
from services.ingest.health import record_outcome_rejections
from shared import dispatch, queues
from shared.backpressure import over_high_water
from shared.logging import get_logger
from shared.schemas import IngestRequest, SchemaError, parse
from shared.settings import Settings
from shared.tasks import PipelineTask

log = get_logger(__name__)

POLL_FEED = "ingest.poll_feed"


@shared_task(name=queues.INGEST_ITEMS, base=PipelineTask, bind=True)
def ingest_items(self: PipelineTask, message: dict[str, Any]) -> dict[str, int]:
    request = parse(IngestRequest, message)
    outcomes = pipeline.accept(request.items)
    record_outcome_rejections(request.items, outcomes)  # per-source health (console)
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    return counts


@shared_task(name=queues.POLL_FEEDS, base=PipelineTask, bind=True)
def poll_feeds(self: PipelineTask, message: dict[str, Any] | None = None) -> int:
    """Beat, every NEWSWIRE_FEED_POLL_INTERVAL (30 s): claim the feeds that are due and
    poll each (one task per feed).

    Backpressure: while `enrich` or `store` is over the high-water mark, no feed is
    claimed this round (they stay due and are polled once the queues drain).
    """
    busy = over_high_water()
    if busy:
        log.warning("feeds_paused_backpressure", depths=busy)
        return 0
    due = feeds.claim_due()
    for feed_id in due:
        dispatch.send(POLL_FEED, {"feed_id": feed_id})
    if due:
        log.info("feeds_due", feeds=len(due))
    return len(due)


@shared_task(name=POLL_FEED, base=PipelineTask, bind=True)
def poll_feed(self: PipelineTask, message: dict[str, Any]) -> dict[str, Any]:
    feed_id = message.get("feed_id") if isinstance(message, dict) else None
    if not isinstance(feed_id, int):
        raise SchemaError(f"poll_feed needs an integer feed_id, got {message!r}")
    return feeds.poll_feed(feed_id).as_dict()


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """Ingest's periodic tasks (assembled by the scheduler, services/entrypoints/beat.py)."""
    return {"poll-feeds": queues.periodic(queues.POLL_FEEDS, settings.schedule.feed_poll_interval)}
