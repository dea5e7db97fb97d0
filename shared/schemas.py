"""Versioned message schemas, one per hop, validated on both ends.

Hop 0 (CLI/API -> ``ingest``): :class:`IngestRequest` of loose :class:`RawItem`.
Hop 1 (``ingest`` -> ``enrich``): :class:`ArticleBatch` of :class:`ArticlePayload`.
Hop 2 (``enrich`` -> ``store``): :class:`EnrichedBatch` of :class:`EnrichedArticle`.

Extend these models with optional fields; never rename or remove one. A consumer
accepts any message whose ``schema_version`` major is the one it knows.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 1


class SchemaError(ValueError):
    """A message that can never be processed (permanent failure: dead-letter it)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_trace_id() -> str:
    return uuid.uuid4().hex


def _to_utc(v: datetime | None) -> datetime | None:
    if v is None:
        return None
    if v.tzinfo is None:
        return v.replace(tzinfo=UTC)
    return v.astimezone(UTC)


class _Model(BaseModel):
    # Unknown fields from a newer producer are ignored, not fatal.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class _Versioned(_Model):
    schema_version: int = SCHEMA_VERSION

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v != SCHEMA_VERSION:
            raise ValueError(f"unsupported schema_version {v} (this build speaks {SCHEMA_VERSION})")
        return v


# ---------------------------------------------------------------- hop 0: raw items


class RawItem(_Model):
    """Something that may become an article: a parsed record, a page, or a URL to fetch."""

    kind: Literal["record", "html", "url"] = "record"
    url: str | None = None
    title: str | None = None
    body: str | None = None
    html: str | None = None
    published: str | None = None  # any common date format; normalized at ingest
    source: str | None = None
    authors: list[str] = Field(default_factory=list)
    language: str | None = None
    source_country: str | None = None
    origin: str | None = None  # where it came from, e.g. "path/to/file.jsonl:12"
    trace_id: str | None = None


class IngestRequest(_Versioned):
    items: list[RawItem]


# ---------------------------------------------------------------- hop 1: article payload


class ArticlePayload(_Model):
    schema_version: int = SCHEMA_VERSION
    id: str
    url: str | None = None
    source: str | None = None
    title: str | None = None
    published_at: datetime | None = None
    ingested_at: datetime = Field(default_factory=utcnow)
    language: str | None = None
    authors: list[str] = Field(default_factory=list)
    body: str
    content_hash: str
    trace_id: str = Field(default_factory=new_trace_id)
    source_country: str | None = None
    attempts: int = 0

    @field_validator("published_at", "ingested_at")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        return _to_utc(v)

    @field_validator("id")
    @classmethod
    def _id_not_empty(cls, v: str) -> str:
        if not v or len(v) > 64:
            raise ValueError("id must be 1..64 characters")
        return v


class ArticleBatch(_Versioned):
    articles: list[ArticlePayload]


# ---------------------------------------------------------------- hop 2: enriched article


class Entity(_Model):
    text: str
    label: str
    canonical: str | None = None
    count: int = 1
    spans: list[tuple[int, int]] = Field(default_factory=list)
    country: str | None = None
    source: str | None = None
    in_title: bool = False


class Country(_Model):
    code: str
    name: str
    mentions: int = 1
    via: list[str] = Field(default_factory=list)
    focus: bool = False


class Region(_Model):
    code: str
    name: str
    scheme: str = "m49"


class Enrichment(_Model):
    status: str = "ok"
    tagger: str
    tagger_version: str
    model: str | None = None
    model_version: str | None = None
    gazetteer_hash: str | None = None
    enriched_at: datetime = Field(default_factory=utcnow)

    @field_validator("enriched_at")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return _to_utc(v) or v


class EnrichedArticle(ArticlePayload):
    entities: list[Entity] = Field(default_factory=list)
    countries: list[Country] = Field(default_factory=list)
    regions: list[Region] = Field(default_factory=list)
    enrichment: Enrichment


class EnrichedBatch(_Versioned):
    articles: list[EnrichedArticle]


def parse(model: type[_Model], data: Any) -> Any:
    """Validate an incoming message; raise :class:`SchemaError` with a readable reason."""
    try:
        return model.model_validate(data)
    except Exception as exc:  # pydantic.ValidationError and friends
        raise SchemaError(f"invalid {model.__name__} message: {exc}") from exc


def dump(model: BaseModel) -> dict[str, Any]:
    """The JSON-safe dict that travels on the wire."""
    return model.model_dump(mode="json")
