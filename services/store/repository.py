"""Idempotent batch upserts: redelivery, replay and re-enrichment never duplicate a row.

One call writes a whole batch in the caller's transaction:

1. articles: ``INSERT ... ON CONFLICT (id) DO UPDATE ... WHERE`` the incoming enrichment
   is not older than the stored one (a late redelivery of an old message never rolls
   tags back); ``RETURNING`` tells which articles were written;
2. tags of the written articles are replaced as a whole (delete, then insert), so a
   re-enrichment leaves no stale tag and a redelivery no duplicate;
3. entities are shared rows, created with ``ON CONFLICT DO NOTHING`` in sorted order
   (concurrent writers with overlapping entities neither fail nor deadlock); a copy
   already stale (older than the stored enrichment) creates none;
4. the ingest records of the batch are marked "stored";
5. on PostgreSQL the written articles are queued in ``search_pending``; their full-text
   documents are built by :func:`index_search` in a transaction of their own (see
   ``models.py`` for why);
6. on PostgreSQL each written article row also carries its tags as arrays (entity ids
   and mentions, countries, regions: ``models.Article``), written with the article on
   the COPY path (the batch's entities are created before the articles for that), from
   the tag rows on the VALUES path; a stale copy changes neither;
7. on the COPY path, with ``place`` (the store step: ``stories.place_batch``), the
   batch's new articles are placed into stories first and each is inserted with its
   story id, so the row is written once.

PostgreSQL loads rows with ``COPY`` into session-local temp tables and upserts from
there (several times faster than multi-row ``VALUES``); SQLite uses chunked
multi-row inserts.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import delete, func, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.store.models import (
    FTS_DOCUMENT_SQL,
    Article,
    ArticleCountry,
    ArticleEntity,
    ArticleRegion,
    Entity,
    SearchPending,
)
from shared.db import is_postgres
from shared.logging import get_logger
from shared.models import STORED, IngestRecord
from shared.schemas import EnrichedArticle, utcnow

log = get_logger(__name__)

ARTICLE_COLUMNS = (
    "id",
    "url",
    "source",
    "title",
    "body",
    "published_at",
    "ingested_at",
    "dated_at",
    "stored_at",
    "language",
    "authors",
    "content_hash",
    "trace_id",
    "enrichment_status",
    "tagger_version",
    "enrichment",
    "enriched_at",
)
JSON_ARTICLE_COLUMNS = {"authors", "enrichment"}
# Never overwritten by a later copy of the same article.
KEEP_ON_UPDATE = {"id", "stored_at"}
SQLITE_CHUNK_ROWS = 400  # keeps every statement far below SQLite's bound-parameter limit


@dataclass
class UpsertResult:
    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    # Already stored with a newer enrichment: left as they are.
    stale: list[str] = field(default_factory=list)
    mentions: int = 0
    # The story of each article placed before the write (``place``); None when no
    # placement ran, and the caller clusters what was written afterwards.
    placed: dict[str, int] | None = None

    @property
    def written(self) -> list[str]:
        return sorted(self.inserted + self.updated)


def _clean(value: str | None, limit: int | None = None) -> str | None:
    """PostgreSQL refuses NUL bytes in text; columns have length limits."""
    if value is None:
        return None
    if "\x00" in value:
        value = value.replace("\x00", "")
    return value[:limit] if limit and len(value) > limit else value


def _article_row(a: EnrichedArticle, now: datetime) -> dict[str, Any]:
    return {
        "id": a.id,
        "url": _clean(a.url),
        "source": _clean(a.source, 300),
        "title": _clean(a.title),
        "body": _clean(a.body) or "",
        "published_at": a.published_at,
        "ingested_at": a.ingested_at,
        "dated_at": a.published_at or a.ingested_at,
        "stored_at": now,
        "language": _clean(a.language, 16),
        "authors": [_clean(x) for x in a.authors],
        "content_hash": a.content_hash,
        "trace_id": a.trace_id,
        "enrichment_status": _clean(a.enrichment.status, 32),
        "tagger_version": _clean(a.enrichment.tagger_version, 32),
        "enrichment": a.enrichment.model_dump(mode="json"),
        "enriched_at": a.enrichment.enriched_at,
    }


MENTION_COLUMNS = (
    "article_id",
    "name",
    "label",
    "country",
    "text",
    "count",
    "spans",
    "in_title",
    "source",
)
COUNTRY_COLUMNS = ("article_id", "code", "name", "mentions", "via", "focus")
REGION_COLUMNS = ("article_id", "scheme", "code", "name")


def _tag_rows(
    batch: Iterable[EnrichedArticle],
) -> tuple[list[list[Any]], list[list[Any]], list[list[Any]]]:
    """Mention rows (one per article and entity name+label), country rows and region
    rows, as lists in the order of MENTION_COLUMNS, COUNTRY_COLUMNS, REGION_COLUMNS.

    This runs for every row of every batch, so it is written for speed: plain lists,
    one dict lookup per mention."""
    mentions: list[list[Any]] = []
    countries: list[list[Any]] = []
    regions: list[list[Any]] = []
    for a in batch:
        aid = a.id
        seen: dict[tuple[str, str], list[Any]] = {}
        for e in a.entities:
            name = _clean(e.canonical or e.text, 300) or ""
            label = _clean(e.label, 20) or ""
            if not label or not name.strip():
                continue
            row = seen.get((name, label))
            if row is not None:  # two surface forms of one canonical entity
                row[5] += e.count
                row[6] = sorted(row[6] + list(e.spans))
                row[7] = row[7] or e.in_title
                continue
            country = e.country.upper() if e.country else None
            row = [
                aid,
                name,
                label,
                country if country and len(country) == 2 else None,
                _clean(e.text, 300) or name,
                e.count,
                list(e.spans),
                e.in_title,
                _clean(e.source, 20),
            ]
            seen[(name, label)] = row
            mentions.append(row)
        seen_c: set[str] = set()
        for c in a.countries:
            code = c.code.upper()
            if len(code) != 2 or code in seen_c:
                continue
            seen_c.add(code)
            countries.append([aid, code, _clean(c.name, 100) or code, c.mentions, c.via, c.focus])
        seen_r: set[tuple[str, str]] = set()
        for r in a.regions:
            key_r = (_clean(r.scheme, 16) or "", _clean(r.code, 64) or "")
            if not key_r[1] or key_r in seen_r:
                continue
            seen_r.add(key_r)
            regions.append([aid, key_r[0], key_r[1], _clean(r.name, 100) or key_r[1]])
    return mentions, countries, regions


def _prepare(articles: Sequence[EnrichedArticle]) -> list[EnrichedArticle]:
    """One copy per id (the newest enrichment wins), sorted by id: concurrent writers
    lock rows in the same order and cannot deadlock."""
    by_id: dict[str, EnrichedArticle] = {}
    for a in articles:
        old = by_id.get(a.id)
        if old is None or a.enrichment.enriched_at >= old.enrichment.enriched_at:
            by_id[a.id] = a
    return [by_id[i] for i in sorted(by_id)]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a batch's rows are built.

    A batch of 1000 articles allocates some 50,000 short-lived lists; in a process
    holding a large heap (its batch, the tagger, the ORM), those allocations set off
    full collections that took three quarters of the Python time of a batch
    (bench/store.py), for garbage that reference counting frees anyway: the rows
    hold no cycles. Collection resumes when the batch is written."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


Place = Callable[[Session, list[EnrichedArticle]], dict[str, int] | None]


def upsert_batch(
    session: Session,
    articles: Sequence[EnrichedArticle],
    *,
    method: str | None = None,
    place: Place | None = None,
) -> UpsertResult:
    """Write a batch in the caller's transaction; see the module docstring.

    ``method``: "copy" (PostgreSQL only, the default there) or "values" (multi-row
    ``INSERT ... VALUES ... ON CONFLICT``, the default elsewhere; the bench compares both).
    ``place`` (the COPY path): called with the batch before anything is written; it
    returns the story id of each article it placed (written with the article, in its
    own INSERT; an article already in a story keeps it) or None, and is then told
    nothing more: what it wrote is part of this transaction.
    """
    if not articles:
        return UpsertResult()
    batch = _prepare(articles)
    postgres = is_postgres(session)
    if (method or ("copy" if postgres else "values")) == "copy":
        if not postgres:
            raise ValueError("the COPY path needs PostgreSQL")
        with _collector_paused():
            result = _upsert_postgres(session, batch, place)
    else:
        result = _upsert_values(session, batch)
    session.execute(
        update(IngestRecord)
        .where(IngestRecord.article_id.in_([a.id for a in batch]))
        .values(status=STORED, stored_at=utcnow(), last_error=None)
    )
    if result.stale:
        log.info("stale_enrichment_ignored", articles=len(result.stale), ids=result.stale[:20])
    return result


def upsert_articles(session: Session, articles: Sequence[EnrichedArticle]) -> int:
    """Write a batch in the caller's transaction; returns how many were already stored."""
    result = upsert_batch(session, articles)
    return len(result.updated) + len(result.stale)


# ---------------------------------------------------------------- PostgreSQL: COPY


_PG_TEMP_TABLES = (
    "CREATE TEMP TABLE IF NOT EXISTS _nw_articles "
    "(LIKE articles INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS _nw_mentions (article_id varchar(64), name varchar(300), "
    "label varchar(20), country varchar(2), text varchar(300), count integer, spans jsonb, "
    "in_title boolean, source varchar(20)) ON COMMIT DELETE ROWS",
    # The mentions with their entity ids, resolved once for the article rows' entity
    # arrays and the article_entities rows.
    "CREATE TEMP TABLE IF NOT EXISTS _nw_tagged (article_id varchar(64), entity_id integer, "
    "text varchar(300), count integer, spans jsonb, in_title boolean, source varchar(20)) "
    "ON COMMIT DELETE ROWS",
)


def _copy(cur: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    cols = ", ".join(f'"{c}"' for c in columns)
    with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)


def _jsonify(row: dict[str, Any], columns: Sequence[str], json_cols: set[str]) -> list[Any]:
    return [json.dumps(row[c], ensure_ascii=False) if c in json_cols else row[c] for c in columns]


def _spans_json(spans: list[Any]) -> str:
    """``[[start, end], ...]`` as JSON (integers only: validated by the schema)."""
    return "[" + ",".join(f"[{int(s[0])},{int(s[1])}]" for s in spans) + "]"


@contextmanager
def _cursor(session: Session) -> Iterator[Any]:
    """A psycopg cursor on the session's connection, in its transaction (for COPY and
    the statements written in plain SQL)."""
    dbapi = session.connection().connection.driver_connection
    assert dbapi is not None
    with dbapi.cursor() as cur:
        yield cur


# The article's country and region arrays (models.Article), written with the article;
# its entity arrays are built in SQL from the batch's mentions once entity ids exist.
PLACE_ARRAY_COLUMNS = (
    "country_codes",
    "country_names",
    "region_schemes",
    "region_codes",
    "region_names",
)
ENTITY_ARRAY_COLUMNS = ("entity_ids", "entity_counts")
# What the COPY path loads into _nw_articles and inserts from there.
COPIED_COLUMNS = (*ARTICLE_COLUMNS, *PLACE_ARRAY_COLUMNS, "story_id")


def _array_literal(items: Sequence[str], cache: dict[tuple[str, ...], str]) -> str:
    """A text array as PostgreSQL's literal (``{"LB","TR"}``): given to COPY as text, a
    fifth of the cost of psycopg's list dumper, and the same lists recur."""
    key = tuple(items)
    literal = cache.get(key)
    if literal is None:
        quoted = ('"' + x.replace("\\", "\\\\").replace('"', '\\"') + '"' for x in key)
        literal = cache[key] = "{" + ",".join(quoted) + "}"
    return literal


def _place_arrays(countries: list[list[Any]], regions: list[list[Any]]) -> dict[str, list[str]]:
    """Per article id, the literals of its country codes and names, region schemes,
    codes and names (parallel arrays, in tag-row order), from :func:`_tag_rows`'s rows."""
    lists: dict[str, tuple[list[str], ...]] = {}
    for c in countries:
        arrays = lists.get(c[0]) or lists.setdefault(c[0], ([], [], [], [], []))
        arrays[0].append(c[1])
        arrays[1].append(c[2])
    for r in regions:
        arrays = lists.get(r[0]) or lists.setdefault(r[0], ([], [], [], [], []))
        arrays[2].append(r[1])
        arrays[3].append(r[2])
        arrays[4].append(r[3])
    cache: dict[tuple[str, ...], str] = {}
    return {aid: [_array_literal(a, cache) for a in arrays] for aid, arrays in lists.items()}


def _upsert_postgres(
    session: Session, batch: list[EnrichedArticle], place: Place | None = None
) -> UpsertResult:
    """The batch through temp tables: the stories of its articles first (``place``),
    then its mentions' entities (so the article rows carry their story and entity ids,
    written in the same statement as the article), then the articles, then the tags of
    the articles written."""
    now = utcnow()
    result = UpsertResult()
    mentions, countries, regions = _tag_rows(batch)
    places = _place_arrays(countries, regions)
    empty = ["{}"] * len(PLACE_ARRAY_COLUMNS)
    with _cursor(session) as cur:
        for ddl in _PG_TEMP_TABLES:
            cur.execute(ddl)
        cur.execute("DELETE FROM _nw_articles")
        cur.execute("DELETE FROM _nw_mentions")
        cur.execute("DELETE FROM _nw_tagged")
        if place is not None:  # before any row is written (the lock comes first)
            result.placed = place(session, batch)
        stories = result.placed or {}
        _copy(
            cur,
            "_nw_articles",
            COPIED_COLUMNS,
            (
                _jsonify(_article_row(a, now), ARTICLE_COLUMNS, JSON_ARTICLE_COLUMNS)
                + places.get(a.id, empty)
                + [stories.get(a.id)]
                for a in batch
            ),
        )
        if mentions:
            for m in mentions:
                m[6] = _spans_json(m[6])
            _copy(cur, "_nw_mentions", MENTION_COLUMNS, mentions)
            # A stale copy's mentions go before any entity is created: its old tags
            # would otherwise create entities no article names. The condition is the
            # articles upsert's WHERE negated (a comparison with NULL is not true, so a
            # NULL enriched_at on either side keeps the mentions). The stored enriched_at
            # only ever grows, so an article stale here is stale at the upsert too; one
            # that a concurrent writer makes stale in between keeps its mentions here
            # and loses its tag rows after the upsert (its entities may then remain).
            # The stored rows are read by primary key (OFFSET 0: planned on their own):
            # joined to the temp table, which has no statistics, the planner scanned
            # the whole articles table (14 ms a batch at 30,000 articles).
            cur.execute(
                "DELETE FROM _nw_mentions WHERE article_id IN (SELECT n.id "
                "FROM _nw_articles n JOIN (SELECT id, enriched_at FROM articles "
                "WHERE id = ANY(%s) OFFSET 0) a ON a.id = n.id "
                "WHERE n.enriched_at < a.enriched_at)",
                ([a.id for a in batch],),
            )
            cur.execute(
                "INSERT INTO entities (name, label, country) "
                "SELECT DISTINCT ON (name, label) name, label, country FROM _nw_mentions "
                "ORDER BY name, label, country NULLS LAST "
                "ON CONFLICT (name, label) DO NOTHING"
            )
            cur.execute(
                "INSERT INTO _nw_tagged "
                "SELECT m.article_id, e.id, m.text, m.count, m.spans, m.in_title, m.source "
                "FROM _nw_mentions m JOIN entities e ON e.name = m.name AND e.label = m.label"
            )
        cols = ", ".join(COPIED_COLUMNS)
        n_cols = ", ".join(f"n.{c}" for c in COPIED_COLUMNS)
        # A stored article keeps its story (a redelivery is not placed again).
        sets = ", ".join(
            [
                f"{c} = EXCLUDED.{c}"
                for c in ARTICLE_COLUMNS + PLACE_ARRAY_COLUMNS + ENTITY_ARRAY_COLUMNS
                if c not in KEEP_ON_UPDATE
            ]
            + ["story_id = coalesce(articles.story_id, EXCLUDED.story_id)"]
        )
        cur.execute(
            f"INSERT INTO articles ({cols}, entity_ids, entity_counts) "
            f"SELECT {n_cols}, coalesce(t.ids, '{{}}'), coalesce(t.counts, '{{}}') "
            "FROM _nw_articles n LEFT JOIN ("
            "SELECT article_id, array_agg(entity_id ORDER BY entity_id) AS ids, "
            "array_agg(count ORDER BY entity_id) AS counts FROM _nw_tagged GROUP BY article_id"
            ") t ON t.article_id = n.id ORDER BY n.id "
            f"ON CONFLICT (id) DO UPDATE SET {sets} "
            "WHERE articles.enriched_at IS NULL OR EXCLUDED.enriched_at IS NULL "
            "OR EXCLUDED.enriched_at >= articles.enriched_at "
            "RETURNING id, (xmax = 0) AS inserted"
        )
        for article_id, inserted in cur.fetchall():
            (result.inserted if inserted else result.updated).append(article_id)
        written = set(result.inserted) | set(result.updated)
        result.stale = [a.id for a in batch if a.id not in written]
        if not written:
            return result
        _queue_search(cur, sorted(written))
        if result.updated:
            ids = sorted(result.updated)
            for table in ("article_entities", "article_countries", "article_regions"):
                cur.execute(f"DELETE FROM {table} WHERE article_id = ANY(%s)", (ids,))  # noqa: S608
        if result.stale:
            stale = set(result.stale)
            mentions = [m for m in mentions if m[0] not in stale]
            countries = [c for c in countries if c[0] not in stale]
            regions = [r for r in regions if r[0] not in stale]
            cur.execute("DELETE FROM _nw_tagged WHERE article_id = ANY(%s)", (result.stale,))
        result.mentions = len(mentions)
        if mentions:
            cur.execute(
                "INSERT INTO article_entities "
                "(article_id, entity_id, text, count, spans, in_title, source) "
                "SELECT * FROM _nw_tagged"
            )
        if countries:
            via_json: dict[tuple[str, ...], str] = {}
            for c in countries:
                key = tuple(c[4])
                c[4] = via_json.get(key) or via_json.setdefault(key, json.dumps(list(key)))
            _copy(cur, "article_countries", COUNTRY_COLUMNS, countries)
        if regions:
            _copy(cur, "article_regions", REGION_COLUMNS, regions)
    return result


# The tag arrays of written articles from their tag rows (the "values" path on
# PostgreSQL; the same arrays as migration 0008's backfill).
_ARRAYS_FROM_TAG_ROWS = (
    "UPDATE articles a SET "
    "(entity_ids, entity_counts) = (SELECT coalesce(array_agg(entity_id ORDER BY entity_id), "
    "'{}'), coalesce(array_agg(count ORDER BY entity_id), '{}') "
    "FROM article_entities WHERE article_id = a.id), "
    "(country_codes, country_names) = (SELECT coalesce(array_agg(code), '{}'), "
    "coalesce(array_agg(name), '{}') FROM article_countries WHERE article_id = a.id), "
    "(region_schemes, region_codes, region_names) = (SELECT coalesce(array_agg(scheme), '{}'), "
    "coalesce(array_agg(code), '{}'), coalesce(array_agg(name), '{}') "
    "FROM article_regions WHERE article_id = a.id) "
    "WHERE a.id = ANY(%s)"
)


# ---------------------------------------------------------------- full-text documents


def _queue_search(cur: Any, ids: list[str]) -> None:
    """Queue written articles for their search document, in the write's transaction.

    ``DO UPDATE`` (not ``DO NOTHING``) locks an already queued row until this write
    commits, so an indexer running meanwhile skips it (``SKIP LOCKED``) instead of
    indexing the version this transaction is replacing."""
    cur.execute(
        "INSERT INTO search_pending (article_id, queued_at) "
        "SELECT id, now() FROM unnest(%s::text[]) AS t(id) ORDER BY id "
        "ON CONFLICT (article_id) DO UPDATE SET queued_at = EXCLUDED.queued_at",
        (ids,),
    )


def index_search(session: Session, ids: Sequence[str] | None = None, limit: int = 1000) -> int:
    """Build the search documents of queued articles, in the caller's transaction.

    ``ids``: only these (the store task indexes what it has just written); otherwise
    up to ``limit`` queued articles in id order (the sweep). Rows another
    transaction holds are skipped: that writer or indexer will see to them. Two
    statements on purpose: the documents are built from a snapshot taken after the
    queue rows were claimed, so a write that committed before the claim is always the
    one indexed. Returns how many documents were built (0 on SQLite, which searches
    the articles directly)."""
    if not is_postgres(session):
        return 0
    params: tuple[Any, ...]
    if ids is None:
        only, params = "", (limit,)
    else:
        only, params = "WHERE article_id = ANY(%s) ", (sorted(ids), len(ids))
    with _cursor(session) as cur:
        cur.execute(
            "DELETE FROM search_pending WHERE article_id IN (SELECT article_id "
            f"FROM search_pending {only}ORDER BY article_id LIMIT %s FOR UPDATE SKIP LOCKED) "
            "RETURNING article_id",
            params,
        )
        claimed = sorted(r[0] for r in cur.fetchall())
        if not claimed:
            return 0
        if _build_documents(cur, claimed, "nw_search"):
            return len(claimed)
        # One article's document failed the whole batch: build them one by one, so
        # that article stays queued (and logged on every try) and the rest are done.
        failed = [aid for aid in claimed if not _build_documents(cur, [aid], "nw_search_one")]
        for aid in failed:
            log.error("search_document_failed", article_id=aid)
        _queue_search(cur, failed)
    return len(claimed) - len(failed)


def _build_documents(cur: Any, ids: list[str], savepoint: str) -> bool:
    """Build these articles' search documents inside a savepoint; False (and nothing
    written) when PostgreSQL refuses one of them, e.g. a document over tsvector's 1 MB."""
    cur.execute(f"SAVEPOINT {savepoint}")
    try:
        cur.execute(
            "INSERT INTO article_search (article_id, document, indexed_at) "
            f"SELECT id, {FTS_DOCUMENT_SQL}, now() FROM articles "  # noqa: S608
            "WHERE id = ANY(%s) ORDER BY id "
            "ON CONFLICT (article_id) DO UPDATE "
            "SET document = EXCLUDED.document, indexed_at = EXCLUDED.indexed_at",
            (ids,),
        )
    except psycopg.Error as exc:
        cur.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
        log.warning("search_documents_refused", articles=len(ids), error=str(exc)[:300])
        return False
    cur.execute(f"RELEASE SAVEPOINT {savepoint}")
    return True


def queue_all_for_search(session: Session) -> None:
    """Queue every stored article for a new search document (PostgreSQL)."""
    with _cursor(session) as cur:
        cur.execute(
            "INSERT INTO search_pending (article_id, queued_at) "
            "SELECT id, now() FROM articles ON CONFLICT (article_id) DO NOTHING"
        )


def search_backlog(session: Session) -> int:
    """Articles written but not yet searchable (always 0 on SQLite)."""
    return int(session.scalar(select(func.count()).select_from(SearchPending)) or 0)


# ---------------------------------------------------------------- multi-row VALUES (SQLite)


def _chunks(rows: list[dict[str, Any]], size: int = SQLITE_CHUNK_ROWS) -> Iterable[list[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _insert(session: Session, table: Any) -> Any:
    if is_postgres(session):
        return postgresql.insert(table)
    return sqlite.insert(table)


def _upsert_values(session: Session, batch: list[EnrichedArticle]) -> UpsertResult:
    now = utcnow()
    ids = [a.id for a in batch]
    existing = set(session.scalars(select(Article.id).where(Article.id.in_(ids))))
    result = UpsertResult()
    table = Article.__table__
    written: set[str] = set()
    for chunk in _chunks([_article_row(a, now) for a in batch], 50):
        stmt = _insert(session, table).values(chunk)
        stmt = stmt.on_conflict_do_update(
            index_elements=["id"],
            set_={c: stmt.excluded[c] for c in ARTICLE_COLUMNS if c not in KEEP_ON_UPDATE},
            where=or_(
                table.c.enriched_at.is_(None),
                stmt.excluded.enriched_at.is_(None),
                stmt.excluded.enriched_at >= table.c.enriched_at,
            ),
        ).returning(table.c.id)
        written.update(session.scalars(stmt))
    for a in batch:
        if a.id not in written:
            result.stale.append(a.id)
        elif a.id in existing:
            result.updated.append(a.id)
        else:
            result.inserted.append(a.id)
    if not written:
        return result
    if is_postgres(session):
        with _cursor(session) as cur:
            _queue_search(cur, sorted(written))
    if result.updated:
        for model in (ArticleEntity, ArticleCountry, ArticleRegion):
            session.execute(delete(model).where(model.article_id.in_(sorted(result.updated))))
    mention_rows, country_rows, region_rows = _tag_rows(a for a in batch if a.id in written)
    mentions = [dict(zip(MENTION_COLUMNS, m, strict=True)) for m in mention_rows]
    countries = [dict(zip(COUNTRY_COLUMNS, c, strict=True)) for c in country_rows]
    regions = [dict(zip(REGION_COLUMNS, r, strict=True)) for r in region_rows]
    result.mentions = len(mentions)
    if mentions:
        keys = sorted({(m["name"], m["label"]): m["country"] for m in mentions}.items())
        entity_rows = [{"name": n, "label": lab, "country": c} for (n, lab), c in keys]
        for chunk in _chunks(entity_rows):
            ins = _insert(session, Entity.__table__).values(chunk)
            session.execute(ins.on_conflict_do_nothing(index_elements=["name", "label"]))
        entity_ids: dict[tuple[str, str], int] = {}
        wanted = [k for k, _ in keys]
        for start in range(0, len(wanted), SQLITE_CHUNK_ROWS):
            part = wanted[start : start + SQLITE_CHUNK_ROWS]
            for eid, name, label in session.execute(
                select(Entity.id, Entity.name, Entity.label).where(
                    tuple_(Entity.name, Entity.label).in_(part)
                )
            ):
                entity_ids[(name, label)] = eid
        rows = [
            {
                "article_id": m["article_id"],
                "entity_id": entity_ids[(m["name"], m["label"])],
                "text": m["text"],
                "count": m["count"],
                "spans": m["spans"],
                "in_title": m["in_title"],
                "source": m["source"],
            }
            for m in mentions
        ]
        for chunk in _chunks(rows):
            session.execute(_insert(session, ArticleEntity.__table__).values(chunk))
    for model, tag_rows in ((ArticleCountry, countries), (ArticleRegion, regions)):
        for chunk in _chunks(tag_rows):
            session.execute(_insert(session, model.__table__).values(chunk))
    if is_postgres(session):
        with _cursor(session) as cur:
            cur.execute(_ARRAYS_FROM_TAG_ROWS, (sorted(written),))
    return result
