"""Newswire HTTP API: ``uvicorn services.store.api.app:app``; OpenAPI at ``/docs``.

Reads (``/articles``, ``/entities``, ``/countries``, ``/regions``) take the read token
when NEWSWIRE_API_READ_TOKEN is set; writes (the ingest router's ``POST /articles``)
take NEWSWIRE_API_TOKEN. Every 4xx has a JSON body ``{"error", "message", "detail"}``
that says what was wrong.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from services.ingest.api import router as ingest_router
from services.ops.api import router as ops_router
from services.ops.console import router as console_router
from services.store import queries
from services.store.api.auth import require_read, require_write
from services.store.api.deps import get_session
from services.store.api.params import PATTERN_MESSAGES, CountryCodes, When, field_of
from services.store.api.schemas import (
    ArticleDetail,
    ArticlePage,
    EntityList,
    ErrorBody,
    TagCounts,
)
from services.store.api.stories import router as stories_router
from services.store.queries import MAX_PAGE_SIZE, ArticleFilters, QueryError
from shared.db import get_sessionmaker
from shared.logging import get_logger
from shared.migrate import ensure_schema
from shared.settings import get_settings

log = get_logger(__name__)

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing or wrong bearer token"},
    422: {"model": ErrorBody, "description": "a parameter is invalid; message says which"},
}


SessionDep = Annotated[Session, Depends(get_session)]

WHEN_HELP = "ISO 8601 date or datetime (UTC when no offset), 'today', 'yesterday', or 24h / 7d / 2w"


def article_filters(
    q: Annotated[
        str | None,
        Query(max_length=500, description="full text over title and body (web search syntax)"),
    ] = None,
    entity: Annotated[
        list[str] | None,
        Query(
            max_length=300,
            description="canonical entity name, case-insensitive; repeat for 'all of them'",
        ),
    ] = None,
    label: Annotated[
        str | None,
        Query(max_length=20, description="entity label (PERSON, ORG, GPE ...)"),
    ] = None,
    country: Annotated[
        list[CountryCodes] | None,
        Query(description="ISO alpha-2 country the article is about; repeat or IQ,TR for all"),
    ] = None,
    region: Annotated[
        list[str] | None,
        Query(max_length=100, description="region code (145, middle-east) or name; repeatable"),
    ] = None,
    focus_country: Annotated[
        list[CountryCodes] | None,
        Query(description="ISO alpha-2 country that is a focus of the article"),
    ] = None,
    source: Annotated[str | None, Query(max_length=300, description="source name")] = None,
    language: Annotated[str | None, Query(max_length=16, description="e.g. en")] = None,
    since: Annotated[When | None, Query(description="from (inclusive): " + WHEN_HELP)] = None,
    until: Annotated[
        When | None, Query(description="to (exclusive, later than since): " + WHEN_HELP)
    ] = None,
) -> ArticleFilters:
    return ArticleFilters.build(
        q=q,
        entity=entity,
        label=label,
        country=country,
        region=region,
        focus_country=focus_country,
        source=source,
        language=language,
        since=since,
        until=until,
    )


FiltersDep = Annotated[ArticleFilters, Depends(article_filters)]

reads = APIRouter(dependencies=[Depends(require_read)], responses=ERRORS)


@reads.get("/articles", response_model=ArticlePage, tags=["articles"])
def list_articles(
    session: SessionDep,
    filters: FiltersDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")] = 20,
    cursor: Annotated[
        str | None, Query(max_length=500, description="next_cursor of the previous page")
    ] = None,
    order: Annotated[
        Literal["desc", "asc"], Query(description="by published date: newest first or oldest")
    ] = "desc",
    include_body: Annotated[bool, Query(description="full bodies instead of snippets")] = False,
) -> JSONResponse:
    """Articles matching every given filter, sorted by published date, one page at a time."""
    started = time.perf_counter()
    page = queries.search_articles(session, filters, limit=limit, cursor=cursor, order=order)
    rows = queries.articles_as_dicts(session, page.articles, body=include_body)
    log.info(
        "articles_listed",
        filters=filters.describe(),
        returned=len(rows),
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    # Already JSON-safe: returned as is (response_model documents it, without a second
    # validation pass over hundreds of tags).
    return JSONResponse(
        {
            "articles": rows,
            "next_cursor": page.next_cursor,
            "limit": limit,
            "filters": filters.describe(),
        }
    )


@reads.get(
    "/articles/{article_id}",
    response_model=ArticleDetail,
    tags=["articles"],
    responses={404: {"model": ErrorBody, "description": "no such article"}},
)
def get_article(
    session: SessionDep, article_id: Annotated[str, Path(min_length=1, max_length=64)]
) -> dict[str, Any]:
    """One article with all tags, enrichment provenance, ingest record and duplicates."""
    article = queries.get_article(session, article_id)
    if article is None:
        raise HTTPException(status_code=404, detail=f"no article with id {article_id!r}")
    return article


CountQuery = Annotated[
    Literal["articles", "stories"],
    Query(description="count articles, or the stories they belong to (one event counts once)"),
]


@reads.get("/entities", response_model=EntityList, tags=["aggregates"])
def top_entities(
    session: SessionDep,
    filters: FiltersDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
    count: CountQuery = "articles",
) -> dict[str, Any]:
    """Most-mentioned entities in the articles matching the filters (``label`` narrows the
    entities, e.g. PERSON); with count=stories, entities in the most stories."""
    return {
        "entities": queries.top_entities(session, filters, limit=limit, count=count),
        "filters": filters.describe(),
    }


def _tag_counts(
    kind: Literal["countries", "regions"],
    session: Session,
    filters: ArticleFilters,
    bucket: str,
    limit: int,
    count: str = "articles",
) -> dict[str, Any]:
    if filters.since is None:
        filters = ArticleFilters(**{**filters.__dict__, "since": _default_since()})
    series = queries.tag_counts(
        session,
        kind,
        filters,
        bucket=bucket,  # type: ignore[arg-type]
        limit=limit,
        count=count,
    )
    return {
        "bucket": bucket,
        "count": count,
        "since": filters.since.isoformat() if filters.since else None,
        "until": filters.until.isoformat() if filters.until else None,
        "series": series,
    }


def _default_since() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=6)


BucketQuery = Annotated[
    Literal["hour", "day", "week", "month"], Query(description="width of a time bucket (UTC)")
]


@reads.get("/countries", response_model=TagCounts, tags=["aggregates"])
def country_counts(
    session: SessionDep,
    filters: FiltersDep,
    bucket: BucketQuery = "day",
    limit: Annotated[int, Query(ge=1, le=300, description="countries")] = 50,
    count: CountQuery = "articles",
) -> dict[str, Any]:
    """Articles (or stories, count=stories) per country and time bucket (``since``
    defaults to the last 7 days)."""
    return _tag_counts("countries", session, filters, bucket, limit, count)


@reads.get("/regions", response_model=TagCounts, tags=["aggregates"])
def region_counts(
    session: SessionDep,
    filters: FiltersDep,
    bucket: BucketQuery = "day",
    limit: Annotated[int, Query(ge=1, le=300, description="regions")] = 50,
    count: CountQuery = "articles",
) -> dict[str, Any]:
    """Articles (or stories, count=stories) per region (M49 and groupings) and time
    bucket (``since`` defaults to the last 7 days)."""
    return _tag_counts("regions", session, filters, bucket, limit, count)


def check_health() -> tuple[bool, dict[str, str]]:
    """Database and broker reachable?"""
    settings = get_settings()
    checks: dict[str, str] = {}
    ok = True
    try:
        with get_sessionmaker()() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        ok = False
        checks["database"] = f"unreachable: {type(exc).__name__}"
    if settings.broker_url:
        try:
            import redis

            client = redis.Redis.from_url(
                settings.broker_url, socket_timeout=3, socket_connect_timeout=3
            )
            try:
                client.ping()
            finally:
                client.close()
            checks["broker"] = "ok"
        except Exception as exc:  # noqa: BLE001
            ok = False
            checks["broker"] = f"unreachable: {type(exc).__name__}"
    else:
        checks["broker"] = "embedded (no broker configured)"
    return ok, checks


def _error(status_code: int, error: str, message: str, detail: Any = None) -> JSONResponse:
    return JSONResponse(
        status_code=status_code,
        content={"error": error, "message": message, "detail": detail},
    )


class StripNul:
    """ASGI middleware: NUL characters are removed from the path and the query string before
    routing (PostgreSQL text cannot hold them; a filter with one would be a server error)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            query = scope.get("query_string", b"")
            if b"%00" in query or b"\x00" in query:
                cleaned = re.sub(rb"%00", b"", query, flags=re.IGNORECASE).replace(b"\x00", b"")
                scope = {**scope, "query_string": cleaned}
            if "\x00" in scope.get("path", ""):
                scope = {**scope, "path": scope["path"].replace("\x00", "")}
                scope.pop("raw_path", None)
        await self.app(scope, receive, send)


_KNOWN_QUERY: dict[int, frozenset[str]] = {}


def reject_unknown_query(request: Request) -> None:
    """A query parameter the endpoint does not take is an error (a typo such as ``contry``
    would otherwise widen the search silently): 422 naming it and the ones it takes."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not request.query_params:
        return
    known = _KNOWN_QUERY.get(id(route))
    if known is None:
        known = frozenset(_query_names(dependant))
        _KNOWN_QUERY[id(route)] = known
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        takes = ", ".join(sorted(known)) or "no query parameters"
        raise QueryError(unknown[0], f"unknown parameter (this endpoint takes {takes})")


def _query_names(dependant: Any) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _methods_of(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def _loc(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("query", "path", "body", "header")]
    return ".".join(parts) or "request"


def _validation_item(e: Any) -> dict[str, Any]:
    """One validation error; a parameter's documented pattern gets its own plain message."""
    loc = list(e.get("loc", ()))
    msg, kind = str(e.get("msg", "")), str(e.get("type", ""))
    field = field_of(loc)
    if kind == "string_pattern_mismatch" and field in PATTERN_MESSAGES:
        msg = f"{e.get('input')!r} {PATTERN_MESSAGES[field]}"
        loc = [loc[0], field]  # the parameter, not the index of a repeated value
    return {"loc": loc, "msg": msg, "type": kind}


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    """Process start: logging once; the embedded SQLite default gets its schema."""
    from shared.logging import configure_logging

    configure_logging()
    settings = get_settings()
    ensure_schema()
    log.info("api_started", embedded=settings.embedded)
    yield


def create_app() -> FastAPI:
    api = FastAPI(
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query)],
        title="Newswire",
        version="1",
        description="Who, where, when: stored news articles with their entities, countries "
        "and regions.",
    )

    api.add_middleware(StripNul)

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        items = [_validation_item(e) for e in exc.errors()]
        message = "; ".join(f"{_loc(i['loc'])}: {i['msg']}" for i in items)
        return _error(422, "invalid_request", message, items)

    @api.exception_handler(QueryError)
    async def _bad_query(request: Request, exc: QueryError) -> JSONResponse:
        item = {"loc": ["query", exc.field], "msg": exc.message, "type": "value_error"}
        return _error(422, "invalid_request", f"{exc.field}: {exc.message}", [item])

    @api.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        names = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "not_allowed"}
        # "detail" keeps FastAPI's usual value, so clients written for it still work.
        response = _error(
            exc.status_code, names.get(exc.status_code, "error"), str(exc.detail), exc.detail
        )
        for k, v in (exc.headers or {}).items():
            response.headers[k] = v
        if exc.status_code == 405:
            # Routers of several services may share a path (GET and POST /articles): the
            # answer lists every method of the path, not only those of the first router.
            response.headers["Allow"] = ", ".join(_methods_of(request))
        return response

    @api.get(
        "/health",
        tags=["operations"],
        responses={
            422: {"model": ErrorBody, "description": "a query parameter it does not take"},
            503: {"description": "the database or the broker is unreachable"},
        },
    )
    def health() -> JSONResponse:
        """Database and broker reachable: 200, otherwise 503 with what failed."""
        ok, checks = check_health()
        return JSONResponse(
            status_code=200 if ok else 503, content={"status": "ok" if ok else "fail", **checks}
        )

    api.include_router(reads)
    api.include_router(stories_router)
    # Explicit: a router that cannot be imported stops the app, it is never skipped.
    api.include_router(ingest_router, dependencies=[Depends(require_write)], responses=ERRORS)
    api.include_router(ops_router)
    api.include_router(console_router)  # /console and /sources (per-source health)
    return api


get_settings()  # an unusable environment stops `uvicorn` here with one line, no traceback
app = create_app()
