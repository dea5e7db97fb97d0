"""RSS 0.9x/1.0/2.0, Atom and JSON Feed parsing, and what a fetched document is
(:func:`sniff`: feed, sitemap, page or other XML). A parser: bytes in, items out.

feedparser is only ever handed the downloaded bytes (wrapped in a stream, so it can
never mistake them for a path or a URL), after the XML has been checked for entity
declarations (billion laughs, external entities) with defusedxml.
"""

from __future__ import annotations

import calendar
import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape as html_escape
from html import unescape as html_unescape
from typing import Any

from services.ingest.config import fetch_settings
from services.ingest.dates import is_no_date, parse_date
from services.ingest.encoding import strip_bom, xml_encoding, xml_to_utf8
from services.ingest.errors import Rejected
from services.ingest.extract import HTML_ENTITY, fragment_to_text
from services.ingest.pagemeta import clean_authors
from shared.schemas import RawItem, utcnow


class UnsafeXML(Rejected):
    pass


def check_xml(data: bytes) -> None:
    """Refuse XML declaring entities or external references (billion laughs, XXE).

    Entities can only be declared in a DOCTYPE, so documents without one are safe as
    they are; those with one are parsed by defusedxml, which refuses any declaration.
    """
    if b"<!doctype" not in data[:65536].lower() and b"<!entity" not in data.lower():
        return
    # Deferred on purpose: defusedxml (14 ms) only for the rare document with a DOCTYPE.
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise UnsafeXML("unsafe_xml", f"entity declarations are refused ({exc})") from exc
    except ParseError as exc:
        if b"<!entity" in data.lower():
            raise UnsafeXML("unsafe_xml", f"malformed XML with entity declarations: {exc}") from exc


FEED_ROOTS = {"rss", "rdf", "feed", "channel"}  # RSS 0.9x/2.0, RSS 1.0 (rdf:RDF), Atom
SITEMAP_ROOTS = {"urlset", "sitemapindex"}
_SKIP_PROLOG = re.compile(
    r"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?:[^\[>]|\[.*?\])*>)", re.IGNORECASE | re.DOTALL
)
_ROOT = re.compile(r"\s*<(?:[A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")


def _head_text(data: bytes, size: int = 65536) -> str:
    """The start of a document as text, enough to find its root element."""
    head = data[:size]
    wide = xml_encoding(head)
    if wide is not None:
        body, _ = strip_bom(head)
        return body[: len(body) - len(body) % 4].decode(wide, errors="replace")
    return head.decode("latin-1")  # ASCII-compatible: markup reads right whatever the text


def xml_root(data: bytes) -> str | None:
    """Local name of the root element (``rss``, ``RDF``, ``feed``, ``urlset``, ``html``
    ...), whatever its prefix or the document's encoding; None when there is none."""
    text = _head_text(data).lstrip("\ufeff")
    pos = 0
    while True:
        m = _SKIP_PROLOG.match(text, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
    m = _ROOT.match(text, pos)
    return m.group(1) if m else None


# Namespaces under which feedparser reads RSS 2.0 elements; RSS in any other one
# (a root like <x:rss xmlns:x="...">) is moved out of it first.
_RSS_NAMESPACES = {"", "http://backend.userland.com/rss", "http://backend.userland.com/rss2"}


def _unprefix_rss(data: bytes) -> bytes:
    """RSS 0.9x/2.0 whose elements carry a namespace (prefixed or default): the same
    document with that namespace taken off, so a parser expecting plain RSS reads it.

    RSS 2.0 defines no namespace for its own elements; a root element in one is still
    RSS. Parsed with lxml without DTDs, entities or network (``data`` passed
    :func:`check_xml` and is UTF-8)."""
    if (xml_root(data) or "").lower() not in {"rss", "channel"}:
        return data
    from lxml import etree  # deferred on purpose: 27 ms, only for RSS under a namespace

    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=True
    )
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError):
        return data
    if root is None:
        return data
    ns = etree.QName(root).namespace or ""
    if ns in _RSS_NAMESPACES:
        return data
    for el in root.iter():
        if isinstance(el.tag, str) and etree.QName(el).namespace == ns:
            el.tag = etree.QName(el).localname
    etree.cleanup_namespaces(root)
    return bytes(etree.tostring(root, encoding="utf-8", xml_declaration=True))


def is_json_feed(data: bytes) -> bool:
    """A JSON Feed by content: an object with a jsonfeed.org ``version`` (or a
    ``version`` and an ``items`` list), whatever the file is called."""
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"{"):
        return False
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return False
    if not isinstance(doc, dict):
        return False
    version = str(doc.get("version", ""))
    return "jsonfeed.org/version/" in version or (
        bool(version) and isinstance(doc.get("items"), list)
    )


def sniff(data: bytes, content_type: str = "") -> str:
    """``jsonfeed`` | ``feed`` | ``sitemap`` | ``html`` | ``xml`` (another XML root)
    from the bytes, the Content-Type only breaking ties."""
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return "jsonfeed"
    if head.startswith(b"\x1f\x8b"):
        return "sitemap"  # a gzipped sitemap; feeds and pages come with Content-Encoding
    root = xml_root(data)
    name = (root or "").lower()
    if name in FEED_ROOTS:
        return "feed"
    if name in SITEMAP_ROOTS:
        return "sitemap"
    if content_type in {"application/feed+json"}:
        return "jsonfeed"
    if name in {"html", "xhtml"} or root is None:
        return "html"
    return "xml"


@dataclass
class ParsedFeed:
    title: str | None
    items: list[RawItem]
    rejected: list[tuple[str, str]] = field(default_factory=list)
    kind: str = "feed"

    def add(self, where: str, item: RawItem | None) -> None:
        """An entry's item, or its rejection when it had nothing to make one from."""
        if item is None:
            self.rejected.append((where, "empty_item: no link, content or summary"))
        else:
            self.items.append(item)


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def _entry_date(value: str | None, parsed: Any, base: datetime) -> str | None:
    if is_no_date(value):
        return None  # PHP's "Mon, 30 Nov -0001": feedparser would make it 2000 too
    dt = parse_date(value, relative_to=base) if value else None
    if dt is None and parsed:
        try:
            dt = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
        except (TypeError, ValueError, OverflowError):
            dt = None
    return _iso(dt) if dt else value


def _make_item(
    *,
    link: str | None,
    title: str | None,
    content_html: str | None,
    content_text: str | None,
    summary: str | None,
    published: str | None,
    authors: list[str],
    language: str | None,
    source: str | None,
    origin: str,
    summary_chars: int,
) -> RawItem | None:
    full = content_text or (fragment_to_text(content_html) if content_html else "")
    short = fragment_to_text(summary) if summary else ""
    common: dict[str, Any] = {
        "title": title,
        "published": published,
        "authors": authors,
        "language": language,
        "source": source,
        "origin": origin,
    }
    if full and (len(full) >= summary_chars or not link):
        return RawItem(kind="record", url=link, body=full, **common)
    if link:
        # Summary only: the page is fetched and extracted at ingest. The feed's own
        # text rides along and is kept when the page cannot be fetched or gives less.
        carried = max((full, short), key=len) or None
        return RawItem(kind="url", url=link, body=carried, **common)
    if full or short:
        return RawItem(kind="record", body=full or short, **common)
    return None


def parse_feed(
    data: bytes,
    *,
    url: str | None = None,
    content_type: str = "",
    fetched_at: datetime | None = None,
    source: str | None = None,
    charset: str | None = None,
) -> ParsedFeed:
    """Items of an RSS/Atom/JSON feed; summary-only items become URL items."""
    base = fetched_at or utcnow()
    summary_chars = fetch_settings().summary_chars
    origin = url or "feed"
    kind = sniff(data, content_type)
    if kind == "jsonfeed":
        return _parse_json_feed(data, origin, base, source, summary_chars)
    if kind != "feed":
        root = xml_root(data)
        what = f"the root element is <{root}>" if root else "there is no XML root element"
        raise Rejected("bad_feed", f"not RSS, RDF, Atom or a JSON Feed: {what}")
    try:
        # One encoding decision (BOM, UTF-16, declaration, HTTP charset, detection of
        # undeclared legacy encodings), then UTF-8 bytes for the checks and feedparser.
        data = xml_to_utf8(data, charset, origin)
    except ValueError as exc:
        raise Rejected("bad_encoding", str(exc)) from exc
    check_xml(data)
    data = _unprefix_rss(data)
    import feedparser  # deferred on purpose: 60 ms at start-up of every `newswire` command

    headers = {
        "content-location": "" if url is None or "://" not in url else url,
        "content-type": "application/xml; charset=utf-8",
    }
    parsed = feedparser.parse(io.BytesIO(data), response_headers=headers)
    if not parsed.entries and (parsed.get("bozo") or not parsed.get("version")):
        problem = parsed.get("bozo_exception") or "no RSS, RDF or Atom root element"
        raise Rejected("bad_feed", f"not a readable feed: {problem}")
    feed = parsed.feed
    title = _title_text(feed)
    feed_date = parse_date(
        dict.get(feed, "updated") or dict.get(feed, "published"), relative_to=base
    )
    ref = feed_date or base
    language = (feed.get("language") or "").split("-")[0].lower() or None
    out = ParsedFeed(title=title, items=[], kind=parsed.get("version") or "feed")
    for n, e in enumerate(parsed.entries):
        where = f"{origin}#{n}"
        link = _http(e.get("link"))
        if not link:
            link = _http(e.get("id"))
        # Atom says what its text is: type="text" is not HTML (a "<" in it is a "<").
        contents = [(c.get("value", ""), c.get("type", "")) for c in e.get("content", []) or []]
        value, ctype = max(contents, key=lambda c: len(c[0])) if contents else ("", "")
        content_html = value if value and ctype != "text/plain" else None
        content_text = value if value and ctype == "text/plain" else None
        summary = e.get("summary")
        if summary and (e.get("summary_detail") or {}).get("type") == "text/plain":
            summary = html_escape(summary)  # plain text through the HTML path unchanged
        authors = clean_authors(_entry_authors(e))
        # Plain dict lookups: FeedParserDict's key aliases warn and swap dates.
        raw_date = dict.get(e, "published") or dict.get(e, "updated") or dict.get(e, "created")
        parsed_date = (
            dict.get(e, "published_parsed")
            or dict.get(e, "updated_parsed")
            or dict.get(e, "created_parsed")
        )
        item = _make_item(
            link=link,
            title=_title_text(e),
            content_html=content_html,
            content_text=content_text,
            summary=summary,
            published=_entry_date(raw_date, parsed_date, ref),
            authors=authors,
            language=language,
            source=source or title,
            origin=where,
            summary_chars=summary_chars,
        )
        out.add(where, item)
    return out


def _title_text(node: Any) -> str | None:
    """A feed's or an entry's title as plain text. feedparser decodes the entities of
    a plain-text title but hands an HTML one (Atom ``type="html"``, an RSS title in
    CDATA or escaped twice: ``Tom &amp;amp; Jerry``) over as markup."""
    title = node.get("title")
    if not isinstance(title, str):
        return None
    kind = (node.get("title_detail") or {}).get("type", "")
    if kind in {"text/html", "application/xhtml+xml"} and ("<" in title or "&" in title):
        return " ".join(fragment_to_text(title).split()) or title
    return title


_EMAIL = re.compile(r"<?(?:mailto:)?[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+>?")


def _entry_authors(e: Any) -> list[str]:
    """An entry's author names as the feed gives them (cleaned by the caller).

    RSS ``<author>`` is an e-mail address, often with the name in parentheses
    ("desk@site.media (Jo Li)"). feedparser cuts the address at a four-letter
    top-level domain and takes the rest for the name ("a (Jo Li", "ple"), so a lone
    author with an address is read from the raw text: the name without the address.
    """
    details = e.get("authors", []) or []
    raw = e.get("author")
    if isinstance(raw, str) and "@" in raw and len(details) <= 1:
        name = " ".join(_EMAIL.sub(" ", raw).split()).strip(" ()[]<>\"',;")
        return [name] if name else []
    names = [str(a.get("name")) for a in details if a.get("name")]
    if not names and isinstance(raw, str) and raw.strip():
        names = [raw]
    return names


def _http(value: object) -> str | None:
    """A link only when it is an http(s) URL (an Atom ``urn:`` id is not a page)."""
    if isinstance(value, str) and value.strip().lower().startswith(("http://", "https://")):
        return value.strip()
    return None


def _json_title(value: object) -> str | None:
    """A JSON Feed title is plain text, but WordPress's JSON feeds give the HTML title
    ("Council&#8217;s budget", "Tom &#038; Jerry"): its entities are decoded."""
    if not isinstance(value, str):
        return None
    return html_unescape(value) if HTML_ENTITY.search(value) else value


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _parse_json_feed(
    data: bytes, origin: str, base: datetime, source: str | None, summary_chars: int
) -> ParsedFeed:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Rejected("bad_feed", f"invalid JSON Feed: {exc}") from exc
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith(
        "https://jsonfeed.org/version/"
    ):
        raise Rejected("bad_feed", "JSON without a jsonfeed.org version")
    items = doc.get("items")
    if not isinstance(items, list):
        raise Rejected("bad_feed", "JSON Feed without an items list")
    title = doc.get("title") if isinstance(doc.get("title"), str) else None
    language = str(doc.get("language") or "").split("-")[0].lower() or None
    out = ParsedFeed(title=title, items=[], kind="json" + str(doc["version"]).rsplit("/", 1)[-1])
    for n, it in enumerate(items):
        where = f"{origin}#{n}"
        if not isinstance(it, dict):
            out.rejected.append((where, "bad_item: not an object"))
            continue
        authors_raw = it.get("authors") or ([it["author"]] if it.get("author") else [])
        authors = clean_authors(
            [str(a["name"]) for a in authors_raw if isinstance(a, dict) and a.get("name")]
        )
        raw_date = it.get("date_published") or it.get("date_modified")
        link = _http(it.get("url")) or _http(it.get("external_url")) or _http(it.get("id"))
        item = _make_item(
            link=link,
            title=_json_title(it.get("title")),
            content_html=_str(it.get("content_html")),
            content_text=_str(it.get("content_text")),
            summary=_str(it.get("summary")),
            published=_entry_date(raw_date if isinstance(raw_date, str) else None, None, base),
            authors=authors,
            language=_str(it.get("language")) or language,
            source=source or title,
            origin=where,
            summary_chars=summary_chars,
        )
        out.add(where, item)
    return out
