"""Web pages and sitemaps by URL: extraction, encodings, canonical URLs, dates."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.ingest.files import iter_items
from services.ingest.pipeline import accept
from shared.db import session_scope
from shared.models import IngestRecord
from shared.schemas import RawItem
from tests.ingest import stories
from tests.ingest.helpers import Sent, Site

CP1252_PARAGRAPHS = [
    "The caf\u00e9 on Rue Verte reopened on Monday \u2013 its owner called it \u201ca small "
    "miracle\u201d after a year of repairs following the flood.",
    "Regulars queued for cr\u00e8me br\u00fbl\u00e9e and the na\u00efve murals in the back "
    "room, which volunteers restored panel by panel over the winter months.",
    "The owner said the \u20ac40,000 loan from the neighbourhood fund would be repaid within "
    "three years if the summer terrace does as well as it did before the water came.",
]


def test_page_in_windows_1252_declared_only_in_meta(ingest_pg: str, site: Site, sent: Sent) -> None:
    html = stories.page(
        "Caf\u00e9 reopens \u2013 \u201ca small miracle\u201d",
        CP1252_PARAGRAPHS,
        published="2023-12-06T08:30:00+01:00",
        canonical=site.url("/local/cafe-reopens?utm_source=twitter#top"),
        charset="windows-1252",
        author="Jo Varga",
    )
    site.add("/local/cafe", html.encode("cp1252"), content_type="text/html")
    [outcome] = accept([RawItem(kind="url", url=site.url("/local/cafe"), origin="cli")])
    assert outcome.status == "queued", outcome
    [article] = sent.articles()
    assert article["title"] == "Caf\u00e9 reopens \u2013 \u201ca small miracle\u201d"
    assert article["body"].split("\n\n") == CP1252_PARAGRAPHS
    # The page's own address (its rel=canonical, less the fragment and tracking
    # parameters); the canonical form is only the dedup key.
    assert article["url"] == f"http://127.0.0.1:{site.port}/local/cafe-reopens"
    assert article["published_at"] == "2023-12-06T07:30:00Z"
    assert article["authors"] == ["Jo Varga"]
    assert article["language"] == "en"
    for furniture in (
        "Home",
        "Weather",
        "Advertisement",
        "Related news",
        "Lighthouse",
        "Copyright",
    ):
        assert furniture not in article["body"]


def test_canonical_url_of_another_site_is_ignored(ingest_pg: str, site: Site, sent: Sent) -> None:
    html = stories.page("Harbour", stories.HARBOUR, canonical="https://victim.example/story")
    site.add("/story", html)
    [outcome] = accept([RawItem(kind="url", url=site.url("/story?utm_source=x"))])
    assert outcome.status == "queued"
    assert sent.articles()[0]["url"] == f"http://127.0.0.1:{site.port}/story"


def test_page_charset_from_http_header(ingest_pg: str, site: Site, sent: Sent) -> None:
    html = stories.page("Caf\u00e9", CP1252_PARAGRAPHS, charset=None)
    site.add("/p", html.encode("cp1252"), content_type="text/html; charset=windows-1252")
    [outcome] = accept([RawItem(kind="url", url=site.url("/p"))])
    assert outcome.status == "queued"
    assert sent.articles()[0]["body"].split("\n\n") == CP1252_PARAGRAPHS


def test_page_without_main_text_is_rejected_with_reason(
    ingest_pg: str, site: Site, sent: Sent
) -> None:
    site.add("/empty", "<html><body><nav><a href='/'>Home</a></nav></body></html>")
    site.add("/gone", "no", status=410)
    outcomes = accept(
        [
            RawItem(kind="url", url=site.url("/empty"), origin="empty"),
            RawItem(kind="url", url=site.url("/gone"), origin="gone"),
        ]
    )
    by_origin = {o.origin: o for o in outcomes}
    assert [o.status for o in outcomes] == ["rejected", "rejected"]
    assert (by_origin["empty"].reason or "").startswith("no_main_text")
    assert (by_origin["gone"].reason or "").startswith("http_error: HTTP 410")
    assert sent.messages == []


def test_redirected_page_keeps_the_final_url(ingest_pg: str, site: Site, sent: Sent) -> None:
    site.add("/short", status=301, headers={"Location": "/2023/12/harbour"})
    site.add("/2023/12/harbour", stories.page("Harbour wall to be rebuilt", stories.HARBOUR))
    [outcome] = accept([RawItem(kind="url", url=site.url("/short"))])
    assert outcome.status == "queued"
    assert sent.articles()[0]["url"] == f"http://127.0.0.1:{site.port}/2023/12/harbour"


def test_sitemap_url_expands_into_pages(ingest_pg: str, site: Site, sent: Sent) -> None:
    site.add("/a", stories.page("Harbour wall to be rebuilt", stories.HARBOUR))
    site.add("/b", stories.page("Frost halves the apple harvest", stories.ORCHARD))
    site.add(
        "/news-sitemap.xml",
        stories.sitemap(
            [(site.url("/a"), "2023-12-06T09:15:00+01:00"), (site.url("/b"), "2023-12-05")],
            news=True,
        ),
        content_type="application/xml",
    )
    outcomes = accept([RawItem(kind="url", url=site.url("/news-sitemap.xml"), origin="cli")])
    assert sorted(o.status for o in outcomes) == ["queued", "queued"]
    by_title = {a["title"]: a for a in sent.articles()}
    assert by_title["Harbour wall to be rebuilt"]["published_at"] == "2023-12-06T08:15:00Z"
    assert by_title["Frost halves the apple harvest"]["published_at"] == "2023-12-05T00:00:00Z"


def test_gzipped_sitemap_file_and_index(
    ingest_pg: str, site: Site, sent: Sent, tmp_path: Path
) -> None:
    site.add("/a", stories.page("Harbour wall to be rebuilt", stories.HARBOUR))
    site.add("/b", stories.page("Frost halves the apple harvest", stories.ORCHARD))
    child = stories.sitemap([(site.url("/b"), "2023-12-04T10:00:00Z")])
    site.add("/child.xml.gz", gzip.compress(child.encode()), content_type="application/gzip")
    path = tmp_path / "sitemap.xml.gz"
    path.write_bytes(gzip.compress(stories.sitemap([(site.url("/a"), "2023-12-06")]).encode()))
    index = tmp_path / "index.xml"
    index.write_text(
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{site.url('/child.xml.gz')}</loc></sitemap></sitemapindex>"
    )
    items = list(iter_items([tmp_path]))
    assert [(i.kind, i.url) for i in items] == [
        ("url", site.url("/child.xml.gz")),
        ("url", site.url("/a")),
    ]
    outcomes = accept(items)
    assert sorted(o.status for o in outcomes) == ["queued", "queued"]
    assert site.hits("/a") == 1 and site.hits("/b") == 1
    with session_scope() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(IngestRecord)) == 2


def test_sitemap_with_a_dtd_is_refused(ingest_pg: str, tmp_path: Path) -> None:
    path = tmp_path / "evil.xml"
    path.write_text(
        stories.BILLION_LAUGHS.replace("<rss", "<urlset").replace("</rss>", "</urlset>")
    )
    [rejection] = list(iter_items([path]))
    assert getattr(rejection, "reason", "").startswith("unsafe_xml")


def test_gzip_bomb_sitemap_file_is_refused(fetch_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fetch_env.setenv("NEWSWIRE_FETCH_MAX_DECOMPRESSED", "1000000")
    path = tmp_path / "bomb.xml.gz"
    path.write_bytes(gzip.compress(b"<urlset>" + b" " * 10_000_000 + b"</urlset>"))
    [rejection] = list(iter_items([path]))
    assert "too_large" in getattr(rejection, "reason", "")


def test_a_crashing_page_rejects_only_itself(
    ingest_pg: str, site: Site, sent: Sent, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.ingest import extract

    real = extract.extract_page

    def fragile(html: str, url: str | None = None) -> dict[str, object] | None:
        if "POISON" in html:
            raise RecursionError("maximum recursion depth exceeded in lxml")
        return real(html, url)

    monkeypatch.setattr(extract, "extract_page", fragile)
    site.add("/bad", stories.page("POISON", stories.ORCHARD))
    site.add("/good", stories.page("Harbour", stories.HARBOUR))
    outcomes = accept(
        [
            RawItem(kind="url", url=site.url("/bad"), origin="bad"),
            RawItem(kind="url", url=site.url("/good"), origin="good"),
        ]
    )
    by = {o.origin: o for o in outcomes}
    assert by["good"].status == "queued"
    assert by["bad"].status == "rejected"
    assert (by["bad"].reason or "").startswith("internal_error: RecursionError")


def test_saved_feed_file(ingest_pg: str, sent: Sent, tmp_path: Path) -> None:
    path = tmp_path / "export.xml"
    body = "".join(f"<p>{p}</p>" for p in stories.HARBOUR)
    path.write_text(
        stories.rss2([{"title": "Harbour", "link": "https://g.example/h", "content": body}])
    )
    bad = tmp_path / "laughs.xml"
    bad.write_text(stories.BILLION_LAUGHS)
    entries = list(iter_items([tmp_path]))
    [item] = [e for e in entries if isinstance(e, RawItem)]
    [rejection] = [e for e in entries if not isinstance(e, RawItem)]
    assert getattr(rejection, "reason", "").startswith("unsafe_xml")
    assert [o.status for o in accept([item])] == ["queued"]


def test_page_metadata_date_beats_sitemap_lastmod(ingest_pg: str, site: Site, sent: Sent) -> None:
    site.add(
        "/dated",
        stories.page("Harbour", stories.HARBOUR, published="2023-12-06T09:15:00+01:00"),
    )
    site.add(
        "/sm.xml",
        stories.sitemap([(site.url("/dated"), "2024-02-01T00:00:00Z")]),  # edited later
        content_type="application/xml",
    )
    accept([RawItem(kind="url", url=site.url("/sm.xml"))])
    assert sent.articles()[0]["published_at"] == "2023-12-06T08:15:00Z"
