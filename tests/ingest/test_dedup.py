"""The dedup cascade, shared through the database: URL, content hash, near duplicates."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from services.ingest import dedup, feeds
from services.ingest.pipeline import accept
from shared.db import session_scope
from shared.models import DUPLICATE, RECEIVED, IngestRecord, NearDupBand
from shared.schemas import RawItem
from tests.ingest import stories
from tests.ingest.helpers import Sent, Site


def _records() -> dict[str, IngestRecord]:
    with session_scope() as session:
        rows = list(session.scalars(sa.select(IngestRecord)))
        for r in rows:
            session.expunge(r)
    return {r.article_id: r for r in rows}


def test_same_story_from_two_feeds_is_stored_once(ingest_pg: str, site: Site, sent: Sent) -> None:
    """Feed A carries the story; feed B links it with ?utm_source= and carries a wire copy."""
    html = "".join(f"<p>{p}</p>" for p in stories.HARBOUR)
    wire = "".join(f"<p>{p}</p>" for p in stories.wire_copy(stories.HARBOUR))
    site.add(
        "/a.xml",
        stories.rss2(
            [
                {
                    "title": "Harbour wall to be rebuilt",
                    "link": "https://www.gazette.example/2023/12/harbour",
                    "date": "Wed, 06 Dec 2023 09:15:00 +0100",
                    "content": html,
                }
            ]
        ),
        content_type="application/rss+xml",
    )
    site.add(
        "/b.xml",
        stories.rss2(
            [
                {
                    "title": "Harbour wall to be rebuilt",
                    "link": "http://gazette.example/2023/12/harbour?utm_source=partner&utm_medium=rss#x",
                    "date": "Wed, 06 Dec 2023 09:20:00 +0100",
                    "content": html,
                },
                {
                    "title": "Port Ellery to rebuild storm-hit harbour wall",
                    "link": "https://wire.example/stories/port-ellery-harbour-0612",
                    "date": "Wed, 06 Dec 2023 10:02:00 +0100",
                    "content": wire,
                },
            ],
            title="Partner Wire",
        ),
        content_type="application/rss+xml",
    )
    a = feeds.add_feed(site.url("/a.xml")).id
    b = feeds.add_feed(site.url("/b.xml")).id
    assert feeds.poll_feed(a).counts == {"queued": 1}
    assert feeds.poll_feed(b).counts == {"duplicate": 2}

    [article] = sent.articles()  # one article goes on to enrich and the store
    assert article["url"] == "https://www.gazette.example/2023/12/harbour"  # as the feed gave it
    records = _records()
    assert len(records) == 2  # the utm copy has the same id: nothing new to record
    first = records[article["id"]]
    assert first.status == RECEIVED
    [wire_rec] = [r for r in records.values() if r.status == DUPLICATE]
    assert wire_rec.canonical_url == "https://wire.example/stories/port-ellery-harbour-0612"
    assert wire_rec.duplicate_of == article["id"]
    assert wire_rec.similarity is not None and 0.6 <= wire_rec.similarity < 1.0
    assert wire_rec.payload is None  # kept as a link, not as a second article


def test_outcomes_name_the_rule(ingest_pg: str, sent: Sent) -> None:
    text = stories.body(stories.ORCHARD)
    outcomes = accept(
        [
            RawItem(title="Frost", body=text, url="https://a.example/frost", origin="1"),
            RawItem(title="Frost", body=text, url="https://A.example/frost/?fbclid=1", origin="2"),
            RawItem(title="Frost", body=text, url="https://b.example/other", origin="3"),
            RawItem(
                title="Frost hits orchards",
                body=stories.body(stories.wire_copy(stories.ORCHARD)),
                url="https://c.example/x",
                origin="4",
            ),
            RawItem(title="Harbour", body=stories.body(stories.HARBOUR), origin="5"),
        ]
    )
    by = {o.origin: o for o in outcomes}
    assert by["1"].status == "queued" and by["5"].status == "queued"
    assert (by["2"].status, by["2"].reason) == ("duplicate", "url")
    assert (by["3"].status, by["3"].reason, by["3"].duplicate_of) == (
        "duplicate",
        "content_hash",
        by["1"].article_id,
    )
    assert (by["4"].status, by["4"].reason, by["4"].duplicate_of) == (
        "duplicate",
        "near_duplicate",
        by["1"].article_id,
    )
    assert by["4"].similarity is not None and 0.6 <= by["4"].similarity < 1


def test_different_stories_are_not_near_duplicates(ingest_pg: str, sent: Sent) -> None:
    outcomes = accept(
        [
            RawItem(title="H", body=stories.body(stories.HARBOUR), url="https://a.example/1"),
            RawItem(title="O", body=stories.body(stories.ORCHARD), url="https://a.example/2"),
        ]
    )
    assert [o.status for o in outcomes] == ["queued", "queued"]
    with session_scope() as session:
        # 32 LSH bands per article; only band 0 carries the signature.
        assert session.scalar(sa.select(sa.func.count()).select_from(NearDupBand)) == 64
        assert (
            session.scalar(
                sa.select(sa.func.count())
                .select_from(NearDupBand)
                .where(NearDupBand.signature.is_not(None))
            )
            == 2
        )


def test_threshold_is_a_setting(ingest_pg: str, sent: Sent, env: pytest.MonkeyPatch) -> None:
    env.setenv("NEWSWIRE_NEAR_DUP_THRESHOLD", "0.99")
    outcomes = accept(
        [
            RawItem(title="H", body=stories.body(stories.HARBOUR), url="https://a.example/1"),
            RawItem(
                title="H2",
                body=stories.body(stories.wire_copy(stories.HARBOUR)),
                url="https://b.example/1",
            ),
        ]
    )
    assert [o.status for o in outcomes] == ["queued", "queued"]


def test_dedup_on_embedded_sqlite(
    fetch_env: pytest.MonkeyPatch, sqlite_url: str, sent: Sent
) -> None:
    fetch_env.setenv("NEWSWIRE_DATABASE_URL", sqlite_url)
    first = accept(
        [RawItem(title="H", body=stories.body(stories.HARBOUR), url="https://a.example/1")]
    )
    second = accept(
        [
            RawItem(
                title="H2",
                body=stories.body(stories.wire_copy(stories.HARBOUR)),
                url="https://b.example/1",
            )
        ]
    )
    assert first[0].status == "queued"
    assert (second[0].status, second[0].duplicate_of) == ("duplicate", first[0].article_id)


def test_signature_similarity_tracks_jaccard() -> None:
    a = stories.body(stories.HARBOUR)
    b = stories.body(stories.wire_copy(stories.HARBOUR))
    sa_, sb = dedup.shingles(dedup.words(a)), dedup.shingles(dedup.words(b))
    jaccard = len(sa_ & sb) / len(sa_ | sb)
    sig_a, sig_b = dedup.signature(a), dedup.signature(b)
    assert sig_a is not None and sig_b is not None
    assert abs(dedup.similarity(sig_a, sig_b) - jaccard) < 0.15
    assert dedup.similarity(sig_a, dedup.from_bytes(dedup.to_bytes(sig_a))) == 1.0


def test_two_feeds_store_one_article_end_to_end(ingest_pg: str, site: Site) -> None:
    """Embedded mode, every stage for real: ingest -> enrich -> store in PostgreSQL."""
    html = "".join(f"<p>{p}</p>" for p in stories.HARBOUR)
    wire = "".join(f"<p>{p}</p>" for p in stories.wire_copy(stories.HARBOUR))
    site.add(
        "/a.xml",
        stories.rss2([{"title": "Harbour wall", "link": "https://g.example/h", "content": html}]),
        content_type="application/rss+xml",
    )
    site.add(
        "/b.xml",
        stories.rss2(
            [
                {
                    "title": "Harbour wall",
                    "link": "https://g.example/h?utm_source=b",
                    "content": html,
                },
                {"title": "Harbour (wire)", "link": "https://wire.example/h", "content": wire},
            ]
        ),
        content_type="application/rss+xml",
    )
    feeds.poll_feed(feeds.add_feed(site.url("/a.xml")).id)
    feeds.poll_feed(feeds.add_feed(site.url("/b.xml")).id)
    with session_scope() as session:
        stored = session.execute(sa.text("SELECT id, url FROM articles")).all()
        assert [url for _, url in stored] == ["https://g.example/h"]
        dup = session.scalar(
            sa.select(IngestRecord).where(IngestRecord.canonical_url == "https://wire.example/h")
        )
        assert dup is not None and dup.status == DUPLICATE and dup.duplicate_of == stored[0][0]
