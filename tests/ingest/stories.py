"""Test stories, feeds and pages, written for these tests (nothing copied from the web)."""

from __future__ import annotations

import json
from html import escape

HARBOUR = [
    "The city council of Port Ellery voted on Tuesday to rebuild the old harbour wall "
    "after winter storms opened a breach of nearly forty metres near the fish market.",
    "Engineers told the council that the repair would take two summers and cost about "
    "eleven million euros, most of it covered by a regional resilience fund approved "
    "last spring.",
    "Fishing crews have been landing their catch at a temporary pontoon since January, "
    "and several said the delays had cut their income by a third during the busiest "
    "weeks of the season.",
    "The mayor, Ines Moravec, said work would begin in April once the contractors had "
    "surveyed the seabed and the heritage office had signed off on the stone facing.",
    "Opposition councillors abstained, arguing that the plan did nothing for the "
    "eastern quay, where water now reaches the road at every spring tide.",
]

ORCHARD = [
    "Apple growers in the Tarn valley expect their smallest harvest in twenty years "
    "after a late frost in April destroyed blossom on most of the higher slopes.",
    "The growers' cooperative said on Monday that members would pick roughly half of "
    "last year's crop and that some small farms might not open their presses at all.",
    "Agronomists at the regional institute said warmer winters were bringing trees into "
    "flower earlier, which left them exposed when cold air returned in spring.",
    "The cooperative has asked the ministry for emergency loans and is testing frost "
    "fans and sprinkler systems on two pilot farms near the river.",
]


def body(paragraphs: list[str]) -> str:
    return "\n\n".join(paragraphs)


def wire_copy(paragraphs: list[str]) -> list[str]:
    """A lightly edited syndicated copy: a changed word or two, a trimmed last sentence."""
    out = list(paragraphs)
    out[0] = out[0].replace(" the ", " this ", 1)
    out[1] = out[1].replace(" and ", " and, officials said, ", 1)
    out[-1] = " ".join(out[-1].split()[:-4]) + "."
    assert out != paragraphs
    return out


def page(
    title: str,
    paragraphs: list[str],
    *,
    published: str | None = None,
    canonical: str | None = None,
    charset: str | None = "utf-8",
    lang: str = "en",
    author: str | None = None,
) -> str:
    head = [f"<title>{escape(title)} | Example Gazette</title>"]
    if charset:
        head.append(f'<meta charset="{charset}">')
    if canonical:
        head.append(f'<link rel="canonical" href="{canonical}">')
    if published:
        head.append(f'<meta property="article:published_time" content="{published}">')
    if author:
        head.append(f'<meta name="author" content="{escape(author)}">')
    paras = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head>{"".join(head)}</head>
<body>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
<li><a href="/sport">Sport</a></li><li><a href="/weather">Weather</a></li></ul></nav></header>
<div class="ad-slot">Advertisement</div>
<main><article>
<h1>{escape(title)}</h1>
{paras}
</article>
<aside class="related"><h2>Related news</h2><ul>
<li><a href="/a">Ferry timetable changes for the summer</a></li>
<li><a href="/b">Lighthouse keeper retires after forty years</a></li>
</ul></aside></main>
<footer><p>Copyright Example Gazette. All rights reserved.</p></footer>
</body></html>"""


def rss2(items: list[dict[str, str]], *, title: str = "Example Gazette", extra: str = "") -> str:
    out = []
    for it in items:
        parts = [f"<title>{escape(it['title'])}</title>", f"<link>{escape(it['link'])}</link>"]
        if "guid" in it:
            parts.append(f"<guid>{escape(it['guid'])}</guid>")
        if "date" in it:
            parts.append(f"<pubDate>{it['date']}</pubDate>")
        if "summary" in it:
            parts.append(f"<description>{escape(it['summary'])}</description>")
        if "content" in it:
            parts.append(f"<content:encoded><![CDATA[{it['content']}]]></content:encoded>")
        if "author" in it:
            parts.append(f"<dc:creator>{escape(it['author'])}</dc:creator>")
        out.append("<item>" + "".join(parts) + "</item>")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>{escape(title)}</title><link>https://gazette.example/</link>
<description>News</description>{extra}
{"".join(out)}
</channel></rss>"""


def atom(items: list[dict[str, str]], *, title: str = "Valley Courier") -> str:
    entries = []
    for it in items:
        entries.append(
            f"""<entry><title>{escape(it["title"])}</title>
<link rel="alternate" href="{escape(it["link"])}"/>
<id>{escape(it.get("id", it["link"]))}</id>
<updated>{it["date"]}</updated><published>{it["date"]}</published>
<author><name>{escape(it.get("author", "Staff"))}</name></author>
{f'<content type="html">{escape(it["content"])}</content>' if "content" in it else ""}
{f"<summary>{escape(it['summary'])}</summary>" if "summary" in it else ""}
</entry>"""
        )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>{escape(title)}</title>
<id>urn:example:courier</id><updated>2023-12-06T12:00:00Z</updated>
{"".join(entries)}
</feed>"""


def rss1(items: list[dict[str, str]]) -> str:
    entries = "".join(
        f"""<item rdf:about="{escape(it["link"])}"><title>{escape(it["title"])}</title>
<link>{escape(it["link"])}</link><description>{escape(it["summary"])}</description>
<dc:date>{it["date"]}</dc:date></item>"""
        for it in items
    )
    return f"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://rdf.example/"><title>RDF Times</title>
<link>https://rdf.example/</link><description>d</description></channel>
{entries}
</rdf:RDF>"""


def rss091(items: list[dict[str, str]]) -> str:
    entries = "".join(
        f"<item><title>{escape(it['title'])}</title><link>{escape(it['link'])}</link>"
        f"<description>{escape(it['summary'])}</description></item>"
        for it in items
    )
    return f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
 "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Old Times</title><link>https://old.example/</link>
<description>d</description><language>en-us</language>
<lastBuildDate>Wed, 06 Dec 2023 12:00:00 GMT</lastBuildDate>
{entries}</channel></rss>"""


def json_feed(items: list[dict[str, object]]) -> str:
    return json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "JSON Herald",
            "home_page_url": "https://herald.example/",
            "language": "en-GB",
            "items": items,
        }
    )


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>https://evil.example/1</link>
<description>&lol9;</description></item></channel></rss>"""


def sitemap(urls: list[tuple[str, str]], news: bool = False) -> str:
    rows = []
    for loc, date in urls:
        if news:
            rows.append(
                f"<url><loc>{escape(loc)}</loc><news:news><news:publication>"
                "<news:name>Gazette</news:name><news:language>en</news:language>"
                f"</news:publication><news:publication_date>{date}</news:publication_date>"
                "</news:news></url>"
            )
        else:
            rows.append(f"<url><loc>{escape(loc)}</loc><lastmod>{date}</lastmod></url>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">' + "".join(rows) + "</urlset>"
    )
