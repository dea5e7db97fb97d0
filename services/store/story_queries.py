"""Read side of stories: listings with filters, sorts and keyset cursors, one story.

Filters (all combinable):

- ``q``: full text over the story's articles (the same search as ``/articles?q=``);
- ``entity``: canonical entity name, case-insensitive, mentioned in the story;
- ``country``: ISO alpha-2 code of a country one of its articles is about;
- ``region``: region code ("145", "middle-east") or name ("Western Asia");
- ``since`` / ``until``: the story has an article dated at or after ``since`` / before
  ``until`` (the story overlaps the range);
- ``min_articles``: at least this many articles.

Sorts: ``size`` (articles), ``recency`` (last article), ``growth`` (articles per hour
over the hours before the last article), each descending with the id as tie-break;
the cursor carries the sort key, so a story changing while someone pages can at worst
move, never make the listing fail.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, select, tuple_
from sqlalchemy.orm import Session

from services.store.models import Article, Story, StoryKey
from services.store.queries import (
    COUNTRY_RE,
    MAX_PAGE_SIZE,
    QueryError,
    _iso,
    _plan_for_a_page,
    fts_match,
    parse_when,
)
from services.store.stories import QUIET, entity_key
from shared.db import is_postgres
from shared.models import DUPLICATE, IngestRecord, JSONType

StorySort = Literal["size", "recency", "growth"]
SORTS: tuple[str, ...] = ("size", "recency", "growth")
TOP_ENTITIES = 10
MAX_STORY_ARTICLES = 500


@dataclass(frozen=True)
class StoryFilters:
    q: str | None = None
    entity: tuple[str, ...] = ()
    country: tuple[str, ...] = ()
    region: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    min_articles: int = 1

    @classmethod
    def build(cls, **kwargs: Any) -> StoryFilters:
        """Normalize and validate loose input; raises QueryError."""

        def many(value: Any) -> tuple[str, ...]:
            if value is None:
                return ()
            values = [value] if isinstance(value, str) else list(value)
            return tuple(v.strip() for v in values if v and v.strip())

        countries = []
        for v in (p.strip() for x in many(kwargs.get("country")) for p in x.split(",")):
            if not v:
                continue
            if not COUNTRY_RE.match(v):
                raise QueryError("country", f"{v!r} is not an ISO 3166-1 alpha-2 code (e.g. IQ)")
            countries.append(v.upper())
        since = parse_when(kwargs.get("since"), "since")
        until = parse_when(kwargs.get("until"), "until")
        if since and until and since >= until:
            raise QueryError("until", "must be later than since")
        q = kwargs.get("q")
        min_articles = kwargs.get("min_articles") or 1
        if not isinstance(min_articles, int) or min_articles < 1:
            raise QueryError("min_articles", "must be a whole number of at least 1")
        return cls(
            q=q.strip() or None if isinstance(q, str) else None,
            entity=many(kwargs.get("entity")),
            country=tuple(countries),
            region=many(kwargs.get("region")),
            since=since,
            until=until,
            min_articles=min_articles,
        )

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            if v in (None, ()) or (k == "min_articles" and v == 1):
                continue
            out[k] = _iso(v) if isinstance(v, datetime) else list(v) if isinstance(v, tuple) else v
        return out


def region_keys(value: str) -> list[str]:
    low = value.strip().lower()
    return sorted({"r:" + low, "r:" + low.replace(" ", "-")})


def _has_key(keys: list[str]) -> ColumnElement[bool]:
    return Story.id.in_(select(StoryKey.story_id).where(StoryKey.key.in_(keys)))


def story_clauses(session: Session, f: StoryFilters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    for name in f.entity:
        where.append(_has_key([entity_key(name)]))
    for code in f.country:
        where.append(_has_key(["c:" + code]))
    for region in f.region:
        where.append(_has_key(region_keys(region)))
    if f.since:
        where.append(Story.last_seen >= f.since)
    if f.until:
        where.append(Story.first_seen < f.until)
    if f.min_articles > 1:
        where.append(Story.article_count >= f.min_articles)
    if f.q:
        where.append(
            Story.id.in_(
                select(Article.story_id).where(
                    Article.story_id.is_not(None), fts_match(session, f.q)
                )
            )
        )
    return where


def _sort_column(sort: str) -> Any:
    return {
        "size": Story.article_count,
        "recency": Story.last_seen,
        "growth": Story.growth,
    }[sort]


def _cursor_value(story: Story | ListedStory, sort: str) -> Any:
    if sort == "recency":
        return _iso(story.last_seen)
    return story.article_count if sort == "size" else float(story.growth)


def encode_cursor(story: Story | ListedStory, sort: str) -> str:
    raw = json.dumps([sort, _cursor_value(story, sort), story.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _is_int(value: Any) -> bool:
    """A whole number a database column can be compared with (a bigger one is a server
    error on both backends: SQLite's OverflowError, PostgreSQL's 'bigint out of range')."""
    return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63


def decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_sort, value, story_id = json.loads(raw)
        if not _is_int(story_id):
            raise TypeError("id")
        if cursor_sort == "recency":
            value = datetime.fromisoformat(value)
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
        elif cursor_sort == "size":
            if not _is_int(value):
                raise TypeError("size")
        elif cursor_sort == "growth":
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise TypeError("growth")
            value = float(value)
            if not math.isfinite(value):  # NaN / Infinity: JSON that no listing writes
                raise ValueError("growth")
        else:
            raise ValueError("sort")
    except (ValueError, TypeError, OverflowError, binascii.Error) as exc:
        raise QueryError("cursor", "not a cursor returned by this API") from exc
    if cursor_sort != sort:
        raise QueryError("cursor", f"was made for sort={cursor_sort}, not sort={sort}")
    return value, story_id


@dataclass
class ListedStory:
    """The columns of a story that a listing shows, and of its profile only the parts
    :func:`story_dict` reads (the centroid's terms and weights stay in the database)."""

    id: int
    title: str
    article_id: str | None
    first_seen: datetime
    last_seen: datetime
    article_count: int
    source_count: int
    growth: float
    profile: dict[str, Any]


SHOWN = ("countries", "regions", "entities", "sources")  # the profile parts story_dict reads
# PostgreSQL: the profile decompressed once per row (``|| '{}'``; each ``->`` on the
# stored value would decompress it again) and only the shown parts sent.
_SHOWN_PG = (
    "(SELECT jsonb_build_object("
    + ", ".join(f"'{part}', p -> '{part}'" for part in SHOWN)
    + ") FROM (SELECT stories.profile || '{}'::jsonb AS p OFFSET 0) AS whole)"
)


def _listed_columns(session: Session) -> list[Any]:
    columns: list[Any] = [
        Story.id,
        Story.title,
        Story.article_id,
        Story.first_seen,
        Story.last_seen,
        Story.article_count,
        Story.source_count,
        Story.growth,
    ]
    if is_postgres(session):
        return [*columns, literal_column(_SHOWN_PG, JSONType).label("profile")]
    return [*columns, Story.profile]


def _listed(row: Any) -> ListedStory:
    sid, title, article_id, first, last, articles, sources, growth, profile = row
    return ListedStory(
        sid, title, article_id, first, last, articles, sources, growth, profile or {}
    )


@dataclass
class StoryPage:
    stories: list[ListedStory] = field(default_factory=list)
    next_cursor: str | None = None


def search_stories(
    session: Session,
    filters: StoryFilters,
    *,
    sort: str = "recency",
    limit: int = 20,
    cursor: str | None = None,
) -> StoryPage:
    if sort not in SORTS:
        raise QueryError("sort", f"must be one of {', '.join(SORTS)}")
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise QueryError("limit", f"must be between 1 and {MAX_PAGE_SIZE}")
    where = story_clauses(session, filters)
    column = _sort_column(sort)
    stmt: Select[Any] = select(*_listed_columns(session)).where(*where)
    if cursor:
        value, story_id = decode_cursor(cursor, sort)
        stmt = stmt.where(tuple_(column, Story.id) < tuple_(value, story_id))
    stmt = stmt.order_by(column.desc(), Story.id.desc()).limit(limit + 1)
    if is_postgres(session):
        _plan_for_a_page(session)
    rows = [_listed(r) for r in session.execute(stmt)]
    page = StoryPage(stories=rows[:limit])
    if len(rows) > limit:
        page.next_cursor = encode_cursor(rows[limit - 1], sort)
    return page


def _counted(entries: dict[str, list[Any]], top: int | None = None) -> list[list[Any]]:
    items = sorted(entries.items(), key=lambda kv: (-kv[1][-1], kv[0]))
    return [[k, *v] for k, v in (items[:top] if top else items)]


def story_dict(story: Story | ListedStory, now: datetime | None = None) -> dict[str, Any]:
    """A story as the API and the CLI show it (without its articles)."""
    p = story.profile or {}
    now = now or datetime.now(UTC)
    last = story.last_seen if story.last_seen.tzinfo else story.last_seen.replace(tzinfo=UTC)
    return {
        "id": story.id,
        "title": story.title,
        "article_id": story.article_id,
        "first_seen": _iso(story.first_seen),
        "last_seen": _iso(story.last_seen),
        "open": last >= now - QUIET,
        "article_count": story.article_count,
        "source_count": story.source_count,
        "growth": story.growth,
        "countries": [
            {"code": code, "name": name, "articles": n}
            for code, name, n in _counted(p.get("countries") or {})
        ],
        "regions": [
            {"code": code, "name": name, "scheme": scheme, "articles": n}
            for code, name, scheme, n in _counted(p.get("regions") or {})
        ],
        "entities": [
            {"name": name, "label": label, "articles": n}
            for _, name, label, n in _counted(p.get("entities") or {}, TOP_ENTITIES)
        ],
        "sources": [
            {"source": s, "articles": n}
            for s, n in sorted((p.get("sources") or {}).items(), key=lambda kv: (-kv[1], kv[0]))
        ],
    }


def get_story(session: Session, story_id: int) -> dict[str, Any] | None:
    """One story with its articles (oldest first). Copies of one text (same content
    hash) are listed once with ``copies``; near-duplicates that ingest kept out are
    counted in ``duplicates``."""
    story = session.get(Story, story_id)
    if story is None:
        return None
    out = story_dict(story)
    rows = session.execute(
        select(
            Article.id,
            Article.title,
            Article.source,
            Article.url,
            Article.dated_at,
            Article.content_hash,
        )
        .where(Article.story_id == story_id)
        .order_by(Article.dated_at, Article.id)
    ).all()
    listed: list[dict[str, Any]] = []
    by_hash: dict[str, dict[str, Any]] = {}
    for aid, title, source, url, dated, content_hash in rows:
        first = by_hash.get(content_hash)
        if first is not None:
            first["copies"] += 1
            first["copy_sources"].append(source)
            continue
        entry: dict[str, Any] = {
            "id": aid,
            "title": title,
            "source": source,
            "url": url,
            "dated_at": _iso(dated),
            "copies": 1,
            "copy_sources": [],
        }
        by_hash[content_hash] = entry
        listed.append(entry)
    ids = [r[0] for r in rows]
    dups: dict[str | None, int] = defaultdict(int)
    for start in range(0, len(ids), 500):
        for original, n in session.execute(
            select(IngestRecord.duplicate_of, func.count())
            .where(
                and_(
                    IngestRecord.duplicate_of.in_(ids[start : start + 500]),
                    IngestRecord.status == DUPLICATE,
                )
            )
            .group_by(IngestRecord.duplicate_of)
        ):
            dups[original] = int(n)
    for entry in listed:
        entry["duplicates"] = dups.get(entry["id"], 0)
    out["duplicates"] = sum(dups.values()) + sum(e["copies"] - 1 for e in listed)
    out["articles_listed"] = len(listed)
    out["articles"] = listed[:MAX_STORY_ARTICLES]
    return out


__all__ = [
    "SORTS",
    "ListedStory",
    "StoryFilters",
    "StoryPage",
    "get_story",
    "search_stories",
    "story_dict",
]
