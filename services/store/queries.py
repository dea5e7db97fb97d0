"""Read side: stored articles as the enriched-article dicts users see."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.store.models import Article, ArticleCountry, ArticleEntity, ArticleRegion, Entity


def _iso(dt: Any) -> str | None:
    return dt.isoformat() if dt is not None else None


def articles_as_dicts(session: Session, articles: list[Article]) -> list[dict[str, Any]]:
    """Articles with all their tags, in the shape of the enriched-article message."""
    ids = [a.id for a in articles]
    ents: dict[str, list[dict[str, Any]]] = defaultdict(list)
    ctry: dict[str, list[dict[str, Any]]] = defaultdict(list)
    regs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if ids:
        rows = session.execute(
            select(ArticleEntity, Entity)
            .join(Entity, Entity.id == ArticleEntity.entity_id)
            .where(ArticleEntity.article_id.in_(ids))
            .order_by(ArticleEntity.article_id, ArticleEntity.count.desc(), Entity.name)
        )
        for m, e in rows:
            ents[m.article_id].append(
                {
                    "text": m.text,
                    "canonical": e.name,
                    "label": e.label,
                    "count": m.count,
                    "spans": m.spans,
                    "country": e.country,
                    "in_title": m.in_title,
                    "source": m.source,
                }
            )
        for c in session.scalars(
            select(ArticleCountry)
            .where(ArticleCountry.article_id.in_(ids))
            .order_by(ArticleCountry.article_id, ArticleCountry.mentions.desc())
        ):
            ctry[c.article_id].append(
                {"code": c.code, "name": c.name, "mentions": c.mentions, "via": c.via,
                 "focus": c.focus}
            )
        for r in session.scalars(
            select(ArticleRegion)
            .where(ArticleRegion.article_id.in_(ids))
            .order_by(ArticleRegion.article_id, ArticleRegion.scheme, ArticleRegion.code)
        ):
            regs[r.article_id].append({"code": r.code, "name": r.name, "scheme": r.scheme})
    out = []
    for a in articles:
        out.append(
            {
                "id": a.id,
                "url": a.url,
                "source": a.source,
                "title": a.title,
                "published_at": _iso(a.published_at),
                "ingested_at": _iso(a.ingested_at),
                "stored_at": _iso(a.stored_at),
                "language": a.language,
                "authors": a.authors,
                "body": a.body,
                "content_hash": a.content_hash,
                "trace_id": a.trace_id,
                "entities": ents.get(a.id, []),
                "countries": ctry.get(a.id, []),
                "regions": regs.get(a.id, []),
                "enrichment": a.enrichment,
            }
        )
    return out


def list_articles(
    session: Session,
    *,
    entity: str | None = None,
    country: str | None = None,
    limit: int = 20,
) -> list[dict[str, Any]]:
    stmt = select(Article)
    if entity:
        sub = (
            select(ArticleEntity.article_id)
            .join(Entity, Entity.id == ArticleEntity.entity_id)
            .where(Entity.name.ilike(entity) | ArticleEntity.text.ilike(entity))
        )
        stmt = stmt.where(Article.id.in_(sub))
    if country:
        stmt = stmt.where(
            Article.id.in_(
                select(ArticleCountry.article_id).where(ArticleCountry.code == country.upper())
            )
        )
    stmt = stmt.order_by(
        Article.published_at.desc().nulls_last(), Article.id.desc()
    ).limit(limit)
    return articles_as_dicts(session, list(session.scalars(stmt)))
