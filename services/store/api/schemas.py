"""Response models: what /docs shows and what clients can rely on."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class EntityTag(BaseModel):
    text: str
    canonical: str
    label: str
    count: int
    spans: list[list[int]] = Field(default_factory=list)
    country: str | None = None
    in_title: bool = False
    source: str | None = None
    entity_id: int


class CountryTag(BaseModel):
    code: str = Field(description="ISO 3166-1 alpha-2")
    name: str
    mentions: int
    via: list[str] = Field(default_factory=list)
    focus: bool


class RegionTag(BaseModel):
    code: str = Field(description='M49 code ("145") or group slug ("middle-east")')
    name: str
    scheme: str = Field(description='"m49" or "group"')


class ArticleOut(BaseModel):
    id: str
    url: str | None = None
    source: str | None = None
    title: str | None = None
    published_at: str | None = None
    ingested_at: str | None = None
    stored_at: str | None = None
    dated_at: str | None = Field(None, description="published_at, or ingested_at when unknown")
    language: str | None = None
    authors: list[str] = Field(default_factory=list)
    body: str | None = Field(None, description="only with include_body=true in listings")
    snippet: str | None = None
    content_hash: str
    trace_id: str
    entities: list[EntityTag]
    countries: list[CountryTag]
    regions: list[RegionTag]
    enrichment: dict[str, Any]
    story_id: int | None = Field(None, description="the story it belongs to (null until grouped)")


class ArticlePage(BaseModel):
    articles: list[ArticleOut]
    next_cursor: str | None = Field(
        None, description="pass as ?cursor= for the next page; null on the last page"
    )
    limit: int
    filters: dict[str, Any]


class Duplicate(BaseModel):
    id: str
    url: str | None = None
    source: str | None = None
    origin: str | None = None
    similarity: float | None = None
    received_at: str | None = None


class ArticleDetail(ArticleOut):
    provenance: dict[str, Any]
    duplicates: list[Duplicate]


class EntityCount(BaseModel):
    id: int
    name: str
    label: str
    country: str | None = None
    mentions: int = Field(description="sum of mention counts in the matching articles")
    articles: int = Field(description="matching articles that mention it")
    stories: int | None = Field(None, description="stories of those articles (count=stories)")


class EntityList(BaseModel):
    entities: list[EntityCount]
    filters: dict[str, Any]


class BucketCount(BaseModel):
    start: str
    articles: int | None = Field(None, description="articles in the bucket (count=articles)")
    stories: int | None = Field(None, description="stories in the bucket (count=stories)")


class TagSeries(BaseModel):
    code: str
    name: str
    scheme: str | None = None
    total: int
    buckets: list[BucketCount]


class TagCounts(BaseModel):
    bucket: str
    count: str = Field("articles", description='what is counted: "articles" or "stories"')
    since: str | None
    until: str | None
    series: list[TagSeries]


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    error: str
    message: str
    detail: list[ErrorItem] | str | None = None


# The error responses every API router documents (its ``responses=``): read and write routes.
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing or wrong bearer token"},
    422: {"model": ErrorBody, "description": "a parameter is invalid; message says which"},
}
