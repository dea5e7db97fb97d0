"""Ingest tasks: thin wrappers that validate the message and call the pipeline."""

from __future__ import annotations

from typing import Any

from services.ingest import pipeline
from shared import queues
from shared.celery_app import app
from shared.schemas import IngestRequest, parse
from shared.tasks import PipelineTask


@app.task(name=queues.INGEST_ITEMS, base=PipelineTask, bind=True)
def ingest_items(self: PipelineTask, message: dict[str, Any]) -> dict[str, int]:
    request = parse(IngestRequest, message)
    outcomes = pipeline.accept(request.items)
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    return counts
