"""PostgreSQL: the tag arrays on each article row (``entity_ids``/``entity_counts``,
``country_*``, ``region_*``, read by the counts by story) always say what the article's
tag rows say: after inserts, re-enrichment (tags replaced, or removed altogether), a
stale redelivery, the same article twice in a batch, on the COPY and the VALUES paths,
and after migration 0008's backfill of articles stored before it."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from services.store.repository import upsert_batch
from shared import db, migrate
from testkit.store_corpus import NOW, build_corpus

Tags = dict[str, tuple[list[Any], list[Any], list[Any]]]


def tag_rows(url: str) -> Tags:
    """Per article: its (entity id, mentions), (code, name) and (scheme, code, name)
    rows, sorted; every stored article has an entry."""
    out: Tags = {}
    with db.session_scope(url) as s:
        for (aid,) in s.execute(sa.text("SELECT id FROM articles")):
            out[aid] = ([], [], [])
        for aid, *row in s.execute(
            sa.text("SELECT article_id, entity_id, count FROM article_entities")
        ):
            out[aid][0].append(tuple(row))
        for aid, *row in s.execute(sa.text("SELECT article_id, code, name FROM article_countries")):
            out[aid][1].append(tuple(row))
        for aid, *row in s.execute(
            sa.text("SELECT article_id, scheme, code, name FROM article_regions")
        ):
            out[aid][2].append(tuple(row))
    for rows in out.values():
        for kind in rows:
            kind.sort()
    return out


def tag_arrays(url: str) -> Tags:
    """The same, read from the arrays on the article rows (parallel arrays zipped);
    entity ids must be ascending and no array NULL."""
    out: Tags = {}
    with db.session_scope(url) as s:
        for r in s.execute(
            sa.text(
                "SELECT id, entity_ids, entity_counts, country_codes, country_names, "
                "region_schemes, region_codes, region_names FROM articles"
            )
        ):
            assert None not in tuple(r), r
            assert list(r.entity_ids) == sorted(r.entity_ids), r
            assert len(r.entity_ids) == len(r.entity_counts)
            assert len(r.country_codes) == len(r.country_names)
            assert len(r.region_schemes) == len(r.region_codes) == len(r.region_names)
            out[r.id] = (
                sorted(zip(r.entity_ids, r.entity_counts, strict=True)),
                sorted(zip(r.country_codes, r.country_names, strict=True)),
                sorted(zip(r.region_schemes, r.region_codes, r.region_names, strict=True)),
            )
    return out


def assert_arrays_follow_tags(url: str) -> Tags:
    rows = tag_rows(url)
    assert tag_arrays(url) == rows
    return rows


@pytest.mark.parametrize("method", ["copy", "values"])
def test_arrays_follow_inserts_reenrichment_and_stale_replays(fresh_pg_url: str, method: str):
    url = fresh_pg_url
    specs = build_corpus(n=40)
    first = [s.article() for s in specs]
    # Names that need quoting in an array literal (and escaping in COPY).
    odd = 'Côte "d\\Ivoire", {north}\tline\nNULL'
    hostile = first[0].model_copy(deep=True)
    hostile.countries[0] = hostile.countries[0].model_copy(update={"name": odd})
    hostile.regions[0] = hostile.regions[0].model_copy(update={"name": odd, "code": "a,b"})
    first[0] = hostile

    def upsert(batch: list[Any]) -> None:
        with db.session_scope(url) as session:
            upsert_batch(session, batch, method=method)

    upsert(first[:25])
    upsert(first[20:])  # overlapping: five stored twice
    before = assert_arrays_follow_tags(url)
    assert (hostile.countries[0].code, odd) in before[hostile.id][1]
    assert sum(len(r[0]) for r in before.values()) > 50
    assert sum(len(r[1]) for r in before.values()) > 20
    assert sum(len(r[2]) for r in before.values()) > 20

    # Re-enrichment: other entities and countries; no tags at all; the first entity
    # dropped; a country added. Then the older messages arrive again (stale).
    for i, s in enumerate(specs[::4]):
        if i % 3 == 0:
            s.entities, s.countries = [], []
        elif i % 3 == 1:
            s.entities = s.entities[1:] + [("Naim Qassem", "PERSON", 4)]
        else:
            s.countries = [*s.countries, ("TR", False)] if s.countries else [("LB", True)]
    later = [s.article(enriched_at=NOW + timedelta(hours=1)) for s in specs[::4]]
    upsert(later + [first[1]])  # first[1] is specs[1]: unchanged, in the same batch
    after = assert_arrays_follow_tags(url)
    emptied = [a.id for a in later[::3]]
    assert emptied and all(after[aid] == ([], [], []) for aid in emptied)
    assert sum(after[a.id] != before[a.id] for a in later) > len(later) // 2

    upsert(first)  # stale for the re-enriched ones: neither tags nor arrays roll back
    assert assert_arrays_follow_tags(url) == after

    twice = specs[2].article(enriched_at=NOW + timedelta(hours=2))
    specs[2].entities = [("Hezbollah", "ORG", 7)]
    newest = specs[2].article(enriched_at=NOW + timedelta(hours=3))
    upsert([newest, twice])  # the same article twice: the newest wins, arrays included
    final = assert_arrays_follow_tags(url)
    assert len(final[newest.id][0]) == 1 and final[newest.id][0][0][1] == 7


def test_migration_backfills_the_arrays_of_articles_stored_before_it(fresh_pg_url: str):
    url = fresh_pg_url
    specs = build_corpus(n=30)
    specs[0].entities, specs[0].countries = [], []  # an article without tags
    with db.session_scope(url) as session:
        upsert_batch(session, [s.article() for s in specs])
    expected = assert_arrays_follow_tags(url)
    assert expected[specs[0].id] == ([], [], [])
    migrate.command.downgrade(migrate.alembic_config(url), "0007")
    db.dispose_engine()
    with db.session_scope(url) as s:
        columns = {c["name"] for c in sa.inspect(s.connection()).get_columns("articles")}
    assert "entity_ids" not in columns
    migrate.upgrade(url)
    db.dispose_engine()
    assert tag_arrays(url) == expected
    by_kind: dict[int, int] = defaultdict(int)
    for rows in expected.values():
        for kind, r in enumerate(rows):
            by_kind[kind] += len(r)
    assert all(by_kind[k] > 10 for k in range(3))
