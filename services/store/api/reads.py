"""The store's read API: ``GET /articles``, ``/articles/{id}``, ``/entities``,
``/countries``, ``/regions`` (:data:`reads`, included by the API app,
:mod:`services.entrypoints.api`).

Every route takes the read token when NEWSWIRE_API_READ_TOKEN is set (:mod:`shared.auth`).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from services.store import queries
from services.store.api.deps import SessionDep
from services.store.api.pages import Cursor, PageSize, page_response
from services.store.api.params import WHEN_HELP, CountryCodes, When
from services.store.api.schemas import (
    ERRORS,
    ArticleDetail,
    ArticlePage,
    EntityList,
    ErrorBody,
    TagCounts,
)
from services.store.queries import MAX_PAGE_SIZE, ArticleFilters
from shared.auth import require_read
from shared.logging import get_logger

log = get_logger(__name__)


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
    limit: PageSize = 20,
    cursor: Cursor = None,
    order: Annotated[
        Literal["desc", "asc"], Query(description="by published date: newest first or oldest")
    ] = "desc",
    include_body: Annotated[bool, Query(description="full bodies instead of snippets")] = False,
) -> JSONResponse:
    """Articles matching every given filter, sorted by published date, one page at a time."""
    started = time.perf_counter()
    page = queries.search_articles(session, filters, limit=limit, cursor=cursor, order=order)
    rows = queries.articles_as_dicts(session, page.articles, body=include_body)
    return page_response(
        log,
        "articles_listed",
        started,
        "articles",
        rows,
        next_cursor=page.next_cursor,
        limit=limit,
        filters=filters.describe(),
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
        filters = ArticleFilters(**{**filters.__dict__, "since": _default_since(filters.until)})
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


def _default_since(until: datetime | None = None) -> datetime:
    """The 7 days up to today (today included), or the 7 days before ``until`` when it is
    given (not today's week, which could start after it and count nothing)."""
    if until is not None:
        return until - timedelta(days=7)
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
    defaults to the last 7 days, or the 7 days before ``until``)."""
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
    bucket (``since`` defaults to the last 7 days, or the 7 days before ``until``)."""
    return _tag_counts("regions", session, filters, bucket, limit, count)
