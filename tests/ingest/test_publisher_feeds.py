"""Feeds and directories as real publishers and users produce them: HTML titles
(Atom ``type="html"``, titles escaped twice or in CDATA), RSS ``<author>`` as
``email (Name)`` with a long top-level domain, WordPress's "The post ... appeared
first on ..." footer, and directory entries that are not regular files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from services.entrypoints.cli import cli
from services.ingest.dates import parse_date
from services.ingest.feedparse import parse_feed
from tests.ingest import stories
from tests.ingest.helpers import Sent, Site

_PARAS = "".join(f"<p>{p}</p>" for p in stories.HARBOUR)

WORDPRESS_RSS = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
<title>Gazette &amp;amp; Herald</title>
<atom:link href="https://gazette.example/feed/" rel="self" type="application/rss+xml"/>
<link>https://gazette.example</link>
<item>
<title><![CDATA[Harbour wall &amp; pier to be rebuilt]]></title>
<link>https://gazette.example/2023/12/harbour/</link>
<author>desk@gazette.media (Mara Quist)</author>
<pubDate>Wed, 06 Dec 2023 09:15:00 +0000</pubDate>
<guid isPermaLink="false">https://gazette.example/?p=4711</guid>
<content:encoded><![CDATA[{_PARAS}
<p>The post <a href="https://gazette.example/2023/12/harbour/">Harbour wall &#038; pier
to be rebuilt</a> appeared first on
<a href="https://gazette.example">Gazette &#038; Herald</a>.</p>]]></content:encoded>
</item>
<item>
<title>Council&amp;#8217;s &lt;em&gt;new&lt;/em&gt; budget</title>
<link>https://gazette.example/2023/12/budget/</link>
<author>news@gazette.example (Ines Falk)</author>
<content:encoded><![CDATA[{_PARAS}]]></content:encoded>
</item>
</channel>
</rss>
"""

BLOGGER_ATOM = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<title type="html">Valley Courier &amp;amp; Times</title>
<id>tag:courier.example,2023:blog</id>
<updated>2023-12-06T10:00:00Z</updated>
<entry>
<title type="html">India&amp;#8217;s monsoon &amp;amp; the economy</title>
<id>tag:courier.example,2023:post-1</id>
<link rel="alternate" type="text/html" href="https://courier.example/monsoon"/>
<published>2023-12-06T06:00:00+05:30</published>
<author><name>Priya Sharma</name></author>
<content type="html">{_PARAS.replace("&", "&amp;").replace("<", "&lt;")}</content>
</entry>
</feed>
"""


def test_html_titles_are_plain_text(env: object) -> None:
    rss = parse_feed(WORDPRESS_RSS.encode(), url="https://gazette.example/feed/")
    assert rss.title == "Gazette & Herald"
    assert [i.title for i in rss.items] == [
        "Harbour wall & pier to be rebuilt",
        "Council\u2019s new budget",
    ]
    atom = parse_feed(BLOGGER_ATOM.encode(), url="https://courier.example/feeds/posts/default")
    assert atom.title == "Valley Courier & Times"
    [item] = atom.items
    assert item.title == "India\u2019s monsoon & the economy"
    assert item.source == "Valley Courier & Times"


def test_rss_author_email_and_name_with_a_long_top_level_domain(env: object) -> None:
    items = parse_feed(WORDPRESS_RSS.encode(), url="https://gazette.example/feed/").items
    assert [i.authors for i in items] == [["Mara Quist"], ["Ines Falk"]]


def test_saved_wordpress_feed_is_stored_clean(ingest_pg: str, tmp_path: Path, sent: Sent) -> None:
    path = tmp_path / "gazette.rss"
    path.write_text(WORDPRESS_RSS, encoding="utf-8")
    result = CliRunner().invoke(cli, ["ingest", str(path)])
    assert result.exit_code == 0, result.output
    by_url = {a["url"]: a for a in sent.articles()}
    harbour = by_url["https://gazette.example/2023/12/harbour/"]
    assert harbour["title"] == "Harbour wall & pier to be rebuilt"
    assert harbour["authors"] == ["Mara Quist"]
    assert harbour["source"] == "Gazette & Herald"
    assert "appeared first on" not in harbour["body"], harbour["body"]
    assert harbour["body"].split("\n\n") == stories.HARBOUR
    assert json.dumps(harbour).count("&amp;") == 0


def test_directory_entries_that_are_not_files_are_named(
    ingest_pg: str, tmp_path: Path, sent: Sent
) -> None:
    root = tmp_path / "in"
    root.mkdir()
    (root / "harbour.txt").write_text(
        "Harbour wall to be rebuilt\n\n" + stories.body(stories.HARBOUR)
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "orchard.txt").write_text("Frost\n\n" + stories.body(stories.ORCHARD))
    (root / "gone.txt").symlink_to(tmp_path / "deleted.txt")  # a file moved away
    (root / "linked").symlink_to(elsewhere, target_is_directory=True)
    os.mkfifo(root / "pipe.txt")
    result = CliRunner().invoke(cli, ["ingest", str(root)])
    out = result.output
    assert "1 read, 1 queued" in out and "3 skipped" in out, out
    assert f"skipped {root / 'gone.txt'}: broken symbolic link" in out, out
    assert f"skipped {root / 'linked'}: symbolic link to a directory" in out, out
    assert f"skipped {root / 'pipe.txt'}: not a regular file" in out, out


def test_records_carrying_html_are_stored_as_text(
    ingest_pg: str, tmp_path: Path, sent: Sent
) -> None:
    # A CMS export: the body is the page's HTML, the title has its entity codes.
    record = {
        "headline": "Council&#8217;s harbour plan &amp; the fish market",
        "content": '<div class="entry">'
        + "".join(f"<p>{p.replace('the', '<em>the</em>', 1)}</p>" for p in stories.HARBOUR)
        + "</div>",
        "link": "https://gazette.example/harbour",
    }
    path = tmp_path / "export.jsonl"
    path.write_text(json.dumps(record) + "\n")
    result = CliRunner().invoke(cli, ["ingest", str(path)])
    assert result.exit_code == 0, result.output
    [article] = sent.articles()
    assert article["title"] == "Council\u2019s harbour plan & the fish market"
    assert article["body"].split("\n\n") == stories.HARBOUR


def test_markdown_with_front_matter(ingest_pg: str, tmp_path: Path, sent: Sent) -> None:
    # A Jekyll / Hugo post: YAML front matter, then the headline again as a heading.
    path = tmp_path / "2023-12-06-harbour.md"
    path.write_text(
        "---\n"
        'title: "Harbour wall to be rebuilt"\n'
        "date: 2023-12-06 09:15:00 +0100\n"
        "authors:\n"
        "  - Mara Quist\n"
        "  - Ines Falk\n"
        "tags: [harbour, council]\n"
        "layout: post\n"
        "---\n\n"
        "# Harbour wall to be rebuilt\n\n" + stories.body(stories.HARBOUR) + "\n"
    )
    result = CliRunner().invoke(cli, ["ingest", str(path)])
    assert result.exit_code == 0, result.output
    [article] = sent.articles()
    assert article["title"] == "Harbour wall to be rebuilt"
    assert article["published_at"].startswith("2023-12-06T08:15:00")
    assert article["authors"] == ["Mara Quist", "Ines Falk"]
    assert article["body"].split("\n\n") == stories.HARBOUR


SAVED_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>TITLE | Gazette</title>
<meta property="og:title" content="Harbour wall to be rebuilt">
<meta property="og:site_name" content="Gazette">
<meta property="article:published_time" content="2023-12-06T09:15:00+01:00">
</head><body>
<header><nav><a href="/">Home</a> <a href="/local">Local</a></nav></header>
<main><article>
<h1>H1</h1>
<p class="byline">By Mara Quist, Harbour Correspondent</p>
PARAS
<p><em>Sign up for our Coast newsletter to get the top stories in your inbox every morning.</em></p>
</article></main>
<footer><p>&copy; 2023 Gazette. All rights reserved.</p></footer>
</body></html>"""


@pytest.mark.parametrize(
    ("title", "h1", "headline"),
    [
        # The <h1> is the first segment of <title>: it is the headline, not the
        # og:title cut short for social media.
        (
            "Harbour wall to be rebuilt, council says",
            "Harbour wall to be rebuilt, council says",
            "Harbour wall to be rebuilt, council says",
        ),
        # <title> and og:title agree on a short form, the <h1> is longer: the title is
        # the short form, and the <h1> is not body either.
        (
            "Harbour wall to be rebuilt",
            "Harbour wall to be rebuilt after winter storms",
            "Harbour wall to be rebuilt",
        ),
    ],
)
def test_saved_page_headline_byline_and_newsletter(
    ingest_pg: str, tmp_path: Path, sent: Sent, title: str, h1: str, headline: str
) -> None:
    path = tmp_path / "harbour.html"
    page = SAVED_PAGE.replace("PARAS", _PARAS).replace("TITLE", title).replace("H1", h1)
    path.write_text(page)
    result = CliRunner().invoke(cli, ["ingest", str(path)])
    assert result.exit_code == 0, result.output
    [article] = sent.articles()
    assert article["title"] == headline
    assert article["authors"] == ["Mara Quist"]  # not "Harbour Correspondent"
    assert article["body"].split("\n\n") == stories.HARBOUR  # no headline, no sign-up


def test_feed_content_captions_are_not_body(env: object) -> None:
    figure = (
        '<figure><img src="https://gazette.example/wall.jpg" alt="">'
        "<figcaption>The breach in the harbour wall. Photo: Reuters</figcaption></figure>"
    )
    rss = WORDPRESS_RSS.replace(_PARAS, figure + _PARAS, 1)
    [harbour, _] = parse_feed(rss.encode(), url="https://gazette.example/feed/").items
    assert harbour.body is not None and "Photo" not in harbour.body, harbour.body


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "GMT+1" is an hour ahead of GMT (dateutil reads it the POSIX way round).
        ("Tue, 05 Dec 2023 10:00:00 GMT+1", "2023-12-05T09:00:00+00:00"),
        ("05 Dec 2023 10:00 UTC+5:30", "2023-12-05T04:30:00+00:00"),
        ("Tue, 05 Dec 2023 10:00:00 UTC-05:00", "2023-12-05T15:00:00+00:00"),
        # Zones of news sites that were read as UTC.
        ("Tue, 05 Dec 2023 10:00:00 HKT", "2023-12-05T02:00:00+00:00"),
        ("Tue, 05 Dec 2023 10:00:00 SAST", "2023-12-05T08:00:00+00:00"),
        ("Tue, 05 Dec 2023 10:00:00 WAT", "2023-12-05T09:00:00+00:00"),
        ("Dec 5, 2023 10:00 a.m. ET", "2023-12-05T15:00:00+00:00"),
        # java.time's format, with the zone's name in brackets: was not a date.
        ("2023-12-05T10:00:00+01:00[Europe/Paris]", "2023-12-05T09:00:00+00:00"),
    ],
)
def test_publishers_time_zones(text: str, expected: str) -> None:
    dt = parse_date(text)
    assert dt is not None and dt.isoformat() == expected


FIRE_STATION = [
    "The city council voted on Tuesday to close the old fire station, which has "
    "served the east side since 1962, and move its crews to a new building.",
    "Firefighters said the move would add minutes to response times in the old town, "
    "where many houses are built of timber; the union will challenge the decision.",
    "The mayor said the station had failed safety inspections in 2019 and 2021 and "
    "that repairing it would cost more than a new building.",
]


def _undated_page(title: str, paras: list[str]) -> str:
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        + "".join(f"<p>{p}</p>" for p in paras)
        + "</article></body></html>"
    )


def test_a_year_in_the_text_is_not_the_date_of_an_undated_page(
    ingest_pg: str, tmp_path: Path, sent: Sent
) -> None:
    (tmp_path / "undated.html").write_text(_undated_page("Fire station to close", FIRE_STATION))
    orchard = [*stories.ORCHARD[:-1], stories.ORCHARD[-1] + " Sales open on January 1, 2024."]
    (tmp_path / "new-year.html").write_text(_undated_page("Frost halves the harvest", orchard))
    result = CliRunner().invoke(cli, ["ingest", str(tmp_path)])
    assert result.exit_code == 0, result.output
    dates = {a["title"]: a["published_at"] for a in sent.articles()}
    # Was 2019-01-01: trafilatura's search of the text took "in 2019" for the date.
    assert dates["Fire station to close"] is None
    # A 1 January the text does name is still the guess.
    assert (dates["Frost halves the harvest"] or "").startswith("2024-01-01")


def _ld(**fields: object) -> str:
    data = {"@context": "https://schema.org", "@type": "NewsArticle", **fields}
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def test_script_built_page_is_read_from_its_json_ld(
    ingest_pg: str, tmp_path: Path, sent: Sent
) -> None:
    # The visible page is a loading screen; the text is in the JSON-LD (Next.js, ...).
    page = (
        "<!DOCTYPE html><html><head><title>Harbour wall to be rebuilt</title>"
        + _ld(
            headline="Harbour wall to be rebuilt",
            datePublished="2023-12-06T08:15:00Z",
            articleBody="\n".join(stories.HARBOUR),
        )
        + '</head><body><div id="__next"><div class="loading">Loading...</div></div>'
        "<noscript>You need to enable JavaScript to run this app.</noscript></body></html>"
    )
    (tmp_path / "spa.html").write_text(page)
    result = CliRunner().invoke(cli, ["ingest", str(tmp_path / "spa.html")])
    assert result.exit_code == 0, result.output
    [article] = sent.articles()
    assert article["body"].split("\n\n") == stories.HARBOUR


def test_paywalled_teaser_is_not_an_article(ingest_pg: str, tmp_path: Path, sent: Sent) -> None:
    page = (
        "<!DOCTYPE html><html><head><title>Harbour wall to be rebuilt</title>"
        + _ld(headline="Harbour wall to be rebuilt", isAccessibleForFree=False)
        + f"</head><body><article><h1>Harbour wall to be rebuilt</h1><p>{stories.HARBOUR[0]}</p>"
        '<div class="paywall"><p>This article is for subscribers only. Subscribe for unlimited '
        "access to our journalism from just $1 a week.</p><p>Already a subscriber? Log in</p>"
        "</div></article></body></html>"
    )
    (tmp_path / "paywall.html").write_text(page)
    result = CliRunner().invoke(cli, ["ingest", str(tmp_path / "paywall.html")])
    assert result.exit_code == 2 and "no_main_text" in result.output, result.output
    assert sent.articles() == []


def test_a_local_server_refused_says_how_to_allow_it(
    ingest_pg: str, env: pytest.MonkeyPatch, site: Site, sent: Sent
) -> None:
    # A newcomer serving test files with `python -m http.server` on this machine.
    site.add("/feed.xml", WORDPRESS_RSS, content_type="application/rss+xml")
    env.setenv("NEWSWIRE_FETCH_ALLOW_PRIVATE", "0")
    url = site.url("/feed.xml")
    host_port = url.split("/")[2]
    result = CliRunner().invoke(cli, ["ingest", url])
    assert result.exit_code == 2, result.output
    assert f"set NEWSWIRE_FETCH_ALLOW_HOSTS={host_port}" in result.output, result.output
    env.setenv("NEWSWIRE_FETCH_ALLOW_HOSTS", host_port)
    result = CliRunner().invoke(cli, ["ingest", url])
    assert result.exit_code == 0 and "1 queued" in result.output, result.output


@pytest.mark.parametrize(
    ("author", "expected"),
    [
        (
            "<dc:creator><![CDATA[By Jane Smith and Ali Kaya]]></dc:creator>",
            ["Jane Smith", "Ali Kaya"],
        ),
        ("<author>jane@gazette.example</author>", []),  # an address is not a name
        ("<dc:creator>admin</dc:creator>", []),  # WordPress's default user
        ("<author>noreply@blogger.com (Unknown)</author>", []),
        (
            "<dc:creator>By Maria Souza</dc:creator><dc:creator>Paulo Lima</dc:creator>",
            ["Maria Souza", "Paulo Lima"],
        ),
    ],
)
def test_feed_bylines_are_names(env: object, author: str, expected: list[str]) -> None:
    rss = WORDPRESS_RSS.replace("<author>desk@gazette.media (Mara Quist)</author>", author)
    harbour = parse_feed(rss.encode(), url="https://gazette.example/feed/").items[0]
    assert harbour.authors == expected


def test_markdown_marks_are_not_body_text(ingest_pg: str, tmp_path: Path, sent: Sent) -> None:
    h = stories.HARBOUR
    text = (
        "# Harbour wall to be rebuilt\n\n"
        f"**PORT ELLERY** \u2014 {h[0].replace('harbour wall', '*harbour wall*', 1)}\n\n"
        "![The breach](https://gazette.example/breach.jpg)\n\n"
        f"> {h[1]}\n\n"
        "## The plan\n"
        f"- {h[2]}\n"
        f"- {h[3].replace('quay', '[quay](https://gazette.example/quay)', 1)}\n"
    )
    path = tmp_path / "harbour.md"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["ingest", str(path)])
    assert result.exit_code == 0, result.output
    [article] = sent.articles()
    assert article["title"] == "Harbour wall to be rebuilt"
    assert article["body"].split("\n\n") == [
        f"PORT ELLERY \u2014 {h[0]}",
        h[1],
        "The plan",
        h[2],
        h[3],
    ]


def test_wordpress_json_feed_titles(env: object) -> None:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Gazette",
        "items": [
            {
                "id": "https://gazette.example/?p=4711",
                "url": "https://gazette.example/2023/12/harbour/",
                "title": "Council&#8217;s harbour wall &#038; pier plan",
                "content_html": _PARAS,
            }
        ],
    }
    [item] = parse_feed(json.dumps(feed).encode(), url="https://gazette.example/feed/json").items
    assert item.title == "Council\u2019s harbour wall & pier plan"


def test_saved_news_api_response(ingest_pg: str, tmp_path: Path, site: Site, sent: Sent) -> None:
    # A NewsAPI response saved as it came: the articles under "articles", the text cut
    # at 200 characters with "[+N chars]", "Headline - Source" titles, publishedAt.
    site.add(
        "/harbour",
        stories.page("Harbour wall to be rebuilt", stories.HARBOUR),
        content_type="text/html; charset=utf-8",
    )
    cut = stories.HARBOUR[0][:180] + "\u2026 [+2345 chars]"
    response = {
        "status": "ok",
        "totalResults": 1,
        "articles": [
            {
                "source": {"id": None, "name": "Gazette"},
                "author": "Mara Quist, Ines Falk",
                "title": "Harbour wall to be rebuilt - Gazette",
                "description": "The council voted to rebuild the wall.",
                "url": site.url("/harbour"),
                "urlToImage": site.url("/wall.jpg"),
                "publishedAt": "2023-12-06T08:15:00Z",
                "content": cut,
            }
        ],
    }
    path = tmp_path / "top-headlines.json"
    path.write_text(json.dumps(response))
    result = CliRunner().invoke(cli, ["ingest", str(path)])
    assert result.exit_code == 0, result.output
    [article] = sent.articles()
    assert article["title"] == "Harbour wall to be rebuilt"
    assert article["source"] == "Gazette"
    assert article["published_at"].startswith("2023-12-06T08:15:00")
    assert article["authors"] == ["Mara Quist", "Ines Falk"]
    assert article["body"].split("\n\n") == stories.HARBOUR  # the page's whole text


@pytest.mark.parametrize(
    "placeholder",
    [
        "0000-00-00 00:00:00",  # MySQL's zero date, in WordPress and CMS exports
        "Mon, 30 Nov -0001 00:00:00 +0000",  # PHP's date() of it, in RSS (read as 2000)
        "1970-01-01T00:00:00Z",
        0,  # epoch zero
    ],
)
def test_no_date_placeholders_are_no_date(
    ingest_pg: str, tmp_path: Path, sent: Sent, placeholder: object
) -> None:
    record = {"title": "Harbour", "body": stories.body(stories.HARBOUR), "date": placeholder}
    path = tmp_path / "export.jsonl"
    path.write_text(json.dumps(record) + "\n")
    result = CliRunner().invoke(cli, ["ingest", str(path)])
    assert result.exit_code == 0, result.output  # was refused as bad_date, or dated 2000
    [article] = sent.articles()
    assert article["published_at"] is None


def test_php_zero_date_in_a_feed_is_no_date(env: object) -> None:
    rss = WORDPRESS_RSS.replace(
        "Wed, 06 Dec 2023 09:15:00 +0000", "Mon, 30 Nov -0001 00:00:00 +0000"
    )
    harbour = parse_feed(rss.encode(), url="https://gazette.example/feed/").items[0]
    assert harbour.published is None  # was 2000-11-30T00:01:00+00:00


def _section_page(og_type: str) -> str:
    cards = "".join(
        f'<div class="card"><h3><a href="/news/{n}">{p.split(",")[0][:60]}</a></h3>'
        f'<p class="teaser">{p}</p><span class="time">2 hours ago</span></div>'
        for n, p in enumerate(stories.HARBOUR + stories.ORCHARD)
    )
    return (
        "<html><head><title>Local news | Gazette</title>"
        f'<meta property="og:type" content="{og_type}"></head><body>'
        f'<nav><a href="/">Home</a></nav><main><h1>Local</h1><section>{cards}</section>'
        "</main></body></html>"
    )


def test_a_section_front_page_is_not_an_article(ingest_pg: str, site: Site, sent: Sent) -> None:
    # `newswire ingest https://site/local`: the section's river of teasers was stored
    # as one article mixing every story on it.
    site.add("/local", _section_page("website"), content_type="text/html; charset=utf-8")
    result = CliRunner().invoke(cli, ["ingest", site.url("/local")])
    assert result.exit_code == 2, result.output
    assert "not_an_article: a section or home page" in result.output
    assert "feed or sitemap" in result.output
    assert sent.articles() == []
    # An article page that calls itself a "website", with a list of related headlines,
    # is still an article.
    related = "".join(
        f'<li><h3><a href="/news/r{n}">Related story number {n} about the coast</a></h3></li>'
        for n in range(5)
    )
    article = (
        '<html><head><title>Harbour wall to be rebuilt</title><meta property="og:type" '
        'content="website"></head><body><article><h1>Harbour wall to be rebuilt</h1>'
        + "".join(f"<p>{p}</p>" for p in stories.HARBOUR + stories.ORCHARD)
        + f"</article><aside><ul>{related}</ul></aside></body></html>"
    )
    site.add("/local/harbour", article, content_type="text/html; charset=utf-8")
    result = CliRunner().invoke(cli, ["ingest", site.url("/local/harbour")])
    assert result.exit_code == 0 and "1 queued" in result.output, result.output


def test_a_sitemap_index_listing_itself_is_read_once(
    ingest_pg: str, site: Site, sent: Sent
) -> None:
    site.add("/a", stories.page("Harbour wall to be rebuilt", stories.HARBOUR))
    site.add("/pages.xml", stories.sitemap([(site.url("/a"), "2023-12-06")]))
    index = (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(
            f"<sitemap><loc>{site.url(p)}</loc></sitemap>"
            for p in ("/sitemap_index.xml", "/pages.xml", "/pages.xml")
        )
        + "</sitemapindex>"
    )
    site.add("/sitemap_index.xml", index, content_type="application/xml")
    result = CliRunner().invoke(cli, ["ingest", site.url("/sitemap_index.xml")])
    # Was: the index read again and again down to the depth limit, each time its
    # sitemaps and pages fetched again: '1 queued, 5 duplicate, 3 rejected' with
    # 'sitemap_too_deep' for sitemaps that are not deep at all.
    assert result.exit_code == 0, result.output
    assert "summary: 1 read, 1 queued\n" in result.output, result.output
    fetched = [path for path, _ in site.requests]
    assert fetched.count("/sitemap_index.xml") == 1 and fetched.count("/pages.xml") == 1
