"""Idempotent batch upserts: redelivery, replay and re-enrichment never duplicate a row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.store.models import Article, ArticleCountry, ArticleEntity, ArticleRegion, Entity
from shared.models import STORED, IngestRecord
from shared.schemas import EnrichedArticle, utcnow


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def _article_row(a: EnrichedArticle) -> dict[str, Any]:
    enrichment = a.enrichment.model_dump(mode="json")
    return {
        "id": a.id,
        "url": a.url,
        "source": a.source,
        "title": a.title,
        "body": a.body.replace("\x00", ""),
        "published_at": a.published_at,
        "ingested_at": a.ingested_at,
        "stored_at": utcnow(),
        "language": a.language,
        "authors": list(a.authors),
        "content_hash": a.content_hash,
        "trace_id": a.trace_id,
        "enrichment_status": a.enrichment.status,
        "tagger_version": a.enrichment.tagger_version,
        "enrichment": enrichment,
        "enriched_at": a.enrichment.enriched_at,
    }


def upsert_articles(session: Session, articles: Sequence[EnrichedArticle]) -> int:
    """Write a batch in the caller's transaction; returns how many were already stored."""
    if not articles:
        return 0
    # Last copy wins inside a batch; sorted keys keep concurrent writers deadlock-free.
    by_id = {a.id: a for a in articles}
    ids = sorted(by_id)
    batch = [by_id[i] for i in ids]
    existing = set(session.scalars(select(Article.id).where(Article.id.in_(ids))))

    rows = [_article_row(a) for a in batch]
    stmt = _insert(session, Article.__table__).values(rows)
    keep = {"id", "stored_at"}
    stmt = stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={c: stmt.excluded[c] for c in rows[0] if c not in keep},
    )
    session.execute(stmt)

    # Entities: one row per (name, label), shared by all articles.
    keys = sorted(
        {(e.canonical or e.text, e.label): e.country for a in batch for e in a.entities}.items()
    )
    entity_ids: dict[tuple[str, str], int] = {}
    if keys:
        ins = _insert(session, Entity.__table__).values(
            [{"name": n[:300], "label": lab, "country": c} for (n, lab), c in keys]
        )
        session.execute(ins.on_conflict_do_nothing(index_elements=["name", "label"]))
        wanted = [(n[:300], lab) for (n, lab), _ in keys]
        for chunk_start in range(0, len(wanted), 500):
            chunk = wanted[chunk_start : chunk_start + 500]
            for eid, name, label in session.execute(
                select(Entity.id, Entity.name, Entity.label).where(
                    tuple_(Entity.name, Entity.label).in_(chunk)
                )
            ):
                entity_ids[(name, label)] = eid

    # Tags are replaced as a whole: re-enrichment never leaves stale ones behind.
    for model in (ArticleEntity, ArticleCountry, ArticleRegion):
        session.execute(delete(model).where(model.article_id.in_(ids)))

    mention_rows: dict[tuple[str, int], dict[str, Any]] = {}
    country_rows, region_rows = [], []
    for a in batch:
        for e in a.entities:
            eid = entity_ids[((e.canonical or e.text)[:300], e.label)]
            key = (a.id, eid)
            if key in mention_rows:  # two surface forms of one canonical entity
                row = mention_rows[key]
                row["count"] += e.count
                row["spans"] = sorted(row["spans"] + [list(s) for s in e.spans])
                row["in_title"] = row["in_title"] or e.in_title
                continue
            mention_rows[key] = {
                "article_id": a.id,
                "entity_id": eid,
                "text": e.text[:300],
                "count": e.count,
                "spans": [list(s) for s in e.spans],
                "in_title": e.in_title,
                "source": e.source,
            }
        seen_c = set()
        for c in a.countries:
            if c.code in seen_c:
                continue
            seen_c.add(c.code)
            country_rows.append(
                {
                    "article_id": a.id,
                    "code": c.code,
                    "name": c.name,
                    "mentions": c.mentions,
                    "via": list(c.via),
                    "focus": c.focus,
                }
            )
        seen_r = set()
        for r in a.regions:
            if (r.scheme, r.code) in seen_r:
                continue
            seen_r.add((r.scheme, r.code))
            region_rows.append(
                {"article_id": a.id, "scheme": r.scheme, "code": r.code, "name": r.name}
            )
    for model, tag_rows in (
        (ArticleEntity, list(mention_rows.values())),
        (ArticleCountry, country_rows),
        (ArticleRegion, region_rows),
    ):
        if tag_rows:
            session.execute(_insert(session, model.__table__).values(tag_rows))

    session.execute(
        update(IngestRecord)
        .where(IngestRecord.article_id.in_(ids))
        .values(status=STORED, stored_at=utcnow())
    )
    return len(existing)
