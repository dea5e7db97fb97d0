"""``GET /metrics`` for Prometheus; the store service's API app includes :data:`router`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from services.ops.metrics import render

router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    """Queue depths and ages, task counters, stage and lag histograms, dead letters."""
    body = await run_in_threadpool(render)
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)
