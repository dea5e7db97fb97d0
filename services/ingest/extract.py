"""Web pages and HTML fragments -> text and metadata.

Main text comes from trafilatura (navigation, ads, "related" lists and footers left
out); the publication time is read from the page's own metadata first (OpenGraph
``article:published_time``, ``itemprop=datePublished``, JSON-LD), since trafilatura
keeps only the day.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import unescape as html_unescape
from typing import Any

from services.ingest.dates import parse_date
from services.ingest.encoding import decode_bytes
from services.ingest.furniture import is_furniture
from services.ingest.pagemeta import clean_authors, clean_title
from services.ingest.urls import host_of

_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.IGNORECASE
)
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_\-.]+)["']""")
DATE_META = (
    "article:published_time",
    "og:published_time",
    "datepublished",
    "publishdate",
    "publish-date",
    "pubdate",
    "dc.date.issued",
    "dc.date",
    "dcterms.created",
    "sailthru.date",
    "parsely-pub-date",
    "date",
)


def _import_trafilatura() -> Any:
    """trafilatura, imported on first use (it is slow to import)."""
    import trafilatura  # deferred on purpose: 280 ms, only when a page is extracted

    return trafilatura


def decode_html(data: bytes, declared: str | None = None, origin: str = "page") -> str:
    """Bytes of a page to text: BOM, HTTP charset, ``<meta charset>``, then detection."""
    head = data[:4096]
    m = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    meta = m.group(1).decode("ascii", "ignore") if m else None
    return decode_bytes(data, origin, declared=(declared, meta))


# A character reference ("&#8217;", "&#x2019;", "&amp;"): text that carries one is HTML.
HTML_ENTITY = re.compile(r"&(?:#[0-9]{2,7}|#[xX][0-9a-fA-F]{2,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def fragment_to_text(html: str) -> str:
    """An HTML fragment (feed ``content:encoded``) to paragraphs separated by blank lines."""
    # Deferred on purpose: lxml (30 ms) only when HTML is parsed, not at CLI start-up.
    import lxml.html
    from lxml import etree

    if not html or not html.strip():
        return ""
    if "<" not in html:
        return html_unescape(html)  # no tags, maybe entities ("AT&amp;T", "a &lt; b")
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return re.sub(r"<[^>]+>", " ", html)
    # Captions ("Lawmakers vote in Ankara. Photo: Reuters") are not the story's text,
    # as the page extractor leaves them out of a page's.
    junk = ".//script|.//style|.//noscript|.//iframe|.//form|.//nav|.//aside|.//figcaption"
    for bad in root.xpath(junk):
        bad.drop_tree()
    blocks = {"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr"}
    for br in root.iter("br"):
        br.tail = "\n" + (br.tail or "")
    parts: list[str] = []
    for el in root.iter():
        if el.tag in blocks:
            el.tail = "\n\n" + (el.tail or "")
            if el.text:
                el.text = "\n\n" + el.text
    text = root.text_content()
    parts = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in parts if p and not is_furniture(p))


def _meta_dates(tree: Any) -> list[str]:
    found: list[str] = []
    for meta in tree.iter("meta"):
        key = (
            (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").strip().lower()
        )
        if key in DATE_META and meta.get("content"):
            found.append(meta.get("content"))
    for el in tree.xpath("//*[@itemprop='datePublished']"):
        value = el.get("datetime") or el.get("content")
        if value:
            found.append(value)
    found.extend(
        obj["datePublished"]
        for obj in _ld_objects(tree)
        if isinstance(obj.get("datePublished"), str)
    )
    return found


def _ld_objects(tree: Any) -> Iterator[dict[str, Any]]:
    """Every object of the page's JSON-LD, nested ones included (scripts that are not
    JSON are skipped)."""
    for script in tree.xpath("//script[@type='application/ld+json']"):
        try:
            stack = [json.loads(script.text or "")]
        except ValueError:
            continue
        while stack:
            obj = stack.pop()
            if isinstance(obj, list):
                stack.extend(obj)
            elif isinstance(obj, dict):
                yield obj
                stack.extend(v for v in obj.values() if isinstance(v, dict | list))


_JANUARY_FIRST = re.compile(
    r"\bjan(?:uary)?\.?\s+0?1(?:st)?\b|\b0?1(?:st)?\s+(?:of\s+)?jan(?:uary)?\b|"
    r"\b\d{4}-01-01\b|\b0?1[./-]0?1[./-]\d{2,4}\b",
    re.IGNORECASE,
)


def _text_date(guess: str | None, html: str) -> str | None:
    """trafilatura's date guess, except a year alone: its search of the page's text
    makes "failed inspections in 2019" into 1 January 2019 on a page with no date.
    A 1 January the page's markup does not give and its text does not name is that."""
    if not guess or not guess.endswith("-01-01") or _JANUARY_FIRST.search(html):
        return guess
    from htmldate import find_date  # trafilatura's own date finder, markup only here

    try:
        found = find_date(html, extensive_search=False, original_date=True)
    except (ValueError, TypeError):
        found = None
    return guess if found == guess else None


MIN_PAGE_WORDS = 40  # main text of a page: fewer is a caption or a teaser


def _ld_article_body(tree: Any) -> str | None:
    """The longest ``articleBody`` of the page's JSON-LD, as paragraphs."""
    best = ""
    for obj in _ld_objects(tree):
        body = obj.get("articleBody")
        if isinstance(body, str) and len(body) > len(best):
            best = body
    if not best.strip():
        return None
    text = fragment_to_text(best) if "<" in best else html_unescape(best)
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n", text)]
    return "\n\n".join(p for p in paragraphs if p) or None


MIN_INDEX_HEADLINES = 5
_ARTICLE_TYPES = {"article", "newsarticle", "reportagenewsarticle", "blogposting", "report"}


def _ld_types(tree: Any) -> set[str]:
    found: set[str] = set()
    for obj in _ld_objects(tree):
        kinds = obj.get("@type")
        for kind in kinds if isinstance(kinds, list) else [kinds]:
            if isinstance(kind, str):
                found.add(kind.lower())
    return found


def _index_headlines(tree: Any, published: str | None, paragraphs: int) -> int:
    """How many headlines link to other pages when the page is a section or home page
    (a river of teasers: og:type "website", no article date, no Article in its JSON-LD,
    linked headlines for at least three in four of its paragraphs of eight words or
    more); 0 for an article."""
    if (_meta(tree, "og:type") or "").lower() != "website" or published:
        return 0
    if _ld_types(tree) & _ARTICLE_TYPES:
        return 0
    links = [
        a
        for a in tree.xpath("//h2//a[@href] | //h3//a[@href] | //h4//a[@href]")
        if len(a.text_content().split()) >= 3
    ]
    if len(links) >= MIN_INDEX_HEADLINES and 4 * len(links) >= 3 * paragraphs:
        return len(links)
    return 0


def _first_text(tree: Any, xpath: str) -> str | None:
    for el in tree.xpath(xpath)[:1]:
        value = el if isinstance(el, str) else el.text_content()
        value = " ".join(str(value).split())
        if value:
            return value
    return None


def _meta(tree: Any, *names: str) -> str | None:
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or "").strip().lower()
        if key in names and (meta.get("content") or "").strip():
            return " ".join(meta.get("content").split())
    return None


_BLOCKS = ("p", "li", "blockquote", "pre", "h2", "h3", "h4", "dd")


def main_container(tree: Any) -> Any | None:
    """The element holding most of the page's paragraph text: each block's text counts
    for its parent and half for its grandparent; None for a page without blocks."""
    scores: dict[Any, float] = {}
    for el in tree.iter(*_BLOCKS):
        size = len(" ".join(el.text_content().split()))
        if size < 25:
            continue
        parent = el.getparent()
        if parent is None:
            continue
        scores[parent] = scores.get(parent, 0.0) + size
        grand = parent.getparent()
        if grand is not None:
            scores[grand] = scores.get(grand, 0.0) + size / 2
    if not scores:
        return None
    return max(scores, key=lambda el: scores[el])


def _fold_space(text: str) -> str:
    return " ".join(text.split()).casefold()


def outside_main(lines: list[str], tree: Any) -> set[int]:
    """Indexes of extracted lines found in the page only outside its main container
    (sidebars, teaser rows, promos that the extractor kept), when that container
    holds most of the extracted text; else nothing is dropped."""
    main = main_container(tree)
    if main is None:
        return set()
    inside = _fold_space(main.text_content())
    found = [_fold_space(ln) in inside for ln in lines]
    kept = sum(len(ln) for ln, ok in zip(lines, found, strict=True) if ok)
    if kept < 0.5 * sum(len(ln) for ln in lines):
        return set()  # the container is not where the extractor found the story
    return {i for i, ok in enumerate(found) if not ok}


# trafilatura's settings compared on tests/ingest/corpus/pages (python bench/ingest.py
# --extraction): default, favor_precision, favor_recall and fast all keep the same
# paragraphs there, sidebar and teaser rows included (precision 0.79, recall 1.0);
# the main-container filter (outside_main) drops those (precision 1.0, recall 1.0).
# favor_precision is kept: never worse here, and meant for pages with boilerplate.
EXTRACTION = {"favor_precision": True, "include_comments": False, "include_tables": False}


def extract_page(
    html: str,
    url: str | None = None,
    settings: dict[str, Any] | None = None,
    container_filter: bool = True,
) -> dict[str, Any] | None:
    """Main text and metadata of a page; None when there is no main text."""
    # Deferred on purpose: lxml (30 ms) only when HTML is parsed, not at CLI start-up.
    import lxml.html
    from lxml import etree

    trafilatura = _import_trafilatura()
    doc = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, **(EXTRACTION if settings is None else settings)
    )
    if doc is None:
        return None
    data = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    text = data.get("text") or ""
    title = (data.get("title") or "").strip() or None
    published = None
    time_el = None
    site = data.get("sitename")
    tree = None
    h1 = None
    try:
        parser = lxml.html.HTMLParser(encoding="utf-8")  # the text is decoded already
        tree = lxml.html.document_fromstring(html.encode("utf-8", "replace"), parser=parser)
        for candidate in _meta_dates(tree):
            if parse_date(candidate) is not None:
                published = candidate
                break
        # A <time> element is a weaker clue (it may date a "related" link).
        for el in tree.xpath("//article//time[@datetime] | //time[@pubdate]")[:1]:
            if parse_date(el.get("datetime")) is not None:
                time_el = el.get("datetime")
        lang = tree.get("lang") or tree.get("xml:lang")
        site = _meta(tree, "og:site_name", "application-name") or site
        h1 = _first_text(tree, "//article//h1 | //main//h1 | //h1")
        title = clean_title(
            _first_text(tree, "//head/title") or title,
            _meta(tree, "og:title", "twitter:title"),
            h1,
            site,
            host_of(data.get("url") or url),
        )
    except (etree.ParserError, ValueError):
        lang = None
    lines = [" ".join(ln.split()) for ln in text.split("\n")]
    lines = [ln for ln in lines if ln and not is_furniture(ln)]
    # The headline is not body: the title, or the page's <h1> when the title is
    # another wording of it (a shorter og:title).
    heads = {h.casefold() for h in (title, h1) if h}
    if lines and lines[0].casefold() in heads:
        lines.pop(0)
    if tree is not None and container_filter:
        dropped = outside_main(lines, tree)
        lines = [ln for i, ln in enumerate(lines) if i not in dropped]
    if tree is not None and sum(len(ln.split()) for ln in lines) < MIN_PAGE_WORDS:
        # A page built by JavaScript ("Loading...") often has its text only in its
        # JSON-LD: that text, when the visible page has next to none.
        ld_body = _ld_article_body(tree)
        if ld_body and len(ld_body.split()) > 2 * sum(len(ln.split()) for ln in lines):
            lines = [ln for ln in ld_body.split("\n\n") if not is_furniture(ln)]
    authors = data.get("author")
    # <html lang> (or trafilatura's reading of it) is a hint: prepare() detects.
    language = data.get("language") or (lang.split("-")[0].lower() if lang else None)
    return {
        "title": title,
        "body": "\n\n".join(lines),
        # The page's own machine-readable publication time (meta, JSON-LD, <time>) ...
        "published_meta": published,
        "index_headlines": (
            _index_headlines(tree, published, sum(len(ln.split()) >= 8 for ln in lines))
            if tree is not None
            else 0
        ),
        # ... and trafilatura's guess (day only, may come from the text).
        "published": time_el or _text_date(data.get("date"), html),
        "url": data.get("url"),
        "authors": clean_authors(authors.split(";")) if authors else [],
        "language": language,
        # The site: og:site_name, else the host of the page's own URL (never a folder).
        "source": site or host_of(data.get("url") or url) or data.get("hostname"),
    }
