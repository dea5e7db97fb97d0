"""Newswire HTTP API: ``uvicorn services.entrypoints.api:app``; OpenAPI at ``/docs``.

The app of every service's routers, included explicitly: the store's reads and stories,
ingest's ``POST /articles``, ops' ``/metrics``, ``/console`` and ``/sources``; plus
``/health`` and the error shape shared by all of them.

Reads (``/articles``, ``/entities``, ``/countries``, ``/regions``) take the read token
when NEWSWIRE_API_READ_TOKEN is set; writes (the ingest router's ``POST /articles``)
take NEWSWIRE_API_TOKEN (one rule: :mod:`shared.auth`). Every 4xx has a JSON body
``{"error", "message", "detail"}`` that says what was wrong.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import redis
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from services.entrypoints import tasks  # noqa: F401 - every service's tasks (embedded: in process)
from services.ingest.api import router as ingest_router
from services.ops.api import router as ops_router
from services.ops.console import router as console_router
from services.store.api.params import PATTERN_MESSAGES, field_of
from services.store.api.reads import reads as store_reads
from services.store.api.schemas import ERRORS, ErrorBody
from services.store.api.stories import router as store_stories
from services.store.queries import QueryError
from shared.auth import require_write
from shared.db import get_sessionmaker
from shared.logging import configure_logging, get_logger
from shared.migrate import ensure_schema
from shared.settings import get_settings

log = get_logger(__name__)


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


# Per route: the query parameters it takes, and those that take one value (not a list).
_KNOWN_QUERY: dict[int, tuple[frozenset[str], frozenset[str]]] = {}


def reject_unknown_query(request: Request) -> None:
    """A query parameter the endpoint does not take is an error (a typo such as ``contry``
    would otherwise widen the search silently): 422 naming it and the ones it takes. So is
    a one-value parameter given twice (``source=A&source=B`` would otherwise be read as
    ``source=B`` alone, not as either source)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not request.query_params:
        return
    cached = _KNOWN_QUERY.get(id(route))
    if cached is None:
        params = _query_params(dependant)
        cached = (
            frozenset(p.alias for p in params),
            frozenset(p.alias for p in params if not _takes_many(p.field_info.annotation)),
        )
        _KNOWN_QUERY[id(route)] = cached
    known, single = cached
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        takes = ", ".join(sorted(known)) or "no query parameters"
        raise QueryError(unknown[0], f"unknown parameter (this endpoint takes {takes})")
    for name in sorted(single & set(request.query_params)):
        given = len(request.query_params.getlist(name))
        if given > 1:
            raise QueryError(name, f"given {given} times; it takes one value")


def _takes_many(annotation: Any) -> bool:
    """``list[str] | None`` and the like: a parameter that may be repeated."""
    origin = get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return True
    if origin in (Union, UnionType, Annotated):
        return any(_takes_many(a) for a in get_args(annotation))
    return False


def _query_params(dependant: Any) -> list[Any]:
    params = list(dependant.query_params)
    for sub in dependant.dependencies:
        params += _query_params(sub)
    return params


def _methods_of(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in _endpoint_routes(request.app.router.routes):
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def _endpoint_routes(routes: Any) -> Iterator[Any]:
    """The routes with methods: an included router (FastAPI's ``_IncludedRouter``, which
    has none itself) stands for the routes it brings in."""
    for route in routes:
        candidates = getattr(route, "effective_candidates", None)
        if callable(candidates):
            yield from _endpoint_routes(candidates())
        else:
            yield route


def _loc(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("query", "path", "body", "header")]
    return ".".join(parts) or "request"


# 2026-11-25T08:00:00+01:00 sent unencoded arrives as "2026-11-25T08:00:00 01:00".
_PLUS_AS_SPACE = re.compile(r"[0-9] [0-9]{2}:[0-9]{2}$")


def _validation_item(e: Any) -> dict[str, Any]:
    """One validation error; a parameter's documented pattern gets its own plain message."""
    loc = list(e.get("loc", ()))
    msg, kind = str(e.get("msg", "")), str(e.get("type", ""))
    field = field_of(loc)
    if kind == "string_pattern_mismatch" and field in PATTERN_MESSAGES:
        value = e.get("input")
        msg = f"{value!r} {PATTERN_MESSAGES[field]}"
        if isinstance(value, str) and _PLUS_AS_SPACE.search(value):
            msg += "; a + in a URL reads as a space: send the offset as %2B01:00"
        loc = [loc[0], field]  # the parameter, not the index of a repeated value
    return {"loc": loc, "msg": msg, "type": kind}


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    """Process start: logging once; the embedded SQLite default gets its schema."""
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

    # Every service's routers, explicitly: one that cannot be imported stops the app.
    api.include_router(store_reads)
    api.include_router(store_stories)
    api.include_router(ingest_router, dependencies=[Depends(require_write)], responses=ERRORS)
    api.include_router(ops_router)
    api.include_router(console_router)  # /console and /sources (per-source health)
    return api


get_settings()  # an unusable environment stops `uvicorn` here with one line, no traceback
app = create_app()
