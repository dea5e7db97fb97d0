"""``POST /articles``: one article or a batch in, a status per article out.

The router is included by the store's FastAPI app; :func:`create_app` serves it
alone. Writes need ``Authorization: Bearer <NEWSWIRE_API_TOKEN>``; with no token
configured every write is refused (503), never silently open.

Body: one article object, a list of them, or ``{"articles": [...]}``. Fields are
those of :class:`shared.schemas.RawItem` (``text``/``published_at``/``date`` are
accepted as aliases), ``kind`` ``record`` | ``html`` | ``url``.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.logging import get_logger
from shared.settings import get_settings

log = get_logger(__name__)

MAX_BATCH = 500
MAX_BODY_BYTES = 20_000_000

router = APIRouter(tags=["ingest"])
_bearer = HTTPBearer(auto_error=False)


def require_write_token(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> None:
    expected = get_settings().api_token
    if not expected:
        raise HTTPException(503, "writes are disabled: NEWSWIRE_API_TOKEN is not set")
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"})


def _records(body: Any) -> list[Any]:
    if isinstance(body, dict) and isinstance(body.get("articles"), list):
        return list(body["articles"])
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        return [body]
    raise HTTPException(422, "expected an article object, a list, or {'articles': [...]}")


def _ingest(records: list[Any]) -> list[dict[str, Any]]:
    from services.ingest.files import record_item
    from services.ingest.pipeline import Outcome, accept
    from shared.schemas import RawItem

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


@router.post("/articles", dependencies=[Depends(require_write_token)])
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
    from shared.cli import ensure_embedded_schema

    ensure_embedded_schema()
    app = FastAPI(title="Newswire ingest")
    app.include_router(router)
    return app
