"""What the paged list routes (``/articles``, ``/stories``) share: the page size and cursor
parameters, and the page they return."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import JSONResponse
from structlog.stdlib import BoundLogger

from services.store.queries import MAX_PAGE_SIZE

PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")]
Cursor = Annotated[
    str | None, Query(max_length=500, description="next_cursor of the previous page")
]


def page_response(
    log: BoundLogger,
    event: str,
    started: float,
    name: str,
    rows: list[dict[str, Any]],
    *,
    next_cursor: str | None,
    limit: int,
    filters: dict[str, Any],
    **extra: Any,
) -> JSONResponse:
    """Log the listing (``event``, with the time since ``started``) and return the page as
    ``{name: rows, "next_cursor", "limit", **extra, "filters"}``.

    The rows are already JSON-safe, so they are returned as is: the route's response_model
    documents them without a second validation pass over hundreds of tags. ``log`` is the
    route module's, so the line keeps its logger name.
    """
    log.info(
        event,
        filters=filters,
        returned=len(rows),
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    return JSONResponse(
        {name: rows, "next_cursor": next_cursor, "limit": limit, **extra, "filters": filters}
    )
