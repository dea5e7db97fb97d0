"""``POST /articles``: one article or a batch in, a status per article out.

The router is included by the store's FastAPI app; :func:`create_app` serves it
alone. Writes need ``Authorization: Bearer <NEWSWIRE_API_TOKEN>``; with no token
configured every write is refused (503), never silently open.

Body: one article object, a list of them, or ``{"articles": [...]}``. Fields are
those of :class:`shared.schemas.RawItem` (``text``/``published_at``/``date`` are
accepted as aliases), ``kind`` ``record`` | ``html`` | ``url``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from services.ingest.files import record_item
from services.ingest.pipeline import Outcome, accept
from shared.auth import require_write
from shared.logging import get_logger
from shared.migrate import ensure_schema
from shared.schemas import RawItem

log = get_logger(__name__)

MAX_BATCH = 500
# What the body may be, for the OpenAPI document: one article object (any fields: a bad one is
# answered with a per-article "rejected" outcome, not a 422), a list of 1..MAX_BATCH of them,
# or {"articles": [...]} with such a list (an "articles" that is not a list is a field).
BATCH_SCHEMA = {"type": "array", "minItems": 1, "maxItems": MAX_BATCH}
POST_BODY_SCHEMA = {
    "anyOf": [
        {
            "type": "object",
            "properties": {"articles": {"anyOf": [{"not": {"type": "array"}}, BATCH_SCHEMA]}},
        },
        BATCH_SCHEMA,
    ]
}
MAX_BODY_BYTES = 20_000_000

router = APIRouter(tags=["ingest"])


def _records(body: Any) -> list[Any]:
    if isinstance(body, dict) and isinstance(body.get("articles"), list):
        return list(body["articles"])
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        return [body]
    raise HTTPException(422, "expected an article object, a list, or {'articles': [...]}")


def _ingest(records: list[Any]) -> list[dict[str, Any]]:
    results: list[dict[str, Any] | None] = [None] * len(records)
    batch: list[RawItem] = []
    for n, rec in enumerate(records):
        origin = f"api[{n}]"
        try:
            if isinstance(rec, dict) and rec.get("kind") == "url":
                item = RawItem.model_validate({**rec, "origin": origin})
            else:
                item = record_item(rec, origin)
        except (ValueError, TypeError) as exc:
            reason = f"invalid_record: {exc}".splitlines()[0][:500]
            results[n] = Outcome(origin=origin, status="rejected", reason=reason).as_dict()
            continue
        if item.kind != "url":
            batch.append(item)
            continue
        outcomes = [o.as_dict() for o in accept([item])]
        if len(outcomes) == 1 and outcomes[0].get("origin") == origin:
            results[n] = outcomes[0]
        else:  # a feed or sitemap URL: one outcome per item it listed
            results[n] = {"origin": origin, "status": "expanded", "items": outcomes}
    if batch:
        for o in accept(batch):
            n = int((o.origin or "api[-1]")[4:-1])
            if 0 <= n < len(results):
                results[n] = o.as_dict()
    return [r or {"status": "rejected", "reason": "internal: no outcome"} for r in results]


@router.post(
    "/articles",
    dependencies=[Depends(require_write)],
    responses={
        401: {"description": "missing or wrong bearer token"},
        413: {"description": "request body or batch too large"},
        422: {"description": "not JSON, or not an article / list / {'articles': [...]}"},
        503: {"description": "writes are disabled: NEWSWIRE_API_TOKEN is not set"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": POST_BODY_SCHEMA}},
        }
    },
)
async def post_articles(request: Request) -> dict[str, Any]:
    """Ingest one article or a batch; every article gets queued / duplicate / rejected."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise HTTPException(413, f"request body over {MAX_BODY_BYTES} bytes")
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise HTTPException(413, f"request body over {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise HTTPException(422, f"invalid JSON: {exc}") from exc
    records = _records(body)
    if not records:
        raise HTTPException(422, "no articles in the request")
    if len(records) > MAX_BATCH:
        raise HTTPException(413, f"at most {MAX_BATCH} articles per request")
    results = await run_in_threadpool(_ingest, records)
    summary: dict[str, int] = {}
    for r in results:
        summary[r["status"]] = summary.get(r["status"], 0) + 1
    log.info("api_articles_posted", articles=len(records), **summary)
    return {"results": results, "summary": summary}


def create_app() -> FastAPI:
    """A FastAPI app with only this router (tests; ``uvicorn --factory``)."""
    ensure_schema()
    app = FastAPI(title="Newswire ingest")
    app.include_router(router)
    return app
