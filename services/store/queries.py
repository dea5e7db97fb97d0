"""Read side: stored articles as the enriched-article dicts users see.

Every listing (API, CLI, export) goes through :class:`ArticleFilters` and
:func:`search_articles`, so the same filters mean the same thing everywhere.

Filter semantics (all combinable; a repeated filter means "all of them"):

- ``q``: full text over title and body (PostgreSQL ``websearch_to_tsquery`` on the
  GIN-indexed ``article_search`` documents, English stemming; an article becomes
  searchable once its document is built, normally in the same store task right after
  its write; SQLite: every word or "phrase" as a case-insensitive substring, ``a OR b``
  either, ``-word`` excludes, no stemming and no stop words);
- ``entity``: canonical entity name, case-insensitive (``label`` narrows it to one
  label; ``label`` alone = articles mentioning any entity with that label);
- ``country``: ISO 3166-1 alpha-2 code of a country the article is about;
  ``focus_country``: the same, but only where that country is a focus of the article;
- ``region``: region code (M49 "145" or group slug "middle-east") or name
  ("Western Asia", "middle east"), case-insensitive;
- ``source``, ``language``: exact (language lower-cased);
- ``since`` (inclusive) / ``until`` (exclusive): on the article's date, which is the
  published date or, when a source gives none, the ingest time.

Listings sort by that date then id, and page with an opaque keyset cursor: an article
arriving while someone pages never shifts the pages, so nothing is skipped or repeated.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    text,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session

from services.store.models import (
    FTS_CONFIG,
    Article,
    ArticleCountry,
    ArticleEntity,
    ArticleRegion,
    ArticleSearch,
    Entity,
)
from shared.db import is_postgres
from shared.models import DUPLICATE, IngestRecord

MAX_PAGE_SIZE = 200
Order = Literal["desc", "asc"]
Bucket = Literal["hour", "day", "week", "month"]
COUNTRY_RE = re.compile(r"^[A-Za-z]{2}$")


class QueryError(ValueError):
    """A parameter that cannot be used (bad cursor, bad country code ...)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:  # SQLite hands back naive UTC
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat()


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


_RELATIVE_RE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(value: str | datetime | None, field_name: str = "since") -> datetime | None:
    """A point in time from ISO 8601 (date or datetime; naive = UTC), ``today``,
    ``yesterday``, or an age such as ``90m``, ``24h``, ``7d``, ``2w`` (before now)."""
    if value is None or isinstance(value, datetime):
        return _utc(value)
    text = value.strip().lower()
    if not text:
        return None
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if text == "now":
        return now
    if text == "today":
        return midnight
    if text == "yesterday":
        return midnight - timedelta(days=1)
    try:
        m = _RELATIVE_RE.match(text)
        if m:
            return now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        return _utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
    except (ValueError, OverflowError):  # overflow: an age or an offset past year 1 or 9999
        raise QueryError(
            field_name,
            f"{value!r} is not a date: use ISO 8601 (2026-11-25 or 2026-11-25T08:00:00Z), "
            "'today', 'yesterday' or an age like 24h, 7d, 2w",
        ) from None


# ---------------------------------------------------------------- filters


@dataclass(frozen=True)
class ArticleFilters:
    q: str | None = None
    entity: tuple[str, ...] = ()
    label: str | None = None
    country: tuple[str, ...] = ()
    region: tuple[str, ...] = ()
    focus_country: tuple[str, ...] = ()
    source: str | None = None
    language: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def build(cls, **kwargs: Any) -> ArticleFilters:
        """Normalize and validate loose input (None, str or list); raises QueryError."""

        def many(value: Any) -> tuple[str, ...]:
            if value is None:
                return ()
            values = [value] if isinstance(value, str) else list(value)
            return tuple(v.strip() for v in values if v and v.strip())

        def codes(name: str) -> tuple[str, ...]:
            out = []
            for v in (p.strip() for x in many(kwargs.get(name)) for p in x.split(",")):
                if not v:
                    continue
                if not COUNTRY_RE.match(v):
                    raise QueryError(name, f"{v!r} is not an ISO 3166-1 alpha-2 code (e.g. IQ)")
                out.append(v.upper())
            return tuple(out)

        def one(name: str) -> str | None:
            v = kwargs.get(name)
            return v.strip() or None if isinstance(v, str) else None

        since = parse_when(kwargs.get("since"), "since")
        until = parse_when(kwargs.get("until"), "until")
        if since and until and since >= until:
            raise QueryError("until", "must be later than since")
        language = one("language")
        return cls(
            q=one("q"),
            entity=many(kwargs.get("entity")),
            label=(one("label") or "").upper() or None,
            country=codes("country"),
            region=many(kwargs.get("region")),
            focus_country=codes("focus_country"),
            source=one("source"),
            language=language.lower() if language else None,
            since=since,
            until=until,
        )

    def describe(self) -> dict[str, Any]:
        """The filters that are set, JSON-safe (for logs and response metadata)."""
        out: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            if v in (None, ()):
                continue
            out[k] = _iso(v) if isinstance(v, datetime) else list(v) if isinstance(v, tuple) else v
        return out


_EDGE_PUNCTUATION = re.compile(r"^[\W_]+|[\W_]+$")


def fts_match(session: Session, q: str) -> ColumnElement[bool]:
    if is_postgres(session):
        query = func.websearch_to_tsquery(literal_column(f"'{FTS_CONFIG}'::regconfig"), q)
        return Article.id.in_(
            select(ArticleSearch.article_id).where(ArticleSearch.document.op("@@")(query))
        )
    # SQLite: websearch syntax over substrings, read as PostgreSQL reads it: terms (words
    # or "quoted phrases") must all match, -term excludes, OR separates alternatives
    # ("a b OR c" = (a AND b) OR c); a term without a letter or digit is dropped as
    # PostgreSQL's parser drops it, and a query left without terms matches nothing (as
    # an empty tsquery does).
    alternatives: list[list[ColumnElement[bool]]] = [[]]
    for raw in re.findall(r'-?"[^"]+"|\S+', q):
        if raw.lower() == "or":
            if alternatives[-1]:
                alternatives.append([])
            continue
        negate = raw.startswith("-")
        word = _EDGE_PUNCTUATION.sub("", raw.lstrip("-").strip('"'))  # "(Kenya," = Kenya
        if not word:
            continue
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        # LIKE ignores the case of ASCII letters only: other words compare lower-cased.
        hit = or_(
            *(
                (column if word.isascii() else func.unicode_lower(column)).like(
                    pattern.lower(), escape="\\"
                )
                for column in (func.coalesce(Article.title, ""), Article.body)
            )
        )
        alternatives[-1].append(not_(hit) if negate else hit)
    terms = [and_(*alternative) for alternative in alternatives if alternative]
    return or_(*terms) if terms else false()


def lower_text(session: Session, column: Any, value: str) -> Any:
    """``lower(column)`` to compare with ``value.lower()``: SQLite's lower() folds ASCII
    letters only, so a value with other letters is compared with Python's lower()
    (unicode_lower, :mod:`shared.db`; no index: the column is scanned) there."""
    if value.isascii() or is_postgres(session):
        return func.lower(column)
    return func.unicode_lower(column)


def _entity_ids(session: Session, name: str, label: str | None) -> list[int]:
    stmt = select(Entity.id).where(lower_text(session, Entity.name, name) == name.lower())
    if label:
        stmt = stmt.where(Entity.label == label)
    return list(session.scalars(stmt))


def filter_clauses(
    session: Session, f: ArticleFilters, *, entity_label: bool = True
) -> list[ColumnElement[bool]] | None:
    """WHERE clauses on Article for the filters; None when nothing can match."""
    where: list[ColumnElement[bool]] = []
    for name in f.entity:
        # Resolve names to ids first: the planner then sees concrete entity ids.
        ids = _entity_ids(session, name, f.label if entity_label else None)
        if not ids:
            return None
        where.append(
            Article.id.in_(select(ArticleEntity.article_id).where(ArticleEntity.entity_id.in_(ids)))
        )
    if f.label and entity_label and not f.entity:
        where.append(
            Article.id.in_(
                select(ArticleEntity.article_id)
                .join(Entity, Entity.id == ArticleEntity.entity_id)
                .where(Entity.label == f.label)
            )
        )
    for code in f.country:
        where.append(
            Article.id.in_(select(ArticleCountry.article_id).where(ArticleCountry.code == code))
        )
    for code in f.focus_country:
        where.append(
            Article.id.in_(
                select(ArticleCountry.article_id).where(
                    ArticleCountry.code == code, ArticleCountry.focus.is_(True)
                )
            )
        )
    for region in f.region:
        where.append(
            Article.id.in_(
                select(ArticleRegion.article_id).where(
                    or_(
                        ArticleRegion.code.in_(sorted({region, region.lower().replace(" ", "-")})),
                        func.lower(ArticleRegion.name) == region.lower(),
                    )
                )
            )
        )
    if f.source:
        where.append(Article.source == f.source)
    if f.language:
        where.append(Article.language == f.language)
    if f.since:
        where.append(Article.dated_at >= f.since)
    if f.until:
        where.append(Article.dated_at < f.until)
    if f.q:
        where.append(fts_match(session, f.q))
    return where


# ---------------------------------------------------------------- cursor pagination


def _plan_for_a_page(session: Session) -> None:
    """Planner settings for one page (this transaction only): the indexes are hot, so
    random reads cost about what sequential ones do (otherwise a mid-popular entity is
    found by walking the whole date index), and a LIMIT 21 query is done before
    parallel workers would have started."""
    session.execute(
        text(
            "SELECT set_config('random_page_cost', '1.1', true), "
            "set_config('max_parallel_workers_per_gather', '0', true)"
        )
    )


def encode_cursor(article: Article, order: Order) -> str:
    raw = json.dumps([_iso(article.dated_at), article.id, order], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, order: Order) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        dated, article_id, cursor_order = json.loads(raw)
        parsed = datetime.fromisoformat(dated)
        dt = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
        if not isinstance(article_id, str) or not isinstance(cursor_order, str):
            raise TypeError("id")
    except (ValueError, TypeError, OverflowError, binascii.Error) as exc:
        raise QueryError("cursor", "not a cursor returned by this API") from exc
    if cursor_order != order:
        raise QueryError("cursor", f"was made for order={cursor_order}, not order={order}")
    return dt, article_id


@dataclass
class Page:
    articles: list[Article] = field(default_factory=list)
    next_cursor: str | None = None


def search_articles(
    session: Session,
    filters: ArticleFilters,
    *,
    limit: int = 20,
    cursor: str | None = None,
    order: Order = "desc",
) -> Page:
    """One page of articles matching the filters, newest first (or oldest with asc)."""
    if not 1 <= limit <= MAX_PAGE_SIZE * 50:
        raise QueryError("limit", f"must be between 1 and {MAX_PAGE_SIZE * 50}")
    where = filter_clauses(session, filters)
    if where is None:
        return Page()
    if is_postgres(session):
        _plan_for_a_page(session)
    stmt: Select[Any] = select(Article).where(*where)
    key = tuple_(Article.dated_at, Article.id)
    if cursor:
        dated, article_id = decode_cursor(cursor, order)
        after = tuple_(dated, article_id)
        stmt = stmt.where(key < after if order == "desc" else key > after)
    if order == "desc":
        stmt = stmt.order_by(Article.dated_at.desc(), Article.id.desc())
    else:
        stmt = stmt.order_by(Article.dated_at.asc(), Article.id.asc())
    rows = list(session.scalars(stmt.limit(limit + 1)))
    page = Page(articles=rows[:limit])
    if len(rows) > limit:
        page.next_cursor = encode_cursor(rows[limit - 1], order)
    return page


def iter_articles(
    session: Session, filters: ArticleFilters, *, order: Order = "desc", page_size: int = 500
) -> Iterator[dict[str, Any]]:
    """Every matching article as a dict, page by page (export)."""
    cursor = None
    while True:
        page = search_articles(session, filters, limit=page_size, cursor=cursor, order=order)
        yield from articles_as_dicts(session, page.articles)
        session.expunge_all()
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def count_articles(session: Session, filters: ArticleFilters) -> int:
    where = filter_clauses(session, filters)
    if where is None:
        return 0
    return int(session.scalar(select(func.count()).select_from(Article).where(*where)) or 0)


# ---------------------------------------------------------------- article dicts


def articles_as_dicts(
    session: Session, articles: list[Article], *, body: bool = True
) -> list[dict[str, Any]]:
    """Articles with all their tags, in the shape of the enriched-article message."""
    ids = [a.id for a in articles]
    ents: dict[str, list[dict[str, Any]]] = defaultdict(list)
    ctry: dict[str, list[dict[str, Any]]] = defaultdict(list)
    regs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if ids:
        # Plain column rows (no ORM identity map): a page has hundreds of tags. Mentions
        # first, then their entities by primary key (no join over the entities table).
        mentions = session.execute(
            select(
                ArticleEntity.article_id,
                ArticleEntity.entity_id,
                ArticleEntity.text,
                ArticleEntity.count,
                ArticleEntity.spans,
                ArticleEntity.in_title,
                ArticleEntity.source,
            ).where(ArticleEntity.article_id.in_(ids))
        ).all()
        entity_ids = sorted({m[1] for m in mentions})
        names: dict[int, tuple[str, str, str | None]] = {}
        for start in range(0, len(entity_ids), 1000):
            for eid, name, label, country in session.execute(
                select(Entity.id, Entity.name, Entity.label, Entity.country).where(
                    Entity.id.in_(entity_ids[start : start + 1000])
                )
            ):
                names[eid] = (name, label, country)
        for m in sorted(mentions, key=lambda m: (m[0], -m[3], names[m[1]][0])):
            name, label, country = names[m[1]]
            ents[m[0]].append(
                {
                    "text": m[2],
                    "canonical": name,
                    "label": label,
                    "count": m[3],
                    "spans": m[4],
                    "country": country,
                    "in_title": m[5],
                    "source": m[6],
                    "entity_id": m[1],
                }
            )
        for c in session.execute(
            select(
                ArticleCountry.article_id,
                ArticleCountry.code,
                ArticleCountry.name,
                ArticleCountry.mentions,
                ArticleCountry.via,
                ArticleCountry.focus,
            )
            .where(ArticleCountry.article_id.in_(ids))
            .order_by(
                ArticleCountry.article_id, ArticleCountry.mentions.desc(), ArticleCountry.code
            )
        ):
            ctry[c[0]].append(
                {"code": c[1], "name": c[2], "mentions": c[3], "via": c[4], "focus": c[5]}
            )
        for r in session.execute(
            select(
                ArticleRegion.article_id,
                ArticleRegion.code,
                ArticleRegion.name,
                ArticleRegion.scheme,
            )
            .where(ArticleRegion.article_id.in_(ids))
            .order_by(ArticleRegion.article_id, ArticleRegion.scheme, ArticleRegion.code)
        ):
            regs[r[0]].append({"code": r[1], "name": r[2], "scheme": r[3]})
    out = []
    for a in articles:
        row: dict[str, Any] = {
            "id": a.id,
            "url": a.url,
            "source": a.source,
            "title": a.title,
            "published_at": _iso(a.published_at),
            "ingested_at": _iso(a.ingested_at),
            "stored_at": _iso(a.stored_at),
            "dated_at": _iso(a.dated_at),
            "language": a.language,
            "authors": a.authors,
            "body": a.body,
            "content_hash": a.content_hash,
            "trace_id": a.trace_id,
            "entities": ents.get(a.id, []),
            "countries": ctry.get(a.id, []),
            "regions": regs.get(a.id, []),
            "enrichment": a.enrichment,
            "story_id": a.story_id,
        }
        if not body:
            del row["body"]
            row["snippet"] = _snippet(a.body)
        out.append(row)
    return out


def _snippet(body: str, chars: int = 280) -> str:
    text = " ".join(body[: chars * 2].split())
    return text if len(text) <= chars else text[:chars].rsplit(" ", 1)[0] + "…"


def get_article(session: Session, article_id: str) -> dict[str, Any] | None:
    """One article with all tags, enrichment provenance, ingest record and duplicates."""
    article = session.get(Article, article_id)
    if article is None:
        return None
    out = articles_as_dicts(session, [article])[0]
    record = session.get(IngestRecord, article_id)
    out["provenance"] = {
        "enrichment": article.enrichment,
        "tagger_version": article.tagger_version,
        "enrichment_status": article.enrichment_status,
        "enriched_at": _iso(article.enriched_at),
        "ingest": None
        if record is None
        else {
            "status": record.status,
            "origin": record.origin,
            "received_at": _iso(record.received_at),
            "stored_at": _iso(record.stored_at),
            "sends": record.sends,
            "attempts": record.attempts,
        },
    }
    dups = session.scalars(
        select(IngestRecord)
        .where(IngestRecord.duplicate_of == article_id, IngestRecord.status == DUPLICATE)
        .order_by(IngestRecord.received_at, IngestRecord.article_id)
    )
    out["duplicates"] = [
        {
            "id": d.article_id,
            "url": d.canonical_url,
            "source": d.source,
            "origin": d.origin,
            "similarity": d.similarity,
            "received_at": _iso(d.received_at),
        }
        for d in dups
    ]
    return out


def list_articles(
    session: Session,
    *,
    entity: str | list[str] | tuple[str, ...] | None = None,
    country: str | list[str] | tuple[str, ...] | None = None,
    limit: int = 20,
    **filters: Any,
) -> list[dict[str, Any]]:
    """Newest articles matching the filters (any :class:`ArticleFilters` field)."""
    f = ArticleFilters.build(entity=entity, country=country, **filters)
    page = search_articles(session, f, limit=limit)
    return articles_as_dicts(session, page.articles)


# ---------------------------------------------------------------- aggregates


def top_entities(
    session: Session, filters: ArticleFilters, *, limit: int = 20, count: str = "articles"
) -> list[dict[str, Any]]:
    """Entities by mentions in the matching articles (``filters.label`` = entity label);
    ``count="stories"``: by the stories of those articles instead (one event covered by
    forty articles counts once)."""
    where = filter_clauses(session, filters, entity_label=False)
    if where is None:
        return []
    if count == "stories":
        return _top_entities_by_story(session, where, filters.label, limit)
    mentions = func.sum(ArticleEntity.count).label("mentions")
    articles = func.count(ArticleEntity.article_id).label("articles")
    stmt = (
        select(Entity.id, Entity.name, Entity.label, Entity.country, mentions, articles)
        .join(ArticleEntity, ArticleEntity.entity_id == Entity.id)
        .join(Article, Article.id == ArticleEntity.article_id)
        .where(*where)
        .group_by(Entity.id, Entity.name, Entity.label, Entity.country)
        .order_by(mentions.desc(), articles.desc(), Entity.name)
        .limit(limit)
    )
    if filters.label:
        stmt = stmt.where(Entity.label == filters.label)
    return [_entity_counts(r) for r in session.execute(stmt)]


def _entity_counts(r: Any) -> dict[str, Any]:
    """An entity row of ``/entities``: who, and how often it is mentioned and in how many
    articles (``stories`` too when the row has it)."""
    out = {
        "id": r.id,
        "name": r.name,
        "label": r.label,
        "country": r.country,
        "mentions": int(r.mentions),
        "articles": int(r.articles),
    }
    if "stories" in r._fields:
        out["stories"] = int(r.stories)
    return out


def _plan_for_story_counts(session: Session) -> None:
    """Planner settings for a count by story (this transaction only): the matching
    articles found by index, on one core, without compiling the plan (JIT took a
    tenth of the query), with the memory to sort a week's tags once
    (``count(DISTINCT story_id)`` per group) without spilling to disk."""
    if is_postgres(session):
        _plan_for_a_page(session)
        session.execute(
            text("SELECT set_config('jit', 'off', true), set_config('work_mem', '32MB', true)")
        )


def _top_entities_by_story(
    session: Session, where: list[ColumnElement[bool]], label: str | None, limit: int
) -> list[dict[str, Any]]:
    """One aggregate per entity over the matching articles' tags: mentions, articles and
    distinct stories (``count(DISTINCT story_id)``: the tag rows sorted once by entity,
    cheaper than hashing every (entity, story) pair and then every entity). The label
    narrows the tags before they are counted.

    PostgreSQL: the tags are the arrays on the matching article rows (``entity_ids``
    with ``entity_counts``, unnested: no tag row is read), and only the best rows, ties
    included, are joined to their entities' names. SQLite: the tag rows. Side by side
    on the 100k bench database (a week: 7,600 articles, 71,600 tags), fastest of 8:
    tag rows by primary key 81 ms, unnest() in FROM 63 ms, in the select list 49 ms."""
    postgres = is_postgres(session)
    in_label: Any = select(Entity.id).where(Entity.label == label) if label else None
    story_id: Any = Article.story_id
    if postgres:
        # unnest() in the select list (ProjectSet): a third of the cost of unnest() in
        # FROM, which gathers each article's rows in a tuplestore first.
        tags: Any = (
            select(
                Article.story_id,
                func.unnest(Article.entity_ids).label("entity_id"),
                func.unnest(Article.entity_counts).label("n"),
            )
            .where(*where)
            .subquery("t")
        )
        entity_id: Any = tags.c.entity_id
        mentions: Any = tags.c.n
        story_id = tags.c.story_id
    else:
        entity_id, mentions = ArticleEntity.entity_id, ArticleEntity.count
    total = func.sum(mentions).label("mentions")
    articles = func.count().label("articles")
    stories = func.count(func.distinct(story_id)).label("stories")  # NULL not counted
    per_stmt = select(entity_id.label("entity_id"), total, articles, stories)
    if not postgres:
        per_stmt = per_stmt.join(Article, Article.id == ArticleEntity.article_id).where(*where)
    if in_label is not None:
        per_stmt = per_stmt.where(entity_id.in_(in_label))
    per_stmt = per_stmt.group_by(entity_id)
    if postgres:
        per_stmt = per_stmt.order_by(stories.desc(), total.desc(), articles.desc()).fetch(
            limit, with_ties=True
        )
    per = per_stmt.subquery("per")
    stmt = (
        select(Entity.id, Entity.name, Entity.label, Entity.country, per)
        .join(per, per.c.entity_id == Entity.id)
        .order_by(per.c.stories.desc(), per.c.mentions.desc(), per.c.articles.desc(), Entity.name)
        .limit(limit)
    )
    _plan_for_story_counts(session)
    return [_entity_counts(r) for r in session.execute(stmt)]


def _bucket_expr(session: Session, bucket: Bucket) -> Any:
    if is_postgres(session):
        return func.date_trunc(bucket, Article.dated_at, "UTC")
    formats = {
        "hour": func.strftime("%Y-%m-%dT%H:00:00", Article.dated_at),
        "day": func.strftime("%Y-%m-%dT00:00:00", Article.dated_at),
        "week": func.strftime("%Y-%m-%dT00:00:00", Article.dated_at, "-6 days", "weekday 1"),
        "month": func.strftime("%Y-%m-01T00:00:00", Article.dated_at),
    }
    return formats[bucket]


def _bucket_iso(value: Any) -> str:
    if isinstance(value, datetime):
        return _iso(value) or ""
    return _iso(datetime.fromisoformat(str(value))) or ""


def tag_counts(
    session: Session,
    kind: Literal["countries", "regions"],
    filters: ArticleFilters,
    *,
    bucket: Bucket = "day",
    limit: int = 50,
    count: str = "articles",
) -> list[dict[str, Any]]:
    """Article counts per country (or region) and time bucket, biggest totals first;
    ``count="stories"``: distinct stories instead (a story is counted in every bucket it
    has an article in, and once in the total)."""
    where = filter_clauses(session, filters)
    if where is None:
        return []
    start = _bucket_expr(session, bucket).label("bucket")
    by_story = count == "stories"
    unit = "stories" if by_story else "articles"
    keys: tuple[Any, ...]
    if kind == "countries":
        keys = (ArticleCountry.code, func.max(ArticleCountry.name).label("name"))
        group: tuple[Any, ...] = (ArticleCountry.code,)
        tag = ArticleCountry
    else:
        keys = (
            ArticleRegion.scheme,
            ArticleRegion.code,
            func.max(ArticleRegion.name).label("name"),
        )
        group = (ArticleRegion.scheme, ArticleRegion.code)
        tag = ArticleRegion  # type: ignore[assignment]
    rows: Iterable[Any]
    if by_story:
        rows = _tag_counts_by_story(session, keys, group, start, tag, where)
    else:
        rows = (
            (False, *row)
            for row in session.execute(
                select(*keys, start, func.count(Article.id))
                .join(Article, Article.id == tag.article_id)
                .where(*where)
                .group_by(*group, start)
            )
        )
    series: dict[tuple[Any, ...], dict[str, Any]] = {}
    totals: dict[tuple[Any, ...], int] = {}
    for is_total, *ident, name, when, value in rows:
        number = int(value)
        key = tuple(ident)
        if is_total:  # a story with articles in several buckets is one story in the total
            totals[key] = number
            continue
        entry = series.get(key)
        if entry is None:
            entry = series[key] = (
                {"code": ident[0], "name": name, "total": 0, "buckets": []}
                if kind == "countries"
                else {"scheme": ident[0], "code": ident[1], "name": name, "total": 0, "buckets": []}
            )
        entry["total"] += number
        entry["buckets"].append({"start": _bucket_iso(when), unit: number})
    for key, total in totals.items():
        if key in series:
            series[key]["total"] = total
    out = sorted(series.values(), key=lambda e: (-e["total"], e["code"]))[:limit]
    for entry in out:
        entry["buckets"].sort(key=lambda b: b["start"])
    return out


def _tag_counts_by_story(
    session: Session,
    keys: tuple[Any, ...],
    group: tuple[Any, ...],
    start: Any,
    tag: Any,
    where: list[ColumnElement[bool]],
) -> Iterable[Any]:
    """Distinct stories per tag and bucket, and per tag, in one statement: rows of
    (is_total, *tag, name, bucket, stories); a story with articles in several buckets
    counts in each of them and once in its tag's total.

    PostgreSQL: one pass over the matching articles (their bucket computed once per
    article) and its tags unnested from the arrays on its row (no tag row is read),
    both groupings of one sort (GROUPING SETS). SQLite: the distinct (tag,
    bucket, story) rows, then per bucket and per tag."""
    _plan_for_story_counts(session)
    if is_postgres(session):
        if tag is ArticleCountry:
            arrays: tuple[Any, ...] = (Article.country_codes, Article.country_names)
        else:
            arrays = (Article.region_schemes, Article.region_codes, Article.region_names)
        names = [c.key for c in group] + ["name"]
        # unnest() in the select list: see _top_entities_by_story.
        tags: Any = (
            select(
                Article.story_id,
                start,
                *(func.unnest(a).label(n) for a, n in zip(arrays, names, strict=True)),
            )
            .where(*where)
            .subquery("t")
        )
        ident = [tags.c[c.key] for c in group]
        return session.execute(
            select(
                func.grouping(tags.c.bucket),
                *ident,
                func.max(tags.c.name),
                tags.c.bucket,
                func.count(func.distinct(tags.c.story_id)),  # NULL: not in a story yet
            ).group_by(func.grouping_sets(tuple_(*ident, tags.c.bucket), tuple_(*ident)))
        )
    pairs = (
        select(*keys, start, Article.story_id)
        .join(Article, Article.id == tag.article_id)
        .where(*where)
        .group_by(*group, start, Article.story_id)
        .cte("pairs")
    )
    ident = [pairs.c[c.key] for c in group]
    per_bucket = select(
        literal(False).label("is_total"),
        *ident,
        func.max(pairs.c.name),
        pairs.c.bucket,
        func.count(pairs.c.story_id),  # NULL: not in a story yet
    ).group_by(*ident, pairs.c.bucket)
    per_tag = select(
        literal(True),
        *ident,
        func.max(pairs.c.name),
        func.min(pairs.c.bucket),
        func.count(func.distinct(pairs.c.story_id)),
    ).group_by(*ident)
    return session.execute(union_all(per_bucket, per_tag))


# ---------------------------------------------------------------- re-enrichment


def iter_article_payloads(
    session: Session,
    before_version: str | None = None,
    since: datetime | None = None,
    batch: int = 500,
) -> Iterator[dict[str, Any]]:
    """Stored articles as ArticlePayload-shaped dicts (no tags), for re-tagging.

    ``before_version``: only articles whose tagger_version differs from it (the ones
    tagged by another version, or never tagged); ``since``: only articles dated at or
    after it. Pages by id, so it is safe to run while the articles are re-stored.
    """
    source_country = IngestRecord.payload["source_country"].as_string()
    last_id: str | None = None
    while True:
        stmt = (
            select(Article, source_country)
            .outerjoin(IngestRecord, IngestRecord.article_id == Article.id)
            .order_by(Article.id)
            .limit(batch)
        )
        if before_version is not None:
            stmt = stmt.where(
                or_(Article.tagger_version.is_(None), Article.tagger_version != before_version)
            )
        if since is not None:
            stmt = stmt.where(Article.dated_at >= _utc(since))
        if last_id is not None:
            stmt = stmt.where(Article.id > last_id)
        rows: list[Any] = list(session.execute(stmt).all())
        for a, country in rows:
            yield {
                "id": a.id,
                "url": a.url,
                "source": a.source,
                "title": a.title,
                "published_at": _iso(a.published_at),
                "ingested_at": _iso(a.ingested_at),
                "language": a.language,
                "authors": list(a.authors or []),
                "body": a.body,
                "content_hash": a.content_hash,
                "trace_id": a.trace_id,
                "source_country": country,
            }
        if len(rows) < batch:
            return
        last_id = rows[-1][0].id
        session.expunge_all()


__all__ = [
    "ArticleFilters",
    "MAX_PAGE_SIZE",
    "Page",
    "QueryError",
    "articles_as_dicts",
    "count_articles",
    "get_article",
    "iter_article_payloads",
    "iter_articles",
    "list_articles",
    "search_articles",
    "tag_counts",
    "top_entities",
    "parse_when",
]
