"""``/stories``: events across sources (see services/store/stories.py for the grouping).

Same read token and error bodies as the article routes (``app.py``)."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.store import story_queries
from services.store.api.deps import SessionDep
from services.store.api.pages import Cursor, PageSize, page_response
from services.store.api.params import WHEN_HELP, CountryCodes, When
from services.store.api.schemas import ERRORS, ErrorBody
from services.store.story_queries import StoryFilters
from shared.auth import require_read
from shared.logging import get_logger

log = get_logger(__name__)


class StoryCountry(BaseModel):
    code: str = Field(description="ISO 3166-1 alpha-2")
    name: str
    articles: int


class StoryRegion(BaseModel):
    code: str
    name: str
    scheme: str
    articles: int


class StoryEntity(BaseModel):
    name: str
    label: str
    articles: int


class StorySource(BaseModel):
    source: str
    articles: int


class StoryOut(BaseModel):
    id: int
    title: str = Field(description="representative title (the article closest to the story)")
    article_id: str | None = Field(None, description="the article the title is from")
    first_seen: str | None
    last_seen: str | None
    open: bool = Field(description="an article within the quiet period (36 h) before now")
    article_count: int
    source_count: int
    growth: float = Field(description="articles per hour over the 6 hours before last_seen")
    countries: list[StoryCountry]
    regions: list[StoryRegion]
    entities: list[StoryEntity] = Field(description="top entities by articles")
    sources: list[StorySource]


class StoryArticle(BaseModel):
    id: str
    title: str | None = None
    source: str | None = None
    url: str | None = None
    dated_at: str | None = None
    copies: int = Field(description="stored articles with this same text (listed once)")
    copy_sources: list[str | None]
    duplicates: int = Field(description="near-duplicates ingest recorded for this article")


class StoryDetail(StoryOut):
    duplicates: int = Field(description="copies and near-duplicates in all")
    articles_listed: int
    articles: list[StoryArticle] = Field(description="oldest first (at most 500)")


class StoryPageOut(BaseModel):
    stories: list[StoryOut]
    next_cursor: str | None = Field(
        None, description="pass as ?cursor= for the next page; null on the last page"
    )
    limit: int
    sort: str
    filters: dict[str, Any]


def story_filters(
    q: Annotated[
        str | None,
        Query(max_length=500, description="full text over the stories' articles"),
    ] = None,
    entity: Annotated[
        list[str] | None,
        Query(max_length=300, description="canonical entity name, case-insensitive; repeatable"),
    ] = None,
    country: Annotated[
        list[CountryCodes] | None,
        Query(description="ISO alpha-2 country of one of its articles; repeat or IQ,TR for all"),
    ] = None,
    region: Annotated[
        list[str] | None,
        Query(max_length=100, description="region code (145, middle-east) or name; repeatable"),
    ] = None,
    since: Annotated[
        When | None, Query(description="an article at or after (inclusive): " + WHEN_HELP)
    ] = None,
    until: Annotated[
        When | None, Query(description="an article before (exclusive): " + WHEN_HELP)
    ] = None,
    min_articles: Annotated[
        int, Query(ge=1, le=1_000_000, description="at least this many articles")
    ] = 1,
) -> StoryFilters:
    return StoryFilters.build(
        q=q,
        entity=entity,
        country=country,
        region=region,
        since=since,
        until=until,
        min_articles=min_articles,
    )


router = APIRouter(dependencies=[Depends(require_read)], responses=ERRORS)


@router.get("/stories", response_model=StoryPageOut, tags=["stories"])
def list_stories(
    session: SessionDep,
    filters: Annotated[StoryFilters, Depends(story_filters)],
    sort: Annotated[
        Literal["recency", "size", "growth"],
        Query(description="last article, articles, or articles per hour (all descending)"),
    ] = "recency",
    limit: PageSize = 20,
    cursor: Cursor = None,
) -> JSONResponse:
    """Stories matching every given filter, one page at a time."""
    started = time.perf_counter()
    page = story_queries.search_stories(session, filters, sort=sort, limit=limit, cursor=cursor)
    rows = [story_queries.story_dict(s) for s in page.stories]
    return page_response(
        log,
        "stories_listed",
        started,
        "stories",
        rows,
        next_cursor=page.next_cursor,
        limit=limit,
        sort=sort,
        filters=filters.describe(),
    )


@router.get(
    "/stories/{story_id}",
    response_model=StoryDetail,
    tags=["stories"],
    responses={404: {"model": ErrorBody, "description": "no such story"}},
)
def get_story(
    session: SessionDep,
    story_id: Annotated[int, Path(ge=1, le=2**31 - 1, description="story id")],
) -> JSONResponse:
    """One story with its articles (copies of one text listed once, duplicates counted)."""
    story = story_queries.get_story(session, story_id)
    if story is None:
        raise HTTPException(status_code=404, detail=f"no story with id {story_id}")
    return JSONResponse(story)
