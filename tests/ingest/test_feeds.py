"""Feeds served by a local server: RSS 2.0/1.0/0.91, Atom, JSON Feed, 304, billion laughs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from services.ingest import feeds
from services.ingest.feedparse import parse_feed
from services.ingest.prepare import Rejected
from shared.db import session_scope
from shared.models import IngestRecord
from tests.ingest import stories
from tests.ingest.helpers import Response, Sent, Site


def _html(paragraphs: list[str]) -> str:
    return "".join(f"<p>{p}</p>" for p in paragraphs)


def test_rss2_full_content_and_summary_items(ingest_pg: str, site: Site, sent: Sent) -> None:
    site.add(
        "/news/orchard",
        stories.page("Frost halves the apple harvest", stories.ORCHARD, canonical=None),
        content_type="text/html; charset=utf-8",
    )

    def feed(headers: dict[str, str]) -> Response:
        if headers.get("if-none-match") == '"rev-1"':
            return Response(b"", 304, {"ETag": '"rev-1"'})
        body = stories.rss2(
            [
                {
                    "title": "Harbour wall to be rebuilt",
                    "link": "https://gazette.example/harbour?utm_source=rss&utm_medium=feed",
                    "date": "Wed, 06 Dec 2023 09:15:00 +0100",
                    "content": _html(stories.HARBOUR),
                    "author": "Mara Quist",
                },
                {
                    "title": "Frost halves the apple harvest",
                    "link": site.url("/news/orchard"),
                    "date": "Tue, 05 Dec 2023 18:00:00 EST",
                    "summary": "Growers expect the smallest crop in twenty years.",
                },
            ]
        )
        return Response(
            body.encode(), 200, {"ETag": '"rev-1"', "Content-Type": "application/rss+xml"}
        )

    site.routes["/feed.xml"] = feed
    feed_row = feeds.add_feed(site.url("/feed.xml"), interval=600, source="Gazette")

    first = feeds.poll_feed(feed_row.id)
    assert first.status == "ok", first
    assert first.counts == {"queued": 2}
    articles = {a["title"]: a for a in sent.articles()}
    harbour = articles["Harbour wall to be rebuilt"]
    assert harbour["url"] == "https://gazette.example/harbour"
    assert harbour["published_at"] == "2023-12-06T08:15:00Z"
    assert harbour["authors"] == ["Mara Quist"]
    assert harbour["body"].split("\n\n") == stories.HARBOUR
    assert harbour["source"] == "Gazette"
    # The summary-only item: its page was fetched and the main text extracted.
    orchard = articles["Frost halves the apple harvest"]
    assert site.hits("/news/orchard") == 1
    assert orchard["published_at"] == "2023-12-05T23:00:00Z"  # feed date wins, EST -> UTC
    assert orchard["body"].split("\n\n") == stories.ORCHARD
    assert "Related news" not in orchard["body"] and "Home" not in orchard["body"]

    # Second poll: conditional GET answered with 304, nothing new, nothing refetched.
    second = feeds.poll_feed(feed_row.id)
    assert second.status == "not_modified"
    assert site.requests[-1][1]["if-none-match"] == '"rev-1"'
    assert site.hits("/news/orchard") == 1
    assert len(sent.articles()) == 2
    [row] = feeds.list_feeds()
    assert row.etag == '"rev-1"' and row.last_status == "not_modified"
    assert row.items_seen == 2 and row.title == "Example Gazette"


def test_repoll_without_etag_does_not_refetch_known_pages(
    ingest_pg: str, site: Site, sent: Sent
) -> None:
    site.add("/p1", stories.page("Frost halves the apple harvest", stories.ORCHARD))
    site.add(
        "/rss",
        stories.rss2(
            [{"title": "Frost", "link": site.url("/p1") + "?utm_campaign=x", "summary": "s"}]
        ),
        content_type="application/rss+xml",
    )
    fid = feeds.add_feed(site.url("/rss")).id
    assert feeds.poll_feed(fid).counts == {"queued": 1}
    assert feeds.poll_feed(fid).counts == {"duplicate": 1}
    assert site.hits("/p1") == 1


def test_atom_feed(ingest_pg: str) -> None:
    data = stories.atom(
        [
            {
                "title": "Frost halves the apple harvest",
                "link": "https://courier.example/frost",
                "date": "2023-12-05T07:30:00-05:00",
                "content": _html(stories.ORCHARD),
                "author": "Lea Brandt",
            }
        ]
    ).encode()
    parsed = parse_feed(data, url="https://courier.example/atom.xml")
    assert parsed.title == "Valley Courier"
    [item] = parsed.items
    assert item.kind == "record"
    assert item.url == "https://courier.example/frost"
    assert item.published == "2023-12-05T12:30:00+00:00"
    assert item.authors == ["Lea Brandt"]
    assert item.body is not None and item.body.split("\n\n") == stories.ORCHARD


def test_rss1_and_rss091_summary_items_become_url_items(env: pytest.MonkeyPatch) -> None:
    rdf = stories.rss1(
        [
            {
                "title": "RDF story",
                "link": "https://rdf.example/story",
                "summary": "Short.",
                "date": "2023-12-06T10:00:00+02:00",
            }
        ]
    )
    [item] = parse_feed(rdf.encode()).items
    assert (item.kind, item.url, item.published) == (
        "url",
        "https://rdf.example/story",
        "2023-12-06T08:00:00+00:00",
    )
    old = stories.rss091(
        [{"title": "Caf\u00e9 closes", "link": "https://old.example/1", "summary": "Short."}]
    )
    [item] = parse_feed(old.encode("latin-1")).items
    assert item.kind == "url" and item.title == "Caf\u00e9 closes"
    assert item.language == "en"


def test_json_feed(env: pytest.MonkeyPatch) -> None:
    data = stories.json_feed(
        [
            {
                "id": "1",
                "url": "https://herald.example/harbour",
                "title": "Harbour wall to be rebuilt",
                "content_text": stories.body(stories.HARBOUR),
                "date_published": "2023-12-06T09:15:00+01:00",
                "authors": [{"name": "Mara Quist"}],
            },
            {"id": "https://herald.example/short", "title": "Short one", "summary": "s"},
            {"id": "3"},
        ]
    ).encode()
    parsed = parse_feed(data, content_type="application/feed+json")
    first, second = parsed.items
    assert first.kind == "record" and first.published == "2023-12-06T08:15:00+00:00"
    assert first.authors == ["Mara Quist"] and first.language == "en"
    assert second.kind == "url" and second.url == "https://herald.example/short"
    assert parsed.rejected == [("feed#2", "empty_item: no link, content or summary")]


def test_relative_dates_count_from_the_feed(env: pytest.MonkeyPatch) -> None:
    data = stories.rss2(
        [{"title": "t", "link": "https://g.example/1", "date": "3 hours ago", "summary": "s"}],
        extra="<lastBuildDate>Wed, 06 Dec 2023 12:00:00 GMT</lastBuildDate>",
    ).encode()
    [item] = parse_feed(data).items
    assert item.published == "2023-12-06T09:00:00+00:00"


def test_billion_laughs_feed_is_refused(ingest_pg: str, site: Site, sent: Sent) -> None:
    site.add("/evil.xml", stories.BILLION_LAUGHS, content_type="application/rss+xml")
    fid = feeds.add_feed(site.url("/evil.xml")).id
    result = feeds.poll_feed(fid)
    assert result.status == "unsafe_xml"
    assert "entity" in (result.error or "").lower()
    assert sent.messages == []
    [row] = feeds.list_feeds()
    assert row.last_status == "unsafe_xml"
    with pytest.raises(Rejected):
        parse_feed(stories.BILLION_LAUGHS.encode())


def test_feed_429_pushes_the_next_poll_back(ingest_pg: str, site: Site, sent: Sent) -> None:
    site.add("/busy.xml", "slow down", status=429, headers={"Retry-After": "3600"})
    fid = feeds.add_feed(site.url("/busy.xml"), interval=300).id
    result = feeds.poll_feed(fid)
    assert result.status == "rate_limited" and result.retry_after == 3600
    [row] = feeds.list_feeds()
    assert row.last_status == "rate_limited"
    assert row.next_poll_at is not None and row.last_polled_at is not None
    assert (row.next_poll_at - row.last_polled_at) == timedelta(seconds=3600)


def test_only_due_feeds_are_polled(ingest_pg: str, site: Site, sent: Sent) -> None:
    site.add("/a.xml", stories.rss2([]), content_type="application/rss+xml")
    site.add("/b.xml", stories.rss2([]), content_type="application/rss+xml")
    a = feeds.add_feed(site.url("/a.xml"), interval=60).id
    b = feeds.add_feed(site.url("/b.xml"), interval=3600).id
    now = datetime.now(UTC)
    assert sorted(r.feed_id for r in feeds.poll_due(now)) == [a, b]
    # One minute later only the 60 s feed is due again; the hourly one is not.
    assert [r.feed_id for r in feeds.poll_due(now + timedelta(seconds=90))] == [a]
    assert feeds.poll_due(now + timedelta(seconds=100)) == []
    assert site.hits("/a.xml") == 2 and site.hits("/b.xml") == 1


def test_poll_feeds_task_claims_and_polls(ingest_pg: str, site: Site, sent: Sent) -> None:
    from services.ingest import tasks

    site.add(
        "/f.xml",
        stories.rss2(
            [{"title": "Harbour", "link": "https://g.example/h", "content": _html(stories.HARBOUR)}]
        ),
        content_type="application/rss+xml",
    )
    feeds.add_feed(site.url("/f.xml"))
    assert tasks.poll_feeds.run() == 1
    assert tasks.poll_feeds.run() == 0  # claimed: not due again before its interval
    with session_scope() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(IngestRecord)) == 1
    assert [a["title"] for a in sent.articles()] == ["Harbour"]


@pytest.mark.parametrize(("status", "moves"), [(301, True), (308, True), (302, False)])
def test_feed_that_moved_for_good_is_polled_at_its_new_url(
    ingest_pg: str, site: Site, sent: Sent, status: int, moves: bool
) -> None:
    site.add("/old.xml", status=status, headers={"Location": "/new.xml"})
    site.add("/new.xml", stories.rss2([]), content_type="application/rss+xml")
    fid = feeds.add_feed(site.url("/old.xml")).id
    assert feeds.poll_feed(fid).status == "ok"
    [row] = feeds.list_feeds()
    assert row.url == (site.url("/new.xml") if moves else site.url("/old.xml"))


def test_feed_url_serving_html_is_reported(ingest_pg: str, site: Site, sent: Sent) -> None:
    site.add("/feed", "<html><body><p>We moved!</p></body></html>", content_type="text/xml")
    result = feeds.poll_feed(feeds.add_feed(site.url("/feed")).id)
    assert result.status == "bad_feed" and "root element is <html>" in (result.error or "")
