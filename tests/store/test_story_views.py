"""The story views against straightforward references computed in Python from the stored
rows: counts by story (``/entities``, ``/countries``, ``/regions`` with
``count=stories``) and the ``/stories`` listing with its sorts, filters and cursors, on
PostgreSQL and SQLite (the fast queries must answer exactly what the plain ones do)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.store import queries
from services.store.models import (
    Article,
    ArticleCountry,
    ArticleEntity,
    ArticleRegion,
    Entity,
    Story,
)
from services.store.repository import index_search, upsert_batch
from services.store.stories import entity_key
from services.store.story_queries import StoryFilters, region_keys, story_dict
from shared import db
from testkit.api import make_client
from testkit.databases import migrated_database
from testkit.story_corpus import StoryArticle, build_story_corpus
from tests.store.helpers import write

UNCLUSTERED = 12  # the last articles are stored without their clustering step


@pytest.fixture(scope="module")
def corpus() -> list[StoryArticle]:
    return build_story_corpus(seed=13, events=60, days=12)


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def url(
    request: pytest.FixtureRequest,
    corpus: list[StoryArticle],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """A few hundred articles in stories, and a few not yet in one (story_id NULL)."""
    directory = tmp_path_factory.mktemp("story_views")
    with migrated_database(request.param, "nw_story_views", directory) as url:
        articles = [a.article() for a in corpus]
        write(url, articles[:-UNCLUSTERED], batch=20)
        with db.session_scope(url) as session:
            result = upsert_batch(session, articles[-UNCLUSTERED:])
        with db.session_scope(url) as session:
            index_search(session, result.written)
        yield url


def test_the_corpus_has_stories_shared_tags_and_articles_without_a_story(url: str):
    with db.session_scope(url) as session:
        n, no_story, stories = session.execute(
            sa.text(
                "SELECT count(*), count(*) - count(story_id), count(DISTINCT story_id) "
                "FROM articles"
            )
        ).one()
    assert n > 250 and no_story == UNCLUSTERED and 30 < stories < n


# ---------------------------------------------------------------- references


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def matching(session: Session, f: queries.ArticleFilters, *, entity_label: bool) -> dict[str, Any]:
    """Article id -> (story id, date) of the articles the filters match."""
    where = queries.filter_clauses(session, f, entity_label=entity_label)
    if where is None:
        return {}
    rows = session.execute(select_matching().where(*where)).all()
    return {aid: (sid, _utc(dated)) for aid, sid, dated in rows}


def select_matching() -> Any:
    return sa.select(Article.id, Article.story_id, Article.dated_at)


def reference_entities(
    session: Session, f: queries.ArticleFilters, limit: int
) -> list[dict[str, Any]]:
    arts = matching(session, f, entity_label=False)
    rows = session.execute(
        sa.select(
            ArticleEntity.article_id,
            ArticleEntity.count,
            Entity.id,
            Entity.name,
            Entity.label,
            Entity.country,
        ).join(Entity, Entity.id == ArticleEntity.entity_id)
    ).all()
    per: dict[int, dict[str, Any]] = {}
    stories: dict[int, set[int]] = defaultdict(set)
    for aid, count, eid, name, label, country in rows:
        if aid not in arts or (f.label and label != f.label):
            continue
        e = per.setdefault(
            eid,
            {
                "id": eid,
                "name": name,
                "label": label,
                "country": country,
                "mentions": 0,
                "articles": 0,
            },
        )
        e["mentions"] += count
        e["articles"] += 1
        if arts[aid][0] is not None:
            stories[eid].add(arts[aid][0])
    for eid, e in per.items():
        e["stories"] = len(stories[eid])
    ranked = sorted(
        per.values(), key=lambda e: (-e["stories"], -e["mentions"], -e["articles"], e["name"])
    )
    return ranked[:limit]


def _bucket(dt: datetime, bucket: str) -> str:
    day = dt.replace(hour=0, minute=0, second=0, microsecond=0)
    start = {
        "hour": dt.replace(minute=0, second=0, microsecond=0),
        "day": day,
        "week": day - timedelta(days=day.weekday()),
        "month": day.replace(day=1),
    }[bucket]
    return start.isoformat()


def reference_tags(
    session: Session, kind: str, f: queries.ArticleFilters, bucket: str, limit: int
) -> list[dict[str, Any]]:
    arts = matching(session, f, entity_label=True)
    if kind == "countries":
        rows = [
            (aid, (code,), name)
            for aid, code, name in session.execute(
                sa.select(ArticleCountry.article_id, ArticleCountry.code, ArticleCountry.name)
            )
        ]
    else:
        rows = [
            (aid, (scheme, code), name)
            for aid, scheme, code, name in session.execute(
                sa.select(
                    ArticleRegion.article_id,
                    ArticleRegion.scheme,
                    ArticleRegion.code,
                    ArticleRegion.name,
                )
            )
        ]
    names: dict[tuple[str, ...], str] = {}
    by_bucket: dict[tuple[str, ...], dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    total: dict[tuple[str, ...], set[int]] = defaultdict(set)
    for aid, ident, name in rows:
        if aid not in arts:
            continue
        sid, dated = arts[aid]
        names[ident] = max(names.get(ident, name), name)
        stories = by_bucket[ident][_bucket(dated, bucket)]  # a bucket without stories: 0
        if sid is not None:
            stories.add(sid)
            total[ident].add(sid)
    series = []
    for ident, buckets in by_bucket.items():
        entry: dict[str, Any] = (
            {"code": ident[0]} if kind == "countries" else {"scheme": ident[0], "code": ident[1]}
        )
        entry.update(
            name=names[ident],
            total=len(total[ident]),
            buckets=[{"start": b, "stories": len(s)} for b, s in sorted(buckets.items())],
        )
        series.append(entry)
    return sorted(series, key=lambda e: (-e["total"], e["code"]))[:limit]


def _sample(url: str) -> dict[str, Any]:
    """Filter values that match something in the corpus."""
    with db.session_scope(url) as session:
        person = session.scalar(
            sa.select(Entity.name)
            .join(ArticleEntity, ArticleEntity.entity_id == Entity.id)
            .where(Entity.label == "PERSON")
            .group_by(Entity.name)
            .order_by(sa.func.count().desc(), Entity.name)
            .limit(1)
        )
        code = session.scalar(
            sa.select(ArticleCountry.code)
            .group_by(ArticleCountry.code)
            .order_by(sa.func.count().desc(), ArticleCountry.code)
            .limit(1)
        )
        region = session.execute(
            sa.select(ArticleRegion.code, ArticleRegion.name)
            .group_by(ArticleRegion.code, ArticleRegion.name)
            .order_by(sa.func.count().desc(), ArticleRegion.code)
            .limit(1)
        ).one()
        first, last = session.execute(
            sa.select(sa.func.min(Article.dated_at), sa.func.max(Article.dated_at))
        ).one()
    first, last = _utc(first), _utc(last)
    middle = first + (last - first) / 2
    return {
        "person": person,
        "code": code,
        "region_code": region[0],
        "region_name": region[1],
        "since": (middle - timedelta(days=2, hours=5)).isoformat(),
        "until": (middle + timedelta(days=1, hours=7)).isoformat(),
    }


def _filter_sets(s: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {},
        {"since": s["since"]},
        {"since": s["since"], "until": s["until"]},
        {"country": s["code"]},
        {"entity": s["person"], "since": s["since"]},
        {"region": s["region_name"]},
        {"label": "PERSON"},
        {"label": "ORG", "until": s["until"]},
        {"source": "nobody"},
    ]


# ---------------------------------------------------------------- counts by story


def test_entities_by_story_answer_what_the_reference_counts(url: str):
    client = make_client(url)
    for params in _filter_sets(_sample(url)):
        f = queries.ArticleFilters.build(**params)
        for limit in (5, 200):
            with db.session_scope(url) as session:
                expected = reference_entities(session, f, limit)
            got = client.get("/entities", params={**params, "limit": limit, "count": "stories"})
            assert got.status_code == 200, got.text
            assert got.json()["entities"] == expected, params
        if not params.get("source"):
            assert expected and any(e["stories"] < e["articles"] for e in expected)


@pytest.mark.parametrize("kind", ["countries", "regions"])
@pytest.mark.parametrize("bucket", ["day", "hour", "month"])
def test_tags_by_story_answer_what_the_reference_counts(url: str, kind: str, bucket: str):
    client = make_client(url)
    for params in _filter_sets(_sample(url)):
        params = {k: v for k, v in params.items() if k != "label"}
        params.setdefault("since", "2000-01-01")  # the views default to the last 30 days
        f = queries.ArticleFilters.build(**params)
        for limit in (3, 200):
            with db.session_scope(url) as session:
                expected = reference_tags(session, kind, f, bucket, limit)
            got = client.get(
                f"/{kind}", params={**params, "limit": limit, "count": "stories", "bucket": bucket}
            )
            assert got.status_code == 200, got.text
            assert _without_nulls(got.json()["series"]) == expected, params
        assert expected or params.get("source")


def _without_nulls(value: Any) -> Any:
    """The response model's optional fields (``scheme`` of a country, ``articles`` of a
    bucket counted in stories) left out."""
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


# ---------------------------------------------------------------- listing


def reference_stories(session: Session, f: StoryFilters, sort: str) -> list[dict[str, Any]]:
    keys: dict[int, set[str]] = defaultdict(set)
    for key, sid in session.execute(sa.text("SELECT key, story_id FROM story_keys")):
        keys[sid].add(key)
    out = []
    for story in session.scalars(sa.select(Story)):
        have = keys[story.id]
        if any(entity_key(n) not in have for n in f.entity):
            continue
        if any("c:" + c not in have for c in f.country):
            continue
        if any(not (set(region_keys(r)) & have) for r in f.region):
            continue
        if f.since and _utc(story.last_seen) < f.since:
            continue
        if f.until and _utc(story.first_seen) >= f.until:
            continue
        if story.article_count < f.min_articles:
            continue
        out.append(story)
    column = {"size": "article_count", "recency": "last_seen", "growth": "growth"}[sort]
    out.sort(key=lambda s: (getattr(s, column), s.id), reverse=True)
    now = datetime.now(UTC)
    return [story_dict(s, now) for s in out]


def _pages(client: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = client.get("/stories", params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        out.extend(r.json()["stories"])
        cursor = r.json()["next_cursor"]
        if not cursor:
            return out


@pytest.mark.parametrize("sort", ["recency", "size", "growth"])
def test_story_pages_answer_what_the_reference_lists(url: str, sort: str):
    s = _sample(url)
    client = make_client(url)
    for params in [
        {},
        {"entity": s["person"].upper()},
        {"country": s["code"].lower(), "since": s["since"]},
        {"region": s["region_code"], "until": s["until"]},
        {"min_articles": 4},
    ]:
        with db.session_scope(url) as session:
            expected = reference_stories(session, StoryFilters.build(**params), sort)
        got = _pages(client, {**params, "sort": sort, "limit": 7})
        for listed in (expected, got):
            for story in listed:
                story.pop("open")  # relative to now
        assert got == expected, params
        assert expected or params.get("min_articles")
