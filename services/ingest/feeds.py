"""RSS 0.9x/1.0/2.0, Atom and JSON Feed: parsing, the feeds table, scheduled polling.

feedparser is only ever handed the downloaded bytes (wrapped in a stream, so it can
never mistake them for a path or a URL), after the XML has been checked for entity
declarations (billion laughs, external entities) with defusedxml.
"""

from __future__ import annotations

import calendar
import io
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape as html_escape
from typing import Any

import structlog
from sqlalchemy import or_, select

from services.ingest.config import fetch_settings
from services.ingest.dates import parse_date
from services.ingest.encoding import strip_bom, xml_encoding, xml_to_utf8
from services.ingest.errors import Rejected
from services.ingest.extract import fragment_to_text
from services.ingest.fetch import FetchError, fetch
from services.ingest.health import record_poll_health, record_rejections, source_of
from services.ingest.urls import canonical_url
from shared.db import is_postgres, session_scope
from shared.logging import get_logger
from shared.models import Feed
from shared.schemas import RawItem, utcnow

log = get_logger(__name__)

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/rdf+xml;q=0.9, application/xml;q=0.8, application/json;q=0.8, "
    "text/xml;q=0.8, */*;q=0.1"
)
MIN_INTERVAL = 60
MAX_INTERVAL = 7 * 86400
CLAIM_LIMIT = 200


class UnsafeXML(Rejected):
    pass


def check_xml(data: bytes) -> None:
    """Refuse XML declaring entities or external references (billion laughs, XXE).

    Entities can only be declared in a DOCTYPE, so documents without one are safe as
    they are; those with one are parsed by defusedxml, which refuses any declaration.
    """
    if b"<!doctype" not in data[:65536].lower() and b"<!entity" not in data.lower():
        return
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
    from lxml import etree

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
    import feedparser

    headers = {
        "content-location": "" if url is None or "://" not in url else url,
        "content-type": "application/xml; charset=utf-8",
    }
    parsed = feedparser.parse(io.BytesIO(data), response_headers=headers)
    if not parsed.entries and (parsed.get("bozo") or not parsed.get("version")):
        problem = parsed.get("bozo_exception") or "no RSS, RDF or Atom root element"
        raise Rejected("bad_feed", f"not a readable feed: {problem}")
    feed = parsed.feed
    title = feed.get("title")
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
        authors = [a.get("name") for a in e.get("authors", []) or [] if a.get("name")]
        if not authors and e.get("author"):
            authors = [e.get("author")]
        # Plain dict lookups: FeedParserDict's key aliases warn and swap dates.
        raw_date = dict.get(e, "published") or dict.get(e, "updated") or dict.get(e, "created")
        parsed_date = (
            dict.get(e, "published_parsed")
            or dict.get(e, "updated_parsed")
            or dict.get(e, "created_parsed")
        )
        item = _make_item(
            link=link,
            title=e.get("title"),
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


def _http(value: object) -> str | None:
    """A link only when it is an http(s) URL (an Atom ``urn:`` id is not a page)."""
    if isinstance(value, str) and value.strip().lower().startswith(("http://", "https://")):
        return value.strip()
    return None


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
        authors = [a["name"] for a in authors_raw if isinstance(a, dict) and a.get("name")]
        raw_date = it.get("date_published") or it.get("date_modified")
        link = _http(it.get("url")) or _http(it.get("external_url")) or _http(it.get("id"))
        item = _make_item(
            link=link,
            title=_str(it.get("title")),
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


# ---------------------------------------------------------------- the feeds table


def parse_interval(text: str | int) -> int:
    """``900``, ``90s``, ``15m``, ``2h``, ``1d`` -> seconds (60 s .. 7 days)."""
    s = str(text).strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        seconds = int(float(s[:-1]) * units[s[-1]]) if s and s[-1] in units else int(s)
    except (ValueError, KeyError) as exc:
        raise ValueError(f"bad interval {text!r}: use seconds or 30s/15m/2h/1d") from exc
    if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise ValueError(f"interval must be between {MIN_INTERVAL} s and {MAX_INTERVAL} s")
    return seconds


def add_feed(
    url: str,
    *,
    interval: int = 900,
    source: str | None = None,
    source_country: str | None = None,
) -> Feed:
    canonical_url(url)  # refuses non-http(s) URLs with a reason
    with session_scope() as session:
        existing = session.scalar(select(Feed).where(Feed.url == url))
        if existing is not None:
            raise ValueError(f"feed already exists with id {existing.id}")
        feed = Feed(
            url=url,
            interval_seconds=interval,
            source=source,
            source_country=source_country.upper() if source_country else None,
            enabled=True,
            items_seen=0,
            next_poll_at=utcnow(),
        )
        session.add(feed)
        session.flush()
        session.expunge(feed)
    log.info("feed_added", feed_id=feed.id, url=url, interval_seconds=interval)
    return feed


def list_feeds() -> list[Feed]:
    with session_scope() as session:
        feeds = list(session.scalars(select(Feed).order_by(Feed.id)))
        for f in feeds:
            session.expunge(f)
    return feeds


def remove_feed(key: str) -> bool:
    with session_scope() as session:
        feed = (
            session.get(Feed, int(key))
            if key.isdigit()
            else session.scalar(select(Feed).where(Feed.url == key))
        )
        if feed is None:
            return False
        session.delete(feed)
    log.info("feed_removed", feed=key)
    return True


def _aware(dt: datetime | None) -> datetime | None:
    if dt is not None and dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt


def claim_due(now: datetime | None = None, limit: int = CLAIM_LIMIT) -> list[int]:
    """Ids of enabled feeds due for a poll; each is pushed one interval ahead (claimed).

    On PostgreSQL rows are locked with SKIP LOCKED, so two schedulers never claim the
    same feed; the claim also keeps a crashed poll from being retried before its time.
    """
    now = now or utcnow()
    with session_scope() as session:
        stmt = (
            select(Feed)
            .where(Feed.enabled.is_(True))
            .where(or_(Feed.next_poll_at.is_(None), Feed.next_poll_at <= now))
            .order_by(Feed.next_poll_at, Feed.id)
            .limit(limit)
        )
        if is_postgres(session):
            stmt = stmt.with_for_update(skip_locked=True)
        feeds = list(session.scalars(stmt))
        for f in feeds:
            f.next_poll_at = now + timedelta(seconds=f.interval_seconds)
        return [f.id for f in feeds]


@dataclass
class PollResult:
    feed_id: int
    status: str  # ok | not_modified | error reason
    items: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    retry_after: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, {}, [])}


def poll_feed(feed_id: int) -> PollResult:
    """Fetch one feed (conditional GET) and submit its items."""
    # Cycle (sources reads feeds): polling hands the items to the one dispatcher.
    from services.ingest.sources import submit

    with session_scope() as session:
        feed = session.get(Feed, feed_id)
        if feed is None:
            return PollResult(feed_id, "missing", error="no such feed")
        url, etag, last_modified = feed.url, feed.etag, feed.last_modified
        source, country, interval = feed.source, feed.source_country, feed.interval_seconds
    started = time.perf_counter()
    fetched_at = utcnow()
    result: PollResult
    parsed: ParsedFeed | None = None
    headers: dict[str, str] = {}
    moved_to: str | None = None
    with structlog.contextvars.bound_contextvars(feed_id=feed_id):
        try:
            resp = fetch(url, etag=etag, last_modified=last_modified, accept=FEED_ACCEPT)
            headers = resp.headers
            moved_to = resp.url if resp.permanent else None
            if resp.not_modified:
                result = PollResult(feed_id, "not_modified")
            else:
                parsed = parse_feed(
                    resp.content,
                    url=resp.url,
                    content_type=resp.content_type,
                    fetched_at=fetched_at,
                    source=source,
                    charset=resp.charset,
                )
                items = parsed.items
                for item in items:
                    if country and not item.source_country:
                        item.source_country = country
                counts = submit(items)
                for _, _reason in parsed.rejected:
                    counts["rejected"] = counts.get("rejected", 0) + 1
                result = PollResult(feed_id, "ok", items=len(items), counts=counts)
        except FetchError as exc:
            result = PollResult(feed_id, exc.reason, error=str(exc), retry_after=exc.retry_after)
        except Rejected as exc:
            result = PollResult(feed_id, exc.reason, error=str(exc))
        _record_poll(feed_id, result, headers, parsed, fetched_at, interval, moved_to)
        log.info(
            "feed_polled",
            status=result.status,
            items=result.items,
            counts=result.counts,
            error=result.error,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
    return result


def _record_poll(
    feed_id: int,
    result: PollResult,
    headers: dict[str, str],
    parsed: ParsedFeed | None,
    fetched_at: datetime,
    interval: int,
    moved_to: str | None = None,
) -> None:
    with session_scope() as session:
        feed = session.get(Feed, feed_id)
        if feed is None:
            return
        if moved_to and moved_to != feed.url:
            taken = session.scalar(select(Feed.id).where(Feed.url == moved_to))
            if taken is None:  # a 301/308: poll the new address from now on
                log.info("feed_moved", old_url=feed.url, new_url=moved_to)
                feed.url = moved_to
        feed.last_polled_at = fetched_at
        feed.last_status = result.status[:100]
        feed.last_error = result.error
        # Failing feeds back off (capped); the console shows why (services.ingest.health).
        wait = max(
            record_poll_health(feed, result.status, fetched_at), int(result.retry_after or 0)
        )
        if parsed is not None and parsed.rejected:
            name = feed.source or parsed.title or feed.title
            record_rejections(session, [(source_of(name, feed.url), r) for _, r in parsed.rejected])
        # Never earlier than the claim made by the scheduler (claim_due).
        claimed = _aware(feed.next_poll_at)
        next_at = fetched_at + timedelta(seconds=wait)
        feed.next_poll_at = max(next_at, claimed) if claimed else next_at
        if result.status == "ok":
            feed.etag = headers.get("etag") or None
            feed.last_modified = headers.get("last-modified") or None
            feed.items_seen = (feed.items_seen or 0) + result.items
            if parsed is not None and parsed.title and not feed.title:
                feed.title = parsed.title[:1000]


def poll_due(now: datetime | None = None) -> list[PollResult]:
    """Poll every due feed in this process (embedded mode, ``newswire feeds poll``)."""
    return [poll_feed(fid) for fid in claim_due(now)]


def feed_rows(feeds: Iterable[Feed]) -> list[dict[str, Any]]:
    return [
        {
            "id": f.id,
            "url": f.url,
            "title": f.title,
            "interval": f.interval_seconds,
            "enabled": f.enabled,
            "last_status": f.last_status,
            "last_polled_at": _iso(_aware(f.last_polled_at)),
            "next_poll_at": _iso(_aware(f.next_poll_at)),
            "items_seen": f.items_seen,
        }
        for f in feeds
    ]
